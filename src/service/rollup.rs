//! Keeping the report rollup current: hires per year, department and job, per
//! month (`m1` to `m12`, in UTC). Quarters and years are sums of months.
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
//! the month arithmetic: once in Rust, once per SQL dialect.

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

/// The UTC year and month (1 to 12) of `hire_datetime` in PostgreSQL.
const POSTGRES_YEAR_MONTH: (&str, &str) = (
    "EXTRACT(YEAR FROM hire_datetime AT TIME ZONE 'UTC')::integer",
    "EXTRACT(MONTH FROM hire_datetime AT TIME ZONE 'UTC')::integer",
);

/// The UTC year and month (1 to 12) of `hire_datetime` in SQLite, which
/// stores every instant as UTC RFC 3339 text.
const SQLITE_YEAR_MONTH: (&str, &str) = (
    "CAST(substr(hire_datetime, 1, 4) AS INTEGER)",
    "CAST(substr(hire_datetime, 6, 2) AS INTEGER)",
);

/// The count columns of every rollup table: hires in January (`m1`) to December (`m12`).
pub const MONTHS: [&str; 12] = [
    "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "m9", "m10", "m11", "m12",
];

/// `f(month)` for every month column, joined with `", "` (or `" + "` for a sum).
fn each_month(separator: &str, f: impl Fn(&str) -> String) -> String {
    MONTHS.map(f).join(separator)
}

/// The hires of months `first..=last` (1 to 12) of the row `alias`, as one SQL
/// sum: quarters (`months_sum("r", 4, 6)`) and years (`1, 12`) are sums of months.
pub fn months_sum(alias: &str, first: usize, last: usize) -> String {
    let parts: Vec<String> = MONTHS[first - 1..last]
        .iter()
        .map(|m| format!("{alias}.{m}"))
        .collect();
    format!("({})", parts.join(" + "))
}

/// The compacted cells, as of the last fold.
const COMPACTED: &str = "hires_rollup";

/// The table writers append to.
const DELTAS: &str = "hires_rollup_delta";

/// The columns of a delta row, in the order every append writes them.
static DELTA_COLUMNS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "year, department_id, job_id, {}, changed_at",
        MONTHS.join(", ")
    )
});

/// Adds the rows of `source` (rows with `keys` and `m1` to `m12`), summed per
/// `keys`, to `table`, whose key is `keys`: the fold's one upsert, for the
/// cells and for both totals.
fn add_sums(source: &str, table: &str, keys: &str) -> String {
    format!(
        "INSERT INTO {table} ({keys}, {})
    SELECT {keys}, {}
    FROM {source} WHERE true
    GROUP BY {keys}
    ORDER BY {keys}
    ON CONFLICT ({keys}) DO UPDATE SET
    {}",
        MONTHS.join(", "),
        each_month(", ", |m| format!("SUM({m})")),
        each_month(", ", |m| format!("{m} = {table}.{m} + excluded.{m}")),
    )
}

/// Adds the rows of `source` (cells with `m1` to `m12`), summed per cell, to
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

/// Adds the rows of `source` (cells with `m1` to `m12`), summed per year and
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
    DELETE FROM {DELTAS} RETURNING {}
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
        *DELTA_COLUMNS,
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
pub static SUMMARY: LazyLock<String> = LazyLock::new(|| {
    let year = months_sum("t", 1, 12);
    format!(
        "SELECT
    (SELECT MAX(changed_at) FROM (
        SELECT hires_changed_at AS changed_at FROM report_state
        UNION ALL SELECT MAX(changed_at) FROM hires_rollup_delta) stamps) AS changed_at,
    CAST((SELECT COALESCE(SUM({year}), 0) FROM hires_rollup_department t)
       + (SELECT COALESCE(SUM({year}), 0) FROM hires_rollup_delta t) AS BIGINT) AS hires"
    )
});

/// The advisory lock that lets one compactor run at a time across instances.
const COMPACTOR_LOCK: i64 = 0x6869_7265_735f_7275; // "hires_ru"

/// Moves the stamp to `$1` unless it is newer already.
const STAMP_POSTGRES: &str = "UPDATE report_state SET hires_changed_at = $1
    WHERE hires_changed_at IS NULL OR hires_changed_at < $1";

/// Which part of the rollup a read needs: a span of years, and optionally
/// some departments or jobs. Each part of a report's rollup (compacted cells
/// or totals, pending deltas) is narrowed on its own: neither backend pushes
/// a filter through a join or a GROUP BY.
#[derive(Debug, Clone, Copy, Default)]
pub struct Narrowing<'a> {
    /// The first and last year, both included; all years when `None`.
    pub years: Option<(i32, i32)>,
    /// Only these departments, when given.
    pub department_ids: Option<&'a [i32]>,
    /// Only these jobs, when given.
    pub job_ids: Option<&'a [i32]>,
}

impl Narrowing<'_> {
    /// One year, every department and job.
    pub fn year(year: i32) -> Self {
        Self {
            years: Some((year, year)),
            ..Self::default()
        }
    }

    /// One year or all years, every department and job.
    pub fn year_or_all(year: Option<i32>) -> Self {
        year.map_or_else(Self::default, Self::year)
    }

    /// Adds this narrowing's conditions to `select`, which reads a table
    /// holding `columns`. A filter on ids the table does not hold is a bug of
    /// the caller, which must read the cells instead.
    fn narrow(&self, select: &mut SelectStatement, columns: &[&str]) {
        let year = Expr::col(Alias::new("year"));
        match self.years {
            Some((first, last)) if first == last => select.and_where(year.eq(first)),
            Some((first, last)) => select.and_where(year.between(first, last)),
            None => select,
        };
        let filters = [
            ("department_id", self.department_ids),
            ("job_id", self.job_ids),
        ];
        for (column, ids) in filters {
            let Some(ids) = ids else { continue };
            debug_assert!(columns.contains(&column), "{column} is not in {columns:?}");
            select.and_where(Expr::col(Alias::new(column)).is_in(ids.iter().copied()));
        }
    }
}

/// `by`'s totals as committed: the compacted totals and the pending deltas,
/// not added up (columns `year`, `by.key()` and `m1` to `m12`; an id may
/// come more than once). `narrowing` may only filter `by`'s own ids.
pub fn totals_rows(by: HiresBy, narrowing: &Narrowing) -> SelectStatement {
    let mut columns = vec!["year", by.key()];
    columns.extend(MONTHS);
    let mut rows = columns_in(by.totals(), &columns, narrowing);
    rows.union(UnionType::All, columns_in(DELTAS, &columns, narrowing));
    rows
}

/// `columns` of `table`, narrowed.
fn columns_in(table: &str, columns: &[&str], narrowing: &Narrowing) -> SelectStatement {
    let mut select = Query::select();
    select
        .columns(columns.iter().copied().map(Alias::new))
        .from(Alias::new(table));
    narrowing.narrow(&mut select, columns);
    select
}

/// The key of a rollup cell, compacted or pending.
const CELL_KEY: [&str; 3] = ["year", "department_id", "job_id"];

/// The deltas summed per cell, narrowed.
fn pending_cells(narrowing: &Narrowing) -> SelectStatement {
    let mut pending = Query::select();
    pending
        .columns(CELL_KEY.map(Alias::new))
        .from(Alias::new(DELTAS))
        .group_by_columns(CELL_KEY.map(Alias::new));
    for month in MONTHS {
        pending.expr_as(
            Expr::cust(format!("CAST(SUM({month}) AS BIGINT)")),
            Alias::new(month),
        );
    }
    narrowing.narrow(&mut pending, &CELL_KEY);
    pending
}

/// The rollup as committed: per year, department and job, the compacted
/// cell plus its pending deltas, narrowed. Every report selects
/// from it or from [`totals_rows`] (as a subquery), never from one table alone.
///
/// Only the deltas, usually few, are summed; the compacted cells are joined
/// to them as they are, so a report pays little for the deltas.
pub fn current_cells(narrowing: &Narrowing) -> SelectStatement {
    let (compacted, pending) = (Alias::new("c"), Alias::new("p"));
    let mut columns = CELL_KEY.to_vec();
    columns.extend(MONTHS);
    let compacted_cells = columns_in(COMPACTED, &columns, narrowing);
    let mut cells = Query::select();
    for column in CELL_KEY {
        cells.expr_as(
            Expr::cust(format!("COALESCE(c.{column}, p.{column})")),
            Alias::new(column),
        );
    }
    for month in MONTHS {
        cells.expr_as(
            Expr::cust(format!("COALESCE(c.{month}, 0) + COALESCE(p.{month}, 0)")),
            Alias::new(month),
        );
    }
    let same_cell = CELL_KEY.iter().fold(Condition::all(), |all, column| {
        all.add(
            Expr::col((compacted.clone(), Alias::new(*column)))
                .equals((pending.clone(), Alias::new(*column))),
        )
    });
    cells
        .from_subquery(compacted_cells, compacted)
        .join_subquery(
            JoinType::FullOuterJoin,
            pending_cells(narrowing),
            pending,
            same_cell,
        );
    cells
}

/// The year and month (1 to 12) of an instant, in UTC.
pub fn year_month(at: &DateTime<Utc>) -> (i32, u32) {
    (at.year(), at.month())
}

/// The tables a restore empties and rebuilds, so no delta of the old data
/// survives it: the deltas first, in the order the compactor's fold locks them.
pub const ROLLUP_TABLES: [&str; 4] = [
    DELTAS,
    COMPACTED,
    "hires_rollup_department",
    "hires_rollup_job",
];

/// The statements that fill an empty rollup from every stored hire (after a
/// restore): the cells, then both totals from the cells.
pub fn rebuild_sql(backend: DbBackend) -> Vec<String> {
    let mut statements = vec![rebuild_cells_sql(backend)];
    statements.extend(HiresBy::ALL.map(|by| add_to_totals(COMPACTED, by)));
    statements
}

/// `SELECT year, department_id, job_id, <hires per month>` over the hires of
/// `source` (with `hire_datetime`, `department_id` and `job_id`), one row per
/// cell with hires, then `extra` columns.
fn count_per_cell(backend: DbBackend, source: &str, extra: &str) -> String {
    let (year, month) = match backend {
        DbBackend::Postgres => POSTGRES_YEAR_MONTH,
        _ => SQLITE_YEAR_MONTH,
    };
    let counts: Vec<String> = (1..=12)
        .map(|m| format!("count(*) FILTER (WHERE month = {m})"))
        .collect();
    format!(
        "SELECT year, department_id, job_id, {}{extra}
    FROM (SELECT {year} AS year, {month} AS month, department_id, job_id
          FROM {source}) parts
    GROUP BY 1, 2, 3",
        counts.join(", ")
    )
}

/// Fills an empty `hires_rollup` from every stored hire.
fn rebuild_cells_sql(backend: DbBackend) -> String {
    format!(
        "INSERT INTO {COMPACTED} (year, department_id, job_id, {})
    {}",
        MONTHS.join(", "),
        count_per_cell(backend, "hired_employees", "")
    )
}

/// PostgreSQL: appends the hires of `source` (a table or CTE with
/// `hire_datetime`, `department_id` and `job_id`) as deltas stamped `$1`.
pub fn postgres_add_from(source: &str) -> String {
    format!(
        "INSERT INTO {DELTAS} ({})
    {}",
        *DELTA_COLUMNS,
        count_per_cell(DbBackend::Postgres, source, ", $1")
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
    let months: Vec<String> = (4..=15).map(|n| format!("${n}::bigint[]")).collect();
    let sql = format!(
        "INSERT INTO {DELTAS} ({})
    SELECT *, $16 FROM UNNEST($1::integer[], $2::integer[], $3::integer[], {})",
        *DELTA_COLUMNS,
        months.join(", ")
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(columns.years)
        .bind(columns.department_ids)
        .bind(columns.job_ids);
    for month in columns.months {
        query = query.bind(month);
    }
    query
        .bind(now())
        .execute(&mut **tx)
        .await
        .map_err(sqlx_error)?;
    Ok(())
}

/// PostgreSQL: waits for a fold in progress on any instance and keeps others
/// from starting until the transaction ends, so a transaction that then locks
/// the rollup tables cannot deadlock with a fold (which locks the deltas, then
/// the rollup).
pub async fn postgres_hold_compactor(tx: &mut Transaction<'_, Postgres>) -> Result<(), AppError> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT pg_advisory_xact_lock({COMPACTOR_LOCK})"
    )))
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
    cells: BTreeMap<(i32, i32, i32), [i64; 12]>,
}

impl RollupDelta {
    /// Counts one new hire.
    pub fn add(&mut self, at: &DateTime<Utc>, department_id: i32, job_id: i32) {
        let (year, month) = year_month(at);
        self.cells.entry((year, department_id, job_id)).or_default()[month as usize - 1] += 1;
    }

    /// True when no hire was counted.
    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    /// The cells as parallel columns, for an `UNNEST` insert.
    pub fn columns(&self) -> RollupColumns {
        let mut columns = RollupColumns::default();
        for ((year, department, job), months) in &self.cells {
            columns.years.push(*year);
            columns.department_ids.push(*department);
            columns.job_ids.push(*job);
            for (column, hires) in columns.months.iter_mut().zip(months) {
                column.push(*hires);
            }
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
    /// Hires to add per month, January first.
    pub months: [Vec<i64>; 12],
}

/// Appends `delta` as deltas stamped now, in the caller's transaction.
pub async fn apply(txn: &impl ConnectionTrait, delta: &RollupDelta) -> Result<(), DbErr> {
    if delta.is_empty() {
        return Ok(());
    }
    let stamp = now();
    let cells: Vec<_> = delta.cells.iter().collect();
    let columns: Vec<Alias> = DELTA_COLUMNS.split(", ").map(Alias::new).collect();
    for chunk in cells.chunks(500) {
        let mut append = Query::insert();
        append
            .into_table(Alias::new(DELTAS))
            .columns(columns.clone());
        for ((year, department_id, job_id), months) in chunk {
            let mut row: Vec<Expr> =
                vec![(*year).into(), (*department_id).into(), (*job_id).into()];
            row.extend(months.iter().map(|hires| Expr::from(*hires)));
            row.push(stamp.into());
            append.values_panic(row);
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
    let statement = Statement::from_string(db.get_database_backend(), SUMMARY.as_str());
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
