//! Departments and jobs, the two dimensions every hire points to, with their
//! hire counts.

use std::collections::HashMap;

use async_graphql::{ComplexObject, Context, Lookahead, Object, Result, SimpleObject};
use entity::{department, job};
use sea_orm::DatabaseConnection;

use super::{
    prefetch::{self, HireCounts},
    read_db,
};
use crate::{
    auth::{Needs, Role},
    error::AppError,
    service::{lookups, reports::HiresBy},
};

/// An organisational unit that hires.
#[derive(Debug, Clone, SimpleObject)]
#[graphql(complex)]
pub struct Department {
    /// Its id from the source data.
    pub id: i32,
    /// Its unique name.
    pub department: String,
    /// The hire counts prefetched for the query's `hires` fields.
    #[graphql(skip)]
    pub counts: HireCounts,
}

impl Department {
    /// A department with the hire counts prefetched for it.
    fn with_counts(m: department::Model, counts: Option<HireCounts>) -> Self {
        Self {
            id: m.id,
            department: m.department,
            counts: counts.unwrap_or_default(),
        }
    }
}

impl From<department::Model> for Department {
    fn from(m: department::Model) -> Self {
        Self::with_counts(m, None)
    }
}

/// A job title that hires are made for.
#[derive(Debug, Clone, SimpleObject)]
#[graphql(complex)]
pub struct Job {
    /// Its id from the source data.
    pub id: i32,
    /// Its unique title.
    pub job: String,
    /// The hire counts prefetched for the query's `hires` fields.
    #[graphql(skip)]
    pub counts: HireCounts,
}

impl Job {
    /// A job with the hire counts prefetched for it.
    fn with_counts(m: job::Model, counts: Option<HireCounts>) -> Self {
        Self {
            id: m.id,
            job: m.job,
            counts: counts.unwrap_or_default(),
        }
    }
}

impl From<job::Model> for Job {
    fn from(m: job::Model) -> Self {
        Self::with_counts(m, None)
    }
}

/// `rows` as GraphQL objects keyed by id, with the hire counts `selection`
/// (the selection set of those objects) asks for: one query per distinct year.
async fn with_counts<M, T>(
    db: &DatabaseConnection,
    by: HiresBy,
    rows: Vec<(i32, M)>,
    selection: &Lookahead<'_>,
    make: fn(M, Option<HireCounts>) -> T,
) -> Result<Vec<(i32, T)>, AppError> {
    let ids: Vec<i32> = rows.iter().map(|(id, _)| *id).collect();
    let mut counts = prefetch::hire_counts(db, by, &ids, selection).await?;
    Ok(rows
        .into_iter()
        .map(|(id, row)| (id, make(row, counts.remove(&id))))
        .collect())
}

/// The departments with these ids, keyed by id, with the hire counts
/// `selection` asks for; absent ids are missing.
pub async fn departments_by_ids(
    db: &DatabaseConnection,
    ids: &[i32],
    selection: &Lookahead<'_>,
) -> Result<HashMap<i32, Department>, AppError> {
    let rows = lookups::departments_by_ids(db, ids).await?;
    departments_from(db, rows.into_values(), selection).await
}

/// `rows` as departments keyed by id, with the hire counts `selection` asks for.
pub async fn departments_from(
    db: &DatabaseConnection,
    rows: impl IntoIterator<Item = department::Model>,
    selection: &Lookahead<'_>,
) -> Result<HashMap<i32, Department>, AppError> {
    let rows = rows.into_iter().map(|row| (row.id, row)).collect();
    let found = with_counts(
        db,
        HiresBy::Department,
        rows,
        selection,
        Department::with_counts,
    );
    Ok(found.await?.into_iter().collect())
}

/// The jobs with these ids, keyed by id, with the hire counts `selection`
/// asks for; absent ids are missing.
pub async fn jobs_by_ids(
    db: &DatabaseConnection,
    ids: &[i32],
    selection: &Lookahead<'_>,
) -> Result<HashMap<i32, Job>, AppError> {
    let rows = lookups::jobs_by_ids(db, ids).await?;
    jobs_from(db, rows.into_values(), selection).await
}

/// `rows` as jobs keyed by id, with the hire counts `selection` asks for.
pub async fn jobs_from(
    db: &DatabaseConnection,
    rows: impl IntoIterator<Item = job::Model>,
    selection: &Lookahead<'_>,
) -> Result<HashMap<i32, Job>, AppError> {
    let rows = rows.into_iter().map(|row| (row.id, row)).collect();
    let found = with_counts(db, HiresBy::Job, rows, selection, Job::with_counts);
    Ok(found.await?.into_iter().collect())
}

#[ComplexObject]
impl Department {
    /// Hires of this department in `year` (UTC), or in all years when omitted
    /// (batched: a list of departments costs one query).
    async fn hires(&self, ctx: &Context<'_>, year: Option<i32>) -> Result<i64> {
        let db = read_db(ctx);
        Ok(prefetch::hires_of(db, HiresBy::Department, self.id, year, &self.counts).await?)
    }
}

#[ComplexObject]
impl Job {
    /// Hires for this job in `year` (UTC), or in all years when omitted
    /// (batched: a list of jobs costs one query).
    async fn hires(&self, ctx: &Context<'_>, year: Option<i32>) -> Result<i64> {
        let db = read_db(ctx);
        Ok(prefetch::hires_of(db, HiresBy::Job, self.id, year, &self.counts).await?)
    }
}

/// `items` ordered by id.
fn by_id<T>(items: impl Iterator<Item = T>, id: fn(&T) -> i32) -> Vec<T> {
    let mut items: Vec<T> = items.collect();
    items.sort_unstable_by_key(id);
    items
}

/// Queries over departments and jobs.
#[derive(Default)]
pub struct DimensionsQuery;

#[Object]
impl DimensionsQuery {
    /// Every department, ordered by id.
    #[graphql(guard = "Needs(Role::Viewer)")]
    async fn departments(&self, ctx: &Context<'_>) -> Result<Vec<Department>> {
        let db = read_db(ctx);
        let rows = lookups::list_departments(db).await?;
        let found = departments_from(db, rows, &ctx.look_ahead()).await?;
        Ok(by_id(found.into_values(), |d| d.id))
    }

    /// The department with this id, or null when there is none.
    #[graphql(guard = "Needs(Role::Viewer)")]
    async fn department(&self, ctx: &Context<'_>, id: i32) -> Result<Option<Department>> {
        let mut found = departments_by_ids(read_db(ctx), &[id], &ctx.look_ahead()).await?;
        Ok(found.remove(&id))
    }

    /// Every job, ordered by id.
    #[graphql(guard = "Needs(Role::Viewer)")]
    async fn jobs(&self, ctx: &Context<'_>) -> Result<Vec<Job>> {
        let db = read_db(ctx);
        let rows = lookups::list_jobs(db).await?;
        let found = jobs_from(db, rows, &ctx.look_ahead()).await?;
        Ok(by_id(found.into_values(), |j| j.id))
    }

    /// The job with this id, or null when there is none.
    #[graphql(guard = "Needs(Role::Viewer)")]
    async fn job(&self, ctx: &Context<'_>, id: i32) -> Result<Option<Job>> {
        let mut found = jobs_by_ids(read_db(ctx), &[id], &ctx.look_ahead()).await?;
        Ok(found.remove(&id))
    }
}
