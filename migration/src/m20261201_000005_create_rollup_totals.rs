//! Per-department and per-job totals of the compacted rollup.
//!
//! A department's or job's hires in a year summed the cells of every job or
//! department it crossed (thousands of rows per year). These two tables hold
//! those sums per year and department, and per year and job, one column per
//! quarter. Writers do not touch them: the compactor adds each fold's deltas
//! to them in the same transaction as to `hires_rollup`, so they always equal
//! the compacted cells summed, and readers add the pending deltas as before.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The two tables: name and the id column they are keyed by with the year.
const TOTALS: [(&str, &str); 2] = [
    ("hires_rollup_department", "department_id"),
    ("hires_rollup_job", "job_id"),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (table, key) in TOTALS {
            let count = |quarter: &str| {
                ColumnDef::new(Alias::new(quarter))
                    .big_integer()
                    .not_null()
                    .to_owned()
            };
            manager
                .create_table(
                    Table::create()
                        .table(Alias::new(table))
                        .col(ColumnDef::new(Alias::new("year")).integer().not_null())
                        .col(ColumnDef::new(Alias::new(key)).integer().not_null())
                        .col(count("q1"))
                        .col(count("q2"))
                        .col(count("q3"))
                        .col(count("q4"))
                        .primary_key(Index::create().col(Alias::new("year")).col(Alias::new(key)))
                        .to_owned(),
                )
                .await?;
            // Frozen copy: the totals of the cells compacted so far.
            manager
                .get_connection()
                .execute_unprepared(&format!(
                    "INSERT INTO {table} (year, {key}, q1, q2, q3, q4)
                     SELECT year, {key}, SUM(q1), SUM(q2), SUM(q3), SUM(q4)
                     FROM hires_rollup GROUP BY year, {key}"
                ))
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (table, _) in TOTALS {
            manager
                .drop_table(Table::drop().table(Alias::new(table)).to_owned())
                .await?;
        }
        Ok(())
    }
}
