//! What a restore loads, and the checks every backend runs before it changes anything.

use std::fs::File;

use apache_avro::Reader;
use roaring::RoaringBitmap;
use serde::Serialize;
use tokio::sync::mpsc;

use crate::{
    error::AppError,
    rules::Table,
    service::backup::{
        avro::{Row, Scan, ScanProblem, for_each_row},
        error::BackupError,
    },
};

/// One table to restore: its checked rows in a spool file, and what the check found.
pub struct Restoring {
    /// The table.
    pub table: Table,
    /// The object as checked, rewound.
    pub spool: File,
    /// Ids and references found by the check.
    pub scan: Scan,
}

/// What a restore did to one table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RestoredTable {
    /// The table.
    pub table: Table,
    /// Rows it held before.
    pub rows_before: u64,
    /// Rows it holds now (the backup's).
    pub rows_restored: u64,
}

/// The item restoring `table`, if it is restored.
pub(super) fn restored(items: &[Restoring], table: Table) -> Option<&Restoring> {
    items.iter().find(|item| item.table == table)
}

/// How one reference between hires and a department or job table is checked.
pub(super) struct ReferenceCheck {
    /// The dimension table.
    pub(super) dimension: Table,
    /// True when the dimension is restored and the hires stay; false for the reverse.
    pub(super) dimension_restored: bool,
    /// The query for the current ids to compare with.
    pub(super) sql: &'static str,
}

/// The checks a restore of `items` needs: one per dimension that is restored
/// without the hires, or left alone while the hires are restored.
pub(super) fn reference_checks(items: &[Restoring]) -> Vec<ReferenceCheck> {
    let hires = restored(items, Table::HiredEmployees).is_some();
    [
        (
            Table::Departments,
            "SELECT DISTINCT department_id FROM hired_employees",
            "SELECT id FROM departments",
        ),
        (
            Table::Jobs,
            "SELECT DISTINCT job_id FROM hired_employees",
            "SELECT id FROM jobs",
        ),
    ]
    .into_iter()
    .filter_map(|(dimension, pointed_at_now, ids_now)| {
        match (restored(items, dimension).is_some(), hires) {
            (true, false) => Some(ReferenceCheck {
                dimension,
                dimension_restored: true,
                sql: pointed_at_now,
            }),
            (false, true) => Some(ReferenceCheck {
                dimension,
                dimension_restored: false,
                sql: ids_now,
            }),
            _ => None,
        }
    })
    .collect()
}

/// Refuses a restore that would leave a hire pointing at a missing department or job.
pub(super) fn check_reference(
    items: &[Restoring],
    check: &ReferenceCheck,
    current: RoaringBitmap,
) -> Result<(), AppError> {
    let dimension = check.dimension;
    let (pointed_at, available, whose, fix) = if check.dimension_restored {
        let backup = restored(items, dimension)
            .map(|item| item.scan.ids.clone())
            .unwrap_or_default();
        (
            current,
            backup,
            "current hires",
            format!("restore hired_employees with {dimension}"),
        )
    } else {
        let hires = restored(items, Table::HiredEmployees);
        let pointed_at = hires
            .map(|item| match dimension {
                Table::Departments => item.scan.departments.clone(),
                _ => item.scan.jobs.clone(),
            })
            .unwrap_or_default();
        (
            pointed_at,
            current,
            "the backup's hires",
            format!("restore {dimension} with hired_employees"),
        )
    };
    let missing = pointed_at - available;
    if missing.is_empty() {
        return Ok(());
    }
    let shown: Vec<String> = missing.iter().take(5).map(|id| id.to_string()).collect();
    let more = missing.len().saturating_sub(5);
    Err(AppError::from(BackupError::BreaksReferences(format!(
        "the restore would leave {whose} pointing at {} missing {dimension} id(s): {}{}; \
             nothing was changed ({fix}, or choose another backup)",
        missing.len(),
        shown.join(", "),
        if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        },
    ))))
}

/// Decodes a spool file on a blocking thread, handing rows to `each`.
pub(super) fn spawn_decoder<T: Send + 'static>(
    table: Table,
    spool: File,
    mut make: impl FnMut(Row<'static>, &mut Vec<T>) -> bool + Send + 'static,
) -> (
    mpsc::Receiver<Vec<T>>,
    tokio::task::JoinHandle<Result<u64, AppError>>,
) {
    let (sender, receiver) = mpsc::channel(4);
    let handle = tokio::task::spawn_blocking(move || {
        let reader =
            Reader::new(std::io::BufReader::with_capacity(1 << 20, spool)).map_err(|err| {
                AppError::Internal(anyhow::anyhow!(
                    "rereading a checked backup object failed: {err}"
                ))
            })?;
        let mut rows = 0u64;
        let mut batch = Vec::new();
        let stopped = std::cell::Cell::new(false);
        for_each_row(table, reader, |row| {
            rows += 1;
            if make(row, &mut batch) {
                let full = std::mem::take(&mut batch);
                if sender.blocking_send(full).is_err() {
                    stopped.set(true);
                    return Err(ScanProblem::Corrupt("stopped".into()));
                }
            }
            Ok(())
        })
        .or_else(|problem| if stopped.get() { Ok(()) } else { Err(problem) })
        .map_err(|problem| {
            AppError::Internal(anyhow::anyhow!(
                "rereading a checked backup object failed: {problem:?}"
            ))
        })?;
        make_last(&sender, batch);
        Ok(rows)
    });
    (receiver, handle)
}

fn make_last<T>(sender: &mpsc::Sender<Vec<T>>, batch: Vec<T>) {
    if !batch.is_empty() {
        let _ = sender.blocking_send(batch);
    }
}
