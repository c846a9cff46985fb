//! Nested lookups (a hire's department and job, a department's or job's hire
//! counts) are read ahead by the list that holds them: right for every shape
//! of query, and a fixed number of statements whatever the list's length.
//! Through `schema.execute()`, on SQLite and PostgreSQL.

mod common;

use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
};

use chrono::Datelike;
use common::{TestDb, data_of as ok, execute_json as run};
use entity::{department, hired_employee, job};
use hiring_analytics::{AppState, auth::AccessPolicy};
use sea_orm::{EntityTrait, QueryOrder};
use serde_json::{Value, json};

/// 400 generated hires over 2020 to 2022, and state whose database counts the
/// statements it runs.
async fn seeded(t: &TestDb) -> (AppState, Arc<AtomicUsize>) {
    common::load_generated(t, common::generated(400, 11, 2020, 2022)).await;
    let statements = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&statements);
    let mut db = t.db.clone();
    db.set_metric_callback(move |_| {
        counter.fetch_add(1, Ordering::SeqCst);
    });
    (
        AppState::new(db, AccessPolicy::new(None, None, true)),
        statements,
    )
}

/// The stored rows, read without the API, to compute expected answers.
struct Stored {
    departments: HashMap<i32, String>,
    jobs: HashMap<i32, String>,
    hires: Vec<hired_employee::Model>,
}

impl Stored {
    async fn read(t: &TestDb) -> Self {
        let departments = department::Entity::find().all(&t.db).await.unwrap();
        let jobs = job::Entity::find().all(&t.db).await.unwrap();
        let hires = hired_employee::Entity::find()
            .order_by_asc(hired_employee::Column::Id)
            .all(&t.db)
            .await
            .unwrap();
        Self {
            departments: departments
                .into_iter()
                .map(|d| (d.id, d.department))
                .collect(),
            jobs: jobs.into_iter().map(|j| (j.id, j.job)).collect(),
            hires,
        }
    }

    fn hire(&self, id: &Value) -> &hired_employee::Model {
        let id = id.as_i64().unwrap() as i32;
        self.hires.iter().find(|h| h.id == id).unwrap()
    }

    /// Hires of a department (or, with `of_job`, a job) in `year`, or in all years.
    fn count(&self, of_job: bool, id: &Value, year: Option<i32>) -> i64 {
        let id = id.as_i64().unwrap() as i32;
        let of = |h: &hired_employee::Model| if of_job { h.job_id } else { h.department_id };
        let in_year = |h: &hired_employee::Model| year.is_none_or(|y| h.hire_datetime.year() == y);
        self.hires
            .iter()
            .filter(|h| of(h) == id && in_year(h))
            .count() as i64
    }
}

fn items<'a>(value: &'a Value, key: &str) -> &'a Vec<Value> {
    value[key]
        .as_array()
        .unwrap_or_else(|| panic!("{key}: {value}"))
}

async fn every_hire_of_a_page_carries_its_own_department_and_job(t: TestDb) {
    let (state, _) = seeded(&t).await;
    let stored = Stored::read(&t).await;
    let data = ok(
        &state,
        "{ hiredEmployees(first: 200) {
             nodes { id department { id department } job { id job } }
             edges { node { id d: department { department } } }
           } }",
        json!({}),
    )
    .await;
    let page = &data["hiredEmployees"];
    assert_eq!(items(page, "nodes").len(), 200);
    for node in items(page, "nodes") {
        let hire = stored.hire(&node["id"]);
        assert_eq!(node["department"]["id"], hire.department_id);
        assert_eq!(
            node["department"]["department"],
            stored.departments[&hire.department_id]
        );
        assert_eq!(node["job"]["id"], hire.job_id);
        assert_eq!(node["job"]["job"], stored.jobs[&hire.job_id]);
    }
    for edge in items(page, "edges") {
        let hire = stored.hire(&edge["node"]["id"]);
        let name = &stored.departments[&hire.department_id];
        assert_eq!(edge["node"]["d"]["department"], *name);
    }
}

async fn hire_counts_under_aliases_with_different_years_are_each_right(t: TestDb) {
    let (state, _) = seeded(&t).await;
    let stored = Stored::read(&t).await;
    let data = ok(
        &state,
        "{ departments { id a: hires(year: 2020) b: hires(year: 2021) all: hires none: hires(year: null) }
           jobs { id a: hires(year: 2022) all: hires }
           hiredEmployees(first: 100) { nodes {
             department { id a: hires(year: 2021) all: hires }
             job { id b: hires(year: 2020) }
           } } }",
        json!({}),
    )
    .await;
    for d in items(&data, "departments") {
        assert_eq!(d["a"], stored.count(false, &d["id"], Some(2020)), "{d}");
        assert_eq!(d["b"], stored.count(false, &d["id"], Some(2021)), "{d}");
        assert_eq!(d["all"], stored.count(false, &d["id"], None), "{d}");
        assert_eq!(d["none"], stored.count(false, &d["id"], None), "{d}");
    }
    for j in items(&data, "jobs") {
        assert_eq!(j["a"], stored.count(true, &j["id"], Some(2022)), "{j}");
        assert_eq!(j["all"], stored.count(true, &j["id"], None), "{j}");
    }
    for node in items(&data["hiredEmployees"], "nodes") {
        let d = &node["department"];
        assert_eq!(d["a"], stored.count(false, &d["id"], Some(2021)), "{d}");
        assert_eq!(d["all"], stored.count(false, &d["id"], None), "{d}");
        let j = &node["job"];
        assert_eq!(j["b"], stored.count(true, &j["id"], Some(2020)), "{j}");
    }
}

async fn hire_counts_take_their_year_from_variables(t: TestDb) {
    let (state, _) = seeded(&t).await;
    let stored = Stored::read(&t).await;
    let query = "query($y: Int!, $z: Int = 2020, $absent: Int) {
        departments { id y: hires(year: $y) z: hires(year: $z) absent: hires(year: $absent) }
        hiredEmployees(first: 50) { nodes { job { id y: hires(year: $y) } } } }";
    for year in [2021, 2022] {
        let data = ok(&state, query, json!({ "y": year })).await;
        for d in items(&data, "departments") {
            assert_eq!(d["y"], stored.count(false, &d["id"], Some(year)), "{d}");
            assert_eq!(d["z"], stored.count(false, &d["id"], Some(2020)), "{d}");
            assert_eq!(d["absent"], stored.count(false, &d["id"], None), "{d}");
        }
        for node in items(&data["hiredEmployees"], "nodes") {
            let j = &node["job"];
            assert_eq!(j["y"], stored.count(true, &j["id"], Some(year)), "{j}");
        }
    }
}

const PLAIN: &str = "{ hiredEmployees(first: 30) { nodes {
    id department { id department hires(year: 2021) } job { id job } } } }";

const FRAGMENTS: &str = "query { hiredEmployees(first: 30) { ...Page } }
    fragment Page on HiredEmployeeConnection {
      nodes { id ... on HiredEmployee { department { ...Unit } } ...Title }
    }
    fragment Unit on Department { id department hires(year: 2021) }
    fragment Title on HiredEmployee { job { id job } }";

async fn named_and_inline_fragments_are_read_ahead_like_plain_fields(t: TestDb) {
    let (state, statements) = seeded(&t).await;
    statements.store(0, Ordering::SeqCst);
    let plain = ok(&state, PLAIN, json!({})).await;
    let for_plain = statements.swap(0, Ordering::SeqCst);
    let fragments = ok(&state, FRAGMENTS, json!({})).await;
    let for_fragments = statements.swap(0, Ordering::SeqCst);
    assert_eq!(fragments, plain);
    assert_eq!(for_fragments, for_plain);
    let stored = Stored::read(&t).await;
    for node in items(&fragments["hiredEmployees"], "nodes") {
        let hire = stored.hire(&node["id"]);
        let d = &node["department"];
        assert_eq!(d["department"], stored.departments[&hire.department_id]);
        assert_eq!(d["hires"], stored.count(false, &d["id"], Some(2021)));
        assert_eq!(node["job"]["job"], stored.jobs[&hire.job_id]);
    }
}

async fn statements_for(state: &AppState, statements: &AtomicUsize, query: &str) -> usize {
    statements.store(0, Ordering::SeqCst);
    ok(state, query, json!({})).await;
    statements.swap(0, Ordering::SeqCst)
}

async fn a_page_with_nested_lookups_costs_the_same_statements_whatever_its_size(t: TestDb) {
    let (state, statements) = seeded(&t).await;
    let page = |first: usize| {
        format!(
            "{{ hiredEmployees(first: {first}) {{
                 nodes {{ department {{ department hires(year: 2021) }} job {{ job hires }} }}
                 edges {{ node {{ department {{ id }} }} }} }} }}"
        )
    };
    let flat = statements_for(
        &state,
        &statements,
        "{ hiredEmployees(first: 5) { nodes { id } } }",
    )
    .await;
    // Names come with the page itself; on top of it only one count per (kind, year).
    for first in [1, 20, 300] {
        let nested = statements_for(&state, &statements, &page(first)).await;
        assert_eq!(nested, flat + 2, "a page of {first}");
        let names = format!(
            "{{ hiredEmployees(first: {first}) {{ nodes {{ id department {{ id department }} job {{ job }} }} }} }}"
        );
        let named = statements_for(&state, &statements, &names).await;
        assert_eq!(named, flat, "a page of {first} with names");
    }
    let lists =
        "{ departments { id a: hires(year: 2021) b: hires(year: 2020) c: hires(year: 2021) }
                   jobs { id hires } }";
    // The two lists, then one count per (kind, distinct year).
    assert_eq!(statements_for(&state, &statements, lists).await, 5);
}

async fn a_selection_the_look_ahead_does_not_cover_is_still_answered_right(t: TestDb) {
    let (state, _) = seeded(&t).await;
    let stored = Stored::read(&t).await;
    // One response key twice: the selections merge, but the resolver reads
    // ahead through the first only, so the second's lookups are read by the fields.
    let data = ok(
        &state,
        "{ hiredEmployees(first: 10) { nodes { id } }
           hiredEmployees(first: 10) { nodes { department { department hires(year: 2022) } job { job } } } }",
        json!({}),
    )
    .await;
    for node in items(&data["hiredEmployees"], "nodes") {
        let hire = stored.hire(&node["id"]);
        let d = &node["department"];
        assert_eq!(d["department"], stored.departments[&hire.department_id]);
        let id = json!(hire.department_id);
        assert_eq!(d["hires"], stored.count(false, &id, Some(2022)));
        assert_eq!(node["job"]["job"], stored.jobs[&hire.job_id]);
    }
}

async fn a_bad_year_fails_its_own_field_and_spoils_no_other(t: TestDb) {
    let (state, _) = seeded(&t).await;
    let stored = Stored::read(&t).await;
    let response = run(
        &state,
        "{ departments { id hires(year: 2021) } jobs { id bad: hires(year: 0) } }",
        json!({}),
    )
    .await;
    assert_eq!(
        common::first_error_code(&response).as_deref(),
        Some("BAD_USER_INPUT")
    );
    assert_eq!(response["errors"][0]["path"][0], "jobs");
    assert_eq!(response["errors"][0]["path"][2], "bad");
    for d in items(&response["data"], "departments") {
        assert_eq!(d["hires"], stored.count(false, &d["id"], Some(2021)), "{d}");
    }
}

db_tests!(
    every_hire_of_a_page_carries_its_own_department_and_job,
    hire_counts_under_aliases_with_different_years_are_each_right,
    hire_counts_take_their_year_from_variables,
    named_and_inline_fragments_are_read_ahead_like_plain_fields,
    a_page_with_nested_lookups_costs_the_same_statements_whatever_its_size,
    a_selection_the_look_ahead_does_not_cover_is_still_answered_right,
    a_bad_year_fails_its_own_field_and_spoils_no_other,
);
