//! Subscriptions: change events for everyone, operation progress for admins.

use std::time::{Duration, Instant};

use async_graphql::{Context, ID, Result, SimpleObject, Subscription};
use futures_util::{Stream, StreamExt, stream};
use sea_orm::DatabaseConnection;
use tokio::sync::broadcast::{self, error::RecvError};

use super::{
    db,
    operations::{Operation, not_found, operation_id},
    scalars::DateTime,
};
use crate::{
    auth::{Needs, Role},
    rules::Table,
    service::{
        changes::{self, ChangeFeed},
        operations::{self, OperationRecord, state_of},
    },
    state::AppState,
};

/// How often an operation's subscription reads its row.
const POLL_EVERY: Duration = Duration::from_millis(250);

/// The longest an operation's subscription stays silent while it runs.
const AT_LEAST_EVERY: Duration = Duration::from_secs(1);

/// The data changed: refetch what shows the tables named.
#[derive(Debug, Clone, SimpleObject)]
pub struct DataChange {
    /// The same instant as `reportsAsOf`: when hires last changed.
    pub as_of: Option<DateTime>,
    /// The tables changed since the previous event; every table in the first event,
    /// which is the state when the subscription started.
    pub tables: Vec<Table>,
    /// Names the data's state; it changes with every committed change.
    pub version: String,
}

impl From<changes::DataChange> for DataChange {
    fn from(change: changes::DataChange) -> Self {
        Self {
            as_of: change.version.changed_at.map(DateTime),
            version: change.version.tag(),
            tables: change.tables,
        }
    }
}

/// Every subscription.
#[derive(Default)]
pub struct SubscriptionRoot;

#[Subscription]
impl SubscriptionRoot {
    /// The current state first, then one event after each committed change (insert,
    /// import, restore), from this server or any other on the same database; changes
    /// that come faster than `CHANGE_EVENT_INTERVAL_MS` are announced together.
    #[graphql(guard = "Needs(Role::Viewer)")]
    async fn data_changed(&self, ctx: &Context<'_>) -> Result<impl Stream<Item = DataChange>> {
        let feed = ctx.data_unchecked::<AppState>().changes.clone();
        let (current, events) = feed.subscribe().await?;
        let later = stream::unfold((events, feed), next_change);
        Ok(stream::once(async move { current })
            .chain(later)
            .map(DataChange::from))
    }

    /// Admin only. The operation's current state first, then each step of its progress
    /// (at least once a second while it runs), then its final state; then it completes.
    #[graphql(guard = "Needs(Role::Admin)")]
    async fn operation(&self, ctx: &Context<'_>, id: ID) -> Result<impl Stream<Item = Operation>> {
        let id = operation_id(&id)?;
        let db = db(ctx).clone();
        let first = operations::get(&db, id)
            .await?
            .ok_or_else(|| not_found(id))?;
        let following = Following {
            db,
            last: first.clone(),
            sent_at: Instant::now(),
        };
        let later = stream::unfold(Some(following), next_step);
        let first_is_last = state_of(&first).is_final();
        let later = later.take_while(move |_| std::future::ready(!first_is_last));
        Ok(stream::once(async move { first })
            .chain(later)
            .map(Operation))
    }
}

/// The next change event; after falling behind, the current state.
async fn next_change(
    (mut events, feed): (broadcast::Receiver<changes::DataChange>, ChangeFeed),
) -> Option<(
    changes::DataChange,
    (broadcast::Receiver<changes::DataChange>, ChangeFeed),
)> {
    loop {
        match events.recv().await {
            Ok(change) => return Some((change, (events, feed))),
            Err(RecvError::Lagged(_)) => {
                if let Ok(current) = feed.current().await {
                    return Some((current, (events, feed)));
                }
            }
            Err(RecvError::Closed) => return None,
        }
    }
}

/// An operation being followed: its row as last sent.
struct Following {
    db: DatabaseConnection,
    last: OperationRecord,
    sent_at: Instant,
}

/// True when `now` differs from `before` in what a subscriber sees.
fn moved(before: &OperationRecord, now: &OperationRecord) -> bool {
    (
        before.state.as_str(),
        before.progress_done,
        before.progress_total,
    ) != (now.state.as_str(), now.progress_done, now.progress_total)
        || before.phase != now.phase
        || before.cancel_requested != now.cancel_requested
}

/// The operation's next step; `None` after its final state was sent.
async fn next_step(following: Option<Following>) -> Option<(OperationRecord, Option<Following>)> {
    let mut following = following?;
    loop {
        tokio::time::sleep(POLL_EVERY).await;
        let now = match operations::get(&following.db, following.last.id).await {
            Ok(Some(now)) => now,
            Ok(None) => return None,
            Err(err) => {
                err.log();
                continue;
            }
        };
        if moved(&following.last, &now) || following.sent_at.elapsed() >= AT_LEAST_EVERY {
            let ended = state_of(&now).is_final();
            following.last = now.clone();
            following.sent_at = Instant::now();
            return Some((now, (!ended).then_some(following)));
        }
    }
}
