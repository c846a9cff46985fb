//! Running an operation: record it, run its work in a task of its own, keep
//! its row current, and record how it ended.

use sea_orm::DatabaseConnection;
use tokio::task::JoinHandle;

use super::{
    job::{Job, Tracker, Work},
    live::{self, Live},
    model::{OperationRecord, Output, State},
    store::{self, Beat, Ending, Step},
};
use crate::error::{AppError, ErrorClass};

/// Tries to record an operation's end (each try may wait out SQLite's busy timeout).
const FINISH_ATTEMPTS: u32 = 20;

/// How often a running operation refreshes its row.
pub const HEARTBEAT: std::time::Duration = std::time::Duration::from_millis(500);

/// An operation that was recorded and started.
#[derive(Debug)]
pub struct Started {
    /// Its row as recorded, `QUEUED`.
    pub record: OperationRecord,
    /// Its outcome, once it ends; it runs on whether or not this is awaited.
    pub finished: JoinHandle<Result<Output, AppError>>,
}

/// Records `job` as started by `started_by`, and runs it in a task of its
/// own, so that it ends the same whether its caller waits or goes away.
pub async fn start(
    db: &DatabaseConnection,
    job: Job,
    started_by: &str,
) -> Result<Started, AppError> {
    let record = store::insert_queued(db, job.kind, started_by, &job.parameters, job.unit).await?;
    let finished = tokio::spawn(run(db.clone(), record.id, job));
    Ok(Started { record, finished })
}

async fn run(db: DatabaseConnection, id: i64, job: Job) -> Result<Output, AppError> {
    let Job { tracker, work, .. } = job;
    let registration = live::register(&db, id, tracker.step());
    let outcome = match store::mark_running(&db, id).await {
        Ok(true) => drive(&db, id, &tracker, &registration.live, work).await,
        Ok(false) => Err(AppError::cancelled()),
        Err(err) => Err(err),
    };
    registration.live.set_step(tracker.step());
    // Registered until the end is recorded, so no sweep takes it for dead meanwhile.
    record_end(&db, id, registration.live.step(), &outcome).await;
    drop(registration);
    outcome
}

/// Runs the work; every [`HEARTBEAT`] it publishes the progress (here at
/// once, in the row when the database lets it) and stops the work once a
/// cancel is asked for, here or in the row.
async fn drive(
    db: &DatabaseConnection,
    id: i64,
    tracker: &Tracker,
    live: &Live,
    mut work: Work,
) -> Result<Output, AppError> {
    let mut ticks = tokio::time::interval(HEARTBEAT);
    let mut heartbeat: Option<JoinHandle<Result<Beat, AppError>>> = None;
    let mut stopping = false;
    let outcome = loop {
        tokio::select! {
            outcome = &mut work => break outcome,
            _ = ticks.tick() => {
                let step = tracker.step();
                live.set_step(step.clone());
                heartbeat = beat(db, id, step, heartbeat.take(), live).await;
                if live.is_cancelled() && !stopping {
                    stopping = true;
                    if !tracker.ask_to_stop() {
                        break Err(AppError::cancelled());
                    }
                }
            }
        }
    };
    if let Some(heartbeat) = heartbeat {
        heartbeat.abort();
    }
    match outcome {
        Err(_) if stopping => Err(AppError::cancelled()),
        outcome => outcome,
    }
}

/// Writes the heartbeat in a task of its own, unless the previous one is
/// still waiting for the database (a SQLite write lock). A cancel flag it
/// read stops the work; so does a row that no longer says RUNNING (a sweep
/// took the operation for dead: it must not go on and commit).
async fn beat(
    db: &DatabaseConnection,
    id: i64,
    step: Step,
    previous: Option<JoinHandle<Result<Beat, AppError>>>,
    live: &Live,
) -> Option<JoinHandle<Result<Beat, AppError>>> {
    if let Some(previous) = previous {
        if !previous.is_finished() {
            return Some(previous);
        }
        match previous.await {
            Ok(Ok(Beat::Running)) => {}
            Ok(Ok(Beat::CancelRequested)) => live.cancel(),
            Ok(Ok(Beat::Ended)) => {
                tracing::warn!(
                    operation = id,
                    "the operation was marked ended by a sweep; stopping it"
                );
                live.cancel();
            }
            Ok(Err(err)) => {
                err.log();
                tracing::warn!(operation = id, "recording an operation's progress failed");
            }
            Err(err) => tracing::warn!(operation = id, error = %err, "a heartbeat task failed"),
        }
    }
    let db = db.clone();
    Some(tokio::spawn(async move {
        store::heartbeat(&db, id, &step).await
    }))
}

/// Records how the operation ended; a failure to record is logged (the
/// sweep marks the operation interrupted later).
async fn record_end(
    db: &DatabaseConnection,
    id: i64,
    step: Step,
    outcome: &Result<Output, AppError>,
) {
    let ending = match outcome {
        Ok(output) => Ending {
            state: State::Succeeded,
            step,
            result: serde_json::to_string(output).ok(),
            error: None,
        },
        Err(err) => {
            err.log();
            let cancelled = err.code() == "CANCELLED";
            Ending {
                state: if cancelled {
                    State::Cancelled
                } else {
                    State::Failed
                },
                step,
                result: None,
                error: Some((err.code(), err.public_message())),
            }
        }
    };
    // On SQLite another import or restore may hold the write lock for a while: retry.
    for attempt in 1..=FINISH_ATTEMPTS {
        match store::finish(db, id, ending.clone()).await {
            Ok(()) => return,
            Err(err) if attempt < FINISH_ATTEMPTS && err.class() == ErrorClass::Unavailable => {
                tracing::warn!(
                    operation = id,
                    attempt,
                    "recording the end of an operation failed; retrying"
                );
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
            Err(err) => {
                err.log();
                tracing::error!(operation = id, "recording the end of an operation failed");
                return;
            }
        }
    }
}
