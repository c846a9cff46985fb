//! `me`: who the server takes the caller to be, so an app can show it and
//! offer only what the role allows.

use async_graphql::{Context, Object, SimpleObject};

use crate::auth::{Needs, Role, caller};

/// The caller of a request, as the server identified it.
#[derive(SimpleObject)]
pub struct CallerIdentity {
    /// Who it is: `token:<name>` for a static token, `user:<sub>` for a JWT,
    /// or `anonymous`; as recorded in the audit log and as `startedBy`.
    identity: String,
    /// A name for people to read: the JWT's `email` or `preferred_username`.
    display: Option<String>,
    /// Its role: `viewer`, `analyst`, `editor` or `admin`.
    role: String,
}

/// The `me` query.
#[derive(Default)]
pub struct MeQuery;

#[Object]
impl MeQuery {
    /// Who the server takes the caller to be, and its role.
    #[graphql(guard = "Needs(Role::Viewer)")]
    async fn me(&self, ctx: &Context<'_>) -> CallerIdentity {
        let caller = caller(ctx);
        CallerIdentity {
            role: caller.role_name().to_owned(),
            identity: caller.identity,
            display: caller.display,
        }
    }
}
