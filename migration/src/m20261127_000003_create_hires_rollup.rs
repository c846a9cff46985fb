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
        db.execute_unprepared(&rollup_backfill_sql(manager.get_database_backend()))
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

/// Fills an empty `hires_rollup` from `hired_employees`: hires per year,
/// department and job, per quarter, in UTC.
///
/// A frozen copy: the runtime's own rebuild lives in the server's rollup
/// module, and a migration must never change because runtime code did.
fn rollup_backfill_sql(backend: sea_orm_migration::sea_orm::DatabaseBackend) -> String {
    let (year, quarter) = match backend {
        sea_orm_migration::sea_orm::DatabaseBackend::Postgres => (
            "EXTRACT(YEAR FROM hire_datetime AT TIME ZONE 'UTC')::integer",
            "EXTRACT(QUARTER FROM hire_datetime AT TIME ZONE 'UTC')::smallint",
        ),
        // SQLite stores every instant as UTC RFC 3339 text.
        _ => (
            "CAST(substr(hire_datetime, 1, 4) AS INTEGER)",
            "(CAST(substr(hire_datetime, 6, 2) AS INTEGER) + 2) / 3",
        ),
    };
    let per_quarter = |q: u8| format!("SUM(CASE WHEN {quarter} = {q} THEN 1 ELSE 0 END)");
    format!(
        "INSERT INTO hires_rollup (year, department_id, job_id, q1, q2, q3, q4)
         SELECT {year}, department_id, job_id, {}, {}, {}, {}
         FROM hired_employees GROUP BY 1, 2, 3",
        per_quarter(1),
        per_quarter(2),
        per_quarter(3),
        per_quarter(4),
    )
}
