//! The executable schema: every area's queries and mutations merged, with the
//! state, limits and extensions they need.

use std::sync::Arc;

use async_graphql::{MergedObject, Schema};

use super::{
    admin, audit, audit_log, backup, dimensions, error_codes::ErrorCodes, hires, introspection,
    live::SubscriptionRoot, me, observe, operations, reports, trend_charts, trends,
};
use crate::state::AppState;

/// Every query field.
#[derive(MergedObject, Default)]
pub struct QueryRoot(
    dimensions::DimensionsQuery,
    hires::HiresQuery,
    reports::ReportsQuery,
    trends::TrendsQuery,
    trend_charts::TrendChartsQuery,
    admin::AdminQuery,
    backup::BackupQuery,
    operations::OperationsQuery,
    audit_log::AuditLogQuery,
    me::MeQuery,
);

/// Every mutation field.
#[derive(MergedObject, Default)]
pub struct MutationRoot(
    hires::InsertMutation,
    admin::AdminMutation,
    backup::BackupMutation,
    operations::OperationsMutation,
);

/// The executable schema.
pub type AppSchema = Schema<QueryRoot, MutationRoot, SubscriptionRoot>;

/// Builds the schema with the state and limits it needs.
pub fn build_schema(state: &AppState) -> AppSchema {
    Schema::build(
        QueryRoot::default(),
        MutationRoot::default(),
        SubscriptionRoot,
    )
    .data(state.clone())
    .data(Arc::clone(&state.policy))
    .limit_depth(state.query_limits.max_depth)
    .limit_complexity(state.query_limits.max_complexity)
    .extension(ErrorCodes)
    .extension(introspection::IntrospectionGate)
    .extension(state.query_limits.field_count_limit())
    .extension(observe::Observe(Arc::clone(&state.metrics)))
    .extension(audit::Audit)
    .finish()
}

/// The SDL of the schema, as checked in at `schema.graphql`.
pub fn sdl() -> String {
    let schema = Schema::build(
        QueryRoot::default(),
        MutationRoot::default(),
        SubscriptionRoot,
    )
    .finish();
    schema.sdl()
}
