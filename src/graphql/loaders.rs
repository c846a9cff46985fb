//! DataLoaders: a list of N hires costs a fixed number of queries, not N.

use std::collections::HashMap;

use async_graphql::dataloader::Loader;
use entity::{department, hired_employee, job};
use sea_orm::DatabaseConnection;

use crate::service::{
    lookups,
    reports::{self, HiresBy},
};

/// Loads departments, jobs and hires by id, one query per table per batch.
pub struct ByIdLoader {
    db: DatabaseConnection,
}

impl ByIdLoader {
    /// A loader reading through `db`.
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

/// A department id, distinct from other ids in the loader's key space.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DepartmentId(pub i32);
/// A job id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct JobId(pub i32);
/// A hire id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HireId(pub i32);

fn keys<K: Copy>(keys: &[K], id: impl Fn(K) -> i32) -> Vec<i32> {
    keys.iter().map(|k| id(*k)).collect()
}

impl Loader<DepartmentId> for ByIdLoader {
    type Value = department::Model;
    type Error = async_graphql::Error;

    async fn load(
        &self,
        ids: &[DepartmentId],
    ) -> Result<HashMap<DepartmentId, Self::Value>, Self::Error> {
        let rows = lookups::departments_by_ids(&self.db, &keys(ids, |k| k.0)).await?;
        Ok(rows
            .into_iter()
            .map(|(id, row)| (DepartmentId(id), row))
            .collect())
    }
}

impl Loader<JobId> for ByIdLoader {
    type Value = job::Model;
    type Error = async_graphql::Error;

    async fn load(&self, ids: &[JobId]) -> Result<HashMap<JobId, Self::Value>, Self::Error> {
        let rows = lookups::jobs_by_ids(&self.db, &keys(ids, |k| k.0)).await?;
        Ok(rows.into_iter().map(|(id, row)| (JobId(id), row)).collect())
    }
}

impl Loader<HireId> for ByIdLoader {
    type Value = hired_employee::Model;
    type Error = async_graphql::Error;

    async fn load(&self, ids: &[HireId]) -> Result<HashMap<HireId, Self::Value>, Self::Error> {
        let rows = lookups::hires_by_ids(&self.db, &keys(ids, |k| k.0)).await?;
        Ok(rows
            .into_iter()
            .map(|(id, row)| (HireId(id), row))
            .collect())
    }
}

/// Hires of one department or job, in one year or in all years.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HiresCount {
    /// Per department or per job.
    pub by: HiresBy,
    /// The department's or job's id.
    pub id: i32,
    /// The year, or every year.
    pub year: Option<i32>,
}

impl Loader<HiresCount> for ByIdLoader {
    type Value = i64;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[HiresCount]) -> Result<HashMap<HiresCount, i64>, Self::Error> {
        // One query per (department or job, year) asked for in this batch; usually one.
        let mut groups: HashMap<(HiresBy, Option<i32>), Vec<i32>> = HashMap::new();
        for key in keys {
            groups.entry((key.by, key.year)).or_default().push(key.id);
        }
        let mut counts = HashMap::new();
        for ((by, year), ids) in groups {
            let found = reports::hires_per(&self.db, by, &ids, year).await?;
            for id in ids {
                let hires = found.get(&id).copied().unwrap_or(0);
                counts.insert(HiresCount { by, id, year }, hires);
            }
        }
        Ok(counts)
    }
}
