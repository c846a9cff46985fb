//! Admin operations started from GraphQL: each is recorded in the operations
//! log and runs in a task of its own; when it ends, its outcome is counted in
//! the metrics and the tables it changed are announced to subscribers.

use std::time::Instant;

use async_graphql::Context;
use tokio::task::JoinHandle;

use super::audit;
use crate::{
    auth::caller,
    error::AppError,
    metrics::Outcome,
    service::operations::{self, Job, OperationRecord, Output},
    state::AppState,
};

/// Starts `job` for the caller; answers at once with the operation as recorded.
pub(super) async fn start(ctx: &Context<'_>, job: Job) -> Result<OperationRecord, AppError> {
    let (record, _finished) = start_followed(ctx, job).await?;
    Ok(record)
}

/// Starts `job` for the caller and waits for its outcome (the operation runs
/// to its end even when the caller goes away).
pub(super) async fn run_to_end(ctx: &Context<'_>, job: Job) -> Result<Output, AppError> {
    let (_record, finished) = start_followed(ctx, job).await?;
    finished
        .await
        .map_err(|err| AppError::Internal(anyhow::anyhow!("the operation's task failed: {err}")))?
}

async fn start_followed(
    ctx: &Context<'_>,
    job: Job,
) -> Result<(OperationRecord, JoinHandle<Result<Output, AppError>>), AppError> {
    let state = ctx.data_unchecked::<AppState>().clone();
    let kind = job.kind().metric_name();
    let started = operations::start(&state.db, job, &caller(ctx).identity).await?;
    audit::started_operation(started.record.id);
    let began = Instant::now();
    let finished = tokio::spawn(async move {
        let outcome = started.finished.await.map_err(|err| {
            AppError::Internal(anyhow::anyhow!("the operation's task failed: {err}"))
        });
        let outcome = outcome.and_then(|outcome| outcome);
        state
            .metrics
            .operation(kind, Outcome::of(&outcome), began.elapsed());
        if let Ok(output) = &outcome {
            announce(&state, output).await;
        }
        outcome
    });
    Ok((started.record, finished))
}

async fn announce(state: &AppState, output: &Output) {
    let tables = output.changed_tables();
    if !tables.is_empty() {
        state.changes.announce(&tables);
    }
    if let Output::Import(summary) = output {
        for (code, rows) in &summary.rejected_by_reason {
            state.metrics.rejected(code, *rows);
        }
    }
}
