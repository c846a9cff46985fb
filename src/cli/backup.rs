//! `backup`, `backups`, `verify` and `restore`: the same service code as the GraphQL mutations.

use std::{sync::Arc, time::Duration};

use super::{
    Failure,
    progress::{Watched, shows_bar, watch},
    recorded,
};
use crate::{
    config::{BackupArgs, BackupsArgs, ProgressMode, RestoreArgs, StorageArgs, VerifyArgs},
    db::{self, PoolSettings},
    error::AppError,
    service::{
        backup::{self, Backups, Manifest, Progress, Storage},
        operations::{Job, Output},
    },
};

/// The backup store the flags describe.
pub async fn backups_from(args: &StorageArgs) -> Result<Backups, Failure> {
    let storage = Storage::from_url(&args.backup_url, &args.s3_settings())
        .await
        .map_err(|err| Failure::usage(format!("{err:#}")))?;
    Ok(Backups {
        storage,
        keep: args.backup_keep.map(|n| n as usize),
    })
}

/// A service error as a process failure, with its code in the message.
fn failure(err: AppError) -> Failure {
    err.log();
    Failure {
        exit_code: err.exit_code(),
        error: anyhow::anyhow!("{}: {}", err.code(), err.detail()),
    }
}

/// Runs `work` while showing its progress: a bar with rows/s, or a log line a second.
async fn with_progress<T>(
    mode: ProgressMode,
    progress: Arc<Progress>,
    work: impl Future<Output = Result<T, AppError>>,
) -> Result<T, Failure> {
    let watcher = tokio::spawn(watch(Arc::new(Operation(progress)), shows_bar(mode)));
    let outcome = tokio::select! {
        outcome = work => outcome.map_err(failure),
        _ = tokio::signal::ctrl_c() => Err(Failure {
            exit_code: super::import::EXIT_INTERRUPTED,
            error: anyhow::anyhow!(
                "interrupted: a restore is rolled back, a backup without its manifest is never listed"
            ),
        }),
    };
    watcher.abort();
    let _ = watcher.await;
    outcome
}

/// A backup, verification or restore, as the progress display sees it.
struct Operation(Arc<Progress>);

impl Watched for Operation {
    fn label(&self) -> &'static str {
        self.0.table().map(|t| t.name()).unwrap_or("-")
    }

    fn rows(&self) -> u64 {
        self.0.rows()
    }

    fn phase(&self) -> &'static str {
        self.0.phase()
    }

    fn log(&self, elapsed: Duration) {
        tracing::info!(
            table = self.0.table().map(|t| t.name()),
            rows = self.rows(),
            phase = self.phase(),
            seconds = elapsed.as_secs(),
            "progress"
        );
    }
}

fn print_manifests(manifests: &[Manifest], storage: &Storage) {
    if manifests.is_empty() {
        println!("no complete backup sets in {}", storage.describe());
        return;
    }
    println!(
        "{:<22} {:<25} {:<9} {:>12} {:>12}  tables",
        "id", "created at", "backend", "rows", "bytes"
    );
    for m in manifests {
        println!(
            "{:<22} {:<25} {:<9} {:>12} {:>12}  {}",
            m.id,
            m.created_at
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            m.backend,
            m.tables.iter().map(|t| t.rows).sum::<u64>(),
            m.tables.iter().map(|t| t.bytes).sum::<u64>(),
            m.tables
                .iter()
                .map(|t| t.table.name())
                .collect::<Vec<_>>()
                .join(",")
        );
    }
}

fn print_json(value: &impl serde::Serialize) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
}

/// `hiring-analytics backup`.
pub async fn backup(database_url: &str, args: BackupArgs) -> Result<(), Failure> {
    let backups = backups_from(&args.storage).await?;
    let db = db::connect(database_url, PoolSettings::default()).await?;
    db::migrate(&db).await?;
    let progress = Arc::new(Progress::default());
    let job = Job::backup(
        db.clone(),
        backups.clone(),
        args.tables,
        Arc::clone(&progress),
    );
    let manifest = with_progress(args.progress, progress, async {
        recorded::run(&db, job).await?.into_backup()
    })
    .await?;
    if args.json {
        print_json(&manifest);
    } else {
        println!(
            "backup {} written to {}",
            manifest.id,
            backups.storage.describe()
        );
        println!("{:<16} {:>12} {:>12}  sha256", "table", "rows", "bytes");
        for t in &manifest.tables {
            println!(
                "{:<16} {:>12} {:>12}  {}",
                t.table.name(),
                t.rows,
                t.bytes,
                t.sha256
            );
        }
    }
    Ok(())
}

/// `hiring-analytics backups`.
pub async fn list(args: BackupsArgs) -> Result<(), Failure> {
    let backups = backups_from(&args.storage).await?;
    let manifests = backup::list(&backups.storage).await.map_err(failure)?;
    if args.json {
        print_json(&manifests);
    } else {
        print_manifests(&manifests, &backups.storage);
    }
    Ok(())
}

/// Runs `job` recorded in the operations log when the database is reachable
/// and migrated; otherwise unrecorded, since a verification needs only the
/// backup storage.
async fn run_maybe_recorded(database_url: &str, job: Job) -> Result<Output, AppError> {
    let settings = PoolSettings {
        max_connections: 2,
        ..PoolSettings::default()
    };
    match db::connect_existing(database_url, settings).await {
        Some(db) => recorded::run(&db, job).await,
        None => {
            tracing::info!("no migrated database reachable: the verification is not recorded");
            job.run_unrecorded().await
        }
    }
}

/// `hiring-analytics verify ID`.
pub async fn verify(database_url: &str, args: VerifyArgs) -> Result<(), Failure> {
    let backups = backups_from(&args.storage).await?;
    let progress = Arc::new(Progress::default());
    let job = Job::verify(backups.storage.clone(), args.id, Arc::clone(&progress));
    let verification = with_progress(args.progress, progress, async {
        run_maybe_recorded(database_url, job)
            .await?
            .into_verification()
    })
    .await?;
    if args.json {
        print_json(&verification);
    } else {
        println!(
            "backup {} is intact: {} objects, {} rows checked (size, SHA-256, schema, rows)",
            verification.manifest.id,
            verification.manifest.tables.len(),
            verification.rows_checked
        );
    }
    Ok(())
}

/// `hiring-analytics restore ID`.
pub async fn restore(database_url: &str, args: RestoreArgs) -> Result<(), Failure> {
    let backups = backups_from(&args.storage).await?;
    let db = db::connect(database_url, PoolSettings::default()).await?;
    db::migrate(&db).await?;
    let progress = Arc::new(Progress::default());
    let what = (args.id, args.tables, args.dry_run);
    let job = Job::restore(
        db.clone(),
        backups.storage.clone(),
        what,
        Arc::clone(&progress),
    );
    let report = with_progress(args.progress, progress, async {
        recorded::run(&db, job).await?.into_restore()
    })
    .await?;
    if args.json {
        print_json(&report);
    } else {
        println!(
            "{} backup {}",
            if report.dry_run {
                "dry run (rolled back, nothing changed): would restore"
            } else {
                "restored"
            },
            report.backup_id
        );
        println!(
            "{:<16} {:>12} {:>12}",
            "table", "rows before", "from backup"
        );
        for t in &report.tables {
            println!(
                "{:<16} {:>12} {:>12}",
                t.table.name(),
                t.rows_before,
                t.rows_restored
            );
        }
    }
    Ok(())
}
