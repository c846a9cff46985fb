//! The three data tables: departments, jobs and hired_employees.

use sea_orm_migration::prelude::*;

use crate::byte_ordered_text;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Departments {
    Table,
    Id,
    Department,
}

#[derive(DeriveIden)]
enum Jobs {
    Table,
    Id,
    Job,
}

#[derive(DeriveIden)]
enum HiredEmployees {
    Table,
    Id,
    Name,
    HireDatetime,
    DepartmentId,
    JobId,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Ids come with the data, so no primary key is auto-generated.
        manager
            .create_table(
                Table::create()
                    .table(Departments::Table)
                    .col(
                        ColumnDef::new(Departments::Id)
                            .integer()
                            .not_null()
                            .primary_key(),
                    )
                    .col(byte_ordered_text(manager, Departments::Department).unique_key())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Jobs::Table)
                    .col(ColumnDef::new(Jobs::Id).integer().not_null().primary_key())
                    .col(byte_ordered_text(manager, Jobs::Job).unique_key())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(HiredEmployees::Table)
                    .col(
                        ColumnDef::new(HiredEmployees::Id)
                            .integer()
                            .not_null()
                            .primary_key(),
                    )
                    .col(byte_ordered_text(manager, HiredEmployees::Name))
                    .col(
                        ColumnDef::new(HiredEmployees::HireDatetime)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(HiredEmployees::DepartmentId)
                            .integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(HiredEmployees::JobId).integer().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_hired_employees_department")
                            .from(HiredEmployees::Table, HiredEmployees::DepartmentId)
                            .to(Departments::Table, Departments::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_hired_employees_job")
                            .from(HiredEmployees::Table, HiredEmployees::JobId)
                            .to(Jobs::Table, Jobs::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            (
                "idx_hired_employees_hire_datetime",
                HiredEmployees::HireDatetime,
            ),
            (
                "idx_hired_employees_department_id",
                HiredEmployees::DepartmentId,
            ),
            ("idx_hired_employees_job_id", HiredEmployees::JobId),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(HiredEmployees::Table)
                        .col(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            HiredEmployees::Table.into_iden(),
            Jobs::Table.into_iden(),
            Departments::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
