//! Who may do what: the static tokens, the JWT settings, the anonymous role
//! and introspection, and the check every protected field makes.

use std::sync::Arc;

use secrecy::SecretString;

use super::{
    caller::Caller,
    jwt::{JwtVerifier, Refusal},
    role::Role,
    tokens::TokenTable,
};
use crate::error::AppError;

/// The access settings of one server.
#[derive(Debug, Clone, Default)]
pub struct AccessPolicy {
    tokens: TokenTable,
    jwt: Option<Arc<JwtVerifier>>,
    anonymous: Option<Role>,
    introspection_for_admins_only: bool,
}

/// The role anonymous callers get when `ANONYMOUS_ROLE` is not set:
/// `editor` on a loopback address with no way to authenticate (a developer's
/// machine), `analyst` on a loopback address with some, `none` elsewhere.
pub fn default_anonymous_role(loopback: bool, can_authenticate: bool) -> Option<Role> {
    match (loopback, can_authenticate) {
        (true, false) => Some(Role::Editor),
        (true, true) => Some(Role::Analyst),
        (false, _) => None,
    }
}

fn refused(reason: &'static str, message: &str) -> Refusal {
    Refusal {
        reason,
        message: message.to_owned(),
    }
}

impl AccessPolicy {
    /// `ADMIN_TOKEN` (admin) and `API_TOKEN` (editor), with the default
    /// anonymous role for a server bound where `loopback` says.
    pub fn new(
        admin_token: Option<&SecretString>,
        api_token: Option<&SecretString>,
        loopback: bool,
    ) -> Self {
        let mut tokens = TokenTable::default();
        for (name, role, token) in [
            ("admin", Role::Admin, admin_token),
            ("api", Role::Editor, api_token),
        ] {
            if let Some(token) = token {
                tokens.add(name, role, token).expect("distinct tokens");
            }
        }
        let anonymous = default_anonymous_role(loopback, !tokens.is_empty());
        Self::with_tokens(tokens).with_anonymous(anonymous)
    }

    /// A policy with these static tokens, JWT off and no anonymous access.
    pub fn with_tokens(tokens: TokenTable) -> Self {
        Self {
            tokens,
            ..Self::default()
        }
    }

    /// Accepts JWTs checked by `verifier`.
    pub fn with_jwt(mut self, verifier: JwtVerifier) -> Self {
        self.jwt = Some(Arc::new(verifier));
        self
    }

    /// Gives anonymous callers `role` (`None`: they may do nothing).
    pub fn with_anonymous(mut self, role: Option<Role>) -> Self {
        self.anonymous = role;
        self
    }

    /// Turns introspection off for callers below admin (`INTROSPECTION=admin`).
    pub fn with_introspection_for_admins_only(mut self, admins_only: bool) -> Self {
        self.introspection_for_admins_only = admins_only;
        self
    }

    /// The role anonymous callers get.
    pub fn anonymous_role(&self) -> Option<Role> {
        self.anonymous
    }

    /// Whether any token or JWT is accepted.
    pub fn can_authenticate(&self) -> bool {
        !self.tokens.is_empty() || self.jwt.is_some()
    }

    /// The JWT verifier, when JWT is on.
    pub fn jwt(&self) -> Option<&JwtVerifier> {
        self.jwt.as_deref()
    }

    /// Whether `caller` may introspect the schema.
    pub fn allows_introspection(&self, caller: &Caller) -> bool {
        !self.introspection_for_admins_only || caller.has(Role::Admin)
    }

    /// Identifies the caller from the `Authorization` header value, if any.
    ///
    /// A header that is present but malformed, or carries a token that is
    /// neither a configured static token nor a valid JWT, is refused outright
    /// rather than treated as anonymous, so a misconfigured client fails loudly.
    pub async fn identify(&self, authorization: Option<&[u8]>) -> Result<Caller, Refusal> {
        let Some(raw) = authorization else {
            return Ok(Caller::anonymous(self.anonymous));
        };
        let token = bearer_token(raw).ok_or_else(|| {
            refused(
                "malformed",
                "malformed Authorization header: expected `Authorization: Bearer <token>`",
            )
        })?;
        if let Some(caller) = self.tokens.find(token) {
            return Ok(caller);
        }
        match &self.jwt {
            Some(jwt) if JwtVerifier::looks_like_jwt(token) => {
                jwt.verify(token, self.anonymous).await
            }
            Some(_) => Err(refused(
                "unknown_token",
                "invalid bearer token: it is neither a configured token nor a JWT",
            )),
            None => Err(refused(
                "unknown_token",
                "invalid bearer token: it is none of the configured tokens",
            )),
        }
    }
}

/// The token of a `Bearer <token>` header value.
fn bearer_token(raw: &[u8]) -> Option<&str> {
    let value = std::str::from_utf8(raw).ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Checks that `caller` holds `needed`: `FORBIDDEN` naming the role needed
/// when it holds a lower one, `UNAUTHENTICATED` when it holds none and sent
/// no token.
pub fn require(caller: &Caller, needed: Role) -> Result<(), AppError> {
    if caller.has(needed) {
        return Ok(());
    }
    let who = match (caller.is_anonymous(), caller.role) {
        (true, None) => {
            return Err(AppError::Unauthenticated(format!(
                "this needs the {needed} role: send `Authorization: Bearer <token>`"
            )));
        }
        (true, Some(role)) => format!("anonymous callers have {role}; send a token with {needed}"),
        (false, Some(role)) => format!("{} has {role}", caller.identity),
        (false, None) => format!("{} has no role", caller.identity),
    };
    Err(AppError::Forbidden(format!(
        "this needs the {needed} role ({who})"
    )))
}
