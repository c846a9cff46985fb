//! Property-based fuzzing (proptest) of the three parsers that take outside
//! input: the CSV row reader, GraphQL input validation, and the Avro restore
//! reader. None may panic on any input. Each property runs a fixed number of
//! cases (`PROPTEST_CASES` overrides it), so CI time stays bounded.

mod common;

use std::sync::{OnceLock, atomic::AtomicU64};

use hiring_analytics::{
    csv::CsvRecords,
    rules::{Dimension, RawRecord, Table, parse_dimension_record, parse_hire_record},
    service::backup::avro::{self, ScanProblem},
};
use proptest::prelude::*;

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(cases),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Lines that look like CSV: fields of quotes, commas, digits, dates, controls and text.
fn csv_like() -> impl Strategy<Value = Vec<u8>> {
    let field = prop_oneof![
        "[0-9]{0,12}",
        "-?[0-9]{1,11}",
        "\"[^\"]{0,8}\"{0,2}[a-z,]{0,4}",
        "20[0-9]{2}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9](\\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})?",
        "\\PC{0,12}",
        "[\\x00-\\x1f\u{feff}\u{fffd}]{0,3}",
    ];
    let line = prop::collection::vec(field, 0..7).prop_map(|fields| fields.join(","));
    prop::collection::vec((line, prop_oneof!["\n", "\r\n", "", "\r"]), 0..12).prop_map(|lines| {
        lines
            .into_iter()
            .flat_map(|(line, end)| format!("{line}{end}").into_bytes())
            .collect()
    })
}

fn read_all(bytes: &[u8]) -> usize {
    let mut records = CsvRecords::new(bytes);
    let mut count = 0;
    while let Some(line) = records.next_line().expect("reading memory cannot fail") {
        let record = RawRecord::from(line);
        let _ = parse_hire_record(&record);
        let _ = parse_dimension_record(Dimension::Departments, &record);
        count += 1;
    }
    count
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn the_csv_reader_never_panics_on_csv_like_input(bytes in csv_like()) {
        read_all(&bytes);
    }

    #[test]
    fn the_csv_reader_never_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..4096)) {
        let lines = bytes.iter().filter(|b| **b == b'\n').count();
        prop_assert!(read_all(&bytes) <= lines + 1);
    }
}

/// A valid Avro object of a few hire rows, written by the backup encoder.
fn valid_hires_file() -> &'static [u8] {
    static FILE: OnceLock<Vec<u8>> = OnceLock::new();
    FILE.get_or_init(|| {
        let (sender, mut receiver) = tokio::sync::mpsc::channel(64);
        let writer = std::thread::spawn(move || {
            let mut encoder = avro::TableEncoder::new(Table::HiredEmployees, sender).unwrap();
            for id in 1..=50 {
                encoder
                    .push(avro::Row::Hire {
                        id,
                        name: format!("Person {id}").into(),
                        micros: 1_600_000_000_000_000 + i64::from(id),
                        department_id: 1 + id % 3,
                        job_id: 1 + id % 5,
                    })
                    .unwrap();
            }
            encoder.finish().unwrap()
        });
        let mut file = Vec::new();
        while let Some(chunk) = receiver.blocking_recv() {
            file.extend_from_slice(&chunk);
        }
        writer.join().unwrap();
        file
    })
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn the_avro_restore_reader_never_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let scan = avro::scan(Table::HiredEmployees, &bytes[..], &AtomicU64::new(0));
        prop_assert!(scan.problem.is_some() || scan.rows == 0);
    }

    #[test]
    fn the_avro_restore_reader_never_panics_on_a_damaged_file(
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let mut bytes = valid_hires_file().to_vec();
        for (at, value) in edits {
            let at = at.index(bytes.len());
            bytes[at] = value;
        }
        if truncate {
            bytes.truncate(cut.index(bytes.len()));
        }
        for table in Table::ALL {
            let scan = avro::scan(table, &bytes[..], &AtomicU64::new(0));
            if scan.problem.is_none() {
                prop_assert_eq!(table, Table::HiredEmployees);
                prop_assert!(scan.rows <= 50);
            } else if let Some(ScanProblem::InvalidRow { code, .. }) = &scan.problem {
                prop_assert!(!code.is_empty());
            }
        }
    }
}

#[test]
fn an_undamaged_file_scans_clean() {
    let scan = avro::scan(
        Table::HiredEmployees,
        valid_hires_file(),
        &AtomicU64::new(0),
    );
    assert_eq!(scan.problem, None);
    assert_eq!(scan.rows, 50);
}

/// GraphQL documents and variables: arbitrary text, and well-formed mutations with arbitrary values.
fn graphql_input() -> impl Strategy<Value = (String, serde_json::Value)> {
    let text = any::<String>();
    let value = prop_oneof![
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(serde_json::Value::from),
        "\\PC{0,300}".prop_map(serde_json::Value::from),
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
    ];
    let row = (value.clone(), value.clone(), value.clone(), value.clone(), value)
        .prop_map(|(id, name, at, department, job)| {
            serde_json::json!({"id": id, "name": name, "hireDatetime": at, "departmentId": department, "jobId": job})
        });
    prop_oneof![
        (text, Just(serde_json::json!({}))),
        prop::collection::vec(row, 0..4).prop_map(|rows| (
            "mutation($rows: [HiredEmployeeInput!]!) { insertHiredEmployees(rows: $rows) { inserted rejected { code } } }".to_owned(),
            serde_json::json!({ "rows": rows }),
        )),
        ("[a-zA-Z{}():$!, \\[\\]\"0-9_.]{0,200}", Just(serde_json::json!({}))),
    ]
}

async fn graphql_input_validation_never_panics_and_always_answers_with_codes(t: common::TestDb) {
    let schema = hiring_analytics::build_schema(&t.local_state());
    let handle = tokio::runtime::Handle::current();
    let mut runner = proptest::test_runner::TestRunner::new(config(256));
    let result = tokio::task::block_in_place(|| {
        runner.run(&graphql_input(), |(query, variables)| {
            let request = async_graphql::Request::new(query)
                .variables(async_graphql::Variables::from_json(variables))
                .data(hiring_analytics::auth::Caller::admin());
            let response = handle.block_on(schema.execute(request));
            for error in &response.errors {
                let code = error
                    .extensions
                    .as_ref()
                    .and_then(|e| e.get("code"))
                    .map(|c| c.to_string());
                prop_assert!(code.is_some(), "an error without a code: {error:?}");
                prop_assert!(
                    code.as_deref() != Some("\"INTERNAL_SERVER_ERROR\""),
                    "input caused an internal error: {error:?}"
                );
            }
            Ok(())
        })
    });
    result.unwrap();
}

db_tests!(graphql_input_validation_never_panics_and_always_answers_with_codes);
