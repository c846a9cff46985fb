//! The portable import path: checked batches, a fixed number of queries each, in one transaction.

use std::{io::Read, sync::Arc};

use sea_orm::DatabaseConnection;
use tokio::sync::mpsc;

use super::{
    error::ImportError,
    summary::{ImportProgress, TableSummary},
};
use crate::{
    csv::CsvRecords,
    db::begin_write,
    error::AppError,
    rules::{RawRecord, Table},
    service::ingest,
};

/// Rows per batch handed from the reader to the loader.
const BATCH_ROWS: usize = 4_000;

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
            match records.next_line() {
                Ok(Some(line)) => {
                    let record = RawRecord::from(line);
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
pub(super) async fn import_in_batches(
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
        let batch = batch.map_err(|err| ImportError::unreadable(source, err))?;
        let report = match table.dimension() {
            Some(dimension) => {
                ingest::store_dimension_batch(&txn, dimension, source, &batch).await?
            }
            None => ingest::store_hire_batch(&txn, source, &batch).await?,
        };
        summary.add(&report);
    }
    progress.begin_commit()?;
    txn.commit().await?;
    Ok(summary)
}
