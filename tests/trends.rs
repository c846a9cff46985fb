//! Trend reports beyond one year (`hiresOverTime`, `hiresComparison`,
//! `topJobs`, `topDepartments`), on SQLite and PostgreSQL, checked against
//! computations that share no code with the server.

mod common;

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Datelike, Utc};
use common::{TestDb, data_of as ok, execute_json as run};
use hiring_analytics::AppState;
use serde_json::{Value, json};

/// The `extensions.code` and message of the one error of a refused request.
async fn refused(state: &AppState, query: &str, variables: Value) -> (String, String) {
    let response = run(state, query, variables).await;
    let error = &response["errors"][0];
    assert_eq!(
        response["errors"].as_array().map(Vec::len),
        Some(1),
        "{response}"
    );
    (
        error["extensions"]["code"].as_str().unwrap().to_owned(),
        error["message"].as_str().unwrap().to_owned(),
    )
}

const OVER_TIME: &str = "query($from: DateTime!, $to: DateTime!, $g: Granularity!, $by: Breakdown!,
      $d: [Int!], $j: [Int!]) {
    hiresOverTime(from: $from, to: $to, granularity: $g, by: $by, departmentIds: $d, jobIds: $j) {
      departmentId department jobId job total points { start hires } } }";

/// `hiresOverTime` for `[from, to)` at `granularity`, split `by`.
async fn over_time(
    state: &AppState,
    from: &str,
    to: &str,
    granularity: &str,
    by: &str,
) -> Vec<Value> {
    let variables = json!({"from": from, "to": to, "g": granularity, "by": by});
    let data = ok(state, OVER_TIME, variables).await;
    data["hiresOverTime"].as_array().unwrap().clone()
}

/// Names by id.
type Names = BTreeMap<i32, String>;

/// The valid hires of the sample CSV files, read here line by line: a row
/// counts when all five fields are there, the instant parses, and both ids
/// name a row of their files.
fn hires_in_csv_files(dir: &std::path::Path) -> (Names, Vec<(DateTime<Utc>, i32)>) {
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap();
    let names = |text: String| -> BTreeMap<i32, String> {
        text.lines()
            .filter_map(|line| line.split_once(','))
            .filter(|(id, name)| !name.is_empty() && id.parse::<i32>().is_ok())
            .map(|(id, name)| (id.parse().unwrap(), name.to_owned()))
            .collect()
    };
    let departments = names(read("departments.csv"));
    let jobs = names(read("jobs.csv"));
    let mut hires = Vec::new();
    for line in read("hired_employees.csv").lines() {
        let fields: Vec<&str> = line.split(',').collect();
        if fields.len() != 5 || fields.iter().any(|f| f.is_empty()) {
            continue;
        }
        let (Ok(at), Ok(department), Ok(job)) = (
            DateTime::parse_from_rfc3339(fields[2]),
            fields[3].parse::<i32>(),
            fields[4].parse::<i32>(),
        ) else {
            continue;
        };
        if departments.contains_key(&department) && jobs.contains_key(&job) {
            hires.push((at.to_utc(), department));
        }
    }
    (departments, hires)
}

async fn the_month_series_of_2021_on_the_real_samples_match_the_csv_files_and_the_year_reports(
    t: TestDb,
) {
    let Some(dir) = common::shared_data_dir() else {
        return;
    };
    common::import_dir(&t, &dir).await;
    let state = t.local_state();
    let series = over_time(
        &state,
        "2021-01-01T00:00:00Z",
        "2022-01-01T00:00:00Z",
        "MONTH",
        "DEPARTMENT",
    )
    .await;
    // Independent: per department name, hires per month of 2021, from the files.
    let (departments, hires) = hires_in_csv_files(&dir);
    let mut expected: BTreeMap<Vec<u8>, (i32, [i64; 12])> = BTreeMap::new();
    for (at, department) in hires.iter().filter(|(at, _)| at.year() == 2021) {
        let name = departments[department].as_bytes().to_vec();
        expected.entry(name).or_insert((*department, [0; 12])).1[at.month0() as usize] += 1;
    }
    let expected: Vec<Value> = expected
        .into_iter()
        .map(|(name, (id, months))| {
            let points: Vec<Value> = (1..=12)
                .map(|m| json!({"start": format!("2021-{m:02}-01T00:00:00Z"), "hires": months[m - 1]}))
                .collect();
            json!({"departmentId": id, "department": String::from_utf8(name).unwrap(),
                   "jobId": null, "job": null, "total": months.iter().sum::<i64>(), "points": points})
        })
        .collect();
    assert!(expected.len() >= 10, "{expected:?}");
    assert_eq!(series, expected);
    quarters_of_the_series_equal_hires_by_quarter(&state, &series).await;
    years_of_the_series_equal_departments_above_mean(&state, &series).await;
}

/// Each department's months of 2021, three by three, equal its quarters in `hiresByQuarter(2021)`.
async fn quarters_of_the_series_equal_hires_by_quarter(state: &AppState, series: &[Value]) {
    let data = ok(
        state,
        "{ hiresByQuarter(year: 2021) { departmentId q1 q2 q3 q4 } }",
        json!({}),
    )
    .await;
    let mut by_quarter: BTreeMap<i64, [i64; 4]> = BTreeMap::new();
    for row in data["hiresByQuarter"].as_array().unwrap() {
        let quarters = by_quarter
            .entry(row["departmentId"].as_i64().unwrap())
            .or_default();
        for (q, sum) in quarters.iter_mut().enumerate() {
            *sum += row[format!("q{}", q + 1)].as_i64().unwrap();
        }
    }
    let mut from_months: BTreeMap<i64, [i64; 4]> = BTreeMap::new();
    for s in series {
        let quarters = from_months
            .entry(s["departmentId"].as_i64().unwrap())
            .or_default();
        for (m, point) in s["points"].as_array().unwrap().iter().enumerate() {
            quarters[m / 3] += point["hires"].as_i64().unwrap();
        }
    }
    assert_eq!(from_months, by_quarter);
}

/// The series' totals give `departmentsAboveMean(2021)`: its mean and its departments.
async fn years_of_the_series_equal_departments_above_mean(state: &AppState, series: &[Value]) {
    let data = ok(
        state,
        "{ departmentsAboveMean(year: 2021) { mean departments { id hired } } }",
        json!({}),
    )
    .await;
    let report = &data["departmentsAboveMean"];
    let totals: Vec<(i64, i64)> = series
        .iter()
        .map(|s| {
            (
                s["departmentId"].as_i64().unwrap(),
                s["total"].as_i64().unwrap(),
            )
        })
        .collect();
    let sum: i64 = totals.iter().map(|(_, n)| n).sum();
    let mean = sum as f64 / totals.len() as f64;
    assert!(
        (report["mean"].as_f64().unwrap() - mean).abs() < 1e-9,
        "{report}"
    );
    let mut above: Vec<(i64, i64)> = totals
        .into_iter()
        .filter(|(_, n)| *n as f64 > mean)
        .collect();
    above.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let listed: Vec<(i64, i64)> = report["departments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["id"].as_i64().unwrap(), d["hired"].as_i64().unwrap()))
        .collect();
    assert_eq!(listed, above);
}

/// Every stored hire as (UTC year, month 1 to 12, department id, job id).
async fn stored_hires(t: &TestDb) -> Vec<(i32, u32, i32, i32)> {
    use sea_orm::EntityTrait;
    entity::hired_employee::Entity::find()
        .all(&t.db)
        .await
        .unwrap()
        .into_iter()
        .map(|h| {
            (
                h.hire_datetime.year(),
                h.hire_datetime.month(),
                h.department_id,
                h.job_id,
            )
        })
        .collect()
}

/// Department and job names by id.
async fn names(t: &TestDb) -> (HashMap<i32, String>, HashMap<i32, String>) {
    use sea_orm::EntityTrait;
    let departments = entity::department::Entity::find().all(&t.db).await.unwrap();
    let jobs = entity::job::Entity::find().all(&t.db).await.unwrap();
    (
        departments
            .into_iter()
            .map(|d| (d.id, d.department))
            .collect(),
        jobs.into_iter().map(|j| (j.id, j.job)).collect(),
    )
}

/// A trend request: the first month (year, month), bucket size in months,
/// bucket count, breakdown and filters.
struct Ask<'a> {
    from: (i32, u32),
    months: u32,
    buckets: u32,
    by: &'a str,
    departments: Option<&'a [i32]>,
    jobs: Option<&'a [i32]>,
}

impl Ask<'_> {
    fn new(from: (i32, u32), months: u32, buckets: u32, by: &str) -> Ask<'_> {
        Ask {
            from,
            months,
            buckets,
            by,
            departments: None,
            jobs: None,
        }
    }

    fn start(&self, bucket: u32) -> (i32, u32) {
        let index = self.from.0 * 12 + self.from.1 as i32 - 1 + (bucket * self.months) as i32;
        (index.div_euclid(12), index.rem_euclid(12) as u32 + 1)
    }

    fn bucket(&self, (year, month): (i32, u32)) -> Option<usize> {
        let offset = (year * 12 + month as i32) - (self.from.0 * 12 + self.from.1 as i32);
        let bucket = offset.div_euclid(self.months as i32);
        (offset >= 0 && bucket < self.buckets as i32).then_some(bucket as usize)
    }

    fn variables(&self) -> Value {
        let (end_year, end_month) = self.start(self.buckets);
        json!({
            "from": format!("{}-{:02}-01T00:00:00Z", self.from.0, self.from.1),
            "to": format!("{end_year}-{end_month:02}-01T00:00:00Z"),
            "g": match self.months { 1 => "MONTH", 3 => "QUARTER", _ => "YEAR" },
            "by": self.by, "d": self.departments, "j": self.jobs,
        })
    }
}

/// `hiresOverTime` as computed here from the stored rows.
async fn expected_series(t: &TestDb, ask: &Ask<'_>) -> Vec<Value> {
    let (departments, jobs) = names(t).await;
    type Key = (Option<Vec<u8>>, Option<Vec<u8>>, Option<i32>, Option<i32>);
    let mut series: BTreeMap<Key, Vec<i64>> = BTreeMap::new();
    let per_department = ask.by == "DEPARTMENT" || ask.by == "DEPARTMENT_AND_JOB";
    let per_job = ask.by == "JOB" || ask.by == "DEPARTMENT_AND_JOB";
    for (year, month, d, j) in stored_hires(t).await {
        let wanted = |ids: Option<&[i32]>, id: i32| ids.is_none_or(|ids| ids.contains(&id));
        let Some(bucket) = ask.bucket((year, month)) else {
            continue;
        };
        if !wanted(ask.departments, d) || !wanted(ask.jobs, j) {
            continue;
        }
        let key = (
            per_department.then(|| departments[&d].as_bytes().to_vec()),
            per_job.then(|| jobs[&j].as_bytes().to_vec()),
            per_department.then_some(d),
            per_job.then_some(j),
        );
        series
            .entry(key)
            .or_insert_with(|| vec![0; ask.buckets as usize])[bucket] += 1;
    }
    if ask.by == "TOTAL" && series.is_empty() {
        series.insert((None, None, None, None), vec![0; ask.buckets as usize]);
    }
    let text = |name: Option<Vec<u8>>| name.map(|n| String::from_utf8(n).unwrap());
    series
        .into_iter()
        .map(|((department, job, d, j), counts)| {
            let points: Vec<Value> = counts
                .iter()
                .enumerate()
                .map(|(b, hires)| {
                    let (year, month) = ask.start(b as u32);
                    json!({"start": format!("{year}-{month:02}-01T00:00:00Z"), "hires": hires})
                })
                .collect();
            json!({"departmentId": d, "department": text(department), "jobId": j,
                   "job": text(job), "total": counts.iter().sum::<i64>(), "points": points})
        })
        .collect()
}

async fn every_granularity_breakdown_and_filter_matches_the_stored_rows(t: TestDb) {
    common::load_generated(&t, common::generated(3000, 23, 2017, 2023)).await;
    let state = t.local_state();
    let (some_departments, some_jobs) = ([2, 5, 9], [1, 3, 4, 40, 77]);
    let asks = [
        Ask::new((2017, 1), 1, 84, "DEPARTMENT"),
        Ask::new((2018, 4), 3, 17, "JOB"),
        Ask::new((2015, 1), 12, 12, "TOTAL"),
        Ask::new((2019, 7), 1, 30, "DEPARTMENT_AND_JOB"),
        Ask {
            jobs: Some(&some_jobs),
            ..Ask::new((2017, 1), 3, 28, "DEPARTMENT")
        },
        Ask {
            departments: Some(&some_departments),
            ..Ask::new((2017, 1), 12, 7, "JOB")
        },
        Ask {
            departments: Some(&some_departments),
            jobs: Some(&some_jobs),
            ..Ask::new((2020, 1), 1, 24, "TOTAL")
        },
        Ask::new((2030, 1), 12, 3, "TOTAL"),
        Ask::new((2030, 1), 12, 3, "DEPARTMENT"),
    ];
    for ask in &asks {
        let expected = expected_series(&t, ask).await;
        let hires: i64 = expected.iter().map(|s| s["total"].as_i64().unwrap()).sum();
        assert!(
            hires > 0 || ask.from.0 == 2030,
            "no data for {}",
            ask.variables()
        );
        let data = ok(&state, OVER_TIME, ask.variables()).await;
        assert_eq!(
            data["hiresOverTime"],
            Value::Array(expected),
            "{}",
            ask.variables()
        );
    }
}

async fn ranges_off_bucket_boundaries_too_long_or_backwards_are_refused_clearly(t: TestDb) {
    let state = t.local_state();
    let cases = [
        (
            "2021-02-01T00:00:00Z",
            "2022-01-01T00:00:00Z",
            "QUARTER",
            "`from` (2021-02-01T00:00:00Z) is not the start of a quarter in UTC; the nearest valid values are 2021-01-01T00:00:00Z and 2021-04-01T00:00:00Z",
        ),
        (
            "2021-01-01T00:00:00Z",
            "2021-06-15T12:00:00+02:00",
            "MONTH",
            "`to` (2021-06-15T10:00:00Z) is not the start of a month in UTC; the nearest valid values are 2021-06-01T00:00:00Z and 2021-07-01T00:00:00Z",
        ),
        (
            "2021-01-01T00:00:00+01:00",
            "2022-01-01T00:00:00Z",
            "YEAR",
            "`from` (2020-12-31T23:00:00Z) is not the start of a year in UTC; the nearest valid values are 2020-01-01T00:00:00Z and 2021-01-01T00:00:00Z",
        ),
        (
            "2010-01-01T00:00:00Z",
            "2020-02-01T00:00:00Z",
            "MONTH",
            "the range holds 121 months; at most 120 buckets are allowed per request (10 years of months)",
        ),
        (
            "2021-01-01T00:00:00Z",
            "2021-01-01T00:00:00Z",
            "MONTH",
            "`to` (2021-01-01T00:00:00Z) must be after `from` (2021-01-01T00:00:00Z)",
        ),
    ];
    for (from, to, granularity, message) in cases {
        let variables = json!({"from": from, "to": to, "g": granularity, "by": "TOTAL"});
        let (code, text) = refused(&state, OVER_TIME, variables).await;
        assert_eq!((code.as_str(), text.as_str()), ("BAD_USER_INPUT", message));
    }
    // 120 years are 120 buckets.
    let variables = json!({"from": "1901-01-01T00:00:00Z", "to": "2021-01-01T00:00:00Z", "g": "YEAR", "by": "TOTAL"});
    let data = ok(&state, OVER_TIME, variables).await;
    assert_eq!(
        data["hiresOverTime"][0]["points"].as_array().unwrap().len(),
        120
    );
}

/// Three departments and jobs, and hires in 2020 Q2, 2021 Q1 and 2021 Q2.
async fn small_history(state: &AppState) {
    let hires = [
        ("2020-04-10", 1, 1),
        ("2020-06-30", 1, 2),
        ("2020-05-01", 2, 3),
        ("2021-01-05", 1, 1),
        ("2021-02-05", 1, 1),
        ("2021-03-05", 1, 2),
        ("2021-03-31", 1, 2),
        ("2021-02-14", 3, 3),
        ("2021-03-15", 3, 3),
        ("2021-04-01", 1, 1),
        ("2021-05-01", 1, 1),
        ("2021-06-30", 1, 2),
        ("2021-04-20", 2, 2),
        ("2021-05-20", 2, 3),
    ];
    let rows: Vec<Value> = hires
        .iter()
        .enumerate()
        .map(|(i, (day, d, j))| {
            json!({"id": i + 1, "name": format!("Person {i}"), "hireDatetime": format!("{day}T12:00:00Z"),
                   "departmentId": d, "jobId": j})
        })
        .collect();
    ok(
        state,
        "mutation($rows: [HiredEmployeeInput!]!) {
           insertDepartments(rows: [{id: 1, department: \"Sales\"}, {id: 2, department: \"Legal\"},
                                    {id: 3, department: \"Support\"}]) { inserted }
           insertJobs(rows: [{id: 1, job: \"Clerk\"}, {id: 2, job: \"Analyst\"}, {id: 3, job: \"Agent\"}]) { inserted }
           insertHiredEmployees(rows: $rows) { inserted } }",
        json!({ "rows": rows }),
    )
    .await;
}

const COMPARISON: &str = "query($p: Granularity!, $at: DateTime!, $by: Breakdown!) {
    hiresComparison(period: $p, at: $at, by: $by) {
      department job start hires previousStart previous yearEarlierStart yearEarlier
      changeFromPrevious percentChangeFromPrevious changeFromYearEarlier percentChangeFromYearEarlier } }";

async fn a_quarter_is_compared_with_the_one_before_and_the_same_quarter_a_year_earlier(t: TestDb) {
    let state = t.local_state();
    small_history(&state).await;
    let variables = json!({"p": "QUARTER", "at": "2021-04-01T00:00:00Z", "by": "DEPARTMENT"});
    let data = ok(&state, COMPARISON, variables).await;
    let row = |department: &str, now: i64, previous: i64, earlier: i64, percents: [Value; 2]| {
        json!({"department": department, "job": null, "start": "2021-04-01T00:00:00Z", "hires": now,
               "previousStart": "2021-01-01T00:00:00Z", "previous": previous,
               "yearEarlierStart": "2020-04-01T00:00:00Z", "yearEarlier": earlier,
               "changeFromPrevious": now - previous, "percentChangeFromPrevious": percents[0],
               "changeFromYearEarlier": now - earlier, "percentChangeFromYearEarlier": percents[1]})
    };
    assert_eq!(
        data["hiresComparison"],
        json!([
            row("Legal", 2, 0, 1, [Value::Null, json!(100.0)]),
            row("Sales", 3, 4, 2, [json!(-25.0), json!(50.0)]),
            row("Support", 0, 2, 0, [json!(-100.0), Value::Null]),
        ])
    );
    let variables = json!({"p": "YEAR", "at": "2021-01-01T00:00:00Z", "by": "TOTAL"});
    let total = &ok(&state, COMPARISON, variables).await["hiresComparison"];
    assert_eq!(
        (
            &total[0]["hires"],
            &total[0]["previous"],
            &total[0]["yearEarlier"]
        ),
        (&json!(11), &json!(3), &json!(3))
    );
    assert_eq!(total[0]["previousStart"], "2020-01-01T00:00:00Z");
    let drilled = ok(
        &state,
        r#"{ hiresComparison(period: QUARTER, at: "2021-04-01T00:00:00Z", by: JOB, departmentIds: [1]) {
               job hires previous yearEarlier } }"#,
        json!({}),
    )
    .await;
    assert_eq!(
        drilled["hiresComparison"],
        json!([
            {"job": "Analyst", "hires": 1, "previous": 2, "yearEarlier": 1},
            {"job": "Clerk", "hires": 2, "previous": 2, "yearEarlier": 1},
        ])
    );
    let variables = json!({"p": "MONTH", "at": "2021-04-15T00:00:00Z", "by": "JOB"});
    let (code, message) = refused(&state, COMPARISON, variables).await;
    assert_eq!(code, "BAD_USER_INPUT");
    assert!(
        message.contains("2021-04-01T00:00:00Z and 2021-05-01T00:00:00Z"),
        "{message}"
    );
}

async fn rankings_give_rank_ties_and_shares_and_drill_into_a_department(t: TestDb) {
    let state = t.local_state();
    small_history(&state).await;
    let year = json!({"from": "2021-01-01T00:00:00Z", "to": "2022-01-01T00:00:00Z"});
    let data = ok(
        &state,
        "query($from: DateTime!, $to: DateTime!) {
           all: topDepartments(from: $from, to: $to) { rank departmentId department hires share }
           two: topDepartments(from: $from, to: $to, first: 2) { department }
           sales: topJobs(departmentId: 1, from: $from, to: $to) { rank jobId job hires share }
           jobs: topJobs(from: $from, to: $to, first: 1) { job hires share } }",
        year,
    )
    .await;
    let ranked = |rank: i64, id: i64, name: &str, hires: i64, of: f64| json!({"rank": rank, "departmentId": id, "department": name, "hires": hires, "share": hires as f64 / of});
    assert_eq!(
        data["all"],
        json!([
            ranked(1, 1, "Sales", 7, 11.0),
            ranked(2, 2, "Legal", 2, 11.0),
            ranked(2, 3, "Support", 2, 11.0)
        ])
    );
    assert_eq!(
        data["two"],
        json!([{"department": "Sales"}, {"department": "Legal"}])
    );
    assert_eq!(
        data["sales"],
        json!([
            {"rank": 1, "jobId": 1, "job": "Clerk", "hires": 4, "share": 4.0 / 7.0},
            {"rank": 2, "jobId": 2, "job": "Analyst", "hires": 3, "share": 3.0 / 7.0},
        ])
    );
    // Clerk 4, Analyst 4, Agent 3: ties go by title in byte order.
    assert_eq!(
        data["jobs"],
        json!([{"job": "Analyst", "hires": 4, "share": 4.0 / 11.0}])
    );
    let (code, _) = refused(
        &state,
        r#"{ topDepartments(from: "2021-01-01T00:00:00Z", to: "2022-01-01T00:00:00Z", first: 0) { rank } }"#,
        json!({}),
    )
    .await;
    assert_eq!(code, "PAGE_SIZE");
}

/// GETs `path` from the router, with an `If-None-Match` when given.
async fn get(http: &axum::Router, path: &str, etag: Option<&str>) -> common::TestResponse {
    let mut request = axum::http::Request::get(path);
    if let Some(etag) = etag {
        request = request.header("if-none-match", etag);
    }
    common::send(http, request.body(axum::body::Body::empty()).unwrap()).await
}

/// A JSON value as a CSV field: strings bare, null empty, fractions as Rust writes them.
fn field(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(text) => text.clone(),
        Value::Number(n) if n.is_f64() => n.as_f64().unwrap().to_string(),
        other => other.to_string(),
    }
}

/// Rows of `columns` from GraphQL `rows`, as CSV lines with the header first.
fn csv_of(columns: &[&str], rows: &[Value]) -> Vec<String> {
    let mut lines = vec![columns.join(",")];
    lines.extend(rows.iter().map(|row| {
        columns
            .iter()
            .map(|c| field(&row[*c]))
            .collect::<Vec<_>>()
            .join(",")
    }));
    lines
}

async fn the_trend_csv_exports_match_their_graphql_fields_and_keep_the_etag_rules(t: TestDb) {
    let state = t.local_state();
    small_history(&state).await;
    let http = hiring_analytics::app(state.clone());
    let range = "from=2020-01-01T00:00:00Z&to=2022-01-01T00:00:00Z";
    let data = ok(
        &state,
        r#"{ series: hiresOverTime(from: "2020-01-01T00:00:00Z", to: "2022-01-01T00:00:00Z",
                                  granularity: QUARTER, by: DEPARTMENT_AND_JOB, departmentIds: [1, 2]) {
               departmentId department jobId job points { start hires } }
             compared: hiresComparison(period: QUARTER, at: "2021-04-01T00:00:00Z") {
               departmentId department jobId job start hires previousStart previous yearEarlierStart
               yearEarlier changeFromPrevious percentChangeFromPrevious changeFromYearEarlier
               percentChangeFromYearEarlier }
             departments: topDepartments(from: "2020-01-01T00:00:00Z", to: "2022-01-01T00:00:00Z", first: 2) {
               rank departmentId department hires share }
             jobs: topJobs(departmentId: 1, from: "2020-01-01T00:00:00Z", to: "2022-01-01T00:00:00Z") {
               rank jobId job hires share } }"#,
        json!({}),
    )
    .await;
    let points: Vec<Value> = data["series"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| {
            s["points"].as_array().unwrap().iter().map(move |p| {
                let mut row = s.clone();
                row["start"] = p["start"].clone();
                row["hires"] = p["hires"].clone();
                row
            })
        })
        .collect();
    let comparison_columns = [
        "departmentId",
        "department",
        "jobId",
        "job",
        "start",
        "hires",
        "previousStart",
        "previous",
        "yearEarlierStart",
        "yearEarlier",
        "changeFromPrevious",
        "percentChangeFromPrevious",
        "changeFromYearEarlier",
        "percentChangeFromYearEarlier",
    ];
    let exports = [
        (
            format!(
                "/reports/hires-over-time.csv?{range}&granularity=QUARTER&by=DEPARTMENT_AND_JOB&departmentIds=1,2"
            ),
            csv_of(
                &[
                    "start",
                    "departmentId",
                    "department",
                    "jobId",
                    "job",
                    "hires",
                ],
                &points,
            ),
        ),
        (
            "/reports/hires-comparison.csv?period=QUARTER&at=2021-04-01T00:00:00Z".to_owned(),
            csv_of(&comparison_columns, data["compared"].as_array().unwrap()),
        ),
        (
            format!("/reports/top-departments.csv?{range}&first=2"),
            csv_of(
                &["rank", "departmentId", "department", "hires", "share"],
                data["departments"].as_array().unwrap(),
            ),
        ),
        (
            format!("/reports/top-jobs.csv?departmentId=1&{range}"),
            csv_of(
                &["rank", "jobId", "job", "hires", "share"],
                data["jobs"].as_array().unwrap(),
            ),
        ),
    ];
    let mut etags = Vec::new();
    for (path, expected) in &exports {
        let response = get(&http, path, None).await;
        assert_eq!(response.status, 200, "{path}: {}", response.text());
        assert!(
            response.headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/csv")
        );
        assert!(response.headers.contains_key("last-modified"), "{path}");
        assert_eq!(
            response.text().lines().collect::<Vec<_>>(),
            *expected,
            "{path}"
        );
        let etag = response.headers["etag"].to_str().unwrap().to_owned();
        assert_eq!(get(&http, path, Some(&etag)).await.status, 304, "{path}");
        etags.push(etag);
    }
    assert!(exports[0].1.len() > 4, "{:?}", exports[0].1);
    // A new hire moves every ETag.
    ok(
        &state,
        r#"mutation { insertHiredEmployees(rows: [{id: 99, name: "New", hireDatetime: "2021-05-05T00:00:00Z",
                                                   departmentId: 1, jobId: 1}]) { inserted } }"#,
        json!({}),
    )
    .await;
    for ((path, _), etag) in exports.iter().zip(&etags) {
        assert_eq!(get(&http, path, Some(etag)).await.status, 200, "{path}");
    }
    // An unencoded `+` before an offset arrives as a space and still reads as `+`.
    let plus = get(&http, "/reports/hires-comparison.csv?period=QUARTER&at=2021-04-01T02:00:00+02:00&by=JOB&departmentIds=1", None).await;
    assert_eq!(plus.status, 200, "{}", plus.text());
    assert_eq!(plus.text().lines().count(), 3, "{}", plus.text());
    let bad = [
        (
            "/reports/hires-over-time.csv?from=2021-01-01T00:00:00Z&to=2022-01-01T00:00:00Z&granularity=WEEK",
            "granularity must be one of MONTH, QUARTER, YEAR, got \"WEEK\"",
        ),
        (
            "/reports/hires-over-time.csv?from=2021-01-15T00:00:00Z&to=2022-01-01T00:00:00Z",
            "the nearest valid values are 2021-01-01T00:00:00Z and 2021-02-01T00:00:00Z",
        ),
        (
            "/reports/hires-comparison.csv?at=2021-01-01T00:00:00Z",
            "period must be one of",
        ),
        (
            "/reports/top-jobs.csv?from=2021-01-01&to=2022-01-01T00:00:00Z",
            "from must be an RFC 3339 instant",
        ),
        (
            "/reports/top-jobs.csv?departmentId=x&from=2021-01-01T00:00:00Z&to=2022-01-01T00:00:00Z",
            "departmentId must be a whole number",
        ),
    ];
    for (path, message) in bad {
        let response = get(&http, path, None).await;
        assert_eq!(response.status, 400, "{path}");
        let body = response.json();
        assert_eq!(
            common::first_error_code(&body).as_deref(),
            Some("BAD_USER_INPUT"),
            "{body}"
        );
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains(message),
            "{body}"
        );
    }
}

db_tests!(
    the_month_series_of_2021_on_the_real_samples_match_the_csv_files_and_the_year_reports,
    every_granularity_breakdown_and_filter_matches_the_stored_rows,
    ranges_off_bucket_boundaries_too_long_or_backwards_are_refused_clearly,
    a_quarter_is_compared_with_the_one_before_and_the_same_quarter_a_year_earlier,
    rankings_give_rank_ties_and_shares_and_drill_into_a_department,
    the_trend_csv_exports_match_their_graphql_fields_and_keep_the_etag_rules,
);
