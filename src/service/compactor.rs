//! The background compactor: folds the rollup's deltas into the compacted
//! cells every interval, so the deltas reports add up stay few.
//!
//! Every instance runs one; on PostgreSQL an advisory lock lets one at a time
//! work, the others skip that round. Stopping it at any point is safe: an
//! unfinished compaction is one uncommitted transaction, and rolls back.

use std::time::Duration;

use sea_orm::DatabaseConnection;
use tokio::{task::JoinHandle, time::MissedTickBehavior};

use super::rollup::{self, Compaction};

/// The default time between compactions, in milliseconds.
pub const DEFAULT_INTERVAL_MS: u64 = 250;

/// A running compactor; stop it before closing the pool.
#[derive(Debug)]
pub struct Compactor {
    task: JoinHandle<()>,
}

impl Compactor {
    /// Starts compacting through `db` every `interval`.
    pub fn start(db: DatabaseConnection, interval: Duration) -> Self {
        Self {
            task: tokio::spawn(compact_every(db, interval)),
        }
    }

    /// Stops it, rolling back a compaction under way.
    pub async fn stop(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}

async fn compact_every(db: DatabaseConnection, interval: Duration) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        match rollup::compact(&db).await {
            Ok(Compaction::Folded(rows)) => tracing::debug!(rows, "folded rollup deltas"),
            Ok(Compaction::Idle | Compaction::Busy) => {}
            Err(err) => {
                tracing::warn!(error = %err, "rollup compaction failed; retrying next round")
            }
        }
    }
}
