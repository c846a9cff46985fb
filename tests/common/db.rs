//! Test databases: a fresh database per test, on SQLite and on PostgreSQL.
//!
//! SQLite tests get a temp file. PostgreSQL tests run when `TEST_DATABASE_URL`
//! is set: each gets its own database, copied from a template that was
//! migrated once (`CREATE DATABASE … TEMPLATE`), and dropped afterwards.
//! Without `TEST_DATABASE_URL` they are skipped with a notice, or fail when
//! `CI` is set.

use std::{
    collections::hash_map::DefaultHasher,
    hash::{Hash, Hasher},
    path::Path,
    sync::atomic::{AtomicU64, Ordering},
};

use hiring_analytics::{
    AppState,
    auth::AccessPolicy,
    db::{self, PoolSettings},
};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use tokio::sync::OnceCell;

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A fresh, migrated database that is removed when dropped.
pub struct TestDb {
    pub backend: Backend,
    pub db: DatabaseConnection,
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    pg: Option<PgDatabase>,
}

struct PgDatabase {
    admin_url: String,
    name: String,
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        // Drop runs outside any async context we can rely on, so use a thread with its own runtime.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async {
                if let Ok(admin) = admin_connection(&admin_url).await {
                    let _ = admin
                        .execute_unprepared(&format!(
                            "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                        ))
                        .await;
                }
            });
        })
        .join();
    }
}

const TEMPLATE_LOCK: i64 = 7_301_245_119;
static TEMPLATE: OnceCell<String> = OnceCell::const_new();
static COUNTER: AtomicU64 = AtomicU64::new(0);

async fn admin_connection(url: &str) -> anyhow::Result<DatabaseConnection> {
    db::connect(
        url,
        PoolSettings {
            max_connections: 1,
            ..PoolSettings::default()
        },
    )
    .await
}

fn with_database(admin_url: &str, name: &str) -> String {
    let base = admin_url.split('?').next().unwrap_or(admin_url);
    let (server, _) = base
        .rsplit_once('/')
        .expect("TEST_DATABASE_URL names a database");
    format!("{server}/{name}")
}

/// A fingerprint of the migrations' source, so an edited migration gets a new template.
fn migrations_fingerprint() -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("migration/src");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("migration/src")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    files.sort();
    let mut hasher = DefaultHasher::new();
    for file in files {
        std::fs::read(&file)
            .expect("read migration")
            .hash(&mut hasher);
    }
    format!("{:016x}", hasher.finish())
}

fn unix_seconds() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn pid_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Creates the migrated template once per server and migration set.
async fn template(admin_url: &str) -> String {
    TEMPLATE
        .get_or_init(|| async {
            let name = format!("ha_tpl_{}", migrations_fingerprint());
            let admin = admin_connection(admin_url)
                .await
                .expect("connect to TEST_DATABASE_URL");
            admin
                .execute_unprepared(&format!("SELECT pg_advisory_lock({TEMPLATE_LOCK})"))
                .await
                .expect("lock");
            let exists = admin
                .query_one_raw(Statement::from_sql_and_values(
                    DbBackend::Postgres,
                    "SELECT 1 FROM pg_database WHERE datname = $1",
                    [name.clone().into()],
                ))
                .await
                .expect("look up template")
                .is_some();
            if !exists {
                let building = format!("{name}_build_{}", std::process::id());
                admin
                    .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{building}\""))
                    .await
                    .expect("drop stale build");
                // An ICU en-US default collation, where "General" sorts before
                // "GIS": byte-order tests then fail unless the schema asks for it.
                let icu = format!(
                    "CREATE DATABASE \"{building}\" TEMPLATE template0 ENCODING 'UTF8' \
                     LOCALE 'C.UTF-8' LOCALE_PROVIDER icu ICU_LOCALE 'en-US'"
                );
                if let Err(err) = admin.execute_unprepared(&icu).await {
                    eprintln!("notice: no ICU collation on this server ({err}); using its default");
                    admin
                        .execute_unprepared(&format!("CREATE DATABASE \"{building}\""))
                        .await
                        .expect("create template");
                }
                let conn = admin_connection(&with_database(admin_url, &building))
                    .await
                    .expect("connect to template");
                db::migrate(&conn).await.expect("migrate template");
                conn.close().await.expect("close template");
                // Stamped with its creation time, so that runs of other migration
                // sets leave it alone while this one may still use it.
                admin
                    .execute_unprepared(&format!(
                        "COMMENT ON DATABASE \"{building}\" IS '{}'",
                        unix_seconds()
                    ))
                    .await
                    .expect("stamp template");
                admin
                    .execute_unprepared(&format!(
                        "ALTER DATABASE \"{building}\" RENAME TO \"{name}\""
                    ))
                    .await
                    .expect("publish template");
            }
            // Templates of other migration sets, made over an hour ago, are no
            // longer used (a run in another checkout may still use a newer one).
            let stale = admin
                .query_all_raw(Statement::from_sql_and_values(
                    DbBackend::Postgres,
                    "SELECT d.datname FROM pg_database d \
                     LEFT JOIN pg_shdescription s ON s.objoid = d.oid \
                     WHERE d.datname LIKE 'ha_tpl_%' AND d.datname <> $1 \
                     AND (s.description IS NULL OR s.description !~ '^[0-9]+$' \
                          OR s.description::bigint < $2)",
                    [name.clone().into(), (unix_seconds() - 3600).into()],
                ))
                .await
                .unwrap_or_default();
            for row in stale {
                if let Ok(datname) = row.try_get::<String>("", "datname") {
                    let _ = admin
                        .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{datname}\""))
                        .await;
                }
            }
            // Remove test databases left behind by killed test processes.
            let leftovers = admin
                .query_all_raw(Statement::from_string(
                    DbBackend::Postgres,
                    "SELECT datname FROM pg_database WHERE datname LIKE 'ha_test_%'",
                ))
                .await
                .unwrap_or_default();
            for row in leftovers {
                let Ok(datname) = row.try_get::<String>("", "datname") else {
                    continue;
                };
                let pid = datname
                    .split('_')
                    .nth(2)
                    .and_then(|p| p.parse::<u32>().ok());
                if pid.is_some_and(|pid| !pid_alive(pid)) {
                    let _ = admin
                        .execute_unprepared(&format!(
                            "DROP DATABASE IF EXISTS \"{datname}\" WITH (FORCE)"
                        ))
                        .await;
                }
            }
            admin
                .execute_unprepared(&format!("SELECT pg_advisory_unlock({TEMPLATE_LOCK})"))
                .await
                .expect("unlock");
            admin.close().await.expect("close admin");
            name
        })
        .await
        .clone()
}

/// `TEST_DATABASE_URL`, or `None` (with a notice) when unset outside CI.
fn postgres_admin_url() -> Option<String> {
    match std::env::var("TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var_os("CI").is_some() => {
            panic!("TEST_DATABASE_URL is not set, and CI requires the PostgreSQL tests")
        }
        _ => {
            eprintln!("notice: TEST_DATABASE_URL is not set; skipping the PostgreSQL variant");
            None
        }
    }
}

/// How a test database starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// With every migration applied.
    Migrated,
    /// With no tables at all, for testing migrations.
    Empty,
}

fn unique_name() -> String {
    format!(
        "ha_test_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

impl TestDb {
    /// A fresh, migrated database on `backend`, or `None` when PostgreSQL is not configured (outside CI).
    pub async fn new(backend: Backend) -> Option<TestDb> {
        Self::open(backend, Start::Migrated).await
    }

    /// A fresh database on `backend` that starts as `start` says.
    pub async fn open(backend: Backend, start: Start) -> Option<TestDb> {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display());
                let db = db::connect(&url, PoolSettings::default())
                    .await
                    .expect("open sqlite");
                if start == Start::Migrated {
                    db::migrate(&db).await.expect("migrate sqlite");
                }
                Some(TestDb {
                    backend,
                    db,
                    url,
                    _dir: Some(dir),
                    pg: None,
                })
            }
            Backend::Postgres => {
                let admin_url = postgres_admin_url()?;
                let name = unique_name();
                let create = match start {
                    Start::Migrated => {
                        let template = template(&admin_url).await;
                        format!("CREATE DATABASE \"{name}\" TEMPLATE \"{template}\"")
                    }
                    Start::Empty => format!("CREATE DATABASE \"{name}\""),
                };
                let admin = admin_connection(&admin_url).await.expect("connect admin");
                let mut attempt = 0;
                // Copies from one template can collide briefly; try again.
                while let Err(err) = admin.execute_unprepared(&create).await {
                    attempt += 1;
                    assert!(attempt < 20, "create test database: {err}");
                    tokio::time::sleep(std::time::Duration::from_millis(50 * attempt)).await;
                }
                admin.close().await.expect("close admin");
                let url = with_database(&admin_url, &name);
                let db = db::connect(&url, PoolSettings::default())
                    .await
                    .expect("connect test db");
                Some(TestDb {
                    backend,
                    db,
                    url,
                    _dir: None,
                    pg: Some(PgDatabase { admin_url, name }),
                })
            }
        }
    }

    /// App state over this database with the given policy.
    pub fn state(&self, policy: AccessPolicy) -> AppState {
        AppState::new(self.db.clone(), policy)
    }

    /// App state as a local developer runs it: no tokens, loopback.
    pub fn local_state(&self) -> AppState {
        self.state(AccessPolicy::new(None, None, true))
    }
}

/// Runs `test` against a fresh database on `backend` that starts as `start` says.
pub async fn run<F, Fut>(backend: Backend, start: Start, test: F)
where
    F: FnOnce(TestDb) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    if let Some(db) = TestDb::open(backend, start).await {
        test(db).await;
    }
}

/// Declares `name::on_sqlite` and `name::on_postgres` for each `async fn name(db: TestDb)`,
/// on migrated databases (or, after `empty:`, on databases with no tables).
#[macro_export]
macro_rules! db_tests {
    (empty: $($name:ident),* $(,)?) => {
        $crate::db_tests!(@start Empty; $($name),*);
    };
    (@start $start:ident; $($name:ident),*) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn on_sqlite() {
                    use $crate::common::db::{Backend, Start, run};
                    run(Backend::Sqlite, Start::$start, super::$name).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn on_postgres() {
                    use $crate::common::db::{Backend, Start, run};
                    run(Backend::Postgres, Start::$start, super::$name).await;
                }
            }
        )*
    };
    ($($name:ident),* $(,)?) => {
        $crate::db_tests!(@start Migrated; $($name),*);
    };
}
