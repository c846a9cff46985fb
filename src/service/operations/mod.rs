//! Admin operations as tracked jobs: every import, backup, verification and
//! restore, started by GraphQL or the CLI, is a row of the `operations`
//! table from queued to finished, with its progress, who started it, its
//! parameters and its result or error.
//!
//! The process that runs an operation refreshes its row (progress and a
//! heartbeat) every [`HEARTBEAT`]. Cancelling sets a flag in the row, so any
//! instance can cancel an operation another one runs: the runner sees the flag
//! at its next heartbeat. An operation whose heartbeat stopped (its process
//! died) is marked `FAILED` with code `INTERRUPTED` by the next sweep of any
//! instance, at its start and every [`SWEEP_EVERY`].

mod job;
mod live;
mod model;
mod runner;
mod store;

use std::time::Duration;

use sea_orm::DatabaseConnection;

pub use job::Job;
pub use model::{Kind, OperationRecord, Output, State, output_of, state_of};
pub use runner::{HEARTBEAT, Started, start};
pub use store::{Filter, Page};

use super::background::Background;
use crate::error::AppError;

/// How long without a heartbeat before an operation counts as interrupted.
pub const STALE_AFTER: Duration = Duration::from_secs(10);

/// On SQLite, how old an unfinished operation must be before its lock file
/// is checked (it is taken just after the row is written).
const SQLITE_GRACE: Duration = Duration::from_secs(2);

/// How often each server looks for interrupted operations.
pub const SWEEP_EVERY: Duration = Duration::from_secs(5);

/// Operation `id`, with the latest progress when it runs in this process.
pub async fn get(db: &DatabaseConnection, id: i64) -> Result<Option<OperationRecord>, AppError> {
    Ok(store::row(db, id).await?.map(|row| current(db, row)))
}

/// Up to `first` operations older than `before_id`, newest first.
pub async fn list(
    db: &DatabaseConnection,
    filter: Filter,
    before_id: Option<i64>,
    first: u64,
) -> Result<Page, AppError> {
    let mut page = store::rows(db, filter, before_id, first).await?;
    page.rows = page.rows.into_iter().map(|row| current(db, row)).collect();
    Ok(page)
}

/// The row with the progress and cancel request of this process's runner,
/// which are newer than the row's while it runs.
fn current(db: &DatabaseConnection, mut row: OperationRecord) -> OperationRecord {
    if state_of(&row) == State::Running
        && let Some(live) = live::running_here(db, row.id)
    {
        let step = live.step();
        row.progress_done = i64::try_from(step.done).unwrap_or(i64::MAX);
        row.progress_total = step.total.and_then(|total| i64::try_from(total).ok());
        row.phase = step.phase;
        row.cancel_requested |= live.is_cancelled();
    }
    row
}

/// Asks operation `id` to stop, wherever it runs; returns it as it is now.
/// One running in this process stops at once; another process's sees the
/// flag in its row at its next heartbeat.
pub async fn request_cancel(
    db: &DatabaseConnection,
    id: i64,
) -> Result<Option<OperationRecord>, AppError> {
    match live::running_here(db, id) {
        Some(live) => {
            live.cancel();
            // On SQLite the row may be locked by the very work being stopped.
            let db_for_flag = db.clone();
            tokio::spawn(async move { store::flag_cancel(&db_for_flag, id).await });
        }
        None => store::flag_cancel(db, id).await?,
    }
    get(db, id).await
}

/// A stopping server: waits, at most `grace`, for the operations this
/// process runs on `db` to end; cancels those still running, and waits for
/// them to record it (at most [`CANCEL_WAIT`]).
pub async fn finish_or_cancel(db: &DatabaseConnection, grace: Duration) {
    if !wait_until_none_run(db, grace).await {
        let running = live::cancel_all(db);
        tracing::warn!(
            operations = running,
            "shutting down: cancelling running operations"
        );
        wait_until_none_run(db, CANCEL_WAIT).await;
    }
}

/// How long a stopping server waits for cancelled operations to record it.
const CANCEL_WAIT: Duration = Duration::from_secs(15);

/// Waits until no operation of `db` runs in this process; false after `within`.
async fn wait_until_none_run(db: &DatabaseConnection, within: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    while live::running_count(db) > 0 {
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    true
}

/// Marks `FAILED` with code `INTERRUPTED` every unfinished operation whose
/// process died: on PostgreSQL, its heartbeat stopped [`STALE_AFTER`] ago;
/// on SQLite, its lock file is no longer held.
pub async fn sweep_interrupted(db: &DatabaseConnection) -> Result<u64, AppError> {
    let dead = if db.get_database_backend() == sea_orm::DbBackend::Postgres {
        store::quiet_unfinished(db, STALE_AFTER).await?
    } else {
        let quiet = store::quiet_unfinished(db, SQLITE_GRACE).await?;
        quiet
            .into_iter()
            .filter(|id| live::owner_gone(db, *id) == Some(true))
            .collect()
    };
    let swept = store::mark_interrupted(db, &dead).await?;
    if swept > 0 {
        tracing::warn!(
            operations = swept,
            "marked operations whose process died as FAILED (INTERRUPTED)"
        );
    }
    Ok(swept)
}

/// Marks operations whose process died as interrupted: once at start, then
/// every [`SWEEP_EVERY`]. Every instance runs one; the update is idempotent.
pub fn start_sweeper(db: DatabaseConnection) -> Background {
    Background::every(SWEEP_EVERY, move || {
        let db = db.clone();
        async move {
            if let Err(err) = sweep_interrupted(&db).await {
                err.log();
                tracing::warn!("looking for interrupted operations failed");
            }
        }
    })
}
