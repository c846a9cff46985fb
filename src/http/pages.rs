//! The web pages: the dashboard at `/`, the admin console at `/admin` and the
//! GraphiQL playground, all served from files embedded in the binary so that
//! they work without internet access (air-gapped networks). The playground can
//! load from a CDN instead.

use std::{io::Write, sync::OnceLock};

use async_graphql::http::GraphiQLSource;
use axum::{
    extract::Path,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Response},
};
use flate2::{Compression, write::GzEncoder};

/// The version in asset URLs: a new GraphiQL gets new URLs, so caches never serve a stale one.
pub const GRAPHIQL_VERSION: &str = "3.8.3";

/// One embedded file.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

/// Content types of the embedded files.
const JAVASCRIPT: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// The file `assets/{folder}/{name}`, embedded in the binary.
macro_rules! embedded {
    ($folder:literal, $name:literal, $content_type:expr) => {
        Asset {
            name: $name,
            content_type: $content_type,
            bytes: include_bytes!(concat!("../../assets/", $folder, "/", $name)),
        }
    };
}

/// GraphiQL and the React it runs on.
const ASSETS: [Asset; 4] = [
    embedded!("graphiql", "graphiql.min.js", JAVASCRIPT),
    embedded!("graphiql", "graphiql.min.css", CSS),
    embedded!("graphiql", "react.production.min.js", JAVASCRIPT),
    embedded!("graphiql", "react-dom.production.min.js", JAVASCRIPT),
];

/// The assets gzip-compressed, done once on first use.
fn gzipped() -> &'static [Vec<u8>] {
    static GZIPPED: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    GZIPPED.get_or_init(|| {
        ASSETS
            .iter()
            .map(|asset| {
                let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
                // Writing to memory cannot fail.
                let _ = encoder.write_all(asset.bytes);
                encoder.finish().unwrap_or_default()
            })
            .collect()
    })
}

/// The playground page: offline by default, or the stock CDN page.
pub fn playground(use_cdn: bool) -> Html<String> {
    if use_cdn {
        return Html(
            GraphiQLSource::build()
                .endpoint("/graphql")
                .title("hiring-analytics")
                .finish(),
        );
    }
    let base = format!("/assets/graphiql/{GRAPHIQL_VERSION}");
    Html(format!(
        r#"<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <meta name="robots" content="noindex">
  <title>hiring-analytics · GraphiQL</title>
  <link rel="stylesheet" href="{base}/graphiql.min.css">
  <style>body {{ margin: 0; }} #graphiql {{ height: 100vh; }}</style>
</head>
<body>
  <div id="graphiql">Loading the playground…</div>
  <script src="{base}/react.production.min.js"></script>
  <script src="{base}/react-dom.production.min.js"></script>
  <script src="{base}/graphiql.min.js"></script>
  <script>
    const fetcher = GraphiQL.createFetcher({{ url: "/graphql" }});
    // A shared link (/graphql?query=…&variables=…&operationName=…) opens with them filled in.
    const shared = new URLSearchParams(location.search);
    const given = (name) => shared.get(name) ?? undefined;
    ReactDOM.createRoot(document.getElementById("graphiql")).render(
      React.createElement(GraphiQL, {{
        fetcher,
        defaultQuery: "{{\n  departmentsAboveMean(year: 2021) {{\n    mean\n    departments {{ id department hired }}\n  }}\n}}\n",
        query: given("query"),
        variables: given("variables"),
        operationName: given("operationName"),
      }})
    );
  </script>
</body>
</html>
"#
    ))
}

/// GET /assets/graphiql/{version}/{file}: an embedded asset, gzip-compressed when
/// the client accepts it, cached for a year (the URL changes with the version).
pub async fn graphiql_asset(
    Path((version, name)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let Some(index) = ASSETS.iter().position(|a| a.name == name) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if version != GRAPHIQL_VERSION {
        return StatusCode::NOT_FOUND.into_response();
    }
    let asset = &ASSETS[index];
    let accepts_gzip = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|e| e.trim().starts_with("gzip")));
    let mut response = if accepts_gzip {
        let mut response = gzipped()[index].clone().into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        response
    } else {
        asset.bytes.into_response()
    };
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    response
}

const DASHBOARD_HTML: &str = include_str!("../../assets/dashboard/index.html");

/// The dashboard's scripts (the page, the trend view and its SVG line chart)
/// and style sheet.
const DASHBOARD_ASSETS: [Asset; 4] = [
    embedded!("dashboard", "app.js", JAVASCRIPT),
    embedded!("dashboard", "trends.js", JAVASCRIPT),
    embedded!("dashboard", "trend-chart.js", JAVASCRIPT),
    embedded!("dashboard", "style.css", CSS),
];

/// GET /: the dashboard, a year view with both charts and both reports and a
/// trend view (hires over time, the comparison of periods, a department's
/// jobs), fetched from `/graphql` by plain JavaScript (no build step),
/// refreshed when the `dataChanged` subscription reports a change.
pub async fn dashboard() -> Response {
    protected(page(DASHBOARD_HTML), DASHBOARD_CONTENT_SECURITY_POLICY)
}

/// Only this server's own files (the charts are `data:` images), no inline
/// code, and no framing: the page holds a pasted token.
const DASHBOARD_CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' data:; \
    base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// `response` with `policy` as its content-security policy, sending no referrer.
fn protected(mut response: Response, policy: &'static str) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(policy),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

/// GET /assets/dashboard/{file}: the dashboard's scripts and style sheet.
pub async fn dashboard_asset(Path(name): Path<String>) -> Response {
    small_asset(&DASHBOARD_ASSETS, &name)
}

const ADMIN_HTML: &str = include_str!("../../assets/admin/index.html");

/// The admin console's scripts (the subscription client and the token helpers
/// are shared with the dashboard) and style sheet.
const ADMIN_ASSETS: [Asset; 4] = [
    embedded!("admin", "admin.js", JAVASCRIPT),
    embedded!("admin", "graphql-ws.js", JAVASCRIPT),
    embedded!("admin", "token.js", JAVASCRIPT),
    embedded!("admin", "admin.css", CSS),
];

/// Only this server's own files, no inline code, and no framing: the page
/// starts restores, so no other site may overlay it.
const ADMIN_CONTENT_SECURITY_POLICY: &str =
    "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// GET /admin: the admin console, where an operator with the admin token runs
/// backups, verifications and restores and watches their progress live.
pub async fn admin_console() -> Response {
    protected(page(ADMIN_HTML), ADMIN_CONTENT_SECURITY_POLICY)
}

/// GET /assets/admin/{file}: the admin console's scripts and style sheet.
pub async fn admin_asset(Path(name): Path<String>) -> Response {
    small_asset(&ADMIN_ASSETS, &name)
}

/// An embedded HTML page, revalidated on every visit.
fn page(html: &'static str) -> Response {
    let mut response = Html(html).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// The file `name` among a page's `assets`, revalidated on every use.
fn small_asset(assets: &[Asset], name: &str) -> Response {
    let Some(asset) = assets.iter().find(|a| a.name == name) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let mut response = asset.bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    // Small files that change with the server: revalidate every time.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}
