//! `operations`: every import, backup, verification and restore, with its
//! state, progress and outcome.

use sea_orm::entity::prelude::*;

/// One admin operation, from queued to finished.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "operations")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// `IMPORT`, `BACKUP`, `VERIFY` or `RESTORE`.
    pub kind: String,
    /// `QUEUED`, `RUNNING`, `SUCCEEDED`, `FAILED` or `CANCELLED`.
    pub state: String,
    /// Units done so far.
    pub progress_done: i64,
    /// Units in all, when known.
    pub progress_total: Option<i64>,
    /// What the progress counts: `rows` or `bytes`.
    pub progress_unit: String,
    /// What the operation is doing now, e.g. `writing`.
    pub phase: String,
    #[sea_orm(column_type = "TimestampWithTimeZone")]
    pub queued_at: DateTimeUtc,
    #[sea_orm(column_type = "TimestampWithTimeZone", nullable)]
    pub started_at: Option<DateTimeUtc>,
    #[sea_orm(column_type = "TimestampWithTimeZone", nullable)]
    pub finished_at: Option<DateTimeUtc>,
    /// Refreshed while it runs; a stale one means its process died.
    #[sea_orm(column_type = "TimestampWithTimeZone")]
    pub heartbeat_at: DateTimeUtc,
    /// Who started it: a token's name, or `cli:<user>`.
    pub started_by: String,
    /// Its arguments, as JSON.
    pub parameters: String,
    /// What it produced, as JSON, once it succeeded.
    pub result: Option<String>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    /// Set by `cancelOperation`; the runner stops at its next step.
    pub cancel_requested: bool,
}

/// The log stands alone.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
