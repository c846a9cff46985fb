//! Charts of the trend reports: hires over time and a period against the
//! periods before it.

use async_graphql::{Context, Object, Result};

use super::{
    read_db,
    reports::{Chart, chart_options},
    scalars::DateTime,
    trends::checked_filter,
};
use crate::{
    auth::{Needs, Role},
    service::{
        charts::ChartFormat,
        periods::{Granularity, Span},
        trend_charts::{self, TrendStyle},
        trends::Breakdown,
    },
};

/// The trend chart queries.
#[derive(Default)]
pub struct TrendChartsQuery;

#[Object]
impl TrendChartsQuery {
    /// Hires per bucket in `[from, to)` (UTC, on bucket boundaries of
    /// `granularity`, at most 120 buckets), the same data as `hiresOverTime`:
    /// one line per series with a marker per bucket (`LINES`), or stacked
    /// areas (`STACKED`), with a legend and a time axis labelled by month,
    /// quarter or year. Beyond 8 series, the 7 with the most hires are drawn
    /// in colours and the rest summed into a grey "Other". Width and height
    /// are 200 to 4000 pixels.
    #[allow(clippy::too_many_arguments)]
    #[graphql(guard = "Needs(Role::Viewer)")]
    async fn hires_over_time_chart(
        &self,
        ctx: &Context<'_>,
        from: DateTime,
        to: DateTime,
        #[graphql(default_with = "Granularity::Month")] granularity: Granularity,
        #[graphql(default_with = "Breakdown::Department")] by: Breakdown,
        department_ids: Option<Vec<i32>>,
        job_ids: Option<Vec<i32>>,
        #[graphql(default_with = "TrendStyle::Lines")] style: TrendStyle,
        #[graphql(default = 1000)] width: Option<i32>,
        #[graphql(default = 600)] height: Option<i32>,
        #[graphql(default_with = "Some(ChartFormat::Png)")] format: Option<ChartFormat>,
    ) -> Result<Chart> {
        let filter = checked_filter(&department_ids, &job_ids)?;
        let span = Span::new(from.0, to.0, granularity)?;
        let (width, height, format) = chart_options(width, height, format);
        let chart = trend_charts::hires_over_time_chart(
            read_db(ctx),
            span,
            by,
            filter,
            style,
            width,
            height,
            format,
        )
        .await?;
        Ok(chart.into())
    }

    /// Hires per series in the `period` starting at `at` (a boundary of
    /// `period`, UTC), in the period before it and in the same period a year
    /// earlier, as grouped bars with their values; the same data as
    /// `hiresComparison`, the 20 series with the most hires in the period,
    /// most first. Width and height are 200 to 4000 pixels.
    #[allow(clippy::too_many_arguments)]
    #[graphql(guard = "Needs(Role::Viewer)")]
    async fn hires_comparison_chart(
        &self,
        ctx: &Context<'_>,
        period: Granularity,
        at: DateTime,
        #[graphql(default_with = "Breakdown::Department")] by: Breakdown,
        department_ids: Option<Vec<i32>>,
        job_ids: Option<Vec<i32>>,
        #[graphql(default = 1000)] width: Option<i32>,
        #[graphql(default = 600)] height: Option<i32>,
        #[graphql(default_with = "Some(ChartFormat::Png)")] format: Option<ChartFormat>,
    ) -> Result<Chart> {
        let filter = checked_filter(&department_ids, &job_ids)?;
        let span = Span::one(at.0, period)?;
        let (width, height, format) = chart_options(width, height, format);
        let db = read_db(ctx);
        let chart =
            trend_charts::hires_comparison_chart(db, span, by, filter, width, height, format)
                .await?;
        Ok(chart.into())
    }
}
