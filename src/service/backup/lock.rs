//! One backup or restore at a time, across every server instance and CLI run.
//!
//! On PostgreSQL this is a session advisory lock held on a connection of its
//! own: when the holder ends in any way (done, cancelled, crashed), the
//! connection closes and the server releases the lock. On SQLite, where every
//! user of the database file is on this machine, it is an OS file lock on a
//! file next to the database, released when the holder's process lets go of
//! it or exits.

use std::{fs::File, path::PathBuf, sync::LazyLock};

use sea_orm::{
    DatabaseConnection, DbBackend,
    sqlx::{Connection, PgConnection},
};

use crate::error::AppError;

/// The advisory lock key: "hiring-analytics backup/restore".
const ADVISORY_KEY: i64 = 0x6869_7269_6e67_6272;

/// For databases with no file (in memory): a lock within this process.
static IN_MEMORY: LazyLock<tokio::sync::Mutex<()>> = LazyLock::new(Default::default);

/// Held while a backup or restore runs.
pub enum OperationLock {
    /// The connection that holds the advisory lock.
    Postgres(PgConnection),
    /// The locked file.
    SqliteFile(#[expect(dead_code, reason = "held, not read: dropping it unlocks")] File),
    /// The in-process lock of an in-memory database.
    InMemory(
        #[expect(dead_code, reason = "held, not read: dropping it unlocks")]
        tokio::sync::MutexGuard<'static, ()>,
    ),
}

fn busy() -> AppError {
    AppError::from(super::error::BackupError::Busy)
}

impl OperationLock {
    /// Takes the lock, or fails at once with `BUSY`.
    pub async fn acquire(db: &DatabaseConnection) -> Result<Self, AppError> {
        match db.get_database_backend() {
            DbBackend::Postgres => {
                let options = db.get_postgres_connection_pool().connect_options();
                let mut connection = PgConnection::connect_with(&options)
                    .await
                    .map_err(crate::db::postgres::sqlx_error)?;
                let locked: bool = sea_orm::sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
                    .bind(ADVISORY_KEY)
                    .fetch_one(&mut connection)
                    .await
                    .map_err(crate::db::postgres::sqlx_error)?;
                if locked {
                    Ok(OperationLock::Postgres(connection))
                } else {
                    let _ = connection.close().await;
                    Err(busy())
                }
            }
            _ => {
                let options = db.get_sqlite_connection_pool().connect_options();
                let database = options.get_filename();
                if database.as_os_str().is_empty()
                    || database.to_string_lossy().contains(":memory:")
                {
                    return IN_MEMORY
                        .try_lock()
                        .map(OperationLock::InMemory)
                        .map_err(|_| busy());
                }
                let mut path = PathBuf::from(database);
                path.as_mut_os_string().push(".operation.lock");
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .truncate(false)
                    .write(true)
                    .open(&path)
                    .map_err(|err| {
                        AppError::Internal(anyhow::anyhow!(
                            "cannot open the lock file {}: {err}",
                            path.display()
                        ))
                    })?;
                match file.try_lock() {
                    Ok(()) => Ok(OperationLock::SqliteFile(file)),
                    Err(std::fs::TryLockError::WouldBlock) => Err(busy()),
                    Err(std::fs::TryLockError::Error(err)) => Err(AppError::Internal(
                        anyhow::anyhow!("cannot lock {}: {err}", path.display()),
                    )),
                }
            }
        }
    }

    /// Lets go of the lock.
    pub async fn release(self) {
        if let OperationLock::Postgres(mut connection) = self {
            let _ = sea_orm::sqlx::query("SELECT pg_advisory_unlock($1)")
                .bind(ADVISORY_KEY)
                .execute(&mut connection)
                .await;
            let _ = connection.close().await;
        }
    }
}
