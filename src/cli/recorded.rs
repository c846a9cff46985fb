//! CLI runs of imports, backups, verifications and restores are recorded in
//! the operations log like GraphQL's, as started by `cli:<user>`, and the
//! tables they change are announced to running servers (on PostgreSQL).

use sea_orm::DatabaseConnection;

use crate::{
    error::AppError,
    service::{
        changes,
        operations::{self, Job, Output},
    },
};

/// Who runs the CLI, as the operations log names it.
fn identity() -> String {
    let user = ["USER", "LOGNAME", "USERNAME"]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|user| !user.is_empty()))
        .unwrap_or_else(|| "unknown".to_owned());
    format!("cli:{user}")
}

/// Runs `job`, recorded in the operations log of `db`, to its end.
pub async fn run(db: &DatabaseConnection, job: Job) -> Result<Output, AppError> {
    let started = operations::start(db, job, &identity()).await?;
    let outcome = started
        .finished
        .await
        .map_err(|err| AppError::Internal(anyhow::anyhow!("the operation's task failed: {err}")))?;
    if let Ok(output) = &outcome
        && let Err(err) = changes::notify(db, &output.changed_tables()).await
    {
        err.log();
        tracing::warn!("announcing the change to running servers failed");
    }
    outcome
}
