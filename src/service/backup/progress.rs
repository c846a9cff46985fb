//! Live progress of a backup, verification or restore.

use std::sync::{
    Mutex,
    atomic::{AtomicU64, Ordering},
};

use crate::rules::Table;

/// Live progress of a backup, verification or restore.
#[derive(Debug, Default)]
pub struct Progress {
    table: Mutex<Option<Table>>,
    pub(super) rows: AtomicU64,
    phase: Mutex<&'static str>,
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

    /// What is happening, e.g. `writing` or `verifying`.
    pub fn phase(&self) -> &'static str {
        *self.phase.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn start(&self, table: Table, phase: &'static str) {
        *self.table.lock().unwrap_or_else(|e| e.into_inner()) = Some(table);
        self.rows.store(0, Ordering::Relaxed);
        self.set_phase(phase);
    }

    pub(super) fn set_phase(&self, phase: &'static str) {
        *self.phase.lock().unwrap_or_else(|e| e.into_inner()) = phase;
    }

    pub(super) fn add_rows(&self, rows: u64) {
        self.rows.fetch_add(rows, Ordering::Relaxed);
    }
}
