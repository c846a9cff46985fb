//! Charts of the reports, drawn with plotters as SVG, and rasterised to PNG
//! with resvg.
//!
//! Charts read the same service functions as the report fields, so a chart
//! always shows what the report says. Every chart is drawn once, as SVG; a PNG
//! is that SVG rendered by resvg, which shapes text with kerning, so both
//! formats have the same layout. The font is embedded (DejaVu Sans, see
//! `assets/fonts`) and is the only font resvg knows, so no system font library
//! is needed, and the same data always gives a byte-identical chart.

use std::{
    ops::RangeInclusive,
    sync::{Arc, LazyLock, Once},
};

use plotters::{
    coord::{
        Shift,
        ranged1d::{SegmentValue, SegmentedCoord},
        types::{RangedCoordf64, RangedCoordusize},
    },
    prelude::*,
    style::{
        FontStyle, register_font,
        text_anchor::{HPos, Pos, VPos},
    },
};
use resvg::{tiny_skia, usvg};
use sea_orm::ConnectionTrait;

use super::reports::{self, DepartmentHires};
use crate::error::AppError;

/// Widths and heights a chart may have, in pixels.
pub const SIZES: RangeInclusive<u32> = 200..=4000;

const FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
static REGISTER_FONT: Once = Once::new();
/// The family name of the embedded font.
const FONT_NAME: &str = "DejaVu Sans";
/// The `font-family` of every text in the SVG: the embedded font first, then
/// what a browser without it should use.
pub(super) const FAMILY: &str = "DejaVu Sans, Verdana, sans-serif";
/// The smallest font size, in plotters units. plotters writes `size / 1.24` as
/// the SVG `font-size`, so this gives 12.1 px.
pub(super) const MIN_FONT: f64 = 15.0;
/// The font database of resvg: the embedded font only, never system fonts.
static FONTS: LazyLock<Arc<usvg::fontdb::Database>> = LazyLock::new(|| {
    let mut fonts = usvg::fontdb::Database::new();
    fonts.load_font_data(FONT.to_vec());
    fonts.set_sans_serif_family(FONT_NAME);
    Arc::new(fonts)
});

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

/// The Okabe–Ito palette, safe for the common kinds of colour blindness: the
/// one source of every colour of bars and series.
pub const PALETTE: [RGBColor; 8] = [
    RGBColor(0xe6, 0x9f, 0x00), // orange
    RGBColor(0x56, 0xb4, 0xe9), // sky blue
    RGBColor(0x00, 0x9e, 0x73), // bluish green
    RGBColor(0xf0, 0xe4, 0x42), // yellow
    RGBColor(0x00, 0x72, 0xb2), // blue
    RGBColor(0xd5, 0x5e, 0x00), // vermillion
    RGBColor(0xcc, 0x79, 0xa7), // reddish purple
    RGBColor(0x00, 0x00, 0x00), // black
];
const QUARTER_COLOURS: [RGBColor; 4] = [PALETTE[4], PALETTE[0], PALETTE[2], PALETTE[6]];
const BAR: RGBColor = PALETTE[1];
const ABOVE: RGBColor = PALETTE[5];
const MEAN: RGBColor = PALETTE[7];

/// Black or white, whichever reads better on `fill` (WCAG relative luminance).
pub(super) fn ink(fill: RGBColor) -> RGBColor {
    let linear = |c: u8| {
        let c = f64::from(c) / 255.0;
        if c <= 0.039_28 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    let luminance = 0.2126 * linear(fill.0) + 0.7152 * linear(fill.1) + 0.0722 * linear(fill.2);
    // The luminance where black and white have the same contrast.
    if luminance > 0.179 { BLACK } else { WHITE }
}

/// Refuses a width or height outside [`SIZES`].
pub(super) fn check_size(width: u32, height: u32) -> Result<(), AppError> {
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

/// What drawing on a plotters backend gives.
pub(super) type DrawResult<DB> =
    Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

/// Something that draws itself on any plotters backend.
pub(super) trait Drawing {
    /// Draws the chart on `area`.
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult<DB>;
    /// The chart's title, also the SVG `<title>`.
    fn title(&self) -> &str;
    /// What the chart shows in one line of text, the SVG `<desc>`.
    fn summary(&self) -> String;
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

    fn title(&self) -> &str {
        &self.title
    }

    fn summary(&self) -> String {
        let year = self.year;
        let Some((top, top_quarters)) = self
            .departments
            .iter()
            .max_by_key(|(name, q)| (q.iter().sum::<i64>(), std::cmp::Reverse(name.as_str())))
        else {
            return format!("No hires in {year}.");
        };
        let mut quarters = [0i64; 4];
        for (_, q) in &self.departments {
            for (sum, hires) in quarters.iter_mut().zip(q) {
                *sum += hires;
            }
        }
        let [q1, q2, q3, q4] = quarters;
        format!(
            "{} hires in {year} in {} departments: Q1 {q1}, Q2 {q2}, Q3 {q3}, Q4 {q4}; \
             the most in {top} ({}).",
            quarters.iter().sum::<i64>(),
            self.departments.len(),
            top_quarters.iter().sum::<i64>(),
        )
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

    fn title(&self) -> &str {
        &self.title
    }

    fn summary(&self) -> String {
        let year = self.year;
        if self.departments.is_empty() {
            return format!("No hires in {year}.");
        }
        let above: Vec<String> = self
            .departments
            .iter()
            .filter(|d| d.hired as f64 > self.mean)
            .map(|d| format!("{} ({})", d.department, d.hired))
            .collect();
        format!(
            "{} hires in {year} in {} departments, a mean of {:.1}; above the mean: {}.",
            self.departments.iter().map(|d| d.hired).sum::<i64>(),
            self.departments.len(),
            self.mean,
            if above.is_empty() {
                "none".to_owned()
            } else {
                above.join(", ")
            },
        )
    }
}

/// `drawing` as an SVG with its `<title>` and `<desc>`, or that SVG as a PNG.
pub(super) fn render(
    format: ChartFormat,
    width: u32,
    height: u32,
    drawing: &impl Drawing,
) -> Result<Chart, AppError> {
    REGISTER_FONT.call_once(|| {
        // plotters measures text with the font registered under the family name.
        for name in [FAMILY, "sans-serif"] {
            if register_font(name, FontStyle::Normal, FONT).is_err() {
                tracing::error!("the embedded chart font could not be loaded");
            }
        }
    });
    let failed = |err: String| AppError::Internal(anyhow::anyhow!("drawing a chart failed: {err}"));
    let mut svg = String::new();
    {
        let area = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        drawing.draw(&area).map_err(|e| failed(e.to_string()))?;
        area.present().map_err(|e| failed(e.to_string()))?;
    }
    let svg = with_title(&svg, drawing.title(), &drawing.summary());
    let (mime_type, bytes) = match format {
        ChartFormat::Svg => ("image/svg+xml", svg.into_bytes()),
        ChartFormat::Png => ("image/png", rasterise(&svg, width, height).map_err(failed)?),
    };
    Ok(Chart {
        mime_type,
        width,
        height,
        bytes,
    })
}

/// `svg` with `<title>` and `<desc>` right after its opening `<svg …>` tag, for
/// screen readers.
fn with_title(svg: &str, title: &str, summary: &str) -> String {
    let end = svg
        .find("<svg")
        .and_then(|start| svg[start..].find('>').map(|len| start + len + 1))
        .unwrap_or(0);
    format!(
        "{}\n<title>{}</title>\n<desc>{}</desc>{}",
        &svg[..end],
        xml_escape(title),
        xml_escape(summary),
        &svg[end..]
    )
}

/// `text` as XML character data or attribute value.
fn xml_escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&apos;"),
            c => escaped.push(c),
        }
    }
    escaped
}

/// The SVG rendered by resvg (text shaped with the embedded font only) as an
/// RGB PNG.
fn rasterise(svg: &str, width: u32, height: u32) -> Result<Vec<u8>, String> {
    let options = usvg::Options {
        font_family: FONT_NAME.to_owned(),
        fontdb: Arc::clone(&FONTS),
        ..usvg::Options::default()
    };
    let tree = usvg::Tree::from_str(svg, &options).map_err(|e| e.to_string())?;
    let mut pixmap =
        tiny_skia::Pixmap::new(width, height).ok_or_else(|| "an empty image".to_owned())?;
    pixmap.fill(tiny_skia::Color::WHITE);
    resvg::render(
        &tree,
        tiny_skia::Transform::identity(),
        &mut pixmap.as_mut(),
    );
    // The background is opaque white, so every pixel is opaque: drop alpha.
    let pixels: Vec<u8> = pixmap
        .data()
        .chunks_exact(4)
        .flat_map(|pixel| [pixel[0], pixel[1], pixel[2]])
        .collect();
    let mut bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut bytes, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    // fdeflate: a chart's flat colours compress well at a fraction of the
    // default level's time (which was a quarter of a PNG chart's cost).
    encoder.set_compression(png::Compression::Fast);
    let mut writer = encoder.write_header().map_err(|e| e.to_string())?;
    writer
        .write_image_data(&pixels)
        .map_err(|e| e.to_string())?;
    writer.finish().map_err(|e| e.to_string())?;
    Ok(bytes)
}

/// Font sizes that scale with the chart, never under [`MIN_FONT`].
pub(super) fn font_size(area_height: u32, share: f64, least: f64) -> f64 {
    (f64::from(area_height) * share).max(least).max(MIN_FONT)
}

/// The title, and `message` in the middle: a chart without data.
pub(super) fn no_data<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    message: &str,
) -> DrawResult<DB> {
    let (width, height) = area.dim_in_pixel();
    area.draw(&Text::new(
        title.to_owned(),
        (20, 20),
        (FAMILY, font_size(height, 0.05, 18.0)).into_font(),
    ))?;
    let size = font_size(height, 0.06, 18.0);
    area.draw(&Text::new(
        message.to_owned(),
        ((width / 2) as i32, (height / 2) as i32),
        (FAMILY, size)
            .into_font()
            .color(&BLACK)
            .pos(Pos::new(HPos::Center, VPos::Center)),
    ))
}

/// `text` cut short with "…" to fit `width` pixels.
pub(super) fn fitted<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    font: &TextStyle,
    width: u32,
) -> Result<String, DrawingAreaErrorKind<DB::ErrorType>> {
    // plotters measures text at its nominal size, but the SVG draws it at
    // `size / 1.24` (see [`MIN_FONT`]); 1.2 keeps some room for error.
    let fits = |text: &str| -> Result<bool, DrawingAreaErrorKind<DB::ErrorType>> {
        let measured = area.estimate_text_size(text, font)?.0;
        Ok(f64::from(measured) <= f64::from(width) * 1.2)
    };
    if fits(text)? {
        return Ok(text.to_owned());
    }
    let chars: Vec<char> = text.chars().collect();
    for keep in (1..chars.len()).rev() {
        let cut = format!("{}…", chars[..keep].iter().collect::<String>().trim_end());
        if fits(&cut)? {
            return Ok(cut);
        }
    }
    Ok("…".to_owned())
}

/// The upper edge of row `row` of `n`.
fn segment_end(row: usize, n: usize) -> SegmentValue<usize> {
    if row + 1 < n {
        SegmentValue::Exact(row + 1)
    } else {
        SegmentValue::Last
    }
}

/// The label area width that fits the longest name, but at most 40% of the
/// chart's `width` (in narrow charts long names are cut at the left edge).
fn label_width(names: &[&str], font: f64, width: u32) -> u32 {
    let longest = names.iter().map(|n| n.chars().count()).max().unwrap_or(0) as f64;
    ((longest * font * 0.6 + 12.0) as u32).min(width * 2 / 5)
}

/// Horizontal department axes: hires along x, one row per department down y.
pub(super) type DepartmentChart<'a, DB> =
    ChartContext<'a, DB, Cartesian2d<RangedCoordf64, SegmentedCoord<RangedCoordusize>>>;

/// Caption, axes and department labels (the first name at the top); returns the
/// chart and the label font size.
pub(super) fn department_axes<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    title: &str,
    names: &[&str],
    max: i64,
) -> Result<(DepartmentChart<'a, DB>, f64), DrawingAreaErrorKind<DB::ErrorType>> {
    let (width, height) = area.dim_in_pixel();
    let label_font = font_size(height, 0.025, MIN_FONT);
    let n = names.len();
    let caption: TextStyle = (FAMILY, font_size(height, 0.045, 18.0)).into();
    let title = fitted(area, title, &caption, width.saturating_sub(32))?;
    let mut chart = ChartBuilder::on(area)
        .caption(title, caption)
        .margin(16)
        .x_label_area_size((label_font * 2.6) as u32)
        .y_label_area_size(label_width(names, label_font, width))
        // Integer ranges are inclusive in plotters: 0..n-1 gives n rows. The
        // extra width keeps the legend clear of the longest bar.
        .build_cartesian_2d(0f64..max.max(1) as f64 * 1.35, (0..n - 1).into_segmented())?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(n)
        .y_label_style((FAMILY, label_font))
        .x_label_style((FAMILY, label_font))
        .axis_desc_style((FAMILY, label_font))
        .x_desc("hires")
        .x_label_formatter(&|v| format!("{v:.0}"))
        // Only the labelled grid lines: the light ones in between added
        // clutter, and a third of a PNG's rasterising time.
        .x_max_light_lines(0)
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

/// The legend of the series drawn on `chart`, at `position` in the plot.
pub(super) fn draw_legend<'a, DB: DrawingBackend + 'a>(
    chart: &mut DepartmentChart<'a, DB>,
    font: f64,
    position: SeriesLabelPosition,
) -> DrawResult<DB> {
    chart
        .configure_series_labels()
        .position(position)
        .label_font((FAMILY, font))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
}

/// The pixels bars keep free above and below them in their row.
const BAR_MARGIN: u32 = 3;
/// The space a value keeps from the ends of its bar.
const VALUE_PADDING: i32 = 4;

/// One bar of a department chart: `start..end` hires in row `row` of `rows`
/// (row 0 at the bottom), filling slice `slice.0` of `slice.1` equal slices of
/// the row, counted from the top (`(0, 1)`: the whole row).
pub(super) struct Bar {
    pub(super) row: usize,
    pub(super) rows: usize,
    pub(super) start: i64,
    pub(super) end: i64,
    pub(super) fill: RGBColor,
    pub(super) slice: (usize, usize),
}

impl Bar {
    fn rectangle(&self) -> Rectangle<(f64, SegmentValue<usize>)> {
        let mut bar = Rectangle::new(
            [
                (self.start as f64, SegmentValue::Exact(self.row)),
                (self.end as f64, segment_end(self.row, self.rows)),
            ],
            self.fill.filled(),
        );
        bar.set_margin(BAR_MARGIN, BAR_MARGIN, 0, 0);
        bar
    }

    /// The bar's box in pixels of the whole drawing: left, top, right, bottom.
    /// The slices of a row share its height less a margin above and below
    /// the row, which keeps groups of slices apart.
    pub(super) fn pixels<DB: DrawingBackend>(
        &self,
        chart: &DepartmentChart<'_, DB>,
    ) -> (i32, i32, i32, i32) {
        let (x0, y0) = chart.backend_coord(&(self.start as f64, SegmentValue::Exact(self.row)));
        let (x1, y1) = chart.backend_coord(&(self.end as f64, segment_end(self.row, self.rows)));
        let (slice, slices) = (self.slice.0 as i32, self.slice.1.max(1) as i32);
        let (top, bottom) = (y0.min(y1), y0.max(y1));
        let margin = if slices == 1 {
            BAR_MARGIN as i32
        } else {
            (BAR_MARGIN as i32).max((bottom - top) / 10)
        };
        let (top, bottom) = (top + margin, bottom - margin);
        let at = |i: i32| top + (bottom - top) * i / slices;
        (x0.min(x1), at(slice), x0.max(x1), at(slice + 1))
    }
}

/// Where a value goes in its bar.
#[derive(Clone, Copy)]
pub(super) enum ValueAt {
    /// In the middle of the bar.
    Centre,
    /// At the bar's end, but left of a vertical line at this pixel `x` when it
    /// would cross it.
    End { avoid: i32 },
}

/// The bar's value inside it, when the text fits in the bar; nothing
/// otherwise.
pub(super) fn draw_bar_value<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    chart: &DepartmentChart<'_, DB>,
    bar: &Bar,
    font: f64,
    at: ValueAt,
) -> DrawResult<DB> {
    let value = (bar.end - bar.start).to_string();
    let (left, top, right, bottom) = bar.pixels(chart);
    let anchor = match at {
        ValueAt::Centre => HPos::Center,
        ValueAt::End { .. } => HPos::Right,
    };
    let style = (FAMILY, font)
        .into_font()
        .color(&ink(bar.fill))
        .pos(Pos::new(anchor, VPos::Center));
    let (text_width, text_height) = area.estimate_text_size(&value, &style)?;
    let (text_width, text_height) = (text_width as i32, text_height as i32);
    let x = match at {
        ValueAt::Centre => (left + right) / 2,
        ValueAt::End { avoid } => {
            let x = right - VALUE_PADDING;
            let crosses = x - text_width - VALUE_PADDING < avoid && avoid < right;
            if crosses { avoid - VALUE_PADDING } else { x }
        }
    };
    let text_left = match at {
        ValueAt::Centre => x - text_width / 2,
        ValueAt::End { .. } => x - text_width,
    };
    let fits = text_width + 2 * VALUE_PADDING <= right - left
        && text_left - VALUE_PADDING >= left
        && text_height <= bottom - top;
    if !fits {
        return Ok(());
    }
    area.draw(&Text::new(value, (x, (top + bottom) / 2), style))
}

fn draw_stacked<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    year: i32,
    departments: &[(String, [i64; 4])],
) -> DrawResult<DB> {
    area.fill(&WHITE)?;
    if departments.is_empty() {
        return no_data(area, title, &format!("No hires in {year}"));
    }
    let names: Vec<&str> = departments.iter().map(|(n, _)| n.as_str()).collect();
    let max = departments
        .iter()
        .map(|(_, q)| q.iter().sum::<i64>())
        .max()
        .unwrap_or(1);
    let n = departments.len();
    let (mut chart, label_font) = department_axes(area, title, &names, max)?;
    let bars: Vec<[Bar; 4]> = departments
        .iter()
        .enumerate()
        .map(|(index, (_, q))| {
            std::array::from_fn(|quarter| {
                let start: i64 = q[..quarter].iter().sum();
                Bar {
                    row: n - 1 - index,
                    rows: n,
                    start,
                    end: start + q[quarter],
                    fill: QUARTER_COLOURS[quarter],
                    slice: (0, 1),
                }
            })
        })
        .collect();
    for (quarter, colour) in QUARTER_COLOURS.into_iter().enumerate() {
        chart
            .draw_series(bars.iter().map(|row| row[quarter].rectangle()))?
            .label(format!("Q{}", quarter + 1))
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], colour.filled()));
    }
    for bar in bars.iter().flatten() {
        draw_bar_value(area, &chart, bar, label_font, ValueAt::Centre)?;
    }
    draw_legend(&mut chart, label_font, SeriesLabelPosition::UpperRight)
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
        return no_data(area, title, &format!("No hires in {year}"));
    }
    let names: Vec<&str> = departments.iter().map(|d| d.department.as_str()).collect();
    let max = departments.iter().map(|d| d.hired).max().unwrap_or(1);
    let n = departments.len();
    let (mut chart, label_font) = department_axes(area, title, &names, max)?;
    let bars: Vec<Bar> = departments
        .iter()
        .enumerate()
        .map(|(index, d)| Bar {
            row: n - 1 - index,
            rows: n,
            start: 0,
            end: d.hired,
            fill: if d.hired as f64 > mean { ABOVE } else { BAR },
            slice: (0, 1),
        })
        .collect();
    for (fill, label) in [(ABOVE, "above the mean"), (BAR, "at or below the mean")] {
        chart
            .draw_series(
                bars.iter()
                    .filter(|bar| bar.fill == fill)
                    .map(Bar::rectangle),
            )?
            .label(label)
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], fill.filled()));
    }
    // Values at the bars' ends, kept clear of the mean line.
    let avoid = chart.backend_coord(&(mean, SegmentValue::Exact(0))).0;
    for bar in &bars {
        draw_bar_value(area, &chart, bar, label_font, ValueAt::End { avoid })?;
    }
    chart
        .draw_series(std::iter::once(PathElement::new(
            vec![(mean, SegmentValue::Exact(0)), (mean, SegmentValue::Last)],
            MEAN.stroke_width(2),
        )))?
        .label(format!("mean {mean:.1}"))
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 10, y)], MEAN.stroke_width(2)));
    draw_legend(&mut chart, label_font, SeriesLabelPosition::UpperRight)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_title_and_summary_follow_the_svg_tag_escaped() {
        let svg = "<?xml version=\"1.0\"?>\n<svg width=\"2\" height=\"2\">\n<rect/>\n</svg>\n";
        let titled = with_title(svg, "R&D <2021>", "\"Sales\" & 'Legal'");
        assert_eq!(
            titled,
            "<?xml version=\"1.0\"?>\n<svg width=\"2\" height=\"2\">\n\
             <title>R&amp;D &lt;2021&gt;</title>\n\
             <desc>&quot;Sales&quot; &amp; &apos;Legal&apos;</desc>\n<rect/>\n</svg>\n"
        );
    }

    #[test]
    fn values_are_black_or_white_whichever_reads_better() {
        assert_eq!(ink(PALETTE[4]), WHITE); // blue
        assert_eq!(ink(PALETTE[7]), WHITE); // black
        for light in [0, 1, 2, 3, 5, 6] {
            assert_eq!(ink(PALETTE[light]), BLACK, "palette colour {light}");
        }
    }
}
