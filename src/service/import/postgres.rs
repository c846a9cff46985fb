//! The fast hire import on PostgreSQL: COPY into a staging table, then set-based SQL.
//!
//! Rows are parsed and checked in Rust (the same parser as every other input
//! path) and streamed with COPY into a temporary table, refused rows included.
//! One query then decides every row's fate against the stored data (duplicate
//! ids, unknown departments and jobs) with the same rules, in the same order, as
//! the batch path; it returns only a reason code per row, which Rust words
//! through the same functions as the batch path. When the target table is
//! empty, its indexes and constraints are dropped for the load and rebuilt
//! after it, as pg_restore does. Everything happens in one transaction.

use std::{
    collections::HashSet,
    sync::{Arc, LazyLock},
};

use sea_orm::sqlx::{self, PgPool, Postgres, Row, Transaction};

use super::{
    copy_text::{Chunks, Routing, STAGING_COLUMNS, read_spool, spawn_encoder},
    error::ImportError,
    summary::{ImportProgress, TableSummary},
};
use crate::{
    db::postgres::{drop_indexes_and_constraints, exec, sqlx_error, use_bulk_memory},
    error::AppError,
    rules::{Problem, RejectedRow, Table, hire_field, reason, verdict},
    service::{rejected, rollup},
};

const CREATE_STAGING: &str = "CREATE TEMP TABLE import_hires (
    line bigint NOT NULL,
    id integer,
    name text,
    hire_datetime timestamptz,
    department_id integer,
    job_id integer,
    code text,
    field text,
    message text,
    raw text NOT NULL
) ON COMMIT DROP";

/// Loads plain new rows straight into the table.
fn copy_target() -> String {
    let columns = Table::HiredEmployees.columns();
    format!("COPY hired_employees ({columns}) FROM STDIN")
}

/// Decides the verdict of every staged row that is not a plain new row:
/// INSERTED, UNCHANGED or a rejection code. Only the code: its field, message
/// and raw text are worded in Rust ([`crate::rules::verdict`]).
///
/// Most rows of a typical load are new, valid and unique; they are not copied
/// here at all. The rest (refused while parsing, already stored, sharing an id
/// with another staged row, or naming an unknown department or job) get the
/// same rules, in the same order, as `ingest::store_hire_batch`, which checks
/// rows in file order: a row whose id is stored (or was accepted earlier in
/// the file) is unchanged or a duplicate; otherwise its department and job
/// must exist.
const CHECK_STAGING: &str = "CREATE TEMP TABLE import_hires_checked ON COMMIT DROP AS
WITH special AS (
    SELECT s.line, s.id, s.name, s.hire_datetime, s.department_id, s.job_id, s.code,
           s.field, s.message, s.raw,
           h.id IS NOT NULL AS stored,
           (h.id IS NOT NULL AND h.name = s.name AND h.hire_datetime = s.hire_datetime
                AND h.department_id = s.department_id AND h.job_id = s.job_id) AS same_as_stored,
           d.id IS NOT NULL AS department_known,
           j.id IS NOT NULL AS job_known
    FROM import_hires s
    LEFT JOIN hired_employees h ON h.id = s.id
    LEFT JOIN departments d ON d.id = s.department_id
    LEFT JOIN jobs j ON j.id = s.job_id
    LEFT JOIN (SELECT id FROM import_hires WHERE code IS NULL GROUP BY id HAVING count(*) > 1) dup
        ON dup.id = s.id
    WHERE s.code IS NOT NULL OR h.id IS NOT NULL OR d.id IS NULL OR j.id IS NULL
        OR dup.id IS NOT NULL
), first_valid AS (
    SELECT DISTINCT ON (id) id, line, name, hire_datetime, department_id, job_id
    FROM special
    WHERE code IS NULL AND NOT stored AND department_known AND job_known
    ORDER BY id, line
)
SELECT line, id, name, hire_datetime, department_id, job_id, verdict, field, message,
    CASE WHEN verdict IN ('INSERTED', 'UNCHANGED') THEN NULL ELSE raw END AS raw
FROM (SELECT s.line, s.id, s.name, s.hire_datetime, s.department_id, s.job_id,
    s.field, s.message, s.raw,
    CASE
        WHEN s.code IS NOT NULL THEN s.code
        WHEN s.stored THEN CASE WHEN s.same_as_stored THEN 'UNCHANGED' ELSE 'DUPLICATE_ID' END
        WHEN f.line = s.line THEN 'INSERTED'
        WHEN f.line < s.line THEN
            CASE WHEN f.name = s.name AND f.hire_datetime = s.hire_datetime
                      AND f.department_id = s.department_id AND f.job_id = s.job_id
                 THEN 'UNCHANGED' ELSE 'DUPLICATE_ID' END
        WHEN NOT s.department_known THEN 'UNKNOWN_DEPARTMENT'
        ELSE 'UNKNOWN_JOB'
    END AS verdict
FROM special s LEFT JOIN first_valid f ON f.id = s.id) decided";

/// Inserts the plain new rows and the special rows that won, appends them to
/// the report rollup's deltas (stamped `$1`), and returns how many were inserted.
static INSERT_ACCEPTED: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH inserted AS (
    INSERT INTO hired_employees (id, name, hire_datetime, department_id, job_id)
    SELECT s.id, s.name, s.hire_datetime, s.department_id, s.job_id
    FROM import_hires s
    WHERE s.code IS NULL AND NOT EXISTS (SELECT 1 FROM import_hires_checked c WHERE c.line = s.line)
    UNION ALL
    SELECT id, name, hire_datetime, department_id, job_id
    FROM import_hires_checked WHERE verdict = 'INSERTED'
    RETURNING hire_datetime, department_id, job_id
), rolled_up AS (
    {}
)
SELECT count(*) FROM inserted",
        rollup::postgres_add_from("inserted")
    )
});

/// The refused rows, in file order: the verdict, the ids it is worded with,
/// and what parsing found (field, message) with the record as received.
const DECLARE_REJECTED: &str = "DECLARE rejected NO SCROLL CURSOR FOR
SELECT line, verdict, id, department_id, job_id, field, message, raw
FROM import_hires_checked
WHERE verdict NOT IN ('INSERTED', 'UNCHANGED')
ORDER BY line";

/// The advisory lock that lets one hire import at a time choose and take its
/// table lock: two imports that both found the table empty would otherwise
/// each hold a read lock while waiting for the other's to go.
const HIRE_IMPORT_LOCK: i64 = 0x6869_7265_735f_696d; // "hires_im"

/// Refused rows read and logged at a time.
const REJECTED_PAGE: usize = 1_000;

/// Loads a hire CSV stream into `hired_employees` in one transaction.
pub(super) async fn import_hires(
    pool: &PgPool,
    source: &str,
    input: Box<dyn std::io::Read + Send>,
    progress: &Arc<ImportProgress>,
) -> Result<TableSummary, AppError> {
    let mut tx = pool.begin().await.map_err(sqlx_error)?;
    use_bulk_memory(&mut tx).await?;
    exec(
        &mut tx,
        &format!("SELECT pg_advisory_xact_lock({HIRE_IMPORT_LOCK})"),
    )
    .await?;
    let loaded = if lock_hires(&mut tx).await? {
        load_into_empty(&mut tx, source, input, progress).await?
    } else {
        stage_all(&mut tx, source, input, progress).await?
    };
    progress.set_phase("checking rows");
    // Temporary tables get no statistics on their own; without them the planner guesses badly.
    exec(&mut tx, "ANALYZE import_hires").await?;
    exec(&mut tx, CHECK_STAGING).await?;
    progress.set_phase("inserting");
    let inserted: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(INSERT_ACCEPTED.as_str()))
        .bind(rollup::now())
        .fetch_one(&mut *tx)
        .await
        .map_err(sqlx_error)?;
    if !loaded.rebuild_rest.is_empty() {
        progress.set_phase("building indexes");
        for statement in &loaded.rebuild_rest {
            exec(&mut tx, statement).await?;
        }
    }
    progress.set_phase("logging rejected rows");
    log_rejected(&mut tx, source).await?;
    let summary = summarize(&mut tx, loaded.direct, inserted as u64).await?;
    progress.begin_commit()?;
    tx.commit().await.map_err(sqlx_error)?;
    Ok(summary)
}

/// Locks the hires table, returning whether it is empty.
///
/// The lock is chosen before it is taken and never upgraded: upgrading
/// would deadlock with an insert batch that read the table and waits to
/// write it. An empty table is loaded under an exclusive lock (its indexes
/// and foreign keys are dropped); otherwise other writers wait and readers go
/// on. Dropping the foreign keys locks departments and jobs too, so those are
/// locked first, in the order every writer and a restore take them.
async fn lock_hires(tx: &mut Transaction<'_, Postgres>) -> Result<bool, AppError> {
    let looks_empty = table_is_empty(tx).await?;
    if looks_empty {
        exec(tx, "LOCK TABLE departments, jobs IN ACCESS EXCLUSIVE MODE").await?;
    }
    exec(
        tx,
        if looks_empty {
            "LOCK TABLE hired_employees IN ACCESS EXCLUSIVE MODE"
        } else {
            "LOCK TABLE hired_employees IN SHARE ROW EXCLUSIVE MODE"
        },
    )
    .await?;
    Ok(looks_empty && table_is_empty(tx).await?)
}

/// What the load phase left for the rest of the import.
struct Loaded {
    /// Rows copied straight into `hired_employees`.
    direct: u64,
    /// Indexes and foreign keys to build once every row is in.
    rebuild_rest: Vec<String>,
}

/// Into an empty table, as pg_restore does: without indexes and constraints,
/// plainly new rows straight into the table, the rest staged for the SQL checks.
async fn load_into_empty(
    tx: &mut Transaction<'_, Postgres>,
    source: &str,
    input: Box<dyn std::io::Read + Send>,
    progress: &Arc<ImportProgress>,
) -> Result<Loaded, AppError> {
    let rebuild = drop_indexes_and_constraints(tx, "hired_employees").await?;
    let routing = Routing::Direct {
        departments: ids(tx, "SELECT id FROM departments").await?,
        jobs: ids(tx, "SELECT id FROM jobs").await?,
    };
    let encoder = spawn_encoder(input, Arc::clone(progress), routing);
    let direct = copy_chunks(tx, &copy_target(), encoder.chunks, source).await?;
    progress.set_phase("building keys");
    for statement in &rebuild.keys {
        exec(tx, statement).await?;
    }
    let (spool, delta) = encoder
        .spool
        .await
        .map_err(|err| AppError::Internal(anyhow::anyhow!("the CSV encoder failed: {err}")))?
        .map_err(|err| ImportError::unreadable(source, err))?;
    rollup::postgres_apply(tx, &delta).await?;
    exec(tx, CREATE_STAGING).await?;
    if let Some(spool) = spool {
        copy_chunks(tx, &copy_staging(), read_spool(spool), source).await?;
    }
    Ok(Loaded {
        direct,
        rebuild_rest: rebuild.rest,
    })
}

/// Into a loaded table: every row to the staging table.
async fn stage_all(
    tx: &mut Transaction<'_, Postgres>,
    source: &str,
    input: Box<dyn std::io::Read + Send>,
    progress: &Arc<ImportProgress>,
) -> Result<Loaded, AppError> {
    exec(tx, CREATE_STAGING).await?;
    let encoder = spawn_encoder(input, Arc::clone(progress), Routing::AllStaged);
    copy_chunks(tx, &copy_staging(), encoder.chunks, source).await?;
    Ok(Loaded {
        direct: 0,
        rebuild_rest: Vec::new(),
    })
}

fn copy_staging() -> String {
    format!("COPY import_hires ({STAGING_COLUMNS}) FROM STDIN")
}

/// Counts the verdicts. Plain new staged rows and rows copied directly never
/// reach the checked table; they are the rest of the inserted rows.
async fn summarize(
    tx: &mut Transaction<'_, Postgres>,
    direct: u64,
    inserted: u64,
) -> Result<TableSummary, AppError> {
    let mut summary = TableSummary::new(Table::HiredEmployees);
    summary.count("INSERTED", direct);
    let verdicts =
        sqlx::query("SELECT verdict, count(*) AS rows FROM import_hires_checked GROUP BY verdict")
            .fetch_all(&mut **tx)
            .await
            .map_err(sqlx_error)?;
    let mut special_inserted = 0;
    for row in verdicts {
        let verdict: String = row.try_get("verdict").map_err(sqlx_error)?;
        let rows = row.try_get::<i64, _>("rows").map_err(sqlx_error)? as u64;
        if verdict == "INSERTED" {
            special_inserted = rows;
        }
        summary.count(&verdict, rows);
    }
    summary.count("INSERTED", inserted - special_inserted);
    Ok(summary)
}

/// Words and logs every refused row, a page at a time, in file order.
async fn log_rejected(tx: &mut Transaction<'_, Postgres>, source: &str) -> Result<(), AppError> {
    exec(tx, DECLARE_REJECTED).await?;
    let fetch = format!("FETCH {REJECTED_PAGE} FROM rejected");
    loop {
        let rows = sqlx::query(sqlx::AssertSqlSafe(fetch.as_str()))
            .fetch_all(&mut **tx)
            .await
            .map_err(sqlx_error)?;
        if rows.is_empty() {
            break;
        }
        let page = rows
            .iter()
            .map(rejected_row)
            .collect::<Result<Vec<_>, _>>()?;
        rejected::postgres_record_rejections(tx, source, &page).await?;
    }
    exec(tx, "CLOSE rejected").await
}

/// One refused row: a problem found while parsing comes back as staged; a
/// verdict against the stored data is worded by the rules.
fn rejected_row(row: &sqlx::postgres::PgRow) -> Result<RejectedRow, AppError> {
    let line: i64 = row.try_get("line").map_err(sqlx_error)?;
    let code: String = row.try_get("verdict").map_err(sqlx_error)?;
    let id: Option<i32> = row.try_get("id").map_err(sqlx_error)?;
    let raw: String = row.try_get("raw").map_err(sqlx_error)?;
    let department_id: Option<i32> = row.try_get("department_id").map_err(sqlx_error)?;
    let job_id: Option<i32> = row.try_get("job_id").map_err(sqlx_error)?;
    let worded = verdict::hire_problem(
        &code,
        id.unwrap_or_default(),
        department_id.unwrap_or_default(),
        job_id.unwrap_or_default(),
    );
    let problem = match worded {
        Some(problem) => problem,
        None => staged_problem(row, &code)?,
    };
    Ok(RejectedRow::from_stored(line, id, problem, raw))
}

/// The problem parsing found, as the encoder staged it.
fn staged_problem(row: &sqlx::postgres::PgRow, code: &str) -> Result<Problem, AppError> {
    let field: Option<String> = row.try_get("field").map_err(sqlx_error)?;
    let message: Option<String> = row.try_get("message").map_err(sqlx_error)?;
    let unknown = || {
        AppError::Internal(anyhow::anyhow!(
            "a staged row has the unknown reason {code:?} or field {field:?}"
        ))
    };
    let known_field = match field.as_deref() {
        Some(name) => Some(hire_field(name).ok_or_else(unknown)?),
        None => None,
    };
    let known_code = reason::known(code).ok_or_else(unknown)?;
    Ok(Problem::new(
        known_field,
        known_code,
        message.unwrap_or_default(),
    ))
}

async fn table_is_empty(tx: &mut Transaction<'_, Postgres>) -> Result<bool, AppError> {
    sqlx::query_scalar("SELECT NOT EXISTS (SELECT 1 FROM hired_employees)")
        .fetch_one(&mut **tx)
        .await
        .map_err(sqlx_error)
}

async fn ids(
    tx: &mut Transaction<'_, Postgres>,
    sql: &'static str,
) -> Result<HashSet<i32>, AppError> {
    let ids: Vec<i32> = sqlx::query_scalar(sql)
        .fetch_all(&mut **tx)
        .await
        .map_err(sqlx_error)?;
    Ok(ids.into_iter().collect())
}

/// Streams COPY data from `chunks` with `statement`, returning the rows copied.
async fn copy_chunks(
    tx: &mut Transaction<'_, Postgres>,
    statement: &str,
    mut chunks: Chunks,
    source: &str,
) -> Result<u64, AppError> {
    let mut copy = tx.copy_in_raw(statement).await.map_err(sqlx_error)?;
    while let Some(chunk) = chunks.recv().await {
        match chunk {
            Ok(bytes) => {
                copy.send(bytes).await.map_err(sqlx_error)?;
            }
            Err(err) => {
                let _ = copy.abort("the input could not be read").await;
                return Err(ImportError::unreadable(source, err).into());
            }
        }
    }
    copy.finish().await.map_err(sqlx_error)
}
