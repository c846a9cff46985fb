//! Backup sets: their manifests, ids and storage, and finding them.

use async_graphql::futures_util::{StreamExt, stream};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{error::BackupError, storage::Storage};
use crate::{error::AppError, rules::Table};

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

pub(super) fn storage_error(err: anyhow::Error) -> AppError {
    AppError::from(BackupError::StorageUnavailable(err))
}

/// A new set id: the UTC time to the second, and four random hex digits.
pub(super) fn new_id(at: DateTime<Utc>) -> String {
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

/// Every complete set, newest first.
pub async fn list(storage: &Storage) -> Result<Vec<Manifest>, AppError> {
    list_manifests(storage).await
}

pub(super) async fn list_manifests(storage: &Storage) -> Result<Vec<Manifest>, AppError> {
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
        return Err(AppError::from(BackupError::InvalidId(format!(
            "{id:?} is not a backup id; ids look like 20261127T081500Z-3f9a"
        ))));
    }
    let not_found = || {
        AppError::from(BackupError::NotFound(format!(
            "no complete backup set has the id {id} in {}",
            storage.describe()
        )))
    };
    let body = storage
        .get_small(id, MANIFEST)
        .await
        .map_err(storage_error)?
        .ok_or_else(not_found)?;
    let manifest: Manifest = serde_json::from_slice(&body).map_err(|err| {
        AppError::from(BackupError::Corrupt(format!(
            "the manifest of backup {id} is unreadable: {err}"
        )))
    })?;
    if manifest.format != FORMAT || manifest.id != id {
        return Err(AppError::from(BackupError::Corrupt(format!(
            "the manifest of backup {id} is not a {FORMAT} manifest for that id"
        ))));
    }
    if manifest.format_version > FORMAT_VERSION {
        return Err(AppError::from(BackupError::UnsupportedFormat(format!(
            "backup {id} has format version {}; this version reads up to {FORMAT_VERSION}, \
                 so restore it with a newer hiring-analytics",
            manifest.format_version
        ))));
    }
    Ok(manifest)
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
