//! Charts of the trend reports: hires over time as lines or stacked areas, and
//! one period against the period before and the same period a year earlier as
//! grouped bars.
//!
//! They are drawn and rendered like the report charts (see [`super::charts`]):
//! SVG with a `<title>` and a `<desc>`, PNG rendered from it by resvg with the
//! embedded font, labels at least 12 px, and the Okabe–Ito palette.

use plotters::{
    coord::{Shift, ranged1d::SegmentValue, types::RangedCoordf64},
    prelude::*,
    style::text_anchor::{HPos, Pos, VPos},
};
use sea_orm::ConnectionTrait;

use super::{
    charts::{
        self, Bar, Chart, ChartFormat, DrawResult, Drawing, FAMILY, MIN_FONT, PALETTE, ValueAt,
    },
    periods::{Granularity, Month, Span},
    trends::{self, Breakdown, Comparison, Filter, Series, SeriesKey},
};
use crate::error::AppError;

/// How the over-time chart draws its series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum)]
pub enum TrendStyle {
    /// One line per series, with a marker at each point.
    Lines,
    /// Stacked areas: the top edge is the sum of every series.
    Stacked,
}

/// The colour of the series that sums the ones beyond the palette.
const OTHER: RGBColor = RGBColor(0x88, 0x88, 0x88);
/// The most series the comparison chart shows.
const MAX_COMPARED: usize = 20;
/// The most labels on the time axis.
const MAX_TICKS: usize = 12;
/// Pixels kept free between two labels of the time axis.
const TICK_GAP: i32 = 12;
/// The margin around the plot, in pixels.
const MARGIN: u32 = 16;
/// The colours of the compared periods: a year earlier, the period before and
/// the period.
const PERIOD_COLOURS: [RGBColor; 3] = [PALETTE[2], PALETTE[0], PALETTE[4]];
const MONTH_NAMES: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Hires per bucket of `span`, one line (or stacked area) per series of `by`;
/// the series with the fewest hires are summed into "Other" when there are
/// more than the palette's colours.
#[allow(clippy::too_many_arguments)]
#[tracing::instrument(skip(db))]
pub async fn hires_over_time_chart(
    db: &impl ConnectionTrait,
    span: Span,
    by: Breakdown,
    filter: Filter<'_>,
    style: TrendStyle,
    width: u32,
    height: u32,
    format: ChartFormat,
) -> Result<Chart, AppError> {
    charts::check_size(width, height)?;
    let series = trends::hires_over_time(db, span, by, filter).await?;
    let drawing = OverTime::new(span, by, style, series);
    charts::render(format, width, height, &drawing)
}

/// Hires per series in the `period`, in the period before it and in the same
/// period a year earlier, as grouped bars; the [`MAX_COMPARED`] series with
/// the most hires in the period.
#[tracing::instrument(skip(db))]
pub async fn hires_comparison_chart(
    db: &impl ConnectionTrait,
    period: Span,
    by: Breakdown,
    filter: Filter<'_>,
    width: u32,
    height: u32,
    format: ChartFormat,
) -> Result<Chart, AppError> {
    charts::check_size(width, height)?;
    let rows = trends::hires_comparison(db, period, by, filter).await?;
    let drawing = Compared::new(period, by, rows);
    charts::render(format, width, height, &drawing)
}

/// A bucket's name: "Jan 2021", "2021 Q1" or "2021".
fn bucket_label(month: Month, granularity: Granularity) -> String {
    match granularity {
        Granularity::Month => format!("{} {}", month_name(month), month.year()),
        Granularity::Quarter => format!("{} Q{}", month.year(), (month.month() - 1) / 3 + 1),
        Granularity::Year => month.year().to_string(),
    }
}

fn month_name(month: Month) -> &'static str {
    MONTH_NAMES[(month.month() as usize - 1) % 12]
}

/// The last bucket of `span`.
fn last_bucket(span: Span) -> Month {
    span.to.plus(-span.granularity.months())
}

/// A series' name in legends: "Total", the department, the job, or
/// "Department · Job".
fn series_name(key: &SeriesKey) -> String {
    match (&key.department, &key.job) {
        (Some(department), Some(job)) => format!("{department} · {job}"),
        (Some(department), None) => department.clone(),
        (None, Some(job)) => job.clone(),
        (None, None) => "Total".to_owned(),
    }
}

/// ", by department" and the like for titles; nothing for `Total`.
fn by_suffix(by: Breakdown) -> &'static str {
    match by {
        Breakdown::Total => "",
        Breakdown::Department => ", by department",
        Breakdown::Job => ", by job",
        Breakdown::DepartmentAndJob => ", by department and job",
    }
}

/// What the series of `by` are, in the plural, for summaries.
fn series_noun(by: Breakdown) -> &'static str {
    match by {
        Breakdown::Total => "series",
        Breakdown::Department => "departments",
        Breakdown::Job => "jobs",
        Breakdown::DepartmentAndJob => "department and job pairs",
    }
}

/// "A (3), B (2) and C (1)".
fn listed(items: &[(String, i64)]) -> String {
    let items: Vec<String> = items.iter().map(|(n, v)| format!("{n} ({v})")).collect();
    match items.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => items.join(""),
    }
}

/// One series as drawn.
struct Line {
    name: String,
    colour: RGBColor,
    total: i64,
    hires: Vec<i64>,
}

/// Hires over time, ready to draw.
struct OverTime {
    title: String,
    style: TrendStyle,
    span: Span,
    by: Breakdown,
    /// The first month of each bucket, in time order.
    buckets: Vec<Month>,
    /// Most hires first; "Other" last.
    lines: Vec<Line>,
    /// How many series "Other" sums (0: no "Other").
    others: usize,
}

impl OverTime {
    fn new(span: Span, by: Breakdown, style: TrendStyle, series: Vec<Series>) -> Self {
        let granularity = span.granularity;
        let (first, last) = (span.from, last_bucket(span));
        let range = if first == last {
            bucket_label(first, granularity)
        } else {
            format!(
                "{} to {}",
                bucket_label(first, granularity),
                bucket_label(last, granularity)
            )
        };
        let (lines, others) = coloured_lines(series);
        OverTime {
            title: format!("Hires per {}, {range}{}", granularity.name(), by_suffix(by)),
            style,
            span,
            by,
            buckets: span.bucket_starts().collect(),
            lines,
            others,
        }
    }

    /// "from Jan 2021 to Dec 2021" or "in Jan 2021".
    fn range_text(&self) -> String {
        let label = |month| bucket_label(month, self.span.granularity);
        let last = last_bucket(self.span);
        if self.span.from == last {
            format!("in {}", label(last))
        } else {
            format!("from {} to {}", label(self.span.from), label(last))
        }
    }

    fn total(&self) -> i64 {
        self.lines.iter().map(|l| l.total).sum()
    }

    /// The hires of every series in each bucket.
    fn bucket_totals(&self) -> Vec<i64> {
        let mut totals = vec![0; self.buckets.len()];
        for line in &self.lines {
            for (total, hires) in totals.iter_mut().zip(&line.hires) {
                *total += hires;
            }
        }
        totals
    }
}

/// The series most hires first, in the palette's colours; beyond its size,
/// the top ones but one in colours and the rest summed into a grey "Other".
/// Also returns how many series "Other" sums.
fn coloured_lines(mut series: Vec<Series>) -> (Vec<Line>, usize) {
    // Stable: equal totals keep the service's order (by name).
    series.sort_by_key(|s| std::cmp::Reverse(s.total));
    let coloured = if series.len() > PALETTE.len() {
        PALETTE.len() - 1
    } else {
        series.len()
    };
    let rest = series.split_off(coloured);
    let mut lines: Vec<Line> = series
        .into_iter()
        .zip(PALETTE)
        .map(|(s, colour)| Line {
            name: series_name(&s.key),
            colour,
            total: s.total,
            hires: s.points.iter().map(|p| p.hires).collect(),
        })
        .collect();
    if let Some(first) = rest.first() {
        let mut hires = vec![0; first.points.len()];
        for s in &rest {
            for (sum, point) in hires.iter_mut().zip(&s.points) {
                *sum += point.hires;
            }
        }
        lines.push(Line {
            name: "Other".to_owned(),
            colour: OTHER,
            total: rest.iter().map(|s| s.total).sum(),
            hires,
        });
    }
    (lines, rest.len())
}

impl Drawing for OverTime {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        area.fill(&WHITE)?;
        if self.total() == 0 {
            let message = format!("No hires {}", self.range_text());
            return charts::no_data(area, &self.title, &message);
        }
        draw_over_time(area, self)
    }

    fn title(&self) -> &str {
        &self.title
    }

    fn summary(&self) -> String {
        let range = self.range_text();
        if self.total() == 0 {
            return format!("No hires {range}.");
        }
        let mut text = format!("{} hires {range}", self.total());
        if self.by != Breakdown::Total {
            let named = self.lines.len() - usize::from(self.others > 0);
            let count = named + self.others;
            let top: Vec<(String, i64)> = self.lines[..named.min(3)]
                .iter()
                .map(|l| (l.name.clone(), l.total))
                .collect();
            let noun = series_noun(self.by);
            text += &format!(" in {count} {noun}; the most in {}", listed(&top));
        }
        let totals = self.bucket_totals();
        let peak = (0..totals.len()).max_by_key(|&i| (totals[i], std::cmp::Reverse(i)));
        if let Some(peak) = peak {
            let granularity = self.span.granularity;
            let bucket = bucket_label(self.buckets[peak], granularity);
            text += &format!(
                "; the busiest {} {bucket} ({})",
                granularity.name(),
                totals[peak]
            );
        }
        text.push('.');
        if let Some(other) = self.lines.last().filter(|_| self.others > 0) {
            text += &format!(
                " The {} {} with the fewest hires are drawn together as Other ({}).",
                self.others,
                series_noun(self.by),
                other.total
            );
        }
        text
    }
}

/// The time axis' labels: the label of each bucket, empty for the buckets
/// without one.
type TickLabels = Vec<String>;

/// Bucket steps between labels that keep to calendar boundaries, smallest
/// first.
fn tick_steps(granularity: Granularity) -> &'static [usize] {
    match granularity {
        Granularity::Month => &[1, 2, 3, 6, 12, 24, 36, 60, 120],
        Granularity::Quarter => &[1, 2, 4, 8, 12, 20, 40],
        Granularity::Year => &[1, 2, 5, 10, 20, 25, 50, 100],
    }
}

/// The labels of every `step`th bucket on a calendar boundary: month labels
/// name the year on the first label and in January only ("Nov 2021", "Dec",
/// "Jan 2022").
fn labels_every(buckets: &[Month], granularity: Granularity, step: usize) -> TickLabels {
    let months = step as i32 * granularity.months();
    let mut first = true;
    buckets
        .iter()
        .map(|&month| {
            if month.0.rem_euclid(months) != 0 {
                return String::new();
            }
            let label = match granularity {
                Granularity::Month if !first && month.month() != 1 => month_name(month).to_owned(),
                _ => bucket_label(month, granularity),
            };
            first = false;
            label
        })
        .collect()
}

/// The densest labels of the time axis that do not overlap over a plot
/// `plot_width` pixels wide, at most [`MAX_TICKS`]; the first bucket's label
/// alone when no step fits.
fn time_ticks<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    buckets: &[Month],
    granularity: Granularity,
    font: &TextStyle,
    plot_width: i32,
) -> Result<TickLabels, DrawingAreaErrorKind<DB::ErrorType>> {
    let spacing = f64::from(plot_width) / (buckets.len().max(2) - 1) as f64;
    for &step in tick_steps(granularity) {
        let labels = labels_every(buckets, granularity, step);
        let placed: Vec<(usize, &String)> = labels
            .iter()
            .enumerate()
            .filter(|(_, label)| !label.is_empty())
            .collect();
        if placed.is_empty() || placed.len() > MAX_TICKS {
            continue;
        }
        let mut widths = Vec::with_capacity(placed.len());
        for (_, label) in &placed {
            widths.push(area.estimate_text_size(label, font)?.0 as f64);
        }
        let fits = placed.windows(2).zip(widths.windows(2)).all(|(p, w)| {
            let apart = (p[1].0 - p[0].0) as f64 * spacing;
            apart >= (w[0] + w[1]) / 2.0 + f64::from(TICK_GAP)
        });
        if fits {
            return Ok(labels);
        }
    }
    let mut labels = vec![String::new(); buckets.len()];
    if let Some(first) = buckets.first() {
        labels[0] = bucket_label(*first, granularity);
    }
    Ok(labels)
}

/// Time along x (bucket indices), hires up y.
type TimeChart<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// The legend right of the plot: a swatch and the name of each line.
fn draw_time_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    lines: &[Line],
    style: TrendStyle,
    font: f64,
) -> DrawResult<DB> {
    let text = (FAMILY, font)
        .into_font()
        .color(&BLACK)
        .pos(Pos::new(HPos::Left, VPos::Center));
    let (width, height) = area.dim_in_pixel();
    let row = (font * 1.5) as i32;
    let swatch = 22;
    let text_width = width.saturating_sub(swatch as u32 + 8 + MARGIN);
    // The entries that fit in the height: all but in the smallest charts.
    let fit = (height.saturating_sub(MARGIN) as i32 / row).max(1) as usize;
    for (index, line) in lines.iter().take(fit).enumerate() {
        let y = MARGIN as i32 + row / 2 + index as i32 * row;
        match style {
            TrendStyle::Lines => {
                area.draw(&PathElement::new(
                    vec![(0, y), (swatch, y)],
                    line.colour.stroke_width(2),
                ))?;
                area.draw(&Circle::new((swatch / 2, y), 3, line.colour.filled()))?;
            }
            TrendStyle::Stacked => {
                area.draw(&Rectangle::new(
                    [(0, y - 6), (swatch, y + 6)],
                    line.colour.filled(),
                ))?;
            }
        }
        let name = charts::fitted(area, &line.name, &text, text_width)?;
        area.draw(&Text::new(name, (swatch + 8, y), text.clone()))?;
    }
    Ok(())
}

/// The legend's width: the longest name, at most a third of `width`.
fn legend_width<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    lines: &[Line],
    font: &TextStyle,
    width: u32,
) -> Result<u32, DrawingAreaErrorKind<DB::ErrorType>> {
    let mut longest = 0;
    for line in lines {
        longest = longest.max(area.estimate_text_size(&line.name, font)?.0);
    }
    Ok((longest + 22 + 8 + 2 * MARGIN).min(width / 3))
}

fn draw_over_time<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    drawing: &OverTime,
) -> DrawResult<DB> {
    let (width, height) = area.dim_in_pixel();
    let label_font = charts::font_size(height, 0.025, MIN_FONT);
    let label_style: TextStyle = (FAMILY, label_font).into();
    let title_style: TextStyle = (FAMILY, charts::font_size(height, 0.045, 18.0)).into();
    let title = charts::fitted(area, &drawing.title, &title_style, width - 2 * MARGIN)?;
    let body = area.titled(&title, title_style)?;
    let legend = legend_width(area, &drawing.lines, &label_style, width)?;
    let (plot_area, legend_area) = body.split_horizontally(width - legend);
    let max = stack_max(drawing);
    let y_labels = area.estimate_text_size(&max.to_string(), &label_style)?.0;
    let y_label_area = y_labels + (label_font * 2.6) as u32;
    let plot_width = (width - legend) as i32 - y_label_area as i32 - 2 * MARGIN as i32;
    let granularity = drawing.span.granularity;
    let labels = time_ticks(
        area,
        &drawing.buckets,
        granularity,
        &label_style,
        plot_width,
    )?;
    let mut chart = time_axes(&plot_area, drawing, &labels, label_font, y_label_area, max)?;
    match drawing.style {
        TrendStyle::Lines => draw_lines(&mut chart, &drawing.lines)?,
        TrendStyle::Stacked => draw_areas(&mut chart, &drawing.lines)?,
    }
    draw_time_legend(&legend_area, &drawing.lines, drawing.style, label_font)
}

/// The top of the y axis: the highest point (lines) or the highest sum of
/// points (stacked), with room above it.
fn stack_max(drawing: &OverTime) -> i64 {
    let max = match drawing.style {
        TrendStyle::Lines => drawing
            .lines
            .iter()
            .flat_map(|l| l.hires.iter().copied())
            .max(),
        TrendStyle::Stacked => drawing.bucket_totals().into_iter().max(),
    };
    (max.unwrap_or(0).max(1) as f64 * 1.1).ceil() as i64
}

/// The axes, grid and labels of the over-time chart.
fn time_axes<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    drawing: &OverTime,
    labels: &TickLabels,
    font: f64,
    y_label_area: u32,
    max: i64,
) -> Result<TimeChart<'a, DB>, DrawingAreaErrorKind<DB::ErrorType>> {
    let n = drawing.buckets.len();
    let x = if n > 1 {
        0.0..(n - 1) as f64
    } else {
        -0.5..0.5
    };
    let mut chart = ChartBuilder::on(area)
        .margin(MARGIN)
        .x_label_area_size((font * 2.6) as u32)
        .y_label_area_size(y_label_area)
        .build_cartesian_2d(x, 0.0..max as f64)?;
    // The time axis' labels and grid lines are drawn below, at the buckets
    // chosen for them: plotters would put them at round numbers.
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        // Labels at least two and a half lines apart, so they never touch.
        .y_labels(((f64::from(area.dim_in_pixel().1) / (font * 2.5)) as usize).clamp(2, 10))
        .y_label_style((FAMILY, font))
        .axis_desc_style((FAMILY, font))
        .y_desc("hires")
        // Hires are whole: no labels between whole numbers.
        .y_label_formatter(&|v| {
            if v.fract() == 0.0 {
                format!("{v:.0}")
            } else {
                String::new()
            }
        })
        .y_max_light_lines(0)
        .draw()?;
    draw_time_labels(area, &chart, labels, font)?;
    Ok(chart)
}

/// A grid line, a tick and a label at each labelled bucket.
fn draw_time_labels<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    chart: &TimeChart<'_, DB>,
    labels: &TickLabels,
    font: f64,
) -> DrawResult<DB> {
    let (_, ys) = chart.plotting_area().get_pixel_range();
    let (left, top) = area.get_base_pixel();
    let style = (FAMILY, font)
        .into_font()
        .color(&BLACK)
        .pos(Pos::new(HPos::Center, VPos::Top));
    for (index, label) in labels.iter().enumerate() {
        if label.is_empty() {
            continue;
        }
        // Backend pixels, made relative to `area`.
        let x = chart.backend_coord(&(index as f64, 0.0)).0 - left;
        let (y0, y1) = (ys.start - top, ys.end - top);
        area.draw(&PathElement::new(vec![(x, y0), (x, y1)], BLACK.mix(0.2)))?;
        area.draw(&PathElement::new(vec![(x, y1), (x, y1 + 5)], BLACK))?;
        area.draw(&Text::new(label.clone(), (x, y1 + 8), style.clone()))?;
    }
    Ok(())
}

/// Bucket `i` of `n` along x: single buckets fill the plot's width.
fn xs(n: usize) -> Vec<(f64, usize)> {
    if n == 1 {
        vec![(-0.5, 0), (0.5, 0)]
    } else {
        (0..n).map(|i| (i as f64, i)).collect()
    }
}

/// One line per series, with markers; the series with most hires on top.
fn draw_lines<DB: DrawingBackend>(chart: &mut TimeChart<'_, DB>, lines: &[Line]) -> DrawResult<DB> {
    for line in lines.iter().rev() {
        let points: Vec<(f64, f64)> = xs(line.hires.len())
            .into_iter()
            .map(|(x, i)| (x, line.hires[i] as f64))
            .collect();
        let radius = if points.len() > 60 { 2 } else { 3 };
        chart.draw_series(std::iter::once(PathElement::new(
            points.clone(),
            line.colour.stroke_width(2),
        )))?;
        chart.draw_series(
            points
                .into_iter()
                .map(|p| Circle::new(p, radius, line.colour.filled())),
        )?;
    }
    Ok(())
}

/// Stacked areas, the series with most hires at the bottom, each edged with
/// white so that neighbours stay apart.
fn draw_areas<DB: DrawingBackend>(chart: &mut TimeChart<'_, DB>, lines: &[Line]) -> DrawResult<DB> {
    let n = lines.first().map_or(0, |l| l.hires.len());
    let columns = xs(n);
    let mut base = vec![0i64; n];
    for line in lines {
        let top: Vec<i64> = base.iter().zip(&line.hires).map(|(b, h)| b + h).collect();
        let upper: Vec<(f64, f64)> = columns.iter().map(|&(x, i)| (x, top[i] as f64)).collect();
        let mut outline = upper.clone();
        outline.extend(columns.iter().rev().map(|&(x, i)| (x, base[i] as f64)));
        chart.draw_series(std::iter::once(Polygon::new(outline, line.colour.filled())))?;
        chart.draw_series(std::iter::once(PathElement::new(
            upper,
            WHITE.stroke_width(1),
        )))?;
        base = top;
    }
    Ok(())
}

/// One period against the two before it, ready to draw.
struct Compared {
    title: String,
    by: Breakdown,
    /// The compared periods' labels, oldest first (two when a year earlier is
    /// the period before).
    periods: Vec<String>,
    /// Each series' name and hires per period, most hires in the period first.
    rows: Vec<(String, Vec<i64>)>,
    /// How many series had hires, before the cap.
    all: usize,
}

impl Compared {
    fn new(period: Span, by: Breakdown, mut rows: Vec<Comparison>) -> Self {
        let label = |span: Span| bucket_label(span.from, span.granularity);
        let previous = period.shifted(-period.granularity.months());
        let year_earlier = period.shifted(-12);
        let mut periods = vec![label(year_earlier), label(previous), label(period)];
        if previous == year_earlier {
            periods.remove(0);
        }
        let title = match &periods[..] {
            [earlier, before, now] => format!("Hires in {now} against {before} and {earlier}"),
            _ => format!("Hires in {} against {}", label(period), label(previous)),
        };
        rows.sort_by_key(|c| std::cmp::Reverse(c.hires));
        let all = rows.len();
        let two = periods.len() == 2;
        let rows = rows
            .into_iter()
            .take(MAX_COMPARED)
            .map(|c| {
                let values = if two {
                    vec![c.previous, c.hires]
                } else {
                    vec![c.year_earlier, c.previous, c.hires]
                };
                (series_name(&c.key), values)
            })
            .collect();
        Compared {
            title: format!("{title}{}", by_suffix(by)),
            by,
            periods,
            rows,
            all,
        }
    }

    /// Hires per period, over every series shown.
    fn totals(&self) -> Vec<i64> {
        (0..self.periods.len())
            .map(|p| self.rows.iter().map(|(_, v)| v[p]).sum())
            .collect()
    }
}

impl Drawing for Compared {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        area.fill(&WHITE)?;
        if self.totals().iter().all(|&t| t == 0) {
            let message = format!("No hires in {}", self.periods.join(" or "));
            return charts::no_data(area, &self.title, &message);
        }
        draw_compared(area, self)
    }

    fn title(&self) -> &str {
        &self.title
    }

    fn summary(&self) -> String {
        let totals = self.totals();
        if totals.iter().all(|&t| t == 0) {
            return format!("No hires in {}.", self.periods.join(" or "));
        }
        let now = self.periods.len() - 1;
        let before: Vec<String> = (0..now)
            .rev()
            .map(|p| format!("{} in {}", totals[p], self.periods[p]))
            .collect();
        let mut text = format!(
            "{} hires in {}, against {}",
            totals[now],
            self.periods[now],
            before.join(" and ")
        );
        if self.by != Breakdown::Total {
            let noun = series_noun(self.by);
            text += &format!(", in {} {noun}", self.all);
            if let Some((name, values)) = self.rows.first().filter(|(_, v)| v[now] > 0) {
                text += &format!(
                    "; the most in {} in {name} ({})",
                    self.periods[now], values[now]
                );
            }
        }
        text.push('.');
        if self.all > self.rows.len() {
            text += &format!(
                " Shown: the {} {} with the most hires in {}, of {}.",
                self.rows.len(),
                series_noun(self.by),
                self.periods[now],
                self.all
            );
        }
        text
    }
}

fn draw_compared<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    drawing: &Compared,
) -> DrawResult<DB> {
    let names: Vec<&str> = drawing.rows.iter().map(|(n, _)| n.as_str()).collect();
    let max = drawing
        .rows
        .iter()
        .flat_map(|(_, v)| v.iter().copied())
        .max()
        .unwrap_or(1);
    let n = drawing.rows.len();
    let (mut chart, label_font) = charts::department_axes(area, &drawing.title, &names, max)?;
    let colours = &PERIOD_COLOURS[PERIOD_COLOURS.len() - drawing.periods.len()..];
    for (label, &colour) in drawing.periods.iter().zip(colours) {
        chart
            .draw_series(std::iter::empty::<Rectangle<(f64, SegmentValue<usize>)>>())?
            .label(label)
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], colour.filled()));
    }
    let slices = drawing.periods.len();
    for (index, (_, values)) in drawing.rows.iter().enumerate() {
        for (slice, (&value, &fill)) in values.iter().zip(colours).enumerate() {
            let bar = Bar {
                row: n - 1 - index,
                rows: n,
                start: 0,
                end: value,
                fill,
                slice: (slice, slices),
            };
            if value > 0 {
                let (left, top, right, bottom) = bar.pixels(&chart);
                area.draw(&Rectangle::new(
                    [(left, top), (right, bottom)],
                    fill.filled(),
                ))?;
            }
            // The smallest readable size: values fit in more bars.
            let at = ValueAt::End { avoid: i32::MIN };
            charts::draw_bar_value(area, &chart, &bar, MIN_FONT, at)?;
        }
    }
    charts::draw_legend(&mut chart, label_font, SeriesLabelPosition::LowerRight)
}
