//! Lookups of stored rows: every department or job, and departments and jobs
//! by id.

use std::collections::HashMap;

use entity::{department, job};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::error::AppError;

/// Every department, ordered by id.
#[tracing::instrument(skip(db))]
pub async fn list_departments(
    db: &impl ConnectionTrait,
) -> Result<Vec<department::Model>, AppError> {
    Ok(department::Entity::find()
        .order_by_asc(department::Column::Id)
        .all(db)
        .await?)
}

/// Every job, ordered by id.
#[tracing::instrument(skip(db))]
pub async fn list_jobs(db: &impl ConnectionTrait) -> Result<Vec<job::Model>, AppError> {
    Ok(job::Entity::find()
        .order_by_asc(job::Column::Id)
        .all(db)
        .await?)
}

/// The departments with these ids, keyed by id; absent ids are simply missing.
#[tracing::instrument(skip(db, ids), fields(ids = ids.len()))]
pub async fn departments_by_ids(
    db: &impl ConnectionTrait,
    ids: &[i32],
) -> Result<HashMap<i32, department::Model>, AppError> {
    rows_by_ids::<department::Entity>(db, department::Column::Id, ids, |row| row.id).await
}

/// The jobs with these ids, keyed by id; absent ids are simply missing.
#[tracing::instrument(skip(db, ids), fields(ids = ids.len()))]
pub async fn jobs_by_ids(
    db: &impl ConnectionTrait,
    ids: &[i32],
) -> Result<HashMap<i32, job::Model>, AppError> {
    rows_by_ids::<job::Entity>(db, job::Column::Id, ids, |row| row.id).await
}

/// The rows of `E` whose `id_column` is one of `ids`, keyed by `id_of`.
async fn rows_by_ids<E: EntityTrait>(
    db: &impl ConnectionTrait,
    id_column: E::Column,
    ids: &[i32],
    id_of: fn(&E::Model) -> i32,
) -> Result<HashMap<i32, E::Model>, AppError> {
    let rows = E::find()
        .filter(id_column.is_in(ids.iter().copied()))
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|row| (id_of(&row), row)).collect())
}
