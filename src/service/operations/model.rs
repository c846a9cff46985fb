//! What an operation is: its kind, its state, and what it produced.

use async_graphql::Enum;
use serde::{Deserialize, Serialize};

pub use entity::operation::Model as OperationRecord;

use crate::{
    error::AppError,
    rules::Table,
    service::{
        backup::{Manifest, RestoreReport, Verification},
        import::TableSummary,
    },
};

/// What an operation does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, Serialize, Deserialize)]
#[graphql(name = "OperationKind")]
pub enum Kind {
    /// A CSV import into one table.
    Import,
    /// A backup into a new set.
    Backup,
    /// A verification of a backup set.
    Verify,
    /// A restore from a backup set (or a dry run of one).
    Restore,
}

/// Where an operation is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, Serialize, Deserialize)]
#[graphql(name = "OperationState")]
pub enum State {
    /// Recorded, not started yet.
    Queued,
    /// Under way.
    Running,
    /// Finished; `result` holds what it produced.
    Succeeded,
    /// Stopped by an error; `error` says which.
    Failed,
    /// Stopped by `cancelOperation`; it left nothing behind.
    Cancelled,
}

impl Kind {
    /// The name stored in the table, e.g. `BACKUP`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Import => "IMPORT",
            Kind::Backup => "BACKUP",
            Kind::Verify => "VERIFY",
            Kind::Restore => "RESTORE",
        }
    }

    /// The kind stored as `name`.
    pub fn parse(name: &str) -> Option<Self> {
        [Kind::Import, Kind::Backup, Kind::Verify, Kind::Restore]
            .into_iter()
            .find(|kind| kind.as_str() == name)
    }

    /// The kind as the metrics name it: `import`, `backup`, `verify`, `restore`.
    pub fn metric_name(self) -> &'static str {
        match self {
            Kind::Import => "import",
            Kind::Backup => "backup",
            Kind::Verify => "verify",
            Kind::Restore => "restore",
        }
    }
}

impl State {
    /// The name stored in the table, e.g. `RUNNING`.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Queued => "QUEUED",
            State::Running => "RUNNING",
            State::Succeeded => "SUCCEEDED",
            State::Failed => "FAILED",
            State::Cancelled => "CANCELLED",
        }
    }

    /// The state stored as `name`.
    pub fn parse(name: &str) -> Option<Self> {
        [
            State::Queued,
            State::Running,
            State::Succeeded,
            State::Failed,
            State::Cancelled,
        ]
        .into_iter()
        .find(|state| state.as_str() == name)
    }

    /// True once the operation has ended, one way or another.
    pub fn is_final(self) -> bool {
        !matches!(self, State::Queued | State::Running)
    }
}

/// What a successful operation produced, as stored in its `result`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "value")]
pub enum Output {
    /// A backup's set.
    Backup(Manifest),
    /// A verification's findings.
    Verification(Verification),
    /// A restore's report.
    Restore(RestoreReport),
    /// An import's summary.
    Import(TableSummary),
}

impl Output {
    /// The backup's set; an error (a bug) for another kind of output.
    pub fn into_backup(self) -> Result<Manifest, AppError> {
        match self {
            Output::Backup(manifest) => Ok(manifest),
            other => Err(other.unexpected()),
        }
    }

    /// The verification's findings; an error (a bug) for another kind of output.
    pub fn into_verification(self) -> Result<Verification, AppError> {
        match self {
            Output::Verification(verification) => Ok(verification),
            other => Err(other.unexpected()),
        }
    }

    /// The restore's report; an error (a bug) for another kind of output.
    pub fn into_restore(self) -> Result<RestoreReport, AppError> {
        match self {
            Output::Restore(report) => Ok(report),
            other => Err(other.unexpected()),
        }
    }

    /// The import's summary; an error (a bug) for another kind of output.
    pub fn into_import(self) -> Result<TableSummary, AppError> {
        match self {
            Output::Import(summary) => Ok(summary),
            other => Err(other.unexpected()),
        }
    }

    fn unexpected(self) -> AppError {
        AppError::Internal(anyhow::anyhow!("an operation produced {self:?}"))
    }

    /// The tables this outcome changed (an import that stored rows, a restore
    /// that was not a dry run).
    pub fn changed_tables(&self) -> Vec<Table> {
        match self {
            Output::Import(summary) if summary.inserted > 0 => vec![summary.table],
            Output::Restore(report) if !report.dry_run => {
                report.tables.iter().map(|t| t.table).collect()
            }
            _ => Vec::new(),
        }
    }
}

/// The record's state (an unknown stored name reads as `FAILED`).
pub fn state_of(record: &OperationRecord) -> State {
    State::parse(&record.state).unwrap_or(State::Failed)
}

/// The record's result, if it succeeded.
pub fn output_of(record: &OperationRecord) -> Option<Output> {
    serde_json::from_str(record.result.as_deref()?).ok()
}
