//! Restoring on SQLite: one write transaction, foreign keys checked at the commit.

use std::sync::Arc;

use roaring::RoaringBitmap;
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, Statement, Value,
};

use super::plan::{RestoredTable, Restoring, check_reference, reference_checks, spawn_decoder};
use crate::{
    db::begin_write,
    error::AppError,
    rules::{HireInstant, Table},
    service::{
        backup::{avro::Row, progress::Progress},
        rollup,
    },
};

/// Rows per multi-row INSERT on SQLite (5 columns stay under its 32,766 parameters).
const SQLITE_BATCH_ROWS: usize = 1_000;

async fn ids_of(txn: &DatabaseTransaction, sql: &'static str) -> Result<RoaringBitmap, AppError> {
    let rows = txn
        .query_all_raw(Statement::from_string(DbBackend::Sqlite, sql))
        .await?;
    let mut ids = RoaringBitmap::new();
    for row in rows {
        let id: i32 = row.try_get_by_index(0)?;
        ids.insert(id as u32);
    }
    Ok(ids)
}

/// Replaces the tables in `items` in one SQLite transaction.
pub(super) async fn replace(
    db: &DatabaseConnection,
    items: Vec<Restoring>,
    dry_run: bool,
    progress: &Arc<Progress>,
) -> Result<Vec<RestoredTable>, AppError> {
    let txn = begin_write(db).await?;
    // Checked at the commit instead of per statement: the tables are emptied first.
    txn.execute_unprepared("PRAGMA defer_foreign_keys = ON")
        .await?;
    progress.set_phase("checking references");
    for check in reference_checks(&items) {
        let current = ids_of(&txn, check.sql).await?;
        check_reference(&items, &check, current)?;
    }

    let mut report = Vec::new();
    for item in &items {
        let row = txn
            .query_one_raw(Statement::from_string(
                DbBackend::Sqlite,
                format!("SELECT count(*) FROM {}", item.table),
            ))
            .await?;
        let before: i64 = row.map(|r| r.try_get_by_index(0)).transpose()?.unwrap_or(0);
        report.push(RestoredTable {
            table: item.table,
            rows_before: before as u64,
            rows_restored: item.scan.rows,
        });
    }
    for table in rollup::ROLLUP_TABLES {
        txn.execute_unprepared(&format!("DELETE FROM {table}"))
            .await?;
    }
    for item in items.iter().rev() {
        txn.execute_unprepared(&format!("DELETE FROM {}", item.table))
            .await?;
    }

    for item in items {
        progress.start(item.table, "loading");
        let table = item.table;
        let (mut batches, decoder) =
            spawn_decoder(table, item.spool, |row, batch: &mut Vec<Row<'static>>| {
                batch.push(row);
                batch.len() >= SQLITE_BATCH_ROWS
            });
        while let Some(batch) = batches.recv().await {
            progress.check()?;
            insert_sqlite(&txn, table, batch, progress).await?;
        }
        decoder.await.map_err(|err| {
            AppError::Internal(anyhow::anyhow!("the restore decoder failed: {err}"))
        })??;
    }

    progress.set_phase("refreshing reports");
    for statement in rollup::rebuild_sql(DbBackend::Sqlite) {
        txn.execute_unprepared(&statement).await?;
    }
    rollup::mark_hires_changed(&txn).await?;
    if dry_run {
        progress.set_phase("rolling back (dry run)");
        txn.rollback().await?;
    } else {
        progress.set_phase("committing");
        txn.commit().await?;
    }
    Ok(report)
}

async fn insert_sqlite(
    txn: &DatabaseTransaction,
    table: Table,
    batch: Vec<Row<'static>>,
    progress: &Arc<Progress>,
) -> Result<(), AppError> {
    let rows = batch.len() as u64;
    let (columns, width) = (table.columns(), table.width());
    let placeholders = format!("({})", vec!["?"; width].join(", "));
    let mut values: Vec<Value> = Vec::with_capacity(batch.len() * width);
    for row in batch {
        match row {
            Row::Dimension { id, name } => {
                values.push(id.into());
                values.push(name.into_owned().into());
            }
            Row::Hire {
                id,
                name,
                micros,
                department_id,
                job_id,
            } => {
                values.push(id.into());
                values.push(name.into_owned().into());
                let at = HireInstant::from_micros(micros)
                    .map(HireInstant::get)
                    .map_err(|problem| {
                        AppError::Internal(anyhow::anyhow!(
                            "a checked row is invalid: {}",
                            problem.message()
                        ))
                    })?;
                values.push(at.into());
                values.push(department_id.into());
                values.push(job_id.into());
            }
        }
    }
    let sql = format!(
        "INSERT INTO {table} ({columns}) VALUES {}",
        vec![placeholders.as_str(); rows as usize].join(", ")
    );
    txn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Sqlite,
        sql,
        values,
    ))
    .await?;
    progress.add_rows(rows);
    Ok(())
}
