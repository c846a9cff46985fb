//! Hostile input and abuse limits: each gets a clear error, none takes the server down.

mod common;
#[path = "common/s3.rs"]
mod s3;

use std::{net::SocketAddr, sync::Arc, time::Duration};

use axum::{Router, body::Body, extract::ConnectInfo, http::Request};
use common::{Server, TestDb, first_error_code, post_graphql, send};
use hiring_analytics::{RequestLimits, app, service::backup::Backups};
use s3::S3Server;

async fn code(router: &Router, query: &str) -> (u16, Option<String>) {
    let response = post_graphql(router, None, query).await;
    (response.status, first_error_code(&response.json()))
}

async fn hostile_queries_get_clear_errors(t: TestDb) {
    let router = app(t.local_state());
    let nested = format!(
        "{{ __schema {{ types {{ {}name{} }} }} }}",
        "fields { type { ofType { ".repeat(6),
        " } } }".repeat(6)
    );
    assert_eq!(
        code(&router, &nested).await.1.as_deref(),
        Some("QUERY_TOO_DEEP")
    );

    let aliases: String = (0..1000)
        .map(|i| format!("a{i}: departmentsAboveMean(year: 2021) {{ mean }} "))
        .collect();
    assert_eq!(
        code(&router, &format!("{{ {aliases} }}"))
            .await
            .1
            .as_deref(),
        Some("QUERY_TOO_COMPLEX")
    );

    let many = format!("{{ {} }}", "departments { id } ".repeat(50_000));
    assert_eq!(
        code(&router, &many).await.1.as_deref(),
        Some("QUERY_TOO_LARGE")
    );
    // Under the text limit, but more fields than the complexity limit could ever pass.
    let fields = format!("{{ {} }}", "departments { id } ".repeat(5_000));
    let (status, refused) = code(&router, &fields).await;
    assert_eq!((status, refused.as_deref()), (200, Some("QUERY_TOO_LARGE")));

    let ids = vec!["1"; 100_000].join(",");
    assert_eq!(
        code(
            &router,
            &format!("{{ hiresByQuarter(departmentIds: [{ids}]) {{ q1 }} }}")
        )
        .await
        .1
        .as_deref(),
        Some("TOO_MANY_IDS")
    );
    assert_eq!(
        code(
            &router,
            &format!("{{ hiredEmployees(filter: {{jobIds: [{ids}]}}) {{ totalCount }} }}")
        )
        .await
        .1
        .as_deref(),
        Some("TOO_MANY_IDS")
    );
    assert_eq!(
        code(&router, "{ hiredEmployees(first: 100000) { totalCount } }")
            .await
            .1
            .as_deref(),
        Some("PAGE_SIZE")
    );

    let malformed = send(
        &router,
        Request::post("/graphql")
            .header("content-type", "application/json")
            .body(Body::from("{\"query\": \"{ departments { id } }\""))
            .unwrap(),
    )
    .await;
    assert_eq!(malformed.status, 400);
    assert_eq!(
        first_error_code(&malformed.json()).as_deref(),
        Some("BAD_REQUEST")
    );

    let form = send(
        &router,
        Request::post("/graphql")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from("query={departments{id}}"))
            .unwrap(),
    )
    .await;
    assert_eq!(form.status, 415);
    assert_eq!(
        first_error_code(&form.json()).as_deref(),
        Some("UNSUPPORTED_MEDIA_TYPE")
    );
    assert_eq!(code(&router, "{ departments { id } }").await, (200, None));
}

/// Resident memory of a process, in MiB.
fn rss_mib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    kib / 1024
}

async fn an_introspection_and_alias_flood_leaves_the_server_up_with_bounded_memory(t: TestDb) {
    let mut server = Server::start(&t.url, &[]);
    let base = format!("http://{}/graphql", server.address);
    let client = reqwest::Client::new();
    let introspection = "{ __schema { queryType { name } mutationType { name } types { name kind \
        description fields(includeDeprecated: true) { name args { name type { name kind \
        ofType { name kind } } } type { name kind ofType { name kind ofType { name } } } } \
        inputFields { name } enumValues { name } } } }"
        .to_owned();
    let aliases: String = (0..1000)
        .map(|i| format!("a{i}: departmentsAboveMean(year: 2021) {{ mean }} "))
        .collect();
    let big = format!("{{ {} }}", "departments { id } ".repeat(50_000));
    // Eight clients, each sending its share of the flood back to back.
    let queries: Vec<String> = (0..96)
        .map(|i| match i % 3 {
            0 => introspection.clone(),
            1 => format!("{{ {aliases} }}"),
            _ => big.clone(),
        })
        .collect();
    let mut clients = Vec::new();
    for share in queries.chunks(12) {
        let (client, base, share) = (client.clone(), base.clone(), share.to_vec());
        clients.push(tokio::spawn(async move {
            for query in share {
                let status = client
                    .post(&base)
                    .json(&serde_json::json!({ "query": query }))
                    .send()
                    .await
                    .unwrap_or_else(|err| panic!("the server did not answer: {err:?}"))
                    .status()
                    .as_u16();
                assert!(status < 500, "status {status}");
            }
        }));
    }
    for client in clients {
        client.await.unwrap();
    }
    let health = client
        .get(format!("http://{}/healthz", server.address))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let rss = rss_mib(server.child.id());
    assert!(rss < 512, "the server grew to {rss} MiB");
    let (status, _) = server.terminate();
    assert!(status.success());
}

fn from(ip: [u8; 4], request: Request<Body>) -> Request<Body> {
    let mut request = request;
    request
        .extensions_mut()
        .insert(ConnectInfo(SocketAddr::from((ip, 40_000))));
    request
}

fn departments() -> Request<Body> {
    Request::post("/graphql")
        .header("content-type", "application/json")
        .body(Body::from(r#"{"query": "{ departments { id } }"}"#))
        .unwrap()
}

async fn a_client_over_its_rate_gets_429_while_others_and_probes_go_on(t: TestDb) {
    let mut state = t.local_state();
    state.request_limits = RequestLimits::new(60, Some(1), Some(3));
    let router = app(state);
    for _ in 0..3 {
        assert_eq!(
            send(&router, from([10, 0, 0, 1], departments()))
                .await
                .status,
            200
        );
    }
    let limited = send(&router, from([10, 0, 0, 1], departments())).await;
    assert_eq!(limited.status, 429);
    assert_eq!(
        first_error_code(&limited.json()).as_deref(),
        Some("RATE_LIMITED")
    );
    assert_eq!(
        send(&router, from([10, 0, 0, 2], departments()))
            .await
            .status,
        200
    );
    let health = send(
        &router,
        from(
            [10, 0, 0, 1],
            Request::get("/healthz").body(Body::empty()).unwrap(),
        ),
    )
    .await;
    assert_eq!(health.status, 200);
}

async fn a_request_over_the_timeout_gets_503_and_its_backup_still_finishes(t: TestDb) {
    let server = S3Server::start().await;
    let backups = Backups::new(server.storage("").await);
    let admin = secrecy::SecretString::from("admin-token-for-abuse-tests-0123".to_owned());
    let mut state = t.local_state();
    state.policy = Arc::new(hiring_analytics::auth::AccessPolicy::new(
        Some(&admin),
        None,
        true,
    ));
    state.backups = Arc::new(backups.clone());
    state.request_limits = RequestLimits::new(1, None, None);
    let router = app(state);
    server.hold_writes();
    let response = post_graphql(
        &router,
        Some("admin-token-for-abuse-tests-0123"),
        "mutation { backup { id } }",
    )
    .await;
    assert_eq!(response.status, 503);
    assert_eq!(
        first_error_code(&response.json()).as_deref(),
        Some("REQUEST_TIMEOUT")
    );
    server.release_writes();
    for _ in 0..100 {
        if !hiring_analytics::service::backup::list(&backups.storage)
            .await
            .unwrap()
            .is_empty()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the backup did not finish after its request timed out");
}

db_tests!(
    hostile_queries_get_clear_errors,
    an_introspection_and_alias_flood_leaves_the_server_up_with_bounded_memory,
    a_client_over_its_rate_gets_429_while_others_and_probes_go_on,
    a_request_over_the_timeout_gets_503_and_its_backup_still_finishes,
);
