//! JWT bearer tokens from the company's identity provider: the signature
//! (RS256, ES256 or EdDSA only), issuer, audience, `exp` and `nbf` are
//! checked; the role comes from a configurable claim.

use jsonwebtoken::{Algorithm, Validation, decode, decode_header, errors::ErrorKind};
use serde_json::Value;

use super::{
    caller::Caller,
    keys::{KeyMiss, KeyStore},
    role::Role,
};

/// The only algorithms accepted: never `none`, never HMAC with a public key.
pub const ALGORITHMS: [Algorithm; 3] = [Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA];

/// How JWTs are checked.
#[derive(Debug)]
pub struct JwtVerifier {
    keys: KeyStore,
    issuer: String,
    audience: String,
    /// A dotted path into the claims (`role`, `realm_access.roles`).
    role_claim: String,
    leeway_seconds: u64,
}

/// Why a token was refused; the reason is counted in `/metrics`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// A short label for metrics: `malformed`, `algorithm`, `unknown_key`,
    /// `signature`, `expired`, `not_yet_valid`, `issuer`, `audience`,
    /// `claims`, `keys_unavailable`.
    pub reason: &'static str,
    /// What the client is told.
    pub message: String,
}

fn refusal(reason: &'static str, message: impl Into<String>) -> Refusal {
    Refusal {
        reason,
        message: message.into(),
    }
}

impl JwtVerifier {
    /// A verifier for tokens from `issuer` meant for `audience`.
    pub fn new(keys: KeyStore, issuer: &str, audience: &str, role_claim: &str) -> Self {
        Self {
            keys,
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            role_claim: role_claim.to_owned(),
            leeway_seconds: 30,
        }
    }

    /// Allows `seconds` of clock skew on `exp` and `nbf` (30 by default).
    pub fn with_leeway(mut self, seconds: u64) -> Self {
        self.leeway_seconds = seconds;
        self
    }

    /// How many times the key set was fetched.
    pub fn key_fetches(&self) -> u64 {
        self.keys.fetches()
    }

    /// Whether `token` looks like a JWT (three dot-separated parts), so a
    /// static token that does not match is not reported as a bad JWT.
    pub fn looks_like_jwt(token: &str) -> bool {
        token.split('.').count() == 3
    }

    /// The caller a valid token names; its role is the highest known role in
    /// the role claim, and never less than `floor` (the anonymous role).
    pub async fn verify(&self, token: &str, floor: Option<Role>) -> Result<Caller, Refusal> {
        let header = decode_header(token).map_err(|_| unreadable_header(token))?;
        if !ALGORITHMS.contains(&header.alg) {
            return Err(refusal(
                "algorithm",
                format!(
                    "JWT algorithm {:?} is not accepted; use RS256, ES256 or EdDSA",
                    header.alg
                ),
            ));
        }
        let key = self
            .keys
            .key(header.kid.as_deref())
            .await
            .map_err(|miss| match miss {
                KeyMiss::Unknown => refusal(
                    "unknown_key",
                    "the JWT is signed with a key the identity provider does not publish",
                ),
                KeyMiss::Unavailable => refusal(
                    "keys_unavailable",
                    "the identity provider's keys cannot be fetched now; try again",
                ),
            })?;
        if key.algorithm.is_some_and(|pinned| pinned != header.alg) {
            return Err(refusal(
                "algorithm",
                "the JWT's algorithm is not the one its key is published for",
            ));
        }
        let claims = decode::<Value>(token, &key.decoding, &self.validation(header.alg))
            .map_err(|err| rejection(err.kind()))?
            .claims;
        self.caller(&claims, floor)
    }

    fn validation(&self, algorithm: Algorithm) -> Validation {
        let mut validation = Validation::new(algorithm);
        validation.algorithms = vec![algorithm];
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = self.leeway_seconds;
        validation
    }

    fn caller(&self, claims: &Value, floor: Option<Role>) -> Result<Caller, Refusal> {
        let subject = claims["sub"]
            .as_str()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| refusal("claims", "the JWT has no `sub` (subject) claim"))?;
        let display = ["email", "preferred_username", "name"]
            .iter()
            .find_map(|claim| claims[claim].as_str())
            .map(str::to_owned);
        let role = role_in(claims, &self.role_claim).max(floor);
        let valid_until = claims["exp"]
            .as_i64()
            .map(|exp| exp.saturating_add_unsigned(self.leeway_seconds));
        Ok(Caller::user(subject, display, role).until(valid_until))
    }
}

/// The highest known role named at `path` in `claims` (a string or a list
/// of strings); unknown names are ignored. `path` is a claim's whole name
/// (such as Auth0's `https://example.com/roles`) or a dotted path
/// (`realm_access.roles`).
pub fn role_in(claims: &Value, path: &str) -> Option<Role> {
    let value = claims.get(path).or_else(|| {
        path.split('.')
            .try_fold(claims, |value, segment| value.get(segment))
    })?;
    match value {
        Value::String(name) => Role::parse(name),
        Value::Array(names) => names
            .iter()
            .filter_map(Value::as_str)
            .filter_map(Role::parse)
            .max(),
        _ => None,
    }
}

/// Why a header jsonwebtoken cannot read was refused: an algorithm it does
/// not know (`none`) is an algorithm refusal, anything else is malformed.
fn unreadable_header(token: &str) -> Refusal {
    use base64::Engine as _;
    let alg = token
        .split('.')
        .next()
        .and_then(|part| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(part)
                .ok()
        })
        .and_then(|json| serde_json::from_slice::<Value>(&json).ok())
        .and_then(|header| header.get("alg").and_then(Value::as_str).map(str::to_owned));
    match alg {
        Some(alg) => refusal(
            "algorithm",
            format!("JWT algorithm {alg:?} is not accepted; use RS256, ES256 or EdDSA"),
        ),
        None => refusal("malformed", "the bearer token is not a well-formed JWT"),
    }
}

fn rejection(kind: &ErrorKind) -> Refusal {
    match kind {
        ErrorKind::ExpiredSignature => refusal("expired", "the JWT has expired"),
        ErrorKind::ImmatureSignature => refusal("not_yet_valid", "the JWT is not valid yet (nbf)"),
        ErrorKind::InvalidIssuer => refusal("issuer", "the JWT is from another issuer"),
        ErrorKind::InvalidAudience => refusal("audience", "the JWT is meant for another audience"),
        ErrorKind::InvalidSignature => refusal("signature", "the JWT's signature does not verify"),
        ErrorKind::MissingRequiredClaim(claim) => refusal(
            "claims",
            format!("the JWT lacks the required `{claim}` claim"),
        ),
        ErrorKind::InvalidAlgorithm => {
            refusal("algorithm", "the JWT's algorithm does not match its key")
        }
        _ => refusal("malformed", "the bearer token is not a valid JWT"),
    }
}
