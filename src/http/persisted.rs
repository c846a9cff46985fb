//! Persisted queries: Apollo's automatic persisted queries (APQ), and a
//! trusted-documents mode where only registered documents run.
//!
//! A client sends `extensions.persistedQuery = { version: 1, sha256Hash }`.
//! Without the document, the server runs the one it holds under that hash, or
//! answers `PERSISTED_QUERY_NOT_FOUND`; the client then sends the document
//! with its hash once, which the server checks and keeps. Dashboards can then
//! send short GETs that caches and CDNs can key on.
//!
//! - `PERSISTED_QUERIES=auto` (the default): any document runs; hashes are
//!   kept in a bounded store (the oldest go first).
//! - `PERSISTED_QUERIES=only`: only documents registered at start (each
//!   `*.graphql` file of `PERSISTED_QUERIES_DIR`) run, by hash or by text;
//!   anything else gets `PERSISTED_QUERY_NOT_IN_LIST`.
//! - `PERSISTED_QUERIES=off`: the extension is ignored (`PERSISTED_QUERY_NOT_SUPPORTED`
//!   for hash-only requests).

use std::{
    collections::{HashMap, VecDeque},
    path::Path,
    sync::{Arc, Mutex},
};

use sha2::{Digest, Sha256};

use crate::service::backup::avro::hex;

/// How persisted queries are handled (`PERSISTED_QUERIES`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum PersistedMode {
    /// Automatic persisted queries: any document runs and can be registered by hash.
    #[default]
    Auto,
    /// Trusted documents: only the documents of `PERSISTED_QUERIES_DIR` run.
    Only,
    /// No persisted queries.
    Off,
}

/// The most documents the automatic store keeps.
pub const MAX_STORED_DOCUMENTS: usize = 10_000;

/// Why a request's persisted query cannot run; each maps to the code Apollo's
/// clients know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PersistedError {
    /// A hash the server does not hold (the client should send the document).
    NotFound,
    /// Persisted queries are off.
    NotSupported,
    /// Trusted-documents mode, and the document is not registered.
    NotInList,
    /// The extension is malformed, of another version, or its hash is not the document's.
    Invalid(String),
}

impl PersistedError {
    /// The error's `extensions.code`.
    pub fn code(&self) -> &'static str {
        match self {
            PersistedError::NotFound => "PERSISTED_QUERY_NOT_FOUND",
            PersistedError::NotSupported => "PERSISTED_QUERY_NOT_SUPPORTED",
            PersistedError::NotInList => "PERSISTED_QUERY_NOT_IN_LIST",
            PersistedError::Invalid(_) => "BAD_REQUEST",
        }
    }

    /// The error's message (Apollo's clients also match the first two).
    pub fn message(&self) -> String {
        match self {
            PersistedError::NotFound => "PersistedQueryNotFound".into(),
            PersistedError::NotSupported => "PersistedQueryNotSupported".into(),
            PersistedError::NotInList => {
                "only registered documents run on this server (PERSISTED_QUERIES=only)".into()
            }
            PersistedError::Invalid(why) => why.clone(),
        }
    }
}

/// The persisted documents: registered at start, and (in `auto` mode) kept
/// from clients, by the hex SHA-256 of their text.
#[derive(Debug, Default)]
pub struct PersistedQueries {
    mode: PersistedMode,
    registered: HashMap<String, Arc<str>>,
    store: Mutex<Store>,
}

#[derive(Debug, Default)]
struct Store {
    documents: HashMap<String, Arc<str>>,
    order: VecDeque<String>,
}

/// The hex SHA-256 of `text`.
pub fn sha256_hex(text: &str) -> String {
    hex(&Sha256::digest(text.as_bytes()))
}

impl PersistedQueries {
    /// Persisted queries in `mode`, with the `*.graphql` documents of `dir`
    /// registered (each under the hash of its text, and of its text without
    /// trailing white space).
    pub fn load(mode: PersistedMode, dir: Option<&Path>) -> std::io::Result<Self> {
        let mut registered = HashMap::new();
        if let Some(dir) = dir {
            for entry in std::fs::read_dir(dir)? {
                let path = entry?.path();
                if path.extension().is_some_and(|e| e == "graphql") {
                    let text = std::fs::read_to_string(&path)?;
                    let document: Arc<str> = Arc::from(text.as_str());
                    registered.insert(sha256_hex(&text), Arc::clone(&document));
                    registered.insert(sha256_hex(text.trim_end()), document);
                }
            }
        }
        Ok(Self {
            mode,
            registered,
            store: Mutex::default(),
        })
    }

    /// How many documents are registered (each counted once per hash).
    pub fn registered(&self) -> usize {
        self.registered.len()
    }

    /// Fills in `request`'s document from its persisted-query hash, or
    /// registers the document it carries; refuses what the mode does not allow.
    pub fn resolve(&self, request: &mut async_graphql::Request) -> Result<(), PersistedError> {
        let hash = persisted_hash(request)?;
        let has_text = !request.query.trim().is_empty();
        match (self.mode, hash, has_text) {
            (PersistedMode::Off, Some(_), false) => Err(PersistedError::NotSupported),
            (PersistedMode::Off, _, _) | (PersistedMode::Auto, None, _) => Ok(()),
            (PersistedMode::Only, None, _) => self.check_registered(&sha256_hex(&request.query)),
            (_, Some(hash), true) => {
                if sha256_hex(&request.query) != hash {
                    return Err(PersistedError::Invalid(
                        "the persisted query's sha256Hash is not the hash of the query sent".into(),
                    ));
                }
                match self.mode {
                    PersistedMode::Only => self.check_registered(&hash),
                    _ => {
                        self.keep(hash, &request.query);
                        Ok(())
                    }
                }
            }
            (mode, Some(hash), false) => {
                request.query = self.document(&hash).ok_or(match mode {
                    PersistedMode::Only => PersistedError::NotInList,
                    _ => PersistedError::NotFound,
                })?;
                Ok(())
            }
        }
    }

    fn check_registered(&self, hash: &str) -> Result<(), PersistedError> {
        match self.registered.contains_key(hash) {
            true => Ok(()),
            false => Err(PersistedError::NotInList),
        }
    }

    /// The document held under `hash`, registered or kept.
    fn document(&self, hash: &str) -> Option<String> {
        if let Some(document) = self.registered.get(hash) {
            return Some(document.to_string());
        }
        let store = self.store.lock().unwrap_or_else(|e| e.into_inner());
        store.documents.get(hash).map(|d| d.to_string())
    }

    /// Keeps `query` under `hash`; past [`MAX_STORED_DOCUMENTS`] the oldest goes.
    fn keep(&self, hash: String, query: &str) {
        let mut store = self.store.lock().unwrap_or_else(|e| e.into_inner());
        if store.documents.contains_key(&hash) {
            return;
        }
        store.order.push_back(hash.clone());
        store.documents.insert(hash, Arc::from(query));
        while store.order.len() > MAX_STORED_DOCUMENTS {
            if let Some(oldest) = store.order.pop_front() {
                store.documents.remove(&oldest);
            }
        }
    }
}

/// The hash of `request`'s `persistedQuery` extension, if it has one.
fn persisted_hash(request: &async_graphql::Request) -> Result<Option<String>, PersistedError> {
    let Some(extension) = request.extensions.get("persistedQuery") else {
        return Ok(None);
    };
    let invalid = |why: &str| PersistedError::Invalid(format!("persistedQuery: {why}"));
    let value = serde_json::to_value(extension).map_err(|_| invalid("not readable"))?;
    if value.get("version").and_then(serde_json::Value::as_i64) != Some(1) {
        return Err(invalid("only version 1 is supported"));
    }
    let hash = value
        .get("sha256Hash")
        .and_then(serde_json::Value::as_str)
        .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
        .ok_or_else(|| invalid("sha256Hash must be 64 hex digits"))?;
    Ok(Some(hash.to_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(query: &str, hash: Option<&str>) -> async_graphql::Request {
        let mut request = async_graphql::Request::new(query);
        if let Some(hash) = hash {
            let extension = serde_json::json!({ "version": 1, "sha256Hash": hash });
            request.extensions.insert(
                "persistedQuery".into(),
                serde_json::from_value(extension).unwrap(),
            );
        }
        request
    }

    #[test]
    fn a_hash_is_unknown_until_its_document_is_sent_once() {
        let store = PersistedQueries::load(PersistedMode::Auto, None).unwrap();
        let query = "{ departments { id } }";
        let hash = sha256_hex(query);
        let mut hash_only = request("", Some(&hash));
        assert_eq!(store.resolve(&mut hash_only), Err(PersistedError::NotFound));
        store.resolve(&mut request(query, Some(&hash))).unwrap();
        let mut hash_only = request("", Some(&hash));
        store.resolve(&mut hash_only).unwrap();
        assert_eq!(hash_only.query, query);
        let wrong = store.resolve(&mut request("{ jobs { id } }", Some(&hash)));
        assert!(matches!(wrong, Err(PersistedError::Invalid(_))));
    }

    #[test]
    fn trusted_documents_mode_runs_only_registered_documents() {
        let dir = tempfile::tempdir().unwrap();
        let known = "{ departments { id } }";
        std::fs::write(dir.path().join("list.graphql"), format!("{known}\n")).unwrap();
        let store = PersistedQueries::load(PersistedMode::Only, Some(dir.path())).unwrap();
        store.resolve(&mut request(known, None)).unwrap();
        let mut by_hash = request("", Some(&sha256_hex(known)));
        store.resolve(&mut by_hash).unwrap();
        assert_eq!(by_hash.query.trim_end(), known);
        let other = "{ jobs { id } }";
        for mut refused in [
            request(other, None),
            request(other, Some(&sha256_hex(other))),
            request("", Some(&sha256_hex(other))),
        ] {
            assert_eq!(store.resolve(&mut refused), Err(PersistedError::NotInList));
        }
    }
}
