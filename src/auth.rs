//! Access control: who is calling, and what they may do.
//!
//! Reads are open. Writes need `API_TOKEN` or `ADMIN_TOKEN`; admin operations
//! (import, backup, restore) need `ADMIN_TOKEN`. With no token configured,
//! writes are open only on a loopback address and admin operations are off.

use std::sync::Arc;

use async_graphql::{Context, Guard};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::AppError;

/// Who sent a request, as proven by its bearer token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    /// No `Authorization` header.
    Anonymous,
    /// Sent `API_TOKEN`.
    Api,
    /// Sent `ADMIN_TOKEN`.
    Admin,
}

impl Caller {
    /// The caller's kind, as named in cache keys and logs.
    pub fn role_name(self) -> &'static str {
        match self {
            Caller::Anonymous => "anonymous",
            Caller::Api => "api",
            Caller::Admin => "admin",
        }
    }

    /// Who the caller is, as recorded in the operations log: the token's name.
    pub fn identity(self) -> &'static str {
        match self {
            Caller::Anonymous => "anonymous",
            Caller::Api => "api-token",
            Caller::Admin => "admin-token",
        }
    }
}

/// The configured tokens and where the server listens.
#[derive(Clone, Default)]
pub struct AccessPolicy {
    admin_token: Option<[u8; 32]>,
    api_token: Option<[u8; 32]>,
    loopback_only: bool,
}

impl std::fmt::Debug for AccessPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessPolicy")
            .field("admin_token", &self.admin_token.map(|_| "[redacted]"))
            .field("api_token", &self.api_token.map(|_| "[redacted]"))
            .field("loopback_only", &self.loopback_only)
            .finish()
    }
}

/// Hashing first makes the comparison take the same time whatever the token lengths.
fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl AccessPolicy {
    /// A policy for a server bound where `loopback_only` says.
    pub fn new(
        admin_token: Option<&SecretString>,
        api_token: Option<&SecretString>,
        loopback_only: bool,
    ) -> Self {
        Self {
            admin_token: admin_token.map(|t| digest(t.expose_secret())),
            api_token: api_token.map(|t| digest(t.expose_secret())),
            loopback_only,
        }
    }

    /// True when neither token is configured.
    pub fn has_no_tokens(&self) -> bool {
        self.admin_token.is_none() && self.api_token.is_none()
    }

    /// Identifies the caller from the `Authorization` header value, if any.
    ///
    /// A header that is present but malformed, or carries an unknown token, is
    /// refused outright rather than treated as anonymous, so that a
    /// misconfigured client fails loudly.
    pub fn identify(&self, authorization: Option<&[u8]>) -> Result<Caller, AppError> {
        let Some(raw) = authorization else {
            return Ok(Caller::Anonymous);
        };
        let token = std::str::from_utf8(raw)
            .ok()
            .and_then(|value| {
                let (scheme, token) = value.trim().split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
            })
            .filter(|token| !token.is_empty())
            .ok_or_else(|| {
                AppError::Unauthenticated(
                    "malformed Authorization header: expected `Authorization: Bearer <token>`"
                        .into(),
                )
            })?;
        let offered = digest(token);
        // Compare against both tokens every time, so timing does not reveal which matched.
        let is_admin = matches(&self.admin_token, &offered);
        let is_api = matches(&self.api_token, &offered);
        if is_admin {
            Ok(Caller::Admin)
        } else if is_api {
            Ok(Caller::Api)
        } else {
            Err(AppError::Unauthenticated(
                "invalid bearer token: it matches neither ADMIN_TOKEN nor API_TOKEN".into(),
            ))
        }
    }

    /// Checks that `caller` may run write mutations.
    pub fn require_write(&self, caller: Caller) -> Result<(), AppError> {
        match caller {
            Caller::Admin | Caller::Api => Ok(()),
            Caller::Anonymous if self.has_no_tokens() && self.loopback_only => Ok(()),
            Caller::Anonymous if self.has_no_tokens() => Err(AppError::Forbidden(
                "writes are disabled: the server listens on a non-loopback address with no \
                 API_TOKEN or ADMIN_TOKEN set; set one and send it as `Authorization: Bearer <token>`"
                    .into(),
            )),
            Caller::Anonymous => Err(AppError::Unauthenticated(
                "this operation writes data: send `Authorization: Bearer <API_TOKEN or ADMIN_TOKEN>`"
                    .into(),
            )),
        }
    }

    /// Checks that `caller` may run admin operations (import, backup, restore).
    pub fn require_admin(&self, caller: Caller) -> Result<(), AppError> {
        match caller {
            Caller::Admin => Ok(()),
            _ if self.admin_token.is_none() => Err(AppError::Forbidden(
                "admin operations are disabled: start the server with ADMIN_TOKEN set and send it \
                 as `Authorization: Bearer <token>`"
                    .into(),
            )),
            Caller::Api => Err(AppError::Forbidden(
                "this is an admin operation: API_TOKEN does not grant it, send ADMIN_TOKEN".into(),
            )),
            Caller::Anonymous => Err(AppError::Unauthenticated(
                "this is an admin operation: send `Authorization: Bearer <ADMIN_TOKEN>`".into(),
            )),
        }
    }
}

fn matches(expected: &Option<[u8; 32]>, offered: &[u8; 32]) -> bool {
    expected.is_some_and(|expected| bool::from(expected.ct_eq(offered)))
}

/// The caller of a GraphQL request (anonymous when none was identified).
pub fn caller(ctx: &Context<'_>) -> Caller {
    ctx.data_opt::<Caller>()
        .copied()
        .unwrap_or(Caller::Anonymous)
}

fn policy<'a>(ctx: &'a Context<'_>) -> async_graphql::Result<&'a AccessPolicy> {
    ctx.data::<Arc<AccessPolicy>>()
        .map(|p| p.as_ref())
        .map_err(|_| AppError::Internal(anyhow::anyhow!("no AccessPolicy in the schema")).into())
}

/// GraphQL guard for write mutations.
pub struct WriteAccess;

impl Guard for WriteAccess {
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        Ok(policy(ctx)?.require_write(caller(ctx))?)
    }
}

/// GraphQL guard for admin operations.
pub struct AdminAccess;

impl Guard for AdminAccess {
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        Ok(policy(ctx)?.require_admin(caller(ctx))?)
    }
}
