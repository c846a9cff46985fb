//! Backups and restores: consistent Avro backup sets on S3 or a local folder.
//!
//! A set is one folder (or key prefix) per run, named by an id that sorts by
//! time, holding one Avro file per table and a `manifest.json` written last: a
//! set without a manifest is incomplete and never listed. A restore reads and
//! checks every chosen object whole (size, SHA-256, schema, rows by the import
//! rules) before it changes anything, then replaces the tables in one
//! transaction. One backup or restore runs at a time.

pub mod avro;
mod check;
mod error;
mod load;
mod lock;
mod progress;
mod set;
mod snapshot;
pub mod storage;
mod write;

use std::sync::Arc;

use sea_orm::DatabaseConnection;
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;

pub use error::BackupError;
pub use load::RestoredTable;
pub use progress::Progress;
pub use set::{
    Backups, FORMAT, FORMAT_VERSION, MANIFEST, Manifest, ManifestTable, is_set_id, list, manifest,
};
pub use storage::{S3Settings, Storage};

use self::{
    check::{check_internal_references, check_object},
    load::Restoring,
    lock::OperationLock,
    write::{apply_retention, write_set},
};
use crate::{error::AppError, rules::Table};

/// What a verification checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Verification {
    /// The set verified.
    pub manifest: Manifest,
    /// Rows read and checked, over every table.
    pub rows_checked: u64,
}

/// What a restore did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RestoreReport {
    /// The set restored from.
    pub backup_id: String,
    /// True when nothing was committed.
    pub dry_run: bool,
    /// Each table replaced, in foreign-key order.
    pub tables: Vec<RestoredTable>,
}

/// The chosen tables in foreign-key order, or every table.
fn choose_tables(tables: Option<Vec<Table>>, all: &[Table]) -> Result<Vec<Table>, AppError> {
    let Some(mut tables) = tables else {
        return Ok(all.to_vec());
    };
    if tables.is_empty() {
        return Err(AppError::from(BackupError::InvalidTables(
            "choose at least one table, or leave the list out for every table".to_owned(),
        )));
    }
    tables.sort();
    tables.dedup();
    Ok(tables)
}

/// Takes a consistent backup of `tables` (every table when `None`) into a new set.
#[tracing::instrument(skip_all)]
pub async fn backup(
    db: &DatabaseConnection,
    backups: &Backups,
    tables: Option<Vec<Table>>,
    progress: Arc<Progress>,
) -> Result<Manifest, AppError> {
    let tables = choose_tables(tables, &Table::ALL)?;
    let lock = OperationLock::acquire(db).await?;
    let started = std::time::Instant::now();
    let result = write_set(db, &backups.storage, &tables, &progress).await;
    lock.release().await;
    let manifest = result?;
    tracing::info!(
        id = manifest.id,
        storage = backups.storage.describe(),
        rows = manifest.tables.iter().map(|t| t.rows).sum::<u64>(),
        bytes = manifest.tables.iter().map(|t| t.bytes).sum::<u64>(),
        seconds = started.elapsed().as_secs_f64(),
        "backup finished"
    );
    if let Some(keep) = backups.keep
        && let Err(err) = apply_retention(&backups.storage, keep, &manifest.id).await
    {
        tracing::warn!(
            error = format!("{err:#}"),
            "deleting old backup sets failed"
        );
    }
    Ok(manifest)
}

/// Re-reads every object of set `id` and checks its size, SHA-256, schema and rows.
#[tracing::instrument(skip(storage, progress))]
pub async fn verify(
    storage: &Storage,
    id: &str,
    progress: Arc<Progress>,
) -> Result<Verification, AppError> {
    let manifest = manifest(storage, id).await?;
    progress.set_total(manifest.tables.iter().map(|t| t.rows).sum());
    let mut scans = Vec::new();
    for entry in &manifest.tables {
        progress.start(entry.table, "verifying");
        scans.push((
            entry.table,
            check_object(storage, id, entry, None, &progress).await?,
        ));
    }
    check_internal_references(id, &scans.iter().map(|(t, s)| (*t, s)).collect())?;
    progress.set_phase("done");
    Ok(Verification {
        rows_checked: scans.iter().map(|(_, s)| s.rows).sum(),
        manifest,
    })
}

/// Replaces `tables` (every table of the set when `None`) with set `id`'s
/// contents, in one transaction; `dry_run` does everything but the commit.
#[tracing::instrument(skip(db, storage, progress))]
pub async fn restore(
    db: &DatabaseConnection,
    storage: &Storage,
    id: &str,
    tables: Option<Vec<Table>>,
    dry_run: bool,
    progress: Arc<Progress>,
) -> Result<RestoreReport, AppError> {
    let manifest = manifest(storage, id).await?;
    let in_set: Vec<Table> = manifest.tables.iter().map(|t| t.table).collect();
    let tables = choose_tables(tables, &in_set)?;
    if let Some(missing) = tables.iter().find(|t| !in_set.contains(t)) {
        return Err(AppError::from(BackupError::TableNotInBackup(format!(
            "backup {id} holds no {missing} table"
        ))));
    }
    let lock = OperationLock::acquire(db).await?;
    let started = std::time::Instant::now();
    let result = restore_locked(db, storage, &manifest, &tables, dry_run, &progress).await;
    lock.release().await;
    let report = result?;
    tracing::info!(
        id,
        dry_run,
        rows = report.tables.iter().map(|t| t.rows_restored).sum::<u64>(),
        seconds = started.elapsed().as_secs_f64(),
        "restore finished"
    );
    Ok(report)
}

async fn restore_locked(
    db: &DatabaseConnection,
    storage: &Storage,
    manifest: &Manifest,
    tables: &[Table],
    dry_run: bool,
    progress: &Arc<Progress>,
) -> Result<RestoreReport, AppError> {
    let id = manifest.id.as_str();
    // Each row is read and checked, then loaded.
    let chosen = manifest.tables.iter().filter(|t| tables.contains(&t.table));
    progress.set_total(2 * chosen.map(|t| t.rows).sum::<u64>());
    let mut items = Vec::new();
    for entry in manifest.tables.iter().filter(|t| tables.contains(&t.table)) {
        progress.start(entry.table, "verifying");
        let spool = tempfile::tempfile().map_err(|err| {
            AppError::Internal(anyhow::anyhow!("cannot create a spool file: {err}"))
        })?;
        let mut spool = tokio::fs::File::from_std(spool);
        let scan = check_object(storage, id, entry, Some(&mut spool), progress).await?;
        spool.flush().await.map_err(|err| {
            AppError::Internal(anyhow::anyhow!("writing a spool file failed: {err}"))
        })?;
        let mut spool = spool.into_std().await;
        std::io::Seek::rewind(&mut spool).map_err(|err| {
            AppError::Internal(anyhow::anyhow!("rewinding a spool file failed: {err}"))
        })?;
        items.push(Restoring {
            table: entry.table,
            spool,
            scan,
        });
    }
    check_internal_references(id, &items.iter().map(|i| (i.table, &i.scan)).collect())?;
    let tables = load::replace(db, items, dry_run, progress).await?;
    progress.set_phase("done");
    Ok(RestoreReport {
        backup_id: id.to_owned(),
        dry_run,
        tables,
    })
}
