//! Opening the database, applying migrations, and starting write transactions.

pub mod postgres;

use std::time::Duration;

use anyhow::Context;
use migration::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectOptions, Database, DatabaseConnection, DatabaseTransaction, DbErr,
    SqliteTransactionMode, TransactionOptions, TransactionTrait,
};

/// Connection settings besides the URL.
#[derive(Debug, Clone, Copy)]
pub struct PoolSettings {
    /// Most connections the pool opens.
    pub max_connections: u32,
    /// How long to wait for a connection before giving up.
    pub acquire_timeout: Duration,
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(5),
        }
    }
}

/// The URL with any password replaced, safe to log or show.
pub fn redact_url(url: &str) -> String {
    let (url, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(redact_query(query))),
        None => (url, None),
    };
    let base = redact_userinfo(url);
    match query {
        Some(query) => format!("{base}?{query}"),
        None => base,
    }
}

fn redact_query(query: &str) -> String {
    query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
            _ => pair.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

fn redact_userinfo(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => match rest.rsplit_once('@') {
            Some((credentials, host)) => {
                let user = credentials.split(':').next().unwrap_or_default();
                if credentials.contains(':') {
                    format!("{scheme}://{user}:***@{host}")
                } else {
                    format!("{scheme}://{user}@{host}")
                }
            }
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

/// The SQLSTATE code of a database error (such as `40001`), if the server gave one.
pub fn sql_state(err: &DbErr) -> Option<String> {
    let sqlx_error = match err {
        DbErr::Exec(sea_orm::RuntimeErr::SqlxError(e))
        | DbErr::Query(sea_orm::RuntimeErr::SqlxError(e)) => e.as_ref(),
        _ => return None,
    };
    match sqlx_error {
        sea_orm::sqlx::Error::Database(db) => db.code().map(|code| code.into_owned()),
        _ => None,
    }
}

/// True for an in-memory SQLite URL, where each pool would be a database of its own.
pub fn is_in_memory(url: &str) -> bool {
    url.starts_with("sqlite:") && (url.contains(":memory:") || url.contains("mode=memory"))
}

/// Opens a pool on `url` (`sqlite://…` or `postgres://…`).
///
/// SQLite gets WAL mode and a busy timeout so that readers and one writer can
/// work at once; PostgreSQL sessions run in UTC so that date parts computed in
/// SQL never depend on the server's time zone.
pub async fn connect(url: &str, settings: PoolSettings) -> anyhow::Result<DatabaseConnection> {
    let postgres_port = url
        .parse::<sea_orm::sqlx::postgres::PgConnectOptions>()
        .map(|opts| opts.get_port())
        .unwrap_or(5432);
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .max_connections(settings.max_connections)
        .acquire_timeout(settings.acquire_timeout)
        .connect_timeout(settings.acquire_timeout)
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(|opts| {
            opts.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(30))
                .foreign_keys(true)
        })
        .map_sqlx_postgres_opts(|opts| opts.options([("TimeZone", "UTC")]))
        .map_sqlx_postgres_pool_opts(move |pool| {
            pool.after_connect(move |_conn, _meta| {
                Box::pin(async move {
                    disable_nagle_on_sockets_to(postgres_port);
                    Ok(())
                })
            })
        });
    Database::connect(options)
        .await
        .with_context(|| format!("cannot connect to the database at {}", redact_url(url)))
}

/// Applies every pending migration.
pub async fn migrate(db: &DatabaseConnection) -> anyhow::Result<()> {
    Migrator::up(db, None)
        .await
        .context("applying database migrations failed")
}

/// A pool on an existing, migrated database, or `None` (a SQLite file is
/// never created here).
pub async fn connect_existing(url: &str, settings: PoolSettings) -> Option<DatabaseConnection> {
    let url = url.replace("mode=rwc", "mode=rw");
    let db = connect(&url, settings).await.ok()?;
    let migrated = Migrator::get_pending_migrations(&db)
        .await
        .is_ok_and(|pending| pending.is_empty());
    migrated.then_some(db)
}

/// Starts a transaction that will write.
///
/// On SQLite it takes the write lock up front (`BEGIN IMMEDIATE`): a deferred
/// transaction that reads first and writes later fails with "database is
/// locked" when another writer got in between, instead of waiting its turn.
pub async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..Default::default()
    })
    .await
}

/// Turns Nagle's algorithm off on this process's TCP sockets to PostgreSQL at `port`.
///
/// sqlx 0.9.0 stopped setting `TCP_NODELAY` (sqlx issue #4335, fixed upstream
/// but not yet released). Without it, any message larger than one TCP segment
/// (a 1000-row insert, for one) waits for the server's delayed ACK: 40 ms per
/// statement. sqlx gives no access to its socket, so after each new
/// connection this sets the option on every TCP socket whose peer port is the
/// database's. It is idempotent; remove it once sqlx sets it again.
#[cfg(target_os = "linux")]
fn disable_nagle_on_sockets_to(port: u16) {
    use std::os::fd::{BorrowedFd, RawFd};

    let Ok(entries) = std::fs::read_dir("/proc/self/fd") else {
        return;
    };
    for entry in entries.flatten() {
        let Some(fd) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<RawFd>().ok())
        else {
            continue;
        };
        let is_socket = std::fs::read_link(entry.path())
            .is_ok_and(|target| target.to_string_lossy().starts_with("socket:"));
        if !is_socket {
            continue;
        }
        // SAFETY: the descriptor was open a moment ago and is only borrowed for two
        // socket calls; if it was closed meanwhile they fail and nothing happens.
        let fd = unsafe { BorrowedFd::borrow_raw(fd) };
        let socket = socket2::SockRef::from(&fd);
        let is_postgres_peer = socket
            .peer_addr()
            .ok()
            .and_then(|peer| peer.as_socket())
            .is_some_and(|peer| peer.port() == port);
        if is_postgres_peer && !socket.tcp_nodelay().unwrap_or(true) {
            let _ = socket.set_tcp_nodelay(true);
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn disable_nagle_on_sockets_to(_port: u16) {}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn passwords_are_hidden_in_the_userinfo_and_the_query() {
        assert_eq!(
            redact_url("postgres://app:s3cret@db:5432/hiring"),
            "postgres://app:***@db:5432/hiring"
        );
        assert_eq!(
            redact_url("postgres://db/hiring?user=app&password=s3cret&sslmode=require"),
            "postgres://db/hiring?user=app&password=***&sslmode=require"
        );
        assert_eq!(
            redact_url("sqlite://hiring.db?mode=rwc"),
            "sqlite://hiring.db?mode=rwc"
        );
    }
}
