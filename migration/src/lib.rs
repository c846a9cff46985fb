//! Database migrations, applied in order by [`Migrator`].

pub use sea_orm_migration::prelude::*;

mod m20261127_000001_create_core_tables;
mod m20261127_000002_create_rejected_rows;
mod m20261127_000003_create_hires_rollup;
mod m20261130_000004_create_rollup_deltas;
mod m20261201_000005_create_rollup_totals;
mod m20261201_000006_create_operations;
mod m20261201_000007_create_audit_log;
mod m20261201_000008_rollup_per_month;

/// Applies every migration of the product in order.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261127_000001_create_core_tables::Migration),
            Box::new(m20261127_000002_create_rejected_rows::Migration),
            Box::new(m20261127_000003_create_hires_rollup::Migration),
            Box::new(m20261130_000004_create_rollup_deltas::Migration),
            Box::new(m20261201_000005_create_rollup_totals::Migration),
            Box::new(m20261201_000006_create_operations::Migration),
            Box::new(m20261201_000007_create_audit_log::Migration),
            Box::new(m20261201_000008_rollup_per_month::Migration),
        ]
    }
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
