//! Keeping the report rollup current: hires per year, department and job, per quarter.
//!
//! Every write that adds hires adds the same counts to `hires_rollup`, and
//! stamps `report_state.hires_changed_at`, in its own transaction; so the
//! reports, which read only the rollup, always equal the raw aggregate.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, DurationRound, TimeDelta, Utc};
use entity::{hires_rollup, report_state};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter,
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
    /// Sorted, so every writer locks rollup rows in the same order.
    cells: BTreeMap<(i32, i32, i32), [i64; 4]>,
}

impl RollupDelta {
    /// Counts one new hire.
    pub fn add(&mut self, at: &DateTime<Utc>, department_id: i32, job_id: i32) {
        let (year, quarter) = year_quarter(at);
        self.cells.entry((year, department_id, job_id)).or_default()[quarter as usize - 1] += 1;
    }

    /// True when no hire was counted.
    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    /// The cells as parallel columns, for an `UNNEST` insert.
    pub fn columns(&self) -> RollupColumns {
        let mut columns = RollupColumns::default();
        for ((year, department, job), quarters) in &self.cells {
            columns.years.push(*year);
            columns.department_ids.push(*department);
            columns.job_ids.push(*job);
            columns.q1.push(quarters[0]);
            columns.q2.push(quarters[1]);
            columns.q3.push(quarters[2]);
            columns.q4.push(quarters[3]);
        }
        columns
    }
}

/// Rollup cells as parallel columns.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RollupColumns {
    /// Years.
    pub years: Vec<i32>,
    /// Department ids.
    pub department_ids: Vec<i32>,
    /// Job ids.
    pub job_ids: Vec<i32>,
    /// Hires to add in the first quarter.
    pub q1: Vec<i64>,
    /// Hires to add in the second quarter.
    pub q2: Vec<i64>,
    /// Hires to add in the third quarter.
    pub q3: Vec<i64>,
    /// Hires to add in the fourth quarter.
    pub q4: Vec<i64>,
}

/// Adds `delta` to the rollup and stamps the change time, in the caller's transaction.
pub async fn apply(txn: &impl ConnectionTrait, delta: &RollupDelta) -> Result<(), DbErr> {
    if delta.is_empty() {
        return Ok(());
    }
    let cells: Vec<_> = delta.cells.iter().collect();
    for chunk in cells.chunks(1_000) {
        let mut on_conflict = OnConflict::columns([
            hires_rollup::Column::Year,
            hires_rollup::Column::DepartmentId,
            hires_rollup::Column::JobId,
        ]);
        for (column, name) in [
            (hires_rollup::Column::Q1, "q1"),
            (hires_rollup::Column::Q2, "q2"),
            (hires_rollup::Column::Q3, "q3"),
            (hires_rollup::Column::Q4, "q4"),
        ] {
            on_conflict.value(
                column,
                Expr::col((hires_rollup::Entity, column))
                    .add(Expr::cust(format!("excluded.{name}"))),
            );
        }
        hires_rollup::Entity::insert_many(chunk.iter().map(
            |((year, department_id, job_id), quarters)| hires_rollup::ActiveModel {
                year: Set(*year),
                department_id: Set(*department_id),
                job_id: Set(*job_id),
                q1: Set(quarters[0]),
                q2: Set(quarters[1]),
                q3: Set(quarters[2]),
                q4: Set(quarters[3]),
            },
        ))
        .on_conflict(on_conflict)
        .exec_without_returning(txn)
        .await?;
    }
    mark_hires_changed(txn).await
}

/// Stamps `report_state.hires_changed_at` with the current time; it never moves back.
pub async fn mark_hires_changed(txn: &impl ConnectionTrait) -> Result<(), DbErr> {
    let now = now();
    report_state::Entity::update_many()
        .col_expr(report_state::Column::HiresChangedAt, Expr::value(now))
        .filter(
            Condition::any()
                .add(report_state::Column::HiresChangedAt.is_null())
                .add(report_state::Column::HiresChangedAt.lt(now)),
        )
        .exec(txn)
        .await?;
    Ok(())
}
