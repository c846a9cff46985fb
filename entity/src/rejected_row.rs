//! `rejected_rows`: the log of every input row that was refused, and why.

use sea_orm::entity::prelude::*;

/// One refused row with the reason it was refused.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "rejected_rows")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Where the row came from, such as `csv:hired_employees.csv` or `graphql:insertHiredEmployees`.
    pub source: String,
    /// The line number in a file, or the index in a batch.
    pub position: i64,
    /// The record as it was received.
    pub raw_record: String,
    /// The offending field, when one field is to blame.
    pub field: Option<String>,
    /// A stable reason code such as `MISSING_FIELD` or `DUPLICATE_ID`.
    pub code: String,
    pub message: String,
    #[sea_orm(column_type = "TimestampWithTimeZone")]
    pub rejected_at: DateTimeUtc,
}

/// The log stands alone.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
