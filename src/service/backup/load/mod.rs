//! Replacing tables' contents with checked backup rows, in one transaction.
//!
//! The rows were read and checked already (pass one); they come back from
//! local spool files, so the bytes loaded are the bytes that were checked.
//! References to the tables that are not restored are checked here, under
//! locks that keep them still until the commit.

mod plan;
mod postgres;
mod sqlite;

use std::sync::Arc;

use sea_orm::{DatabaseConnection, DbBackend};

pub use plan::{RestoredTable, Restoring};

use super::progress::Progress;
use crate::error::AppError;

/// Replaces the tables in `items` (in foreign-key order) in one transaction;
/// `dry_run` does everything but the commit.
pub async fn replace(
    db: &DatabaseConnection,
    items: Vec<Restoring>,
    dry_run: bool,
    progress: &Arc<Progress>,
) -> Result<Vec<RestoredTable>, AppError> {
    match db.get_database_backend() {
        DbBackend::Postgres => postgres::replace(db, items, dry_run, progress).await,
        _ => sqlite::replace(db, items, dry_run, progress).await,
    }
}
