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

/// Width, height and the number of distinct colours of a PNG.
fn inspect_png(bytes: &[u8]) -> (u32, u32, usize) {
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = decoder.read_info().expect("a PNG");
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut pixels).expect("a frame");
    let colours: HashSet<&[u8]> = pixels[..info.buffer_size()].chunks(3).collect();
    (info.width, info.height, colours.len())
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
    for chart in ["q", "m"] {
        let chart = &response["data"][chart];
        assert_eq!(chart["mimeType"], "image/png");
        assert_eq!(
            (chart["width"].clone(), chart["height"].clone()),
            (800.into(), 500.into())
        );
        let bytes = STANDARD.decode(chart["base64"].as_str().unwrap()).unwrap();
        let (width, height, colours) = inspect_png(&bytes);
        assert_eq!((width, height), (800, 500));
        // White background, black text, the bar colours and anti-aliased edges.
        assert!(colours > 10, "{colours} colours: the image looks blank");
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
        let svg =
            String::from_utf8(STANDARD.decode(chart["base64"].as_str().unwrap()).unwrap()).unwrap();
        let document = roxmltree::Document::parse(&svg).expect("well-formed SVG");
        assert_eq!(document.root_element().tag_name().name(), "svg");
        assert!(svg.contains(title), "no title in the SVG");
        assert!(
            svg.contains("Q1") || svg.contains("mean"),
            "no legend in the SVG"
        );
    }
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
    the_same_data_gives_the_same_bytes,
    a_year_without_data_gives_a_chart_that_says_so,
    sizes_outside_the_bounds_are_refused,
);
