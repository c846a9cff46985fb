//! What an import did, and how far it has got.

use std::{
    collections::BTreeMap,
    sync::{
        Mutex,
        atomic::{AtomicU8, AtomicU64, Ordering},
    },
};

use serde::{Deserialize, Serialize};

use crate::{error::AppError, rules::Table, service::ingest::InsertReport};

/// What an import did to one table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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

    /// Adds what one checked batch did.
    pub fn add(&mut self, report: &InsertReport) {
        self.count("INSERTED", report.inserted);
        self.count("UNCHANGED", report.unchanged);
        for row in &report.rejected {
            self.count(row.code, 1);
        }
    }
}

/// Live progress of an import, read by whoever shows it, and its stop switch.
#[derive(Debug, Default)]
pub struct ImportProgress {
    rows_read: AtomicU64,
    phase: Mutex<&'static str>,
    /// [`RUNNING`], [`STOP_REQUESTED`] or [`COMMITTING`].
    stop: AtomicU8,
}

const RUNNING: u8 = 0;
const STOP_REQUESTED: u8 = 1;
const COMMITTING: u8 = 2;

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

    /// Asks the import not to commit. True when it will not (it may then be
    /// dropped, which rolls it back); false once its commit has begun.
    pub fn request_stop(&self) -> bool {
        match self.stop.compare_exchange(
            RUNNING,
            STOP_REQUESTED,
            Ordering::SeqCst,
            Ordering::SeqCst,
        ) {
            Ok(_) => true,
            Err(now) => now == STOP_REQUESTED,
        }
    }

    /// Called just before the commit: fails with `CANCELLED` when a stop was asked for.
    pub(crate) fn begin_commit(&self) -> Result<(), AppError> {
        self.set_phase("committing");
        self.stop
            .compare_exchange(RUNNING, COMMITTING, Ordering::SeqCst, Ordering::SeqCst)
            .map(|_| ())
            .map_err(|_| AppError::cancelled())
    }

    pub(crate) fn restart(&self) {
        self.rows_read.store(0, Ordering::Relaxed);
        self.set_phase("reading");
    }
}
