//! Chart fields: real images of the reports, on SQLite and PostgreSQL.

mod common;

use std::collections::HashSet;

use async_graphql::{Request, Variables};
use base64::{Engine, engine::general_purpose::STANDARD};
use common::{TestDb, first_error_code};
use hiring_analytics::{AppState, build_schema};
use serde_json::{Value, json};

async fn run(state: &AppState, query: &str, variables: Value) -> Value {
    let request = Request::new(query).variables(Variables::from_json(variables));
    serde_json::to_value(build_schema(state).execute(request).await).unwrap()
}

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

db_tests!(
    png_charts_have_the_asked_size_and_real_content,
    svg_charts_are_well_formed_xml_with_titles,
    values_are_drawn_on_bars_that_fit_them,
    the_same_data_gives_the_same_bytes,
    a_year_without_data_gives_a_chart_that_says_so,
    sizes_outside_the_bounds_are_refused,
);
