//! The log of refused input rows.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum RejectedRows {
    Table,
    Id,
    Source,
    Position,
    RawRecord,
    Field,
    Code,
    Message,
    RejectedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut id = ColumnDef::new(RejectedRows::Id);
        // SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY.
        if manager.get_database_backend() == sea_orm::DatabaseBackend::Sqlite {
            id.integer();
        } else {
            id.big_integer();
        }
        id.not_null().auto_increment().primary_key();
        manager
            .create_table(
                Table::create()
                    .table(RejectedRows::Table)
                    .col(id)
                    .col(ColumnDef::new(RejectedRows::Source).text().not_null())
                    .col(
                        ColumnDef::new(RejectedRows::Position)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(RejectedRows::RawRecord).text().not_null())
                    .col(ColumnDef::new(RejectedRows::Field).text().null())
                    .col(ColumnDef::new(RejectedRows::Code).text().not_null())
                    .col(ColumnDef::new(RejectedRows::Message).text().not_null())
                    .col(
                        ColumnDef::new(RejectedRows::RejectedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_rejected_rows_source_id")
                    .table(RejectedRows::Table)
                    .col(RejectedRows::Source)
                    .col(RejectedRows::Id)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(RejectedRows::Table).to_owned())
            .await
    }
}
