//! Change events: one after each committed change to the data, to every
//! subscriber of every instance.
//!
//! Whoever commits a change announces it, after the commit (a rolled-back
//! write announces nothing). On PostgreSQL the announcement is a
//! `NOTIFY`, so every instance (and a CLI run) reaches every instance: each
//! instance with subscribers LISTENs. On SQLite, where one process serves
//! the database, it goes straight to this process's subscribers.
//!
//! Announcements are coalesced: at most one event per interval, naming
//! every table changed since the previous one. The event carries the data
//! version read after the changes, from the primary, so the data is visible
//! when the event arrives.

use std::{
    collections::BTreeSet,
    sync::{Arc, OnceLock},
    time::Duration,
};

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use sqlx::postgres::PgListener;
use tokio::{
    sync::{broadcast, mpsc},
    time::Instant,
};

use super::data_version::{self, DataVersion};
use crate::{error::AppError, rules::Table};

/// The PostgreSQL notification channel.
pub const CHANNEL: &str = "hiring_analytics_changes";

/// The default shortest time between two events, in milliseconds.
pub const DEFAULT_INTERVAL_MS: u64 = 250;

/// One event: the data as of now, and what changed since the previous event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataChange {
    /// The data version after the changes.
    pub version: DataVersion,
    /// The tables changed since the previous event.
    pub tables: Vec<Table>,
}

/// The change events of one server; cloning shares them.
#[derive(Debug, Clone)]
pub struct ChangeFeed {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    db: DatabaseConnection,
    /// The read replica readers use, if any: an event waits until it shows the change.
    replica: Option<DatabaseConnection>,
    interval: Duration,
    events: broadcast::Sender<DataChange>,
    /// Set once the feed runs (on the first subscriber).
    announcements: OnceLock<mpsc::UnboundedSender<Vec<Table>>>,
    /// On PostgreSQL, the queue of the task that sends this instance's NOTIFYs.
    outbox: OnceLock<mpsc::UnboundedSender<Vec<Table>>>,
    /// Held while the feed starts.
    starting: tokio::sync::Mutex<()>,
    /// The listener, coalescer and announcer tasks, once started; the
    /// listener holds a pool connection until it is stopped.
    tasks: std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

/// Announces that `tables` changed, after the change was committed. On
/// PostgreSQL every instance hears it; on SQLite only [`ChangeFeed::announce`]
/// reaches subscribers, so this is for processes that serve none (the CLI).
pub async fn notify(db: &impl ConnectionTrait, tables: &[Table]) -> Result<(), AppError> {
    if db.get_database_backend() != DbBackend::Postgres || tables.is_empty() {
        return Ok(());
    }
    let payload = tables
        .iter()
        .map(|t| t.name())
        .collect::<Vec<_>>()
        .join(",");
    db.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT pg_notify($1, $2)",
        [CHANNEL.into(), payload.into()],
    ))
    .await?;
    Ok(())
}

fn parse_tables(payload: &str) -> Vec<Table> {
    let tables: Vec<Table> = Table::ALL
        .into_iter()
        .filter(|t| payload.split(',').any(|name| name == t.name()))
        .collect();
    // An unreadable payload still means something changed.
    if tables.is_empty() {
        Table::ALL.to_vec()
    } else {
        tables
    }
}

impl ChangeFeed {
    /// A feed over `db` that sends at most one event per `interval`. It starts
    /// listening when the first subscriber comes.
    pub fn new(db: DatabaseConnection, interval: Duration) -> Self {
        Self {
            inner: Arc::new(Inner {
                db,
                replica: None,
                interval,
                events: broadcast::channel(64).0,
                announcements: OnceLock::new(),
                outbox: OnceLock::new(),
                starting: tokio::sync::Mutex::new(()),
                tasks: std::sync::Mutex::new(Vec::new()),
            }),
        }
    }

    /// A feed over `db` whose readers read from `replica`: each event waits
    /// until the replica shows the changes it announces (at most
    /// [`REPLICA_WAIT`]), and carries the replica's data version.
    pub fn with_replica(
        db: DatabaseConnection,
        replica: DatabaseConnection,
        interval: Duration,
    ) -> Self {
        let mut feed = Self::new(db, interval);
        if let Some(inner) = Arc::get_mut(&mut feed.inner) {
            inner.replica = Some(replica);
        }
        feed
    }

    /// Announces that `tables` changed; call it after the commit. It does not
    /// wait: on PostgreSQL one task sends the NOTIFYs, merging the
    /// announcements that queue up while one is sent.
    pub fn announce(&self, tables: &[Table]) {
        let queue = match self.inner.db.get_database_backend() {
            DbBackend::Postgres => Some(self.inner.outbox.get_or_init(|| {
                let (sender, outbox) = mpsc::unbounded_channel();
                let task = tokio::spawn(send_notifications(self.inner.db.clone(), outbox));
                self.track(task);
                sender
            })),
            _ => self.inner.announcements.get(),
        };
        if let Some(queue) = queue {
            let _ = queue.send(tables.to_vec());
        }
    }

    /// The current state (every table named, since a new subscriber cannot
    /// know what changed before), and the events from now on.
    pub async fn subscribe(
        &self,
    ) -> Result<(DataChange, broadcast::Receiver<DataChange>), AppError> {
        self.start().await?;
        let events = self.inner.events.subscribe();
        Ok((self.current().await?, events))
    }

    /// The data as of now, as readers see it, with every table named.
    pub async fn current(&self) -> Result<DataChange, AppError> {
        Ok(DataChange {
            version: visible_version(&self.inner.db, self.inner.replica.as_ref()).await?,
            tables: Table::ALL.to_vec(),
        })
    }

    /// Stops listening (giving its connection back to the pool): the server is stopping.
    pub async fn stop(&self) {
        let tasks: Vec<_> = self.tasks().drain(..).collect();
        for task in tasks {
            task.abort();
            let _ = task.await;
        }
    }

    fn tasks(&self) -> std::sync::MutexGuard<'_, Vec<tokio::task::JoinHandle<()>>> {
        self.inner.tasks.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn track(&self, task: tokio::task::JoinHandle<()>) {
        self.tasks().push(task);
    }

    /// Starts the coalescer and, on PostgreSQL, the listener, once.
    async fn start(&self) -> Result<(), AppError> {
        let _starting = self.inner.starting.lock().await;
        if self.inner.announcements.get().is_some() {
            return Ok(());
        }
        let (sender, announcements) = mpsc::unbounded_channel();
        if self.inner.db.get_database_backend() == DbBackend::Postgres {
            let pool = self.inner.db.get_postgres_connection_pool();
            let mut listener = PgListener::connect_with(pool)
                .await
                .map_err(crate::db::postgres::sqlx_error)?;
            listener
                .listen(CHANNEL)
                .await
                .map_err(crate::db::postgres::sqlx_error)?;
            self.track(tokio::spawn(listen(listener, sender.clone())));
        }
        self.track(tokio::spawn(coalesce(
            (self.inner.db.clone(), self.inner.replica.clone()),
            announcements,
            self.inner.events.clone(),
            self.inner.interval,
        )));
        let _ = self.inner.announcements.set(sender);
        Ok(())
    }
}

/// Sends one NOTIFY per batch of announcements: the first at once, the ones
/// that came while it was sent merged into the next.
async fn send_notifications(
    db: DatabaseConnection,
    mut outbox: mpsc::UnboundedReceiver<Vec<Table>>,
) {
    while let Some(first) = outbox.recv().await {
        let mut tables: BTreeSet<Table> = first.into_iter().collect();
        while let Ok(more) = outbox.try_recv() {
            tables.extend(more);
        }
        let tables: Vec<Table> = tables.into_iter().collect();
        if let Err(err) = notify(&db, &tables).await {
            err.log();
            tracing::warn!("announcing a change failed; subscribers see it with the next one");
        }
    }
}

/// Hands every notification to the coalescer. After a lost connection
/// (notifications may have been missed) it reports every table changed.
async fn listen(mut listener: PgListener, announcements: mpsc::UnboundedSender<Vec<Table>>) {
    loop {
        let tables = match listener.try_recv().await {
            Ok(Some(notification)) => parse_tables(notification.payload()),
            Ok(None) => {
                tracing::warn!("the change listener lost its connection; reconnecting");
                Table::ALL.to_vec()
            }
            Err(err) => {
                tracing::warn!(error = %err, "the change listener failed; retrying in a second");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if announcements.send(tables).is_err() {
            return;
        }
    }
}

/// How long an event waits for the read replica to show its changes.
pub const REPLICA_WAIT: Duration = Duration::from_secs(10);

/// True when `replica` shows at least the state `primary` names. A replica
/// replays the primary's commits in order, and along that order `asOf` never
/// goes back and, while it stays the same, the row counts only grow (only a
/// restore removes rows, and it moves `asOf`).
fn shows(replica: &DataVersion, primary: &DataVersion) -> bool {
    replica.changed_at > primary.changed_at
        || (replica.changed_at == primary.changed_at
            && replica.hires >= primary.hires
            && replica.departments >= primary.departments
            && replica.jobs >= primary.jobs)
}

/// The data version readers see: the primary's, or, with a replica, the
/// replica's once it shows the primary's (waiting up to [`REPLICA_WAIT`]).
async fn visible_version(
    db: &DatabaseConnection,
    replica: Option<&DatabaseConnection>,
) -> Result<DataVersion, AppError> {
    let primary = data_version::current(db).await?;
    let Some(replica) = replica else {
        return Ok(primary);
    };
    let deadline = Instant::now() + REPLICA_WAIT;
    loop {
        let seen = data_version::current(replica).await?;
        if shows(&seen, &primary) {
            return Ok(seen);
        }
        if Instant::now() >= deadline {
            tracing::warn!("the read replica lags more than 10 s; announcing the change anyway");
            return Ok(seen);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// How often, on SQLite, the coalescer looks for changes nobody announced
/// (another process, such as a CLI import, wrote to the database file).
const UNANNOUNCED_POLL: Duration = Duration::from_secs(1);

/// Waits for the next poll; never, without one.
async fn next_poll(poll: &mut Option<tokio::time::Interval>) {
    match poll {
        Some(poll) => {
            poll.tick().await;
        }
        None => std::future::pending().await,
    }
}

/// Turns announcements into events, at most one per `interval`. On SQLite it
/// also reads the data version every [`UNANNOUNCED_POLL`], and announces
/// every table when it moved without an announcement.
async fn coalesce(
    (db, replica): (DatabaseConnection, Option<DatabaseConnection>),
    mut announcements: mpsc::UnboundedReceiver<Vec<Table>>,
    events: broadcast::Sender<DataChange>,
    interval: Duration,
) {
    let mut poll = (db.get_database_backend() == DbBackend::Sqlite)
        .then(|| tokio::time::interval(UNANNOUNCED_POLL));
    let mut last_version = visible_version(&db, replica.as_ref()).await.ok();
    let mut last_sent: Option<Instant> = None;
    loop {
        let first = tokio::select! {
            first = announcements.recv() => match first {
                Some(first) => first,
                None => return,
            },
            () = next_poll(&mut poll) => match data_version::current(&db).await {
                Ok(now) if Some(&now) != last_version.as_ref() => {
                    unannounced_tables(&mut announcements).await
                }
                _ => continue,
            },
        };
        let mut tables: BTreeSet<Table> = first.into_iter().collect();
        if let Some(last) = last_sent
            && !gather(&mut announcements, &mut tables, last + interval).await
        {
            return;
        }
        while let Ok(more) = announcements.try_recv() {
            tables.extend(more);
        }
        match visible_version(&db, replica.as_ref()).await {
            Ok(version) => {
                last_version = Some(version.clone());
                let _ = events.send(DataChange {
                    version,
                    tables: tables.into_iter().collect(),
                });
            }
            Err(err) => {
                err.log();
                tracing::warn!("reading the data version for a change event failed");
            }
        }
        last_sent = Some(Instant::now());
    }
}

/// How long a change the poll found waits for its announcement: a writer in
/// this process announces just after its commit, so the poll can see the
/// commit first.
const ANNOUNCEMENT_GRACE: Duration = Duration::from_millis(200);

/// The tables a change found by the poll names: those announced within
/// [`ANNOUNCEMENT_GRACE`] (the change was this process's own), or else every
/// table (another process made it).
async fn unannounced_tables(announcements: &mut mpsc::UnboundedReceiver<Vec<Table>>) -> Vec<Table> {
    match tokio::time::timeout(ANNOUNCEMENT_GRACE, announcements.recv()).await {
        Ok(Some(announced)) => announced,
        _ => Table::ALL.to_vec(),
    }
}

/// Adds the tables announced until `until` to `tables`; false when the
/// announcements ended.
async fn gather(
    announcements: &mut mpsc::UnboundedReceiver<Vec<Table>>,
    tables: &mut BTreeSet<Table>,
    until: Instant,
) -> bool {
    let gathering = tokio::time::sleep_until(until);
    tokio::pin!(gathering);
    loop {
        tokio::select! {
            biased;
            _ = &mut gathering => return true,
            more = announcements.recv() => match more {
                Some(more) => tables.extend(more),
                None => return false,
            },
        }
    }
}
