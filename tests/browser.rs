//! Headless Chromium against a server on demo data: the dashboard and the
//! playground, the dashboard's trend view driven over DevTools, and browser
//! apps on other origins calling the API through CORS.
//!
//! Chromium runs with no network access beyond the local server, so this also
//! shows that neither page needs the internet. Without Chromium the test is
//! skipped with a notice; when `CI` is set it fails instead (`.ci/run` installs
//! Debian's `chromium`).

mod common;
// This file drives pages by clicks only: the helpers for typing go unused here.
#[allow(dead_code)]
#[path = "common/devtools.rs"]
mod devtools;

use std::process::Command;

use common::{HEADLESS, Server, chromium};
use devtools::Browser;
use serde_json::{Value, json};

/// The DOM of `url` after its scripts ran, as headless Chromium renders it.
fn rendered_dom(chromium: &str, url: &str) -> String {
    let profile = tempfile::tempdir().unwrap();
    let output = Command::new(chromium)
        .args(HEADLESS)
        .args(["--virtual-time-budget=15000", "--dump-dom"])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(url)
        .output()
        .expect("run chromium");
    assert!(
        output.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn the_dashboard_and_the_playground_render_offline_in_a_browser() {
    let Some(chromium) = chromium() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("demo.db").display());
    let mut server = Server::start_with(&url, &[], &["--demo"]);
    let base = format!("http://{}", server.address);

    let dashboard = rendered_dom(&chromium, &format!("{base}/?year=2021"));
    assert_eq!(
        dashboard.matches("src=\"data:image/png;base64,").count(),
        2,
        "both charts load:\n{dashboard}"
    );
    assert!(
        dashboard.contains("<td>Engineering</td>"),
        "report rows:\n{dashboard}"
    );
    assert!(
        dashboard.contains("Mean hires per department in 2021"),
        "{dashboard}"
    );
    assert!(
        !dashboard.contains("class=\"error\""),
        "an error is shown:\n{dashboard}"
    );
    // Who is signed in is the server's answer to `me`: no token, and the
    // editor role anonymous callers get on a loopback address without tokens.
    assert!(
        dashboard.contains(">Not signed in · editor</span>"),
        "{dashboard}"
    );

    let playground = rendered_dom(&chromium, &format!("{base}/graphql"));
    assert!(playground.contains("graphiql-container"), "{playground}");
    assert!(playground.contains("graphiql-editor"), "{playground}");
    // CodeMirror only appears once GraphiQL has built its editor.
    assert!(
        playground.contains("CodeMirror"),
        "no editor:\n{playground}"
    );

    let (status, _) = server.terminate();
    assert!(status.success());
}

/// A page that POSTs `query` with `token` to the API named in its URL
/// (`?api=…`), as an app on another origin would, and shows what it got (or
/// how the browser refused it).
fn app_page(token: &str, query: &str) -> String {
    let body = serde_json::json!({ "query": query }).to_string();
    format!(
        r#"<!doctype html><html><body><pre id="out">pending</pre><script>
fetch(new URLSearchParams(location.search).get("api"), {{
  method: "POST",
  headers: {{ "content-type": "application/json", "authorization": "Bearer {token}" }},
  body: {body:?},
}})
  .then((r) => r.json().then((j) => "status " + r.status + " request-id " + (r.headers.get("x-request-id") ? "exposed" : "hidden") + " " + JSON.stringify(j)))
  .catch((e) => "blocked: " + e)
  .then((t) => {{ document.getElementById("out").textContent = t; }});
</script></body></html>"#
    )
}

/// Serves `page` at `/` from a port of its own (another origin); returns the origin.
async fn serve_page(page: String) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let app = axum::Router::new().route(
        "/",
        axum::routing::get(move || async move { axum::response::Html(page) }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    origin
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_on_a_listed_origin_writes_with_its_token_and_an_unlisted_one_cannot() {
    let Some(chromium) = chromium() else {
        return;
    };
    // reqwest has no built-in TLS library in this build: it uses ours (aws-lc-rs).
    let token = "api-token-for-the-cors-browser-test";
    let insert = |id: i32| {
        format!(
            r#"mutation {{ insertDepartments(rows: [{{id: {id}, department: "From page {id}"}}]) {{ inserted }} }}"#
        )
    };
    // The pages are served first, so the API can list one of their origins.
    let listed = serve_page(app_page(token, &insert(901))).await;
    let unlisted = serve_page(app_page(token, &insert(902))).await;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("demo.db").display());
    let mut server = Server::start_with(
        &url,
        &[("CORS_ORIGINS", listed.as_str()), ("API_TOKEN", token)],
        &["--demo"],
    );
    let api = format!("http://{}/graphql", server.address);

    let chromium_for = |origin: String| {
        let chromium = chromium.clone();
        let page = format!("{origin}/?api={api}");
        tokio::task::spawn_blocking(move || rendered_dom(&chromium, &page))
    };
    let allowed = chromium_for(listed).await.unwrap();
    assert!(
        allowed.contains(
            r#"status 200 request-id exposed {"data":{"insertDepartments":{"inserted":1}}}"#
        ),
        "{allowed}"
    );
    let refused = chromium_for(unlisted).await.unwrap();
    assert!(refused.contains("blocked: TypeError"), "{refused}");

    // The refused page's preflight stopped its write before it reached the resolvers.
    let stored = reqwest::Client::new()
        .post(&api)
        .json(&serde_json::json!({ "query": "{ department(id: 902) { id } a: department(id: 901) { id } }" }))
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap();
    assert_eq!(
        stored["data"]["department"],
        serde_json::Value::Null,
        "{stored}"
    );
    assert_eq!(stored["data"]["a"]["id"], 901, "{stored}");
    let (status, _) = server.terminate();
    assert!(status.success());
}

/// A demo server on a fresh SQLite file, with Chromium driven over DevTools.
struct TrendPage {
    server: Server,
    base: String,
    browser: Browser,
    _dir: tempfile::TempDir,
}

fn open_demo_dashboard() -> Option<TrendPage> {
    let chromium = devtools::chromium()?;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("demo.db").display());
    let server = Server::start_with(&url, &[], &["--demo"]);
    let base = format!("http://{}", server.address);
    let mut browser = Browser::launch(&chromium);
    // A page of the server's own, so the API can be asked from its origin.
    browser.navigate(&format!("{base}/healthz"));
    Some(TrendPage {
        server,
        base,
        browser,
        _dir: dir,
    })
}

impl TrendPage {
    /// The API's answer to `query`, asked from the page (so with no token, as the page).
    fn api(&mut self, query: &str) -> Value {
        let answer = self.browser.evaluate(&format!(
            "fetch('/graphql', {{ method: 'POST', headers: {{ 'content-type': 'application/json' }}, \
               body: JSON.stringify({{ query: {} }}) }}).then((r) => r.json())",
            json!(query)
        ));
        assert!(answer.get("errors").is_none(), "{answer}");
        answer["data"].clone()
    }

    /// Waits until the trend view shows an answer, and returns what it shows.
    fn trend_view(&mut self, what: &str) -> Value {
        self.browser.wait_for(what, TREND_VIEW)
    }

    fn stop(mut self) {
        drop(self.browser);
        let (status, _) = self.server.terminate();
        assert!(status.success());
    }
}

/// JavaScript: what the trend view shows, once it shows an answer (no "Loading…").
const TREND_VIEW: &str = "(() => { \
    const $ = (id) => document.getElementById(id); \
    if (document.getElementById('status').textContent === 'Loading…') return null; \
    if (document.querySelector('#trends-view .loading') || !$('series-list').children.length) return null; \
    const toggles = [...document.querySelectorAll('#series-list input')]; \
    return { \
      url: location.search, \
      trendsShown: !$('trends-view').hidden, yearShown: !$('year-view').hidden, \
      current: document.querySelector('nav.views [aria-current=page]').textContent, \
      from: $('trend-from').value, to: $('trend-to').value, \
      granularity: $('trend-granularity').value, by: $('trend-by').value, \
      title: $('trend-title').textContent, \
      series: toggles.map((i) => i.closest('li').querySelector('.series-name').textContent), \
      hidden: toggles.filter((i) => !i.checked).map((i) => i.dataset.key), \
      lines: [...document.querySelectorAll('#trend-chart svg .series-line')].map((g) => g.dataset.series), \
      comparisonTitle: $('comparison-title').textContent, \
      comparison: [...document.querySelectorAll('#comparison-table tbody tr')].map((tr) => [...tr.cells].map((c) => c.textContent)), \
      comparisonHead: [...document.querySelectorAll('#comparison-table thead th')].map((th) => th.textContent), \
      top: [...document.querySelectorAll('#top-table tbody tr')].map((tr) => [...tr.cells].map((c) => c.textContent)), \
      topTitle: $('top-title').textContent, \
      crumb: $('breadcrumb').hidden ? null : $('crumb-department').textContent, \
      alert: $('trend-alert').hidden ? null : $('trend-alert').textContent, \
      errors: document.querySelectorAll('.error').length, \
      requests: performance.getEntriesByType('resource').filter((e) => e.name.endsWith('/graphql')).length, \
    }; })()";

/// The names of a `hiresOverTime` or `topJobs` answer's series, as the page shows them.
fn names(list: &Value, field: &str) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|s| s[field].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn the_trend_view_opens_from_a_url_with_its_state_and_shows_the_demo_series_and_the_comparison_table()
 {
    let Some(mut page) = open_demo_dashboard() else {
        return;
    };
    let expected = page.api(
        "{ series: hiresOverTime(from: \"2021-01-01T00:00:00Z\", to: \"2022-01-01T00:00:00Z\", granularity: QUARTER) \
             { departmentId department total } \
           comparison: hiresComparison(period: QUARTER, at: \"2021-10-01T00:00:00Z\") \
             { department hires previous yearEarlier changeFromPrevious } }",
    );
    let series = names(&expected["series"], "department");
    assert!(
        series.len() >= 5,
        "the demo data has departments: {expected}"
    );
    let hidden = expected["series"][1]["departmentId"].to_string();

    let url = format!(
        "{}/?view=trends&from=2021-01&to=2021-12&granularity=QUARTER&by=DEPARTMENT&hide={hidden}",
        page.base
    );
    page.browser.navigate(&url);
    let shown = page.trend_view("the trend view of 2021 by quarter");
    assert_eq!(shown["trendsShown"], true, "{shown}");
    assert_eq!(shown["yearShown"], false, "{shown}");
    assert_eq!(shown["current"], "Trends", "{shown}");
    assert_eq!(
        shown["url"],
        url[page.base.len() + 1..],
        "the URL is kept: {shown}"
    );
    assert_eq!(
        (
            &shown["from"],
            &shown["to"],
            &shown["granularity"],
            &shown["by"]
        ),
        (
            &json!("2021-01"),
            &json!("2021-12"),
            &json!("QUARTER"),
            &json!("DEPARTMENT")
        ),
        "{shown}"
    );
    assert_eq!(shown["title"], "Hires per quarter by department", "{shown}");
    // Every department of the demo data has a toggle; the one in `hide` is off and not drawn.
    assert_eq!(shown["series"], json!(series), "{shown}");
    assert_eq!(shown["hidden"], json!([hidden]), "{shown}");
    let drawn: Vec<&String> = series.iter().filter(|s| **s != series[1]).collect();
    assert_eq!(shown["lines"], json!(drawn), "{shown}");
    // The last complete quarter of the range, against the one before and a year earlier.
    assert_eq!(shown["comparisonTitle"], "Q4 2021 compared", "{shown}");
    let head = shown["comparisonHead"].to_string();
    assert!(
        head.contains("Against Q3 2021") && head.contains("Against Q4 2020"),
        "{shown}"
    );
    let rows = expected["comparison"].as_array().unwrap();
    assert_eq!(
        shown["comparison"].as_array().unwrap().len(),
        rows.len(),
        "{shown}"
    );
    let first = &shown["comparison"][0];
    assert_eq!(first[0], rows[0]["department"], "{shown}");
    assert_eq!(first[1], rows[0]["hires"].to_string(), "{shown}");
    assert_eq!(first[2], rows[0]["previous"].to_string(), "{shown}");
    let change = rows[0]["changeFromPrevious"].as_i64().unwrap();
    let change_text = match change {
        0 => "0".to_owned(),
        c if c > 0 => format!("▲ +{c}"),
        c => format!("▼ −{}", -c),
    };
    assert_eq!(first[3], change_text, "{shown}");
    assert_eq!(shown["topTitle"], "Top departments", "{shown}");
    assert!(!shown["top"].as_array().unwrap().is_empty(), "{shown}");
    assert_eq!(shown["errors"], 0, "an error is shown: {shown}");
    assert_eq!(shown["alert"], Value::Null, "{shown}");

    // A range off the quarter's boundaries is widened to whole quarters, in the URL too.
    page.browser.evaluate(&format!(
        "location.href = {}",
        json!(format!(
            "{}/?view=trends&from=2021-02&to=2021-11&granularity=QUARTER",
            page.base
        ))
    ));
    let widened = page.browser.wait_for(
        "the range widened to whole quarters",
        "location.search === '?view=trends&from=2021-01&to=2021-12&granularity=QUARTER&by=DEPARTMENT' && \
         document.readyState === 'complete' && \
         [document.getElementById('trend-from').value, document.getElementById('trend-to').value]",
    );
    assert_eq!(widened, json!(["2021-01", "2021-12"]));

    // What the server refuses (more than 120 buckets) is shown in its words.
    page.browser.navigate(&format!(
        "{}/?view=trends&from=2010-01&to=2020-12&granularity=MONTH&by=DEPARTMENT",
        page.base
    ));
    let refused = page.browser.wait_for(
        "the server's refusal of 132 months",
        "!document.getElementById('trend-alert').hidden && document.getElementById('trend-alert').textContent",
    );
    assert!(
        refused
            .as_str()
            .unwrap()
            .starts_with("The server refused these settings:")
            && refused.as_str().unwrap().contains("at most 120 buckets"),
        "{refused}"
    );
    page.stop();
}

#[test]
fn toggling_a_series_and_drilling_into_a_department_update_the_url_and_opening_that_url_again_restores_them()
 {
    let Some(mut page) = open_demo_dashboard() else {
        return;
    };
    let start = format!(
        "{}/?view=trends&from=2021-01&to=2021-12&granularity=MONTH&by=DEPARTMENT",
        page.base
    );
    page.browser.navigate(&start);
    let before = page.trend_view("the trend view of 2021 by month");
    let departments = before["series"].as_array().unwrap().len();
    assert_eq!(
        before["lines"].as_array().unwrap().len(),
        departments,
        "{before}"
    );

    // Hiding a series redraws the chart without asking the server, and goes into the URL.
    let key = page
        .browser
        .evaluate("document.querySelector('#series-list li:nth-child(1) input').dataset.key");
    let key = key.as_str().unwrap().to_owned();
    page.browser
        .click(&format!("#series-list input[data-key='{key}']"));
    let toggled = page.trend_view("the first series hidden");
    assert_eq!(toggled["hidden"], json!([key]), "{toggled}");
    assert_eq!(
        toggled["lines"].as_array().unwrap().len(),
        departments - 1,
        "{toggled}"
    );
    assert_eq!(
        toggled["url"],
        format!("?view=trends&from=2021-01&to=2021-12&granularity=MONTH&by=DEPARTMENT&hide={key}")
    );
    assert_eq!(
        toggled["requests"], before["requests"],
        "no request for a toggle: {toggled}"
    );

    // The chart's CSV export, fetched like the page's requests, leaves the hidden series out.
    page.browser.evaluate(
        "window.csvBlobs = []; const made = URL.createObjectURL; \
         URL.createObjectURL = (blob) => { window.csvBlobs.push(blob); return made(blob); }",
    );
    page.browser.click("[data-testid=csv-hires-over-time]");
    let csv = page.browser.wait_for(
        "the CSV export of the chart",
        "window.csvBlobs.length === 1 && window.csvBlobs[0].text()",
    );
    let csv = csv.as_str().unwrap();
    assert!(
        csv.starts_with("start,departmentId,department,jobId,job,hires"),
        "{csv}"
    );
    let hidden_name = toggled["series"][0].as_str().unwrap();
    let shown_name = toggled["series"][1].as_str().unwrap();
    assert!(!csv.contains(&format!(",{hidden_name},")), "{csv}");
    assert!(csv.contains(&format!(",{shown_name},")), "{csv}");

    // A department in the comparison table drills into its jobs.
    let department = page.browser.evaluate(
        "(() => { const a = document.querySelector('#comparison-table tbody a'); \
           return { name: a.textContent, id: Number(new URL(a.href).searchParams.get('department')) }; })()",
    );
    let (name, id) = (
        department["name"].as_str().unwrap().to_owned(),
        department["id"].as_i64().unwrap(),
    );
    let jobs = page.api(&format!(
        "{{ series: hiresOverTime(from: \"2021-01-01T00:00:00Z\", to: \"2022-01-01T00:00:00Z\", by: JOB, departmentIds: [{id}]) {{ jobId job }} \
           top: topJobs(departmentId: {id}, from: \"2021-01-01T00:00:00Z\", to: \"2022-01-01T00:00:00Z\") {{ job hires }} }}"
    ));
    page.browser.click("#comparison-table tbody a");
    let drilled = page.browser.wait_for(
        "the department's jobs",
        &format!("(() => {{ const v = {TREND_VIEW}; return v && v.crumb === {} && v.topTitle === 'Top jobs' && v; }})()", json!(name)),
    );
    let drilled_url = format!(
        "?view=trends&from=2021-01&to=2021-12&granularity=MONTH&by=DEPARTMENT&department={id}"
    );
    assert_eq!(drilled["url"], drilled_url, "{drilled}");
    assert_eq!(
        drilled["title"],
        format!("Hires per month by job in {name}"),
        "{drilled}"
    );
    assert_eq!(drilled["by"], "JOB", "{drilled}");
    assert_eq!(
        drilled["series"],
        json!(names(&jobs["series"], "job")),
        "{drilled}"
    );
    assert_eq!(drilled["hidden"], json!([]), "{drilled}");
    let top: Vec<String> = drilled["top"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row[1].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(top, names(&jobs["top"], "job"), "{drilled}");
    assert_eq!(drilled["errors"], 0, "{drilled}");
    page.browser.click("[data-testid=csv-top]");
    let csv = page.browser.wait_for(
        "the CSV export of the top jobs",
        "window.csvBlobs.length === 2 && window.csvBlobs[1].text()",
    );
    assert!(
        csv.as_str()
            .unwrap()
            .starts_with("rank,jobId,job,hires,share"),
        "{csv}"
    );

    // Hiding a job there, then back to every department and forward again.
    let job = jobs["series"][0]["jobId"].to_string();
    page.browser
        .click(&format!("#series-list input[data-key='{job}']"));
    let expected_url = format!(
        "?view=trends&from=2021-01&to=2021-12&granularity=MONTH&by=DEPARTMENT&hide={job}&department={id}"
    );
    let hidden_job = page.trend_view("a job hidden");
    assert_eq!(hidden_job["url"], expected_url, "{hidden_job}");
    page.browser.evaluate("history.back()");
    let back = page.browser.wait_for(
        "every department again",
        &format!("(() => {{ const v = {TREND_VIEW}; return v && v.crumb === null && v; }})()"),
    );
    assert_eq!(back["hidden"], json!([key]), "{back}");
    assert_eq!(back["topTitle"], "Top departments", "{back}");
    page.browser.evaluate("history.forward()");
    let forward = page.browser.wait_for(
        "the department again",
        &format!(
            "(() => {{ const v = {TREND_VIEW}; return v && v.crumb === {} && v; }})()",
            json!(name)
        ),
    );
    assert_eq!(forward["hidden"], json!([job]), "{forward}");

    // The URL opened afresh (as a shared link) shows the same.
    page.browser.navigate("about:blank");
    page.browser
        .navigate(&format!("{}/{expected_url}", page.base));
    let restored = page.browser.wait_for(
        "the shared link's view",
        &format!(
            "(() => {{ const v = {TREND_VIEW}; return v && v.crumb === {} && v; }})()",
            json!(name)
        ),
    );
    for field in [
        "url",
        "title",
        "series",
        "hidden",
        "lines",
        "comparison",
        "top",
        "crumb",
    ] {
        assert_eq!(restored[field], hidden_job[field], "{field}: {restored}");
    }

    // The breadcrumb leads back to every department, and the Year link to the year view.
    page.browser.click("#crumb-all");
    let all = page.browser.wait_for(
        "every department from the breadcrumb",
        &format!("(() => {{ const v = {TREND_VIEW}; return v && v.crumb === null && v; }})()"),
    );
    assert_eq!(all["url"], start[page.base.len() + 1..], "{all}");
    page.browser.click("#view-year");
    let year = page.browser.wait_for(
        "the year view",
        "!document.getElementById('year-view').hidden && \
         document.querySelectorAll('#quarter-table tbody td.number').length > 0 && \
         document.querySelectorAll('.chart img').length === 2 && location.search",
    );
    assert_eq!(year, "?year=2021");
    page.stop();
}

#[test]
fn the_trend_view_refreshes_by_itself_when_a_hire_is_stored() {
    let Some(mut page) = open_demo_dashboard() else {
        return;
    };
    page.browser.navigate(&format!(
        "{}/?view=trends&from=2021-01&to=2021-12&granularity=QUARTER&by=DEPARTMENT",
        page.base
    ));
    page.browser.wait_for(
        "the trend view and the live subscription",
        &format!("{TREND_VIEW} && document.getElementById('live').dataset.status === 'live'"),
    );
    page.browser.evaluate("window.sameDocument = true");
    let total = |page: &mut TrendPage| {
        page.browser
            .evaluate("Number(document.querySelector('#series-list li .series-total').textContent)")
    };
    let before = total(&mut page).as_i64().unwrap();
    let ids = page.api("{ series: hiresOverTime(from: \"2021-01-01T00:00:00Z\", to: \"2022-01-01T00:00:00Z\") { departmentId } jobs { id } }");
    let insert = format!(
        r#"mutation {{ insertHiredEmployees(rows: [{{id: 900002, name: "Trend Update", hireDatetime: "2021-06-15T12:00:00Z", departmentId: {}, jobId: {}}}]) {{ inserted }} }}"#,
        ids["series"][0]["departmentId"], ids["jobs"][0]["id"]
    );
    assert_eq!(page.api(&insert)["insertHiredEmployees"]["inserted"], 1);
    let after = page.browser.wait_for(
        "the trend view to count the new hire without a reload",
        &format!(
            "Number(document.querySelector('#series-list li .series-total').textContent) === {} && \
             window.sameDocument === true && {TREND_VIEW}",
            before + 1
        ),
    );
    assert_eq!(after["errors"], 0, "{after}");
    page.stop();
}
