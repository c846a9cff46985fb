//! The audit log: one row per write or admin operation, from GraphQL or the
//! CLI, naming who asked for it and how it ended. Rows are only ever added:
//! triggers refuse to change or remove them, on both backends.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AuditLog {
    Table,
    Id,
    At,
    Identity,
    Display,
    Role,
    Operation,
    Arguments,
    Outcome,
    RequestId,
    OperationId,
}

/// PostgreSQL: one function refusing every change, fired before UPDATE,
/// DELETE (per row) and TRUNCATE (per statement).
const POSTGRES_APPEND_ONLY: [&str; 3] = [
    "CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
     BEGIN
         RAISE EXCEPTION 'audit_log is append-only' USING ERRCODE = 'insufficient_privilege';
     END
     $$",
    "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
     FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()",
    "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
     FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()",
];

/// SQLite: a trigger per statement kind that aborts it.
const SQLITE_APPEND_ONLY: [&str; 2] = [
    "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
     BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
    "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
     BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.create_table(audit_log_table(manager)).await?;
        for (name, columns) in [
            ("idx_audit_log_at", vec![AuditLog::At]),
            (
                "idx_audit_log_identity_id",
                vec![AuditLog::Identity, AuditLog::Id],
            ),
            ("idx_audit_log_operation_id", vec![AuditLog::OperationId]),
        ] {
            let mut index = Index::create();
            index.name(name).table(AuditLog::Table);
            for column in columns {
                index.col(column);
            }
            manager.create_index(index.to_owned()).await?;
        }
        let triggers: &[&str] = match manager.get_database_backend() {
            sea_orm::DatabaseBackend::Postgres => &POSTGRES_APPEND_ONLY,
            _ => &SQLITE_APPEND_ONLY,
        };
        let db = manager.get_connection();
        for statement in triggers {
            db.execute_unprepared(statement).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AuditLog::Table).to_owned())
            .await?;
        if manager.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared("DROP FUNCTION IF EXISTS audit_log_append_only()")
                .await?;
        }
        Ok(())
    }
}

/// The table's columns.
fn audit_log_table(manager: &SchemaManager) -> TableCreateStatement {
    let mut id = ColumnDef::new(AuditLog::Id);
    // SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY.
    if manager.get_database_backend() == sea_orm::DatabaseBackend::Sqlite {
        id.integer();
    } else {
        id.big_integer();
    }
    id.not_null().auto_increment().primary_key();
    let text = |column| {
        let mut def = ColumnDef::new(column);
        def.text();
        def
    };
    Table::create()
        .table(AuditLog::Table)
        .col(id)
        .col(
            ColumnDef::new(AuditLog::At)
                .timestamp_with_time_zone()
                .not_null(),
        )
        .col(text(AuditLog::Identity).not_null())
        .col(text(AuditLog::Display).null())
        .col(text(AuditLog::Role).not_null())
        .col(text(AuditLog::Operation).not_null())
        .col(text(AuditLog::Arguments).not_null())
        .col(text(AuditLog::Outcome).not_null())
        .col(text(AuditLog::RequestId).null())
        .col(ColumnDef::new(AuditLog::OperationId).big_integer().null())
        .to_owned()
}
