//! Checking a set's objects: size, SHA-256, schema, rows, and references within the set.

use std::{collections::BTreeMap, sync::Arc};

use bytes::Bytes;
use sha2::{Digest, Sha256};
use tokio::{io::AsyncWriteExt, sync::mpsc};

use super::{
    avro::{self, ScanProblem},
    error::BackupError,
    progress::Progress,
    set::{ManifestTable, storage_error},
    storage::Storage,
};
use crate::{
    error::AppError,
    rules::{Table, reason},
};

/// Reads one object whole, checking it against its manifest entry; the bytes
/// also go to `spool` when one is given.
pub(super) async fn check_object(
    storage: &Storage,
    id: &str,
    entry: &ManifestTable,
    spool: Option<&mut tokio::fs::File>,
    progress: &Arc<Progress>,
) -> Result<avro::Scan, AppError> {
    let name = &entry.object;
    let expected = avro::fingerprint(avro::schema(entry.table));
    if entry.schema_fingerprint != expected {
        return Err(AppError::from(BackupError::SchemaMismatch(format!(
            "{name} was written with an Avro schema this version does not read \
                 (fingerprint {}, expected {expected})",
            entry.schema_fingerprint
        ))));
    }
    let read = read_object(storage, id, entry, spool, progress).await?;
    compare_with_manifest(id, entry, &read)?;
    Ok(read.scan)
}

/// An object as read: its size, SHA-256, and what the Avro scan found.
struct ReadObject {
    bytes: u64,
    sha256: String,
    scan: avro::Scan,
}

/// Reads an object, hashing every byte while a blocking task scans its rows.
async fn read_object(
    storage: &Storage,
    id: &str,
    entry: &ManifestTable,
    mut spool: Option<&mut tokio::fs::File>,
    progress: &Arc<Progress>,
) -> Result<ReadObject, AppError> {
    let (table, name) = (entry.table, &entry.object);
    let mut object = storage
        .open(id, name)
        .await
        .map_err(storage_error)?
        .ok_or_else(|| {
            AppError::from(BackupError::Corrupt(format!(
                "{name}, listed in the manifest of backup {id}, is missing"
            )))
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
        while let Some(chunk) = object.next_chunk().await?
            && !progress.is_cancelled()
        {
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
    progress.check()?;
    read.map_err(storage_error)?;
    Ok(ReadObject {
        bytes,
        sha256: avro::hex(&hasher.finalize()),
        scan,
    })
}

/// Refuses an object whose size, checksum, rows or row count differ from its entry.
fn compare_with_manifest(
    id: &str,
    entry: &ManifestTable,
    read: &ReadObject,
) -> Result<(), AppError> {
    let name = &entry.object;
    let (bytes, sha256, scan) = (read.bytes, &read.sha256, &read.scan);
    let refusal = if bytes != entry.bytes {
        BackupError::ChecksumMismatch(format!(
            "{name} of backup {id} is {bytes} bytes, but the manifest says {}: \
                 it was truncated or changed",
            entry.bytes
        ))
    } else if *sha256 != entry.sha256 {
        BackupError::ChecksumMismatch(format!(
            "{name} of backup {id} has SHA-256 {sha256}, but the manifest says {}: \
                 it was changed after the backup",
            entry.sha256
        ))
    } else if let Some(problem) = &scan.problem {
        scan_refusal(id, name, problem)
    } else if scan.rows != entry.rows {
        BackupError::RowCountMismatch(format!(
            "{name} of backup {id} holds {} rows, but the manifest says {}",
            scan.rows, entry.rows
        ))
    } else {
        return Ok(());
    };
    Err(refusal.into())
}

/// What a problem the Avro scan found means for the set.
fn scan_refusal(id: &str, name: &str, problem: &ScanProblem) -> BackupError {
    match problem {
        ScanProblem::Corrupt(message) => BackupError::Corrupt(format!(
            "{name} of backup {id} is not a readable Avro file: {message}"
        )),
        ScanProblem::Schema(message) => {
            BackupError::SchemaMismatch(format!("{name} of backup {id}: {message}"))
        }
        ScanProblem::InvalidRow {
            position,
            id: row_id,
            code,
            message,
        } => BackupError::InvalidData(format!(
            "{name} of backup {id}, row {position} (id {row_id}): {code}: {message}"
        )),
    }
}

/// Within one set, hires must point at departments and jobs of the same set.
pub(super) fn check_internal_references(
    id: &str,
    scans: &BTreeMap<Table, &avro::Scan>,
) -> Result<(), AppError> {
    let Some(hires) = scans.get(&Table::HiredEmployees) else {
        return Ok(());
    };
    for (dimension, pointed_at, code) in [
        (
            Table::Departments,
            &hires.departments,
            reason::UNKNOWN_DEPARTMENT,
        ),
        (Table::Jobs, &hires.jobs, reason::UNKNOWN_JOB),
    ] {
        if let Some(dimension_scan) = scans.get(&dimension) {
            let missing = pointed_at - &dimension_scan.ids;
            if let Some(first) = missing.min() {
                return Err(AppError::from(BackupError::InvalidData(format!(
                    "in backup {id}, {} hire reference(s) point at {dimension} missing from \
                         the same backup ({code}, e.g. id {first})",
                    missing.len()
                ))));
            }
        }
    }
    Ok(())
}
