//! The fast hire import on PostgreSQL: COPY into a staging table, then set-based SQL.
//!
//! Rows are parsed and checked in Rust (the same parser as every other input
//! path) and streamed with COPY into a temporary table, refused rows included.
//! One query then decides every row's fate against the stored data (duplicate
//! ids, unknown departments and jobs) with the same rules, in the same order, as
//! the batch path. When the target table is empty, its indexes and constraints
//! are dropped for the load and rebuilt after it, as pg_restore does.
//! Everything happens in one transaction.

use std::{
    collections::HashSet,
    fs::File,
    io::{BufWriter, Read, Seek, Write},
    sync::Arc,
};

use async_graphql::futures_util::StreamExt;
use chrono::{Datelike, Timelike};
use roaring::RoaringBitmap;
use sea_orm::sqlx::{self, PgPool, Postgres, Row, Transaction};
use tokio::sync::mpsc;

use super::{
    csv_input::CsvRecords,
    import::{ImportProgress, Table, TableSummary, unreadable},
    ingest::{HireRow, Problem, RawRecord, parse_hire_record},
    rollup::{self, RollupDelta},
};
use crate::error::AppError;

/// Bytes of COPY data sent per message.
const CHUNK_BYTES: usize = 256 * 1024;

const CREATE_STAGING: &str = "CREATE TEMP TABLE import_hires (
    line bigint NOT NULL,
    id integer,
    name text,
    hire_datetime timestamptz,
    raw_datetime text,
    department_id integer,
    job_id integer,
    code text,
    field text,
    message text,
    raw text
) ON COMMIT DROP";

const COPY_TARGET: &str =
    "COPY hired_employees (id, name, hire_datetime, department_id, job_id) FROM STDIN";

const COPY_STAGING: &str = "COPY import_hires (line, id, name, hire_datetime, raw_datetime, \
    department_id, job_id, code, field, message, raw) FROM STDIN";

/// Decides the verdict of every staged row that is not a plain new row:
/// INSERTED, UNCHANGED or a rejection code.
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
    SELECT s.line, s.id, s.name, s.hire_datetime, s.raw_datetime, s.department_id, s.job_id,
           s.code, s.field, s.message, s.raw,
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
SELECT s.line, s.id, s.name, s.hire_datetime, s.raw_datetime, s.department_id, s.job_id,
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
    END AS verdict,
    s.field, s.message, s.raw
FROM special s LEFT JOIN first_valid f ON f.id = s.id";

/// Inserts the plain new rows and the special rows that won, adds them to the
/// report rollup, and returns how many were inserted.
const INSERT_ACCEPTED: &str = "WITH inserted AS (
    INSERT INTO hired_employees (id, name, hire_datetime, department_id, job_id)
    SELECT s.id, s.name, s.hire_datetime, s.department_id, s.job_id
    FROM import_hires s
    WHERE s.code IS NULL AND NOT EXISTS (SELECT 1 FROM import_hires_checked c WHERE c.line = s.line)
    UNION ALL
    SELECT id, name, hire_datetime, department_id, job_id
    FROM import_hires_checked WHERE verdict = 'INSERTED'
    RETURNING hire_datetime, department_id, job_id
), rolled_up AS (
    INSERT INTO hires_rollup (year, department_id, job_id, q1, q2, q3, q4)
    SELECT year, department_id, job_id,
           count(*) FILTER (WHERE quarter = 1), count(*) FILTER (WHERE quarter = 2),
           count(*) FILTER (WHERE quarter = 3), count(*) FILTER (WHERE quarter = 4)
    FROM (SELECT EXTRACT(YEAR FROM hire_datetime AT TIME ZONE 'UTC')::integer AS year,
                 EXTRACT(QUARTER FROM hire_datetime AT TIME ZONE 'UTC')::integer AS quarter,
                 department_id, job_id
          FROM inserted) parts
    GROUP BY 1, 2, 3
    ORDER BY 1, 2, 3
    ON CONFLICT (year, department_id, job_id) DO UPDATE SET
        q1 = hires_rollup.q1 + excluded.q1, q2 = hires_rollup.q2 + excluded.q2,
        q3 = hires_rollup.q3 + excluded.q3, q4 = hires_rollup.q4 + excluded.q4
)
SELECT count(*) FROM inserted";

/// Adds counts gathered in Rust (rows copied straight into the table) to the rollup.
const ADD_TO_ROLLUP: &str = "INSERT INTO hires_rollup (year, department_id, job_id, q1, q2, q3, q4)
SELECT * FROM UNNEST($1::integer[], $2::integer[], $3::integer[],
                     $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[])
ON CONFLICT (year, department_id, job_id) DO UPDATE SET
    q1 = hires_rollup.q1 + excluded.q1, q2 = hires_rollup.q2 + excluded.q2,
    q3 = hires_rollup.q3 + excluded.q3, q4 = hires_rollup.q4 + excluded.q4";

/// Logs refused rows; messages match the batch path's word for word.
const LOG_REJECTED: &str = "INSERT INTO rejected_rows (source, position, raw_record, field, code, message, rejected_at)
SELECT $1, line,
    COALESCE(raw, id || ',' ||
        CASE WHEN name ~ '[\",\\r\\n]' THEN '\"' || replace(name, '\"', '\"\"') || '\"' ELSE name END
        || ',' || raw_datetime || ',' || department_id || ',' || job_id),
    COALESCE(field, CASE verdict WHEN 'DUPLICATE_ID' THEN 'id'
        WHEN 'UNKNOWN_DEPARTMENT' THEN 'department_id' WHEN 'UNKNOWN_JOB' THEN 'job_id' END),
    verdict,
    COALESCE(message, CASE verdict
        WHEN 'DUPLICATE_ID' THEN 'hire id ' || id || ' already exists with different content'
        WHEN 'UNKNOWN_DEPARTMENT' THEN 'no department has id ' || department_id
        WHEN 'UNKNOWN_JOB' THEN 'no job has id ' || job_id END),
    now()
FROM import_hires_checked
WHERE verdict NOT IN ('INSERTED', 'UNCHANGED')
ORDER BY line
RETURNING position, field, code, message";

/// Loads a hire CSV stream into `hired_employees` in one transaction.
pub async fn import_hires(
    pool: &PgPool,
    source: &str,
    input: Box<dyn Read + Send>,
    progress: &Arc<ImportProgress>,
) -> Result<TableSummary, AppError> {
    let mut tx = pool.begin().await.map_err(db_err)?;
    for setting in [
        "SET LOCAL work_mem = '256MB'",
        "SET LOCAL maintenance_work_mem = '512MB'",
    ] {
        exec(&mut tx, setting).await?;
    }
    // The lock is chosen before it is taken and never upgraded: upgrading
    // would deadlock with an insert batch that read the table and waits to
    // write it. An empty table is loaded under an exclusive lock (its indexes
    // are dropped); otherwise other writers wait and readers go on.
    let looks_empty = table_is_empty(&mut tx).await?;
    exec(
        &mut tx,
        if looks_empty {
            "LOCK TABLE hired_employees IN ACCESS EXCLUSIVE MODE"
        } else {
            "LOCK TABLE hired_employees IN SHARE ROW EXCLUSIVE MODE"
        },
    )
    .await?;
    let table_was_empty = looks_empty && table_is_empty(&mut tx).await?;

    let mut summary = TableSummary::new(Table::HiredEmployees);
    let mut changed = false;
    let rebuild = if table_was_empty {
        // As pg_restore does: load without indexes and constraints, then build them.
        let rebuild = drop_indexes_and_constraints(&mut tx, "hired_employees").await?;
        let routing = Routing::Direct {
            departments: ids(&mut tx, "SELECT id FROM departments").await?,
            jobs: ids(&mut tx, "SELECT id FROM jobs").await?,
        };
        let encoder = spawn_encoder(input, Arc::clone(progress), routing);
        let direct = copy_chunks(&mut tx, COPY_TARGET, encoder.chunks, source).await?;
        summary.count("INSERTED", direct);
        changed |= direct > 0;
        progress.set_phase("building keys");
        for statement in &rebuild.keys {
            exec(&mut tx, statement).await?;
        }
        let (spool, delta) = encoder
            .spool
            .await
            .map_err(|err| AppError::Internal(anyhow::anyhow!("the CSV encoder failed: {err}")))?
            .map_err(|err| unreadable(source, err))?;
        add_to_rollup(&mut tx, &delta).await?;
        exec(&mut tx, CREATE_STAGING).await?;
        if let Some(spool) = spool {
            copy_chunks(&mut tx, COPY_STAGING, read_spool(spool), source).await?;
        }
        rebuild.rest
    } else {
        exec(&mut tx, CREATE_STAGING).await?;
        let encoder = spawn_encoder(input, Arc::clone(progress), Routing::AllStaged);
        copy_chunks(&mut tx, COPY_STAGING, encoder.chunks, source).await?;
        Vec::new()
    };

    progress.set_phase("checking rows");
    // Temporary tables get no statistics on their own; without them the planner guesses badly.
    exec(&mut tx, "ANALYZE import_hires").await?;
    exec(&mut tx, CHECK_STAGING).await?;

    progress.set_phase("inserting");
    let inserted: i64 = sqlx::query_scalar(INSERT_ACCEPTED)
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err)?;
    let inserted = inserted as u64;
    if !rebuild.is_empty() {
        progress.set_phase("building indexes");
        for statement in rebuild {
            exec(&mut tx, &statement).await?;
        }
    }

    if changed || inserted > 0 {
        sqlx::query(
            "UPDATE report_state SET hires_changed_at = $1
             WHERE hires_changed_at IS NULL OR hires_changed_at < $1",
        )
        .bind(rollup::now())
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
    }

    progress.set_phase("logging rejected rows");
    log_rejected(&mut tx, source).await?;

    let mut special_inserted = 0;
    let verdicts =
        sqlx::query("SELECT verdict, count(*) AS rows FROM import_hires_checked GROUP BY verdict")
            .fetch_all(&mut *tx)
            .await
            .map_err(db_err)?;
    for row in verdicts {
        let verdict: String = row.try_get("verdict").map_err(db_err)?;
        let rows = row.try_get::<i64, _>("rows").map_err(db_err)? as u64;
        if verdict == "INSERTED" {
            special_inserted = rows;
        }
        summary.count(&verdict, rows);
    }
    // Plain new staged rows never reach the checked table; they are the rest of the insert.
    summary.count("INSERTED", inserted - special_inserted);
    progress.set_phase("committing");
    tx.commit().await.map_err(db_err)?;
    Ok(summary)
}

async fn add_to_rollup(
    tx: &mut Transaction<'_, Postgres>,
    delta: &RollupDelta,
) -> Result<(), AppError> {
    if delta.is_empty() {
        return Ok(());
    }
    let columns = delta.columns();
    sqlx::query(ADD_TO_ROLLUP)
        .bind(columns.years)
        .bind(columns.department_ids)
        .bind(columns.job_ids)
        .bind(columns.q1)
        .bind(columns.q2)
        .bind(columns.q3)
        .bind(columns.q4)
        .execute(&mut **tx)
        .await
        .map_err(db_err)?;
    Ok(())
}

async fn table_is_empty(tx: &mut Transaction<'_, Postgres>) -> Result<bool, AppError> {
    sqlx::query_scalar("SELECT NOT EXISTS (SELECT 1 FROM hired_employees)")
        .fetch_one(&mut **tx)
        .await
        .map_err(db_err)
}

async fn ids(
    tx: &mut Transaction<'_, Postgres>,
    sql: &'static str,
) -> Result<HashSet<i32>, AppError> {
    let ids: Vec<i32> = sqlx::query_scalar(sql)
        .fetch_all(&mut **tx)
        .await
        .map_err(db_err)?;
    Ok(ids.into_iter().collect())
}

/// Streams COPY data from `chunks` with `statement`, returning the rows copied.
async fn copy_chunks(
    tx: &mut Transaction<'_, Postgres>,
    statement: &'static str,
    mut chunks: mpsc::Receiver<Result<Vec<u8>, std::io::Error>>,
    source: &str,
) -> Result<u64, AppError> {
    let mut copy = tx.copy_in_raw(statement).await.map_err(db_err)?;
    while let Some(chunk) = chunks.recv().await {
        match chunk {
            Ok(bytes) => {
                copy.send(bytes).await.map_err(db_err)?;
            }
            Err(err) => {
                let _ = copy.abort("the input could not be read").await;
                return Err(unreadable(source, err));
            }
        }
    }
    copy.finish().await.map_err(db_err)
}

/// Reads a spool file back in chunks.
fn read_spool(mut spool: File) -> mpsc::Receiver<Result<Vec<u8>, std::io::Error>> {
    let (sender, receiver) = mpsc::channel(4);
    tokio::task::spawn_blocking(move || {
        loop {
            let mut chunk = vec![0; CHUNK_BYTES];
            match spool.read(&mut chunk) {
                Ok(0) => return,
                Ok(n) => {
                    chunk.truncate(n);
                    if sender.blocking_send(Ok(chunk)).is_err() {
                        return;
                    }
                }
                Err(err) => {
                    let _ = sender.blocking_send(Err(err));
                    return;
                }
            }
        }
    });
    receiver
}

pub(crate) fn db_err(err: sqlx::Error) -> AppError {
    AppError::from(sea_orm::DbErr::Query(sea_orm::RuntimeErr::SqlxError(
        std::sync::Arc::new(err),
    )))
}

pub(crate) async fn exec(tx: &mut Transaction<'_, Postgres>, sql: &str) -> Result<(), AppError> {
    // Statements here are constants, or built from catalog definitions and quoted names.
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(&mut **tx)
        .await
        .map_err(db_err)?;
    Ok(())
}

/// Statements that put back what [`drop_indexes_and_constraints`] removed.
#[derive(Default)]
pub(crate) struct Rebuild {
    /// Primary and unique keys: built first, so the checks of held-back rows can use them.
    pub(crate) keys: Vec<String>,
    /// Plain indexes, then foreign keys (which are checked against the loaded rows).
    pub(crate) rest: Vec<String>,
}

/// Drops `table`'s indexes and constraints, returning the statements that rebuild them.
///
/// The definitions come from the catalog, so the rebuilt table is exactly the
/// migrated one. The primary key stays when another table references it.
pub(crate) async fn drop_indexes_and_constraints(
    tx: &mut Transaction<'_, Postgres>,
    table: &'static str,
) -> Result<Rebuild, AppError> {
    let constraints = sqlx::query(
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
    .map_err(db_err)?;
    let indexes = sqlx::query(
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
    .map_err(db_err)?;

    let mut rebuild_keys = Vec::new();
    let mut rebuild_foreign = Vec::new();
    for row in &constraints {
        let name: String = row.try_get("name").map_err(db_err)?;
        let kind: String = row.try_get("kind").map_err(db_err)?;
        let definition: String = row.try_get("definition").map_err(db_err)?;
        exec(
            tx,
            &format!("ALTER TABLE {table} DROP CONSTRAINT \"{name}\""),
        )
        .await?;
        let add = format!("ALTER TABLE {table} ADD CONSTRAINT \"{name}\" {definition}");
        if kind == "f" {
            rebuild_foreign.push(add);
        } else {
            rebuild_keys.push(add);
        }
    }
    let mut rebuild_indexes = Vec::new();
    for row in &indexes {
        let name: String = row.try_get("name").map_err(db_err)?;
        let definition: String = row.try_get("definition").map_err(db_err)?;
        exec(tx, &format!("DROP INDEX \"{name}\"")).await?;
        rebuild_indexes.push(definition);
    }
    Ok(Rebuild {
        keys: rebuild_keys,
        rest: rebuild_indexes.into_iter().chain(rebuild_foreign).collect(),
    })
}

async fn log_rejected(tx: &mut Transaction<'_, Postgres>, source: &str) -> Result<(), AppError> {
    let mut rows = sqlx::query(LOG_REJECTED).bind(source).fetch(&mut **tx);
    while let Some(row) = rows.next().await {
        let row = row.map_err(db_err)?;
        let position: i64 = row.try_get("position").unwrap_or_default();
        let field: Option<String> = row.try_get("field").unwrap_or_default();
        let code: String = row.try_get("code").unwrap_or_default();
        let message: String = row.try_get("message").unwrap_or_default();
        tracing::warn!(source, position, field, code, message, "row rejected");
    }
    Ok(())
}

/// Where the encoder sends each row.
enum Routing {
    /// Every row to the staging table.
    AllStaged,
    /// Into an empty table: rows that are valid, name a known department and
    /// job, and carry an id not seen before go straight to `hired_employees`;
    /// every other row is spooled to a file and staged afterwards, where the
    /// SQL checks decide it against what was loaded.
    Direct {
        departments: HashSet<i32>,
        jobs: HashSet<i32>,
    },
}

/// The encoder's output: COPY chunks, and (when routing directly) the spooled rows.
struct Encoder {
    chunks: mpsc::Receiver<Result<Vec<u8>, std::io::Error>>,
    spool: tokio::task::JoinHandle<Result<(Option<File>, RollupDelta), std::io::Error>>,
}

/// Spooled rows of a direct load.
struct DirectLoad {
    departments: HashSet<i32>,
    jobs: HashSet<i32>,
    /// Ids of rows sent directly, and of rows held back for an unknown
    /// department or job: a later row with such an id must be checked in SQL,
    /// in file order.
    seen: RoaringBitmap,
    spool: BufWriter<File>,
    line: Vec<u8>,
    /// Rollup counts of the rows sent directly.
    delta: RollupDelta,
}

impl DirectLoad {
    fn route(&mut self, record: &RawRecord, chunk: &mut Vec<u8>) -> std::io::Result<()> {
        self.line.clear();
        match parse_hire_record(record) {
            Ok(row) => {
                let known = self.departments.contains(&row.department_id)
                    && self.jobs.contains(&row.job_id);
                let first = self.seen.insert(row.id as u32);
                if known && first {
                    encode_target(&row, chunk);
                    self.delta
                        .add(&row.hire_datetime, row.department_id, row.job_id);
                    return Ok(());
                }
                encode_valid(
                    record.position,
                    &row,
                    record.fields[2].trim(),
                    &mut self.line,
                );
            }
            Err(problem) => encode_problem(record, &problem, &mut self.line),
        }
        self.spool.write_all(&self.line)
    }
}

/// Parses records on a blocking thread and encodes them as COPY text, in bounded chunks.
fn spawn_encoder(
    input: Box<dyn Read + Send>,
    progress: Arc<ImportProgress>,
    routing: Routing,
) -> Encoder {
    let (sender, chunks) = mpsc::channel(4);
    let spool = tokio::task::spawn_blocking(move || {
        let mut direct = match routing {
            Routing::AllStaged => None,
            Routing::Direct { departments, jobs } => Some(DirectLoad {
                departments,
                jobs,
                seen: RoaringBitmap::new(),
                spool: BufWriter::new(tempfile::tempfile()?),
                line: Vec::new(),
                delta: RollupDelta::default(),
            }),
        };
        let mut records = CsvRecords::new(input);
        let mut chunk = Vec::with_capacity(CHUNK_BYTES + 4096);
        let mut rows_in_chunk = 0u64;
        loop {
            match records.next_record() {
                Ok(Some(record)) => {
                    match &mut direct {
                        Some(load) => load.route(&record, &mut chunk)?,
                        None => encode_record(&record, &mut chunk),
                    }
                    rows_in_chunk += 1;
                    if chunk.len() >= CHUNK_BYTES {
                        progress.add_rows(rows_in_chunk);
                        rows_in_chunk = 0;
                        let full =
                            std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK_BYTES + 4096));
                        if sender.blocking_send(Ok(full)).is_err() {
                            return Ok((None, RollupDelta::default()));
                        }
                    }
                }
                Ok(None) => break,
                Err(err) => {
                    let _ = sender.blocking_send(Err(err));
                    return Ok((None, RollupDelta::default()));
                }
            }
        }
        progress.add_rows(rows_in_chunk);
        if !chunk.is_empty() && sender.blocking_send(Ok(chunk)).is_err() {
            return Ok((None, RollupDelta::default()));
        }
        match direct {
            Some(load) => {
                let mut file = load.spool.into_inner().map_err(|err| err.into_error())?;
                file.rewind()?;
                Ok((Some(file), load.delta))
            }
            None => Ok((None, RollupDelta::default())),
        }
    });
    Encoder { chunks, spool }
}

/// One `hired_employees` row in COPY text format.
fn encode_target(row: &HireRow, out: &mut Vec<u8>) {
    let _ = write!(out, "{}\t", row.id);
    escape(&row.name, out);
    out.push(b'\t');
    encode_timestamp(row, out);
    let _ = writeln!(out, "\t{}\t{}", row.department_id, row.job_id);
}

fn encode_timestamp(row: &HireRow, out: &mut Vec<u8>) {
    let dt = row.hire_datetime;
    let _ = write!(
        out,
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:06}+00",
        dt.year(),
        dt.month(),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second(),
        dt.nanosecond() / 1_000
    );
}

/// One staging row in COPY text format.
fn encode_record(record: &RawRecord, out: &mut Vec<u8>) {
    match parse_hire_record(record) {
        Ok(row) => encode_valid(record.position, &row, record.fields[2].trim(), out),
        Err(problem) => encode_problem(record, &problem, out),
    }
}

/// A staging row refused while parsing: only its line, reason and raw text.
fn encode_problem(record: &RawRecord, problem: &Problem, out: &mut Vec<u8>) {
    let _ = write!(out, "{}\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t", record.position);
    escape(problem.code(), out);
    out.push(b'\t');
    match problem.field() {
        Some(field) => escape(field, out),
        None => out.extend_from_slice(b"\\N"),
    }
    out.push(b'\t');
    escape(problem.message(), out);
    out.push(b'\t');
    escape(&record.raw_text(), out);
    out.push(b'\n');
}

/// A staging row that parsed; the SQL checks decide it.
fn encode_valid(line: i64, row: &HireRow, raw_datetime: &str, out: &mut Vec<u8>) {
    let _ = write!(out, "{line}\t{}\t", row.id);
    escape(&row.name, out);
    out.push(b'\t');
    encode_timestamp(row, out);
    out.push(b'\t');
    escape(raw_datetime, out);
    let _ = writeln!(
        out,
        "\t{}\t{}\t\\N\t\\N\t\\N\t\\N",
        row.department_id, row.job_id
    );
}

/// Escapes a value for COPY's text format.
fn escape(value: &str, out: &mut Vec<u8>) {
    for byte in value.bytes() {
        match byte {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            other => out.push(other),
        }
    }
}
