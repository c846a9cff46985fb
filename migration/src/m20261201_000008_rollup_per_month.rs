//! The rollup per month instead of per quarter.
//!
//! Trend reports read hires per month; quarters and years are sums of months.
//! The four rollup tables (`hires_rollup`, its per-department and per-job
//! totals, and the pending deltas) trade `q1`..`q4` for `m1`..`m12`.
//!
//! The rollup is derived data, so the tables are recreated and filled again
//! from `hired_employees`, in one transaction: writers, the compactor and
//! report readers wait until it commits (it takes a few seconds per million
//! hires). The stamp of the pending deltas is folded into `report_state`
//! first, so `asOf` never moves back, and readers see the old rollup or the
//! new one, never a part of either.
//!
//! `down` does the same the other way. Both are frozen copies: the runtime's
//! statements live in the server's rollup module, and a migration must never
//! change because runtime code did.

use sea_orm_migration::{prelude::*, sea_orm::DatabaseBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The advisory lock the server's compactor holds while it folds (frozen copy).
const COMPACTOR_LOCK: i64 = 0x6869_7265_735f_7275;

/// The compacted totals: name and the id column they are keyed by with the year.
const TOTALS: [(&str, &str); 2] = [
    ("hires_rollup_department", "department_id"),
    ("hires_rollup_job", "job_id"),
];

/// The columns one grain counts into, and which of them a month (1 to 12) goes to.
struct Grain {
    columns: Vec<String>,
    bucket_of_month: fn(u32) -> usize,
}

impl Grain {
    fn months() -> Self {
        Self {
            columns: (1..=12).map(|m| format!("m{m}")).collect(),
            bucket_of_month: |month| month as usize - 1,
        }
    }

    fn quarters() -> Self {
        Self {
            columns: (1..=4).map(|q| format!("q{q}")).collect(),
            bucket_of_month: |month| (month as usize - 1) / 3,
        }
    }

    fn list(&self) -> String {
        self.columns.join(", ")
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        regrain(manager, &Grain::months()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        regrain(manager, &Grain::quarters()).await
    }
}

/// Recreates the four rollup tables counting per `grain`, filled from every hire.
async fn regrain(manager: &SchemaManager<'_>, grain: &Grain) -> Result<(), DbErr> {
    let db = manager.get_connection();
    let postgres = manager.get_database_backend() == DatabaseBackend::Postgres;
    if postgres {
        // In the order writers and the compactor take them: hires, then the
        // compactor's advisory lock ("hires_ru"), then the deltas before the
        // rollup. Writers, the compactor and readers wait until the commit.
        db.execute_unprepared(&format!(
            "LOCK TABLE hired_employees IN SHARE MODE;
             SELECT pg_advisory_xact_lock({COMPACTOR_LOCK});
             LOCK TABLE hires_rollup_delta, hires_rollup, hires_rollup_department,
                        hires_rollup_job IN ACCESS EXCLUSIVE MODE"
        ))
        .await?;
    }
    db.execute_unprepared(
        "UPDATE report_state SET hires_changed_at = (SELECT MAX(changed_at) FROM hires_rollup_delta)
         WHERE EXISTS (SELECT 1 FROM hires_rollup_delta)
           AND (hires_changed_at IS NULL
                OR hires_changed_at < (SELECT MAX(changed_at) FROM hires_rollup_delta))",
    )
    .await?;
    for table in [
        "hires_rollup",
        "hires_rollup_department",
        "hires_rollup_job",
        "hires_rollup_delta",
    ] {
        manager
            .drop_table(Table::drop().table(Alias::new(table)).to_owned())
            .await?;
    }
    create_tables(manager, grain, postgres).await?;
    db.execute_unprepared(&backfill_sql(manager.get_database_backend(), grain))
        .await?;
    for (table, key) in TOTALS {
        db.execute_unprepared(&format!(
            "INSERT INTO {table} (year, {key}, {})
             SELECT year, {key}, {} FROM hires_rollup GROUP BY year, {key}",
            grain.list(),
            grain
                .columns
                .iter()
                .map(|c| format!("SUM({c})"))
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .await?;
    }
    Ok(())
}

/// Creates the cells, both totals and the deltas, as earlier migrations did, per `grain`.
async fn create_tables(
    manager: &SchemaManager<'_>,
    grain: &Grain,
    postgres: bool,
) -> Result<(), DbErr> {
    let id = |name: &str| {
        ColumnDef::new(Alias::new(name))
            .integer()
            .not_null()
            .to_owned()
    };
    let with_counts = |table: &mut TableCreateStatement, default: bool| {
        for column in &grain.columns {
            let mut count = ColumnDef::new(Alias::new(column));
            count.big_integer().not_null();
            if default {
                count.default(0);
            }
            table.col(count);
        }
    };
    let mut cells = Table::create();
    cells
        .table(Alias::new("hires_rollup"))
        .col(id("year"))
        .col(id("department_id"))
        .col(id("job_id"));
    with_counts(&mut cells, false);
    cells.primary_key(
        Index::create()
            .col(Alias::new("year"))
            .col(Alias::new("department_id"))
            .col(Alias::new("job_id")),
    );
    manager.create_table(cells).await?;
    for (table, key) in TOTALS {
        let mut totals = Table::create();
        totals.table(Alias::new(table)).col(id("year")).col(id(key));
        with_counts(&mut totals, false);
        totals.primary_key(Index::create().col(Alias::new("year")).col(Alias::new(key)));
        manager.create_table(totals).await?;
    }
    // No key and no index: appends stay cheap, and the compactor takes every
    // visible row at once.
    let mut deltas = Table::create();
    deltas
        .table(Alias::new("hires_rollup_delta"))
        .col(id("year"))
        .col(id("department_id"))
        .col(id("job_id"));
    with_counts(&mut deltas, true);
    deltas.col(
        ColumnDef::new(Alias::new("changed_at"))
            .timestamp_with_time_zone()
            .not_null(),
    );
    manager.create_table(deltas).await?;
    if postgres {
        manager
            .get_connection()
            .execute_unprepared(
                "ALTER TABLE hires_rollup_delta SET (
                    autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 5000,
                    autovacuum_vacuum_insert_scale_factor = 0,
                    autovacuum_vacuum_insert_threshold = 5000)",
            )
            .await?;
    }
    Ok(())
}

/// Fills an empty `hires_rollup` from `hired_employees`, counting each hire
/// into its `grain` column by its UTC month.
fn backfill_sql(backend: DatabaseBackend, grain: &Grain) -> String {
    let (year, month) = match backend {
        DatabaseBackend::Postgres => (
            "EXTRACT(YEAR FROM hire_datetime AT TIME ZONE 'UTC')::integer",
            "EXTRACT(MONTH FROM hire_datetime AT TIME ZONE 'UTC')::integer",
        ),
        // SQLite stores every instant as UTC RFC 3339 text.
        _ => (
            "CAST(substr(hire_datetime, 1, 4) AS INTEGER)",
            "CAST(substr(hire_datetime, 6, 2) AS INTEGER)",
        ),
    };
    let counts: Vec<String> = (0..grain.columns.len())
        .map(|bucket| {
            let months: Vec<String> = (1..=12)
                .filter(|m| (grain.bucket_of_month)(*m) == bucket)
                .map(|m| m.to_string())
                .collect();
            format!("count(*) FILTER (WHERE month IN ({}))", months.join(", "))
        })
        .collect();
    format!(
        "INSERT INTO hires_rollup (year, department_id, job_id, {})
         SELECT year, department_id, job_id, {}
         FROM (SELECT {year} AS year, {month} AS month, department_id, job_id
               FROM hired_employees) hires
         GROUP BY 1, 2, 3",
        grain.list(),
        counts.join(", ")
    )
}
