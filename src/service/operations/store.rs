//! The `operations` table: each statement that records a step of an operation.

use chrono::TimeDelta;
use entity::operation::{ActiveModel, Column, Entity};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
    sea_query::{Expr, ExprTrait},
};

use std::time::Duration;

use super::model::{Kind, OperationRecord, State};
use crate::{error::AppError, service::rollup::now};

/// Which operations a listing shows.
#[derive(Debug, Clone, Copy, Default)]
pub struct Filter {
    /// Only this kind.
    pub kind: Option<Kind>,
    /// Only this state.
    pub state: Option<State>,
}

/// One page of operations, newest first.
#[derive(Debug)]
pub struct Page {
    /// The operations on the page.
    pub rows: Vec<OperationRecord>,
    /// True when older ones follow.
    pub has_more: bool,
}

/// How far a running operation has got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub done: u64,
    pub total: Option<u64>,
    pub phase: String,
}

/// "Now" for heartbeats: on PostgreSQL the database's clock, so that
/// instances whose clocks differ still agree on which heartbeat is stale; on
/// SQLite (one machine) this process's, written as every other time stamp.
fn heartbeat_now(db: &impl ConnectionTrait) -> sea_orm::sea_query::SimpleExpr {
    match db.get_database_backend() {
        DbBackend::Postgres => Expr::cust("CURRENT_TIMESTAMP"),
        _ => Expr::value(now()),
    }
}

fn as_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

const UNFINISHED: [&str; 2] = ["QUEUED", "RUNNING"];

/// Records a new operation as `QUEUED`.
pub(super) async fn insert_queued(
    db: &impl ConnectionTrait,
    kind: Kind,
    started_by: &str,
    parameters: &serde_json::Value,
    unit: &str,
) -> Result<OperationRecord, AppError> {
    let at = now();
    let record = ActiveModel {
        kind: Set(kind.as_str().to_owned()),
        state: Set(State::Queued.as_str().to_owned()),
        progress_done: Set(0),
        progress_total: Set(None),
        progress_unit: Set(unit.to_owned()),
        phase: Set("queued".to_owned()),
        queued_at: Set(at),
        started_at: Set(None),
        finished_at: Set(None),
        heartbeat_at: Set(at),
        started_by: Set(started_by.to_owned()),
        parameters: Set(parameters.to_string()),
        result: Set(None),
        error_code: Set(None),
        error_message: Set(None),
        cancel_requested: Set(false),
        ..Default::default()
    };
    Ok(record.insert(db).await?)
}

/// Marks a queued operation `RUNNING`; false when it was cancelled first.
pub(super) async fn mark_running(db: &impl ConnectionTrait, id: i64) -> Result<bool, AppError> {
    let at = now();
    let updated = Entity::update_many()
        .col_expr(Column::State, Expr::value(State::Running.as_str()))
        .col_expr(Column::Phase, Expr::value("starting"))
        .col_expr(Column::StartedAt, Expr::value(at))
        .col_expr(Column::HeartbeatAt, heartbeat_now(db))
        .filter(Column::Id.eq(id))
        .filter(Column::State.eq(State::Queued.as_str()))
        .filter(Column::CancelRequested.eq(false))
        .exec(db)
        .await?;
    Ok(updated.rows_affected == 1)
}

/// What a heartbeat found in the row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Beat {
    /// Go on.
    Running,
    /// A cancel was asked for.
    CancelRequested,
    /// The row no longer says RUNNING: a sweep took the operation for dead.
    Ended,
}

/// Records progress and the heartbeat, and reads what the row asks for.
pub(super) async fn heartbeat(
    db: &impl ConnectionTrait,
    id: i64,
    step: &Step,
) -> Result<Beat, AppError> {
    let updated = Entity::update_many()
        .col_expr(Column::ProgressDone, Expr::value(as_i64(step.done)))
        .col_expr(Column::ProgressTotal, Expr::value(step.total.map(as_i64)))
        .col_expr(Column::Phase, Expr::value(step.phase.clone()))
        .col_expr(Column::HeartbeatAt, heartbeat_now(db))
        .filter(Column::Id.eq(id))
        .filter(Column::State.eq(State::Running.as_str()))
        .exec(db)
        .await?;
    if updated.rows_affected == 0 {
        return Ok(Beat::Ended);
    }
    let cancel: Option<bool> = Entity::find_by_id(id)
        .select_only()
        .column(Column::CancelRequested)
        .into_tuple()
        .one(db)
        .await?;
    Ok(if cancel.unwrap_or(false) {
        Beat::CancelRequested
    } else {
        Beat::Running
    })
}

/// How an operation ended.
#[derive(Debug, Clone)]
pub(super) struct Ending {
    pub state: State,
    pub step: Step,
    pub result: Option<String>,
    pub error: Option<(&'static str, String)>,
}

/// Records the end of an operation.
pub(super) async fn finish(
    db: &impl ConnectionTrait,
    id: i64,
    ending: Ending,
) -> Result<(), AppError> {
    let (code, message) = ending.error.unzip();
    Entity::update_many()
        .col_expr(Column::State, Expr::value(ending.state.as_str()))
        .col_expr(Column::ProgressDone, Expr::value(as_i64(ending.step.done)))
        .col_expr(
            Column::ProgressTotal,
            Expr::value(ending.step.total.map(as_i64)),
        )
        .col_expr(Column::Phase, Expr::value(ending.step.phase))
        .col_expr(Column::FinishedAt, Expr::value(now()))
        .col_expr(Column::Result, Expr::value(ending.result))
        .col_expr(Column::ErrorCode, Expr::value(code.map(str::to_owned)))
        .col_expr(Column::ErrorMessage, Expr::value(message))
        .filter(Column::Id.eq(id))
        // Once final (a sweep took it for dead), a state is never changed again.
        .filter(Column::State.is_in(UNFINISHED))
        .exec(db)
        .await?;
    Ok(())
}

/// The row of operation `id`, if it exists.
pub(super) async fn row(
    db: &impl ConnectionTrait,
    id: i64,
) -> Result<Option<OperationRecord>, AppError> {
    Ok(Entity::find_by_id(id).one(db).await?)
}

/// Sets the cancel flag of operation `id`, if it has not ended.
pub(super) async fn flag_cancel(db: &impl ConnectionTrait, id: i64) -> Result<(), AppError> {
    Entity::update_many()
        .col_expr(Column::CancelRequested, Expr::value(true))
        .filter(Column::Id.eq(id))
        .filter(Column::State.is_in(UNFINISHED))
        .exec(db)
        .await?;
    Ok(())
}

/// Up to `first` operations older than `before_id`, newest first.
pub(super) async fn rows(
    db: &impl ConnectionTrait,
    filter: Filter,
    before_id: Option<i64>,
    first: u64,
) -> Result<Page, AppError> {
    let mut query = Entity::find().order_by_desc(Column::Id);
    if let Some(kind) = filter.kind {
        query = query.filter(Column::Kind.eq(kind.as_str()));
    }
    if let Some(state) = filter.state {
        query = query.filter(Column::State.eq(state.as_str()));
    }
    if let Some(before_id) = before_id {
        query = query.filter(Column::Id.lt(before_id));
    }
    let mut rows = query.limit(first + 1).all(db).await?;
    let has_more = rows.len() as u64 > first;
    rows.truncate(first as usize);
    Ok(Page { rows, has_more })
}

/// Unfinished operations whose row has not been refreshed for `quiet`
/// (by the database's clock on PostgreSQL).
pub(super) async fn quiet_unfinished(
    db: &impl ConnectionTrait,
    quiet: Duration,
) -> Result<Vec<i64>, AppError> {
    let stale = match db.get_database_backend() {
        DbBackend::Postgres => Expr::col(Column::HeartbeatAt).lt(Expr::cust(format!(
            "CURRENT_TIMESTAMP - INTERVAL '{} milliseconds'",
            quiet.as_millis()
        ))),
        _ => {
            let quiet = TimeDelta::from_std(quiet).unwrap_or(TimeDelta::seconds(10));
            Expr::col(Column::HeartbeatAt).lt(now() - quiet)
        }
    };
    Ok(Entity::find()
        .select_only()
        .column(Column::Id)
        .filter(Column::State.is_in(UNFINISHED))
        .filter(stale)
        .into_tuple()
        .all(db)
        .await?)
}

/// Marks the unfinished operations `ids` `FAILED` with code `INTERRUPTED`.
pub(super) async fn mark_interrupted(
    db: &impl ConnectionTrait,
    ids: &[i64],
) -> Result<u64, AppError> {
    if ids.is_empty() {
        return Ok(0);
    }
    let swept = Entity::update_many()
        .col_expr(Column::State, Expr::value(State::Failed.as_str()))
        .col_expr(Column::ErrorCode, Expr::value("INTERRUPTED"))
        .col_expr(
            Column::ErrorMessage,
            Expr::value(
                "the process running it stopped before it finished; \
                 a restore or import rolled back, a backup set without its manifest is never listed",
            ),
        )
        .col_expr(Column::FinishedAt, Expr::value(now()))
        .filter(Column::Id.is_in(ids.iter().copied()))
        .filter(Column::State.is_in(UNFINISHED))
        .exec(db)
        .await?;
    Ok(swept.rows_affected)
}
