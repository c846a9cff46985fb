//! The work of each kind of operation, with how its progress is read.

use std::{
    io::Read,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use sea_orm::DatabaseConnection;
use serde_json::json;

use super::{
    model::{Kind, Output},
    store::Step,
};
use crate::{
    error::AppError,
    rules::Table,
    service::{
        backup::{self, Backups, Progress, Storage},
        import::{self, ImportProgress},
    },
};

/// The work itself: it ends with what it produced.
pub(super) type Work = std::pin::Pin<Box<dyn Future<Output = Result<Output, AppError>> + Send>>;

/// One operation's work, not started yet.
pub struct Job {
    pub(super) kind: Kind,
    pub(super) parameters: serde_json::Value,
    pub(super) unit: &'static str,
    pub(super) tracker: Tracker,
    pub(super) work: Work,
}

/// How a running job's progress is read, and how it is stopped.
pub(super) enum Tracker {
    /// A backup, verification or restore: rows, and a cancel flag it checks.
    Backup(Arc<Progress>),
    /// An import: bytes of input read; it is stopped by dropping it, which
    /// rolls its transaction back.
    Import {
        progress: Arc<ImportProgress>,
        bytes: Arc<AtomicU64>,
        total: Option<u64>,
    },
}

impl Tracker {
    pub(super) fn step(&self) -> Step {
        match self {
            Tracker::Backup(progress) => Step {
                done: progress.done(),
                total: progress.total(),
                phase: named(progress.phase()),
            },
            Tracker::Import {
                progress,
                bytes,
                total,
            } => Step {
                done: bytes.load(Ordering::Relaxed),
                total: *total,
                phase: named(progress.phase()),
            },
        }
    }

    /// Asks the work to stop. True when it stops (or ends) by itself; false
    /// when it must be dropped now, which rolls it back.
    pub(super) fn ask_to_stop(&self) -> bool {
        match self {
            Tracker::Backup(progress) => {
                progress.cancel();
                true
            }
            // Dropped unless its commit has begun: then it ends as it will.
            Tracker::Import { progress, .. } => !progress.request_stop(),
        }
    }
}

/// The phase, or `starting` before the work named one.
fn named(phase: &str) -> String {
    if phase.is_empty() { "starting" } else { phase }.to_owned()
}

fn table_names(tables: &Option<Vec<Table>>) -> serde_json::Value {
    match tables {
        Some(tables) => json!(
            tables
                .iter()
                .map(|t| t.name().to_uppercase())
                .collect::<Vec<_>>()
        ),
        None => serde_json::Value::Null,
    }
}

impl Job {
    /// A backup of `tables` (every table when `None`) into a new set.
    pub fn backup(
        db: DatabaseConnection,
        backups: Backups,
        tables: Option<Vec<Table>>,
        progress: Arc<Progress>,
    ) -> Self {
        let parameters = json!({ "tables": table_names(&tables) });
        let tracked = Arc::clone(&progress);
        let work = async move {
            backup::backup(&db, &backups, tables, progress)
                .await
                .map(Output::Backup)
        };
        Self::of_backups(Kind::Backup, parameters, tracked, Box::pin(work))
    }

    /// A verification of the set `id`.
    pub fn verify(storage: Storage, id: String, progress: Arc<Progress>) -> Self {
        let parameters = json!({ "id": id });
        let tracked = Arc::clone(&progress);
        let work = async move {
            backup::verify(&storage, &id, progress)
                .await
                .map(Output::Verification)
        };
        Self::of_backups(Kind::Verify, parameters, tracked, Box::pin(work))
    }

    /// A restore of `tables` (every table of the set when `None`) from set `id`.
    pub fn restore(
        db: DatabaseConnection,
        storage: Storage,
        (id, tables, dry_run): (String, Option<Vec<Table>>, bool),
        progress: Arc<Progress>,
    ) -> Self {
        let parameters =
            json!({ "backupId": id, "tables": table_names(&tables), "dryRun": dry_run });
        let tracked = Arc::clone(&progress);
        let work = async move {
            backup::restore(&db, &storage, &id, tables, dry_run, progress)
                .await
                .map(Output::Restore)
        };
        Self::of_backups(Kind::Restore, parameters, tracked, Box::pin(work))
    }

    fn of_backups(
        kind: Kind,
        parameters: serde_json::Value,
        progress: Arc<Progress>,
        work: Work,
    ) -> Self {
        Self {
            kind,
            parameters,
            unit: "rows",
            tracker: Tracker::Backup(progress),
            work,
        }
    }

    /// An import of one CSV stream named `file` (`size` bytes, when known) into `table`.
    pub fn import(
        db: DatabaseConnection,
        (table, file, size): (Table, String, Option<u64>),
        input: Box<dyn Read + Send>,
        progress: Arc<ImportProgress>,
    ) -> Self {
        let parameters =
            json!({ "table": table.name().to_uppercase(), "file": file, "bytes": size });
        let bytes = Arc::new(AtomicU64::new(0));
        let input = Box::new(Counted {
            inner: input,
            bytes: Arc::clone(&bytes),
        });
        let tracked = Arc::clone(&progress);
        let work = async move {
            import::import_csv(&db, table, &format!("csv:{file}"), input, progress)
                .await
                .map(Output::Import)
        };
        Self {
            kind: Kind::Import,
            parameters,
            unit: "bytes",
            tracker: Tracker::Import {
                progress: tracked,
                bytes,
                total: size,
            },
            work: Box::pin(work),
        }
    }

    /// What it does.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// Runs the work without recording it (where no database is at hand).
    pub async fn run_unrecorded(self) -> Result<Output, AppError> {
        self.work.await
    }
}

/// A reader that counts the bytes read through it.
struct Counted {
    inner: Box<dyn Read + Send>,
    bytes: Arc<AtomicU64>,
}

impl Read for Counted {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let read = self.inner.read(buf)?;
        self.bytes.fetch_add(read as u64, Ordering::Relaxed);
        Ok(read)
    }
}
