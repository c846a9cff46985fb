//! JWT bearer tokens from an identity provider (issue 15), over a real bound
//! port: keys the test generates, a JWKS document served by the test, the
//! role from a configurable claim, every kind of bad token refused with 401
//! and counted, key rotation, one JWKS fetch for many requests, static
//! tokens unaffected by a JWKS outage, WebSockets, and `serve`'s settings.

mod common;
#[path = "common/ws.rs"]
mod ws;

use std::{
    sync::{Arc, OnceLock},
    time::{Duration, Instant},
};

use common::{
    TestDb,
    bound::{Answer, Bound},
    jwt::{
        AUDIENCE, ISSUER, JwksServer, SigningKey, UNREACHABLE_JWKS_URL, claims, hs256, now,
        unsigned,
    },
    server::binary,
};
use futures_util::future::join_all;
use hiring_analytics::{
    AppState,
    auth::{AccessPolicy, Caller, Role, jwt::JwtVerifier, keys::KeyStore, tokens::TokenTable},
    service::backup::{Backups, Storage},
};
use secrecy::SecretString;
use serde_json::{Value, json};
use ws::{Event, WsClient};

/// The keys of every test: generated once per test binary (RSA takes a while).
struct Keys {
    rsa: SigningKey,
    ec: SigningKey,
    ed: SigningKey,
    /// Published only after a rotation.
    rotated: SigningKey,
    /// Never published.
    stranger: SigningKey,
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| Keys {
        rsa: SigningKey::rsa("rsa-2025-01"),
        ec: SigningKey::ec("ec-2025-01"),
        ed: SigningKey::ed("ed-2025-01"),
        rotated: SigningKey::rsa("rsa-2025-07"),
        stranger: SigningKey::rsa("rsa-of-someone-else"),
    })
}

const ADMIN_TOKEN: &str = "admin-token-for-the-jwt-tests-01234";

/// A policy that checks JWTs against the JWKS at `url`, taking the role from
/// `role_claim`; with the static admin token, and nothing for anonymous callers.
fn jwt_policy(url: &str, role_claim: &str) -> AccessPolicy {
    let mut tokens = TokenTable::default();
    tokens
        .add(
            "admin",
            Role::Admin,
            &SecretString::from(ADMIN_TOKEN.to_owned()),
        )
        .unwrap();
    let verifier = JwtVerifier::new(KeyStore::jwks(url).unwrap(), ISSUER, AUDIENCE, role_claim);
    AccessPolicy::with_tokens(tokens)
        .with_jwt(verifier)
        .with_anonymous(None)
}

/// The app over `t` with `policy`, keeping backups in `backups`, on a bound port;
/// also returns the policy, to read its key fetches.
async fn serve(
    t: &TestDb,
    policy: AccessPolicy,
    backups: &std::path::Path,
) -> (Bound, Arc<AccessPolicy>) {
    let mut state: AppState = t.state(policy);
    state.backups = Arc::new(Backups::new(Storage::local(backups)));
    let policy = Arc::clone(&state.policy);
    (Bound::serve(state).await, policy)
}

fn first_code(body: &Value) -> Option<&str> {
    body["errors"][0]["extensions"]["code"].as_str()
}

const INSERT: &str = r#"mutation { insertDepartments(rows: [{id: 1, department: "Sales"}]) { inserted unchanged } }"#;

/// The highest role `token` is granted, found by trying one field of each
/// role (lowest first): each refused one must be FORBIDDEN, and no role may
/// be allowed above a refused one.
async fn role_of(server: &Bound, token: &str) -> Option<Role> {
    let probes = [
        (Role::Viewer, "{ reportsAsOf departments { id } }"),
        (Role::Analyst, "{ hiredEmployees(first: 1) { totalCount } }"),
        (Role::Editor, INSERT),
        (Role::Admin, "{ operations(first: 1) { nodes { id } } }"),
    ];
    let mut granted = None;
    let mut refused = None;
    for (role, query) in probes {
        let answer = server.graphql(Some(token), query).await;
        assert_eq!(answer.status, 200, "{query}: {}", answer.text);
        let body = answer.json();
        match first_code(&body) {
            None => {
                assert_eq!(refused, None, "{role} allowed above a refused {refused:?}");
                granted = Some(role);
            }
            Some("FORBIDDEN") => {
                let message = body["errors"][0]["message"].as_str().unwrap();
                assert!(
                    message.contains(&format!("needs the {role} role")),
                    "{message}"
                );
                refused.get_or_insert(role);
            }
            Some(other) => panic!("{query}: unexpected {other}: {body}"),
        }
    }
    granted
}

/// A 401 asking for a bearer token, that does not echo the token.
fn assert_refused(answer: &Answer, token: &str, case: &str) {
    assert_eq!(answer.status, 401, "{case}: {}", answer.text);
    assert_eq!(answer.headers["www-authenticate"], "Bearer", "{case}");
    assert_eq!(
        first_code(&answer.json()),
        Some("UNAUTHENTICATED"),
        "{case}"
    );
    assert!(!answer.text.contains(token), "{case}: the token is echoed");
}

fn failures(reason: &str) -> String {
    format!(r#"hiring_analytics_auth_failures_total{{reason="{reason}"}}"#)
}

/// Every `auth_failures_total` reason's count.
async fn all_failures(server: &Bound) -> Vec<(&'static str, f64)> {
    let reasons = hiring_analytics::metrics::AUTH_FAILURES;
    let names: Vec<String> = reasons.iter().map(|reason| failures(reason)).collect();
    reasons
        .into_iter()
        .zip(server.metrics(&names).await)
        .collect()
}

/// Sends `token` and checks the 401 and that exactly `reason` was counted once.
async fn refused_for(server: &Bound, token: &str, reason: &str, case: &str) {
    let before = all_failures(server).await;
    let answer = server.graphql(Some(token), "{ departments { id } }").await;
    assert_refused(&answer, token, case);
    let after = all_failures(server).await;
    for ((name, was), (_, is)) in before.iter().zip(&after) {
        let expected = if *name == reason { was + 1.0 } else { *was };
        assert_eq!(
            *is, expected,
            "{case}: auth_failures_total{{reason={name}}}"
        );
    }
}

/// RS256, ES256 and EdDSA tokens are accepted, with the role of the `role`
/// claim: a string, or a list where the highest known role wins; a token
/// without a known role may do nothing, and is never anonymous.
async fn rs256_es256_and_eddsa_tokens_are_accepted_with_the_role_from_the_claim(t: TestDb) {
    let keys = keys();
    let jwks = JwksServer::start(&[&keys.rsa, &keys.ec, &keys.ed]).await;
    let dir = tempfile::tempdir().unwrap();
    let (server, _) = serve(&t, jwt_policy(&jwks.url, "role"), dir.path()).await;
    for key in [&keys.rsa, &keys.ec, &keys.ed] {
        let case = format!("{:?}", key.alg);
        for (role, expected) in [
            (json!("viewer"), Some(Role::Viewer)),
            (json!("analyst"), Some(Role::Analyst)),
            (json!("editor"), Some(Role::Editor)),
            (json!("Editor"), None),
            (json!("admin"), Some(Role::Admin)),
            (json!(["viewer", "editor", "analyst"]), Some(Role::Editor)),
            (
                json!(["offline_access", "analyst", "uma_authorization"]),
                Some(Role::Analyst),
            ),
            (json!(["owner"]), None),
            (json!(42), None),
        ] {
            let token = key.sign(&claims("alice", json!({ "role": role })));
            assert_eq!(
                role_of(&server, &token).await,
                expected,
                "{case}, role {role}"
            );
        }
        let no_role = key.sign(&claims("alice", json!({})));
        assert_eq!(
            role_of(&server, &no_role).await,
            None,
            "{case}, no role claim"
        );
        let body = server
            .graphql(Some(&no_role), "{ departments { id } }")
            .await
            .json();
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("user:alice has no role"),
            "{body}"
        );
    }
    // The CSV exports need viewer, from a JWT as from any token.
    let viewer = keys.ed.sign(&claims("vera", json!({ "role": ["viewer"] })));
    let no_role = keys.ed.sign(&claims("vera", json!({})));
    let path = "/reports/hires-by-quarter.csv?year=2021";
    assert_eq!(server.get(path, Some(&viewer)).await.status, 200);
    let refused = server.get(path, Some(&no_role)).await;
    assert_eq!(refused.status, 403, "{}", refused.text);
    assert_eq!(first_code(&refused.json()), Some("FORBIDDEN"));
    // An `aud` list holding ours is accepted.
    let listed = keys.rsa.sign(&claims(
        "alice",
        json!({ "role": "viewer", "aud": ["account", AUDIENCE] }),
    ));
    assert_eq!(role_of(&server, &listed).await, Some(Role::Viewer));

    // The identity is `user:<sub>`, as operations record it.
    let admin = keys.ec.sign(&claims(
        "ops-lead",
        json!({ "role": "admin", "email": "lead@example.com" }),
    ));
    let started = server
        .graphql(Some(&admin), "mutation { startBackup { startedBy } }")
        .await
        .json();
    assert_eq!(
        started["data"]["startBackup"]["startedBy"], "user:ops-lead",
        "{started}"
    );
    assert_eq!(jwks.hits(), 1);
}

/// The role claim may be a dotted path (Keycloak's `realm_access.roles`) or a
/// whole claim name with dots in it (Auth0's `https://example.com/roles`).
async fn the_role_claim_may_be_a_dotted_path_or_a_namespaced_claim(t: TestDb) {
    let keys = keys();
    let jwks = JwksServer::start(&[&keys.rsa]).await;
    let dir = tempfile::tempdir().unwrap();
    let (keycloak, _) = serve(&t, jwt_policy(&jwks.url, "realm_access.roles"), dir.path()).await;
    let (auth0, _) = serve(
        &t,
        jwt_policy(&jwks.url, "https://example.com/roles"),
        dir.path(),
    )
    .await;
    let realm = |roles: Value| {
        keys.rsa.sign(&claims(
            "kc-user",
            json!({ "realm_access": { "roles": roles }, "role": "admin" }),
        ))
    };
    assert_eq!(
        role_of(
            &keycloak,
            &realm(json!(["offline_access", "analyst", "viewer"]))
        )
        .await,
        Some(Role::Analyst)
    );
    assert_eq!(
        role_of(&keycloak, &realm(json!("editor"))).await,
        Some(Role::Editor)
    );
    // Only the configured claim counts, not a `role` claim beside it.
    assert_eq!(
        role_of(&keycloak, &realm(json!(["offline_access"]))).await,
        None
    );

    let namespaced = keys.rsa.sign(&claims(
        "auth0|1234",
        json!({ "https://example.com/roles": ["viewer", "admin"], "role": "viewer" }),
    ));
    assert_eq!(role_of(&auth0, &namespaced).await, Some(Role::Admin));
    assert_eq!(role_of(&keycloak, &namespaced).await, None);
}

/// A JWT never gets less than anonymous callers get.
async fn a_token_never_gets_less_than_the_anonymous_role(t: TestDb) {
    let keys = keys();
    let jwks = JwksServer::start(&[&keys.ed]).await;
    let dir = tempfile::tempdir().unwrap();
    let policy = jwt_policy(&jwks.url, "role").with_anonymous(Some(Role::Viewer));
    let (server, _) = serve(&t, policy, dir.path()).await;
    let none = keys.ed.sign(&claims("bob", json!({})));
    assert_eq!(role_of(&server, &none).await, Some(Role::Viewer));
    let analyst = keys.ed.sign(&claims("bob", json!({ "role": "analyst" })));
    assert_eq!(role_of(&server, &analyst).await, Some(Role::Analyst));
}

/// The caller a token names: `user:<sub>`, shown by `email` or else
/// `preferred_username`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_names_its_user_by_sub_and_shows_the_email_or_username() {
    let keys = keys();
    let jwks = JwksServer::start(&[&keys.rsa]).await;
    let policy = jwt_policy(&jwks.url, "role");
    for (extra, display) in [
        (
            json!({ "email": "alice@example.com", "preferred_username": "alice" }),
            Some("alice@example.com"),
        ),
        (json!({ "preferred_username": "alice" }), Some("alice")),
        (json!({}), None),
    ] {
        let mut extra = extra;
        extra["role"] = json!("analyst");
        let header = format!("Bearer {}", keys.rsa.sign(&claims("8f2c-alice", extra)));
        let caller = policy.identify(Some(header.as_bytes())).await.unwrap();
        // Its expiry aside (the token's `exp` plus the leeway).
        assert!(caller.valid_until.is_some());
        assert_eq!(
            caller.clone().until(None),
            Caller::user(
                "8f2c-alice",
                display.map(str::to_owned),
                Some(Role::Analyst)
            )
        );
        assert_eq!(caller.identity, "user:8f2c-alice");
    }
}

/// The caller `token` names, its expiry aside, or the reason it is refused.
async fn identify(policy: &AccessPolicy, token: &str) -> Result<Caller, &'static str> {
    let header = format!("Bearer {token}");
    policy
        .identify(Some(header.as_bytes()))
        .await
        .map(|caller| caller.until(None))
        .map_err(|refusal| refusal.reason)
}

/// `JWT_PUBLIC_KEY_FILE`: a PEM public key (RSA, P-256 or Ed25519) verifies
/// tokens with or without a `kid`, and refuses other keys' tokens and HS256
/// tokens keyed with the PEM itself; a JWKS document in the file works too,
/// skipping keys meant for encryption.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_public_key_file_verifies_tokens_without_a_jwks_url() {
    let keys = keys();
    let dir = tempfile::tempdir().unwrap();
    let alice = claims("alice", json!({ "role": "editor" }));
    let verifier = |path: &std::path::Path| {
        let keys = KeyStore::file(path).unwrap();
        AccessPolicy::default().with_jwt(JwtVerifier::new(keys, ISSUER, AUDIENCE, "role"))
    };
    for key in [&keys.rsa, &keys.ec, &keys.ed] {
        let case = format!("{:?} PEM", key.alg);
        let path = dir.path().join(format!("{}.pem", key.kid));
        std::fs::write(&path, &key.public_pem).unwrap();
        let policy = verifier(&path);
        for token in [key.sign(&alice), key.sign_without_kid(&alice)] {
            assert_eq!(
                identify(&policy, &token).await,
                Ok(Caller::user("alice", None, Some(Role::Editor))),
                "{case}"
            );
        }
        let stranger = keys.stranger.sign(&alice);
        assert!(identify(&policy, &stranger).await.is_err(), "{case}");
        let forged = hs256(&key.kid, key.public_pem.as_bytes(), &alice);
        assert_eq!(identify(&policy, &forged).await, Err("algorithm"), "{case}");
        assert_eq!(policy.jwt().unwrap().key_fetches(), 0, "{case}");
    }

    let mut for_encryption = keys.ec.jwk.clone();
    for_encryption["use"] = json!("enc");
    let path = dir.path().join("jwks.json");
    std::fs::write(
        &path,
        json!({ "keys": [keys.rsa.jwk, for_encryption] }).to_string(),
    )
    .unwrap();
    let policy = verifier(&path);
    assert_eq!(
        identify(&policy, &keys.rsa.sign(&alice)).await,
        Ok(Caller::user("alice", None, Some(Role::Editor)))
    );
    assert_eq!(
        identify(&policy, &keys.ec.sign(&alice)).await,
        Err("unknown_key")
    );
}

/// Expired, not yet valid, wrong issuer, wrong audience, unknown `kid`,
/// `alg: none`, HS256 signed with the RSA public key, a signature of another
/// key, an algorithm other than its key's, and a missing `sub`, `exp`, `iss` or `aud`
/// all get 401, each counted under its reason.
async fn bad_tokens_get_401_and_are_counted_by_reason(t: TestDb) {
    let keys = keys();
    let jwks = JwksServer::start(&[&keys.rsa, &keys.ec]).await;
    let dir = tempfile::tempdir().unwrap();
    let (server, _) = serve(&t, jwt_policy(&jwks.url, "role"), dir.path()).await;
    let good = keys.rsa.sign(&claims("alice", json!({ "role": "admin" })));
    assert_eq!(role_of(&server, &good).await, Some(Role::Admin));

    // Alice's admin claims, with `extra` added or replaced.
    let with = |extra: Value| {
        let mut claims = claims("alice", json!({ "role": "admin" }));
        claims
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        claims
    };
    let mut tampered = good.split('.').map(str::to_owned).collect::<Vec<_>>();
    tampered[1] = unsigned(&json!({}), &claims("mallory", json!({ "role": "admin" })))
        .split('.')
        .nth(1)
        .unwrap()
        .to_owned();
    // Alice's admin claims without `claim`.
    let without = |claim: &str| {
        let mut claims = claims("alice", json!({ "role": "admin" }));
        claims.as_object_mut().unwrap().remove(claim);
        claims
    };
    let no_sub = without("sub");
    let cases = [
        (
            "expired an hour ago",
            keys.rsa
                .sign(&with(json!({ "exp": now() - 3600, "iat": now() - 7200 }))),
            "expired",
        ),
        (
            "valid from an hour from now",
            keys.ec.sign(&with(json!({ "nbf": now() + 3600 }))),
            "not_yet_valid",
        ),
        (
            "another issuer",
            keys.rsa
                .sign(&with(json!({ "iss": "https://evil.example.test/" }))),
            "issuer",
        ),
        (
            "another audience",
            keys.ec.sign(&with(json!({ "aud": "some-other-app" }))),
            "audience",
        ),
        (
            "a kid the JWKS does not publish",
            keys.stranger.sign(&with(json!({}))),
            "unknown_key",
        ),
        (
            "HS256 with the RSA public key as the secret",
            hs256(
                &keys.rsa.kid,
                keys.rsa.public_pem.as_bytes(),
                &with(json!({})),
            ),
            "algorithm",
        ),
        (
            "signed by another key under a published kid",
            keys.stranger.sign_as(&keys.rsa.kid, &with(json!({}))),
            "signature",
        ),
        (
            "a payload changed after signing",
            tampered.join("."),
            "signature",
        ),
        ("no sub", keys.rsa.sign(&no_sub), "claims"),
        ("no exp", keys.rsa.sign(&without("exp")), "claims"),
        ("no iss", keys.ec.sign(&without("iss")), "claims"),
        ("no aud", keys.ec.sign(&without("aud")), "claims"),
        (
            "ES256 under the kid of an RS256 key",
            keys.ec.sign_as(&keys.rsa.kid, &with(json!({}))),
            "algorithm",
        ),
    ];
    for (case, token, reason) in &cases {
        refused_for(&server, token, reason, case).await;
    }

    // `alg: none`, written by hand: refused with 401 and counted once (its
    // reason is checked by `an_alg_none_token_is_counted_as_a_refused_algorithm`).
    let none = unsigned(
        &json!({ "alg": "none", "typ": "JWT", "kid": keys.rsa.kid }),
        &with(json!({})),
    );
    let before: f64 = all_failures(&server).await.iter().map(|(_, n)| n).sum();
    assert_refused(
        &server.graphql(Some(&none), "{ departments { id } }").await,
        &none,
        "alg none",
    );
    let after: f64 = all_failures(&server).await.iter().map(|(_, n)| n).sum();
    assert_eq!(after, before + 1.0);

    // The leeway (30 s by default) forgives a little clock skew, and no more.
    let just_expired = keys.rsa.sign(&with(json!({ "exp": now() - 5 })));
    assert_eq!(role_of(&server, &just_expired).await, Some(Role::Admin));
    let long_expired = keys.rsa.sign(&with(json!({ "exp": now() - 120 })));
    refused_for(&server, &long_expired, "expired", "expired two minutes ago").await;
    // The same token still works as it did.
    assert_eq!(role_of(&server, &good).await, Some(Role::Admin));
}

/// `alg: none` is an algorithm the server refuses, and is counted as such
/// (`reason="algorithm"`, like HS256), not as a malformed token.
async fn an_alg_none_token_is_counted_as_a_refused_algorithm(t: TestDb) {
    let keys = keys();
    let jwks = JwksServer::start(&[&keys.rsa]).await;
    let dir = tempfile::tempdir().unwrap();
    let (server, _) = serve(&t, jwt_policy(&jwks.url, "role"), dir.path()).await;
    let none = unsigned(
        &json!({ "alg": "none", "typ": "JWT", "kid": keys.rsa.kid }),
        &claims("mallory", json!({ "role": "admin" })),
    );
    refused_for(&server, &none, "algorithm", "alg none").await;
}

/// Polls `condition` until it holds, for at most `within` (a guard against
/// hanging, not a timing assertion).
async fn eventually<F, Fut>(within: Duration, what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    while !condition().await {
        assert!(Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// After the JWKS gains a key, a token signed with it is accepted without a
/// restart; the key set is fetched again only for the unknown kid.
async fn a_key_rotation_is_picked_up_without_a_restart(t: TestDb) {
    let keys = keys();
    let jwks = JwksServer::start(&[&keys.rsa]).await;
    let dir = tempfile::tempdir().unwrap();
    let (server, policy) = serve(&t, jwt_policy(&jwks.url, "role"), dir.path()).await;
    let old = keys
        .rsa
        .sign(&claims("alice", json!({ "role": "analyst" })));
    let new = keys
        .rotated
        .sign(&claims("alice", json!({ "role": "analyst" })));
    assert_eq!(role_of(&server, &old).await, Some(Role::Analyst));
    assert_eq!(jwks.hits(), 1);
    refused_for(&server, &new, "unknown_key", "a kid not published yet").await;

    jwks.add(&keys.rotated);
    // Unknown kids refetch at most once a second, so the first tries may still be refused.
    eventually(
        Duration::from_secs(30),
        "the new key is accepted",
        || async {
            server
                .graphql(Some(&new), "{ departments { id } }")
                .await
                .status
                == 200
        },
    )
    .await;
    let fetches = jwks.hits();
    assert!((2..=3).contains(&fetches), "{fetches} fetches");
    assert_eq!(policy.jwt().unwrap().key_fetches(), fetches as u64);
    for _ in 0..10 {
        assert_eq!(role_of(&server, &new).await, Some(Role::Analyst));
        assert_eq!(role_of(&server, &old).await, Some(Role::Analyst));
    }
    assert_eq!(jwks.hits(), fetches, "known kids do not refetch");
}

/// Fifty requests at once, with tokens of three known keys, fetch the JWKS once.
async fn the_jwks_is_fetched_once_for_many_requests(t: TestDb) {
    let keys = keys();
    let jwks = JwksServer::start(&[&keys.rsa, &keys.ec, &keys.ed]).await;
    let dir = tempfile::tempdir().unwrap();
    let (server, policy) = serve(&t, jwt_policy(&jwks.url, "role"), dir.path()).await;
    assert_eq!(jwks.hits(), 0, "fetched on first use, not at start");
    let tokens: Vec<String> = (0..50)
        .map(|i| {
            let key = [&keys.rsa, &keys.ec, &keys.ed][i % 3];
            key.sign(&claims(&format!("user-{i}"), json!({ "role": "viewer" })))
        })
        .collect();
    let answers = join_all(
        tokens
            .iter()
            .map(|token| server.graphql(Some(token), "{ departments { id } }")),
    )
    .await;
    for answer in &answers {
        assert_eq!(answer.status, 200, "{}", answer.text);
        assert_eq!(answer.json()["errors"], Value::Null, "{}", answer.text);
    }
    for token in &tokens {
        assert_eq!(
            server.graphql(Some(token), "{ jobs { id } }").await.status,
            200
        );
    }
    assert_eq!(jwks.hits(), 1, "one fetch for 100 requests");
    assert_eq!(policy.jwt().unwrap().key_fetches(), 1);
}

/// With the JWKS endpoint down (nothing listening, or answering 500), the
/// static admin token still gets 200 while JWTs get 401; once fetched, keys
/// are kept through an outage.
async fn a_jwks_endpoint_that_is_down_does_not_stop_static_tokens(t: TestDb) {
    let keys = keys();
    let dir = tempfile::tempdir().unwrap();
    let jwt = keys.rsa.sign(&claims("alice", json!({ "role": "admin" })));
    let query = "{ departments { id } operations(first: 1) { nodes { id } } }";

    let (stopped, _) = serve(&t, jwt_policy(UNREACHABLE_JWKS_URL, "role"), dir.path()).await;
    let failing = JwksServer::start(&[&keys.rsa]).await;
    failing.fail(true);
    let (erroring, _) = serve(&t, jwt_policy(&failing.url, "role"), dir.path()).await;
    for (server, case) in [(&stopped, "nothing listens"), (&erroring, "500")] {
        let admin = server.graphql(Some(ADMIN_TOKEN), query).await;
        assert_eq!(admin.status, 200, "{case}: {}", admin.text);
        assert_eq!(
            admin.json()["errors"],
            Value::Null,
            "{case}: {}",
            admin.text
        );
        refused_for(server, &jwt, "keys_unavailable", case).await;
        let admin = server.graphql(Some(ADMIN_TOKEN), query).await;
        assert_eq!(admin.status, 200, "{case}: {}", admin.text);
    }
    assert!(failing.hits() >= 1);

    // Fetched once, then down: known keys go on working, static tokens too.
    let flaky = JwksServer::start(&[&keys.rsa]).await;
    let (server, _) = serve(&t, jwt_policy(&flaky.url, "role"), dir.path()).await;
    assert_eq!(role_of(&server, &jwt).await, Some(Role::Admin));
    flaky.fail(true);
    let unknown = keys
        .stranger
        .sign(&claims("mallory", json!({ "role": "admin" })));
    refused_for(
        &server,
        &unknown,
        "unknown_key",
        "unknown kid during an outage",
    )
    .await;
    assert_eq!(role_of(&server, &jwt).await, Some(Role::Admin));
    let admin = server.graphql(Some(ADMIN_TOKEN), query).await;
    assert_eq!(admin.status, 200, "{}", admin.text);
}

/// Over the WebSocket, a JWT in `connection_init` is accepted with its role;
/// a bad one (or none, where anonymous callers may do nothing) closes the
/// socket with 4403 and is counted.
async fn a_jwt_over_the_websocket_is_accepted_and_a_bad_one_closes_with_4403(t: TestDb) {
    const WAIT: Duration = Duration::from_secs(10);
    let keys = keys();
    let jwks = JwksServer::start(&[&keys.ec]).await;
    let dir = tempfile::tempdir().unwrap();
    let (server, _) = serve(&t, jwt_policy(&jwks.url, "role"), dir.path()).await;

    let viewer = keys.ec.sign(&claims("vera", json!({ "role": "viewer" })));
    let mut client = WsClient::connect(&server.address, Some(&viewer))
        .await
        .expect("a viewer's JWT is accepted");
    let changes = client
        .subscribe("subscription { dataChanged { version } }")
        .await;
    let data = client.next_data(WAIT).await;
    assert!(data["dataChanged"]["version"].is_string(), "{data}");
    client
        .subscribe(r#"subscription { operation(id: "1") { id } }"#)
        .await;
    match client.next(WAIT).await {
        Some(Event::Next(_, payload)) => {
            assert_eq!(first_code(&payload), Some("FORBIDDEN"), "{payload}")
        }
        Some(Event::Error(_, payload)) => {
            assert_eq!(payload[0]["extensions"]["code"], "FORBIDDEN", "{payload}")
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    client.complete(&changes).await;
    client.close().await;

    let expired = keys.ec.sign(&claims(
        "vera",
        json!({ "role": "admin", "exp": now() - 3600 }),
    ));
    let unknown = keys
        .stranger
        .sign(&claims("vera", json!({ "role": "admin" })));
    for (token, reason) in [
        (Some(expired.as_str()), "expired"),
        (Some(unknown.as_str()), "unknown_key"),
        (Some("not-a-configured-token"), "unknown_token"),
        (None, "missing_token"),
    ] {
        let before = server.metric(&failures(reason)).await;
        match WsClient::connect(&server.address, token).await {
            Err(closed) => assert_eq!(closed, Event::Closed(4403, "Forbidden".into()), "{reason}"),
            Ok(_) => panic!("{reason}: the connection was accepted"),
        }
        assert_eq!(
            server.metric(&failures(reason)).await,
            before + 1.0,
            "{reason}"
        );
    }
}

/// A WebSocket lives no longer than its JWT: when the token expires the
/// server closes the socket with 4403 (counted), even while a subscription
/// keeps it busy.
async fn a_websocket_is_closed_with_4403_when_its_jwt_expires(t: TestDb) {
    let keys = keys();
    let jwks = JwksServer::start(&[&keys.ec]).await;
    let dir = tempfile::tempdir().unwrap();
    let verifier = JwtVerifier::new(KeyStore::jwks(&jwks.url).unwrap(), ISSUER, AUDIENCE, "role")
        .with_leeway(0);
    let policy = AccessPolicy::with_tokens(TokenTable::default()).with_jwt(verifier);
    let (server, _) = serve(&t, policy, dir.path()).await;
    let expiring = keys.ec.sign(&claims(
        "vera",
        json!({ "role": "viewer", "exp": now() + 2 }),
    ));
    let mut client = WsClient::connect(&server.address, Some(&expiring))
        .await
        .expect("a valid JWT is accepted");
    client
        .subscribe("subscription { dataChanged { version } }")
        .await;
    client.next_data(Duration::from_secs(10)).await;
    let closed = loop {
        match client.next(Duration::from_secs(20)).await {
            Some(Event::Closed(code, reason)) => break (code, reason),
            Some(_) => continue,
            None => panic!("the socket outlived its token"),
        }
    };
    assert_eq!(closed, (4403, "token expired".to_owned()));
    let expired = r#"hiring_analytics_websocket_refusals_total{reason="token_expired"}"#;
    assert_eq!(server.metric(expired).await, 1.0);
}

/// Role names in a claim must match exactly: a group a user could create,
/// named `Admin`, is no role.
#[tokio::test]
async fn role_names_in_claims_match_exactly() {
    use hiring_analytics::auth::jwt::role_in;
    let claims = json!({ "groups": ["Admin", "ADMIN", "viewer"] });
    assert_eq!(role_in(&claims, "groups"), Some(Role::Viewer));
    assert_eq!(role_in(&json!({ "role": "Admin" }), "role"), None);
}

/// The key set is fetched over https, or over http from this machine only:
/// anyone on the network path of a plain-http URL could swap the keys.
#[test]
fn a_jwks_url_must_be_https_unless_on_loopback() {
    for refused in [
        "http://idp.example.com/jwks",
        "ftp://idp.example.com/jwks",
        "not a url",
    ] {
        let err = KeyStore::jwks(refused).expect_err(refused);
        assert!(err.contains("JWT_JWKS_URL"), "{err}");
    }
    for accepted in [
        "https://idp.example.com/jwks",
        "http://127.0.0.1:8080/jwks",
        "http://localhost/jwks",
        "http://[::1]:9000/jwks",
    ] {
        KeyStore::jwks(accepted).unwrap_or_else(|err| panic!("{accepted}: {err}"));
    }
}

/// `serve` with JWT settings from the environment: the JWKS of the test, the
/// role from `realm_access.roles`, anonymous callers refused.
async fn serve_accepts_jwts_from_its_settings(t: TestDb) {
    let keys = keys();
    let jwks = JwksServer::start(&[&keys.ed]).await;
    let server = common::Server::start(
        &t.url,
        &[
            ("JWT_JWKS_URL", jwks.url.as_str()),
            ("JWT_ISSUER", ISSUER),
            ("JWT_AUDIENCE", AUDIENCE),
            ("JWT_ROLE_CLAIM", "realm_access.roles"),
            ("ANONYMOUS_ROLE", "none"),
        ],
    );
    let analyst = keys.ed.sign(&claims(
        "kc-user",
        json!({ "realm_access": { "roles": ["analyst"] } }),
    ));
    let viewer = keys.ed.sign(&claims(
        "kc-user",
        json!({ "realm_access": { "roles": ["viewer"] } }),
    ));
    let hires = "{ hiredEmployees(first: 1) { totalCount } }";
    let allowed = common::graphql_at(&server.address, Some(&analyst), hires).await;
    assert_eq!(allowed["errors"], Value::Null, "{allowed}");
    let refused = common::graphql_at(&server.address, Some(&viewer), hires).await;
    assert_eq!(first_code(&refused), Some("FORBIDDEN"), "{refused}");
    let anonymous = reqwest::Client::new()
        .post(format!("http://{}/graphql", server.address))
        .json(&json!({ "query": "{ departments { id } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    assert_eq!(jwks.hits(), 1);
}

/// The built binary, on a database in `dir`.
fn command(dir: &std::path::Path) -> std::process::Command {
    let mut command = binary();
    command.env(
        "DATABASE_URL",
        format!("sqlite://{}?mode=rwc", dir.join("x.db").display()),
    );
    command
}

#[test]
fn serve_refuses_a_public_address_with_no_way_to_authenticate() {
    let dir = tempfile::tempdir().unwrap();
    let output = command(dir.path())
        .args(["serve", "--bind", "0.0.0.0:0"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    for named in [
        "0.0.0.0:0",
        "ADMIN_TOKEN",
        "READ_TOKEN",
        "TOKENS_FILE",
        "JWT_JWKS_URL",
        "--insecure",
    ] {
        assert!(stderr.contains(named), "does not name {named}: {stderr}");
    }
}

#[test]
fn serve_refuses_jwt_without_an_issuer_and_an_audience() {
    let dir = tempfile::tempdir().unwrap();
    for (issuer, audience) in [(None, None), (Some(ISSUER), None), (None, Some(AUDIENCE))] {
        let mut command = command(dir.path());
        command
            .args(["serve", "--bind", "127.0.0.1:0"])
            .env("JWT_JWKS_URL", "http://127.0.0.1:1/jwks.json");
        if let Some(issuer) = issuer {
            command.env("JWT_ISSUER", issuer);
        }
        if let Some(audience) = audience {
            command.env("JWT_AUDIENCE", audience);
        }
        let output = command.output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{issuer:?} {audience:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("JWT_ISSUER") && stderr.contains("JWT_AUDIENCE"),
            "{stderr}"
        );
    }
}

db_tests!(
    a_websocket_is_closed_with_4403_when_its_jwt_expires,
    rs256_es256_and_eddsa_tokens_are_accepted_with_the_role_from_the_claim,
    the_role_claim_may_be_a_dotted_path_or_a_namespaced_claim,
    a_token_never_gets_less_than_the_anonymous_role,
    bad_tokens_get_401_and_are_counted_by_reason,
    an_alg_none_token_is_counted_as_a_refused_algorithm,
    a_key_rotation_is_picked_up_without_a_restart,
    the_jwks_is_fetched_once_for_many_requests,
    a_jwks_endpoint_that_is_down_does_not_stop_static_tokens,
    a_jwt_over_the_websocket_is_accepted_and_a_bad_one_closes_with_4403,
    serve_accepts_jwts_from_its_settings,
);
