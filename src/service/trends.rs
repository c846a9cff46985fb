//! Trend reports beyond one year, read from the month rollup as committed:
//! hires over time per series, one period against the ones before it, and
//! rankings of departments and jobs over a range.
//!
//! Each report reads hires per year and month for the series it needs
//! ([`monthly_hires`]) from the smallest part of the rollup that holds them
//! (the per-department or per-job totals when it can, the cells otherwise),
//! and adds the months up into buckets here.

use std::{cmp::Ordering, collections::BTreeMap};

use chrono::{DateTime, Utc};
use sea_orm::{
    ConnectionTrait, QueryResult, Statement,
    sea_query::{Alias, Expr, ExprTrait, JoinType, Query, SelectStatement},
};

use super::{
    periods::{Month, Span},
    rollup::{self, HiresBy, MONTHS, Narrowing},
};
use crate::error::AppError;

/// How a trend report splits hires into series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum)]
pub enum Breakdown {
    /// One series: every hire.
    Total,
    /// One series per department.
    Department,
    /// One series per job.
    Job,
    /// One series per department and job.
    DepartmentAndJob,
}

impl Breakdown {
    fn per_department(self) -> bool {
        matches!(self, Breakdown::Department | Breakdown::DepartmentAndJob)
    }

    fn per_job(self) -> bool {
        matches!(self, Breakdown::Job | Breakdown::DepartmentAndJob)
    }
}

/// Which departments and jobs a report counts; all when `None`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Filter<'a> {
    /// Only these departments.
    pub department_ids: Option<&'a [i32]>,
    /// Only these jobs.
    pub job_ids: Option<&'a [i32]>,
}

/// Who a series counts: a department, a job, both, or every hire (all `None`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SeriesKey {
    /// The department's id.
    pub department_id: Option<i32>,
    /// The department's name.
    pub department: Option<String>,
    /// The job's id.
    pub job_id: Option<i32>,
    /// The job's title.
    pub job: Option<String>,
}

impl SeriesKey {
    /// Byte order of the department's name, then the job's, then the ids:
    /// the order of `hiresByQuarter`.
    fn order(&self, other: &Self) -> Ordering {
        let bytes = |name: &Option<String>| name.as_deref().map(str::as_bytes).map(<[u8]>::to_vec);
        bytes(&self.department)
            .cmp(&bytes(&other.department))
            .then_with(|| bytes(&self.job).cmp(&bytes(&other.job)))
            .then(self.department_id.cmp(&other.department_id))
            .then(self.job_id.cmp(&other.job_id))
    }
}

/// Hires of one series in each bucket of a span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Series {
    /// Who the series counts.
    pub key: SeriesKey,
    /// Hires in the whole span.
    pub total: i64,
    /// One point per bucket, in time order, empty buckets included.
    pub points: Vec<Point>,
}

/// Hires in the bucket starting at `start`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Point {
    /// The first instant of the bucket, in UTC.
    pub start: DateTime<Utc>,
    /// Hires in the bucket.
    pub hires: i64,
}

/// One series' hires per month, as the rollup holds them.
#[derive(Debug, Clone)]
struct MonthlyHires {
    key: SeriesKey,
    months: BTreeMap<Month, i64>,
}

/// Hires per bucket of `span`, one series per department, job, or both (those
/// with at least one hire in the span, in `hiresByQuarter`'s order), or one
/// series of every hire (`Total`, always there).
#[tracing::instrument(skip(db))]
pub async fn hires_over_time(
    db: &impl ConnectionTrait,
    span: Span,
    by: Breakdown,
    filter: Filter<'_>,
) -> Result<Vec<Series>, AppError> {
    let monthly = monthly_hires(db, span.years(), by, filter).await?;
    let mut series: Vec<Series> = monthly
        .into_iter()
        .map(|hires| in_buckets(&hires, span))
        .filter(|series| series.total > 0)
        .collect();
    if by == Breakdown::Total && series.is_empty() {
        series.push(in_buckets(&MonthlyHires::none(), span));
    }
    Ok(series)
}

impl MonthlyHires {
    /// Every hire, none of them in the rollup.
    fn none() -> Self {
        MonthlyHires {
            key: SeriesKey::default(),
            months: BTreeMap::new(),
        }
    }

    /// Hires in the months of `span`.
    fn within(&self, span: Span) -> i64 {
        self.months.range(span.from..span.to).map(|(_, n)| n).sum()
    }
}

/// `hires` added up into the buckets of `span`.
fn in_buckets(hires: &MonthlyHires, span: Span) -> Series {
    let mut points: Vec<Point> = span
        .bucket_starts()
        .map(|month| Point {
            start: month.start(),
            hires: 0,
        })
        .collect();
    for (month, n) in hires.months.range(span.from..span.to) {
        if let Some(bucket) = span.bucket_of(*month) {
            points[bucket].hires += n;
        }
    }
    Series {
        key: hires.key.clone(),
        total: points.iter().map(|p| p.hires).sum(),
        points,
    }
}

/// One series compared with the periods before it.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// Who the series counts.
    pub key: SeriesKey,
    /// Hires in the period.
    pub hires: i64,
    /// Hires in the period before.
    pub previous: i64,
    /// Hires in the same period a year earlier.
    pub year_earlier: i64,
}

impl Comparison {
    /// The change from the period before, in percent of it; `None` when it had no hires.
    pub fn percent_change_from_previous(&self) -> Option<f64> {
        percent_change(self.hires, self.previous)
    }

    /// The change from a year earlier, in percent of it; `None` when it had no hires.
    pub fn percent_change_from_year_earlier(&self) -> Option<f64> {
        percent_change(self.hires, self.year_earlier)
    }
}

/// `(now - base) / base` in percent, or `None` when `base` is 0.
fn percent_change(now: i64, base: i64) -> Option<f64> {
    (base != 0).then(|| (now - base) as f64 * 100.0 / base as f64)
}

/// Hires per series in `period`, in the period before it and in the same
/// period a year earlier, optionally only in some departments or jobs: one
/// entry per series with a hire in any of the three (`Total`: always one),
/// in `hiresByQuarter`'s order.
#[tracing::instrument(skip(db))]
pub async fn hires_comparison(
    db: &impl ConnectionTrait,
    period: Span,
    by: Breakdown,
    filter: Filter<'_>,
) -> Result<Vec<Comparison>, AppError> {
    let previous = period.shifted(-period.granularity.months());
    let year_earlier = period.shifted(-12);
    let years = (
        std::cmp::min(year_earlier.from.year(), previous.from.year()),
        period.years().1,
    );
    let mut monthly = monthly_hires(db, years, by, filter).await?;
    if by == Breakdown::Total && monthly.is_empty() {
        monthly.push(MonthlyHires::none());
    }
    Ok(monthly
        .into_iter()
        .map(|hires| Comparison {
            hires: hires.within(period),
            previous: hires.within(previous),
            year_earlier: hires.within(year_earlier),
            key: hires.key,
        })
        .filter(|c| by == Breakdown::Total || c.hires + c.previous + c.year_earlier > 0)
        .collect())
}

/// A department or job ranked by its hires in a range.
#[derive(Debug, Clone, PartialEq)]
pub struct Ranked {
    /// 1 for the most hires; ties share a rank.
    pub rank: i64,
    /// Who is ranked (a department or a job).
    pub key: SeriesKey,
    /// Its hires in the range.
    pub hires: i64,
    /// Its share of all hires counted (0 to 1).
    pub share: f64,
}

/// The most entries a ranking returns.
pub const MAX_RANKED: i32 = 1_000;

/// A ranking's size, checked: 1 to [`MAX_RANKED`].
pub fn ranking_size(first: i32) -> Result<usize, AppError> {
    if (1..=MAX_RANKED).contains(&first) {
        Ok(first as usize)
    } else {
        Err(AppError::bad_input(
            "PAGE_SIZE",
            format!("first must be from 1 to {MAX_RANKED}, got {first}"),
        ))
    }
}

/// The departments (`Breakdown::Department`) or jobs (`Breakdown::Job`) with
/// the most hires in `span`, at most `first`, optionally only in some
/// departments; shares are of every hire counted.
#[tracing::instrument(skip(db))]
pub async fn top(
    db: &impl ConnectionTrait,
    span: Span,
    by: Breakdown,
    filter: Filter<'_>,
    first: usize,
) -> Result<Vec<Ranked>, AppError> {
    let monthly = monthly_hires(db, span.years(), by, filter).await?;
    let mut counted: Vec<(SeriesKey, i64)> = monthly
        .into_iter()
        .map(|hires| (hires.within(span), hires.key))
        .filter(|(n, _)| *n > 0)
        .map(|(n, key)| (key, n))
        .collect();
    let all: i64 = counted.iter().map(|(_, n)| n).sum();
    counted.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.order(&b.0)));
    let mut ranked = Vec::with_capacity(first.min(counted.len()));
    for (position, (key, hires)) in counted.into_iter().take(first).enumerate() {
        let rank = match ranked.last() {
            Some(Ranked {
                rank, hires: last, ..
            }) if *last == hires => *rank,
            _ => position as i64 + 1,
        };
        let share = hires as f64 / all as f64;
        ranked.push(Ranked {
            rank,
            key,
            hires,
            share,
        });
    }
    Ok(ranked)
}

/// Hires per month of the years `first..=last`, one entry per series of `by`,
/// in `hiresByQuarter`'s order.
async fn monthly_hires(
    db: &impl ConnectionTrait,
    (first, last): (i32, i32),
    by: Breakdown,
    filter: Filter<'_>,
) -> Result<Vec<MonthlyHires>, AppError> {
    let narrowing = Narrowing {
        years: Some((first, last)),
        department_ids: filter.department_ids,
        job_ids: filter.job_ids,
    };
    let query = monthly_query(&narrowing, by);
    let statement: Statement = db.get_database_backend().build(&query);
    let rows = db.query_all_raw(statement).await?;
    let mut series: Vec<MonthlyHires> = Vec::new();
    for row in rows {
        let key = series_key(&row, by)?;
        let year: i32 = row.try_get("", "year")?;
        if series.last().is_none_or(|last| last.key != key) {
            series.push(MonthlyHires {
                key,
                months: BTreeMap::new(),
            });
        }
        let months = &mut series.last_mut().expect("pushed above").months;
        for (index, column) in MONTHS.iter().enumerate() {
            let hires: i64 = row.try_get("", column)?;
            if hires != 0 {
                months.insert(Month::of(year, index as u32 + 1), hires);
            }
        }
    }
    Ok(series)
}

/// The key of a row of [`monthly_query`].
fn series_key(row: &QueryResult, by: Breakdown) -> Result<SeriesKey, AppError> {
    let mut key = SeriesKey::default();
    if by.per_department() {
        key.department_id = Some(row.try_get("", "department_id")?);
        key.department = Some(row.try_get("", "department")?);
    }
    if by.per_job() {
        key.job_id = Some(row.try_get("", "job_id")?);
        key.job = Some(row.try_get("", "job")?);
    }
    Ok(key)
}

/// Which part of the rollup holds `by`'s series under `narrowing`: a total
/// table when one dimension is enough, the cells when both are needed.
fn source(narrowing: &Narrowing, by: Breakdown) -> SelectStatement {
    let departments = by.per_department() || narrowing.department_ids.is_some();
    let jobs = by.per_job() || narrowing.job_ids.is_some();
    match (departments, jobs) {
        (true, true) => rollup::current_cells(narrowing),
        (false, true) => rollup::totals_rows(HiresBy::Job, narrowing),
        _ => rollup::totals_rows(HiresBy::Department, narrowing),
    }
}

/// Hires per year and month of `by`'s series, with their names, ordered by
/// series (names in byte order, then ids), then year.
fn monthly_query(narrowing: &Narrowing, by: Breakdown) -> SelectStatement {
    let r = Alias::new("r");
    let mut query = Query::select();
    query.from_subquery(source(narrowing, by), r.clone());
    let mut order: Vec<Expr> = Vec::new();
    let dimensions = [
        (
            by.per_department(),
            "departments",
            "department",
            "department_id",
        ),
        (by.per_job(), "jobs", "job", "job_id"),
    ];
    let mut ids = Vec::new();
    for (wanted, table, name, id) in dimensions {
        if !wanted {
            continue;
        }
        let names = Alias::new(name);
        query
            .expr_as(Expr::col((r.clone(), Alias::new(id))), Alias::new(id))
            .expr_as(
                Expr::col((names.clone(), Alias::new(name))),
                Alias::new(name),
            )
            .join_as(
                JoinType::InnerJoin,
                Alias::new(table),
                names.clone(),
                Expr::col((names.clone(), Alias::new("id"))).equals((r.clone(), Alias::new(id))),
            )
            .add_group_by([
                Expr::col((r.clone(), Alias::new(id))),
                Expr::col((names.clone(), Alias::new(name))),
            ]);
        // The name columns sort in byte order: BINARY on SQLite, COLLATE "C" on PostgreSQL.
        order.push(Expr::col((names, Alias::new(name))));
        ids.push(Expr::col((r.clone(), Alias::new(id))));
    }
    query
        .expr_as(
            Expr::col((r.clone(), Alias::new("year"))),
            Alias::new("year"),
        )
        .add_group_by([Expr::col((r.clone(), Alias::new("year")))]);
    for month in MONTHS {
        query.expr_as(
            Expr::cust(format!("CAST(SUM(r.{month}) AS BIGINT)")),
            Alias::new(month),
        );
    }
    order.extend(ids);
    order.push(Expr::col((r, Alias::new("year"))));
    for expr in order {
        query.order_by_expr(expr, sea_orm::Order::Asc);
    }
    query
}
