//! `audit_log`: one row per write or admin operation, naming who asked for
//! it and how it ended. Append-only: triggers refuse updates and deletes.

use sea_orm::entity::prelude::*;

/// One recorded call of a mutation or a CLI command.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_log")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// When the call ended and was recorded.
    #[sea_orm(column_type = "TimestampWithTimeZone")]
    pub at: DateTimeUtc,
    /// Who made it: `token:<name>`, `user:<sub>`, `anonymous` or `cli:<user>`.
    pub identity: String,
    /// A name for people to read, when the identity provider gave one.
    pub display: Option<String>,
    /// The caller's role, e.g. `admin`, or `none`.
    pub role: String,
    /// The mutation field, e.g. `insertHiredEmployees`, or the CLI command.
    pub operation: String,
    /// Its arguments as JSON, without secrets or row contents.
    pub arguments: String,
    /// `OK`, or the error's code, e.g. `FORBIDDEN`.
    pub outcome: String,
    /// The HTTP request's `x-request-id`, when it came over HTTP.
    pub request_id: Option<String>,
    /// The `operations` row the call started, if any.
    pub operation_id: Option<i64>,
}

/// The log stands alone.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
