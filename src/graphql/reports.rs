//! The reports: hires per quarter and departments above the mean.

use async_graphql::{Context, Object, Result, SimpleObject};

use base64::{Engine, engine::general_purpose::STANDARD};
use sea_orm::DatabaseConnection;

use super::{check_filter_ids, read_db, scalars::DateTime};
use crate::auth::{Needs, Role};
use crate::service::{
    charts::{self, ChartFormat},
    reports,
};

/// A rendered chart, ready for an `<img>` tag.
#[derive(Debug, Clone, SimpleObject)]
pub struct Chart {
    /// `image/png` or `image/svg+xml`.
    pub mime_type: String,
    /// Width in pixels.
    pub width: i32,
    /// Height in pixels.
    pub height: i32,
    /// The image, base64-encoded.
    pub base64: String,
    /// The image as a `data:` URL.
    pub data_url: String,
}

impl From<charts::Chart> for Chart {
    fn from(chart: charts::Chart) -> Self {
        let base64 = STANDARD.encode(&chart.bytes);
        Self {
            data_url: format!("data:{};base64,{base64}", chart.mime_type),
            mime_type: chart.mime_type.to_owned(),
            width: chart.width as i32,
            height: chart.height as i32,
            base64,
        }
    }
}

/// Chart arguments with their defaults for explicit nulls; negative sizes
/// become 0, which the size check refuses with a clear error.
pub(super) fn chart_options(
    width: Option<i32>,
    height: Option<i32>,
    format: Option<ChartFormat>,
) -> (u32, u32, ChartFormat) {
    let pixels =
        |value: Option<i32>, default: u32| value.map_or(default, |v| u32::try_from(v).unwrap_or(0));
    (
        pixels(width, 1000),
        pixels(height, 600),
        format.unwrap_or(ChartFormat::Png),
    )
}

/// Hires of one department and job in one year, per quarter (UTC).
#[derive(Debug, Clone, SimpleObject)]
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
    /// When hires last changed: the report is current as of this instant (the
    /// same on every row; null before any hire was stored).
    pub as_of: Option<DateTime>,
}

impl QuarterlyHires {
    fn new(r: reports::QuarterlyHires, as_of: Option<DateTime>) -> Self {
        Self {
            department_id: r.department_id,
            department: r.department,
            job_id: r.job_id,
            job: r.job,
            q1: r.q1,
            q2: r.q2,
            q3: r.q3,
            q4: r.q4,
            total: r.total,
            as_of,
        }
    }
}

/// A department and its hires in the report's year.
#[derive(Debug, Clone, SimpleObject)]
pub struct DepartmentHires {
    /// The department's id.
    pub id: i32,
    /// The department's name.
    pub department: String,
    /// Its hires in the year.
    pub hired: i64,
}

/// The departments that hired more than the mean in a year.
#[derive(Debug, Clone, SimpleObject)]
pub struct AboveMeanReport {
    /// The year reported.
    pub year: i32,
    /// Mean hires per department in the year, taken over the departments that
    /// hired at least once that year (departments without hires do not lower
    /// it); 0 for a year without hires.
    pub mean: f64,
    /// The departments whose hires exceed the mean, most hires first, then by id.
    pub departments: Vec<DepartmentHires>,
    /// When hires last changed: the report is current as of this instant
    /// (null before any hire was stored).
    pub as_of: Option<DateTime>,
}

/// The report queries.
#[derive(Default)]
pub struct ReportsQuery;

#[Object]
impl ReportsQuery {
    /// Hires per quarter of `year` (in UTC) for each department and job with
    /// at least one hire that year, ordered by department name, then job name,
    /// in byte order ("GIS Technical Architect" before "General Manager").
    /// Optionally limited to some departments or jobs.
    #[graphql(guard = "Needs(Role::Viewer)")]
    async fn hires_by_quarter(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 2021)] year: i32,
        department_ids: Option<Vec<i32>>,
        job_ids: Option<Vec<i32>>,
    ) -> Result<Vec<QuarterlyHires>> {
        check_filter_ids("departmentIds", department_ids.as_deref())?;
        check_filter_ids("jobIds", job_ids.as_deref())?;
        let read = async |db: &DatabaseConnection| {
            reports::hires_by_quarter(db, year, department_ids.as_deref(), job_ids.as_deref()).await
        };
        let (rows, as_of) = reports::with_as_of(read_db(ctx), read).await?;
        Ok(rows
            .into_iter()
            .map(|row| QuarterlyHires::new(row, as_of.map(DateTime)))
            .collect())
    }

    /// The departments that hired more than the mean number of hires per
    /// department in `year` (UTC). The mean is taken over the departments that
    /// hired at least once that year. Ordered by hires, most first, then by id.
    #[graphql(guard = "Needs(Role::Viewer)")]
    async fn departments_above_mean(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 2021)] year: i32,
    ) -> Result<AboveMeanReport> {
        let read = async |db: &DatabaseConnection| reports::departments_above_mean(db, year).await;
        let (report, as_of) = reports::with_as_of(read_db(ctx), read).await?;
        Ok(AboveMeanReport {
            year: report.year,
            mean: report.mean,
            departments: report
                .departments
                .into_iter()
                .map(|d| DepartmentHires {
                    id: d.id,
                    department: d.department,
                    hired: d.hired,
                })
                .collect(),
            as_of: as_of.map(DateTime),
        })
    }

    /// Hires per department in `year`, stacked by quarter, with a Q1..Q4
    /// legend and the year in the title; the same data as `hiresByQuarter`.
    /// Width and height are 200 to 4000 pixels.
    #[graphql(guard = "Needs(Role::Viewer)")]
    async fn hires_by_quarter_chart(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 2021)] year: i32,
        #[graphql(default = 1000)] width: Option<i32>,
        #[graphql(default = 600)] height: Option<i32>,
        #[graphql(default_with = "Some(ChartFormat::Png)")] format: Option<ChartFormat>,
    ) -> Result<Chart> {
        let (width, height, format) = chart_options(width, height, format);
        let chart =
            charts::hires_by_quarter_chart(read_db(ctx), year, width, height, format).await?;
        Ok(chart.into())
    }

    /// Hires per department in `year` as bars, the mean as a line, and the
    /// departments above the mean highlighted; the same data as
    /// `departmentsAboveMean`. Width and height are 200 to 4000 pixels.
    #[graphql(guard = "Needs(Role::Viewer)")]
    async fn departments_above_mean_chart(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 2021)] year: i32,
        #[graphql(default = 1000)] width: Option<i32>,
        #[graphql(default = 600)] height: Option<i32>,
        #[graphql(default_with = "Some(ChartFormat::Png)")] format: Option<ChartFormat>,
    ) -> Result<Chart> {
        let (width, height, format) = chart_options(width, height, format);
        let chart =
            charts::departments_above_mean_chart(read_db(ctx), year, width, height, format).await?;
        Ok(chart.into())
    }

    /// When hires last changed: every report includes the hires stamped up to
    /// this instant (null before any hire was stored). To cache answers, use
    /// their HTTP `ETag`: a slower writer may still commit hires stamped earlier.
    #[graphql(guard = "Needs(Role::Viewer)")]
    async fn reports_as_of(&self, ctx: &Context<'_>) -> Result<Option<DateTime>> {
        Ok(reports::hires_changed_at(read_db(ctx)).await?.map(DateTime))
    }
}
