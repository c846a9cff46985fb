//! Writing a backup set: one Avro object per table from one snapshot, then the manifest.

use std::sync::Arc;

use bytes::Bytes;
use sea_orm::{DatabaseConnection, DbBackend};
use tokio::sync::mpsc;

use super::{
    avro,
    progress::Progress,
    set::{
        FORMAT, FORMAT_VERSION, MANIFEST, Manifest, ManifestTable, is_set_id, list_manifests,
        new_id, storage_error,
    },
    snapshot::{self, Snapshot},
    storage::Storage,
};
use crate::{error::AppError, rules::Table};

pub(super) async fn write_set(
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
        progress.set_total(snapshot.count(tables).await?);
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
            if progress.is_cancelled() {
                // Closing the channel stops the encoder, which stops the read.
                chunks.close();
                break;
            }
            upload.write(chunk).await?;
        }
        Ok::<_, anyhow::Error>(())
    };
    let (read, uploaded) = tokio::join!(snapshot.send(table, feed_sender), uploading);
    let encoded = encoder
        .await
        .map_err(|err| AppError::Internal(anyhow::anyhow!("the Avro encoder failed: {err}")));
    if let Err(cancelled) = progress.check() {
        upload.abort().await;
        return Err(cancelled);
    }
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
pub(super) async fn apply_retention(
    storage: &Storage,
    keep: usize,
    newest: &str,
) -> anyhow::Result<()> {
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
