//! Backup and restore (admin only): the same service code as the CLI.

use std::sync::Arc;

use async_graphql::{Context, ID, Object, Result, SimpleObject};

use super::{db, jobs, scalars::DateTime};
use crate::{
    AppState,
    auth::{Needs, Role},
    rules::Table,
    service::{
        backup::{self, Manifest, Progress},
        operations::Job,
    },
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
    pub(super) fn new(manifest: Manifest, ctx: &Context<'_>) -> Self {
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

fn backups<'a>(ctx: &'a Context<'_>) -> &'a backup::Backups {
    &ctx.data_unchecked::<AppState>().backups
}

/// Backup queries; each needs the admin token.
#[derive(Default)]
pub struct BackupQuery;

#[Object]
impl BackupQuery {
    /// The complete backup sets, newest first (sets without a manifest are never listed).
    #[graphql(guard = "Needs(Role::Admin)")]
    async fn backups(&self, ctx: &Context<'_>) -> Result<Vec<BackupSet>> {
        let manifests = backup::list(&backups(ctx).storage).await?;
        Ok(manifests
            .into_iter()
            .map(|m| BackupSet::new(m, ctx))
            .collect())
    }
}

impl BackupVerification {
    pub(super) fn new(verification: backup::Verification, ctx: &Context<'_>) -> Self {
        Self {
            rows_checked: verification.rows_checked,
            backup: BackupSet::new(verification.manifest, ctx),
        }
    }
}

impl From<backup::RestoreReport> for RestoreReport {
    fn from(report: backup::RestoreReport) -> Self {
        Self {
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
        }
    }
}

/// The job of a backup of `tables`.
pub(super) fn backup_job(ctx: &Context<'_>, tables: Option<Vec<Table>>) -> Job {
    let backups = backups(ctx).clone();
    Job::backup(
        db(ctx).clone(),
        backups,
        tables,
        Arc::new(Progress::default()),
    )
}

/// The job of a verification of set `id`.
pub(super) fn verify_job(ctx: &Context<'_>, id: ID) -> Job {
    let storage = backups(ctx).storage.clone();
    Job::verify(storage, id.0, Arc::new(Progress::default()))
}

/// The job of a restore from set `backup_id`.
pub(super) fn restore_job(
    ctx: &Context<'_>,
    backup_id: ID,
    tables: Option<Vec<Table>>,
    dry_run: bool,
) -> Job {
    let storage = backups(ctx).storage.clone();
    let what = (backup_id.0, tables, dry_run);
    Job::restore(
        db(ctx).clone(),
        storage,
        what,
        Arc::new(Progress::default()),
    )
}

/// Backup and restore mutations; each needs the admin token. Each is recorded
/// in the operations log, like the `start…` mutations, but answers when done.
#[derive(Default)]
pub struct BackupMutation;

#[Object]
impl BackupMutation {
    /// Backs up tables (every table when `tables` is left out) from one consistent
    /// snapshot into a new set. Fails with `BUSY` while another backup or restore runs.
    #[graphql(guard = "Needs(Role::Admin)")]
    async fn backup(&self, ctx: &Context<'_>, tables: Option<Vec<Table>>) -> Result<BackupSet> {
        let manifest = jobs::run_to_end(ctx, backup_job(ctx, tables))
            .await?
            .into_backup()?;
        Ok(BackupSet::new(manifest, ctx))
    }

    /// Re-reads every object of a set and checks its size, SHA-256, schema and every row.
    /// Fails with `CHECKSUM_MISMATCH`, `SCHEMA_MISMATCH`, `ROW_COUNT_MISMATCH`,
    /// `CORRUPT_BACKUP` or `INVALID_BACKUP_DATA` when it is not intact.
    #[graphql(guard = "Needs(Role::Admin)")]
    async fn verify_backup(&self, ctx: &Context<'_>, id: ID) -> Result<BackupVerification> {
        let output = jobs::run_to_end(ctx, verify_job(ctx, id)).await?;
        Ok(BackupVerification::new(output.into_verification()?, ctx))
    }

    /// Replaces tables (every table of the set when `tables` is left out) with the set's
    /// contents, in one transaction, after checking the whole set. With `dryRun` everything
    /// is done except the commit. On any failure the database is left as it was.
    #[graphql(guard = "Needs(Role::Admin)")]
    async fn restore(
        &self,
        ctx: &Context<'_>,
        backup_id: ID,
        tables: Option<Vec<Table>>,
        #[graphql(default = false)] dry_run: bool,
    ) -> Result<RestoreReport> {
        let job = restore_job(ctx, backup_id, tables, dry_run);
        Ok(jobs::run_to_end(ctx, job).await?.into_restore()?.into())
    }
}
