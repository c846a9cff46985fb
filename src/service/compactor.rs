//! The background compactor: folds the rollup's deltas into the compacted
//! cells every interval, so the deltas reports add up stay few.
//!
//! Every instance runs one; on PostgreSQL an advisory lock lets one at a time
//! work, the others skip that round. Stopping it at any point is safe: an
//! unfinished compaction is one uncommitted transaction, and rolls back.

use std::time::Duration;

use sea_orm::DatabaseConnection;

use super::{
    background::Background,
    rollup::{self, Compaction},
};

/// The default time between compactions, in milliseconds.
pub const DEFAULT_INTERVAL_MS: u64 = 250;

/// Starts compacting through `db` every `interval`; stop it before closing the pool.
pub fn start(db: DatabaseConnection, interval: Duration) -> Background {
    Background::every(interval, move || {
        let db = db.clone();
        async move { compact_once(&db).await }
    })
}

async fn compact_once(db: &DatabaseConnection) {
    match rollup::compact(db).await {
        Ok(Compaction::Folded(rows)) => tracing::debug!(rows, "folded rollup deltas"),
        Ok(Compaction::Idle | Compaction::Busy) => {}
        Err(err) => {
            tracing::warn!(error = %err, "rollup compaction failed; retrying next round")
        }
    }
}
