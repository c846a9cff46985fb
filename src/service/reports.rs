//! The reports, read from the rollup as committed ([`rollup::current_cells`],
//! [`rollup::totals_rows`]):
//! hires per quarter, and departments above the mean.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entity::{department, hires_rollup, job};
use sea_orm::{
    ConnectionTrait, FromQueryResult,
    sea_query::{Alias, Expr, ExprTrait, JoinType, Query, SelectStatement},
};

use super::rollup::{self, Narrowing};
use crate::{error::AppError, rules::YEARS};

/// Hires of one department and job in one year, per quarter.
#[derive(Debug, Clone, PartialEq, Eq, FromQueryResult)]
pub struct QuarterlyHires {
    /// The department's id.
    pub department_id: i32,
    /// The department's name.
    pub department: String,
    /// The job's id.
    pub job_id: i32,
    /// The job's title.
    pub job: String,
    /// Hires from January to March.
    pub q1: i64,
    /// Hires from April to June.
    pub q2: i64,
    /// Hires from July to September.
    pub q3: i64,
    /// Hires from October to December.
    pub q4: i64,
    /// Hires in the year.
    pub total: i64,
}

/// A department and its hires in a year.
#[derive(Debug, Clone, PartialEq, Eq, FromQueryResult)]
pub struct DepartmentHires {
    /// The department's id.
    pub id: i32,
    /// The department's name.
    pub department: String,
    /// Its hires in the year.
    pub hired: i64,
}

/// The departments that hired more than the mean in a year.
#[derive(Debug, Clone, PartialEq)]
pub struct AboveMeanReport {
    /// The year reported.
    pub year: i32,
    /// Mean hires per department, over the departments that hired at least once that year.
    pub mean: f64,
    /// The departments above the mean, most hires first, then by id.
    pub departments: Vec<DepartmentHires>,
}

/// Refuses years outside [`YEARS`] with a clear error.
pub fn check_year(year: i32) -> Result<(), AppError> {
    if YEARS.contains(&year) {
        Ok(())
    } else {
        Err(AppError::bad_input(
            "BAD_USER_INPUT",
            format!("year must be between 1 and 9999, got {year}"),
        ))
    }
}

/// `CAST(SUM(<expr>) AS BIGINT)`: PostgreSQL sums bigints as numeric.
fn sum(expr: &str) -> Expr {
    Expr::cust(format!("CAST(SUM({expr}) AS BIGINT)"))
}

/// A rollup row `r`'s hires in the whole year.
fn year_total() -> String {
    rollup::months_sum("r", 1, 12)
}

/// One row per department and job with hires in `year`, by department name then job name,
/// in byte order on every backend.
#[tracing::instrument(skip(db))]
pub async fn hires_by_quarter(
    db: &impl ConnectionTrait,
    year: i32,
    department_ids: Option<&[i32]>,
    job_ids: Option<&[i32]>,
) -> Result<Vec<QuarterlyHires>, AppError> {
    check_year(year)?;
    let narrowing = Narrowing {
        department_ids,
        job_ids,
        ..Narrowing::year(year)
    };
    let query = quarterly_query(&narrowing);
    let statement = db.get_database_backend().build(&query);
    Ok(QuarterlyHires::find_by_statement(statement).all(db).await?)
}

/// The quarterly report's query: the narrowed rollup rows with hires, joined to
/// the department and job names, each quarter the sum of its three months.
fn quarterly_query(narrowing: &Narrowing) -> SelectStatement {
    let r = Alias::new("r");
    let d = Alias::new("d");
    let j = Alias::new("j");
    let mut query = Query::select();
    query
        .expr_as(
            Expr::col((r.clone(), hires_rollup::Column::DepartmentId)),
            Alias::new("department_id"),
        )
        .expr_as(
            Expr::col((d.clone(), department::Column::Department)),
            Alias::new("department"),
        )
        .expr_as(
            Expr::col((r.clone(), hires_rollup::Column::JobId)),
            Alias::new("job_id"),
        )
        .expr_as(Expr::col((j.clone(), job::Column::Job)), Alias::new("job"));
    for quarter in 1..=4 {
        let months = rollup::months_sum("r", quarter * 3 - 2, quarter * 3);
        query.expr_as(Expr::cust(months), Alias::new(format!("q{quarter}")));
    }
    query
        .expr_as(Expr::cust(year_total()), Alias::new("total"))
        .from_subquery(rollup::current_cells(narrowing), r.clone())
        .join_as(
            JoinType::InnerJoin,
            department::Entity,
            d.clone(),
            Expr::col((d.clone(), department::Column::Id))
                .equals((r.clone(), hires_rollup::Column::DepartmentId)),
        )
        .join_as(
            JoinType::InnerJoin,
            job::Entity,
            j.clone(),
            Expr::col((j.clone(), job::Column::Id))
                .equals((r.clone(), hires_rollup::Column::JobId)),
        )
        .and_where(Expr::cust(format!("{} > 0", year_total())))
        // The name columns sort in byte order: BINARY on SQLite, COLLATE "C" on PostgreSQL.
        .order_by((d, department::Column::Department), sea_orm::Order::Asc)
        .order_by((j, job::Column::Job), sea_orm::Order::Asc)
        .order_by(
            (r.clone(), hires_rollup::Column::DepartmentId),
            sea_orm::Order::Asc,
        )
        .order_by((r, hires_rollup::Column::JobId), sea_orm::Order::Asc);
    query
}

/// The departments whose hires in `year` exceed the mean number of hires per
/// department, the mean being taken over the departments that hired at least
/// once that year.
#[tracing::instrument(skip(db))]
pub async fn departments_above_mean(
    db: &impl ConnectionTrait,
    year: i32,
) -> Result<AboveMeanReport, AppError> {
    Ok(above_mean(year, department_hires(db, year).await?))
}

/// The above-mean report from every department's hires in `year`.
pub fn above_mean(year: i32, hired: Vec<DepartmentHires>) -> AboveMeanReport {
    let total: i64 = hired.iter().map(|d| d.hired).sum();
    let count = hired.len() as i64;
    let mean = if count == 0 {
        0.0
    } else {
        total as f64 / count as f64
    };
    // hired > total / count, compared exactly in integers.
    let mut departments: Vec<DepartmentHires> = hired
        .into_iter()
        .filter(|d| d.hired * count > total)
        .collect();
    departments.sort_by(|a, b| b.hired.cmp(&a.hired).then(a.id.cmp(&b.id)));
    AboveMeanReport {
        year,
        mean,
        departments,
    }
}

/// Every department that hired in `year`, with its hires, ordered by name (byte order).
#[tracing::instrument(skip(db))]
pub async fn department_hires(
    db: &impl ConnectionTrait,
    year: i32,
) -> Result<Vec<DepartmentHires>, AppError> {
    check_year(year)?;
    let mut hired = hires_per_department_in(db, year).await?;
    hired.sort_by(|a, b| a.department.as_bytes().cmp(b.department.as_bytes()));
    Ok(hired)
}

async fn hires_per_department_in(
    db: &impl ConnectionTrait,
    year: i32,
) -> Result<Vec<DepartmentHires>, AppError> {
    let (r, d) = (Alias::new("r"), Alias::new("d"));
    let mut query = Query::select();
    query
        .expr_as(
            Expr::col((r.clone(), hires_rollup::Column::DepartmentId)),
            Alias::new("id"),
        )
        .expr_as(
            Expr::col((d.clone(), department::Column::Department)),
            Alias::new("department"),
        )
        .expr_as(sum(&year_total()), Alias::new("hired"))
        .from_subquery(
            rollup::totals_rows(HiresBy::Department, &Narrowing::year(year)),
            r.clone(),
        )
        .join_as(
            JoinType::InnerJoin,
            department::Entity,
            d.clone(),
            Expr::col((d.clone(), department::Column::Id))
                .equals((r.clone(), hires_rollup::Column::DepartmentId)),
        )
        .group_by_col((r, hires_rollup::Column::DepartmentId))
        .group_by_col((d, department::Column::Department))
        .cond_having(Expr::cust(format!("SUM({}) > 0", year_total())));
    let statement = db.get_database_backend().build(&query);
    Ok(DepartmentHires::find_by_statement(statement)
        .all(db)
        .await?)
}

pub use super::rollup::HiresBy;

#[derive(Debug, FromQueryResult)]
struct IdCount {
    id: i32,
    hires: i64,
}

/// Hires per department or job for these ids, in one year or in all years.
#[tracing::instrument(skip(db, ids), fields(ids = ids.len()))]
pub async fn hires_per(
    db: &impl ConnectionTrait,
    by: HiresBy,
    ids: &[i32],
    year: Option<i32>,
) -> Result<HashMap<i32, i64>, AppError> {
    if let Some(year) = year {
        check_year(year)?;
    }
    let column = Alias::new(by.key());
    let r = Alias::new("r");
    let mut query = Query::select();
    query
        .expr_as(Expr::col((r.clone(), column.clone())), Alias::new("id"))
        .expr_as(sum(&year_total()), Alias::new("hires"))
        .from_subquery(
            rollup::totals_rows(by, &Narrowing::year_or_all(year)),
            r.clone(),
        )
        .and_where(Expr::col((r.clone(), column.clone())).is_in(ids.iter().copied()))
        .group_by_col((r, column));
    let statement = db.get_database_backend().build(&query);
    let rows = IdCount::find_by_statement(statement).all(db).await?;
    Ok(rows.into_iter().map(|row| (row.id, row.hires)).collect())
}

/// Runs `read` (a report) and returns its result with the time hires last
/// changed, the instant the report is current as of.
///
/// The stamp is read first: a write landing between can only make it too old,
/// never too new.
pub async fn with_as_of<C: ConnectionTrait, T>(
    db: &C,
    read: impl AsyncFnOnce(&C) -> Result<T, AppError>,
) -> Result<(T, Option<DateTime<Utc>>), AppError> {
    let as_of = hires_changed_at(db).await?;
    Ok((read(db).await?, as_of))
}

/// When hires last changed, or `None` before any were stored.
pub async fn hires_changed_at(
    db: &impl ConnectionTrait,
) -> Result<Option<DateTime<Utc>>, AppError> {
    Ok(rollup::changed_at(db).await?)
}
