//! Rollup maintenance without hot rows.
//!
//! Writers no longer add their counts to the shared `hires_rollup` cells, nor
//! stamp the single `report_state` row: each write appends its per-cell counts
//! to `hires_rollup_delta` (insert only, so concurrent writers never wait on
//! each other), stamped with the write's time. Reports add up the compacted
//! cells and the pending deltas, so they equal the raw aggregate after every
//! commit. One compactor at a time folds the deltas into `hires_rollup` and
//! their latest stamp into `report_state`.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum HiresRollupDelta {
    Table,
    Year,
    DepartmentId,
    JobId,
    Q1,
    Q2,
    Q3,
    Q4,
    ChangedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let count = |column: HiresRollupDelta| {
            ColumnDef::new(column)
                .big_integer()
                .not_null()
                .default(0)
                .to_owned()
        };
        // No key and no index: appends stay cheap, and the compactor takes
        // every visible row at once.
        manager
            .create_table(
                Table::create()
                    .table(HiresRollupDelta::Table)
                    .col(ColumnDef::new(HiresRollupDelta::Year).integer().not_null())
                    .col(
                        ColumnDef::new(HiresRollupDelta::DepartmentId)
                            .integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(HiresRollupDelta::JobId).integer().not_null())
                    .col(count(HiresRollupDelta::Q1))
                    .col(count(HiresRollupDelta::Q2))
                    .col(count(HiresRollupDelta::Q3))
                    .col(count(HiresRollupDelta::Q4))
                    .col(
                        ColumnDef::new(HiresRollupDelta::ChangedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        if manager.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
            // Rows come and go all the time: vacuum after a fixed number of
            // dead rows, not a share of a table that is usually near empty.
            db.execute_unprepared(
                "ALTER TABLE hires_rollup_delta SET (
                    autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 5000,
                    autovacuum_vacuum_insert_scale_factor = 0,
                    autovacuum_vacuum_insert_threshold = 5000)",
            )
            .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        // Fold what is pending before the deltas go, so the rollup stays whole.
        db.execute_unprepared(
            "INSERT INTO hires_rollup (year, department_id, job_id, q1, q2, q3, q4)
             SELECT year, department_id, job_id, SUM(q1), SUM(q2), SUM(q3), SUM(q4)
             FROM hires_rollup_delta WHERE true GROUP BY year, department_id, job_id
             ON CONFLICT (year, department_id, job_id) DO UPDATE SET
             q1 = hires_rollup.q1 + excluded.q1, q2 = hires_rollup.q2 + excluded.q2,
             q3 = hires_rollup.q3 + excluded.q3, q4 = hires_rollup.q4 + excluded.q4",
        )
        .await?;
        manager
            .drop_table(Table::drop().table(HiresRollupDelta::Table).to_owned())
            .await
    }
}
