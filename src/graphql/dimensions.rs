//! Departments and jobs, the two dimensions every hire points to, with their
//! hire counts.

use async_graphql::{ComplexObject, Context, Object, Result, SimpleObject, dataloader::DataLoader};
use entity::{department, job};

use super::{
    loaders::{ByIdLoader, DepartmentId, HiresCount, JobId},
    read_db,
};
use crate::service::{
    lookups,
    reports::{self, HiresBy},
};

/// An organisational unit that hires.
#[derive(Debug, Clone, SimpleObject)]
#[graphql(complex)]
pub struct Department {
    /// Its id from the source data.
    pub id: i32,
    /// Its unique name.
    pub department: String,
}

impl From<department::Model> for Department {
    fn from(m: department::Model) -> Self {
        Self {
            id: m.id,
            department: m.department,
        }
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
}

impl From<job::Model> for Job {
    fn from(m: job::Model) -> Self {
        Self {
            id: m.id,
            job: m.job,
        }
    }
}

async fn hires(ctx: &Context<'_>, by: HiresBy, id: i32, year: Option<i32>) -> Result<i64> {
    // Checked here: a bad year must fail this field, not the shared loader's whole batch.
    if let Some(year) = year {
        reports::check_year(year)?;
    }
    let loader = ctx.data_unchecked::<DataLoader<ByIdLoader>>();
    Ok(loader
        .load_one(HiresCount { by, id, year })
        .await?
        .unwrap_or(0))
}

#[ComplexObject]
impl Department {
    /// Hires of this department in `year` (UTC), or in all years when omitted
    /// (batched: a list of departments costs one query).
    async fn hires(&self, ctx: &Context<'_>, year: Option<i32>) -> Result<i64> {
        hires(ctx, HiresBy::Department, self.id, year).await
    }
}

#[ComplexObject]
impl Job {
    /// Hires for this job in `year` (UTC), or in all years when omitted
    /// (batched: a list of jobs costs one query).
    async fn hires(&self, ctx: &Context<'_>, year: Option<i32>) -> Result<i64> {
        hires(ctx, HiresBy::Job, self.id, year).await
    }
}

/// Queries over departments and jobs.
#[derive(Default)]
pub struct DimensionsQuery;

#[Object]
impl DimensionsQuery {
    /// Every department, ordered by id.
    async fn departments(&self, ctx: &Context<'_>) -> Result<Vec<Department>> {
        let rows = lookups::list_departments(read_db(ctx)).await?;
        Ok(rows.into_iter().map(Department::from).collect())
    }

    /// The department with this id, or null when there is none.
    async fn department(&self, ctx: &Context<'_>, id: i32) -> Result<Option<Department>> {
        let loader = ctx.data_unchecked::<DataLoader<ByIdLoader>>();
        Ok(loader
            .load_one(DepartmentId(id))
            .await?
            .map(Department::from))
    }

    /// Every job, ordered by id.
    async fn jobs(&self, ctx: &Context<'_>) -> Result<Vec<Job>> {
        let rows = lookups::list_jobs(read_db(ctx)).await?;
        Ok(rows.into_iter().map(Job::from).collect())
    }

    /// The job with this id, or null when there is none.
    async fn job(&self, ctx: &Context<'_>, id: i32) -> Result<Option<Job>> {
        let loader = ctx.data_unchecked::<DataLoader<ByIdLoader>>();
        Ok(loader.load_one(JobId(id)).await?.map(Job::from))
    }
}
