//! The data version: a value that changes with every committed change to the
//! hires, departments or jobs, read in one statement, so HTTP caching can
//! tell that an answer is still current without computing it again.
//!
//! Those tables only grow: rows are inserted, never updated or deleted, except
//! by a restore, which also moves `asOf`. So the number of rows of each,
//! with `asOf`, names one state of the data: any commit adds rows and changes
//! a count. The time stamp alone would not do: a writer stamps its rows before
//! it commits, so a slower writer can commit an older stamp after a newer one.
//! The hires are counted from the rollup (its per-department totals and the
//! pending deltas), which equals the hires table after every commit, without
//! scanning it.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, FromQueryResult, Statement};

use super::rollup;
use crate::error::AppError;

/// One state of the hires, departments and jobs as committed.
#[derive(Debug, Clone, PartialEq, Eq, FromQueryResult)]
pub struct DataVersion {
    /// When hires last changed (`asOf`), if ever.
    pub changed_at: Option<DateTime<Utc>>,
    /// Hires stored.
    pub hires: i64,
    /// Departments stored.
    pub departments: i64,
    /// Jobs stored.
    pub jobs: i64,
}

impl DataVersion {
    /// A short text naming this version, for cache keys and ETags.
    pub fn tag(&self) -> String {
        let stamp = self.changed_at.map_or(0, |at| at.timestamp_micros());
        format!("{stamp}.{}.{}.{}", self.hires, self.departments, self.jobs)
    }
}

/// The current data version, read in one statement (so in one snapshot).
pub async fn current(db: &impl ConnectionTrait) -> Result<DataVersion, AppError> {
    let sql = format!(
        "SELECT summary.changed_at, summary.hires,
                (SELECT COUNT(*) FROM departments) AS departments,
                (SELECT COUNT(*) FROM jobs) AS jobs
         FROM ({}) summary",
        rollup::SUMMARY.as_str()
    );
    let statement = Statement::from_string(db.get_database_backend(), sql);
    DataVersion::find_by_statement(statement)
        .one(db)
        .await?
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("the data version query gave no row")))
}
