//! Who may do what (issue 15): every root field of the schema against every
//! role, hire names hidden from viewers, anonymous callers on a public
//! address, introspection for admins only, and the static tokens
//! (`READ_TOKEN`, `TOKENS_FILE`), on SQLite and PostgreSQL.

mod common;
#[path = "common/ws.rs"]
#[allow(dead_code)]
mod ws;

use std::{
    collections::{BTreeMap, BTreeSet},
    path::Path,
    time::Duration,
};

use async_graphql::{
    Request,
    parser::{
        parse_schema,
        types::{TypeKind, TypeSystemDefinition},
    },
};
use common::{TestDb, bound::Bound, generated, load_generated, server::binary};
use futures_util::StreamExt;
use hiring_analytics::{
    AppSchema,
    auth::{AccessPolicy, Caller, Role, tokens::TokenTable},
    build_schema,
    service::backup::{Backups, Storage},
};
use secrecy::SecretString;
use serde_json::{Value, json};

/// Which root type a field is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Root {
    Query,
    Mutation,
    Subscription,
}

/// A root field, the least role that may use it, and a small valid operation
/// that selects it (`$file` is sent as an upload of a small CSV).
struct Rule {
    root: Root,
    field: &'static str,
    needs: Role,
    operation: &'static str,
}

const fn rule(root: Root, field: &'static str, needs: Role, operation: &'static str) -> Rule {
    Rule {
        root,
        field,
        needs,
        operation,
    }
}

use Role::{Admin, Analyst, Editor, Viewer};
use Root::{Mutation, Query, Subscription};

/// The least role of every root field, as issue 15 lists them.
const RULES: &[Rule] = &[
    // viewer: aggregates only.
    rule(
        Query,
        "departments",
        Viewer,
        "{ departments { id department } }",
    ),
    rule(Query, "department", Viewer, "{ department(id: 1) { id } }"),
    rule(Query, "jobs", Viewer, "{ jobs { id job } }"),
    rule(Query, "job", Viewer, "{ job(id: 1) { id } }"),
    rule(
        Query,
        "hiresByQuarter",
        Viewer,
        "{ hiresByQuarter(year: 2021) { department q1 total } }",
    ),
    rule(
        Query,
        "departmentsAboveMean",
        Viewer,
        "{ departmentsAboveMean(year: 2021) { mean } }",
    ),
    rule(
        Query,
        "hiresByQuarterChart",
        Viewer,
        "{ hiresByQuarterChart(year: 2021, width: 200, height: 200, format: SVG) { mimeType } }",
    ),
    rule(
        Query,
        "departmentsAboveMeanChart",
        Viewer,
        "{ departmentsAboveMeanChart(year: 2021, width: 200, height: 200, format: SVG) { mimeType } }",
    ),
    rule(Query, "reportsAsOf", Viewer, "{ reportsAsOf }"),
    rule(
        Query,
        "hiresOverTime",
        Viewer,
        r#"{ hiresOverTime(from: "2021-01-01T00:00:00Z", to: "2022-01-01T00:00:00Z") { total } }"#,
    ),
    rule(
        Query,
        "hiresComparison",
        Viewer,
        r#"{ hiresComparison(period: QUARTER, at: "2021-04-01T00:00:00Z", by: TOTAL) { hires } }"#,
    ),
    rule(
        Query,
        "topJobs",
        Viewer,
        r#"{ topJobs(from: "2021-01-01T00:00:00Z", to: "2022-01-01T00:00:00Z") { job } }"#,
    ),
    rule(
        Query,
        "topDepartments",
        Viewer,
        r#"{ topDepartments(from: "2021-01-01T00:00:00Z", to: "2022-01-01T00:00:00Z") { share } }"#,
    ),
    rule(
        Query,
        "hiresOverTimeChart",
        Viewer,
        r#"{ hiresOverTimeChart(from: "2021-01-01T00:00:00Z", to: "2022-01-01T00:00:00Z", width: 200, height: 200, format: SVG) { mimeType } }"#,
    ),
    rule(
        Query,
        "hiresComparisonChart",
        Viewer,
        r#"{ hiresComparisonChart(period: QUARTER, at: "2021-04-01T00:00:00Z", width: 200, height: 200, format: SVG) { mimeType } }"#,
    ),
    rule(Query, "me", Viewer, "{ me { identity display role } }"),
    rule(
        Subscription,
        "dataChanged",
        Viewer,
        "subscription { dataChanged { version tables } }",
    ),
    // analyst: hire-level rows.
    rule(
        Query,
        "hiredEmployee",
        Analyst,
        "{ hiredEmployee(id: 1) { id name } }",
    ),
    rule(
        Query,
        "hiredEmployees",
        Analyst,
        "{ hiredEmployees(first: 5) { totalCount nodes { name } } }",
    ),
    // editor: the inserts.
    rule(
        Mutation,
        "insertDepartments",
        Editor,
        r#"mutation { insertDepartments(rows: [{id: 1, department: "Sales"}]) { inserted unchanged } }"#,
    ),
    rule(
        Mutation,
        "insertJobs",
        Editor,
        r#"mutation { insertJobs(rows: [{id: 1, job: "Clerk"}]) { inserted unchanged } }"#,
    ),
    rule(
        Mutation,
        "insertHiredEmployees",
        Editor,
        r#"mutation { insertHiredEmployees(rows: [{id: 1, name: "Ada", hireDatetime: "2021-01-01T00:00:00Z", departmentId: 1, jobId: 1}]) { inserted unchanged } }"#,
    ),
    // admin: everything else.
    rule(
        Mutation,
        "importCsv",
        Admin,
        "mutation($file: Upload!) { importCsv(table: JOBS, file: $file) { inserted } }",
    ),
    rule(Mutation, "backup", Admin, "mutation { backup { id } }"),
    rule(
        Mutation,
        "verifyBackup",
        Admin,
        r#"mutation { verifyBackup(id: "no-such-set") { rowsChecked } }"#,
    ),
    rule(
        Mutation,
        "restore",
        Admin,
        r#"mutation { restore(backupId: "no-such-set", dryRun: true) { dryRun } }"#,
    ),
    rule(
        Mutation,
        "startBackup",
        Admin,
        "mutation { startBackup { id startedBy } }",
    ),
    rule(
        Mutation,
        "startVerifyBackup",
        Admin,
        r#"mutation { startVerifyBackup(id: "no-such-set") { id } }"#,
    ),
    rule(
        Mutation,
        "startRestore",
        Admin,
        r#"mutation { startRestore(backupId: "no-such-set", dryRun: true) { id } }"#,
    ),
    rule(
        Mutation,
        "startImportCsv",
        Admin,
        "mutation($file: Upload!) { startImportCsv(table: JOBS, file: $file) { id } }",
    ),
    rule(
        Mutation,
        "cancelOperation",
        Admin,
        r#"mutation { cancelOperation(id: "999999") { id } }"#,
    ),
    rule(
        Query,
        "operation",
        Admin,
        r#"{ operation(id: "999999") { id } }"#,
    ),
    rule(
        Query,
        "operations",
        Admin,
        "{ operations(first: 5) { nodes { id startedBy } } }",
    ),
    rule(Query, "backups", Admin, "{ backups { id } }"),
    rule(
        Query,
        "rejectedRows",
        Admin,
        "{ rejectedRows(first: 5) { nodes { __typename } } }",
    ),
    rule(Query, "auditLog", Admin, "{ auditLog { __typename } }"),
    rule(
        Subscription,
        "operation",
        Admin,
        r#"subscription { operation(id: "999999") { id } }"#,
    ),
];

/// The root fields of `sdl`, by root type.
fn root_fields(sdl: &str) -> BTreeSet<(Root, String)> {
    let document = parse_schema(sdl).expect("the SDL parses");
    let mut names = BTreeMap::from([
        ("Query".to_owned(), Query),
        ("Mutation".to_owned(), Mutation),
        ("Subscription".to_owned(), Subscription),
    ]);
    for definition in &document.definitions {
        if let TypeSystemDefinition::Schema(schema) = definition {
            names.clear();
            let roots = [
                (&schema.node.query, Query),
                (&schema.node.mutation, Mutation),
                (&schema.node.subscription, Subscription),
            ];
            for (name, root) in roots {
                if let Some(name) = name {
                    names.insert(name.node.to_string(), root);
                }
            }
        }
    }
    let mut fields = BTreeSet::new();
    for definition in &document.definitions {
        let TypeSystemDefinition::Type(ty) = definition else {
            continue;
        };
        let (Some(root), TypeKind::Object(object)) =
            (names.get(ty.node.name.node.as_str()), &ty.node.kind)
        else {
            continue;
        };
        for field in &object.fields {
            fields.insert((*root, field.node.name.node.to_string()));
        }
    }
    fields
}

/// Checks that RULES names every root field of `sdl`, and no field it lacks.
fn assert_rules_cover(sdl: &str) {
    let in_schema = root_fields(sdl);
    assert!(
        in_schema.len() > 20 && in_schema.iter().any(|(root, _)| *root == Subscription),
        "the SDL's root fields were not found: {in_schema:?}"
    );
    let in_table: BTreeSet<(Root, String)> = RULES
        .iter()
        .map(|rule| (rule.root, rule.field.to_owned()))
        .collect();
    assert_eq!(in_table.len(), RULES.len(), "a field is listed twice");
    let unlisted: Vec<_> = in_schema.difference(&in_table).collect();
    assert!(
        unlisted.is_empty(),
        "root fields without an expected role in RULES (add them): {unlisted:?}"
    );
    let missing: Vec<_> = in_table.difference(&in_schema).collect();
    assert!(
        missing.is_empty(),
        "RULES lists fields the schema lacks: {missing:?}"
    );
}

#[test]
fn the_role_table_names_exactly_the_schemas_root_fields() {
    let sdl = hiring_analytics::graphql::schema::sdl();
    assert_rules_cover(&sdl);
    // Every operation in the table selects the field it is listed for.
    for rule in RULES {
        let keyword = match rule.root {
            Query => "{",
            Mutation => "mutation",
            Subscription => "subscription",
        };
        assert!(
            rule.operation.trim_start().starts_with(keyword)
                && (rule.operation.contains(&format!("{}(", rule.field))
                    || rule.operation.contains(&format!("{} ", rule.field))),
            "{:?}.{}: {}",
            rule.root,
            rule.field,
            rule.operation
        );
    }
}

/// The callers every field is tried with, and the role each holds.
fn callers() -> Vec<Caller> {
    vec![
        Caller::anonymous(None),
        Caller::anonymous(Some(Viewer)),
        Caller::user("vera", Some("vera@example.com".into()), Some(Viewer)),
        Caller::service("read", Analyst),
        Caller::service("api", Editor),
        Caller::user("ada", None, Some(Admin)),
        Caller::admin(),
    ]
}

/// What `caller` must get from a field that needs `needs`.
#[derive(Debug, PartialEq, Eq)]
enum Expected {
    Allowed,
    Unauthenticated,
    Forbidden,
}

fn expected(caller: &Caller, needs: Role) -> Expected {
    match caller.role {
        Some(role) if role >= needs => Expected::Allowed,
        None if caller.is_anonymous() => Expected::Unauthenticated,
        _ => Expected::Forbidden,
    }
}

/// The first result of `rule`'s operation run by `caller`, as JSON.
async fn run(schema: &AppSchema, rule: &Rule, caller: &Caller, csv: &Path) -> Value {
    let mut request = Request::new(rule.operation).data(caller.clone());
    if rule.operation.contains("$file") {
        request = common::with_upload(request, "jobs.csv", std::fs::File::open(csv).unwrap());
    }
    let response = match rule.root {
        Subscription => {
            let mut stream = schema.execute_stream(request);
            // A guard against a hang only: the first item comes at once.
            tokio::time::timeout(Duration::from_secs(60), stream.next())
                .await
                .unwrap_or_else(|_| panic!("{}: no first result", rule.operation))
                .expect("a first result")
        }
        Query | Mutation => schema.execute(request).await,
    };
    serde_json::to_value(&response).unwrap()
}

/// `(code, message)` of each error of `response`.
fn errors(response: &Value) -> Vec<(String, String)> {
    response["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|error| {
                    (
                        error["extensions"]["code"]
                            .as_str()
                            .unwrap_or_default()
                            .to_owned(),
                        error["message"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn schema_for(t: &TestDb, policy: AccessPolicy, backups: &Path) -> AppSchema {
    let mut state = t.state(policy);
    state.backups = std::sync::Arc::new(Backups::new(Storage::local(backups)));
    build_schema(&state)
}

/// The table-driven test: every root field of Query, Mutation and
/// Subscription, for each caller, through the schema.
async fn each_role_can_use_exactly_the_root_fields_issue_15_lists(t: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("jobs.csv");
    std::fs::write(&csv, "1,Clerk\n").unwrap();
    let schema = schema_for(&t, AccessPolicy::default(), &dir.path().join("backups"));
    assert_rules_cover(&schema.sdl());
    let mut failures = Vec::new();
    for rule in RULES {
        for caller in callers() {
            let response = run(&schema, rule, &caller, &csv).await;
            let errors = errors(&response);
            let who = format!("{} ({})", caller.identity, caller.role_name());
            let what = format!("{:?}.{} by {who}", rule.root, rule.field);
            let refused = |code: &str| errors.iter().any(|(c, _)| c == code);
            match expected(&caller, rule.needs) {
                Expected::Allowed => {
                    if refused("FORBIDDEN") || refused("UNAUTHENTICATED") {
                        failures.push(format!("{what}: refused, but may: {response}"));
                    }
                }
                Expected::Unauthenticated => {
                    if errors.len() != 1 || errors[0].0 != "UNAUTHENTICATED" {
                        failures.push(format!("{what}: expected UNAUTHENTICATED: {response}"));
                    } else if !errors[0].1.contains(&format!("the {} role", rule.needs)) {
                        failures.push(format!(
                            "{what}: the refusal does not name the {} role: {response}",
                            rule.needs
                        ));
                    }
                }
                Expected::Forbidden => {
                    if errors.len() != 1 || errors[0].0 != "FORBIDDEN" {
                        failures.push(format!("{what}: expected FORBIDDEN: {response}"));
                    } else if !errors[0]
                        .1
                        .contains(&format!("needs the {} role", rule.needs))
                    {
                        failures.push(format!(
                            "{what}: the refusal does not name the {} role: {response}",
                            rule.needs
                        ));
                    }
                    // Refused, not a silent null that looks like "nothing there".
                    let data = &response["data"];
                    if !(data.is_null() || data[rule.field].is_null()) {
                        failures.push(format!("{what}: refused but answered: {response}"));
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} checks failed:\n{}",
        failures.len(),
        RULES.len() * callers().len(),
        failures.join("\n")
    );
}

fn secret(token: &str) -> SecretString {
    SecretString::from(token.to_owned())
}

/// `token`'s SHA-256 as 64 hex digits, as `sha256sum` prints it.
fn sha256_hex(token: &str) -> String {
    hiring_analytics::auth::tokens::digest(token)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

const ADMIN_TOKEN: &str = "admin-token-for-identity-tests-0123";
const READ_TOKEN: &str = "read-token-for-identity-tests-01234";
const VIEWER_TOKEN: &str = "viewer-token-for-the-dashboard-0123";
const EDITOR_TOKEN: &str = "editor-token-for-the-loader-script-0";

/// ADMIN_TOKEN and READ_TOKEN, and a tokens file with a viewer and an editor.
fn tokens() -> TokenTable {
    let mut tokens = TokenTable::default();
    tokens.add("admin", Admin, &secret(ADMIN_TOKEN)).unwrap();
    tokens.add("read", Analyst, &secret(READ_TOKEN)).unwrap();
    let file = format!(
        "# name role sha256\n\ndashboard viewer {}\nloader-script editor {}  # the nightly loader\n",
        sha256_hex(VIEWER_TOKEN),
        sha256_hex(EDITOR_TOKEN)
    );
    tokens.add_file(&file).unwrap();
    tokens
}

fn first_code(response: &Value) -> Option<&str> {
    response["errors"][0]["extensions"]["code"].as_str()
}

/// With real data loaded, a viewer's reports and charts work, while the hire
/// list is refused with FORBIDDEN naming analyst, and no name leaks: through
/// the schema and over HTTP, in GraphQL and in the CSV exports.
async fn a_viewer_gets_the_reports_but_forbidden_on_hire_names(t: TestDb) {
    load_generated(&t, generated(300, 15, 2021, 2021)).await;
    let dir = tempfile::tempdir().unwrap();
    let schema = schema_for(&t, AccessPolicy::with_tokens(tokens()), dir.path());
    let names: Vec<String> = common::admin(
        &schema,
        "{ hiredEmployees(first: 500) { nodes { name } } }",
    )
    .await["hiredEmployees"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|node| node["name"].as_str().unwrap().to_owned())
        .collect();
    assert!(names.len() >= 200, "{} names loaded", names.len());

    let viewer = Caller::user("vera", Some("vera@example.com".into()), Some(Viewer));
    let refused = schema
        .execute(Request::new("{ hiredEmployees { nodes { name } } }").data(viewer.clone()))
        .await;
    let refused = serde_json::to_value(&refused).unwrap();
    assert_eq!(first_code(&refused), Some("FORBIDDEN"), "{refused}");
    let message = refused["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("needs the analyst role") && message.contains("user:vera has viewer"),
        "{message}"
    );
    assert!(refused["data"].is_null(), "{refused}");

    let reports = "{ hiresByQuarter(year: 2021) { department job q1 q2 q3 q4 total } \
                   departmentsAboveMean(year: 2021) { mean departments { id department hired } } \
                   departments { id department hires(year: 2021) } jobs { id job } \
                   hiresByQuarterChart(year: 2021, width: 300, height: 200, format: SVG) { mimeType } \
                   reportsAsOf }";
    let answer = schema.execute(Request::new(reports).data(viewer)).await;
    assert!(answer.errors.is_empty(), "{:?}", answer.errors);
    let answer = answer.data.into_json().unwrap();
    let total: i64 = answer["hiresByQuarter"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["total"].as_i64().unwrap())
        .sum();
    assert_eq!(total, names.len() as i64, "{answer}");
    assert!(
        !answer["departmentsAboveMean"]["departments"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert!(answer["reportsAsOf"].is_string(), "{answer}");

    // Over HTTP, with the dashboard's viewer token from the tokens file.
    let server = Bound::serve(t.state(AccessPolicy::with_tokens(tokens()))).await;
    let refused = server
        .graphql(Some(VIEWER_TOKEN), "{ hiredEmployees { nodes { name } } }")
        .await;
    let body = refused.json();
    assert_eq!(first_code(&body), Some("FORBIDDEN"), "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("token:dashboard has viewer"),
        "{body}"
    );
    let answer = server.graphql(Some(VIEWER_TOKEN), reports).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.json()["errors"], Value::Null, "{}", answer.text);
    let csv = server
        .get(
            "/reports/hires-by-quarter.csv?year=2021",
            Some(VIEWER_TOKEN),
        )
        .await;
    assert_eq!(csv.status, 200, "{}", csv.text);
    let above = server
        .get(
            "/reports/departments-above-mean.csv?year=2021",
            Some(VIEWER_TOKEN),
        )
        .await;
    assert_eq!(above.status, 200, "{}", above.text);
    for text in [&refused.text, &answer.text, &csv.text, &above.text] {
        let leaked: Vec<_> = names
            .iter()
            .filter(|name| text.contains(name.as_str()))
            .collect();
        assert!(
            leaked.is_empty(),
            "hire names leaked to a viewer: {leaked:?}"
        );
    }
    // The analyst's READ_TOKEN does see them.
    let list = server
        .graphql(
            Some(READ_TOKEN),
            "{ hiredEmployees(first: 3) { nodes { name } } }",
        )
        .await
        .json();
    assert_eq!(list["errors"], Value::Null, "{list}");
    assert_eq!(
        list["data"]["hiredEmployees"]["nodes"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
}

/// `AccessPolicy::new(Some(admin), None, false)`, the default off loopback:
/// an anonymous request gets 401 asking for a bearer token, for GraphQL and
/// for the CSV exports; the admin token gets in.
async fn anonymous_requests_on_a_public_bind_get_401_by_default(t: TestDb) {
    let admin = secret(ADMIN_TOKEN);
    let policy = AccessPolicy::new(Some(&admin), None, false);
    assert_eq!(policy.anonymous_role(), None);
    let server = Bound::serve(t.state(policy)).await;
    let missing = r#"hiring_analytics_auth_failures_total{reason="missing_token"}"#;
    assert_eq!(server.metric(missing).await, 0.0);

    for query in [
        "{ departments { id } }",
        "{ hiresByQuarter(year: 2021) { total } }",
        "{ __typename }",
    ] {
        let refused = server.graphql(None, query).await;
        assert_eq!(refused.status, 401, "{query}: {}", refused.text);
        assert_eq!(refused.headers["www-authenticate"], "Bearer", "{query}");
        assert_eq!(
            first_code(&refused.json()),
            Some("UNAUTHENTICATED"),
            "{query}"
        );
    }
    for path in [
        "/reports/hires-by-quarter.csv?year=2021",
        "/reports/departments-above-mean.csv",
    ] {
        let refused = server.get(path, None).await;
        assert_eq!(refused.status, 401, "{path}: {}", refused.text);
        assert_eq!(refused.headers["www-authenticate"], "Bearer", "{path}");
        assert_eq!(
            first_code(&refused.json()),
            Some("UNAUTHENTICATED"),
            "{path}"
        );
        let allowed = server.get(path, Some(ADMIN_TOKEN)).await;
        assert_eq!(allowed.status, 200, "{path}: {}", allowed.text);
    }
    assert_eq!(server.metric(missing).await, 5.0);

    let allowed = server
        .graphql(Some(ADMIN_TOKEN), "{ departments { id } }")
        .await;
    assert_eq!(allowed.status, 200);
    assert_eq!(allowed.json()["errors"], Value::Null, "{}", allowed.text);
    // A wrong token is refused too, not treated as anonymous.
    let wrong = server
        .graphql(Some("not-a-token-we-know"), "{ departments { id } }")
        .await;
    assert_eq!(wrong.status, 401);
    assert_eq!(
        server
            .metric(r#"hiring_analytics_auth_failures_total{reason="unknown_token"}"#)
            .await,
        1.0
    );
}

/// `INTROSPECTION=admin`: an analyst cannot read `__schema`, the admin can;
/// without the setting the analyst can.
async fn introspection_for_admins_only_refuses_an_analyst_and_serves_the_admin(t: TestDb) {
    const INTROSPECT: &str = "{ __schema { queryType { name } } }";
    let closed = Bound::serve(
        t.state(AccessPolicy::with_tokens(tokens()).with_introspection_for_admins_only(true)),
    )
    .await;
    // Turned off, introspection is refused with FORBIDDEN, however it is
    // spelled, and shows no type.
    for query in [
        INTROSPECT,
        r#"{ __type(name: "HiredEmployee") { fields { name } } }"#,
        "query { ...Peek } fragment Peek on QueryRoot { __schema { types { name } } }",
        "{ ... on QueryRoot { __schema { types { name } } } }",
    ] {
        let refused = closed.graphql(Some(READ_TOKEN), query).await;
        let body = refused.json();
        assert_eq!(first_code(&body), Some("FORBIDDEN"), "{query}: {body}");
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("INTROSPECTION=admin")
        );
        assert!(!refused.text.contains("QueryRoot") && !refused.text.contains("hireDatetime"));
    }
    let typename = closed
        .graphql(
            Some(READ_TOKEN),
            "{ hiredEmployees(first: 1) { totalCount } }",
        )
        .await
        .json();
    assert_eq!(typename["errors"], Value::Null, "{typename}");
    let admin = closed.graphql(Some(ADMIN_TOKEN), INTROSPECT).await;
    assert_eq!(admin.status, 200);
    assert_eq!(
        admin.json()["data"]["__schema"]["queryType"]["name"],
        "QueryRoot",
        "{}",
        admin.text
    );

    let open = Bound::serve(t.state(AccessPolicy::with_tokens(tokens()))).await;
    let analyst = open.graphql(Some(READ_TOKEN), INTROSPECT).await.json();
    assert_eq!(
        analyst["data"]["__schema"]["queryType"]["name"], "QueryRoot",
        "{analyst}"
    );
}

/// The static tokens are named service identities with their roles:
/// READ_TOKEN is an analyst, and each TOKENS_FILE entry has its own name.
#[tokio::test]
async fn static_tokens_identify_named_services_with_their_roles() {
    let policy = AccessPolicy::with_tokens(tokens());
    for (token, name, role) in [
        (ADMIN_TOKEN, "admin", Admin),
        (READ_TOKEN, "read", Analyst),
        (VIEWER_TOKEN, "dashboard", Viewer),
        (EDITOR_TOKEN, "loader-script", Editor),
    ] {
        let header = format!("Bearer {token}");
        let caller = policy.identify(Some(header.as_bytes())).await.unwrap();
        assert_eq!(caller, Caller::service(name, role));
        assert_eq!(caller.identity, format!("token:{name}"));
    }
    let refused = policy
        .identify(Some(b"Bearer a-token-nobody-configured"))
        .await
        .unwrap_err();
    assert_eq!(refused.reason, "unknown_token");
    assert!(!refused.message.contains("a-token-nobody-configured"));
    assert_eq!(
        policy.identify(None).await.unwrap(),
        Caller::anonymous(None)
    );
}

#[test]
fn a_bad_tokens_file_line_is_refused_naming_the_line() {
    let good = format!("dashboard viewer {}", sha256_hex(VIEWER_TOKEN));
    for (line, says) in [
        ("dashboard viewer".to_owned(), "three fields"),
        (
            format!("dashboard owner {}", sha256_hex(VIEWER_TOKEN)),
            "unknown role `owner`",
        ),
        ("dashboard viewer 1234".to_owned(), "SHA-256"),
        (format!("dashboard viewer {}", "g".repeat(64)), "SHA-256"),
        (
            format!("dash/board viewer {}", sha256_hex(EDITOR_TOKEN)),
            "dash/board",
        ),
        (
            format!("other viewer {}", sha256_hex(VIEWER_TOKEN)),
            "same token",
        ),
        (
            format!("dashboard editor {}", sha256_hex(EDITOR_TOKEN)),
            "used twice",
        ),
    ] {
        let file = format!("# tokens\n{good}\n\n{line}\n");
        let err = TokenTable::default().add_file(&file).unwrap_err();
        assert!(
            err.contains("TOKENS_FILE line 4") && err.contains(says),
            "{line}: {err}"
        );
        assert!(!err.contains(VIEWER_TOKEN));
    }
}

/// The built binary reads READ_TOKEN and TOKENS_FILE: each token gets its
/// role, and a bad line in the file stops `serve` naming the line.
async fn serve_reads_read_token_and_tokens_file(t: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tokens");
    std::fs::write(
        &file,
        format!(
            "# the dashboard\ndashboard viewer {}\n",
            sha256_hex(VIEWER_TOKEN)
        ),
    )
    .unwrap();
    let server = common::Server::start(
        &t.url,
        &[
            ("READ_TOKEN", READ_TOKEN),
            ("TOKENS_FILE", file.to_str().unwrap()),
            ("ANONYMOUS_ROLE", "none"),
        ],
    );
    let at = |token, query| common::graphql_at(&server.address, Some(token), query);
    let hires = "{ hiredEmployees(first: 1) { totalCount } }";
    assert_eq!(at(READ_TOKEN, hires).await["errors"], Value::Null);
    let viewer = at(VIEWER_TOKEN, hires).await;
    assert_eq!(first_code(&viewer), Some("FORBIDDEN"), "{viewer}");
    assert_eq!(
        at(VIEWER_TOKEN, "{ departments { id } }").await["errors"],
        Value::Null
    );
    let insert =
        r#"mutation { insertDepartments(rows: [{id: 1, department: "Sales"}]) { inserted } }"#;
    let analyst = at(READ_TOKEN, insert).await;
    assert_eq!(first_code(&analyst), Some("FORBIDDEN"), "{analyst}");
    assert!(
        analyst["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("needs the editor role"),
        "{analyst}"
    );
    let anonymous = common::graphql_at(&server.address, None, "{ departments { id } }").await;
    assert_eq!(
        first_code(&anonymous),
        Some("UNAUTHENTICATED"),
        "{anonymous}"
    );
    drop(server);

    std::fs::write(
        &file,
        format!(
            "dashboard viewer {}\nbroken viewer\n",
            sha256_hex(VIEWER_TOKEN)
        ),
    )
    .unwrap();
    let output = binary()
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env("DATABASE_URL", &t.url)
        .env("TOKENS_FILE", &file)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("TOKENS_FILE line 2"), "{stderr}");
}

/// `me` names the caller as the server identified it: a static token by its
/// name, anonymous callers as such, each with its role.
async fn me_names_the_caller_and_its_role(t: TestDb) {
    let server =
        Bound::serve(t.state(AccessPolicy::with_tokens(tokens()).with_anonymous(Some(Viewer))))
            .await;
    let query = "{ me { identity display role } }";
    for (token, identity, role) in [
        (Some(VIEWER_TOKEN), "token:dashboard", "viewer"),
        (Some(READ_TOKEN), "token:read", "analyst"),
        (Some(EDITOR_TOKEN), "token:loader-script", "editor"),
        (Some(ADMIN_TOKEN), "token:admin", "admin"),
        (None, "anonymous", "viewer"),
    ] {
        let answer = server.graphql(token, query).await.json();
        assert_eq!(
            answer["data"]["me"],
            json!({ "identity": identity, "display": null, "role": role }),
            "{answer}"
        );
    }
}

/// Browsers apply no CORS to WebSockets, so a page of another site could use
/// a local server's anonymous role through one: the upgrade is refused (403)
/// unless the page is the server's own or its origin is in `CORS_ORIGINS`.
async fn websockets_from_other_sites_are_refused_unless_listed(t: TestDb) {
    let mut state = t.state(AccessPolicy::new(None, None, true));
    state.cors_origins = "http://app.example.com".parse().unwrap();
    let server = Bound::serve(state).await;
    let refusals = r#"hiring_analytics_websocket_refusals_total{reason="foreign_origin"}"#;
    let before = server.metric(refusals).await;
    let foreign = ws::open_from(&server.address, Some("https://evil.example")).await;
    let refused = foreign.err().expect("a foreign page's socket is refused");
    assert!(refused.contains("403"), "{refused}");
    assert_eq!(server.metric(refusals).await, before + 1.0);
    let own = format!("http://{}", server.address);
    for origin in [Some(own.as_str()), Some("http://app.example.com"), None] {
        let mut client = ws::open_from(&server.address, origin)
            .await
            .unwrap_or_else(|err| panic!("{origin:?} was refused: {err}"));
        client.init(None).await.expect("acknowledged");
        client.close().await;
    }
}

db_tests!(
    websockets_from_other_sites_are_refused_unless_listed,
    me_names_the_caller_and_its_role,
    each_role_can_use_exactly_the_root_fields_issue_15_lists,
    a_viewer_gets_the_reports_but_forbidden_on_hire_names,
    anonymous_requests_on_a_public_bind_get_401_by_default,
    introspection_for_admins_only_refuses_an_analyst_and_serves_the_admin,
    serve_reads_read_token_and_tokens_file,
);
