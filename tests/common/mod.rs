//! Test harness shared by the integration tests, one file per concern:
//! [`db`] (fresh databases and the `db_tests!` macro), [`http`] (requests
//! through the router), [`server`] (the `serve` process), [`fixtures`] (test
//! data and row counts) and [`rollup`] (the rollup and the raw aggregate it
//! must equal). `s3.rs` is included by the tests that need it.
//!
//! Everything is re-exported here, so tests write `use common::TestDb;`.

// Each test binary uses part of the harness, so the rest is unused there.
#![allow(dead_code, unused_imports)]

pub mod bound;
pub mod chromium;
pub mod db;
pub mod fixtures;
pub mod http;
pub mod jwt;
pub mod node;
pub mod rollup;
pub mod schema;
pub mod server;

pub use chromium::{HEADLESS, chromium};
pub use db::{Backend, Start, TestDb, run};
pub use fixtures::{
    count_rows, generated, import_dir, load_generated, rejected_rows, shared_data_dir,
};
pub use http::{TestResponse, first_error_code, post_graphql, seed_small, send};
pub use node::node_clients;
pub use rollup::{RollupCells, pending_deltas, quarterly_hires, raw_sql_aggregate, stored_rollup};
pub use schema::{admin, data_of, execute_json, schema_with_backups, with_upload};
pub use server::{Server, binary, graphql_at, succeeded};
