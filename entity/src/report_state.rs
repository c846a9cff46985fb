//! `report_state`: one row saying when the hires folded into `hires_rollup`
//! last changed; writes since then carry their own time in `hires_rollup_delta`.

use sea_orm::entity::prelude::*;

/// The single state row (id 1).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "report_state")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i16,
    /// The commit time of the last write that changed hires; null before any.
    #[sea_orm(column_type = "TimestampWithTimeZone")]
    pub hires_changed_at: Option<DateTimeUtc>,
}

/// The state row stands alone.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
