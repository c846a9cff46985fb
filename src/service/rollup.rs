//! Keeping the report rollup current: hires per year, department and job, per quarter.
//!
//! Every write that adds hires adds the same counts to `hires_rollup`, and
//! stamps `report_state.hires_changed_at`, in its own transaction; so the
//! reports, which read only the rollup, always equal the raw aggregate.
//!
//! This module owns every statement that writes the rollup or the stamp, and
//! the quarter arithmetic: once in Rust, once per SQL dialect.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, DurationRound, TimeDelta, Utc};
use entity::{hires_rollup, report_state};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, Condition, ConnectionTrait, DbBackend, DbErr, EntityTrait, QueryFilter,
    QueryTrait,
    sea_query::Expr,
    sqlx::{self, Postgres, Transaction},
};

use crate::{db::postgres::sqlx_error, error::AppError};

/// The UTC year and quarter of `hire_datetime` in PostgreSQL.
const POSTGRES_YEAR_QUARTER: (&str, &str) = (
    "EXTRACT(YEAR FROM hire_datetime AT TIME ZONE 'UTC')::integer",
    "EXTRACT(QUARTER FROM hire_datetime AT TIME ZONE 'UTC')::integer",
);

/// The UTC year and quarter of `hire_datetime` in SQLite, which stores every
/// instant as UTC RFC 3339 text.
const SQLITE_YEAR_QUARTER: (&str, &str) = (
    "CAST(substr(hire_datetime, 1, 4) AS INTEGER)",
    "(CAST(substr(hire_datetime, 6, 2) AS INTEGER) + 2) / 3",
);

/// How a cell that exists already takes new counts, in every upsert.
const ADD_TO_EXISTING_CELL: &str = "ON CONFLICT (year, department_id, job_id) DO UPDATE SET
    q1 = hires_rollup.q1 + excluded.q1, q2 = hires_rollup.q2 + excluded.q2,
    q3 = hires_rollup.q3 + excluded.q3, q4 = hires_rollup.q4 + excluded.q4";

/// Moves the stamp to `$1` unless it is newer already.
const STAMP_POSTGRES: &str = "UPDATE report_state SET hires_changed_at = $1
    WHERE hires_changed_at IS NULL OR hires_changed_at < $1";

/// The year and quarter (1 to 4) of an instant, in UTC.
pub fn year_quarter(at: &DateTime<Utc>) -> (i32, i16) {
    (at.year(), at.month().div_ceil(3) as i16)
}

/// Fills an empty `hires_rollup` from every stored hire (after a restore).
pub fn rebuild_sql(backend: DbBackend) -> String {
    let (year, quarter) = match backend {
        DbBackend::Postgres => POSTGRES_YEAR_QUARTER,
        _ => SQLITE_YEAR_QUARTER,
    };
    let per_quarter = |q: u8| format!("SUM(CASE WHEN {quarter} = {q} THEN 1 ELSE 0 END)");
    format!(
        "INSERT INTO hires_rollup (year, department_id, job_id, q1, q2, q3, q4)
         SELECT {year}, department_id, job_id, {}, {}, {}, {}
         FROM hired_employees GROUP BY 1, 2, 3",
        per_quarter(1),
        per_quarter(2),
        per_quarter(3),
        per_quarter(4),
    )
}

/// PostgreSQL: an upsert that adds the hires of `source` (a table or CTE with
/// `hire_datetime`, `department_id` and `job_id`) to the rollup.
pub fn postgres_add_from(source: &str) -> String {
    let (year, quarter) = POSTGRES_YEAR_QUARTER;
    format!(
        "INSERT INTO hires_rollup (year, department_id, job_id, q1, q2, q3, q4)
    SELECT year, department_id, job_id,
           count(*) FILTER (WHERE quarter = 1), count(*) FILTER (WHERE quarter = 2),
           count(*) FILTER (WHERE quarter = 3), count(*) FILTER (WHERE quarter = 4)
    FROM (SELECT {year} AS year, {quarter} AS quarter, department_id, job_id
          FROM {source}) parts
    GROUP BY 1, 2, 3
    ORDER BY 1, 2, 3
    {ADD_TO_EXISTING_CELL}"
    )
}

/// PostgreSQL: adds counts gathered in Rust to the rollup, in the caller's transaction.
pub async fn postgres_apply(
    tx: &mut Transaction<'_, Postgres>,
    delta: &RollupDelta,
) -> Result<(), AppError> {
    if delta.is_empty() {
        return Ok(());
    }
    let columns = delta.columns();
    let sql = format!(
        "INSERT INTO hires_rollup (year, department_id, job_id, q1, q2, q3, q4)
    SELECT * FROM UNNEST($1::integer[], $2::integer[], $3::integer[],
                         $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[])
    {ADD_TO_EXISTING_CELL}"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(columns.years)
        .bind(columns.department_ids)
        .bind(columns.job_ids)
        .bind(columns.q1)
        .bind(columns.q2)
        .bind(columns.q3)
        .bind(columns.q4)
        .execute(&mut **tx)
        .await
        .map_err(sqlx_error)?;
    Ok(())
}

/// PostgreSQL: stamps `report_state.hires_changed_at` with the current time; it never moves back.
pub async fn postgres_mark_hires_changed(
    tx: &mut Transaction<'_, Postgres>,
) -> Result<(), AppError> {
    sqlx::query(STAMP_POSTGRES)
        .bind(now())
        .execute(&mut **tx)
        .await
        .map_err(sqlx_error)?;
    Ok(())
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
        let mut upsert = hires_rollup::Entity::insert_many(chunk.iter().map(
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
        .build(txn.get_database_backend());
        upsert.sql = format!("{} {ADD_TO_EXISTING_CELL}", upsert.sql);
        txn.execute_raw(upsert).await?;
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
