//! `departments`: the organisational units that hire.

use sea_orm::entity::prelude::*;

/// One department; its id comes from the source data.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "departments")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i32,
    #[sea_orm(unique)]
    pub department: String,
}

/// Departments are referenced by hires.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::hired_employee::Entity")]
    HiredEmployees,
}

impl Related<super::hired_employee::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::HiredEmployees.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
