//! Backup and restore (admin only): the same service code as the CLI.

use std::sync::Arc;

use async_graphql::{Context, ID, Object, Result, SimpleObject};

use super::{db, scalars::DateTime};
use crate::{
    AppState,
    auth::AdminAccess,
    error::AppError,
    metrics::Outcome,
    rules::Table,
    service::backup::{self, Manifest, Progress},
};

/// One table of a backup set.
#[derive(Debug, Clone, SimpleObject)]
pub struct BackupTable {
    /// The table.
    pub table: Table,
    /// The Avro object's name in the set, e.g. `hired_employees.avro`.
    pub object: String,
    /// Rows in the object.
    pub rows: u64,
    /// The object's size in bytes.
    pub bytes: u64,
    /// The object's SHA-256, in hex.
    pub sha256: String,
    /// SHA-256 of the Avro schema's Parsing Canonical Form, in hex.
    pub schema_fingerprint: String,
}

/// A complete backup set: its manifest.
#[derive(Debug, Clone, SimpleObject)]
pub struct BackupSet {
    /// The set's id, which sorts by time, e.g. `20261127T081500Z-3f9a`.
    pub id: ID,
    /// When the snapshot was taken.
    pub created_at: DateTime,
    /// The manifest format version.
    pub format_version: u32,
    /// The database it came from: `postgres` or `sqlite`.
    pub backend: String,
    /// The newest database migration applied when it was taken.
    pub migration: String,
    /// The Avro block codec.
    pub codec: String,
    /// Where the set is stored.
    pub location: String,
    /// Rows over every table.
    pub total_rows: u64,
    /// Bytes over every object.
    pub total_bytes: u64,
    /// Its tables, in foreign-key order.
    pub tables: Vec<BackupTable>,
}

impl BackupSet {
    fn new(manifest: Manifest, ctx: &Context<'_>) -> Self {
        let storage = &ctx.data_unchecked::<AppState>().backups.storage;
        Self {
            location: storage.object_location(&manifest.id, ""),
            id: ID(manifest.id),
            created_at: DateTime(manifest.created_at),
            format_version: manifest.format_version,
            backend: manifest.backend,
            migration: manifest.migration,
            codec: manifest.codec,
            total_rows: manifest.tables.iter().map(|t| t.rows).sum(),
            total_bytes: manifest.tables.iter().map(|t| t.bytes).sum(),
            tables: manifest
                .tables
                .into_iter()
                .map(|t| BackupTable {
                    table: t.table,
                    object: t.object,
                    rows: t.rows,
                    bytes: t.bytes,
                    sha256: t.sha256,
                    schema_fingerprint: t.schema_fingerprint,
                })
                .collect(),
        }
    }
}

/// The result of a successful verification (a failed one is an error with a code).
#[derive(Debug, Clone, SimpleObject)]
pub struct BackupVerification {
    /// The set that was checked.
    pub backup: BackupSet,
    /// Rows read and checked over every table.
    pub rows_checked: u64,
}

/// What a restore did to one table.
#[derive(Debug, Clone, SimpleObject)]
pub struct RestoredTable {
    /// The table.
    pub table: Table,
    /// Rows it held before.
    pub rows_before: u64,
    /// Rows restored from the backup (what it holds now, unless this was a dry run).
    pub rows_restored: u64,
}

/// What a restore did.
#[derive(Debug, Clone, SimpleObject)]
pub struct RestoreReport {
    /// The set restored from.
    pub backup_id: ID,
    /// True when everything was checked and loaded, then rolled back.
    pub dry_run: bool,
    /// Each table replaced, in foreign-key order.
    pub tables: Vec<RestoredTable>,
}

/// Runs `work` in its own task, so it is not cut off when the request is
/// dropped, and counts and times it in the metrics as `kind`.
async fn run_to_completion<T: Send + 'static>(
    ctx: &Context<'_>,
    kind: &'static str,
    work: impl Future<Output = Result<T, AppError>> + Send + 'static,
) -> Result<T, AppError> {
    let started = std::time::Instant::now();
    let result = tokio::spawn(work)
        .await
        .map_err(|err| AppError::Internal(anyhow::anyhow!("the backup task failed: {err}")))
        .and_then(|result| result);
    ctx.data_unchecked::<AppState>().metrics.operation(
        kind,
        Outcome::of(&result),
        started.elapsed(),
    );
    result
}

fn backups<'a>(ctx: &'a Context<'_>) -> &'a backup::Backups {
    &ctx.data_unchecked::<AppState>().backups
}

/// Backup queries; each needs the admin token.
#[derive(Default)]
pub struct BackupQuery;

#[Object]
impl BackupQuery {
    /// The complete backup sets, newest first (sets without a manifest are never listed).
    #[graphql(guard = "AdminAccess")]
    async fn backups(&self, ctx: &Context<'_>) -> Result<Vec<BackupSet>> {
        let manifests = backup::list(&backups(ctx).storage).await?;
        Ok(manifests
            .into_iter()
            .map(|m| BackupSet::new(m, ctx))
            .collect())
    }
}

/// Backup and restore mutations; each needs the admin token.
#[derive(Default)]
pub struct BackupMutation;

#[Object]
impl BackupMutation {
    /// Backs up tables (every table when `tables` is left out) from one consistent
    /// snapshot into a new set. Fails with `BUSY` while another backup or restore runs.
    #[graphql(guard = "AdminAccess")]
    async fn backup(&self, ctx: &Context<'_>, tables: Option<Vec<Table>>) -> Result<BackupSet> {
        let (db, backups) = (db(ctx).clone(), backups(ctx).clone());
        // In a task of its own, so it finishes even when the client goes away.
        let manifest = run_to_completion(ctx, "backup", async move {
            backup::backup(&db, &backups, tables, Arc::new(Progress::default())).await
        })
        .await?;
        Ok(BackupSet::new(manifest, ctx))
    }

    /// Re-reads every object of a set and checks its size, SHA-256, schema and every row.
    /// Fails with `CHECKSUM_MISMATCH`, `SCHEMA_MISMATCH`, `ROW_COUNT_MISMATCH`,
    /// `CORRUPT_BACKUP` or `INVALID_BACKUP_DATA` when it is not intact.
    #[graphql(guard = "AdminAccess")]
    async fn verify_backup(&self, ctx: &Context<'_>, id: ID) -> Result<BackupVerification> {
        let storage = backups(ctx).storage.clone();
        let verification = run_to_completion(ctx, "verify", async move {
            backup::verify(&storage, &id, Arc::new(Progress::default())).await
        })
        .await?;
        Ok(BackupVerification {
            rows_checked: verification.rows_checked,
            backup: BackupSet::new(verification.manifest, ctx),
        })
    }

    /// Replaces tables (every table of the set when `tables` is left out) with the set's
    /// contents, in one transaction, after checking the whole set. With `dryRun` everything
    /// is done except the commit. On any failure the database is left as it was.
    #[graphql(guard = "AdminAccess")]
    async fn restore(
        &self,
        ctx: &Context<'_>,
        backup_id: ID,
        tables: Option<Vec<Table>>,
        #[graphql(default = false)] dry_run: bool,
    ) -> Result<RestoreReport> {
        let (db, backups) = (db(ctx).clone(), backups(ctx).clone());
        // In a task of its own, so its outcome does not depend on the client staying.
        let report = run_to_completion(ctx, "restore", async move {
            backup::restore(
                &db,
                &backups.storage,
                &backup_id,
                tables,
                dry_run,
                Arc::new(Progress::default()),
            )
            .await
        })
        .await?;
        Ok(RestoreReport {
            backup_id: ID(report.backup_id),
            dry_run: report.dry_run,
            tables: report
                .tables
                .into_iter()
                .map(|t| RestoredTable {
                    table: t.table,
                    rows_before: t.rows_before,
                    rows_restored: t.rows_restored,
                })
                .collect(),
        })
    }
}
