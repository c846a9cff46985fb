//! Importing headerless CSV files: one table per file, one transaction per table.
//!
//! Each table file is loaded in a single transaction, so a cut-off import
//! (Ctrl-C, a lost database) leaves that table exactly as it was before,
//! while tables finished earlier in the same run stay loaded. Running the same
//! import again is idempotent: rows already stored count as `unchanged`.

use std::{
    collections::BTreeMap,
    io::Read,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
};

use sea_orm::{DatabaseConnection, DbBackend};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use super::{
    csv_input::{BATCH_ROWS, CsvRecords},
    ingest::{self, Dimension, InsertReport, RawRecord},
    pg_copy,
};
use crate::{db::begin_write, error::AppError};

/// A data table of the product.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    async_graphql::Enum,
    clap::ValueEnum,
)]
#[serde(rename_all = "snake_case")]
#[value(rename_all = "snake_case")]
pub enum Table {
    /// `departments(id, department)`.
    Departments,
    /// `jobs(id, job)`.
    Jobs,
    /// `hired_employees(id, name, hire_datetime, department_id, job_id)`.
    HiredEmployees,
}

impl Table {
    /// Every table, dimensions first (the order imports and restores use).
    pub const ALL: [Table; 3] = [Table::Departments, Table::Jobs, Table::HiredEmployees];

    /// The table's name in the database.
    pub fn name(self) -> &'static str {
        match self {
            Table::Departments => "departments",
            Table::Jobs => "jobs",
            Table::HiredEmployees => "hired_employees",
        }
    }

    /// The table's columns in file and backup order, comma-separated.
    pub fn columns(self) -> &'static str {
        match self {
            Table::Departments => "id, department",
            Table::Jobs => "id, job",
            Table::HiredEmployees => "id, name, hire_datetime, department_id, job_id",
        }
    }

    /// How many columns the table has.
    pub fn width(self) -> usize {
        match self {
            Table::HiredEmployees => 5,
            Table::Departments | Table::Jobs => 2,
        }
    }

    /// The standard CSV file name, e.g. `hired_employees.csv`.
    pub fn file_name(self) -> String {
        format!("{}.csv", self.name())
    }
}

impl std::fmt::Display for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What an import did to one table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableSummary {
    /// The table loaded.
    pub table: Table,
    /// Records read from the file.
    pub read: u64,
    /// Rows newly stored.
    pub inserted: u64,
    /// Rows already stored with the same content.
    pub unchanged: u64,
    /// Rows refused (each is in the rejected-row log).
    pub rejected: u64,
    /// Refused rows per reason code.
    pub rejected_by_reason: BTreeMap<String, u64>,
}

impl TableSummary {
    /// An empty summary for `table`.
    pub fn new(table: Table) -> Self {
        Self {
            table,
            read: 0,
            inserted: 0,
            unchanged: 0,
            rejected: 0,
            rejected_by_reason: BTreeMap::new(),
        }
    }

    /// Adds one verdict count: `INSERTED`, `UNCHANGED` or a rejection reason code.
    pub fn count(&mut self, verdict: &str, rows: u64) {
        self.read += rows;
        match verdict {
            "INSERTED" => self.inserted += rows,
            "UNCHANGED" => self.unchanged += rows,
            code => {
                self.rejected += rows;
                *self.rejected_by_reason.entry(code.to_owned()).or_default() += rows;
            }
        }
    }

    fn add(&mut self, report: &InsertReport) {
        self.count("INSERTED", report.inserted);
        self.count("UNCHANGED", report.unchanged);
        for row in &report.rejected {
            self.count(row.code, 1);
        }
    }
}

/// Live progress of an import, read by whoever shows it.
#[derive(Debug, Default)]
pub struct ImportProgress {
    rows_read: AtomicU64,
    phase: Mutex<&'static str>,
}

impl ImportProgress {
    /// Records read so far in the current table.
    pub fn rows_read(&self) -> u64 {
        self.rows_read.load(Ordering::Relaxed)
    }

    /// What the import is doing now, e.g. `reading` or `building indexes`.
    pub fn phase(&self) -> &'static str {
        *self.phase.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn set_phase(&self, phase: &'static str) {
        *self.phase.lock().unwrap_or_else(|e| e.into_inner()) = phase;
    }

    pub(crate) fn add_rows(&self, rows: u64) {
        self.rows_read.fetch_add(rows, Ordering::Relaxed);
    }

    fn restart(&self) {
        self.rows_read.store(0, Ordering::Relaxed);
        self.set_phase("reading");
    }
}

/// An input that could not be read; it ends the import of that table.
pub(crate) fn unreadable(source: &str, err: std::io::Error) -> AppError {
    AppError::bad_input(
        "UNREADABLE_INPUT",
        format!("reading {source} failed: {err}"),
    )
}

/// Loads one CSV stream into `table` in one transaction.
///
/// `source` labels the rejected-row log, e.g. `csv:hired_employees.csv`.
#[tracing::instrument(skip(db, input, progress))]
pub async fn import_csv(
    db: &DatabaseConnection,
    table: Table,
    source: &str,
    input: Box<dyn Read + Send>,
    progress: Arc<ImportProgress>,
) -> Result<TableSummary, AppError> {
    progress.restart();
    let summary = if table == Table::HiredEmployees
        && db.get_database_backend() == DbBackend::Postgres
    {
        pg_copy::import_hires(db.get_postgres_connection_pool(), source, input, &progress).await?
    } else {
        import_in_batches(db, table, source, input, &progress).await?
    };
    progress.set_phase("done");
    tracing::info!(
        table = %table,
        read = summary.read,
        inserted = summary.inserted,
        unchanged = summary.unchanged,
        rejected = summary.rejected,
        "import finished"
    );
    Ok(summary)
}

/// Reads batches of records on a blocking thread; the channel bounds memory.
fn spawn_batch_reader(
    input: Box<dyn Read + Send>,
    progress: Arc<ImportProgress>,
) -> mpsc::Receiver<Result<Vec<RawRecord>, std::io::Error>> {
    let (sender, receiver) = mpsc::channel(4);
    tokio::task::spawn_blocking(move || {
        let mut records = CsvRecords::new(input);
        let mut batch = Vec::with_capacity(BATCH_ROWS);
        loop {
            match records.next_record() {
                Ok(Some(record)) => {
                    batch.push(record);
                    if batch.len() == BATCH_ROWS {
                        progress.add_rows(batch.len() as u64);
                        let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH_ROWS));
                        if sender.blocking_send(Ok(full)).is_err() {
                            return;
                        }
                    }
                }
                Ok(None) => break,
                Err(err) => {
                    let _ = sender.blocking_send(Err(err));
                    return;
                }
            }
        }
        progress.add_rows(batch.len() as u64);
        if !batch.is_empty() {
            let _ = sender.blocking_send(Ok(batch));
        }
    });
    receiver
}

/// The portable path: checked batches (a fixed number of queries each) in one transaction.
async fn import_in_batches(
    db: &DatabaseConnection,
    table: Table,
    source: &str,
    input: Box<dyn Read + Send>,
    progress: &Arc<ImportProgress>,
) -> Result<TableSummary, AppError> {
    let mut batches = spawn_batch_reader(input, Arc::clone(progress));
    let txn = begin_write(db).await?;
    let mut summary = TableSummary::new(table);
    while let Some(batch) = batches.recv().await {
        let batch = batch.map_err(|err| unreadable(source, err))?;
        let report = match table {
            Table::Departments => {
                ingest::store_dimension_batch(&txn, Dimension::Departments, source, &batch).await?
            }
            Table::Jobs => {
                ingest::store_dimension_batch(&txn, Dimension::Jobs, source, &batch).await?
            }
            Table::HiredEmployees => ingest::store_hire_batch(&txn, source, &batch).await?,
        };
        summary.add(&report);
    }
    progress.set_phase("committing");
    txn.commit().await?;
    Ok(summary)
}
