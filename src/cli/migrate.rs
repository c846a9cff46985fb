//! `hiring-analytics migrate`: apply pending migrations.

use super::Failure;
use crate::db::{self, PoolSettings};

/// Applies every pending migration and reports the outcome.
pub async fn run(database_url: &str) -> Result<(), Failure> {
    let db = db::connect(database_url, PoolSettings::default()).await?;
    db::migrate(&db).await?;
    tracing::info!(database = %db::redact_url(database_url), "database schema is up to date");
    println!("database schema is up to date");
    Ok(())
}
