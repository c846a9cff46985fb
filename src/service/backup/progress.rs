//! Live progress of a backup, verification or restore, and its cancellation.

use std::sync::{
    Mutex,
    atomic::{AtomicBool, AtomicU64, Ordering},
};

use super::error::BackupError;
use crate::{error::AppError, rules::Table};

/// Live progress of a backup, verification or restore.
///
/// `rows` counts the current table; `done` adds the tables finished before,
/// over every phase (a restore checks each row, then loads it).
#[derive(Debug, Default)]
pub struct Progress {
    table: Mutex<Option<Table>>,
    pub(super) rows: AtomicU64,
    finished: AtomicU64,
    total: AtomicU64,
    phase: Mutex<&'static str>,
    cancelled: AtomicBool,
}

impl Progress {
    /// The table being worked on.
    pub fn table(&self) -> Option<Table> {
        *self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Rows done in the current table.
    pub fn rows(&self) -> u64 {
        self.rows.load(Ordering::Relaxed)
    }

    /// Rows done over every table and phase so far.
    pub fn done(&self) -> u64 {
        self.finished.load(Ordering::Relaxed) + self.rows()
    }

    /// Rows to do over every table and phase, once known.
    pub fn total(&self) -> Option<u64> {
        Some(self.total.load(Ordering::Relaxed)).filter(|&total| total > 0)
    }

    /// What is happening, e.g. `writing` or `verifying`.
    pub fn phase(&self) -> &'static str {
        *self.phase.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Asks the work to stop at its next step; it then fails and cleans up
    /// (a backup deletes its partial set, a restore rolls back).
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::Relaxed);
    }

    /// True once [`Progress::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Relaxed)
    }

    /// Fails with `CANCELLED` once the work was asked to stop.
    pub(super) fn check(&self) -> Result<(), AppError> {
        if self.is_cancelled() {
            Err(BackupError::Cancelled.into())
        } else {
            Ok(())
        }
    }

    pub(super) fn set_total(&self, rows: u64) {
        self.total.store(rows, Ordering::Relaxed);
    }

    pub(super) fn start(&self, table: Table, phase: &'static str) {
        *self.table.lock().unwrap_or_else(|e| e.into_inner()) = Some(table);
        let rows = self.rows.swap(0, Ordering::Relaxed);
        self.finished.fetch_add(rows, Ordering::Relaxed);
        self.set_phase(phase);
    }

    pub(super) fn set_phase(&self, phase: &'static str) {
        *self.phase.lock().unwrap_or_else(|e| e.into_inner()) = phase;
    }

    pub(super) fn add_rows(&self, rows: u64) {
        self.rows.fetch_add(rows, Ordering::Relaxed);
    }
}
