//! `hires_rollup`: hires per year, department and job, one column per quarter,
//! as of the last compaction; writes since then wait in `hires_rollup_delta`
//! (the server adds both up for reports).

use sea_orm::entity::prelude::*;

/// The hires of one department and job in one year (UTC), per quarter.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "hires_rollup")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub year: i32,
    #[sea_orm(primary_key, auto_increment = false)]
    pub department_id: i32,
    #[sea_orm(primary_key, auto_increment = false)]
    pub job_id: i32,
    pub q1: i64,
    pub q2: i64,
    pub q3: i64,
    pub q4: i64,
}

/// The rollup stands alone; reports join it with departments and jobs by id.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
