//! The GraphQL side of access control: the caller of a request, and the
//! guard every protected field carries.

use std::sync::Arc;

use async_graphql::{Context, Guard, context::DataContext};

use super::{
    caller::Caller,
    policy::{AccessPolicy, require},
    role::Role,
};

/// The caller of a GraphQL request; a request run without one (in tests,
/// or in-process) is anonymous, with the policy's anonymous role.
pub fn caller<'a>(ctx: &impl DataContext<'a>) -> Caller {
    if let Some(caller) = ctx.data_opt::<Caller>() {
        return caller.clone();
    }
    let anonymous = ctx
        .data_opt::<Arc<AccessPolicy>>()
        .and_then(|policy| policy.anonymous_role());
    Caller::anonymous(anonymous)
}

/// The guard of a field only `role` and the roles above it may use.
pub struct Needs(pub Role);

impl Guard for Needs {
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        Ok(require(&caller(ctx), self.0)?)
    }
}
