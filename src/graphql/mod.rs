//! The GraphQL schema: thin resolvers over `service/`, one file per area.

mod admin;
mod backup;
mod dimensions;
mod error_codes;
mod hires;
mod loaders;
mod observe;
mod reports;
mod scalars;

use std::sync::Arc;

use async_graphql::{EmptySubscription, MergedObject, Schema, dataloader::DataLoader};
use sea_orm::DatabaseConnection;

use crate::AppState;

pub use error_codes::ErrorCodes;
pub use loaders::ByIdLoader;

/// Default deepest selection; GraphiQL's introspection query needs 13.
pub const DEFAULT_MAX_DEPTH: usize = 16;
/// Default highest complexity; GraphiQL's introspection query needs about 200.
pub const DEFAULT_MAX_COMPLEXITY: usize = 1_000;

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

/// Depth and complexity limits applied to every query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryLimits {
    /// Deepest selection accepted.
    pub max_depth: usize,
    /// Highest complexity accepted.
    pub max_complexity: usize,
}

impl Default for QueryLimits {
    fn default() -> Self {
        Self {
            max_depth: DEFAULT_MAX_DEPTH,
            max_complexity: DEFAULT_MAX_COMPLEXITY,
        }
    }
}

/// How long lookups (a hire's department, a department's hire count) are gathered
/// before one query fetches them all, in milliseconds.
pub const LOADER_WINDOW_MS: u64 = 5;

/// The most ids one filter list (`departmentIds`, `jobIds`) may hold.
pub const MAX_FILTER_IDS: usize = 1_000;

/// Refuses an id filter list longer than [`MAX_FILTER_IDS`].
fn check_filter_ids(argument: &str, ids: Option<&[i32]>) -> Result<(), crate::error::AppError> {
    match ids {
        Some(ids) if ids.len() > MAX_FILTER_IDS => Err(crate::error::AppError::bad_input(
            "TOO_MANY_IDS",
            format!(
                "{argument} holds {} ids; at most {MAX_FILTER_IDS} are allowed",
                ids.len()
            ),
        )),
        _ => Ok(()),
    }
}

/// The primary database: writes and admin operations.
fn db<'a>(ctx: &'a async_graphql::Context<'_>) -> &'a DatabaseConnection {
    &ctx.data_unchecked::<AppState>().db
}

/// The database for reports and lists: the read replica when one is configured.
fn read_db<'a>(ctx: &'a async_graphql::Context<'_>) -> &'a DatabaseConnection {
    &ctx.data_unchecked::<AppState>().read_db
}

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
    .limit_depth(state.limits.max_depth)
    .limit_complexity(state.limits.max_complexity)
    .extension(ErrorCodes {
        // Twice the complexity limit: a larger document can never pass it.
        max_fields: state.limits.max_complexity.saturating_mul(2).max(100),
    })
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
