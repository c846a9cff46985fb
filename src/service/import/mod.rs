//! Importing headerless CSV files: one table per file, one transaction per table.
//!
//! Each table file is loaded in a single transaction, so a cut-off import
//! (Ctrl-C, a lost database) leaves that table exactly as it was before,
//! while tables finished earlier in the same run stay loaded. Running the same
//! import again is idempotent: rows already stored count as `unchanged`.

mod batches;
mod copy_text;
mod error;
mod postgres;
mod summary;

use std::{io::Read, sync::Arc};

use sea_orm::{DatabaseConnection, DbBackend};

pub use error::ImportError;
pub use summary::{ImportProgress, TableSummary};

use super::rollup;
use crate::{error::AppError, rules::Table};

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
        postgres::import_hires(db.get_postgres_connection_pool(), source, input, &progress).await?
    } else {
        batches::import_in_batches(db, table, source, input, &progress).await?
    };
    if table == Table::HiredEmployees && summary.inserted > 0 {
        fold_rollup_deltas(db, &progress).await;
    }
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

/// Folds the import's rollup deltas (a batch import leaves one row per cell
/// and batch), so that reports need not add them up until a compactor runs.
/// The import is committed already: a failure here only leaves them pending.
async fn fold_rollup_deltas(db: &DatabaseConnection, progress: &ImportProgress) {
    progress.set_phase("folding report counts");
    if let Err(err) = rollup::compact(db).await {
        tracing::warn!(error = %err, "the rollup deltas stay pending for the compactor");
    }
}
