//! Chart fields: real images of the reports, on SQLite and PostgreSQL.

mod common;

use std::collections::HashSet;

use base64::{Engine, engine::general_purpose::STANDARD};
use common::{TestDb, execute_json as run, first_error_code};
use serde_json::{Value, json};

const CHARTS: &str = "query($year: Int!, $width: Int, $height: Int, $format: ChartFormat) {
  q: hiresByQuarterChart(year: $year, width: $width, height: $height, format: $format) { mimeType width height base64 dataUrl }
  m: departmentsAboveMeanChart(year: $year, width: $width, height: $height, format: $format) { mimeType width height base64 dataUrl }
}";

async fn seed(t: &TestDb) {
    common::load_generated(t, common::generated(1500, 21, 2021, 2021)).await;
}

/// The Okabe–Ito colours each chart must use: quarters in the first, above
/// and at or below the mean in the second.
const PALETTE: [(&str, &[[u8; 3]]); 2] = [
    (
        "q",
        &[
            [0x00, 0x72, 0xb2],
            [0xe6, 0x9f, 0x00],
            [0x00, 0x9e, 0x73],
            [0xcc, 0x79, 0xa7],
        ],
    ),
    ("m", &[[0xd5, 0x5e, 0x00], [0x56, 0xb4, 0xe9]]),
];

/// Width, height and the distinct colours of an RGB PNG.
fn inspect_png(bytes: &[u8]) -> (u32, u32, HashSet<[u8; 3]>) {
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = decoder.read_info().expect("a PNG");
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut pixels).expect("a frame");
    assert_eq!(info.color_type, png::ColorType::Rgb);
    let colours = pixels[..info.buffer_size()]
        .chunks(3)
        .map(|p| [p[0], p[1], p[2]])
        .collect();
    (info.width, info.height, colours)
}

fn decode_svg(chart: &Value) -> String {
    String::from_utf8(STANDARD.decode(chart["base64"].as_str().unwrap()).unwrap()).unwrap()
}

async fn png_charts_have_the_asked_size_and_real_content(t: TestDb) {
    seed(&t).await;
    let state = t.local_state();
    let response = run(
        &state,
        CHARTS,
        json!({"year": 2021, "width": 800, "height": 500}),
    )
    .await;
    assert_eq!(response["errors"], Value::Null, "{response}");
    for (name, palette) in PALETTE {
        let chart = &response["data"][name];
        assert_eq!(chart["mimeType"], "image/png");
        assert_eq!(
            (chart["width"].clone(), chart["height"].clone()),
            (800.into(), 500.into())
        );
        let bytes = STANDARD.decode(chart["base64"].as_str().unwrap()).unwrap();
        let (width, height, colours) = inspect_png(&bytes);
        assert_eq!((width, height), (800, 500));
        // White background, black text, the bar colours and anti-aliased edges.
        assert!(
            colours.len() > 10,
            "{} colours: the image looks blank",
            colours.len()
        );
        for colour in palette {
            assert!(colours.contains(colour), "{name}: no {colour:02x?} bars");
        }
        assert!(
            chart["dataUrl"]
                .as_str()
                .unwrap()
                .starts_with("data:image/png;base64,")
        );
    }
}

async fn svg_charts_are_well_formed_xml_with_titles(t: TestDb) {
    seed(&t).await;
    let state = t.local_state();
    let response = run(&state, CHARTS, json!({"year": 2021, "format": "SVG"})).await;
    assert_eq!(response["errors"], Value::Null, "{response}");
    for (chart, title) in [
        ("q", "Hires per department by quarter, 2021"),
        ("m", "Departments above the mean, 2021"),
    ] {
        let chart = &response["data"][chart];
        assert_eq!(chart["mimeType"], "image/svg+xml");
        let svg = decode_svg(chart);
        let document = roxmltree::Document::parse(&svg).expect("well-formed SVG");
        let root = document.root_element();
        assert_eq!(root.tag_name().name(), "svg");
        // The title and a text summary come first, for screen readers.
        let mut children = root.children().filter(|n| n.is_element());
        let first = children.next().unwrap();
        assert_eq!(first.tag_name().name(), "title");
        assert_eq!(first.text(), Some(title));
        let desc = children.next().unwrap();
        assert_eq!(desc.tag_name().name(), "desc");
        let summary = desc.text().unwrap();
        assert!(
            summary.contains("2021") && summary.contains("1500 hires"),
            "{summary}"
        );
        assert!(
            svg.contains("Q1") || svg.contains("mean"),
            "no legend in the SVG"
        );
        let texts: Vec<_> = document
            .descendants()
            .filter(|n| n.has_tag_name("text"))
            .collect();
        assert!(texts.len() > 10, "only {} texts", texts.len());
        for text in texts {
            let size: f64 = text.attribute("font-size").unwrap().parse().unwrap();
            assert!(size >= 12.0, "{:?} has font-size {size}", text.text());
            assert!(
                text.attribute("font-family")
                    .unwrap()
                    .starts_with("DejaVu Sans")
            );
        }
    }
    for (name, palette) in PALETTE {
        let svg = decode_svg(&response["data"][name]);
        for [r, g, b] in palette {
            let fill = format!("fill=\"#{r:02X}{g:02X}{b:02X}\"");
            assert!(svg.contains(&fill), "{name}: no {fill}");
        }
    }
}

/// The `<text>` elements of an SVG that are vertically centred (values on bars
/// and department names; tick labels hang below the axis), as (text, x).
fn centred_texts(svg: &str) -> Vec<(String, f64)> {
    let document = roxmltree::Document::parse(svg).unwrap();
    document
        .descendants()
        .filter(|n| n.has_tag_name("text") && n.attribute("dy") == Some("0.5ex"))
        .map(|n| {
            let x = n.attribute("x").unwrap().parse().unwrap();
            (n.text().unwrap_or_default().trim().to_owned(), x)
        })
        .collect()
}

async fn values_are_drawn_on_bars_that_fit_them(t: TestDb) {
    seed(&t).await;
    let state = t.local_state();
    let query = "query($width: Int) {
      report: departmentsAboveMean(year: 2021) { departments { department hired } }
      m: departmentsAboveMeanChart(year: 2021, width: $width, format: SVG) { base64 }
    }";
    let response = run(&state, query, json!({"width": 1000})).await;
    assert_eq!(response["errors"], Value::Null, "{response}");
    let largest = response["data"]["report"]["departments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["hired"].as_i64().unwrap())
        .max()
        .unwrap();
    let svg = decode_svg(&response["data"]["m"]);
    let values = centred_texts(&svg);
    // Department names sit left of the plot; a value sits inside its bar.
    let name_x = values.iter().map(|(_, x)| *x).fold(f64::MAX, f64::min);
    assert!(
        values
            .iter()
            .any(|(text, x)| *text == largest.to_string() && *x > name_x + 50.0),
        "no value {largest} on the largest bar: {values:?}"
    );
    // At the smallest width bars are too short for most values: those are left
    // out, never drawn over the bar's end.
    let numbers = |texts: &[(String, f64)]| {
        texts
            .iter()
            .filter(|(text, _)| text.parse::<i64>().is_ok())
            .count()
    };
    let response = run(&state, query, json!({"width": 200})).await;
    let narrow = centred_texts(&decode_svg(&response["data"]["m"]));
    assert!(numbers(&narrow) < numbers(&values), "{narrow:?}");
}

async fn the_same_data_gives_the_same_bytes(t: TestDb) {
    seed(&t).await;
    let state = t.local_state();
    let first = run(&state, CHARTS, json!({"year": 2021})).await;
    let second = run(&state, CHARTS, json!({"year": 2021})).await;
    assert_eq!(first["data"]["q"]["base64"], second["data"]["q"]["base64"]);
    assert_eq!(first["data"]["m"]["base64"], second["data"]["m"]["base64"]);
}

async fn a_year_without_data_gives_a_chart_that_says_so(t: TestDb) {
    seed(&t).await;
    let state = t.local_state();
    let response = run(&state, CHARTS, json!({"year": 1990, "format": "SVG"})).await;
    assert_eq!(response["errors"], Value::Null, "{response}");
    let svg = String::from_utf8(
        STANDARD
            .decode(response["data"]["q"]["base64"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert!(svg.contains("No hires in 1990"));
}

async fn sizes_outside_the_bounds_are_refused(t: TestDb) {
    let state = t.local_state();
    for (width, height) in [(199, 600), (1000, 4001), (-5, 600)] {
        let response = run(
            &state,
            CHARTS,
            json!({"year": 2021, "width": width, "height": height}),
        )
        .await;
        assert_eq!(
            first_error_code(&response).as_deref(),
            Some("BAD_USER_INPUT"),
            "{response}"
        );
    }
}

const OVER_TIME: &str = "query($from: DateTime!, $to: DateTime!, $granularity: Granularity!, $by: Breakdown!, $departmentIds: [Int!], $style: TrendStyle!, $width: Int, $height: Int, $format: ChartFormat) {
  t: hiresOverTimeChart(from: $from, to: $to, granularity: $granularity, by: $by, departmentIds: $departmentIds, style: $style, width: $width, height: $height, format: $format) { mimeType width height base64 }
}";

const COMPARISON: &str = "query($period: Granularity!, $at: DateTime!, $by: Breakdown!, $width: Int, $height: Int, $format: ChartFormat) {
  rows: hiresComparison(period: $period, at: $at, by: $by) { department hires previous yearEarlier }
  c: hiresComparisonChart(period: $period, at: $at, by: $by, width: $width, height: $height, format: $format) { mimeType width height base64 }
}";

/// Okabe–Ito orange, the colour of the series with the most hires.
const ORANGE: [u8; 3] = [0xe6, 0x9f, 0x00];
/// The grey of "Other".
const OTHER_GREY: &str = "#888888";
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// The over-time chart of 2021 with `settings` on top of the defaults.
fn over_time_2021(settings: Value) -> Value {
    let mut variables = json!({
        "from": "2021-01-01T00:00:00Z",
        "to": "2022-01-01T00:00:00Z",
        "granularity": "MONTH",
        "by": "DEPARTMENT",
        "style": "LINES",
        "format": "SVG",
    });
    for (key, value) in settings.as_object().unwrap() {
        variables[key] = value.clone();
    }
    variables
}

/// The chart `name` of a response without errors, as an SVG document's text.
fn svg_of(response: &Value, name: &str) -> String {
    assert_eq!(response["errors"], Value::Null, "{response}");
    assert_eq!(response["data"][name]["mimeType"], "image/svg+xml");
    decode_svg(&response["data"][name])
}

/// The `<title>` and `<desc>` that open an SVG.
fn title_and_desc(svg: &str) -> (String, String) {
    let document = roxmltree::Document::parse(svg).expect("well-formed SVG");
    let mut children = document
        .root_element()
        .children()
        .filter(|n| n.is_element());
    let title = children.next().unwrap();
    assert_eq!(title.tag_name().name(), "title");
    let desc = children.next().unwrap();
    assert_eq!(desc.tag_name().name(), "desc");
    (
        title.text().unwrap_or_default().to_owned(),
        desc.text().unwrap_or_default().to_owned(),
    )
}

/// Every `<text>` of an SVG as (text, x, font-size), asserting the size is at
/// least 12 px.
fn readable_texts(svg: &str) -> Vec<(String, f64)> {
    let document = roxmltree::Document::parse(svg).unwrap();
    document
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .map(|n| {
            let text = n.text().unwrap_or_default().trim().to_owned();
            let size: f64 = n.attribute("font-size").unwrap().parse().unwrap();
            assert!(size >= 12.0, "{text:?} has font-size {size}");
            (text, n.attribute("x").unwrap().parse().unwrap())
        })
        .collect()
}

/// The time axis' labels ("Jan 2021", "Feb", …) with their x, left to right.
fn month_labels(svg: &str) -> Vec<(String, f64)> {
    readable_texts(svg)
        .into_iter()
        .filter(|(text, _)| {
            MONTHS.iter().any(|m| {
                text == m || (text.starts_with(m) && text[3..].trim().parse::<i32>().is_ok())
            })
        })
        .collect()
}

fn png_of(response: &Value, name: &str) -> (u32, u32, HashSet<[u8; 3]>) {
    assert_eq!(response["errors"], Value::Null, "{response}");
    let chart = &response["data"][name];
    assert_eq!(chart["mimeType"], "image/png");
    inspect_png(&STANDARD.decode(chart["base64"].as_str().unwrap()).unwrap())
}

async fn over_time_charts_decode_as_pngs_of_the_asked_size_in_both_styles_and_every_granularity(
    t: TestDb,
) {
    seed(&t).await;
    let state = t.local_state();
    for style in ["LINES", "STACKED"] {
        for (granularity, from) in [
            ("MONTH", "2021-01-01T00:00:00Z"),
            ("QUARTER", "2021-01-01T00:00:00Z"),
            ("YEAR", "2019-01-01T00:00:00Z"),
        ] {
            let variables = over_time_2021(json!({
                "from": from, "granularity": granularity, "style": style,
                "width": 800, "height": 500, "format": "PNG",
            }));
            let response = run(&state, OVER_TIME, variables).await;
            let (width, height, colours) = png_of(&response, "t");
            assert_eq!((width, height), (800, 500), "{style} {granularity}");
            assert!(colours.len() > 10, "{style} {granularity}: blank");
            assert!(
                colours.contains(&ORANGE),
                "{style} {granularity}: no top series"
            );
        }
    }
}

async fn an_over_time_svg_has_a_title_a_summary_readable_text_and_month_labels(t: TestDb) {
    seed(&t).await;
    let state = t.local_state();
    let response = run(&state, OVER_TIME, over_time_2021(json!({"width": 1400}))).await;
    let svg = svg_of(&response, "t");
    let (title, desc) = title_and_desc(&svg);
    assert_eq!(
        title,
        "Hires per month, Jan 2021 to Dec 2021, by department"
    );
    assert!(
        desc.starts_with("1500 hires from Jan 2021 to Dec 2021 in 12 departments"),
        "{desc}"
    );
    let labels: Vec<String> = month_labels(&svg).into_iter().map(|(t, _)| t).collect();
    let mut expected = vec!["Jan 2021".to_owned()];
    expected.extend(MONTHS[1..].iter().map(|m| (*m).to_owned()));
    assert_eq!(labels, expected);
    // The palette's colours, in lines and markers.
    for colour in ["#E69F00", "#56B4E9", "#009E73"] {
        assert!(svg.contains(&format!("stroke=\"{colour}\"")), "no {colour}");
    }
    // Narrow charts label fewer months, never overlapping.
    let response = run(&state, OVER_TIME, over_time_2021(json!({"width": 400}))).await;
    let narrow = month_labels(&svg_of(&response, "t"));
    assert!(narrow.len() < 12 && narrow[0].0 == "Jan 2021", "{narrow:?}");
    for pair in narrow.windows(2) {
        let half_widths = (pair[0].0.len() + pair[1].0.len()) as f64 * 12.1 * 0.6 / 2.0;
        assert!(pair[1].1 - pair[0].1 > half_widths, "{narrow:?}");
    }
}

async fn more_series_than_colours_are_drawn_as_seven_and_a_grey_other(t: TestDb) {
    seed(&t).await;
    let state = t.local_state();
    let response = run(&state, OVER_TIME, over_time_2021(json!({}))).await;
    let svg = svg_of(&response, "t");
    let (_, desc) = title_and_desc(&svg);
    assert!(
        desc.contains("The 5 departments with the fewest hires are drawn together as Other"),
        "{desc}"
    );
    let texts: Vec<String> = readable_texts(&svg).into_iter().map(|(t, _)| t).collect();
    assert!(texts.iter().any(|t| t == "Other"), "no Other in {texts:?}");
    for colour in [
        "#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7",
    ] {
        assert!(svg.contains(colour), "no {colour}");
    }
    assert!(svg.contains(OTHER_GREY));
    // Stacked: the same series as areas.
    let stacked = run(
        &state,
        OVER_TIME,
        over_time_2021(json!({"style": "STACKED"})),
    )
    .await;
    let stacked = svg_of(&stacked, "t");
    assert!(stacked.contains("<polygon") && stacked.contains(OTHER_GREY));
    // Three departments fit the palette: no "Other".
    let few = over_time_2021(json!({"departmentIds": [1, 2, 3]}));
    let svg = svg_of(&run(&state, OVER_TIME, few).await, "t");
    assert!(!svg.contains(">Other<") && !svg.contains(OTHER_GREY));
    let (_, desc) = title_and_desc(&svg);
    assert!(desc.contains("in 3 departments"), "{desc}");
}

async fn a_comparison_chart_decodes_as_a_png_and_its_svg_shows_the_bar_values(t: TestDb) {
    common::load_generated(&t, common::generated(3000, 22, 2020, 2021)).await;
    let state = t.local_state();
    let variables = json!({"period": "QUARTER", "at": "2021-04-01T00:00:00Z", "by": "DEPARTMENT",
        "width": 800, "height": 500, "format": "PNG"});
    let response = run(&state, COMPARISON, variables).await;
    let (width, height, colours) = png_of(&response, "c");
    assert_eq!((width, height), (800, 500));
    for colour in [[0x00, 0x9e, 0x73], ORANGE, [0x00, 0x72, 0xb2]] {
        assert!(colours.contains(&colour), "no {colour:02x?} bars");
    }
    let variables = json!({"period": "QUARTER", "at": "2021-04-01T00:00:00Z", "by": "DEPARTMENT",
        "width": 1000, "height": 1200, "format": "SVG"});
    let response = run(&state, COMPARISON, variables).await;
    let svg = svg_of(&response, "c");
    let (title, desc) = title_and_desc(&svg);
    assert_eq!(
        title,
        "Hires in 2021 Q2 against 2021 Q1 and 2020 Q2, by department"
    );
    let rows = response["data"]["rows"].as_array().unwrap();
    let sum = |field: &str| rows.iter().map(|r| r[field].as_i64().unwrap()).sum::<i64>();
    let expected = format!(
        "{} hires in 2021 Q2, against {} in 2021 Q1 and {} in 2020 Q2, in 12 departments",
        sum("hires"),
        sum("previous"),
        sum("yearEarlier")
    );
    assert!(desc.starts_with(&expected), "{desc}");
    let texts = readable_texts(&svg);
    for legend in ["2020 Q2", "2021 Q1", "2021 Q2"] {
        assert!(texts.iter().any(|(t, _)| t == legend), "no legend {legend}");
    }
    // Every value of the largest department's bars is written on them.
    let values = centred_texts(&svg);
    let top = rows
        .iter()
        .max_by_key(|r| r["hires"].as_i64().unwrap())
        .unwrap();
    for field in ["hires", "previous", "yearEarlier"] {
        let value = top[field].as_i64().unwrap().to_string();
        assert!(
            values.iter().any(|(text, _)| *text == value),
            "no value {value} ({field}) on a bar: {values:?}"
        );
    }
}

async fn trend_charts_without_hires_say_so(t: TestDb) {
    seed(&t).await;
    let state = t.local_state();
    let variables = over_time_2021(json!({
        "from": "1990-01-01T00:00:00Z", "to": "1991-01-01T00:00:00Z", "by": "TOTAL",
    }));
    let svg = svg_of(&run(&state, OVER_TIME, variables).await, "t");
    assert!(svg.contains("No hires from Jan 1990 to Dec 1990"), "{svg}");
    let variables = json!({"period": "YEAR", "at": "1990-01-01T00:00:00Z", "by": "TOTAL",
        "format": "SVG"});
    let svg = svg_of(&run(&state, COMPARISON, variables).await, "c");
    assert!(svg.contains("No hires in 1989 or 1990"), "{svg}");
}

async fn bad_trend_chart_ranges_are_refused_as_bad_user_input(t: TestDb) {
    let state = t.local_state();
    for (from, to, granularity) in [
        ("2022-01-01T00:00:00Z", "2021-01-01T00:00:00Z", "MONTH"),
        ("2021-02-01T00:00:00Z", "2022-01-01T00:00:00Z", "QUARTER"),
        ("2001-01-01T00:00:00Z", "2022-01-01T00:00:00Z", "MONTH"),
    ] {
        let variables = over_time_2021(json!({"from": from, "to": to, "granularity": granularity}));
        let response = run(&state, OVER_TIME, variables).await;
        assert_eq!(
            first_error_code(&response).as_deref(),
            Some("BAD_USER_INPUT"),
            "{from}..{to} {granularity}: {response}"
        );
    }
    let variables = json!({"period": "QUARTER", "at": "2021-02-01T00:00:00Z", "by": "TOTAL"});
    let response = run(&state, COMPARISON, variables).await;
    assert_eq!(
        first_error_code(&response).as_deref(),
        Some("BAD_USER_INPUT")
    );
    let variables = over_time_2021(json!({"width": 100}));
    let response = run(&state, OVER_TIME, variables).await;
    assert_eq!(
        first_error_code(&response).as_deref(),
        Some("BAD_USER_INPUT")
    );
}

db_tests!(
    png_charts_have_the_asked_size_and_real_content,
    svg_charts_are_well_formed_xml_with_titles,
    values_are_drawn_on_bars_that_fit_them,
    the_same_data_gives_the_same_bytes,
    a_year_without_data_gives_a_chart_that_says_so,
    sizes_outside_the_bounds_are_refused,
    over_time_charts_decode_as_pngs_of_the_asked_size_in_both_styles_and_every_granularity,
    an_over_time_svg_has_a_title_a_summary_readable_text_and_month_labels,
    more_series_than_colours_are_drawn_as_seven_and_a_grey_other,
    a_comparison_chart_decodes_as_a_png_and_its_svg_shows_the_bar_values,
    trend_charts_without_hires_say_so,
    bad_trend_chart_ranges_are_refused_as_bad_user_input,
);
