//! `hires_rollup`: hires per year, department and job, one column per month,
//! as of the last compaction; writes since then wait in `hires_rollup_delta`
//! (the server adds both up for reports).

use sea_orm::entity::prelude::*;

/// The hires of one department and job in one year (UTC), per month.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "hires_rollup")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub year: i32,
    #[sea_orm(primary_key, auto_increment = false)]
    pub department_id: i32,
    #[sea_orm(primary_key, auto_increment = false)]
    pub job_id: i32,
    pub m1: i64,
    pub m2: i64,
    pub m3: i64,
    pub m4: i64,
    pub m5: i64,
    pub m6: i64,
    pub m7: i64,
    pub m8: i64,
    pub m9: i64,
    pub m10: i64,
    pub m11: i64,
    pub m12: i64,
}

/// The rollup stands alone; reports join it with departments and jobs by id.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
