//! JWTs for the access-control tests: signing keys the test generates (RSA
//! 2048, P-256, Ed25519), tokens signed with them, and a JWKS document served
//! by a small HTTP server that counts its hits, whose keys can change, and
//! which can be made to fail.

use std::{
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::{SystemTime, UNIX_EPOCH},
};

use aws_lc_rs::{
    encoding::{AsDer, PublicKeyX509Der},
    rand::SystemRandom,
    rsa::{KeyPair as RsaKeyPair, KeySize, PublicKeyComponents},
    signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair},
};
use axum::{Json, Router, extract::State, http::StatusCode, response::IntoResponse};
use base64::{
    Engine,
    engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD},
};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use tokio::task::JoinHandle;

/// The `iss` the test policies accept.
pub const ISSUER: &str = "https://idp.example.test/realms/hiring";
/// The `aud` the test policies accept.
pub const AUDIENCE: &str = "hiring-analytics";

/// A private key the test signs with, and its public half as a JWK.
#[derive(Clone)]
pub struct SigningKey {
    pub kid: String,
    pub alg: Algorithm,
    encoding: EncodingKey,
    /// The public key as published in the JWKS (with `kid`, `alg`, `use`).
    pub jwk: Value,
    /// The public key as PEM (`PUBLIC KEY`, SubjectPublicKeyInfo), as
    /// `JWT_PUBLIC_KEY_FILE` holds it, and as an attacker would use it for
    /// the secret of an HS256 token.
    pub public_pem: String,
}

fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn pem(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|line| std::str::from_utf8(line).unwrap())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

impl SigningKey {
    /// A fresh RSA 2048 key for RS256.
    pub fn rsa(kid: &str) -> Self {
        let pair = RsaKeyPair::generate(KeySize::Rsa2048).expect("RSA key");
        let pkcs8 = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&pair).expect("PKCS#8");
        let encoding = EncodingKey::from_rsa_pem(pem("PRIVATE KEY", pkcs8.as_ref()).as_bytes())
            .expect("RSA PEM");
        let components = PublicKeyComponents::<Vec<u8>>::from(pair.public_key());
        let spki: PublicKeyX509Der = pair.public_key().as_der().expect("SPKI");
        Self {
            kid: kid.to_owned(),
            alg: Algorithm::RS256,
            encoding,
            jwk: json!({
                "kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
                "n": b64url(&components.n), "e": b64url(&components.e),
            }),
            public_pem: pem("PUBLIC KEY", spki.as_ref()),
        }
    }

    /// A fresh P-256 key for ES256.
    pub fn ec(kid: &str) -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .expect("P-256 key");
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref())
            .expect("P-256 PKCS#8");
        let point = pair.public_key().as_ref();
        assert_eq!((point.len(), point[0]), (65, 4), "an uncompressed point");
        let spki: PublicKeyX509Der = pair.public_key().as_der().expect("SPKI");
        Self {
            kid: kid.to_owned(),
            alg: Algorithm::ES256,
            encoding: EncodingKey::from_ec_der(pkcs8.as_ref()),
            jwk: json!({
                "kty": "EC", "kid": kid, "use": "sig", "alg": "ES256", "crv": "P-256",
                "x": b64url(&point[1..33]), "y": b64url(&point[33..]),
            }),
            public_pem: pem("PUBLIC KEY", spki.as_ref()),
        }
    }

    /// A fresh Ed25519 key for EdDSA.
    pub fn ed(kid: &str) -> Self {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).expect("Ed25519 key");
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).expect("Ed25519 PKCS#8");
        let spki: PublicKeyX509Der = pair.public_key().as_der().expect("SPKI");
        Self {
            kid: kid.to_owned(),
            alg: Algorithm::EdDSA,
            encoding: EncodingKey::from_ed_der(pkcs8.as_ref()),
            jwk: json!({
                "kty": "OKP", "kid": kid, "use": "sig", "alg": "EdDSA", "crv": "Ed25519",
                "x": b64url(pair.public_key().as_ref()),
            }),
            public_pem: pem("PUBLIC KEY", spki.as_ref()),
        }
    }

    /// `claims` signed with this key, the header naming its `kid`.
    pub fn sign(&self, claims: &Value) -> String {
        self.sign_as(&self.kid, claims)
    }

    /// `claims` signed with this key, the header naming `kid`.
    pub fn sign_as(&self, kid: &str, claims: &Value) -> String {
        let mut header = Header::new(self.alg);
        header.kid = Some(kid.to_owned());
        jsonwebtoken::encode(&header, claims, &self.encoding).expect("sign")
    }

    /// `claims` signed with this key, the header naming no key.
    pub fn sign_without_kid(&self, claims: &Value) -> String {
        jsonwebtoken::encode(&Header::new(self.alg), claims, &self.encoding).expect("sign")
    }
}

/// Seconds since the epoch.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs() as i64
}

/// Valid claims for subject `sub` (issuer, audience, ten minutes left), plus `extra`.
pub fn claims(sub: &str, extra: Value) -> Value {
    let mut claims = json!({
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": sub,
        "iat": now(),
        "exp": now() + 600,
    });
    let Value::Object(extra) = extra else {
        panic!("extra claims must be an object")
    };
    claims.as_object_mut().unwrap().extend(extra);
    claims
}

/// A token with `header` and `claims` and an empty signature, as an attacker
/// writes one by hand (`alg: none`).
pub fn unsigned(header: &Value, claims: &Value) -> String {
    format!(
        "{}.{}.",
        b64url(header.to_string().as_bytes()),
        b64url(claims.to_string().as_bytes())
    )
}

/// An HS256 token whose HMAC secret is `secret` (such as a public key's PEM).
pub fn hs256(kid: &str, secret: &[u8], claims: &Value) -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(
        &header,
        claims,
        &EncodingKey::from_secret(secret).expect("an HMAC key"),
    )
    .expect("sign")
}

#[derive(Clone, Default)]
struct Published {
    hits: Arc<AtomicUsize>,
    keys: Arc<Mutex<Vec<Value>>>,
    failing: Arc<AtomicBool>,
}

async fn jwks(State(published): State<Published>) -> axum::response::Response {
    published.hits.fetch_add(1, Ordering::SeqCst);
    if published.failing.load(Ordering::SeqCst) {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            "the identity provider is down",
        )
            .into_response();
    }
    let keys = published.keys.lock().unwrap().clone();
    Json(json!({ "keys": keys })).into_response()
}

/// A JWKS document served at `url`, on a port of its own.
pub struct JwksServer {
    pub url: String,
    published: Published,
    task: JoinHandle<()>,
}

impl JwksServer {
    /// Serves the public keys of `keys`.
    pub async fn start(keys: &[&SigningKey]) -> Self {
        let published = Published::default();
        *published.keys.lock().unwrap() = keys.iter().map(|key| key.jwk.clone()).collect();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address: SocketAddr = listener.local_addr().unwrap();
        let app = Router::new()
            .route("/.well-known/jwks.json", axum::routing::get(jwks))
            .with_state(published.clone());
        let task = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self {
            url: format!("http://{address}/.well-known/jwks.json"),
            published,
            task,
        }
    }

    /// How many times the document was asked for.
    pub fn hits(&self) -> usize {
        self.published.hits.load(Ordering::SeqCst)
    }

    /// Publishes `key` as well (a key rotation).
    pub fn add(&self, key: &SigningKey) {
        self.published.keys.lock().unwrap().push(key.jwk.clone());
    }

    /// Answers 500 from now on (`true`), or the keys again (`false`).
    pub fn fail(&self, failing: bool) {
        self.published.failing.store(failing, Ordering::SeqCst);
    }
}

impl Drop for JwksServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A JWKS URL where nothing listens (an identity provider that is down):
/// port 1 refuses connections.
pub const UNREACHABLE_JWKS_URL: &str = "http://127.0.0.1:1/.well-known/jwks.json";
