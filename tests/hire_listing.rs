//! `hiredEmployees`: filters, orders and cursor pagination, on SQLite and PostgreSQL.

mod common;

use common::{TestDb, execute_json as run, first_error_code};
use hiring_analytics::AppState;
use serde_json::{Value, json};

const LIST: &str = "query($filter: HireFilter, $orderBy: HireOrder, $first: Int, $after: String, $last: Int, $before: String) {
  hiredEmployees(filter: $filter, orderBy: $orderBy, first: $first, after: $after, last: $last, before: $before) {
    totalCount
    edges { cursor node { id name hireDatetime departmentId jobId } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}";

/// Twelve hires: ids 1..=12, names with mixed case, two departments, two jobs, three dates.
async fn seed(state: &AppState) {
    let names = [
        "ada", "Bob", "cy", "Dee", "eve", "Fay", "gus", "Hal", "ivy", "Jo", "kim", "Lou",
    ];
    let rows: Vec<Value> = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let id = i as i32 + 1;
            json!({
                "id": id,
                "name": format!("{name} Smith"),
                "hireDatetime": format!("2021-0{}-01T00:00:00Z", id % 3 + 1),
                "departmentId": id % 2 + 1,
                "jobId": 1 + (id % 4 == 0) as i32,
            })
        })
        .collect();
    let response = run(
        state,
        r#"mutation($rows: [HiredEmployeeInput!]!) {
            insertDepartments(rows: [{id: 1, department: "Sales"}, {id: 2, department: "Legal"}]) { inserted }
            insertJobs(rows: [{id: 1, job: "Clerk"}, {id: 2, job: "Counsel"}]) { inserted }
            insertHiredEmployees(rows: $rows) { inserted }
        }"#,
        json!({ "rows": rows }),
    )
    .await;
    assert_eq!(
        response["data"]["insertHiredEmployees"]["inserted"], 12,
        "{response}"
    );
}

fn ids(response: &Value) -> Vec<i64> {
    response["data"]["hiredEmployees"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{response}"))
        .iter()
        .map(|e| e["node"]["id"].as_i64().unwrap())
        .collect()
}

fn page_info(response: &Value) -> &Value {
    &response["data"]["hiredEmployees"]["pageInfo"]
}

async fn pages_walk_forward_and_backward_without_gaps(t: TestDb) {
    let state = t.local_state();
    seed(&state).await;
    let first = run(&state, LIST, json!({"first": 5})).await;
    assert_eq!(ids(&first), [1, 2, 3, 4, 5]);
    assert_eq!(first["data"]["hiredEmployees"]["totalCount"], 12);
    assert_eq!(page_info(&first)["hasNextPage"], true);
    assert_eq!(page_info(&first)["hasPreviousPage"], false);
    let end = page_info(&first)["endCursor"].clone();
    let second = run(&state, LIST, json!({"first": 5, "after": end})).await;
    assert_eq!(ids(&second), [6, 7, 8, 9, 10]);
    let last_page = run(
        &state,
        LIST,
        json!({"first": 5, "after": page_info(&second)["endCursor"]}),
    )
    .await;
    assert_eq!(ids(&last_page), [11, 12]);
    assert_eq!(page_info(&last_page)["hasNextPage"], false);
    let empty = run(
        &state,
        LIST,
        json!({"first": 5, "after": page_info(&last_page)["endCursor"]}),
    )
    .await;
    assert_eq!(ids(&empty), Vec::<i64>::new());
    assert_eq!(page_info(&empty)["endCursor"], Value::Null);
    // Backward from the second page's start.
    let back = run(
        &state,
        LIST,
        json!({"last": 3, "before": page_info(&second)["startCursor"]}),
    )
    .await;
    assert_eq!(ids(&back), [3, 4, 5]);
    assert_eq!(page_info(&back)["hasPreviousPage"], true);
    let tail = run(&state, LIST, json!({"last": 2})).await;
    assert_eq!(ids(&tail), [11, 12]);
    let none = run(&state, LIST, json!({"first": 0})).await;
    assert_eq!(ids(&none), Vec::<i64>::new());
}

async fn orders_are_total_and_cursors_follow_them(t: TestDb) {
    let state = t.local_state();
    seed(&state).await;
    // Byte order puts capitals first.
    let by_name = run(
        &state,
        LIST,
        json!({"orderBy": {"field": "NAME"}, "first": 4}),
    )
    .await;
    assert_eq!(ids(&by_name), [2, 4, 6, 8]);
    let next = run(
        &state,
        LIST,
        json!({"orderBy": {"field": "NAME"}, "first": 4, "after": page_info(&by_name)["endCursor"]}),
    )
    .await;
    assert_eq!(ids(&next), [10, 12, 1, 3]);
    // Equal datetimes fall back to id, in the same direction.
    let by_date = run(
        &state,
        LIST,
        json!({"orderBy": {"field": "HIRE_DATETIME", "direction": "DESC"}, "first": 5}),
    )
    .await;
    assert_eq!(ids(&by_date), [11, 8, 5, 2, 10]);
    let rest = run(
        &state,
        LIST,
        json!({"orderBy": {"field": "HIRE_DATETIME", "direction": "DESC"}, "first": 20, "after": page_info(&by_date)["endCursor"]}),
    )
    .await;
    assert_eq!(ids(&rest), [7, 4, 1, 12, 9, 6, 3]);
    // A cursor from one order is refused by another.
    let mixed = run(
        &state,
        LIST,
        json!({"orderBy": {"field": "ID"}, "first": 2, "after": page_info(&by_name)["endCursor"]}),
    )
    .await;
    assert_eq!(first_error_code(&mixed).as_deref(), Some("INVALID_CURSOR"));
}

async fn filters_combine(t: TestDb) {
    let state = t.local_state();
    seed(&state).await;
    let filtered = run(
        &state,
        LIST,
        json!({"filter": {"departmentIds": [1], "jobIds": [1], "hiredFrom": "2021-02-01T00:00:00Z", "hiredBefore": "2021-03-01T00:00:00Z"}}),
    )
    .await;
    // Department 1: even ids; job 1: not a multiple of 4; February: id % 3 == 1.
    assert_eq!(ids(&filtered), [10]);
    assert_eq!(filtered["data"]["hiredEmployees"]["totalCount"], 1);
    let by_name = run(&state, LIST, json!({"filter": {"nameContains": "A S"}})).await;
    assert_eq!(ids(&by_name), [1]);
    let wildcard = run(&state, LIST, json!({"filter": {"nameContains": "%"}})).await;
    assert_eq!(ids(&wildcard), Vec::<i64>::new());
}

async fn bad_cursors_and_page_sizes_get_clear_errors(t: TestDb) {
    let state = t.local_state();
    seed(&state).await;
    for variables in [
        json!({"after": "not-a-cursor"}),
        json!({"before": "aGVsbG8"}),
    ] {
        let response = run(&state, LIST, variables).await;
        assert_eq!(
            first_error_code(&response).as_deref(),
            Some("INVALID_CURSOR"),
            "{response}"
        );
    }
    for variables in [
        json!({"first": 501}),
        json!({"last": -1}),
        json!({"first": 2, "last": 2}),
    ] {
        let response = run(&state, LIST, variables).await;
        assert_eq!(
            first_error_code(&response).as_deref(),
            Some("PAGE_SIZE"),
            "{response}"
        );
    }
    let response = run(&state, LIST, json!({"first": 500})).await;
    assert_eq!(ids(&response).len(), 12);
}

async fn pages_between_two_cursors_and_backward_in_descending_order(t: TestDb) {
    let state = t.local_state();
    seed(&state).await;
    let order = json!({"field": "HIRE_DATETIME", "direction": "DESC"});
    let all = run(&state, LIST, json!({"orderBy": order, "first": 12})).await;
    assert_eq!(ids(&all), [11, 8, 5, 2, 10, 7, 4, 1, 12, 9, 6, 3]);
    let edges = all["data"]["hiredEmployees"]["edges"]
        .as_array()
        .unwrap()
        .clone();
    let cursor = |i: usize| edges[i]["cursor"].clone();
    // `first` with `before`: rows lie beyond `before`, so there is a next page.
    let window = run(
        &state,
        LIST,
        json!({"orderBy": order, "first": 3, "after": cursor(1), "before": cursor(6)}),
    )
    .await;
    assert_eq!(ids(&window), [5, 2, 10]);
    assert_eq!(page_info(&window)["hasNextPage"], true);
    assert_eq!(page_info(&window)["hasPreviousPage"], true);
    // `last` with `after`, walking backward through a descending order.
    let back = run(
        &state,
        LIST,
        json!({"orderBy": order, "last": 3, "after": cursor(5)}),
    )
    .await;
    assert_eq!(ids(&back), [9, 6, 3]);
    assert_eq!(page_info(&back)["hasPreviousPage"], true);
    let back = run(
        &state,
        LIST,
        json!({"orderBy": order, "last": 4, "before": cursor(4)}),
    )
    .await;
    assert_eq!(ids(&back), [11, 8, 5, 2]);
    assert_eq!(page_info(&back)["hasPreviousPage"], false);
    assert_eq!(page_info(&back)["hasNextPage"], true);
    let long = run(
        &state,
        LIST,
        json!({"filter": {"nameContains": "x".repeat(256)}}),
    )
    .await;
    assert_eq!(first_error_code(&long).as_deref(), Some("BAD_USER_INPUT"));
}

db_tests!(
    pages_between_two_cursors_and_backward_in_descending_order,
    pages_walk_forward_and_backward_without_gaps,
    orders_are_total_and_cursors_follow_them,
    filters_combine,
    bad_cursors_and_page_sizes_get_clear_errors,
);
