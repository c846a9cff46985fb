//! Trend reports beyond one year: hires over time, period comparisons and
//! rankings of departments and jobs.

use super::{check_filter_ids, read_db, scalars::DateTime};
use crate::{
    auth::{Needs, Role},
    error::AppError,
    service::{
        periods::{Granularity, Span},
        trends::{self, Breakdown, Filter},
    },
};
use async_graphql::{Context, Object, Result, SimpleObject};

/// Hires of one department, job, department and job, or of every hire, per bucket.
#[derive(Debug, Clone, SimpleObject)]
pub struct HireSeries {
    /// The department's id (null unless the breakdown is per department).
    pub department_id: Option<i32>,
    /// The department's name.
    pub department: Option<String>,
    /// The job's id (null unless the breakdown is per job).
    pub job_id: Option<i32>,
    /// The job's title.
    pub job: Option<String>,
    /// Hires in the whole range.
    pub total: i64,
    /// One point per bucket of the range, in time order, empty buckets included.
    pub points: Vec<HirePoint>,
}

/// Hires in one bucket.
#[derive(Debug, Clone, SimpleObject)]
pub struct HirePoint {
    /// The first instant of the bucket, in UTC.
    pub start: DateTime,
    /// Hires in the bucket.
    pub hires: i64,
}

impl From<trends::Series> for HireSeries {
    fn from(series: trends::Series) -> Self {
        let key = series.key;
        Self {
            department_id: key.department_id,
            department: key.department,
            job_id: key.job_id,
            job: key.job,
            total: series.total,
            points: series
                .points
                .into_iter()
                .map(|p| HirePoint {
                    start: DateTime(p.start),
                    hires: p.hires,
                })
                .collect(),
        }
    }
}

/// One series' hires in a period, against the period before and the same
/// period a year earlier.
#[derive(Debug, Clone, SimpleObject)]
pub struct HireComparison {
    /// The department's id (null unless the breakdown is per department).
    pub department_id: Option<i32>,
    /// The department's name.
    pub department: Option<String>,
    /// The job's id (null unless the breakdown is per job).
    pub job_id: Option<i32>,
    /// The job's title.
    pub job: Option<String>,
    /// The first instant of the period (`at`).
    pub start: DateTime,
    /// Hires in the period.
    pub hires: i64,
    /// The first instant of the period before.
    pub previous_start: DateTime,
    /// Hires in the period before.
    pub previous: i64,
    /// The first instant of the same period a year earlier.
    pub year_earlier_start: DateTime,
    /// Hires in the same period a year earlier.
    pub year_earlier: i64,
    /// `hires - previous`.
    pub change_from_previous: i64,
    /// The change from the period before in percent of it; null when it had no hires.
    pub percent_change_from_previous: Option<f64>,
    /// `hires - yearEarlier`.
    pub change_from_year_earlier: i64,
    /// The change from a year earlier in percent of it; null when it had no hires.
    pub percent_change_from_year_earlier: Option<f64>,
}

impl HireComparison {
    fn new(c: trends::Comparison, period: Span) -> Self {
        let start = |span: Span| DateTime(span.from.start());
        let percents = (
            c.percent_change_from_previous(),
            c.percent_change_from_year_earlier(),
        );
        Self {
            department_id: c.key.department_id,
            department: c.key.department,
            job_id: c.key.job_id,
            job: c.key.job,
            start: start(period),
            hires: c.hires,
            previous_start: start(period.shifted(-period.granularity.months())),
            previous: c.previous,
            year_earlier_start: start(period.shifted(-12)),
            year_earlier: c.year_earlier,
            change_from_previous: c.hires - c.previous,
            percent_change_from_previous: percents.0,
            change_from_year_earlier: c.hires - c.year_earlier,
            percent_change_from_year_earlier: percents.1,
        }
    }
}

/// A department ranked by its hires in a range.
#[derive(Debug, Clone, SimpleObject)]
pub struct RankedDepartment {
    /// 1 for the most hires; departments with as many hires share a rank.
    pub rank: i64,
    /// The department's id.
    pub department_id: i32,
    /// The department's name.
    pub department: String,
    /// Its hires in the range.
    pub hires: i64,
    /// Its share of every hire in the range, 0 to 1.
    pub share: f64,
}

/// A job ranked by its hires in a range.
#[derive(Debug, Clone, SimpleObject)]
pub struct RankedJob {
    /// 1 for the most hires; jobs with as many hires share a rank.
    pub rank: i64,
    /// The job's id.
    pub job_id: i32,
    /// The job's title.
    pub job: String,
    /// Its hires in the range.
    pub hires: i64,
    /// Its share of the hires counted: of the department's hires in the
    /// range when `departmentId` is given, of every hire in the range otherwise; 0 to 1.
    pub share: f64,
}

/// A trend request's `departmentIds` and `jobIds`, checked, as the filter
/// the trend service takes.
pub(super) fn checked_filter<'a>(
    department_ids: &'a Option<Vec<i32>>,
    job_ids: &'a Option<Vec<i32>>,
) -> Result<Filter<'a>, AppError> {
    check_filter_ids("departmentIds", department_ids.as_deref())?;
    check_filter_ids("jobIds", job_ids.as_deref())?;
    Ok(Filter {
        department_ids: department_ids.as_deref(),
        job_ids: job_ids.as_deref(),
    })
}

/// The trend queries.
#[derive(Default)]
pub struct TrendsQuery;

#[Object]
impl TrendsQuery {
    /// Hires per bucket in `[from, to)` (UTC), both on bucket boundaries of
    /// `granularity`, at most 120 buckets. One series per department, job, or
    /// department and job with at least one hire in the range, ordered like
    /// `hiresByQuarter` (names in byte order); `TOTAL` gives one series of
    /// every hire, even when there is none. Points are dense: every bucket,
    /// empty ones included, in time order. Optionally limited to some
    /// departments or jobs.
    #[allow(clippy::too_many_arguments)]
    #[graphql(guard = "Needs(Role::Viewer)")]
    async fn hires_over_time(
        &self,
        ctx: &Context<'_>,
        from: DateTime,
        to: DateTime,
        #[graphql(default_with = "Granularity::Month")] granularity: Granularity,
        #[graphql(default_with = "Breakdown::Department")] by: Breakdown,
        department_ids: Option<Vec<i32>>,
        job_ids: Option<Vec<i32>>,
    ) -> Result<Vec<HireSeries>> {
        let filter = checked_filter(&department_ids, &job_ids)?;
        let span = Span::new(from.0, to.0, granularity)?;
        let series = trends::hires_over_time(read_db(ctx), span, by, filter).await?;
        Ok(series.into_iter().map(HireSeries::from).collect())
    }

    /// Hires per series in the `period` starting at `at` (a boundary of
    /// `period`, UTC), in the period before it and in the same period a year
    /// earlier, with the changes. One entry per series with a hire in any of
    /// the three periods, ordered like `hiresByQuarter`; `TOTAL` always gives
    /// one. Optionally limited to some departments or jobs.
    #[graphql(guard = "Needs(Role::Viewer)")]
    async fn hires_comparison(
        &self,
        ctx: &Context<'_>,
        period: Granularity,
        at: DateTime,
        #[graphql(default_with = "Breakdown::Department")] by: Breakdown,
        department_ids: Option<Vec<i32>>,
        job_ids: Option<Vec<i32>>,
    ) -> Result<Vec<HireComparison>> {
        let filter = checked_filter(&department_ids, &job_ids)?;
        let span = Span::one(at.0, period)?;
        let rows = trends::hires_comparison(read_db(ctx), span, by, filter).await?;
        Ok(rows
            .into_iter()
            .map(|row| HireComparison::new(row, span))
            .collect())
    }

    /// The jobs with the most hires in `[from, to)` (UTC, on month
    /// boundaries), in one department or in all, most first (ties by title in
    /// byte order); at most `first` (1 to 1000).
    #[graphql(guard = "Needs(Role::Viewer)")]
    async fn top_jobs(
        &self,
        ctx: &Context<'_>,
        department_id: Option<i32>,
        from: DateTime,
        to: DateTime,
        #[graphql(default = 10)] first: i32,
    ) -> Result<Vec<RankedJob>> {
        let first = trends::ranking_size(first)?;
        let span = Span::any_length(from.0, to.0, Granularity::Month)?;
        let department = department_id.map(|id| [id]);
        let filter = Filter {
            department_ids: department.as_ref().map(|ids| &ids[..]),
            job_ids: None,
        };
        let ranked = trends::top(read_db(ctx), span, Breakdown::Job, filter, first).await?;
        Ok(ranked
            .into_iter()
            .map(|r| RankedJob {
                rank: r.rank,
                job_id: r.key.job_id.unwrap_or_default(),
                job: r.key.job.unwrap_or_default(),
                hires: r.hires,
                share: r.share,
            })
            .collect())
    }

    /// The departments with the most hires in `[from, to)` (UTC, on month
    /// boundaries), most first (ties by name in byte order); at most `first`
    /// (1 to 1000).
    #[graphql(guard = "Needs(Role::Viewer)")]
    async fn top_departments(
        &self,
        ctx: &Context<'_>,
        from: DateTime,
        to: DateTime,
        #[graphql(default = 10)] first: i32,
    ) -> Result<Vec<RankedDepartment>> {
        let first = trends::ranking_size(first)?;
        let span = Span::any_length(from.0, to.0, Granularity::Month)?;
        let read = read_db(ctx);
        let ranked =
            trends::top(read, span, Breakdown::Department, Filter::default(), first).await?;
        Ok(ranked
            .into_iter()
            .map(|r| RankedDepartment {
                rank: r.rank,
                department_id: r.key.department_id.unwrap_or_default(),
                department: r.key.department.unwrap_or_default(),
                hires: r.hires,
                share: r.share,
            })
            .collect())
    }
}
