//! The access policy `serve` runs with: static tokens, the tokens file, JWT,
//! the anonymous role and introspection, checked before the server starts.

use super::Failure;
use crate::{
    auth::{
        AccessPolicy, Role, default_anonymous_role, jwt::JwtVerifier, keys::KeyStore,
        tokens::TokenTable,
    },
    config::{AnonymousRole, Introspection, JwtArgs, ServeArgs},
};

/// Who may do what, from the settings and the address; refuses settings that
/// would expose data (an empty token, JWT without issuer or audience, a
/// public address with no way to authenticate).
pub fn access_policy(args: &ServeArgs) -> Result<AccessPolicy, Failure> {
    let tokens = static_tokens(args)?;
    let mut policy = AccessPolicy::with_tokens(tokens);
    if let Some(verifier) = jwt_verifier(&args.jwt)? {
        policy = policy.with_jwt(verifier);
    }
    let loopback = args.bind.ip().is_loopback();
    if !loopback && !policy.can_authenticate() && !args.insecure {
        return Err(Failure::usage(format!(
            "refusing to listen on non-loopback address {} with no way to authenticate; set \
             ADMIN_TOKEN, API_TOKEN, READ_TOKEN, TOKENS_FILE or JWT_JWKS_URL/JWT_PUBLIC_KEY_FILE, \
             or pass --insecure to serve anonymous callers only",
            args.bind
        )));
    }
    let anonymous = anonymous_role(args, loopback, policy.can_authenticate());
    warn_about(anonymous, loopback, policy.can_authenticate());
    Ok(policy
        .with_anonymous(anonymous)
        .with_introspection_for_admins_only(args.introspection == Introspection::Admin))
}

/// `ADMIN_TOKEN`, `API_TOKEN`, `READ_TOKEN` and the entries of `TOKENS_FILE`.
fn static_tokens(args: &ServeArgs) -> Result<TokenTable, Failure> {
    let mut tokens = TokenTable::default();
    for (variable, name, role, token) in [
        ("ADMIN_TOKEN", "admin", Role::Admin, &args.admin_token),
        ("API_TOKEN", "api", Role::Editor, &args.api_token),
        ("READ_TOKEN", "read", Role::Analyst, &args.read_token),
    ] {
        let Some(token) = token else { continue };
        if token.is_empty() {
            return Err(Failure::usage(format!(
                "{variable} is set but empty; give it a value or unset it"
            )));
        }
        tokens
            .add(name, role, &token.0)
            .map_err(|_| Failure::usage(format!("{variable} is the same as another token")))?;
    }
    if let Some(path) = &args.tokens_file {
        let text = std::fs::read_to_string(path).map_err(|err| {
            Failure::usage(format!("cannot read TOKENS_FILE {}: {err}", path.display()))
        })?;
        tokens.add_file(&text).map_err(Failure::usage)?;
    }
    Ok(tokens)
}

/// The JWT verifier, when `JWT_JWKS_URL` or `JWT_PUBLIC_KEY_FILE` is set.
fn jwt_verifier(args: &JwtArgs) -> Result<Option<JwtVerifier>, Failure> {
    let keys = match (&args.jwt_jwks_url, &args.jwt_public_key_file) {
        (None, None) => {
            if args.jwt_issuer.is_some() || args.jwt_audience.is_some() {
                return Err(Failure::usage(
                    "JWT_ISSUER/JWT_AUDIENCE are set but JWT is off: set JWT_JWKS_URL or JWT_PUBLIC_KEY_FILE",
                ));
            }
            return Ok(None);
        }
        (Some(url), _) => KeyStore::jwks(url),
        (None, Some(path)) => KeyStore::file(path),
    }
    .map_err(Failure::usage)?;
    let (Some(issuer), Some(audience)) = (&args.jwt_issuer, &args.jwt_audience) else {
        return Err(Failure::usage(
            "JWT is on, so JWT_ISSUER and JWT_AUDIENCE are required (the `iss` and `aud` tokens must carry)",
        ));
    };
    let verifier = JwtVerifier::new(keys, issuer, audience, &args.jwt_role_claim)
        .with_leeway(args.jwt_leeway_seconds);
    Ok(Some(verifier))
}

/// `ANONYMOUS_ROLE`, or the default for the address (viewer with `--insecure`).
fn anonymous_role(args: &ServeArgs, loopback: bool, can_authenticate: bool) -> Option<Role> {
    match args.anonymous_role {
        Some(AnonymousRole::None) => None,
        Some(AnonymousRole::Viewer) => Some(Role::Viewer),
        Some(AnonymousRole::Analyst) => Some(Role::Analyst),
        Some(AnonymousRole::Editor) => Some(Role::Editor),
        None if !loopback && !can_authenticate => Some(Role::Viewer),
        None => default_anonymous_role(loopback, can_authenticate),
    }
}

fn warn_about(anonymous: Option<Role>, loopback: bool, can_authenticate: bool) {
    let role = anonymous.map_or("none", Role::name);
    match (loopback, can_authenticate) {
        (true, false) => tracing::warn!(
            anonymous = role,
            "no token or JWT configured: local clients act as {role}, and admin operations are off"
        ),
        (false, false) => tracing::warn!(
            anonymous = role,
            "--insecure: anonymous callers act as {role}; nobody can do more"
        ),
        _ if anonymous >= Some(Role::Analyst) && !loopback => tracing::warn!(
            anonymous = role,
            "ANONYMOUS_ROLE lets anyone who reaches this address read hires' names"
        ),
        _ => tracing::info!(anonymous = role, "access control on"),
    }
}
