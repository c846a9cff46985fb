//! Charts of the reports, drawn with plotters as PNG or SVG.
//!
//! Charts read the same service functions as the report fields, so a chart
//! always shows what the report says. The font is embedded (DejaVu Sans, see
//! `assets/fonts`), so no system font library is needed, and the same data
//! always gives a byte-identical chart.

use std::{ops::RangeInclusive, sync::Once};

use plotters::{
    coord::{
        Shift,
        ranged1d::{SegmentValue, SegmentedCoord},
        types::{RangedCoordf64, RangedCoordusize},
    },
    prelude::*,
    style::{FontStyle, register_font},
};
use sea_orm::ConnectionTrait;

use super::reports::{self, DepartmentHires};
use crate::error::AppError;

/// Widths and heights a chart may have, in pixels.
pub const SIZES: RangeInclusive<u32> = 200..=4000;

const FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
static REGISTER_FONT: Once = Once::new();

/// The image format of a chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum)]
pub enum ChartFormat {
    /// A PNG bitmap.
    Png,
    /// An SVG drawing.
    Svg,
}

/// A rendered chart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chart {
    /// `image/png` or `image/svg+xml`.
    pub mime_type: &'static str,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// The encoded image.
    pub bytes: Vec<u8>,
}

const QUARTER_COLOURS: [RGBColor; 4] = [
    RGBColor(0x4e, 0x79, 0xa7),
    RGBColor(0xf2, 0x8e, 0x2b),
    RGBColor(0x59, 0xa1, 0x4f),
    RGBColor(0xe1, 0x57, 0x59),
];
const BAR: RGBColor = RGBColor(0xa0, 0xae, 0xc0);
const ABOVE: RGBColor = RGBColor(0xe1, 0x57, 0x59);
const MEAN: RGBColor = RGBColor(0x20, 0x20, 0x20);

fn check_size(width: u32, height: u32) -> Result<(), AppError> {
    if SIZES.contains(&width) && SIZES.contains(&height) {
        Ok(())
    } else {
        Err(AppError::bad_input(
            "BAD_USER_INPUT",
            format!(
                "width and height must be from {} to {} pixels, got {width}×{height}",
                SIZES.start(),
                SIZES.end()
            ),
        ))
    }
}

/// Hires per department in `year`, stacked by quarter.
#[tracing::instrument(skip(db))]
pub async fn hires_by_quarter_chart(
    db: &impl ConnectionTrait,
    year: i32,
    width: u32,
    height: u32,
    format: ChartFormat,
) -> Result<Chart, AppError> {
    check_size(width, height)?;
    let rows = reports::hires_by_quarter(db, year, None, None).await?;
    // Rows come ordered by department name; sum their jobs per department.
    let mut departments: Vec<(String, [i64; 4])> = Vec::new();
    for row in rows {
        let quarters = [row.q1, row.q2, row.q3, row.q4];
        match departments.last_mut() {
            Some((name, sums)) if *name == row.department => {
                for (sum, q) in sums.iter_mut().zip(quarters) {
                    *sum += q;
                }
            }
            _ => departments.push((row.department, quarters)),
        }
    }
    let drawing = Stacked {
        title: format!("Hires per department by quarter, {year}"),
        year,
        departments,
    };
    render(format, width, height, &drawing)
}

/// Hires per department in `year` as bars, the mean as a line, and the
/// departments above the mean highlighted.
#[tracing::instrument(skip(db))]
pub async fn departments_above_mean_chart(
    db: &impl ConnectionTrait,
    year: i32,
    width: u32,
    height: u32,
    format: ChartFormat,
) -> Result<Chart, AppError> {
    check_size(width, height)?;
    let hired = reports::department_hires(db, year).await?;
    let report = reports::above_mean(year, hired.clone());
    let drawing = AboveMean {
        title: format!("Departments above the mean, {year}"),
        year,
        departments: hired,
        mean: report.mean,
    };
    render(format, width, height, &drawing)
}

type DrawResult<DB> = Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

/// Something that draws itself on any plotters backend.
trait Drawing {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult<DB>;
}

/// Hires per department, stacked by quarter.
struct Stacked {
    title: String,
    year: i32,
    departments: Vec<(String, [i64; 4])>,
}

impl Drawing for Stacked {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        draw_stacked(area, &self.title, self.year, &self.departments)
    }
}

/// Hires per department against the mean.
struct AboveMean {
    title: String,
    year: i32,
    departments: Vec<DepartmentHires>,
    mean: f64,
}

impl Drawing for AboveMean {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        draw_above_mean(area, &self.title, self.year, &self.departments, self.mean)
    }
}

fn render(
    format: ChartFormat,
    width: u32,
    height: u32,
    drawing: &impl Drawing,
) -> Result<Chart, AppError> {
    REGISTER_FONT.call_once(|| {
        if register_font("sans-serif", FontStyle::Normal, FONT).is_err() {
            tracing::error!("the embedded chart font could not be loaded");
        }
    });
    let failed = |err: String| AppError::Internal(anyhow::anyhow!("drawing a chart failed: {err}"));
    match format {
        ChartFormat::Png => {
            let mut pixels = vec![0u8; width as usize * height as usize * 3];
            {
                let area =
                    BitMapBackend::with_buffer(&mut pixels, (width, height)).into_drawing_area();
                drawing.draw(&area).map_err(|e| failed(e.to_string()))?;
                area.present().map_err(|e| failed(e.to_string()))?;
            }
            let mut bytes = Vec::new();
            let mut encoder = png::Encoder::new(&mut bytes, width, height);
            encoder.set_color(png::ColorType::Rgb);
            encoder.set_depth(png::BitDepth::Eight);
            let mut writer = encoder.write_header().map_err(|e| failed(e.to_string()))?;
            writer
                .write_image_data(&pixels)
                .map_err(|e| failed(e.to_string()))?;
            writer.finish().map_err(|e| failed(e.to_string()))?;
            Ok(Chart {
                mime_type: "image/png",
                width,
                height,
                bytes,
            })
        }
        ChartFormat::Svg => {
            let mut svg = String::new();
            {
                let area = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
                drawing.draw(&area).map_err(|e| failed(e.to_string()))?;
                area.present().map_err(|e| failed(e.to_string()))?;
            }
            Ok(Chart {
                mime_type: "image/svg+xml",
                width,
                height,
                bytes: svg.into_bytes(),
            })
        }
    }
}

/// Font sizes that scale with the chart.
fn font_size(area_height: u32, share: f64, least: f64) -> f64 {
    (f64::from(area_height) * share).max(least)
}

fn no_data<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    year: i32,
) -> DrawResult<DB> {
    let (width, height) = area.dim_in_pixel();
    area.draw(&Text::new(
        title.to_owned(),
        (20, 20),
        ("sans-serif", font_size(height, 0.05, 14.0)).into_font(),
    ))?;
    let message = format!("No hires in {year}");
    let size = font_size(height, 0.06, 14.0);
    area.draw(&Text::new(
        message,
        ((width / 2) as i32, (height / 2) as i32),
        ("sans-serif", size)
            .into_font()
            .color(&BLACK)
            .pos(plotters::style::text_anchor::Pos::new(
                plotters::style::text_anchor::HPos::Center,
                plotters::style::text_anchor::VPos::Center,
            )),
    ))
}

/// The upper edge of row `row` of `n`.
fn segment_end(row: usize, n: usize) -> SegmentValue<usize> {
    if row + 1 < n {
        SegmentValue::Exact(row + 1)
    } else {
        SegmentValue::Last
    }
}

/// The label area width that fits the longest name.
fn label_width(names: &[&str], font: f64) -> u32 {
    let longest = names.iter().map(|n| n.chars().count()).max().unwrap_or(0) as f64;
    (longest * font * 0.6 + 12.0) as u32
}

/// Horizontal department axes: hires along x, one row per department down y.
type DepartmentChart<'a, DB> =
    ChartContext<'a, DB, Cartesian2d<RangedCoordf64, SegmentedCoord<RangedCoordusize>>>;

/// Caption, axes and department labels (the first name at the top); returns the
/// chart and the label font size.
fn department_axes<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    title: &str,
    names: &[&str],
    max: i64,
) -> Result<(DepartmentChart<'a, DB>, f64), DrawingAreaErrorKind<DB::ErrorType>> {
    let (_, height) = area.dim_in_pixel();
    let label_font = font_size(height, 0.022, 11.0);
    let n = names.len();
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", font_size(height, 0.045, 14.0)))
        .margin(16)
        .x_label_area_size(font_size(height, 0.06, 24.0) as u32)
        .y_label_area_size(label_width(names, label_font))
        // Integer ranges are inclusive in plotters: 0..n-1 gives n rows. The
        // extra width keeps the legend clear of the longest bar.
        .build_cartesian_2d(0f64..max.max(1) as f64 * 1.35, (0..n - 1).into_segmented())?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(n)
        .y_label_style(("sans-serif", label_font))
        .x_label_style(("sans-serif", label_font))
        .x_desc("hires")
        .x_label_formatter(&|v| format!("{v:.0}"))
        .light_line_style(RGBColor(0xee, 0xee, 0xee))
        .y_label_formatter(&|value| match value {
            SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => names
                .get(n.saturating_sub(1 + *i))
                .map(|s| (*s).to_owned())
                .unwrap_or_default(),
            SegmentValue::Last => String::new(),
        })
        .draw()?;
    Ok((chart, label_font))
}

fn draw_legend<'a, DB: DrawingBackend + 'a>(
    chart: &mut DepartmentChart<'a, DB>,
    font: f64,
) -> DrawResult<DB> {
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .label_font(("sans-serif", font))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
}

fn draw_stacked<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    year: i32,
    departments: &[(String, [i64; 4])],
) -> DrawResult<DB> {
    area.fill(&WHITE)?;
    if departments.is_empty() {
        return no_data(area, title, year);
    }
    let names: Vec<&str> = departments.iter().map(|(n, _)| n.as_str()).collect();
    let max = departments
        .iter()
        .map(|(_, q)| q.iter().sum::<i64>())
        .max()
        .unwrap_or(1);
    let n = departments.len();
    let (mut chart, label_font) = department_axes(area, title, &names, max)?;
    for quarter in 0..4 {
        let colour = QUARTER_COLOURS[quarter];
        chart
            .draw_series(departments.iter().enumerate().map(|(index, (_, q))| {
                let row = n - 1 - index;
                let start: i64 = q[..quarter].iter().sum();
                let end = start + q[quarter];
                let mut bar = Rectangle::new(
                    [
                        (start as f64, SegmentValue::Exact(row)),
                        (end as f64, segment_end(row, n)),
                    ],
                    colour.filled(),
                );
                bar.set_margin(3, 3, 0, 0);
                bar
            }))?
            .label(format!("Q{}", quarter + 1))
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], colour.filled()));
    }
    draw_legend(&mut chart, label_font)
}

fn draw_above_mean<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    year: i32,
    departments: &[DepartmentHires],
    mean: f64,
) -> DrawResult<DB> {
    area.fill(&WHITE)?;
    if departments.is_empty() {
        return no_data(area, title, year);
    }
    let names: Vec<&str> = departments.iter().map(|d| d.department.as_str()).collect();
    let max = departments.iter().map(|d| d.hired).max().unwrap_or(1);
    let n = departments.len();
    let (mut chart, label_font) = department_axes(area, title, &names, max)?;
    let bars = |above: bool| {
        departments
            .iter()
            .enumerate()
            .filter(move |(_, d)| (d.hired as f64 > mean) == above)
            .map(move |(index, d)| {
                let row = n - 1 - index;
                let colour = if above { ABOVE } else { BAR };
                let mut bar = Rectangle::new(
                    [
                        (0.0, SegmentValue::Exact(row)),
                        (d.hired as f64, segment_end(row, n)),
                    ],
                    colour.filled(),
                );
                bar.set_margin(3, 3, 0, 0);
                bar
            })
    };
    chart
        .draw_series(bars(true))?
        .label("above the mean")
        .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], ABOVE.filled()));
    chart
        .draw_series(bars(false))?
        .label("at or below the mean")
        .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], BAR.filled()));
    chart
        .draw_series(std::iter::once(PathElement::new(
            vec![(mean, SegmentValue::Exact(0)), (mean, SegmentValue::Last)],
            MEAN.stroke_width(2),
        )))?
        .label(format!("mean {mean:.1}"))
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 10, y)], MEAN.stroke_width(2)));
    draw_legend(&mut chart, label_font)
}
