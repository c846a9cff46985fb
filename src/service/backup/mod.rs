//! Backups and restores: consistent Avro backup sets on S3 or a local folder.
//!
//! A set is one folder (or key prefix) per run, named by an id that sorts by
//! time, holding one Avro file per table and a `manifest.json` written last: a
//! set without a manifest is incomplete and never listed. A restore reads and
//! checks every chosen object whole (size, SHA-256, schema, rows by the import
//! rules) before it changes anything, then replaces the tables in one
//! transaction. One backup or restore runs at a time.

pub mod avro;
mod load;
mod lock;
mod snapshot;
pub mod storage;

use std::{
    collections::BTreeMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
};

use async_graphql::futures_util::{StreamExt, stream};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use sea_orm::{DatabaseConnection, DbBackend};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::{io::AsyncWriteExt, sync::mpsc};

pub use load::RestoredTable;
pub use storage::{S3Settings, Storage};

use self::{avro::ScanProblem, load::Restoring, lock::OperationLock, snapshot::Snapshot};
use crate::{error::AppError, service::import::Table};

/// What `format` says in every manifest.
pub const FORMAT: &str = "hiring-analytics-backup";
/// The manifest format this version writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// The manifest's object name.
pub const MANIFEST: &str = "manifest.json";

/// A backup store and its retention.
#[derive(Debug, Clone)]
pub struct Backups {
    /// Where sets are written.
    pub storage: Storage,
    /// Keep only the newest N complete sets (older ones go after a backup succeeds).
    pub keep: Option<usize>,
}

impl Backups {
    /// Sets in `storage`, all kept.
    pub fn new(storage: Storage) -> Self {
        Self {
            storage,
            keep: None,
        }
    }
}

/// The manifest of a complete backup set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    /// Always [`FORMAT`].
    pub format: String,
    /// The manifest format version.
    pub format_version: u32,
    /// The set's id, e.g. `20261127T081500Z-3f9a`.
    pub id: String,
    /// When the snapshot was taken.
    pub created_at: DateTime<Utc>,
    /// The database it came from: `postgres` or `sqlite`.
    pub backend: String,
    /// The newest database migration applied at the time.
    pub migration: String,
    /// The Avro block codec.
    pub codec: String,
    /// One entry per table, in foreign-key order.
    pub tables: Vec<ManifestTable>,
}

/// One table of a set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManifestTable {
    /// The table.
    pub table: Table,
    /// The object's name in the set, e.g. `hired_employees.avro`.
    pub object: String,
    /// Rows in the object.
    pub rows: u64,
    /// The object's size.
    pub bytes: u64,
    /// The object's SHA-256, in hex.
    pub sha256: String,
    /// SHA-256 of the Avro schema's Parsing Canonical Form, in hex.
    pub schema_fingerprint: String,
}

/// Live progress of a backup, verification or restore.
#[derive(Debug, Default)]
pub struct Progress {
    table: Mutex<Option<Table>>,
    rows: AtomicU64,
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

    fn start(&self, table: Table, phase: &'static str) {
        *self.table.lock().unwrap_or_else(|e| e.into_inner()) = Some(table);
        self.rows.store(0, Ordering::Relaxed);
        self.set_phase(phase);
    }

    fn set_phase(&self, phase: &'static str) {
        *self.phase.lock().unwrap_or_else(|e| e.into_inner()) = phase;
    }

    fn add_rows(&self, rows: u64) {
        self.rows.fetch_add(rows, Ordering::Relaxed);
    }
}

/// What a verification checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Verification {
    /// The set verified.
    pub manifest: Manifest,
    /// Rows read and checked, over every table.
    pub rows_checked: u64,
}

/// What a restore did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RestoreReport {
    /// The set restored from.
    pub backup_id: String,
    /// True when nothing was committed.
    pub dry_run: bool,
    /// Each table replaced, in foreign-key order.
    pub tables: Vec<RestoredTable>,
}

fn storage_error(err: anyhow::Error) -> AppError {
    tracing::error!(error = format!("{err:#}"), "backup storage failed");
    AppError::bad_input(
        "STORAGE_UNAVAILABLE",
        // The outermost message names the object and S3's error code; causes stay in the log.
        format!("the backup storage failed: {err}"),
    )
}

/// A new set id: the UTC time to the second, and four random hex digits.
fn new_id(at: DateTime<Utc>) -> String {
    let mut hasher = Sha256::new();
    hasher.update(at.timestamp_nanos_opt().unwrap_or_default().to_le_bytes());
    hasher.update(std::process::id().to_le_bytes());
    hasher.update(format!("{:?}", std::thread::current().id()));
    let suffix = hasher.finalize();
    format!(
        "{}-{:02x}{:02x}",
        at.format("%Y%m%dT%H%M%SZ"),
        suffix[0],
        suffix[1]
    )
}

/// True for ids of the form `20261127T081500Z-3f9a`.
pub fn is_set_id(id: &str) -> bool {
    let bytes = id.as_bytes();
    bytes.len() == 21
        && bytes[..8].iter().all(u8::is_ascii_digit)
        && bytes[8] == b'T'
        && bytes[9..15].iter().all(u8::is_ascii_digit)
        && bytes[15] == b'Z'
        && bytes[16] == b'-'
        && bytes[17..]
            .iter()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
}

/// The chosen tables in foreign-key order, or every table.
fn choose_tables(tables: Option<Vec<Table>>, all: &[Table]) -> Result<Vec<Table>, AppError> {
    let Some(mut tables) = tables else {
        return Ok(all.to_vec());
    };
    if tables.is_empty() {
        return Err(AppError::bad_input(
            "INVALID_TABLES",
            "choose at least one table, or leave the list out for every table",
        ));
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

async fn write_set(
    db: &DatabaseConnection,
    storage: &Storage,
    tables: &[Table],
    progress: &Arc<Progress>,
) -> Result<Manifest, AppError> {
    let created_at = crate::service::rollup::now();
    let id = new_id(created_at);
    let mut snapshot = Snapshot::begin(db).await?;
    let written = async {
        let migration = snapshot.migration().await?;
        let mut entries = Vec::new();
        for table in tables {
            progress.start(*table, "writing");
            entries.push(write_table(&mut snapshot, storage, &id, *table, progress).await?);
        }
        Ok::<_, AppError>((migration, entries))
    }
    .await;
    snapshot.end().await;
    let outcome = match written {
        Ok((migration, tables)) => {
            let manifest = Manifest {
                format: FORMAT.into(),
                format_version: FORMAT_VERSION,
                id: id.clone(),
                created_at,
                backend: match db.get_database_backend() {
                    DbBackend::Postgres => "postgres".into(),
                    _ => "sqlite".into(),
                },
                migration,
                codec: avro::CODEC_NAME.into(),
                tables,
            };
            progress.set_phase("writing the manifest");
            let body = serde_json::to_vec_pretty(&manifest)
                .map_err(|err| AppError::Internal(err.into()))?;
            storage
                .put_small(&id, MANIFEST, body)
                .await
                .map(|()| manifest)
                .map_err(storage_error)
        }
        Err(err) => Err(err),
    };
    if outcome.is_err() {
        // Best effort: a set without a manifest is never listed anyway.
        if let Err(err) = storage.delete_set(&id).await {
            tracing::warn!(
                id,
                error = format!("{err:#}"),
                "removing an incomplete set failed"
            );
        }
    }
    progress.set_phase("done");
    outcome
}

/// Streams one table from the snapshot through the Avro encoder to storage.
async fn write_table(
    snapshot: &mut Snapshot,
    storage: &Storage,
    id: &str,
    table: Table,
    progress: &Arc<Progress>,
) -> Result<ManifestTable, AppError> {
    let object = format!("{table}.avro");
    let (feed_sender, feed) = mpsc::channel(8);
    let (chunk_sender, mut chunks) = mpsc::channel::<Bytes>(4);
    let counter = Arc::clone(progress);
    let encoder = tokio::task::spawn_blocking(move || {
        snapshot::encode(table, feed, chunk_sender, &counter.rows)
    });
    let mut upload = storage.create(id, &object).await.map_err(storage_error)?;
    let uploading = async {
        while let Some(chunk) = chunks.recv().await {
            upload.write(chunk).await?;
        }
        Ok::<_, anyhow::Error>(())
    };
    let (read, uploaded) = tokio::join!(snapshot.send(table, feed_sender), uploading);
    let encoded = encoder
        .await
        .map_err(|err| AppError::Internal(anyhow::anyhow!("the Avro encoder failed: {err}")));
    // The first cause wins: storage, then the database, then the encoder.
    let failure = match (uploaded, read, encoded) {
        (Err(err), _, _) => Some(storage_error(err)),
        (Ok(()), Err(err), _) => Some(err),
        (Ok(()), Ok(()), Err(err)) => Some(err),
        (Ok(()), Ok(()), Ok(Err(err))) => {
            Some(AppError::Internal(err.context("encoding Avro failed")))
        }
        (Ok(()), Ok(()), Ok(Ok(encoded))) => {
            upload.finish().await.map_err(storage_error)?;
            return Ok(ManifestTable {
                table,
                object,
                rows: encoded.rows,
                bytes: encoded.bytes,
                sha256: encoded.sha256,
                schema_fingerprint: avro::fingerprint(avro::schema(table)),
            });
        }
    };
    upload.abort().await;
    Err(failure.unwrap_or_else(|| AppError::Internal(anyhow::anyhow!("the backup failed"))))
}

/// Deletes complete sets beyond the newest `keep`, and incomplete sets older than `newest`.
async fn apply_retention(storage: &Storage, keep: usize, newest: &str) -> anyhow::Result<()> {
    let complete = list_manifests(storage)
        .await
        .map_err(|err| anyhow::anyhow!(err.detail()))?;
    for old in complete.iter().skip(keep) {
        storage.delete_set(&old.id).await?;
        tracing::info!(id = old.id, "deleted an old backup set (BACKUP_KEEP)");
    }
    let complete: Vec<&str> = complete.iter().map(|m| m.id.as_str()).collect();
    for id in storage.list_sets().await? {
        // Only sets from an earlier second: the random part of an id does not sort by time.
        if is_set_id(&id) && id[..16] < newest[..16] && !complete.contains(&id.as_str()) {
            storage.delete_set(&id).await?;
            tracing::info!(id, "deleted an incomplete backup set");
        }
    }
    Ok(())
}

/// Every complete set, newest first.
pub async fn list(storage: &Storage) -> Result<Vec<Manifest>, AppError> {
    list_manifests(storage).await
}

async fn list_manifests(storage: &Storage) -> Result<Vec<Manifest>, AppError> {
    let ids = storage.list_sets().await.map_err(storage_error)?;
    let manifests: Vec<Result<Option<Manifest>, AppError>> =
        stream::iter(ids.into_iter().filter(|id| is_set_id(id)))
            .map(|id| async move {
                match storage
                    .get_small(&id, MANIFEST)
                    .await
                    .map_err(storage_error)?
                {
                    None => Ok(None),
                    Some(body) => match serde_json::from_slice::<Manifest>(&body) {
                        Ok(manifest) if manifest.format == FORMAT && manifest.id == id => {
                            Ok(Some(manifest))
                        }
                        Ok(_) | Err(_) => {
                            tracing::warn!(
                                id,
                                "skipping a backup set whose manifest is unreadable"
                            );
                            Ok(None)
                        }
                    },
                }
            })
            .buffer_unordered(8)
            .collect()
            .await;
    let mut complete = Vec::new();
    for manifest in manifests {
        complete.extend(manifest?);
    }
    complete.sort_by(|a, b| {
        b.created_at
            .cmp(&a.created_at)
            .then_with(|| b.id.cmp(&a.id))
    });
    Ok(complete)
}

/// Reads the manifest of set `id`.
pub async fn manifest(storage: &Storage, id: &str) -> Result<Manifest, AppError> {
    if !is_set_id(id) {
        return Err(AppError::bad_input(
            "INVALID_BACKUP_ID",
            format!("{id:?} is not a backup id; ids look like 20261127T081500Z-3f9a"),
        ));
    }
    let not_found = || {
        AppError::bad_input(
            "BACKUP_NOT_FOUND",
            format!(
                "no complete backup set has the id {id} in {}",
                storage.describe()
            ),
        )
    };
    let body = storage
        .get_small(id, MANIFEST)
        .await
        .map_err(storage_error)?
        .ok_or_else(not_found)?;
    let manifest: Manifest = serde_json::from_slice(&body).map_err(|err| {
        AppError::bad_input(
            "CORRUPT_BACKUP",
            format!("the manifest of backup {id} is unreadable: {err}"),
        )
    })?;
    if manifest.format != FORMAT || manifest.id != id {
        return Err(AppError::bad_input(
            "CORRUPT_BACKUP",
            format!("the manifest of backup {id} is not a {FORMAT} manifest for that id"),
        ));
    }
    if manifest.format_version > FORMAT_VERSION {
        return Err(AppError::bad_input(
            "UNSUPPORTED_BACKUP_FORMAT",
            format!(
                "backup {id} has format version {}; this version reads up to {FORMAT_VERSION}, \
                 so restore it with a newer hiring-analytics",
                manifest.format_version
            ),
        ));
    }
    Ok(manifest)
}

/// Reads one object whole, checking it against its manifest entry; the bytes
/// also go to `spool` when one is given.
async fn check_object(
    storage: &Storage,
    id: &str,
    entry: &ManifestTable,
    mut spool: Option<&mut tokio::fs::File>,
    progress: &Arc<Progress>,
) -> Result<avro::Scan, AppError> {
    let table = entry.table;
    let name = &entry.object;
    let expected = avro::fingerprint(avro::schema(table));
    if entry.schema_fingerprint != expected {
        return Err(AppError::bad_input(
            "SCHEMA_MISMATCH",
            format!(
                "{name} was written with an Avro schema this version does not read \
                 (fingerprint {}, expected {expected})",
                entry.schema_fingerprint
            ),
        ));
    }
    let mut object = storage
        .open(id, name)
        .await
        .map_err(storage_error)?
        .ok_or_else(|| {
            AppError::bad_input(
                "CORRUPT_BACKUP",
                format!("{name}, listed in the manifest of backup {id}, is missing"),
            )
        })?;
    let (sender, chunks) = mpsc::channel::<Bytes>(8);
    let counter = Arc::clone(progress);
    let scanner = tokio::task::spawn_blocking(move || {
        avro::scan(table, avro::ChunkReader::new(chunks), &counter.rows)
    });
    let mut sender = Some(sender);
    let mut hasher = Sha256::new();
    let mut bytes = 0u64;
    let read = async {
        while let Some(chunk) = object.next_chunk().await? {
            hasher.update(&chunk);
            bytes += chunk.len() as u64;
            if let Some(spool) = spool.as_deref_mut() {
                spool.write_all(&chunk).await?;
            }
            // When the scanner stopped at a problem, the checksum still needs every byte.
            if let Some(to_scanner) = &sender
                && to_scanner.send(chunk).await.is_err()
            {
                sender = None;
            }
        }
        Ok::<_, anyhow::Error>(())
    }
    .await;
    drop(sender);
    let scan = scanner
        .await
        .map_err(|err| AppError::Internal(anyhow::anyhow!("the Avro reader failed: {err}")))?;
    read.map_err(storage_error)?;
    let sha256 = avro::hex(&hasher.finalize());
    if bytes != entry.bytes {
        return Err(AppError::bad_input(
            "CHECKSUM_MISMATCH",
            format!(
                "{name} of backup {id} is {bytes} bytes, but the manifest says {}: \
                 it was truncated or changed",
                entry.bytes
            ),
        ));
    }
    if sha256 != entry.sha256 {
        return Err(AppError::bad_input(
            "CHECKSUM_MISMATCH",
            format!(
                "{name} of backup {id} has SHA-256 {sha256}, but the manifest says {}: \
                 it was changed after the backup",
                entry.sha256
            ),
        ));
    }
    match &scan.problem {
        Some(ScanProblem::Corrupt(message)) => {
            return Err(AppError::bad_input(
                "CORRUPT_BACKUP",
                format!("{name} of backup {id} is not a readable Avro file: {message}"),
            ));
        }
        Some(ScanProblem::Schema(message)) => {
            return Err(AppError::bad_input(
                "SCHEMA_MISMATCH",
                format!("{name} of backup {id}: {message}"),
            ));
        }
        Some(ScanProblem::InvalidRow {
            position,
            id: row_id,
            code,
            message,
        }) => {
            return Err(AppError::bad_input(
                "INVALID_BACKUP_DATA",
                format!("{name} of backup {id}, row {position} (id {row_id}): {code}: {message}"),
            ));
        }
        None => {}
    }
    if scan.rows != entry.rows {
        return Err(AppError::bad_input(
            "ROW_COUNT_MISMATCH",
            format!(
                "{name} of backup {id} holds {} rows, but the manifest says {}",
                scan.rows, entry.rows
            ),
        ));
    }
    Ok(scan)
}

/// Within one set, hires must point at departments and jobs of the same set.
fn check_internal_references(
    id: &str,
    scans: &BTreeMap<Table, &avro::Scan>,
) -> Result<(), AppError> {
    let Some(hires) = scans.get(&Table::HiredEmployees) else {
        return Ok(());
    };
    for (dimension, pointed_at, code) in [
        (Table::Departments, &hires.departments, "UNKNOWN_DEPARTMENT"),
        (Table::Jobs, &hires.jobs, "UNKNOWN_JOB"),
    ] {
        if let Some(dimension_scan) = scans.get(&dimension) {
            let missing = pointed_at - &dimension_scan.ids;
            if let Some(first) = missing.min() {
                return Err(AppError::bad_input(
                    "INVALID_BACKUP_DATA",
                    format!(
                        "in backup {id}, {} hire reference(s) point at {dimension} missing from \
                         the same backup ({code}, e.g. id {first})",
                        missing.len()
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Re-reads every object of set `id` and checks its size, SHA-256, schema and rows.
#[tracing::instrument(skip(storage, progress))]
pub async fn verify(
    storage: &Storage,
    id: &str,
    progress: Arc<Progress>,
) -> Result<Verification, AppError> {
    let manifest = manifest(storage, id).await?;
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
        return Err(AppError::bad_input(
            "TABLE_NOT_IN_BACKUP",
            format!("backup {id} holds no {missing} table"),
        ));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_ids_sort_by_time_and_are_recognised() {
        let earlier = new_id("2026-11-27T08:15:00Z".parse().unwrap());
        let later = new_id("2026-11-27T08:15:01Z".parse().unwrap());
        assert!(
            is_set_id(&earlier) && is_set_id(&later),
            "{earlier} {later}"
        );
        assert!(earlier < later);
        assert!(earlier.starts_with("20261127T081500Z-"));
        for bad in [
            "",
            "../etc",
            "20261127T081500Z-3F9A",
            "20261127T081500Z-3f9a/x",
        ] {
            assert!(!is_set_id(bad), "{bad}");
        }
    }
}
