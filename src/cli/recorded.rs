//! CLI runs of imports, backups, verifications and restores are recorded in
//! the operations log like GraphQL's, as started by `cli:<user>`, and in the
//! audit log as made by that identity with the admin role; the tables they
//! change are announced to running servers (on PostgreSQL).

use sea_orm::DatabaseConnection;

use crate::{
    auth::Role,
    error::AppError,
    service::{
        audit::{self, NewEntry},
        changes,
        operations::{self, Job, OperationRecord, Output},
    },
};

/// Who runs the CLI, as the operations and audit logs name it.
fn identity() -> String {
    let user = ["USER", "LOGNAME", "USERNAME"]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|user| !user.is_empty()))
        .unwrap_or_else(|| "unknown".to_owned());
    format!("cli:{user}")
}

/// Runs `job`, recorded in the operations log of `db`, to its end.
pub async fn run(db: &DatabaseConnection, job: Job) -> Result<Output, AppError> {
    let command = job.kind().metric_name();
    let identity = identity();
    let started = match operations::start(db, job, &identity).await {
        Ok(started) => started,
        Err(err) => {
            record(db, entry(command, identity, None, err.code())).await;
            return Err(err);
        }
    };
    let outcome = started
        .finished
        .await
        .map_err(|err| AppError::Internal(anyhow::anyhow!("the operation's task failed: {err}")))
        .and_then(|outcome| outcome);
    let code = outcome.as_ref().map_or_else(AppError::code, |_| audit::OK);
    record(db, entry(command, identity, Some(&started.record), code)).await;
    if let Ok(output) = &outcome
        && let Err(err) = changes::notify(db, &output.changed_tables()).await
    {
        err.log();
        tracing::warn!("announcing the change to running servers failed");
    }
    outcome
}

/// The audit entry of a run of `command`, with the operation it started (if
/// it got that far): its parameters are the arguments.
fn entry(
    command: &str,
    identity: String,
    operation: Option<&OperationRecord>,
    outcome: &str,
) -> NewEntry {
    let arguments = operation
        .and_then(|operation| serde_json::from_str(&operation.parameters).ok())
        .unwrap_or_else(|| serde_json::json!({}));
    NewEntry {
        identity,
        display: None,
        role: Role::Admin.name().to_owned(),
        operation: command.to_owned(),
        arguments,
        outcome: outcome.to_owned(),
        request_id: None,
        operation_id: operation.map(|operation| operation.id),
    }
}

/// Appends `entry` to the audit log; a failure is logged, the run's outcome stands.
async fn record(db: &DatabaseConnection, entry: NewEntry) {
    if let Err(err) = audit::record(db, entry).await {
        err.log();
        tracing::error!("recording the run in the audit log failed");
    }
}
