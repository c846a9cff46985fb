//! Replacing tables' contents with checked backup rows, in one transaction.
//!
//! The rows were read and checked already (pass one); they come back from
//! local spool files, so the bytes loaded are the bytes that were checked.
//! References to the tables that are not restored are checked here, under
//! locks that keep them still until the commit.

use std::{collections::BTreeMap, fs::File, sync::Arc};

use apache_avro::Reader;
use roaring::RoaringBitmap;
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, Statement, Value, sqlx,
};
use serde::Serialize;
use tokio::sync::mpsc;

use super::{
    Progress,
    avro::{Row, Scan, for_each_row, micros_to_datetime},
    snapshot::{copy_header, copy_row, copy_trailer},
};
use crate::{
    db::begin_write,
    error::AppError,
    service::{
        import::Table,
        pg_copy::{db_err, drop_indexes_and_constraints, exec},
        rollup,
    },
};

/// Bytes of COPY data per message.
const COPY_CHUNK_BYTES: usize = 256 * 1024;
/// Rows per multi-row INSERT on SQLite (5 columns stay under its 32,766 parameters).
const SQLITE_BATCH_ROWS: usize = 1_000;

/// One table to restore: its checked rows in a spool file, and what the check found.
pub struct Restoring {
    /// The table.
    pub table: Table,
    /// The object as checked, rewound.
    pub spool: File,
    /// Ids and references found by the check.
    pub scan: Scan,
}

/// What a restore did to one table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RestoredTable {
    /// The table.
    pub table: Table,
    /// Rows it held before.
    pub rows_before: u64,
    /// Rows it holds now (the backup's).
    pub rows_restored: u64,
}

/// Replaces the tables in `items` (in foreign-key order) in one transaction;
/// `dry_run` does everything but the commit.
pub async fn replace(
    db: &DatabaseConnection,
    items: Vec<Restoring>,
    dry_run: bool,
    progress: &Arc<Progress>,
) -> Result<Vec<RestoredTable>, AppError> {
    match db.get_database_backend() {
        DbBackend::Postgres => replace_postgres(db, items, dry_run, progress).await,
        _ => replace_sqlite(db, items, dry_run, progress).await,
    }
}

fn restored(items: &[Restoring], table: Table) -> Option<&Restoring> {
    items.iter().find(|item| item.table == table)
}

/// How one reference between hires and a department or job table is checked.
struct ReferenceCheck {
    /// The dimension table.
    dimension: Table,
    /// True when the dimension is restored and the hires stay; false for the reverse.
    dimension_restored: bool,
    /// The query for the current ids to compare with.
    sql: &'static str,
}

/// The checks a restore of `items` needs: one per dimension that is restored
/// without the hires, or left alone while the hires are restored.
fn reference_checks(items: &[Restoring]) -> Vec<ReferenceCheck> {
    let hires = restored(items, Table::HiredEmployees).is_some();
    [
        (
            Table::Departments,
            "SELECT DISTINCT department_id FROM hired_employees",
            "SELECT id FROM departments",
        ),
        (
            Table::Jobs,
            "SELECT DISTINCT job_id FROM hired_employees",
            "SELECT id FROM jobs",
        ),
    ]
    .into_iter()
    .filter_map(|(dimension, pointed_at_now, ids_now)| {
        match (restored(items, dimension).is_some(), hires) {
            (true, false) => Some(ReferenceCheck {
                dimension,
                dimension_restored: true,
                sql: pointed_at_now,
            }),
            (false, true) => Some(ReferenceCheck {
                dimension,
                dimension_restored: false,
                sql: ids_now,
            }),
            _ => None,
        }
    })
    .collect()
}

/// Refuses a restore that would leave a hire pointing at a missing department or job.
fn check_reference(
    items: &[Restoring],
    check: &ReferenceCheck,
    current: RoaringBitmap,
) -> Result<(), AppError> {
    let dimension = check.dimension;
    let (pointed_at, available, whose, fix) = if check.dimension_restored {
        let backup = restored(items, dimension)
            .map(|item| item.scan.ids.clone())
            .unwrap_or_default();
        (
            current,
            backup,
            "current hires",
            format!("restore hired_employees with {dimension}"),
        )
    } else {
        let hires = restored(items, Table::HiredEmployees);
        let pointed_at = hires
            .map(|item| match dimension {
                Table::Departments => item.scan.departments.clone(),
                _ => item.scan.jobs.clone(),
            })
            .unwrap_or_default();
        (
            pointed_at,
            current,
            "the backup's hires",
            format!("restore {dimension} with hired_employees"),
        )
    };
    let missing = pointed_at - available;
    if missing.is_empty() {
        return Ok(());
    }
    let shown: Vec<String> = missing.iter().take(5).map(|id| id.to_string()).collect();
    let more = missing.len().saturating_sub(5);
    Err(AppError::bad_input(
        "RESTORE_BREAKS_REFERENCES",
        format!(
            "the restore would leave {whose} pointing at {} missing {dimension} id(s): {}{}; \
             nothing was changed ({fix}, or choose another backup)",
            missing.len(),
            shown.join(", "),
            if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            },
        ),
    ))
}

/// Decodes a spool file on a blocking thread, handing rows to `each`.
fn spawn_decoder<T: Send + 'static>(
    table: Table,
    spool: File,
    mut make: impl FnMut(Row<'static>, &mut Vec<T>) -> bool + Send + 'static,
) -> (
    mpsc::Receiver<Vec<T>>,
    tokio::task::JoinHandle<Result<u64, AppError>>,
) {
    let (sender, receiver) = mpsc::channel(4);
    let handle = tokio::task::spawn_blocking(move || {
        let reader =
            Reader::new(std::io::BufReader::with_capacity(1 << 20, spool)).map_err(|err| {
                AppError::Internal(anyhow::anyhow!(
                    "rereading a checked backup object failed: {err}"
                ))
            })?;
        let mut rows = 0u64;
        let mut batch = Vec::new();
        let stopped = std::cell::Cell::new(false);
        for_each_row(table, reader, |row| {
            rows += 1;
            if make(row, &mut batch) {
                let full = std::mem::take(&mut batch);
                if sender.blocking_send(full).is_err() {
                    stopped.set(true);
                    return Err(super::avro::ScanProblem::Corrupt("stopped".into()));
                }
            }
            Ok(())
        })
        .or_else(|problem| if stopped.get() { Ok(()) } else { Err(problem) })
        .map_err(|problem| {
            AppError::Internal(anyhow::anyhow!(
                "rereading a checked backup object failed: {problem:?}"
            ))
        })?;
        make_last(&sender, batch);
        Ok(rows)
    });
    (receiver, handle)
}

fn make_last<T>(sender: &mpsc::Sender<Vec<T>>, batch: Vec<T>) {
    if !batch.is_empty() {
        let _ = sender.blocking_send(batch);
    }
}

async fn replace_postgres(
    db: &DatabaseConnection,
    items: Vec<Restoring>,
    dry_run: bool,
    progress: &Arc<Progress>,
) -> Result<Vec<RestoredTable>, AppError> {
    let mut tx = db
        .get_postgres_connection_pool()
        .begin()
        .await
        .map_err(db_err)?;
    for setting in [
        "SET LOCAL work_mem = '256MB'",
        "SET LOCAL maintenance_work_mem = '512MB'",
    ] {
        exec(&mut tx, setting).await?;
    }
    progress.set_phase("locking");
    // The same order as every writer: departments, jobs, hires, rollup. Each
    // lock is as strong as anything later in the transaction needs (TRUNCATE,
    // dropping a foreign key), so none is upgraded: restored tables, and the
    // hires whenever their foreign keys are dropped, are locked exclusively;
    // the rest against writes only, so they can still be read.
    let dimension_restored = items.iter().any(|item| item.table != Table::HiredEmployees);
    for table in Table::ALL {
        let exclusive = restored(&items, table).is_some()
            || (table == Table::HiredEmployees && dimension_restored);
        let mode = if exclusive {
            "ACCESS EXCLUSIVE"
        } else {
            "SHARE ROW EXCLUSIVE"
        };
        exec(&mut tx, &format!("LOCK TABLE {table} IN {mode} MODE")).await?;
    }
    exec(&mut tx, "LOCK TABLE hires_rollup IN ACCESS EXCLUSIVE MODE").await?;

    progress.set_phase("checking references");
    for check in reference_checks(&items) {
        let ids: Vec<i32> = sqlx::query_scalar(check.sql)
            .fetch_all(&mut *tx)
            .await
            .map_err(db_err)?;
        check_reference(
            &items,
            &check,
            ids.into_iter().map(|id| id as u32).collect(),
        )?;
    }

    let mut report = Vec::new();
    for item in &items {
        let before: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT count(*) FROM {}",
            item.table
        )))
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err)?;
        report.push(RestoredTable {
            table: item.table,
            rows_before: before as u64,
            rows_restored: item.scan.rows,
        });
    }

    // As pg_restore does: no keys or indexes while loading, built afterwards.
    progress.set_phase("dropping keys");
    let names: Vec<&str> = items.iter().map(|item| item.table.name()).collect();
    let foreign: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT conrelid::regclass::text, conname::text, pg_get_constraintdef(oid)
         FROM pg_constraint
         WHERE contype = 'f' AND (conrelid = ANY($1::text[]::regclass[])
                                  OR confrelid = ANY($1::text[]::regclass[]))
         ORDER BY 1, 2",
    )
    .bind(&names)
    .fetch_all(&mut *tx)
    .await
    .map_err(db_err)?;
    for (owner, name, _) in &foreign {
        exec(
            &mut tx,
            &format!("ALTER TABLE {owner} DROP CONSTRAINT \"{name}\""),
        )
        .await?;
    }
    let mut rebuilds = BTreeMap::new();
    for item in &items {
        rebuilds.insert(
            item.table,
            drop_indexes_and_constraints(&mut tx, item.table.name()).await?,
        );
    }
    exec(
        &mut tx,
        &format!("TRUNCATE hires_rollup, {}", names.join(", ")),
    )
    .await?;

    for item in items {
        progress.start(item.table, "loading");
        let table = item.table;
        let (mut chunks, decoder) = spawn_decoder(table, item.spool, |row, chunk: &mut Vec<u8>| {
            copy_row(&row, chunk);
            chunk.len() >= COPY_CHUNK_BYTES
        });
        let columns = table.columns();
        let mut copy = tx
            .copy_in_raw(&format!(
                "COPY {table} ({columns}) FROM STDIN (FORMAT binary)"
            ))
            .await
            .map_err(db_err)?;
        let mut header = Vec::new();
        copy_header(&mut header);
        copy.send(header).await.map_err(db_err)?;
        let mut sent = 0u64;
        while let Some(chunk) = chunks.recv().await {
            sent += chunk.len() as u64;
            copy.send(chunk).await.map_err(db_err)?;
        }
        let rows = decoder.await.map_err(|err| {
            AppError::Internal(anyhow::anyhow!("the restore decoder failed: {err}"))
        })??;
        let mut tail = Vec::new();
        copy_trailer(&mut tail);
        copy.send(tail).await.map_err(db_err)?;
        let copied = copy.finish().await.map_err(db_err)?;
        progress.add_rows(rows);
        tracing::debug!(%table, rows, copied, bytes = sent, "table loaded");
    }

    progress.set_phase("building keys");
    let rebuilds: Vec<_> = rebuilds.into_values().collect();
    for rebuild in &rebuilds {
        for statement in &rebuild.keys {
            exec(&mut tx, statement).await?;
        }
    }
    for rebuild in &rebuilds {
        for statement in &rebuild.rest {
            exec(&mut tx, statement).await?;
        }
    }
    progress.set_phase("refreshing reports");
    exec(
        &mut tx,
        &migration::rollup_backfill_sql(DbBackend::Postgres),
    )
    .await?;
    for (owner, name, definition) in &foreign {
        exec(
            &mut tx,
            &format!("ALTER TABLE {owner} ADD CONSTRAINT \"{name}\" {definition}"),
        )
        .await?;
    }
    sqlx::query(
        "UPDATE report_state SET hires_changed_at = $1
         WHERE hires_changed_at IS NULL OR hires_changed_at < $1",
    )
    .bind(rollup::now())
    .execute(&mut *tx)
    .await
    .map_err(db_err)?;

    if dry_run {
        progress.set_phase("rolling back (dry run)");
        tx.rollback().await.map_err(db_err)?;
    } else {
        progress.set_phase("committing");
        tx.commit().await.map_err(db_err)?;
    }
    Ok(report)
}

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

async fn replace_sqlite(
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
    txn.execute_unprepared("DELETE FROM hires_rollup").await?;
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
            insert_sqlite(&txn, table, batch, progress).await?;
        }
        decoder.await.map_err(|err| {
            AppError::Internal(anyhow::anyhow!("the restore decoder failed: {err}"))
        })??;
    }

    progress.set_phase("refreshing reports");
    txn.execute_unprepared(&migration::rollup_backfill_sql(DbBackend::Sqlite))
        .await?;
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
                let at = micros_to_datetime(micros).map_err(|problem| {
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
