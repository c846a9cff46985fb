//! HTTP caching of GraphQL answers from the data version.
//!
//! A query that reads only the data (hires, departments, jobs, and the
//! reports and charts made from them) gets a strong `ETag`: a hash of the
//! normalized document, the operation, the variables, the caller's role, the
//! build and the data version. The version moves with every committed change,
//! so a client sending the ETag back in `If-None-Match` gets `304 Not
//! Modified` without any resolver running until the data changes.
//!
//! Reports and charts are also kept in a bounded in-memory cache under the
//! same key, and identical requests that arrive while one is being computed
//! wait for it: a wall of dashboards costs one computation per data change.

use std::{
    collections::{HashMap, VecDeque},
    sync::{Arc, Mutex},
};

use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use axum::{
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use bytes::Bytes;
use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;

use super::negotiate::MediaType;
use crate::{
    auth::Caller,
    service::{backup::avro::hex, data_version::DataVersion},
};

/// Root fields whose answers depend on nothing but the data and the arguments,
/// and that are worth keeping: the reports and charts.
const REPORT_FIELDS: [&str; 11] = [
    "hiresByQuarter",
    "departmentsAboveMean",
    "hiresByQuarterChart",
    "departmentsAboveMeanChart",
    "reportsAsOf",
    "hiresOverTime",
    "hiresComparison",
    "topJobs",
    "topDepartments",
    "hiresOverTimeChart",
    "hiresComparisonChart",
];

/// Other root fields whose answers depend on nothing but the data, the
/// arguments and the schema (introspection).
const DATA_FIELDS: [&str; 9] = [
    "departments",
    "department",
    "jobs",
    "job",
    "hiredEmployees",
    "hiredEmployee",
    "__typename",
    "__schema",
    "__type",
];

/// What a query's answer depends on, when HTTP caching can vouch for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Only reports and charts: cached in memory as well.
    Reports,
    /// Only the data: an ETag, but not kept.
    Data,
}

/// The scope of the operation `operation_name` picks from `document`, or
/// `None` when its answer may depend on more than the data (mutations,
/// admin fields, an operation that cannot be told).
pub fn scope(document: &ExecutableDocument, operation_name: Option<&str>) -> Option<Scope> {
    let operation = match operation_name {
        Some(name) => {
            document
                .operations
                .iter()
                .find(|(n, _)| n.is_some_and(|n| n.as_str() == name))?
                .1
        }
        None => {
            let mut operations = document.operations.iter();
            let (_, only) = operations.next()?;
            if operations.next().is_some() {
                return None;
            }
            only
        }
    };
    if operation.node.ty != async_graphql::parser::types::OperationType::Query {
        return None;
    }
    let mut fields = Vec::new();
    root_fields(document, &operation.node.selection_set.node, &mut fields, 0)?;
    if fields.iter().all(|f| REPORT_FIELDS.contains(&f.as_str())) {
        Some(Scope::Reports)
    } else if fields
        .iter()
        .all(|f| REPORT_FIELDS.contains(&f.as_str()) || DATA_FIELDS.contains(&f.as_str()))
    {
        Some(Scope::Data)
    } else {
        None
    }
}

/// Collects the names of the root fields of `set`, through fragments;
/// `None` for an unknown fragment or fragments nested past any real query.
fn root_fields(
    document: &ExecutableDocument,
    set: &SelectionSet,
    fields: &mut Vec<String>,
    depth: usize,
) -> Option<()> {
    if depth > 8 {
        return None;
    }
    for selection in &set.items {
        match &selection.node {
            Selection::Field(field) => fields.push(field.node.name.node.to_string()),
            Selection::FragmentSpread(spread) => {
                let fragment = document.fragments.get(&spread.node.fragment_name.node)?;
                root_fields(
                    document,
                    &fragment.node.selection_set.node,
                    fields,
                    depth + 1,
                )?;
            }
            Selection::InlineFragment(inline) => {
                root_fields(document, &inline.node.selection_set.node, fields, depth + 1)?;
            }
        }
    }
    Some(())
}

/// `query` without comments and insignificant white space and commas, so
/// that the same document written differently gets the same key.
pub fn normalized(query: &str) -> String {
    let mut out = String::with_capacity(query.len());
    let mut chars = query.chars().peekable();
    let mut pending_space = false;
    while let Some(c) = chars.next() {
        match c {
            '#' => {
                for c in chars.by_ref() {
                    if c == '\n' || c == '\r' {
                        break;
                    }
                }
                pending_space = true;
            }
            c if c.is_whitespace() || c == ',' || c == '\u{feff}' => pending_space = true,
            '"' => {
                push_space(&mut out, &mut pending_space, c);
                copy_string(&mut chars, &mut out);
            }
            c => push_space(&mut out, &mut pending_space, c),
        }
    }
    out
}

/// Pushes `c`, after one space if white space came before it and both sides are names.
fn push_space(out: &mut String, pending_space: &mut bool, c: char) {
    let word = |c: char| c.is_alphanumeric() || c == '_' || c == '$' || c == '"';
    if *pending_space && out.chars().last().is_some_and(word) && word(c) {
        out.push(' ');
    }
    *pending_space = false;
    out.push(c);
}

/// Copies a string literal (the opening quote is already out) as written:
/// `"…"` with escapes, or a block string `"""…"""`.
fn copy_string(chars: &mut std::iter::Peekable<std::str::Chars<'_>>, out: &mut String) {
    let block = {
        let mut ahead = chars.clone();
        ahead.next() == Some('"') && ahead.next() == Some('"')
    };
    if block {
        out.push_str("\"\"");
        chars.nth(1);
        let mut quotes = 0;
        for c in chars.by_ref() {
            out.push(c);
            quotes = if c == '"' { quotes + 1 } else { 0 };
            if quotes == 3 {
                return;
            }
        }
        return;
    }
    let mut escaped = false;
    for c in chars.by_ref() {
        out.push(c);
        match c {
            '\\' if !escaped => escaped = true,
            '"' if !escaped => return,
            _ => escaped = false,
        }
    }
}

/// The strong ETag of an answer to `request` for `caller` at `version`, sent
/// as `media`.
pub fn etag(
    request: &async_graphql::Request,
    caller: &Caller,
    media: MediaType,
    version: &DataVersion,
) -> String {
    tag_of(
        &[
            "graphql",
            media.content_type().to_str().unwrap_or_default(),
            &normalized(&request.query),
            request.operation_name.as_deref().unwrap_or_default(),
            &serde_json::to_string(&request.variables).unwrap_or_default(),
        ],
        caller,
        version,
    )
}

/// The strong ETag of a resource named by `parts` (such as a CSV export and
/// its year) for `caller` at `version`.
pub fn tag_of(parts: &[&str], caller: &Caller, version: &DataVersion) -> String {
    let mut hash = Sha256::new();
    let fixed = [
        env!("CARGO_PKG_VERSION"),
        caller.role_name(),
        &version.tag(),
    ];
    for part in fixed.iter().chain(parts) {
        hash.update(part.as_bytes());
        hash.update([0]);
    }
    format!("\"{}\"", hex(&hash.finalize()[..16]))
}

/// True when `If-None-Match` in `headers` names `etag` (or is `*`).
pub fn not_modified(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|tag| tag.trim().trim_start_matches("W/"))
        .any(|tag| tag == etag || tag == "*")
}

/// Marks a response HTTP caching vouches for: its `ETag` and a `Cache-Control`
/// that makes clients revalidate every time, unless `max_age` seconds are
/// allowed. Without an ETag (or one a header cannot carry): `no-store`.
pub fn mark(headers: &mut HeaderMap, etag: Option<&str>, max_age: u32) {
    let Some(etag) = etag.and_then(|tag| HeaderValue::from_str(tag).ok()) else {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        return;
    };
    headers.insert(header::ETAG, etag);
    let cache_control = match max_age {
        0 => HeaderValue::from_static("private, no-cache"),
        seconds => HeaderValue::from_str(&format!("private, max-age={seconds}"))
            .unwrap_or(HeaderValue::from_static("private, no-cache")),
    };
    headers.insert(header::CACHE_CONTROL, cache_control);
}

/// 304 Not Modified for a client that holds the answer tagged `etag`.
pub fn not_modified_response(etag: &str, max_age: u32) -> Response {
    let mut response = StatusCode::NOT_MODIFIED.into_response();
    mark(response.headers_mut(), Some(etag), max_age);
    response
}

/// The bounded cache of report answers, keyed by ETag. Oldest entries go
/// first once the bodies pass the byte budget; a body larger than an eighth
/// of it is not kept.
#[derive(Debug)]
pub struct ResponseCache {
    budget: usize,
    state: Mutex<CacheState>,
}

#[derive(Debug, Default)]
struct CacheState {
    bodies: HashMap<String, Bytes>,
    order: VecDeque<String>,
    bytes: usize,
    /// Answers being computed, for requests that arrive meanwhile to wait on.
    computing: HashMap<String, Arc<OnceCell<Option<Bytes>>>>,
}

/// How an answer was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    /// Kept, or computed by another request meanwhile.
    Hit,
    /// Computed for this request.
    Miss,
}

impl ResponseCache {
    /// A cache keeping at most `budget` bytes of answers (0: none).
    pub fn new(budget: usize) -> Self {
        Self {
            budget,
            state: Mutex::default(),
        }
    }

    /// The answer under `key`: kept, being computed by another request, or
    /// computed now by `compute` (`None`: not to be kept, such as an answer
    /// with errors, which the caller then sends itself).
    pub async fn get_or_compute<F>(&self, key: &str, compute: F) -> (Option<Bytes>, Lookup)
    where
        F: AsyncFnOnce() -> Option<Bytes>,
    {
        if self.budget == 0 {
            return (compute().await, Lookup::Miss);
        }
        let cell = {
            let mut state = self.lock();
            if let Some(body) = state.bodies.get(key) {
                return (Some(body.clone()), Lookup::Hit);
            }
            Arc::clone(state.computing.entry(key.to_owned()).or_default())
        };
        let mut computed_here = false;
        let body = cell
            .get_or_init(|| async {
                computed_here = true;
                compute().await
            })
            .await
            .clone();
        if computed_here {
            self.finish(key, body.clone());
        }
        let lookup = if computed_here {
            Lookup::Miss
        } else {
            Lookup::Hit
        };
        (body, lookup)
    }

    /// Bytes of answers kept now.
    pub fn bytes(&self) -> usize {
        self.lock().bytes
    }

    fn finish(&self, key: &str, body: Option<Bytes>) {
        let mut state = self.lock();
        state.computing.remove(key);
        let Some(body) = body.filter(|b| b.len() <= self.budget / 8) else {
            return;
        };
        state.bytes += body.len();
        state.order.push_back(key.to_owned());
        state.bodies.insert(key.to_owned(), body);
        while state.bytes > self.budget {
            let Some(oldest) = state.order.pop_front() else {
                break;
            };
            if let Some(gone) = state.bodies.remove(&oldest) {
                state.bytes -= gone.len();
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, CacheState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_document_written_differently_normalizes_the_same() {
        let a = "query Q($y: Int) {\n  hiresByQuarter(year: $y) { q1, q2 } # the report\n}";
        let b = "query Q($y:Int){hiresByQuarter(year:$y){q1 q2}}";
        assert_eq!(normalized(a), normalized(b));
        assert_eq!(
            normalized(b),
            "query Q($y:Int){hiresByQuarter(year:$y){q1 q2}}"
        );
        // Strings keep their spaces, commas and hashes.
        let s = r#"{ f(a: "x,  # y\" z") g(b: """ block , "q" """) }"#;
        assert_eq!(
            normalized(s),
            r#"{f(a:"x,  # y\" z")g(b:""" block , "q" """)}"#
        );
    }

    fn scope_of(query: &str, name: Option<&str>) -> Option<Scope> {
        let document = async_graphql::parser::parse_query(query).unwrap();
        scope(&document, name)
    }

    #[test]
    fn only_queries_of_the_data_get_a_scope() {
        assert_eq!(
            scope_of("{ hiresByQuarter { q1 } reportsAsOf }", None),
            Some(Scope::Reports)
        );
        assert_eq!(
            scope_of("{ departments { id } hiresByQuarter { q1 } }", None),
            Some(Scope::Data)
        );
        assert_eq!(
            scope_of("{ ...F } fragment F on QueryRoot { jobs { id } }", None),
            Some(Scope::Data)
        );
        assert_eq!(
            scope_of("{ rejectedRows { edges { cursor } } }", None),
            None
        );
        assert_eq!(
            scope_of("mutation { insertJobs(rows: []) { inserted } }", None),
            None
        );
        assert_eq!(
            scope_of(
                "query A { jobs { id } } query B { departments { id } }",
                None
            ),
            None
        );
        assert_eq!(
            scope_of(
                "query A { jobs { id } } query B { backups { id } }",
                Some("A")
            ),
            Some(Scope::Data)
        );
    }

    #[tokio::test]
    async fn concurrent_identical_requests_compute_once_and_the_cache_stays_within_budget() {
        let cache = Arc::new(ResponseCache::new(800));
        let computed = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut waiting = Vec::new();
        for _ in 0..8 {
            let (cache, computed) = (Arc::clone(&cache), Arc::clone(&computed));
            waiting.push(tokio::spawn(async move {
                cache
                    .get_or_compute("k", async || {
                        computed.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        Some(Bytes::from_static(b"answer"))
                    })
                    .await
            }));
        }
        let mut misses = 0;
        for task in waiting {
            let (body, lookup) = task.await.unwrap();
            assert_eq!(body.as_deref(), Some(&b"answer"[..]));
            misses += usize::from(lookup == Lookup::Miss);
        }
        assert_eq!(computed.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert_eq!(misses, 1);
        for i in 0..20 {
            let key = format!("key{i}");
            cache
                .get_or_compute(&key, async || Some(Bytes::from(vec![0u8; 90])))
                .await;
        }
        assert!(cache.bytes() <= 800, "{}", cache.bytes());
        // Too large to keep: computed each time.
        let big = || async { Some(Bytes::from(vec![0u8; 200])) };
        assert_eq!(cache.get_or_compute("big", big).await.1, Lookup::Miss);
        assert_eq!(cache.get_or_compute("big", big).await.1, Lookup::Miss);
    }
}
