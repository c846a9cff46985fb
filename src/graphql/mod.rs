//! The GraphQL API: thin resolvers over `service/`, one file per area, and
//! the helpers they share. The schema is assembled in [`schema`].
//!
//! This file holds what resolvers import and re-exports only files that
//! import nothing from it; the resolvers are merged in `schema.rs`, so no
//! resolver imports a file that imports it back.

mod admin;
pub mod audit;
mod audit_log;
mod backup;
mod dimensions;
pub mod error_codes;
mod hires;
mod introspection;
mod jobs;
mod live;
mod me;
mod observe;
mod operations;
mod prefetch;
pub mod query_limits;
mod reports;
mod scalars;
pub mod schema;
mod trend_charts;
mod trends;

use sea_orm::DatabaseConnection;

use crate::{error::AppError, state::AppState};

pub use error_codes::ErrorCodes;
pub use query_limits::{DEFAULT_MAX_COMPLEXITY, DEFAULT_MAX_DEPTH, QueryLimits};

/// The most ids one filter list (`departmentIds`, `jobIds`) may hold.
pub const MAX_FILTER_IDS: usize = 1_000;

/// Refuses an id filter list longer than [`MAX_FILTER_IDS`].
fn check_filter_ids(argument: &str, ids: Option<&[i32]>) -> Result<(), AppError> {
    match ids {
        Some(ids) if ids.len() > MAX_FILTER_IDS => Err(AppError::bad_input(
            "TOO_MANY_IDS",
            format!(
                "{argument} holds {} ids; at most {MAX_FILTER_IDS} are allowed",
                ids.len()
            ),
        )),
        _ => Ok(()),
    }
}

/// A page of a log listed newest first by id: its size (`first`, `default`
/// when omitted, 1 to `max`) and the id its entries come before (`after`, the
/// cursor of the previous page's last entry).
fn id_page(
    first: Option<i32>,
    after: Option<String>,
    default: i32,
    max: i32,
) -> Result<(u64, Option<i64>), AppError> {
    let first = first.unwrap_or(default);
    if !(1..=max).contains(&first) {
        return Err(AppError::bad_input(
            "PAGE_SIZE",
            format!("first must be from 1 to {max}, got {first}"),
        ));
    }
    let before_id = after
        .map(|cursor| {
            cursor.parse::<i64>().map_err(|_| {
                AppError::bad_input("INVALID_CURSOR", format!("{cursor:?} is not a cursor"))
            })
        })
        .transpose()?;
    Ok((first as u64, before_id))
}

/// The primary database: writes and admin operations.
fn db<'a>(ctx: &'a async_graphql::Context<'_>) -> &'a DatabaseConnection {
    &ctx.data_unchecked::<AppState>().db
}

/// The database for reports and lists: the read replica when one is configured.
fn read_db<'a>(ctx: &'a async_graphql::Context<'_>) -> &'a DatabaseConnection {
    &ctx.data_unchecked::<AppState>().read_db
}
