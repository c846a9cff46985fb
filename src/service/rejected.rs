//! The rejected-row log: writing refused rows, and reading them back.

use chrono::Utc;
use entity::rejected_row;
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

use sea_orm::sqlx::{self, Postgres, Transaction};

use crate::{db::postgres::sqlx_error, error::AppError, rules::RejectedRow};

/// Rows written per statement.
const ROWS_PER_INSERT: usize = 1_000;

/// Writes refused rows of `source` to `rejected_rows` and to the tracing log,
/// in the caller's transaction.
pub async fn record_rejections(
    txn: &impl ConnectionTrait,
    source: &str,
    rejected: &[RejectedRow],
) -> Result<(), DbErr> {
    if rejected.is_empty() {
        return Ok(());
    }
    let now = Utc::now();
    for row in rejected {
        trace_rejection(source, row);
    }
    for chunk in rejected.chunks(ROWS_PER_INSERT) {
        rejected_row::Entity::insert_many(chunk.iter().map(|row| rejected_row::ActiveModel {
            id: NotSet,
            source: Set(source.to_owned()),
            position: Set(row.position),
            raw_record: Set(row.raw.clone()),
            field: Set(row.field.map(str::to_owned)),
            code: Set(row.code.to_owned()),
            message: Set(row.message.clone()),
            rejected_at: Set(now),
        }))
        .exec_without_returning(txn)
        .await?;
    }
    Ok(())
}

/// Writes refused rows like [`record_rejections`], on a raw PostgreSQL transaction.
pub async fn postgres_record_rejections(
    tx: &mut Transaction<'_, Postgres>,
    source: &str,
    rejected: &[RejectedRow],
) -> Result<(), AppError> {
    for row in rejected {
        trace_rejection(source, row);
    }
    sqlx::query(
        "INSERT INTO rejected_rows (source, position, raw_record, field, code, message, rejected_at)
         SELECT $1, position, raw_record, field, code, message, now()
         FROM UNNEST($2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[])
             AS r(position, raw_record, field, code, message)",
    )
    .bind(source)
    .bind(rejected.iter().map(|r| r.position).collect::<Vec<_>>())
    .bind(rejected.iter().map(|r| r.raw.clone()).collect::<Vec<_>>())
    .bind(rejected.iter().map(|r| r.field).collect::<Vec<_>>())
    .bind(rejected.iter().map(|r| r.code).collect::<Vec<_>>())
    .bind(rejected.iter().map(|r| r.message.clone()).collect::<Vec<_>>())
    .execute(&mut **tx)
    .await
    .map_err(sqlx_error)?;
    Ok(())
}

/// One refused row in the tracing log.
fn trace_rejection(source: &str, row: &RejectedRow) {
    tracing::warn!(
        source,
        position = row.position,
        id = row.id,
        field = row.field,
        code = row.code,
        message = %row.message,
        "row rejected"
    );
}

/// One page of the log, newest first.
#[derive(Debug, Clone)]
pub struct RejectedPage {
    /// The entries of this page.
    pub rows: Vec<rejected_row::Model>,
    /// Whether older entries follow.
    pub has_more: bool,
}

/// Up to `limit` log entries older than `before_id`, newest first, optionally for one source.
#[tracing::instrument(skip(db))]
pub async fn list_rejected_rows(
    db: &impl ConnectionTrait,
    source: Option<&str>,
    before_id: Option<i64>,
    limit: u64,
) -> Result<RejectedPage, AppError> {
    let mut query = rejected_row::Entity::find().order_by_desc(rejected_row::Column::Id);
    if let Some(source) = source {
        query = query.filter(rejected_row::Column::Source.eq(source));
    }
    if let Some(before_id) = before_id {
        query = query.filter(rejected_row::Column::Id.lt(before_id));
    }
    let mut rows = query.limit(limit + 1).all(db).await?;
    let has_more = rows.len() as u64 > limit;
    rows.truncate(limit as usize);
    Ok(RejectedPage { rows, has_more })
}
