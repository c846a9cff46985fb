//! Keeping the report rollup current: hires per year, department and job, per quarter.
//!
//! Every write that adds hires appends the same counts to `hires_rollup_delta`,
//! stamped with the write's time, in its own transaction. Appends never
//! conflict, so concurrent writers never wait on each other here. Reports read
//! the compacted `hires_rollup` plus the
//! pending deltas (added up by [`current_cells`]), so after every commit they
//! equal the raw aggregate; the report time `asOf` is the latest stamp, folded
//! or pending.
//!
//! [`compact`] folds the deltas into `hires_rollup`, into its per-department
//! and per-job totals (`hires_rollup_department`, `hires_rollup_job`), and
//! their latest stamp into `report_state`: one compactor at a time, in one
//! transaction (on PostgreSQL
//! one statement, so one snapshot), so a compaction stopped at any point
//! leaves everything as it was.
//!
//! This module owns every statement that writes the rollup or the stamps, and
//! the quarter arithmetic: once in Rust, once per SQL dialect.

use std::{collections::BTreeMap, sync::LazyLock};

use chrono::{DateTime, Datelike, DurationRound, TimeDelta, Utc};
use entity::report_state;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait,
    QueryFilter, Statement, TransactionTrait,
    sea_query::{Alias, Expr, ExprTrait, JoinType, Query, SelectStatement, UnionType},
    sqlx::{self, Postgres, Transaction},
};

use crate::{
    db::{begin_write, postgres::sqlx_error},
    error::AppError,
};

/// The UTC year and quarter of `hire_datetime` in PostgreSQL.
const POSTGRES_YEAR_QUARTER: (&str, &str) = (
    "EXTRACT(YEAR FROM hire_datetime AT TIME ZONE 'UTC')::integer",
    "EXTRACT(QUARTER FROM hire_datetime AT TIME ZONE 'UTC')::integer",
);

/// The UTC year and quarter of `hire_datetime` in SQLite, which stores every
/// instant as UTC RFC 3339 text.
const SQLITE_YEAR_QUARTER: (&str, &str) = (
    "CAST(substr(hire_datetime, 1, 4) AS INTEGER)",
    "(CAST(substr(hire_datetime, 6, 2) AS INTEGER) + 2) / 3",
);

/// The compacted cells, as of the last fold.
const COMPACTED: &str = "hires_rollup";

/// The table writers append to.
const DELTAS: &str = "hires_rollup_delta";

/// The columns of a delta row, in the order every append writes them.
const DELTA_COLUMNS: &str = "year, department_id, job_id, q1, q2, q3, q4, changed_at";

/// Adds the rows of `source` (rows with `keys` and `q1` to `q4`), summed per
/// `keys`, to `table`, whose key is `keys`: the fold's one upsert, for the
/// cells and for both totals.
fn add_sums(source: &str, table: &str, keys: &str) -> String {
    format!(
        "INSERT INTO {table} ({keys}, q1, q2, q3, q4)
    SELECT {keys}, SUM(q1), SUM(q2), SUM(q3), SUM(q4)
    FROM {source} WHERE true
    GROUP BY {keys}
    ORDER BY {keys}
    ON CONFLICT ({keys}) DO UPDATE SET
    q1 = {table}.q1 + excluded.q1, q2 = {table}.q2 + excluded.q2,
    q3 = {table}.q3 + excluded.q3, q4 = {table}.q4 + excluded.q4"
    )
}

/// Adds the rows of `source` (cells with `q1` to `q4`), summed per cell, to
/// the compacted cells.
fn add_to_compacted(source: &str) -> String {
    add_sums(source, COMPACTED, "year, department_id, job_id")
}

/// Which coarser grain of the rollup a count is grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HiresBy {
    /// Per department.
    Department,
    /// Per job.
    Job,
}

impl HiresBy {
    /// Both grains.
    const ALL: [HiresBy; 2] = [HiresBy::Department, HiresBy::Job];

    /// The id column of a cell that this grain groups by.
    pub fn key(self) -> &'static str {
        match self {
            HiresBy::Department => "department_id",
            HiresBy::Job => "job_id",
        }
    }

    /// The table of compacted totals per year and this grain's id.
    fn totals(self) -> &'static str {
        match self {
            HiresBy::Department => "hires_rollup_department",
            HiresBy::Job => "hires_rollup_job",
        }
    }
}

/// Adds the rows of `source` (cells with `q1` to `q4`), summed per year and
/// `by`'s id, to `by`'s compacted totals.
fn add_to_totals(source: &str, by: HiresBy) -> String {
    add_sums(source, by.totals(), &format!("year, {}", by.key()))
}

/// Moves the folded stamp to the latest `changed_at` of `source`, unless it is newer already.
fn restamp_from(source: &str) -> String {
    format!(
        "UPDATE report_state SET hires_changed_at = (SELECT MAX(changed_at) FROM {source})
    WHERE EXISTS (SELECT 1 FROM {source})
      AND (hires_changed_at IS NULL
           OR hires_changed_at < (SELECT MAX(changed_at) FROM {source}))"
    )
}

/// SQLite: the fold's steps, in one write transaction (the only writer): add
/// the deltas to the compacted cells and to both totals, move the stamp, and
/// last remove the deltas.
static FOLD_SQLITE: LazyLock<[String; 5]> = LazyLock::new(|| {
    [
        add_to_compacted(DELTAS),
        add_to_totals(DELTAS, HiresBy::Department),
        add_to_totals(DELTAS, HiresBy::Job),
        restamp_from(DELTAS),
        format!("DELETE FROM {DELTAS}"),
    ]
});

/// PostgreSQL: the whole fold in one statement, so in one snapshot: removes
/// the deltas it sees, adds exactly those to the compacted cells and totals
/// and moves the stamp, and returns how many it folded. A writer's rows committed meanwhile
/// are not in the snapshot and stay for the next fold.
static FOLD_POSTGRES: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH moved AS (
    DELETE FROM {DELTAS} RETURNING {DELTA_COLUMNS}
), folded AS (
    {}
), per_department AS (
    {}
), per_job AS (
    {}
), stamped AS (
    {}
)
SELECT COUNT(*) AS folded FROM moved",
        add_to_compacted("moved"),
        add_to_totals("moved", HiresBy::Department),
        add_to_totals("moved", HiresBy::Job),
        restamp_from("moved"),
    )
});

/// The committed rollup in brief, one row, in one snapshot: when hires last
/// changed (`changed_at`: the latest stamp, folded or pending) and how many
/// hires there are (`hires`: the compacted per-department totals plus the
/// pending deltas).
pub const SUMMARY: &str = "SELECT
    (SELECT MAX(changed_at) FROM (
        SELECT hires_changed_at AS changed_at FROM report_state
        UNION ALL SELECT MAX(changed_at) FROM hires_rollup_delta) stamps) AS changed_at,
    CAST((SELECT COALESCE(SUM(q1 + q2 + q3 + q4), 0) FROM hires_rollup_department)
       + (SELECT COALESCE(SUM(q1 + q2 + q3 + q4), 0) FROM hires_rollup_delta) AS BIGINT) AS hires";

/// The advisory lock that lets one compactor run at a time across instances.
const COMPACTOR_LOCK: i64 = 0x6869_7265_735f_7275; // "hires_ru"

/// Moves the stamp to `$1` unless it is newer already.
const STAMP_POSTGRES: &str = "UPDATE report_state SET hires_changed_at = $1
    WHERE hires_changed_at IS NULL OR hires_changed_at < $1";

/// `by`'s totals as committed, for one year or all: the compacted totals and
/// the pending deltas, not added up (columns `year`, `by.key()` and `q1` to
/// `q4`; an id may come more than once).
pub fn totals_rows(by: HiresBy, year: Option<i32>) -> SelectStatement {
    let columns = ["year", by.key(), "q1", "q2", "q3", "q4"];
    let mut rows = columns_in(by.totals(), &columns, year);
    rows.union(UnionType::All, columns_in(DELTAS, &columns, year));
    rows
}

/// The cell columns of `table` (the compacted cells or the deltas), in `year` or all years.
fn cells_in(table: &str, year: Option<i32>) -> SelectStatement {
    columns_in(table, &CELL_COLUMNS, year)
}

/// `columns` of `table`, in `year` or all years.
fn columns_in(table: &str, columns: &[&str], year: Option<i32>) -> SelectStatement {
    let mut select = Query::select();
    select
        .columns(columns.iter().copied().map(Alias::new))
        .from(Alias::new(table));
    in_year(&mut select, year);
    select
}

/// Narrows `select` to `year`, if one is given. Each part of a report's rollup
/// gets its own: neither backend pushes it through a join or a GROUP BY.
fn in_year(select: &mut SelectStatement, year: Option<i32>) {
    if let Some(year) = year {
        select.and_where(Expr::col(Alias::new("year")).eq(year));
    }
}

/// The columns of a rollup cell, compacted or pending.
const CELL_COLUMNS: [&str; 7] = ["year", "department_id", "job_id", "q1", "q2", "q3", "q4"];

/// The rollup as committed: per year, department and job, the compacted
/// cell plus its pending deltas, for one year or all. Every report selects
/// from it or from [`totals_rows`] (as a subquery), never from one table alone.
///
/// Only the deltas, usually few, are summed; the compacted cells are joined
/// to them as they are, so a report pays little for the deltas.
pub fn current_cells(year: Option<i32>) -> SelectStatement {
    let key = ["year", "department_id", "job_id"];
    let quarters = ["q1", "q2", "q3", "q4"];
    let (compacted, pending) = (Alias::new("c"), Alias::new("p"));
    let compacted_cells = cells_in(COMPACTED, year);
    let mut pending_cells = Query::select();
    pending_cells
        .columns(key.map(Alias::new))
        .from(Alias::new(DELTAS))
        .group_by_columns(key.map(Alias::new));
    for quarter in quarters {
        pending_cells.expr_as(
            Expr::cust(format!("CAST(SUM({quarter}) AS BIGINT)")),
            Alias::new(quarter),
        );
    }
    in_year(&mut pending_cells, year);
    let mut cells = Query::select();
    for column in key {
        cells.expr_as(
            Expr::cust(format!("COALESCE(c.{column}, p.{column})")),
            Alias::new(column),
        );
    }
    for quarter in quarters {
        cells.expr_as(
            Expr::cust(format!(
                "COALESCE(c.{quarter}, 0) + COALESCE(p.{quarter}, 0)"
            )),
            Alias::new(quarter),
        );
    }
    let same_cell = key.iter().fold(Condition::all(), |all, column| {
        all.add(
            Expr::col((compacted.clone(), Alias::new(*column)))
                .equals((pending.clone(), Alias::new(*column))),
        )
    });
    cells
        .from_subquery(compacted_cells, compacted)
        .join_subquery(JoinType::FullOuterJoin, pending_cells, pending, same_cell);
    cells
}

/// The year and quarter (1 to 4) of an instant, in UTC.
pub fn year_quarter(at: &DateTime<Utc>) -> (i32, i16) {
    (at.year(), at.month().div_ceil(3) as i16)
}

/// The tables a restore empties and rebuilds, so no delta of the old data survives it.
pub const ROLLUP_TABLES: [&str; 4] = [
    COMPACTED,
    "hires_rollup_department",
    "hires_rollup_job",
    DELTAS,
];

/// The statements that fill an empty rollup from every stored hire (after a
/// restore): the cells, then both totals from the cells.
pub fn rebuild_sql(backend: DbBackend) -> Vec<String> {
    let mut statements = vec![rebuild_cells_sql(backend)];
    statements.extend(HiresBy::ALL.map(|by| add_to_totals(COMPACTED, by)));
    statements
}

/// Fills an empty `hires_rollup` from every stored hire.
fn rebuild_cells_sql(backend: DbBackend) -> String {
    let (year, quarter) = match backend {
        DbBackend::Postgres => POSTGRES_YEAR_QUARTER,
        _ => SQLITE_YEAR_QUARTER,
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

/// PostgreSQL: appends the hires of `source` (a table or CTE with
/// `hire_datetime`, `department_id` and `job_id`) as deltas stamped `$1`.
pub fn postgres_add_from(source: &str) -> String {
    let (year, quarter) = POSTGRES_YEAR_QUARTER;
    format!(
        "INSERT INTO {DELTAS} ({DELTA_COLUMNS})
    SELECT year, department_id, job_id,
           count(*) FILTER (WHERE quarter = 1), count(*) FILTER (WHERE quarter = 2),
           count(*) FILTER (WHERE quarter = 3), count(*) FILTER (WHERE quarter = 4), $1
    FROM (SELECT {year} AS year, {quarter} AS quarter, department_id, job_id
          FROM {source}) parts
    GROUP BY 1, 2, 3"
    )
}

/// PostgreSQL: appends counts gathered in Rust as deltas, in the caller's transaction.
pub async fn postgres_apply(
    tx: &mut Transaction<'_, Postgres>,
    delta: &RollupDelta,
) -> Result<(), AppError> {
    if delta.is_empty() {
        return Ok(());
    }
    let columns = delta.columns();
    let sql = format!(
        "INSERT INTO {DELTAS} ({DELTA_COLUMNS})
    SELECT *, $8 FROM UNNEST($1::integer[], $2::integer[], $3::integer[],
                             $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[])"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(columns.years)
        .bind(columns.department_ids)
        .bind(columns.job_ids)
        .bind(columns.q1)
        .bind(columns.q2)
        .bind(columns.q3)
        .bind(columns.q4)
        .bind(now())
        .execute(&mut **tx)
        .await
        .map_err(sqlx_error)?;
    Ok(())
}

/// PostgreSQL: stamps `report_state.hires_changed_at` with the current time
/// (after a restore, which empties the deltas); it never moves back.
pub async fn postgres_mark_hires_changed(
    tx: &mut Transaction<'_, Postgres>,
) -> Result<(), AppError> {
    sqlx::query(STAMP_POSTGRES)
        .bind(now())
        .execute(&mut **tx)
        .await
        .map_err(sqlx_error)?;
    Ok(())
}

/// The current time at the precision both backends store.
pub fn now() -> DateTime<Utc> {
    let now = Utc::now();
    now.duration_trunc(TimeDelta::microseconds(1))
        .unwrap_or(now)
}

/// New hires per rollup cell, gathered before they are added.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RollupDelta {
    /// Sorted, so appends and reports see cells in one order.
    cells: BTreeMap<(i32, i32, i32), [i64; 4]>,
}

impl RollupDelta {
    /// Counts one new hire.
    pub fn add(&mut self, at: &DateTime<Utc>, department_id: i32, job_id: i32) {
        let (year, quarter) = year_quarter(at);
        self.cells.entry((year, department_id, job_id)).or_default()[quarter as usize - 1] += 1;
    }

    /// True when no hire was counted.
    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    /// The cells as parallel columns, for an `UNNEST` insert.
    pub fn columns(&self) -> RollupColumns {
        let mut columns = RollupColumns::default();
        for ((year, department, job), quarters) in &self.cells {
            columns.years.push(*year);
            columns.department_ids.push(*department);
            columns.job_ids.push(*job);
            columns.q1.push(quarters[0]);
            columns.q2.push(quarters[1]);
            columns.q3.push(quarters[2]);
            columns.q4.push(quarters[3]);
        }
        columns
    }
}

/// Rollup cells as parallel columns.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RollupColumns {
    /// Years.
    pub years: Vec<i32>,
    /// Department ids.
    pub department_ids: Vec<i32>,
    /// Job ids.
    pub job_ids: Vec<i32>,
    /// Hires to add in the first quarter.
    pub q1: Vec<i64>,
    /// Hires to add in the second quarter.
    pub q2: Vec<i64>,
    /// Hires to add in the third quarter.
    pub q3: Vec<i64>,
    /// Hires to add in the fourth quarter.
    pub q4: Vec<i64>,
}

/// Appends `delta` as deltas stamped now, in the caller's transaction.
pub async fn apply(txn: &impl ConnectionTrait, delta: &RollupDelta) -> Result<(), DbErr> {
    if delta.is_empty() {
        return Ok(());
    }
    let stamp = now();
    let cells: Vec<_> = delta.cells.iter().collect();
    for chunk in cells.chunks(1_000) {
        let mut append = Query::insert();
        append.into_table(Alias::new(DELTAS)).columns(
            DELTA_COLUMNS
                .split(", ")
                .map(Alias::new)
                .collect::<Vec<_>>(),
        );
        for ((year, department_id, job_id), [q1, q2, q3, q4]) in chunk {
            append.values_panic([
                (*year).into(),
                (*department_id).into(),
                (*job_id).into(),
                (*q1).into(),
                (*q2).into(),
                (*q3).into(),
                (*q4).into(),
                stamp.into(),
            ]);
        }
        txn.execute(&append).await?;
    }
    Ok(())
}

/// Stamps `report_state.hires_changed_at` with the current time (after a
/// restore, which empties the deltas); it never moves back.
pub async fn mark_hires_changed(txn: &impl ConnectionTrait) -> Result<(), DbErr> {
    let now = now();
    report_state::Entity::update_many()
        .col_expr(report_state::Column::HiresChangedAt, Expr::value(now))
        .filter(
            Condition::any()
                .add(report_state::Column::HiresChangedAt.is_null())
                .add(report_state::Column::HiresChangedAt.lt(now)),
        )
        .exec(txn)
        .await?;
    Ok(())
}

/// When hires last changed, or `None` before any were stored.
pub async fn changed_at(db: &impl ConnectionTrait) -> Result<Option<DateTime<Utc>>, DbErr> {
    let statement = Statement::from_string(db.get_database_backend(), SUMMARY);
    match db.query_one_raw(statement).await? {
        Some(row) => row.try_get("", "changed_at"),
        None => Ok(None),
    }
}

/// What one call of [`compact`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compaction {
    /// Nothing was pending.
    Idle,
    /// Another compactor holds the lock; it will fold what is pending.
    Busy,
    /// This many delta rows were folded.
    Folded(u64),
}

/// True when deltas wait to be folded.
pub async fn pending(db: &impl ConnectionTrait) -> Result<bool, DbErr> {
    let statement = Statement::from_string(
        db.get_database_backend(),
        "SELECT 1 AS pending FROM hires_rollup_delta LIMIT 1",
    );
    Ok(db.query_one_raw(statement).await?.is_some())
}

/// Folds every committed delta into `hires_rollup` and its latest stamp into
/// `report_state`, then removes it, in one transaction: readers see the
/// deltas either pending or folded, never both or neither, and a compaction
/// stopped at any point changes nothing.
///
/// On PostgreSQL one compactor runs at a time (an advisory lock; the others
/// return [`Compaction::Busy`]), and writers go on appending meanwhile: their
/// rows are not in the fold's snapshot and wait for the next one. On SQLite
/// the fold holds the write lock.
pub async fn compact(db: &DatabaseConnection) -> Result<Compaction, DbErr> {
    if !pending(db).await? {
        return Ok(Compaction::Idle);
    }
    if db.get_database_backend() == DbBackend::Postgres {
        let txn = db.begin().await?;
        if !try_lock_compactor(&txn).await? {
            return Ok(Compaction::Busy);
        }
        let statement = Statement::from_string(DbBackend::Postgres, FOLD_POSTGRES.as_str());
        let row = txn.query_one_raw(statement).await?;
        let folded: i64 = row.map_or(Ok(0), |row| row.try_get("", "folded"))?;
        txn.commit().await?;
        return Ok(Compaction::Folded(folded as u64));
    }
    let txn = begin_write(db).await?;
    let Some((remove, fold)) = FOLD_SQLITE.split_last() else {
        unreachable!("the fold has steps");
    };
    for step in fold {
        txn.execute_unprepared(step).await?;
    }
    let folded = txn.execute_unprepared(remove).await?.rows_affected();
    txn.commit().await?;
    Ok(Compaction::Folded(folded))
}

/// PostgreSQL: takes the compactor's lock until the transaction ends, if free.
async fn try_lock_compactor(txn: &impl ConnectionTrait) -> Result<bool, DbErr> {
    let statement = Statement::from_string(
        DbBackend::Postgres,
        format!("SELECT pg_try_advisory_xact_lock({COMPACTOR_LOCK}) AS locked"),
    );
    let row = txn.query_one_raw(statement).await?;
    row.map_or(Ok(false), |row| row.try_get("", "locked"))
}
