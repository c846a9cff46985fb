//! Restoring on PostgreSQL, as pg_restore does: lock, check references, drop
//! keys and indexes, COPY the rows in binary, rebuild keys and indexes, and
//! refresh the report rollup, all in one transaction.

use std::{collections::BTreeMap, sync::Arc};

use sea_orm::{
    DatabaseConnection, DbBackend,
    sqlx::{self, Postgres, Transaction},
};

use super::plan::{
    RestoredTable, Restoring, check_reference, reference_checks, restored, spawn_decoder,
};
use crate::{
    db::postgres::{
        COPY_CHUNK_BYTES, Rebuild, drop_indexes_and_constraints, exec, sqlx_error, use_bulk_memory,
    },
    error::AppError,
    rules::Table,
    service::{
        backup::{
            progress::Progress,
            snapshot::{copy_header, copy_row, copy_trailer},
        },
        rollup,
    },
};

/// A foreign key dropped for the load: (owning table, name, definition).
type ForeignKey = (String, String, String);

/// Replaces the tables in `items` in one PostgreSQL transaction.
pub(super) async fn replace(
    db: &DatabaseConnection,
    items: Vec<Restoring>,
    dry_run: bool,
    progress: &Arc<Progress>,
) -> Result<Vec<RestoredTable>, AppError> {
    let pool = db.get_postgres_connection_pool();
    let mut tx = pool.begin().await.map_err(sqlx_error)?;
    use_bulk_memory(&mut tx).await?;
    progress.set_phase("locking");
    lock_tables(&mut tx, &items).await?;
    progress.set_phase("checking references");
    check_references(&mut tx, &items).await?;
    let report = count_before(&mut tx, &items).await?;
    progress.set_phase("dropping keys");
    let (foreign, rebuilds) = drop_keys(&mut tx, &items).await?;
    for item in items {
        progress.start(item.table, "loading");
        copy_table(&mut tx, item, progress).await?;
    }
    progress.set_phase("building keys");
    rebuild_keys(&mut tx, &rebuilds).await?;
    progress.set_phase("refreshing reports");
    for statement in rollup::rebuild_sql(DbBackend::Postgres) {
        exec(&mut tx, &statement).await?;
    }
    for (owner, name, definition) in &foreign {
        let add = format!("ALTER TABLE {owner} ADD CONSTRAINT \"{name}\" {definition}");
        exec(&mut tx, &add).await?;
    }
    rollup::postgres_mark_hires_changed(&mut tx).await?;
    finish(tx, dry_run, progress).await?;
    Ok(report)
}

/// Locks in the same order as every writer: departments, jobs, hires, then
/// the compactor's lock and the rollup as a fold takes them.
///
/// Each lock is as strong as anything later in the transaction needs
/// (TRUNCATE, dropping a foreign key), so none is upgraded: restored tables,
/// and the hires whenever their foreign keys are dropped, are locked
/// exclusively; the rest against writes only, so they can still be read.
async fn lock_tables(
    tx: &mut Transaction<'_, Postgres>,
    items: &[Restoring],
) -> Result<(), AppError> {
    let dimension_restored = items.iter().any(|item| item.table != Table::HiredEmployees);
    for table in Table::ALL {
        let exclusive = restored(items, table).is_some()
            || (table == Table::HiredEmployees && dimension_restored);
        let mode = if exclusive {
            "ACCESS EXCLUSIVE"
        } else {
            "SHARE ROW EXCLUSIVE"
        };
        exec(tx, &format!("LOCK TABLE {table} IN {mode} MODE")).await?;
    }
    rollup::postgres_hold_compactor(tx).await?;
    let rollup = rollup::ROLLUP_TABLES.join(", ");
    exec(tx, &format!("LOCK TABLE {rollup} IN ACCESS EXCLUSIVE MODE")).await
}

/// Refuses the restore if it would leave hires pointing at missing rows.
async fn check_references(
    tx: &mut Transaction<'_, Postgres>,
    items: &[Restoring],
) -> Result<(), AppError> {
    for check in reference_checks(items) {
        let ids: Vec<i32> = sqlx::query_scalar(check.sql)
            .fetch_all(&mut **tx)
            .await
            .map_err(sqlx_error)?;
        check_reference(items, &check, ids.into_iter().map(|id| id as u32).collect())?;
    }
    Ok(())
}

/// The rows each restored table holds now and will hold.
async fn count_before(
    tx: &mut Transaction<'_, Postgres>,
    items: &[Restoring],
) -> Result<Vec<RestoredTable>, AppError> {
    let mut report = Vec::new();
    for item in items {
        let sql = format!("SELECT count(*) FROM {}", item.table);
        let before: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .fetch_one(&mut **tx)
            .await
            .map_err(sqlx_error)?;
        report.push(RestoredTable {
            table: item.table,
            rows_before: before as u64,
            rows_restored: item.scan.rows,
        });
    }
    Ok(report)
}

/// Drops the foreign keys touching the restored tables, then their own keys
/// and indexes, and empties them and the rollup.
async fn drop_keys(
    tx: &mut Transaction<'_, Postgres>,
    items: &[Restoring],
) -> Result<(Vec<ForeignKey>, Vec<Rebuild>), AppError> {
    let names: Vec<&str> = items.iter().map(|item| item.table.name()).collect();
    let foreign: Vec<ForeignKey> = sqlx::query_as(
        "SELECT conrelid::regclass::text, conname::text, pg_get_constraintdef(oid)
         FROM pg_constraint
         WHERE contype = 'f' AND (conrelid = ANY($1::text[]::regclass[])
                                  OR confrelid = ANY($1::text[]::regclass[]))
         ORDER BY 1, 2",
    )
    .bind(&names)
    .fetch_all(&mut **tx)
    .await
    .map_err(sqlx_error)?;
    for (owner, name, _) in &foreign {
        exec(
            tx,
            &format!("ALTER TABLE {owner} DROP CONSTRAINT \"{name}\""),
        )
        .await?;
    }
    let mut rebuilds = BTreeMap::new();
    for item in items {
        let rebuild = drop_indexes_and_constraints(tx, item.table.name()).await?;
        rebuilds.insert(item.table, rebuild);
    }
    let rollup = rollup::ROLLUP_TABLES.join(", ");
    exec(tx, &format!("TRUNCATE {rollup}, {}", names.join(", "))).await?;
    Ok((foreign, rebuilds.into_values().collect()))
}

/// Streams one table's checked rows in with binary COPY.
async fn copy_table(
    tx: &mut Transaction<'_, Postgres>,
    item: Restoring,
    progress: &Arc<Progress>,
) -> Result<(), AppError> {
    let table = item.table;
    let (mut chunks, decoder) = spawn_decoder(table, item.spool, |row, chunk: &mut Vec<u8>| {
        copy_row(&row, chunk);
        chunk.len() >= COPY_CHUNK_BYTES
    });
    let columns = table.columns();
    let statement = format!("COPY {table} ({columns}) FROM STDIN (FORMAT binary)");
    let mut copy = tx.copy_in_raw(&statement).await.map_err(sqlx_error)?;
    let mut header = Vec::new();
    copy_header(&mut header);
    copy.send(header).await.map_err(sqlx_error)?;
    let mut sent = 0u64;
    while let Some(chunk) = chunks.recv().await {
        progress.check()?;
        sent += chunk.len() as u64;
        copy.send(chunk).await.map_err(sqlx_error)?;
    }
    let rows = decoder.await.map_err(|err| {
        AppError::Internal(anyhow::anyhow!("the restore decoder failed: {err}"))
    })??;
    let mut tail = Vec::new();
    copy_trailer(&mut tail);
    copy.send(tail).await.map_err(sqlx_error)?;
    let copied = copy.finish().await.map_err(sqlx_error)?;
    progress.add_rows(rows);
    tracing::debug!(%table, rows, copied, bytes = sent, "table loaded");
    Ok(())
}

/// Builds every table's keys first, then the indexes and foreign keys.
async fn rebuild_keys(
    tx: &mut Transaction<'_, Postgres>,
    rebuilds: &[Rebuild],
) -> Result<(), AppError> {
    for statement in rebuilds.iter().flat_map(|rebuild| &rebuild.keys) {
        exec(tx, statement).await?;
    }
    for statement in rebuilds.iter().flat_map(|rebuild| &rebuild.rest) {
        exec(tx, statement).await?;
    }
    Ok(())
}

/// Commits, or rolls back a dry run.
async fn finish(
    tx: Transaction<'_, Postgres>,
    dry_run: bool,
    progress: &Arc<Progress>,
) -> Result<(), AppError> {
    if dry_run {
        progress.set_phase("rolling back (dry run)");
        tx.rollback().await.map_err(sqlx_error)
    } else {
        progress.set_phase("committing");
        tx.commit().await.map_err(sqlx_error)
    }
}
