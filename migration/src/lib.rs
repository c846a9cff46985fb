//! Database migrations, applied in order by [`Migrator`].

pub use sea_orm_migration::prelude::*;

mod m20261127_000001_create_core_tables;
mod m20261127_000002_create_rejected_rows;
mod m20261127_000003_create_hires_rollup;

/// Applies every migration of the product in order.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261127_000001_create_core_tables::Migration),
            Box::new(m20261127_000002_create_rejected_rows::Migration),
            Box::new(m20261127_000003_create_hires_rollup::Migration),
        ]
    }
}

/// Fills an empty `hires_rollup` from `hired_employees`: hires per year,
/// department and job, per quarter, in UTC. Also used after a restore.
pub fn rollup_backfill_sql(backend: sea_orm_migration::sea_orm::DatabaseBackend) -> String {
    let (year, quarter) = match backend {
        sea_orm_migration::sea_orm::DatabaseBackend::Postgres => (
            "EXTRACT(YEAR FROM hire_datetime AT TIME ZONE 'UTC')::integer",
            "EXTRACT(QUARTER FROM hire_datetime AT TIME ZONE 'UTC')::smallint",
        ),
        // SQLite stores every instant as UTC RFC 3339 text.
        _ => (
            "CAST(substr(hire_datetime, 1, 4) AS INTEGER)",
            "(CAST(substr(hire_datetime, 6, 2) AS INTEGER) + 2) / 3",
        ),
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

/// A text column that sorts in byte order on every backend.
///
/// SQLite compares text bytewise by default; PostgreSQL follows the database
/// collation unless the column says otherwise, so reports would sort
/// differently per server. `COLLATE "C"` makes both agree.
fn byte_ordered_text(manager: &SchemaManager, column: impl IntoIden) -> ColumnDef {
    let mut def = ColumnDef::new(column);
    def.text().not_null();
    if manager.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
        def.extra("COLLATE \"C\"");
    }
    def
}
