//! `hires_rollup`: hires per year, quarter, department and job, kept current by every write.

use sea_orm::entity::prelude::*;

/// The number of hires of one department and job in one quarter of one year (UTC).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "hires_rollup")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub year: i32,
    #[sea_orm(primary_key, auto_increment = false)]
    pub quarter: i16,
    #[sea_orm(primary_key, auto_increment = false)]
    pub department_id: i32,
    #[sea_orm(primary_key, auto_increment = false)]
    pub job_id: i32,
    pub hires: i64,
}

/// The rollup stands alone; reports join it with departments and jobs by id.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
