//! hiring-analytics: a GraphQL analytics server for hiring data.
//!
//! The binary is a thin CLI over this library, so tests drive the real thing:
//! [`build_schema`] for GraphQL and [`app`] for HTTP.
//!
//! This file only declares modules and re-exports. Code inside the crate
//! imports a thing from the module that defines it, never through here, so
//! no import comes back to this file.

pub mod auth;
pub mod cli;
pub mod config;
pub mod csv;
pub mod db;
pub mod error;
pub mod generator;
pub mod graphql;
pub mod http;
pub mod metrics;
pub mod rules;
pub mod service;
pub mod startup;
pub mod state;
pub mod telemetry;

pub use graphql::{
    query_limits::QueryLimits,
    schema::{AppSchema, build_schema},
};
pub use http::{abuse_limits::RequestLimits, app};
pub use state::{
    AppState, DEFAULT_BODY_LIMIT, DEFAULT_REQUEST_TIMEOUT_SECONDS, DEFAULT_UPLOAD_LIMIT,
};
