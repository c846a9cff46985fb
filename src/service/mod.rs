//! The real work: plain async functions over a database connection, shared by
//! GraphQL, the CLI and tests.

pub mod directory;
pub mod ingest;
pub mod rejected;
