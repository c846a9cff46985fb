//! The executable schema: every area's queries and mutations merged, with the
//! state, loaders, limits and extensions they need.

use std::sync::Arc;

use async_graphql::{EmptySubscription, MergedObject, Schema, dataloader::DataLoader};
use sea_orm::DatabaseConnection;

use super::{
    admin, backup, dimensions, error_codes::ErrorCodes, hires, loaders::ByIdLoader, observe,
    reports,
};
use crate::state::AppState;

/// Every query field.
#[derive(MergedObject, Default)]
pub struct QueryRoot(
    dimensions::DimensionsQuery,
    hires::HiresQuery,
    reports::ReportsQuery,
    admin::AdminQuery,
    backup::BackupQuery,
);

/// Every mutation field.
#[derive(MergedObject, Default)]
pub struct MutationRoot(
    hires::InsertMutation,
    admin::AdminMutation,
    backup::BackupMutation,
);

/// The executable schema.
pub type AppSchema = Schema<QueryRoot, MutationRoot, EmptySubscription>;

/// How long lookups (a hire's department, a department's hire count) are gathered
/// before one query fetches them all, in milliseconds.
pub const LOADER_WINDOW_MS: u64 = 5;

/// Builds the schema with the state, loaders and limits it needs.
pub fn build_schema(state: &AppState) -> AppSchema {
    // The window in which lookups are gathered into one query. async-graphql's
    // default (1 ms) is shorter than it takes a debug build on a busy
    // 2-core machine to reach every row of a list, which then splits a batch.
    let loader = |db: &DatabaseConnection| {
        DataLoader::new(ByIdLoader::new(db.clone()), tokio::spawn)
            .delay(std::time::Duration::from_millis(LOADER_WINDOW_MS))
    };
    Schema::build(
        QueryRoot::default(),
        MutationRoot::default(),
        EmptySubscription,
    )
    .data(state.clone())
    .data(Arc::clone(&state.policy))
    .data(loader(&state.read_db))
    .limit_depth(state.query_limits.max_depth)
    .limit_complexity(state.query_limits.max_complexity)
    .extension(ErrorCodes)
    .extension(state.query_limits.field_count_limit())
    .extension(observe::Observe(Arc::clone(&state.metrics)))
    .finish()
}

/// The SDL of the schema, as checked in at `schema.graphql`.
pub fn sdl() -> String {
    let schema = Schema::build(
        QueryRoot::default(),
        MutationRoot::default(),
        EmptySubscription,
    )
    .finish();
    schema.sdl()
}
