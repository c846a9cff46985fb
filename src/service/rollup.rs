//! Keeping the report rollup current: hires per year, quarter, department and job.
//!
//! Every write that adds hires adds the same counts to `hires_rollup`, and
//! stamps `report_state.hires_changed_at`, in its own transaction; so the
//! reports, which read only the rollup, always equal the raw aggregate.

use std::collections::HashMap;

use chrono::{DateTime, Datelike, DurationRound, TimeDelta, Utc};
use entity::{hires_rollup, report_state};
use sea_orm::{
    ActiveValue::Set,
    ConnectionTrait, DbErr, EntityTrait,
    sea_query::{Expr, ExprTrait, OnConflict},
};

/// The year and quarter (1 to 4) of an instant, in UTC.
pub fn year_quarter(at: &DateTime<Utc>) -> (i32, i16) {
    (at.year(), at.month().div_ceil(3) as i16)
}

/// The current time at the precision both backends store.
pub fn now() -> DateTime<Utc> {
    let now = Utc::now();
    now.duration_trunc(TimeDelta::microseconds(1))
        .unwrap_or(now)
}

/// New hires per rollup cell, gathered before they are added.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RollupDelta {
    cells: HashMap<(i32, i16, i32, i32), i64>,
}

impl RollupDelta {
    /// Counts one new hire.
    pub fn add(&mut self, at: &DateTime<Utc>, department_id: i32, job_id: i32) {
        let (year, quarter) = year_quarter(at);
        *self
            .cells
            .entry((year, quarter, department_id, job_id))
            .or_default() += 1;
    }

    /// True when no hire was counted.
    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    /// The cells as parallel columns, for an `UNNEST` insert.
    pub fn columns(&self) -> RollupColumns {
        let mut columns = RollupColumns::default();
        for ((year, quarter, department, job), hires) in &self.cells {
            columns.years.push(*year);
            columns.quarters.push(*quarter);
            columns.department_ids.push(*department);
            columns.job_ids.push(*job);
            columns.hires.push(*hires);
        }
        columns
    }
}

/// Rollup cells as parallel columns.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RollupColumns {
    /// Years.
    pub years: Vec<i32>,
    /// Quarters, 1 to 4.
    pub quarters: Vec<i16>,
    /// Department ids.
    pub department_ids: Vec<i32>,
    /// Job ids.
    pub job_ids: Vec<i32>,
    /// Hires to add.
    pub hires: Vec<i64>,
}

/// Adds `delta` to the rollup and stamps the change time, in the caller's transaction.
pub async fn apply(txn: &impl ConnectionTrait, delta: &RollupDelta) -> Result<(), DbErr> {
    if delta.is_empty() {
        return Ok(());
    }
    let cells: Vec<_> = delta.cells.iter().collect();
    for chunk in cells.chunks(1_000) {
        hires_rollup::Entity::insert_many(chunk.iter().map(
            |((year, quarter, department_id, job_id), hires)| hires_rollup::ActiveModel {
                year: Set(*year),
                quarter: Set(*quarter),
                department_id: Set(*department_id),
                job_id: Set(*job_id),
                hires: Set(**hires),
            },
        ))
        .on_conflict(
            OnConflict::columns([
                hires_rollup::Column::Year,
                hires_rollup::Column::Quarter,
                hires_rollup::Column::DepartmentId,
                hires_rollup::Column::JobId,
            ])
            .value(
                hires_rollup::Column::Hires,
                Expr::col((hires_rollup::Entity, hires_rollup::Column::Hires))
                    .add(Expr::cust("excluded.hires")),
            )
            .to_owned(),
        )
        .exec_without_returning(txn)
        .await?;
    }
    mark_hires_changed(txn).await
}

/// Stamps `report_state.hires_changed_at` with the current time.
pub async fn mark_hires_changed(txn: &impl ConnectionTrait) -> Result<(), DbErr> {
    report_state::Entity::update_many()
        .col_expr(report_state::Column::HiresChangedAt, Expr::value(now()))
        .exec(txn)
        .await?;
    Ok(())
}
