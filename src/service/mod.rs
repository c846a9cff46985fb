//! The real work: plain async functions over a database connection, shared by
//! GraphQL, the CLI and tests.

pub mod audit;
pub mod background;
pub mod backup;
pub mod changes;
pub mod charts;
pub mod compactor;
pub mod data_version;
pub mod hires_list;
pub mod import;
pub mod ingest;
pub mod lookups;
pub mod operations;
pub mod periods;
pub mod rejected;
pub mod reports;
pub mod rollup;
pub mod trend_charts;
pub mod trends;
