//! The identity provider's public keys: a JWKS document fetched from
//! `JWT_JWKS_URL` (cached, refreshed when it is old or when a token names a
//! key it does not hold, never on every request), or a fixed key read from
//! `JWT_PUBLIC_KEY_FILE`.

use std::{
    collections::HashMap,
    path::Path,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Bytes;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::{Client, connect::HttpConnector};
use jsonwebtoken::{
    Algorithm, DecodingKey,
    jwk::{Jwk, KeyAlgorithm, PublicKeyUse},
};
use tokio::sync::{Mutex, RwLock};

/// How long a fetched key set is used before it is fetched again.
const MAX_AGE: Duration = Duration::from_secs(600);
/// The least time between two fetches, whatever tokens arrive: a flood of
/// tokens naming unknown keys costs at most one fetch per interval.
const MIN_REFETCH: Duration = Duration::from_secs(1);
/// How long one fetch may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// The largest key set accepted.
const MAX_JWKS_BYTES: usize = 1024 * 1024;

type HttpClient = Client<HttpsConnector<HttpConnector>, Empty<Bytes>>;

/// One verification key, with the algorithm its publisher pinned, if any.
#[derive(Clone)]
pub struct Key {
    pub decoding: DecodingKey,
    pub algorithm: Option<Algorithm>,
}

/// Why no key was found for a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyMiss {
    /// The key set holds no key with that id, even after a refetch.
    Unknown,
    /// The key set could not be fetched, and no copy is held.
    Unavailable,
}

/// The keys tokens are checked against.
pub struct KeyStore {
    source: Source,
    cached: RwLock<Cached>,
    refetching: Mutex<()>,
    fetches: AtomicU64,
}

enum Source {
    Fixed,
    Jwks {
        url: hyper::Uri,
        client: Box<HttpClient>,
    },
}

#[derive(Default)]
struct Cached {
    /// Keys by id; a key without an id is kept under "".
    keys: HashMap<String, Key>,
    fetched_at: Option<Instant>,
    attempted_at: Option<Instant>,
}

impl std::fmt::Debug for KeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let source = match &self.source {
            Source::Fixed => "JWT_PUBLIC_KEY_FILE".to_owned(),
            Source::Jwks { url, .. } => url.to_string(),
        };
        f.debug_struct("KeyStore")
            .field("source", &source)
            .finish_non_exhaustive()
    }
}

impl KeyStore {
    /// Keys fetched from the JWKS document at `url`, on first use.
    pub fn jwks(url: &str) -> Result<Self, String> {
        let url: hyper::Uri = url
            .parse()
            .map_err(|err| format!("JWT_JWKS_URL is not a URL: {err}"))?;
        let loopback = url.host().is_some_and(is_loopback_host);
        match url.scheme_str() {
            Some("https") if url.host().is_some() => {}
            Some("http") if loopback => {}
            _ => {
                return Err(format!(
                    "JWT_JWKS_URL must be an https URL (http only on a loopback host, where no \
                     one on the network can swap the keys), got {url}"
                ));
            }
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(provider)
            .map_err(|err| {
                format!("cannot load the system's CA certificates for JWT_JWKS_URL: {err}")
            })?
            .https_or_http()
            .enable_http1()
            .build();
        let client = Client::builder(hyper_util::rt::TokioExecutor::new()).build(connector);
        Ok(Self::with(Source::Jwks {
            url,
            client: Box::new(client),
        }))
    }

    /// The key (PEM: RSA, EC or Ed25519 public key) or key set (a JWKS JSON
    /// document) in the file at `path`.
    pub fn file(path: &Path) -> Result<Self, String> {
        let text = std::fs::read(path)
            .map_err(|err| format!("cannot read JWT_PUBLIC_KEY_FILE {}: {err}", path.display()))?;
        let keys = if text.trim_ascii_start().starts_with(b"{") {
            parse_jwks(&text)?
        } else {
            HashMap::from([(String::new(), parse_pem(&text)?)])
        };
        if keys.is_empty() {
            return Err(format!(
                "JWT_PUBLIC_KEY_FILE {} holds no RS256, ES256 or EdDSA signing key",
                path.display()
            ));
        }
        let store = Self::with(Source::Fixed);
        store.cached.try_write().expect("new").keys = keys;
        Ok(store)
    }

    fn with(source: Source) -> Self {
        Self {
            source,
            cached: RwLock::default(),
            refetching: Mutex::new(()),
            fetches: AtomicU64::new(0),
        }
    }

    /// How many times the key set was fetched.
    pub fn fetches(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    /// The key a token whose header names `kid` is checked with.
    pub async fn key(&self, kid: Option<&str>) -> Result<Key, KeyMiss> {
        let Source::Jwks { url, client } = &self.source else {
            // A fixed key without an id checks every token.
            return self
                .cached
                .read()
                .await
                .find(kid, true)
                .ok_or(KeyMiss::Unknown);
        };
        let (held, fresh) = {
            let cached = self.cached.read().await;
            (cached.find(kid, false), cached.is_fresh())
        };
        if let Some(key) = held {
            // An old set is fetched again by one caller; the rest (and that
            // one, if the fetch fails) use the key held meanwhile.
            if !fresh && let Ok(_one_at_a_time) = self.refetching.try_lock() {
                self.fetch_if_due(url, client, kid).await;
            }
            return Ok(self.cached.read().await.find(kid, false).unwrap_or(key));
        }
        {
            let _one_at_a_time = self.refetching.lock().await;
            self.fetch_if_due(url, client, kid).await;
        }
        let cached = self.cached.read().await;
        match cached.find(kid, false) {
            Some(key) => Ok(key),
            None if cached.fetched_at.is_none() => Err(KeyMiss::Unavailable),
            None => Err(KeyMiss::Unknown),
        }
    }

    /// Fetches the key set again (the caller holds `refetching`), unless it
    /// was tried within [`MIN_REFETCH`] or another caller fetched `kid`
    /// meanwhile. A failed fetch keeps the keys held.
    async fn fetch_if_due(&self, url: &hyper::Uri, client: &HttpClient, kid: Option<&str>) {
        {
            let mut cached = self.cached.write().await;
            let tried_lately = cached
                .attempted_at
                .is_some_and(|at| at.elapsed() < MIN_REFETCH);
            if tried_lately || (cached.is_fresh() && cached.find(kid, false).is_some()) {
                return;
            }
            cached.attempted_at = Some(Instant::now());
        }
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let fetched = fetch(client, url).await;
        let mut cached = self.cached.write().await;
        match fetched {
            Ok(keys) => {
                tracing::info!(keys = keys.len(), "fetched the JWT key set");
                cached.keys = keys;
                cached.fetched_at = Some(Instant::now());
            }
            Err(why) => tracing::warn!(%url, "fetching the JWT key set failed: {why}"),
        }
    }
}

impl Cached {
    fn is_fresh(&self) -> bool {
        self.fetched_at.is_some_and(|at| at.elapsed() < MAX_AGE)
    }

    /// The key named `kid`; a token without a `kid` uses the only key. A
    /// key without an id checks tokens naming any `kid` only when `lenient`
    /// (a fixed key): in a fetched set, an unknown `kid` must lead to a
    /// refetch, so that a rotated key is found.
    fn find(&self, kid: Option<&str>, lenient: bool) -> Option<Key> {
        match kid {
            Some(kid) => self
                .keys
                .get(kid)
                .or_else(|| self.keys.get("").filter(|_| lenient))
                .cloned(),
            None if self.keys.len() == 1 => self.keys.values().next().cloned(),
            None => None,
        }
    }
}

async fn fetch(client: &HttpClient, url: &hyper::Uri) -> Result<HashMap<String, Key>, String> {
    let request = hyper::Request::get(url.clone())
        .header(hyper::header::ACCEPT, "application/json")
        .body(Empty::new())
        .map_err(|err| err.to_string())?;
    let body = tokio::time::timeout(FETCH_TIMEOUT, async {
        let response = client
            .request(request)
            .await
            .map_err(|err| err.to_string())?;
        if !response.status().is_success() {
            return Err(format!("HTTP status {}", response.status()));
        }
        let limited = Limited::new(response.into_body(), MAX_JWKS_BYTES);
        let collected = limited.collect().await.map_err(|err| err.to_string())?;
        Ok(collected.to_bytes())
    })
    .await
    .map_err(|_| format!("no answer within {} s", FETCH_TIMEOUT.as_secs()))??;
    parse_jwks(&body)
}

/// The signing keys of a JWKS document; keys for encryption, of other
/// algorithms, or that do not parse are skipped.
fn parse_jwks(body: &[u8]) -> Result<HashMap<String, Key>, String> {
    #[derive(serde::Deserialize)]
    struct Document {
        keys: Vec<serde_json::Value>,
    }
    let document: Document = serde_json::from_slice(body)
        .map_err(|err| format!("not a JWKS document ({{\"keys\": [...]}}): {err}"))?;
    let keys = document
        .keys
        .into_iter()
        .filter_map(|value| serde_json::from_value::<Jwk>(value).ok())
        .filter_map(|jwk| signing_key(&jwk))
        .collect();
    Ok(keys)
}

fn signing_key(jwk: &Jwk) -> Option<(String, Key)> {
    if matches!(jwk.common.public_key_use, Some(ref u) if *u != PublicKeyUse::Signature) {
        return None;
    }
    let algorithm = match jwk.common.key_algorithm {
        None => None,
        Some(KeyAlgorithm::RS256) => Some(Algorithm::RS256),
        Some(KeyAlgorithm::ES256) => Some(Algorithm::ES256),
        Some(KeyAlgorithm::EdDSA) => Some(Algorithm::EdDSA),
        Some(_) => return None,
    };
    let decoding = DecodingKey::from_jwk(jwk).ok()?;
    let kid = jwk.common.key_id.clone().unwrap_or_default();
    Some((
        kid,
        Key {
            decoding,
            algorithm,
        },
    ))
}

fn parse_pem(pem: &[u8]) -> Result<Key, String> {
    let decoding = DecodingKey::from_rsa_pem(pem)
        .or_else(|_| DecodingKey::from_ec_pem(pem))
        .or_else(|_| DecodingKey::from_ed_pem(pem))
        .map_err(|_| {
            "JWT_PUBLIC_KEY_FILE is neither a JWKS document nor a PEM RSA, EC or Ed25519 public key"
                .to_owned()
        })?;
    Ok(Key {
        decoding,
        algorithm: None,
    })
}

/// Whether `host` names this machine (`localhost` or a loopback address).
fn is_loopback_host(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.eq_ignore_ascii_case("localhost")
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}
