//! The report rollup: hires per year, department and job, one column per
//! quarter (so a year's report reads its rows without aggregating), and the
//! time hires last changed. Every write path keeps both current in the same
//! transaction as the hires themselves; this migration fills them from the
//! hires already stored.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum HiresRollup {
    Table,
    Year,
    DepartmentId,
    JobId,
    Q1,
    Q2,
    Q3,
    Q4,
}

#[derive(DeriveIden)]
enum ReportState {
    Table,
    Id,
    HiresChangedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(HiresRollup::Table)
                    .col(ColumnDef::new(HiresRollup::Year).integer().not_null())
                    .col(
                        ColumnDef::new(HiresRollup::DepartmentId)
                            .integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(HiresRollup::JobId).integer().not_null())
                    .col(ColumnDef::new(HiresRollup::Q1).big_integer().not_null())
                    .col(ColumnDef::new(HiresRollup::Q2).big_integer().not_null())
                    .col(ColumnDef::new(HiresRollup::Q3).big_integer().not_null())
                    .col(ColumnDef::new(HiresRollup::Q4).big_integer().not_null())
                    .primary_key(
                        Index::create()
                            .col(HiresRollup::Year)
                            .col(HiresRollup::DepartmentId)
                            .col(HiresRollup::JobId),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ReportState::Table)
                    .col(
                        ColumnDef::new(ReportState::Id)
                            .small_integer()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(ReportState::HiresChangedAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        // Hires already stored count as changed now, so reports carry a time.
        db.execute_unprepared(
            "INSERT INTO report_state (id, hires_changed_at)
             SELECT 1, CASE WHEN EXISTS (SELECT 1 FROM hired_employees)
                            THEN CURRENT_TIMESTAMP END",
        )
        .await?;
        db.execute_unprepared(&crate::rollup_backfill_sql(manager.get_database_backend()))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ReportState::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(HiresRollup::Table).to_owned())
            .await
    }
}
