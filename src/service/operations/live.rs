//! Operations running in this process: their latest progress and their
//! cancel switch, read without touching the database.
//!
//! On SQLite an import or a restore holds the database's one write lock
//! until it commits, so neither its progress nor a cancel request can go
//! through the `operations` row meanwhile. Queries, subscriptions and
//! `cancelOperation` therefore look here first. Liveness on SQLite is an OS
//! file lock per running operation (`<database>.operation-<id>.lock`), held
//! by the process that runs it and released by the OS when it dies; on
//! PostgreSQL it is the row's heartbeat.

use std::{
    collections::HashMap,
    fs::File,
    path::PathBuf,
    sync::{
        Arc, LazyLock, Mutex,
        atomic::{AtomicBool, Ordering},
    },
};

use sea_orm::{DatabaseConnection, DbBackend};

use super::store::Step;

/// One running operation, as its runner last saw it.
#[derive(Debug)]
pub(super) struct Live {
    step: Mutex<Step>,
    cancel: AtomicBool,
}

impl Live {
    pub(super) fn step(&self) -> Step {
        self.step.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Publishes `step`; `done` never goes back (a table switch is read in
    /// two steps, and one read may fall between them).
    pub(super) fn set_step(&self, mut step: Step) {
        let mut current = self.step.lock().unwrap_or_else(|e| e.into_inner());
        step.done = step.done.max(current.done);
        *current = step;
    }

    pub(super) fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }

    pub(super) fn is_cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }
}

type Registry = HashMap<(String, i64), Arc<Live>>;

static RUNNING: LazyLock<Mutex<Registry>> = LazyLock::new(Default::default);

fn registry() -> std::sync::MutexGuard<'static, Registry> {
    RUNNING.lock().unwrap_or_else(|e| e.into_inner())
}

/// Names the database, so that operations of two databases in one process
/// (tests) are told apart.
fn database_key(db: &DatabaseConnection) -> String {
    match db.get_database_backend() {
        DbBackend::Postgres => {
            let options = db.get_postgres_connection_pool().connect_options();
            format!(
                "postgres://{}:{}/{}",
                options.get_host(),
                options.get_port(),
                options.get_database().unwrap_or_default()
            )
        }
        _ => {
            let options = db.get_sqlite_connection_pool().connect_options();
            format!("sqlite:{}", options.get_filename().display())
        }
    }
}

/// The lock file that shows operation `id` of a SQLite database file is
/// running; `None` for PostgreSQL and in-memory databases.
fn lock_path(db: &DatabaseConnection, id: i64) -> Option<PathBuf> {
    if db.get_database_backend() == DbBackend::Postgres {
        return None;
    }
    let options = db.get_sqlite_connection_pool().connect_options();
    let file = options.get_filename();
    if file.as_os_str().is_empty() || file.to_string_lossy().contains(":memory:") {
        return None;
    }
    let mut path = PathBuf::from(file);
    path.as_mut_os_string()
        .push(format!(".operation-{id}.lock"));
    Some(path)
}

/// Operation `id` registered as running here until dropped.
pub(super) struct Registration {
    key: (String, i64),
    pub(super) live: Arc<Live>,
    lock: Option<(PathBuf, File)>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        registry().remove(&self.key);
        if let Some((path, file)) = self.lock.take() {
            drop(file);
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Registers operation `id` of `db` as running in this process.
pub(super) fn register(db: &DatabaseConnection, id: i64, step: Step) -> Registration {
    let live = Arc::new(Live {
        step: Mutex::new(step),
        cancel: AtomicBool::new(false),
    });
    let key = (database_key(db), id);
    registry().insert(key.clone(), Arc::clone(&live));
    let lock = lock_path(db, id).and_then(|path| {
        let file = File::create(&path).ok()?;
        file.try_lock().ok()?;
        Some((path, file))
    });
    Registration { key, live, lock }
}

/// Asks every operation of `db` running in this process to stop; returns how many run.
pub(super) fn cancel_all(db: &DatabaseConnection) -> usize {
    let key = database_key(db);
    let running: Vec<Arc<Live>> = registry()
        .iter()
        .filter(|((database, _), _)| *database == key)
        .map(|(_, live)| Arc::clone(live))
        .collect();
    for live in &running {
        live.cancel();
    }
    running.len()
}

/// How many operations of `db` run in this process.
pub(super) fn running_count(db: &DatabaseConnection) -> usize {
    let key = database_key(db);
    registry()
        .keys()
        .filter(|(database, _)| *database == key)
        .count()
}

/// Operation `id` of `db`, if it runs in this process.
pub(super) fn running_here(db: &DatabaseConnection, id: i64) -> Option<Arc<Live>> {
    registry().get(&(database_key(db), id)).cloned()
}

/// On SQLite, whether the process that ran operation `id` is gone: its lock
/// file can be locked (or is missing). `None` on PostgreSQL, where the
/// heartbeat tells.
pub(super) fn owner_gone(db: &DatabaseConnection, id: i64) -> Option<bool> {
    if db.get_database_backend() == DbBackend::Postgres {
        return None;
    }
    if running_here(db, id).is_some() {
        return Some(false);
    }
    let Some(path) = lock_path(db, id) else {
        // In memory: only this process could run it.
        return Some(true);
    };
    let Ok(file) = std::fs::OpenOptions::new().write(true).open(&path) else {
        return Some(true);
    };
    match file.try_lock() {
        Ok(()) => {
            let _ = std::fs::remove_file(&path);
            Some(true)
        }
        Err(_) => Some(false),
    }
}
