//! PostgreSQL helpers for bulk work on a raw sqlx transaction: error mapping,
//! statements without results, session memory for big sorts, and dropping and
//! rebuilding a table's keys and indexes around a bulk load.

use sea_orm::sqlx::{self, Postgres, Row, Transaction};

use crate::error::AppError;

/// Bytes of COPY data sent or gathered per message, in every bulk load and backup.
pub const COPY_CHUNK_BYTES: usize = 256 * 1024;

/// A sqlx error as the boundary error, classified like any database error.
pub fn sqlx_error(err: sqlx::Error) -> AppError {
    AppError::from(sea_orm::DbErr::Query(sea_orm::RuntimeErr::SqlxError(
        std::sync::Arc::new(err),
    )))
}

/// Runs a statement that returns no rows.
pub async fn exec(tx: &mut Transaction<'_, Postgres>, sql: &str) -> Result<(), AppError> {
    // Statements here are constants, or built from catalog definitions and quoted names.
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(&mut **tx)
        .await
        .map_err(sqlx_error)?;
    Ok(())
}

/// Gives this transaction the memory that bulk loads need for sorts and index builds.
pub async fn use_bulk_memory(tx: &mut Transaction<'_, Postgres>) -> Result<(), AppError> {
    for setting in [
        "SET LOCAL work_mem = '256MB'",
        "SET LOCAL maintenance_work_mem = '512MB'",
    ] {
        exec(tx, setting).await?;
    }
    Ok(())
}

/// Statements that put back what [`drop_indexes_and_constraints`] removed.
#[derive(Default)]
pub struct Rebuild {
    /// Primary and unique keys: built first, so the checks of held-back rows can use them.
    pub keys: Vec<String>,
    /// Plain indexes, then foreign keys (which are checked against the loaded rows).
    pub rest: Vec<String>,
}

/// Drops `table`'s indexes and constraints, returning the statements that rebuild them.
///
/// The definitions come from the catalog, so the rebuilt table is exactly the
/// migrated one. The primary key stays when another table references it.
pub async fn drop_indexes_and_constraints(
    tx: &mut Transaction<'_, Postgres>,
    table: &'static str,
) -> Result<Rebuild, AppError> {
    let mut keys = Vec::new();
    let mut foreign = Vec::new();
    for (name, kind, definition) in constraints_of(tx, table).await? {
        exec(
            tx,
            &format!("ALTER TABLE {table} DROP CONSTRAINT \"{name}\""),
        )
        .await?;
        let add = format!("ALTER TABLE {table} ADD CONSTRAINT \"{name}\" {definition}");
        if kind == "f" {
            foreign.push(add);
        } else {
            keys.push(add);
        }
    }
    let mut indexes = Vec::new();
    for (name, definition) in plain_indexes_of(tx, table).await? {
        exec(tx, &format!("DROP INDEX \"{name}\"")).await?;
        indexes.push(definition);
    }
    Ok(Rebuild {
        keys,
        rest: indexes.into_iter().chain(foreign).collect(),
    })
}

/// The primary, unique and foreign keys of `table` that may be dropped:
/// (name, kind, definition), foreign keys first.
async fn constraints_of(
    tx: &mut Transaction<'_, Postgres>,
    table: &str,
) -> Result<Vec<(String, String, String)>, AppError> {
    let rows = sqlx::query(
        "SELECT conname::text AS name, contype::text AS kind, pg_get_constraintdef(oid) AS definition
         FROM pg_constraint
         WHERE conrelid = $1::regclass AND contype IN ('p', 'u', 'f')
           AND NOT (contype IN ('p', 'u') AND EXISTS (
               SELECT 1 FROM pg_constraint r WHERE r.confrelid = $1::regclass))
         ORDER BY CASE contype WHEN 'f' THEN 0 ELSE 1 END, conname",
    )
    .bind(table)
    .fetch_all(&mut **tx)
    .await
    .map_err(sqlx_error)?;
    rows.iter()
        .map(|row| {
            Ok((
                row.try_get("name").map_err(sqlx_error)?,
                row.try_get("kind").map_err(sqlx_error)?,
                row.try_get("definition").map_err(sqlx_error)?,
            ))
        })
        .collect()
}

/// The indexes of `table` that no constraint owns: (name, definition).
async fn plain_indexes_of(
    tx: &mut Transaction<'_, Postgres>,
    table: &str,
) -> Result<Vec<(String, String)>, AppError> {
    sqlx::query_as(
        "SELECT i.indexname::text AS name, i.indexdef AS definition
         FROM pg_indexes i
         WHERE i.schemaname = current_schema() AND i.tablename = $1
           AND NOT EXISTS (SELECT 1 FROM pg_constraint c
                           WHERE c.conrelid = $1::regclass AND c.conname = i.indexname)
         ORDER BY i.indexname",
    )
    .bind(table)
    .fetch_all(&mut **tx)
    .await
    .map_err(sqlx_error)
}
