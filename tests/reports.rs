//! The reports, the hire listing and the rollup behind them, on SQLite and PostgreSQL.

mod common;

use std::{
    collections::{BTreeMap, HashMap},
    sync::Arc,
};

use axum::{body::Body, http::Request as HttpRequest};
use chrono::{DateTime, Datelike, Utc};
use common::{
    RollupCells, TestDb, data_of as ok, execute_json as run, raw_sql_aggregate, send, stored_rollup,
};
use hiring_analytics::{
    AppState, app,
    rules::Table,
    service::import::{ImportProgress, import_csv},
};
use sea_orm::{ConnectionTrait, EntityTrait, QueryOrder};
use serde_json::{Value, json};

async fn import_text(t: &TestDb, table: Table, text: String) {
    let summary = import_csv(
        &t.db,
        table,
        &format!("csv:{table}.csv"),
        Box::new(std::io::Cursor::new(text.into_bytes())),
        Arc::new(ImportProgress::default()),
    )
    .await
    .unwrap_or_else(|e| panic!("import failed: {}", e.detail()));
    assert!(summary.read > 0);
}

/// Every stored hire, as (id, name, instant, department, job).
async fn all_hires(t: &TestDb) -> Vec<entity::hired_employee::Model> {
    entity::hired_employee::Entity::find()
        .order_by_asc(entity::hired_employee::Column::Id)
        .all(&t.db)
        .await
        .unwrap()
}

fn quarter(at: &DateTime<Utc>) -> usize {
    (at.month() as usize - 1) / 3
}

/// The quarterly report computed in Rust from the raw rows: independent of the rollup and SQL.
async fn expected_by_quarter(t: &TestDb, year: i32) -> Vec<Value> {
    let departments: HashMap<i32, String> = entity::department::Entity::find()
        .all(&t.db)
        .await
        .unwrap()
        .into_iter()
        .map(|d| (d.id, d.department))
        .collect();
    let jobs: HashMap<i32, String> = entity::job::Entity::find()
        .all(&t.db)
        .await
        .unwrap()
        .into_iter()
        .map(|j| (j.id, j.job))
        .collect();
    // Keyed by the names' bytes: byte order, then ids.
    type Cell = (Vec<u8>, Vec<u8>, i32, i32);
    let mut cells: BTreeMap<Cell, [i64; 4]> = BTreeMap::new();
    for hire in all_hires(t).await {
        if hire.hire_datetime.year() != year {
            continue;
        }
        let key = (
            departments[&hire.department_id].as_bytes().to_vec(),
            jobs[&hire.job_id].as_bytes().to_vec(),
            hire.department_id,
            hire.job_id,
        );
        cells.entry(key).or_default()[quarter(&hire.hire_datetime)] += 1;
    }
    cells
        .into_iter()
        .map(|((_, _, department_id, job_id), q)| {
            json!({
                "departmentId": department_id, "department": departments[&department_id],
                "jobId": job_id, "job": jobs[&job_id],
                "q1": q[0], "q2": q[1], "q3": q[2], "q4": q[3], "total": q.iter().sum::<i64>(),
            })
        })
        .collect()
}

/// The above-mean report computed in Rust from the raw rows.
async fn expected_above_mean(t: &TestDb, year: i32) -> (f64, Vec<Value>) {
    let departments: HashMap<i32, String> = entity::department::Entity::find()
        .all(&t.db)
        .await
        .unwrap()
        .into_iter()
        .map(|d| (d.id, d.department))
        .collect();
    let mut hired: BTreeMap<i32, i64> = BTreeMap::new();
    for hire in all_hires(t).await {
        if hire.hire_datetime.year() == year {
            *hired.entry(hire.department_id).or_default() += 1;
        }
    }
    let mean = if hired.is_empty() {
        0.0
    } else {
        hired.values().sum::<i64>() as f64 / hired.len() as f64
    };
    let mut above: Vec<(i32, i64)> = hired
        .into_iter()
        .filter(|(_, n)| *n as f64 > mean)
        .collect();
    above.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    (
        mean,
        above
            .into_iter()
            .map(|(id, n)| json!({"id": id, "department": departments[&id], "hired": n}))
            .collect(),
    )
}

const BY_QUARTER: &str = "query($year: Int!) { hiresByQuarter(year: $year) { departmentId department jobId job q1 q2 q3 q4 total } }";
const ABOVE_MEAN: &str = "query($year: Int!) { departmentsAboveMean(year: $year) { year mean departments { id department hired } } }";

async fn check_reports(t: &TestDb, state: &AppState, year: i32) {
    let data = ok(state, BY_QUARTER, json!({ "year": year })).await;
    assert_eq!(
        data["hiresByQuarter"],
        Value::Array(expected_by_quarter(t, year).await),
        "hiresByQuarter({year})"
    );
    let data = ok(state, ABOVE_MEAN, json!({ "year": year })).await;
    let (mean, departments) = expected_above_mean(t, year).await;
    let report = &data["departmentsAboveMean"];
    assert_eq!(report["year"], year);
    assert!(
        (report["mean"].as_f64().unwrap() - mean).abs() < 1e-9,
        "{report}"
    );
    assert_eq!(
        report["departments"],
        Value::Array(departments),
        "departmentsAboveMean({year})"
    );
}

/// The rollup as stored (compacted cells plus pending deltas), and as
/// recomputed in Rust from the raw rows.
async fn rollup_and_raw(t: &TestDb) -> (RollupCells, RollupCells) {
    let stored = stored_rollup(&t.db).await;
    let mut raw = BTreeMap::new();
    for hire in all_hires(t).await {
        let key = (
            hire.hire_datetime.year(),
            hire.hire_datetime.month() as i16,
            hire.department_id,
            hire.job_id,
        );
        *raw.entry(key).or_default() += 1;
    }
    (stored, raw)
}

async fn the_reports_on_the_real_samples_match_an_independent_computation(t: TestDb) {
    let Some(data) = common::shared_data_dir() else {
        return;
    };
    common::import_dir(&t, &data).await;
    let state = t.local_state();
    let by_quarter = ok(&state, BY_QUARTER, json!({"year": 2021})).await;
    assert!(by_quarter["hiresByQuarter"].as_array().unwrap().len() > 100);
    check_reports(&t, &state, 2021).await;
    // Independent SQL over the raw table agrees on the totals.
    let sql = "SELECT COUNT(*) AS n FROM hired_employees WHERE hire_datetime >= '2021-01-01' AND hire_datetime < '2022-01-01'";
    let sql = if t.db.get_database_backend() == sea_orm::DbBackend::Postgres {
        sql.replace("'2021-01-01'", "'2021-01-01T00:00:00Z'")
            .replace("'2022-01-01'", "'2022-01-01T00:00:00Z'")
    } else {
        sql.to_owned()
    };
    let row =
        t.db.query_one_raw(sea_orm::Statement::from_string(
            t.db.get_database_backend(),
            sql,
        ))
        .await
        .unwrap()
        .unwrap();
    let in_2021: i64 = row.try_get("", "n").unwrap();
    let total: i64 = by_quarter["hiresByQuarter"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["total"].as_i64().unwrap())
        .sum();
    assert_eq!(total, in_2021);
}

async fn reports_are_right_for_every_year_of_generated_data(t: TestDb) {
    let settings = hiring_analytics::generator::GeneratorSettings {
        bad_fraction: 0.02,
        ..common::generated(4000, 17, 2019, 2023)
    };
    common::load_generated(&t, settings).await;
    let state = t.local_state();
    for year in 2019..=2023 {
        check_reports(&t, &state, year).await;
    }
}

async fn a_year_without_hires_gives_empty_reports_and_a_zero_mean(t: TestDb) {
    let state = t.local_state();
    common::seed_small(&app(state.clone()), None).await;
    let data = ok(&state, BY_QUARTER, json!({"year": 1999})).await;
    assert_eq!(data["hiresByQuarter"], json!([]));
    let data = ok(&state, ABOVE_MEAN, json!({"year": 1999})).await;
    assert_eq!(
        data["departmentsAboveMean"],
        json!({"year": 1999, "mean": 0.0, "departments": []})
    );
    let response = run(&state, BY_QUARTER, json!({"year": 0})).await;
    assert_eq!(
        common::first_error_code(&response).as_deref(),
        Some("BAD_USER_INPUT")
    );
}

async fn names_sort_in_byte_order_on_every_backend(t: TestDb) {
    let state = t.local_state();
    ok(
        &state,
        r#"mutation {
            insertDepartments(rows: [{id: 1, department: "sales"}, {id: 2, department: "Sales"}]) { inserted }
            insertJobs(rows: [{id: 1, job: "General Manager"}, {id: 2, job: "GIS Technical Architect"}, {id: 3, job: "Écrivain"}]) { inserted }
        }"#,
        json!({}),
    )
    .await;
    let mut rows = Vec::new();
    for (id, (department, job)) in [(1, 1), (1, 2), (2, 3), (2, 1)].into_iter().enumerate() {
        rows.push(json!({"id": id as i32 + 1, "name": "X", "hireDatetime": "2021-05-05T00:00:00Z", "departmentId": department, "jobId": job}));
    }
    ok(
        &state,
        "mutation($rows: [HiredEmployeeInput!]!) { insertHiredEmployees(rows: $rows) { inserted } }",
        json!({ "rows": rows }),
    )
    .await;
    let data = ok(&state, BY_QUARTER, json!({"year": 2021})).await;
    let order: Vec<(String, String)> = data["hiresByQuarter"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["department"].as_str().unwrap().to_owned(),
                r["job"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected = [
        ("Sales", "General Manager"),
        ("Sales", "Écrivain"),
        ("sales", "GIS Technical Architect"),
        ("sales", "General Manager"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(d, j)| ((*d).to_owned(), (*j).to_owned()))
        .collect();
    assert_eq!(order, expected);
}

async fn quarters_and_years_are_counted_in_utc(t: TestDb) {
    let state = t.local_state();
    ok(
        &state,
        r#"mutation {
            insertDepartments(rows: [{id: 1, department: "Sales"}]) { inserted }
            insertJobs(rows: [{id: 1, job: "Clerk"}]) { inserted }
            insertHiredEmployees(rows: [
                {id: 1, name: "New Year UTC", hireDatetime: "2022-01-01T00:30:00+01:00", departmentId: 1, jobId: 1},
                {id: 2, name: "Q2 start", hireDatetime: "2021-04-01T00:00:00Z", departmentId: 1, jobId: 1},
                {id: 3, name: "Q1 end", hireDatetime: "2021-03-31T23:59:59.999999Z", departmentId: 1, jobId: 1}
            ]) { inserted }
        }"#,
        json!({}),
    )
    .await;
    let data = ok(&state, BY_QUARTER, json!({"year": 2021})).await;
    assert_eq!(
        data["hiresByQuarter"],
        json!([{"departmentId": 1, "department": "Sales", "jobId": 1, "job": "Clerk", "q1": 1, "q2": 1, "q3": 0, "q4": 1, "total": 3}])
    );
}

async fn filters_narrow_the_quarterly_report(t: TestDb) {
    common::load_generated(&t, common::generated(1500, 5, 2021, 2021)).await;
    let state = t.local_state();
    let data = ok(
        &state,
        "{ hiresByQuarter(year: 2021, departmentIds: [2, 5], jobIds: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]) { departmentId jobId total } }",
        json!({}),
    )
    .await;
    let all = expected_by_quarter(&t, 2021).await;
    let expected: Vec<Value> = all
        .iter()
        .filter(|r| [2, 5].contains(&r["departmentId"].as_i64().unwrap()) && r["jobId"].as_i64().unwrap() <= 10)
        .map(|r| json!({"departmentId": r["departmentId"], "jobId": r["jobId"], "total": r["total"]}))
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(data["hiresByQuarter"], Value::Array(expected));
}

/// A small deterministic random source for the rollup test.
struct Random(u64);

impl Random {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

async fn the_rollup_always_equals_the_raw_aggregate_across_random_writes(t: TestDb) {
    let state = t.local_state();
    let mut rng = Random(20211107);
    let departments: Vec<Value> = (1..=6)
        .map(|i| json!({"id": i, "department": format!("Department {i}")}))
        .collect();
    let jobs: Vec<Value> = (1..=9)
        .map(|i| json!({"id": i, "job": format!("Job {i}")}))
        .collect();
    ok(
        &state,
        "mutation($d: [DepartmentInput!]!, $j: [JobInput!]!) { insertDepartments(rows: $d) { inserted } insertJobs(rows: $j) { inserted } }",
        json!({"d": departments, "j": jobs}),
    )
    .await;
    // Half the instants sit next to a month, quarter or year boundary with a
    // large offset, so that UTC and local time disagree about the month,
    // quarter or year.
    let boundaries = [
        ("01-31T23:30:00", "-02:00"),
        ("03-01T00:30:00", "+03:00"),
        ("08-31T21:00:00", "-09:30"),
        ("12-31T23:30:00", "-14:00"),
        ("01-01T00:30:00", "+14:00"),
        ("03-31T22:00:00", "-05:00"),
        ("04-01T01:00:00", "+05:30"),
        ("06-30T20:00:00", "-12:00"),
        ("10-01T03:00:00", "+12:00"),
    ];
    let random_row = |rng: &mut Random| {
        let id = rng.below(3000) + 1;
        let year = 2019 + rng.below(4);
        let at = if rng.below(2) == 0 {
            let (day_time, offset) = boundaries[rng.below(boundaries.len() as u64) as usize];
            format!("{year}-{day_time}{offset}")
        } else {
            let offset = ["Z", "+05:30", "-08:00"][rng.below(3) as usize];
            format!(
                "{year}-{:02}-{:02}T{:02}:{:02}:00{offset}",
                rng.below(12) + 1,
                rng.below(28) + 1,
                rng.below(24),
                rng.below(60)
            )
        };
        let department = rng.below(7) + 1; // 7 is unknown
        let job = rng.below(10) + 1; // 10 is unknown
        let name = format!("Person {}", rng.below(5));
        (id, name, at, department, job)
    };
    for step in 0..12 {
        if step % 3 == 0 {
            // A CSV import: on PostgreSQL the first one loads an empty table, later ones stage.
            let mut text = String::new();
            for _ in 0..400 {
                let (id, name, at, d, j) = random_row(&mut rng);
                text.push_str(&format!("{id},{name},{at},{d},{j}\n"));
            }
            import_text(&t, Table::HiredEmployees, text).await;
        } else {
            let rows: Vec<Value> = (0..150)
                .map(|_| {
                    let (id, name, at, d, j) = random_row(&mut rng);
                    json!({"id": id, "name": name, "hireDatetime": at, "departmentId": d, "jobId": j})
                })
                .collect();
            ok(
                &state,
                "mutation($rows: [HiredEmployeeInput!]!) { insertHiredEmployees(rows: $rows) { inserted } }",
                json!({ "rows": rows }),
            )
            .await;
        }
        let (stored, raw) = rollup_and_raw(&t).await;
        assert!(!raw.is_empty());
        assert_eq!(stored, raw, "after write {step}");
        assert_eq!(
            raw_sql_aggregate(&t.db).await,
            raw,
            "SQL over the raw table, after write {step}"
        );
    }
    for year in 2019..=2022 {
        check_reports(&t, &state, year).await;
    }
}

async fn as_of_moves_only_when_hires_change(t: TestDb) {
    let state = t.local_state();
    let before = ok(&state, "{ reportsAsOf }", json!({})).await;
    assert_eq!(before["reportsAsOf"], Value::Null);
    common::seed_small(&app(state.clone()), None).await;
    let first = ok(
        &state,
        "{ reportsAsOf departmentsAboveMean { asOf } hiresByQuarter { asOf } }",
        json!({}),
    )
    .await;
    assert!(first["reportsAsOf"].is_string());
    assert_eq!(first["reportsAsOf"], first["departmentsAboveMean"]["asOf"]);
    assert_eq!(first["reportsAsOf"], first["hiresByQuarter"][0]["asOf"]);
    // Sending the same hire again changes nothing, so the reports stay as of the same time.
    ok(
        &state,
        r#"mutation { insertHiredEmployees(rows: [{id: 1, name: "Ada", hireDatetime: "2021-01-15T09:30:00Z", departmentId: 2, jobId: 20}]) { unchanged } }"#,
        json!({}),
    )
    .await;
    let again = ok(&state, "{ reportsAsOf }", json!({})).await;
    assert_eq!(again["reportsAsOf"], first["reportsAsOf"]);
    ok(
        &state,
        r#"mutation { insertHiredEmployees(rows: [{id: 9, name: "New", hireDatetime: "2021-02-15T09:30:00Z", departmentId: 2, jobId: 20}]) { inserted } }"#,
        json!({}),
    )
    .await;
    let later = ok(&state, "{ reportsAsOf }", json!({})).await;
    assert!(later["reportsAsOf"].as_str() > first["reportsAsOf"].as_str());
}

async fn the_csv_reports_match_the_graphql_fields(t: TestDb) {
    common::load_generated(&t, common::generated(800, 3, 2021, 2021)).await;
    let state = t.local_state();
    let http = app(state.clone());
    let response = send(
        &http,
        HttpRequest::get("/reports/hires-by-quarter.csv?year=2021")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(response.status, 200);
    assert!(
        response.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    assert!(response.headers.contains_key("last-modified"));
    let text = response.text();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("departmentId,department,jobId,job,q1,q2,q3,q4,total")
    );
    let data = ok(&state, BY_QUARTER, json!({"year": 2021})).await;
    let expected: Vec<String> = data["hiresByQuarter"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let quote = |v: &Value| {
                let s = v.as_str().unwrap();
                if s.contains(',') {
                    format!("\"{s}\"")
                } else {
                    s.to_owned()
                }
            };
            format!(
                "{},{},{},{},{},{},{},{},{}",
                r["departmentId"],
                quote(&r["department"]),
                r["jobId"],
                quote(&r["job"]),
                r["q1"],
                r["q2"],
                r["q3"],
                r["q4"],
                r["total"]
            )
        })
        .collect();
    assert_eq!(lines.map(str::to_owned).collect::<Vec<_>>(), expected);

    let response = send(
        &http,
        HttpRequest::get("/reports/departments-above-mean.csv?year=2021")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    let data = ok(&state, ABOVE_MEAN, json!({"year": 2021})).await;
    let report = &data["departmentsAboveMean"];
    let mut expected = vec!["year,mean,id,department,hired".to_owned()];
    for d in report["departments"].as_array().unwrap() {
        expected.push(format!(
            "{},{},{},{},{}",
            report["year"],
            report["mean"],
            d["id"],
            d["department"].as_str().unwrap(),
            d["hired"]
        ));
    }
    assert_eq!(
        response
            .text()
            .lines()
            .map(str::to_owned)
            .collect::<Vec<_>>(),
        expected
    );

    let bad = send(
        &http,
        HttpRequest::get("/reports/hires-by-quarter.csv?year=twenty")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(bad.status, 400);
    assert_eq!(
        common::first_error_code(&bad.json()).as_deref(),
        Some("BAD_USER_INPUT")
    );
}

async fn department_and_job_hire_counts_are_batched(t: TestDb) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    common::load_generated(&t, common::generated(600, 9, 2020, 2021)).await;
    let statements = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&statements);
    let mut db = t.db.clone();
    db.set_metric_callback(move |_| {
        counter.fetch_add(1, Ordering::SeqCst);
    });
    let state = AppState::new(
        db,
        hiring_analytics::auth::AccessPolicy::new(None, None, true),
    );
    let data = ok(
        &state,
        "{ departments { id hires(year: 2021) all: hires } jobs { id hires(year: 2021) } }",
        json!({}),
    )
    .await;
    // The two lists, then one count query per (kind, year) asked for.
    assert_eq!(statements.load(Ordering::SeqCst), 5);
    let hires = all_hires(&t).await;
    for department in data["departments"].as_array().unwrap() {
        let id = department["id"].as_i64().unwrap() as i32;
        let in_2021 = hires
            .iter()
            .filter(|h| h.department_id == id && h.hire_datetime.year() == 2021)
            .count();
        let all = hires.iter().filter(|h| h.department_id == id).count();
        assert_eq!(department["hires"], in_2021 as i64);
        assert_eq!(department["all"], all as i64);
    }
    for job in data["jobs"].as_array().unwrap() {
        let id = job["id"].as_i64().unwrap() as i32;
        let in_2021 = hires
            .iter()
            .filter(|h| h.job_id == id && h.hire_datetime.year() == 2021)
            .count();
        assert_eq!(job["hires"], in_2021 as i64);
    }
}

db_tests!(
    the_reports_on_the_real_samples_match_an_independent_computation,
    reports_are_right_for_every_year_of_generated_data,
    a_year_without_hires_gives_empty_reports_and_a_zero_mean,
    names_sort_in_byte_order_on_every_backend,
    quarters_and_years_are_counted_in_utc,
    filters_narrow_the_quarterly_report,
    the_rollup_always_equals_the_raw_aggregate_across_random_writes,
    as_of_moves_only_when_hires_change,
    the_csv_reports_match_the_graphql_fields,
    department_and_job_hire_counts_are_batched,
);

async fn the_rollup_migration_counts_hires_already_stored(t: TestDb) {
    use migration::{Migrator, MigratorTrait};
    // Up to the migration before the rollup, with hires in place.
    Migrator::up(&t.db, Some(2)).await.unwrap();
    let backend = t.db.get_database_backend();
    for sql in [
        "INSERT INTO departments (id, department) VALUES (1, 'Sales'), (2, 'Legal')",
        "INSERT INTO jobs (id, job) VALUES (1, 'Clerk')",
    ] {
        t.db.execute_unprepared(sql).await.unwrap();
    }
    let hires = [
        (1, "2021-01-05T10:00:00Z", 1),
        (2, "2021-12-31T23:30:00-01:00", 1),
        (3, "2021-05-05T10:00:00Z", 2),
        (4, "2020-07-05T10:00:00Z", 2),
    ];
    for (id, at, department) in hires {
        let at = chrono::DateTime::parse_from_rfc3339(at)
            .unwrap()
            .with_timezone(&Utc);
        let statement = sea_orm::Statement::from_sql_and_values(
            backend,
            match backend {
                sea_orm::DbBackend::Postgres => {
                    "INSERT INTO hired_employees (id, name, hire_datetime, department_id, job_id) VALUES ($1, 'X', $2, $3, 1)"
                }
                _ => {
                    "INSERT INTO hired_employees (id, name, hire_datetime, department_id, job_id) VALUES (?, 'X', ?, ?, 1)"
                }
            },
            [id.into(), at.into(), department.into()],
        );
        t.db.execute_raw(statement).await.unwrap();
    }
    Migrator::up(&t.db, None).await.unwrap();
    let (stored, raw) = rollup_and_raw(&t).await;
    assert_eq!(raw.len(), 4);
    assert_eq!(stored, raw);
    // The hire at 23:30 -01:00 on New Year's Eve is a 2022 hire in UTC.
    assert!(raw.contains_key(&(2022, 1, 1, 1)));
    let state = t.local_state();
    let as_of = ok(&state, "{ reportsAsOf }", json!({})).await;
    assert!(as_of["reportsAsOf"].is_string(), "{as_of}");
}

db_tests!(empty: the_rollup_migration_counts_hires_already_stored);

async fn the_month_migration_refills_the_rollup_keeps_as_of_and_goes_back_to_quarters(t: TestDb) {
    use migration::{Migrator, MigratorTrait};
    // The last quarterly schema, with hires and a pending quarterly delta.
    Migrator::up(&t.db, Some(7)).await.unwrap();
    for sql in [
        "INSERT INTO departments (id, department) VALUES (1, 'Sales')",
        "INSERT INTO jobs (id, job) VALUES (1, 'Clerk')",
        "INSERT INTO hired_employees (id, name, hire_datetime, department_id, job_id)
         VALUES (1, 'A', '2021-02-03T00:00:00Z', 1, 1), (2, 'B', '2021-03-04T00:00:00Z', 1, 1),
                (3, 'C', '2021-11-05T00:00:00Z', 1, 1)",
        "UPDATE report_state SET hires_changed_at = '2021-01-01T00:00:00Z'",
        "INSERT INTO hires_rollup_delta (year, department_id, job_id, q1, q2, q3, q4, changed_at)
         VALUES (2021, 1, 1, 2, 0, 0, 1, '2030-06-07T08:09:10Z')",
    ] {
        t.db.execute_unprepared(sql).await.unwrap();
    }
    Migrator::up(&t.db, None).await.unwrap();
    let (stored, raw) = rollup_and_raw(&t).await;
    assert_eq!(stored, raw);
    assert_eq!(
        raw.keys().map(|k| k.1).collect::<Vec<_>>(),
        [2, 3, 11],
        "months"
    );
    let state = t.local_state();
    let as_of = ok(&state, "{ reportsAsOf }", json!({})).await;
    assert_eq!(as_of["reportsAsOf"], "2030-06-07T08:09:10Z");
    // Back to quarters: the quarterly cells hold the same hires.
    Migrator::down(&t.db, Some(1)).await.unwrap();
    let row =
        t.db.query_one_raw(sea_orm::Statement::from_string(
            t.db.get_database_backend(),
            "SELECT CAST(q1 AS BIGINT) AS q1, CAST(q4 AS BIGINT) AS q4,
                    (SELECT COUNT(*) FROM hires_rollup_job) AS jobs
             FROM hires_rollup WHERE year = 2021",
        ))
        .await
        .unwrap()
        .unwrap();
    let get = |column: &str| row.try_get::<i64>("", column).unwrap();
    assert_eq!((get("q1"), get("q4"), get("jobs")), (2, 1, 1));
    Migrator::up(&t.db, None).await.unwrap();
    assert_eq!(rollup_and_raw(&t).await.0, raw);
}

db_tests!(empty: the_month_migration_refills_the_rollup_keeps_as_of_and_goes_back_to_quarters);
