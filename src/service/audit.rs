//! The audit log: who called which write or admin operation, with what
//! arguments, and how it ended. Rows are only added (the table's triggers
//! refuse updates and deletes); they are read back newest first.

use chrono::{DateTime, Utc};
use entity::audit_entry::{ActiveModel, Column, Entity};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

pub use entity::audit_entry::Model as AuditRecord;

use crate::{error::AppError, service::rollup::now};

/// An entry to record; its id and time are given when it is written.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEntry {
    /// Who made the call: `token:<name>`, `user:<sub>`, `anonymous` or `cli:<user>`.
    pub identity: String,
    /// A name for people to read, when known.
    pub display: Option<String>,
    /// The caller's role name.
    pub role: String,
    /// The mutation field or CLI command.
    pub operation: String,
    /// The arguments, already summarized: no secrets, no row contents.
    pub arguments: serde_json::Value,
    /// `OK`, or the error's code.
    pub outcome: String,
    /// The HTTP request id, when the call came over HTTP.
    pub request_id: Option<String>,
    /// The `operations` row the call started, if any.
    pub operation_id: Option<i64>,
}

/// The outcome recorded for a call that succeeded.
pub const OK: &str = "OK";

/// Which entries a listing shows; every given filter must match.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only calls by exactly this identity.
    pub identity: Option<String>,
    /// Only calls recorded at or after this instant.
    pub since: Option<DateTime<Utc>>,
}

/// One page of entries, newest first.
#[derive(Debug)]
pub struct Page {
    /// The entries on the page.
    pub rows: Vec<AuditRecord>,
    /// True when older ones follow.
    pub has_more: bool,
}

/// Appends `entry` to the log, stamped now.
#[tracing::instrument(skip(db, entry), fields(operation = %entry.operation, outcome = %entry.outcome))]
pub async fn record(db: &impl ConnectionTrait, entry: NewEntry) -> Result<AuditRecord, AppError> {
    let row = ActiveModel {
        at: Set(now()),
        identity: Set(entry.identity),
        display: Set(entry.display),
        role: Set(entry.role),
        operation: Set(entry.operation),
        arguments: Set(entry.arguments.to_string()),
        outcome: Set(entry.outcome),
        request_id: Set(entry.request_id),
        operation_id: Set(entry.operation_id),
        ..Default::default()
    };
    Ok(row.insert(db).await?)
}

/// Up to `first` entries older than `before_id` that match `filter`, newest first.
#[tracing::instrument(skip(db))]
pub async fn list(
    db: &impl ConnectionTrait,
    filter: Filter,
    before_id: Option<i64>,
    first: u64,
) -> Result<Page, AppError> {
    let mut query = Entity::find().order_by_desc(Column::Id);
    if let Some(identity) = filter.identity {
        query = query.filter(Column::Identity.eq(identity));
    }
    if let Some(since) = filter.since {
        query = query.filter(Column::At.gte(since));
    }
    if let Some(before_id) = before_id {
        query = query.filter(Column::Id.lt(before_id));
    }
    let mut rows = query.limit(first + 1).all(db).await?;
    let has_more = rows.len() as u64 > first;
    rows.truncate(first as usize);
    Ok(Page { rows, has_more })
}

/// The entry of the call that started operation `operation_id`, if recorded.
#[tracing::instrument(skip(db))]
pub async fn of_operation(
    db: &impl ConnectionTrait,
    operation_id: i64,
) -> Result<Option<AuditRecord>, AppError> {
    Ok(Entity::find()
        .filter(Column::OperationId.eq(operation_id))
        .order_by_asc(Column::Id)
        .one(db)
        .await?)
}
