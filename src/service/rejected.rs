//! Reading the rejected-row log.

use entity::rejected_row;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::error::AppError;

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
