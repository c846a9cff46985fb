//! The operations log: every import, backup, verification and restore, from
//! GraphQL or the CLI, with its state, progress and outcome.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Operations {
    Table,
    Id,
    Kind,
    State,
    ProgressDone,
    ProgressTotal,
    ProgressUnit,
    Phase,
    QueuedAt,
    StartedAt,
    FinishedAt,
    HeartbeatAt,
    StartedBy,
    Parameters,
    Result,
    ErrorCode,
    ErrorMessage,
    CancelRequested,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut id = ColumnDef::new(Operations::Id);
        // SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY.
        if manager.get_database_backend() == sea_orm::DatabaseBackend::Sqlite {
            id.integer();
        } else {
            id.big_integer();
        }
        id.not_null().auto_increment().primary_key();
        let at = |column| {
            let mut def = ColumnDef::new(column);
            def.timestamp_with_time_zone();
            def
        };
        manager
            .create_table(
                Table::create()
                    .table(Operations::Table)
                    .col(id)
                    .col(ColumnDef::new(Operations::Kind).text().not_null())
                    .col(ColumnDef::new(Operations::State).text().not_null())
                    .col(
                        ColumnDef::new(Operations::ProgressDone)
                            .big_integer()
                            .not_null()
                            .default(0),
                    )
                    .col(
                        ColumnDef::new(Operations::ProgressTotal)
                            .big_integer()
                            .null(),
                    )
                    .col(ColumnDef::new(Operations::ProgressUnit).text().not_null())
                    .col(ColumnDef::new(Operations::Phase).text().not_null())
                    .col(at(Operations::QueuedAt).not_null())
                    .col(at(Operations::StartedAt).null())
                    .col(at(Operations::FinishedAt).null())
                    .col(at(Operations::HeartbeatAt).not_null())
                    .col(ColumnDef::new(Operations::StartedBy).text().not_null())
                    .col(ColumnDef::new(Operations::Parameters).text().not_null())
                    .col(ColumnDef::new(Operations::Result).text().null())
                    .col(ColumnDef::new(Operations::ErrorCode).text().null())
                    .col(ColumnDef::new(Operations::ErrorMessage).text().null())
                    .col(
                        ColumnDef::new(Operations::CancelRequested)
                            .boolean()
                            .not_null()
                            .default(false),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            ("idx_operations_state_id", Operations::State),
            ("idx_operations_kind_id", Operations::Kind),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(Operations::Table)
                        .col(column)
                        .col(Operations::Id)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Operations::Table).to_owned())
            .await
    }
}
