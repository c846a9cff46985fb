//! Reading every table of a backup from one consistent snapshot.
//!
//! PostgreSQL: one `REPEATABLE READ, READ ONLY` transaction, each table sent
//! with `COPY … TO STDOUT (FORMAT binary)`, which streams from the server
//! without materialising the result. SQLite: one read transaction (WAL mode
//! lets writers go on) read through a row cursor. Either way rows reach the
//! Avro encoder in bounded batches, so memory stays flat.

use std::sync::atomic::{AtomicU64, Ordering};

use async_graphql::futures_util::StreamExt;
use bytes::{Bytes, BytesMut};
use chrono::{DateTime, Utc};
use sea_orm::{
    DatabaseConnection, DbBackend,
    sqlx::{self, Postgres, Sqlite, Transaction},
};
use tokio::sync::mpsc;

use super::avro::{Encoded, Row, TableEncoder};
use crate::{
    db::postgres::{COPY_CHUNK_BYTES, sqlx_error},
    error::AppError,
    rules::Table,
};

/// Rows per batch read from SQLite.
const BATCH_ROWS: usize = 4_096;

/// Microseconds from the Unix epoch to PostgreSQL's (2000-01-01).
const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;

/// What the database sends the encoder.
pub enum Feed {
    /// Raw `COPY … (FORMAT binary)` data.
    Copy(Bytes),
    /// Decoded rows.
    Rows(Vec<Row<'static>>),
}

/// A read transaction that sees one instant of the database.
pub enum Snapshot {
    /// PostgreSQL.
    Postgres(Transaction<'static, Postgres>),
    /// SQLite.
    Sqlite(Transaction<'static, Sqlite>),
}

impl Snapshot {
    /// Starts the snapshot; it is fixed by the first read.
    pub async fn begin(db: &DatabaseConnection) -> Result<Self, AppError> {
        match db.get_database_backend() {
            DbBackend::Postgres => {
                let mut tx = db
                    .get_postgres_connection_pool()
                    .begin()
                    .await
                    .map_err(sqlx_error)?;
                sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                    .execute(&mut *tx)
                    .await
                    .map_err(sqlx_error)?;
                Ok(Snapshot::Postgres(tx))
            }
            _ => Ok(Snapshot::Sqlite(
                db.get_sqlite_connection_pool()
                    .begin()
                    .await
                    .map_err(sqlx_error)?,
            )),
        }
    }

    /// The newest migration applied, as seen by the snapshot (fixes it on SQLite).
    pub async fn migration(&mut self) -> Result<String, AppError> {
        const SQL: &str = "SELECT COALESCE(MAX(version), '') FROM seaql_migrations";
        match self {
            Snapshot::Postgres(tx) => sqlx::query_scalar(SQL).fetch_one(&mut **tx).await,
            Snapshot::Sqlite(tx) => sqlx::query_scalar(SQL).fetch_one(&mut **tx).await,
        }
        .map_err(sqlx_error)
    }

    /// The rows of `tables`, as the snapshot sees them.
    pub async fn count(&mut self, tables: &[Table]) -> Result<u64, AppError> {
        let mut rows = 0i64;
        for table in tables {
            let sql = sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}"));
            rows += match self {
                Snapshot::Postgres(tx) => {
                    sqlx::query_scalar::<_, i64>(sql).fetch_one(&mut **tx).await
                }
                Snapshot::Sqlite(tx) => {
                    sqlx::query_scalar::<_, i64>(sql).fetch_one(&mut **tx).await
                }
            }
            .map_err(sqlx_error)?;
        }
        Ok(rows.max(0) as u64)
    }

    /// Sends every row of `table` to `feed`.
    pub async fn send(&mut self, table: Table, feed: mpsc::Sender<Feed>) -> Result<(), AppError> {
        let columns = table.columns();
        // Dimensions in id order; hires in storage order, which spares the
        // server an index scan (a restore does not depend on the order).
        let order = if table == Table::HiredEmployees {
            ""
        } else {
            " ORDER BY id"
        };
        let select = format!("SELECT {columns} FROM {table}{order}");
        match self {
            Snapshot::Postgres(tx) => {
                let copy = format!("COPY ({select}) TO STDOUT (FORMAT binary)");
                let mut stream = tx.copy_out_raw(&copy).await.map_err(sqlx_error)?;
                // The server sends one message per row: hand them on in batches.
                let mut batch = BytesMut::with_capacity(COPY_CHUNK_BYTES + 4096);
                while let Some(message) = stream.next().await {
                    batch.extend_from_slice(&message.map_err(sqlx_error)?);
                    if batch.len() >= COPY_CHUNK_BYTES
                        && feed.send(Feed::Copy(batch.split().freeze())).await.is_err()
                    {
                        return Ok(());
                    }
                }
                if !batch.is_empty() {
                    let _ = feed.send(Feed::Copy(batch.freeze())).await;
                }
            }
            Snapshot::Sqlite(tx) => {
                let query = sqlx::query(sqlx::AssertSqlSafe(select));
                let mut rows = query.fetch(&mut **tx);
                let mut batch = Vec::with_capacity(BATCH_ROWS);
                while let Some(row) = rows.next().await {
                    batch.push(sqlite_row(table, &row.map_err(sqlx_error)?)?);
                    if batch.len() == BATCH_ROWS {
                        let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH_ROWS));
                        if feed.send(Feed::Rows(full)).await.is_err() {
                            return Ok(());
                        }
                    }
                }
                if !batch.is_empty() {
                    let _ = feed.send(Feed::Rows(batch)).await;
                }
            }
        }
        Ok(())
    }

    /// Ends the snapshot (it wrote nothing).
    pub async fn end(self) {
        let _ = match self {
            Snapshot::Postgres(tx) => tx.rollback().await,
            Snapshot::Sqlite(tx) => tx.rollback().await,
        };
    }
}

fn sqlite_row(table: Table, row: &sqlx::sqlite::SqliteRow) -> Result<Row<'static>, AppError> {
    use sqlx::Row as _;
    let get_err = sqlx_error;
    Ok(match table {
        Table::Departments | Table::Jobs => Row::Dimension {
            id: row.try_get(0).map_err(get_err)?,
            name: row.try_get::<String, _>(1).map_err(get_err)?.into(),
        },
        Table::HiredEmployees => Row::Hire {
            id: row.try_get(0).map_err(get_err)?,
            name: row.try_get::<String, _>(1).map_err(get_err)?.into(),
            micros: row
                .try_get::<DateTime<Utc>, _>(2)
                .map_err(get_err)?
                .timestamp_micros(),
            department_id: row.try_get(3).map_err(get_err)?,
            job_id: row.try_get(4).map_err(get_err)?,
        },
    })
}

/// Encodes what arrives on `feed` as `table`'s Avro file. Runs on a blocking thread.
pub fn encode(
    table: Table,
    mut feed: mpsc::Receiver<Feed>,
    chunks: mpsc::Sender<Bytes>,
    rows_done: &AtomicU64,
) -> anyhow::Result<Encoded> {
    let mut encoder = TableEncoder::new(table, chunks)?;
    let mut copy = CopyParser::default();
    while let Some(item) = feed.blocking_recv() {
        match item {
            Feed::Copy(chunk) => copy.parse(table, &chunk, |row| encoder.push(row))?,
            Feed::Rows(rows) => {
                for row in rows {
                    encoder.push(row)?;
                }
            }
        }
        rows_done.store(encoder.rows(), Ordering::Relaxed);
    }
    copy.check_finished()?;
    encoder.finish()
}

/// Parses PostgreSQL's binary COPY format, chunk by chunk.
#[derive(Default)]
struct CopyParser {
    pending: Vec<u8>,
    header_read: bool,
    trailer_read: bool,
}

const COPY_SIGNATURE: &[u8] = b"PGCOPY\n\xff\r\n\0";

impl CopyParser {
    fn parse(
        &mut self,
        table: Table,
        chunk: &[u8],
        mut each: impl FnMut(Row<'_>) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        self.pending.extend_from_slice(chunk);
        let mut at = 0;
        if !self.header_read {
            if self.pending.len() < 19 {
                return Ok(());
            }
            anyhow::ensure!(
                self.pending.starts_with(COPY_SIGNATURE),
                "COPY data lacks the binary signature"
            );
            let extension = u32::from_be_bytes(self.pending[15..19].try_into()?) as usize;
            if self.pending.len() < 19 + extension {
                return Ok(());
            }
            at = 19 + extension;
            self.header_read = true;
        }
        while !self.trailer_read {
            match parse_tuple(table, &self.pending[at..])? {
                Tuple::Incomplete => break,
                Tuple::Trailer => {
                    self.trailer_read = true;
                    at += 2;
                }
                Tuple::Row(row, used) => {
                    each(row)?;
                    at += used;
                }
            }
        }
        self.pending.drain(..at);
        Ok(())
    }

    fn check_finished(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.trailer_read || !self.header_read && self.pending.is_empty(),
            "the COPY data ended early"
        );
        Ok(())
    }
}

enum Tuple<'a> {
    Incomplete,
    Trailer,
    Row(Row<'a>, usize),
}

fn parse_tuple(table: Table, data: &[u8]) -> anyhow::Result<Tuple<'_>> {
    let Some(count) = data.get(..2) else {
        return Ok(Tuple::Incomplete);
    };
    let count = i16::from_be_bytes([count[0], count[1]]);
    if count == -1 {
        return Ok(Tuple::Trailer);
    }
    let mut fields: [&[u8]; 5] = [&[]; 5];
    let expected = if table == Table::HiredEmployees { 5 } else { 2 };
    anyhow::ensure!(
        count as usize == expected,
        "COPY sent {count} fields, expected {expected}"
    );
    let mut at = 2;
    for field in fields.iter_mut().take(expected) {
        let Some(length) = data.get(at..at + 4) else {
            return Ok(Tuple::Incomplete);
        };
        let length = i32::from_be_bytes(length.try_into()?);
        anyhow::ensure!(length >= 0, "COPY sent a NULL in a mandatory column");
        let start = at + 4;
        let Some(value) = data.get(start..start + length as usize) else {
            return Ok(Tuple::Incomplete);
        };
        *field = value;
        at = start + length as usize;
    }
    let int = |bytes: &[u8]| -> anyhow::Result<i32> { Ok(i32::from_be_bytes(bytes.try_into()?)) };
    let text = |bytes| std::str::from_utf8(bytes).map(std::borrow::Cow::Borrowed);
    let row = match table {
        Table::Departments | Table::Jobs => Row::Dimension {
            id: int(fields[0])?,
            name: text(fields[1])?,
        },
        Table::HiredEmployees => Row::Hire {
            id: int(fields[0])?,
            name: text(fields[1])?,
            micros: i64::from_be_bytes(fields[2].try_into()?) + PG_EPOCH_MICROS,
            department_id: int(fields[3])?,
            job_id: int(fields[4])?,
        },
    };
    Ok(Tuple::Row(row, at))
}

/// The header of PostgreSQL's binary COPY format: signature, no flags, no extension.
pub fn copy_header(out: &mut Vec<u8>) {
    out.extend_from_slice(COPY_SIGNATURE);
    out.extend_from_slice(&[0; 8]);
}

/// The trailer of PostgreSQL's binary COPY format.
pub fn copy_trailer(out: &mut Vec<u8>) {
    out.extend_from_slice(&(-1i16).to_be_bytes());
}

/// Appends one row in PostgreSQL's binary COPY format, for restores.
pub fn copy_row(row: &Row<'_>, out: &mut Vec<u8>) {
    let int = |value: i32, out: &mut Vec<u8>| {
        out.extend_from_slice(&4i32.to_be_bytes());
        out.extend_from_slice(&value.to_be_bytes());
    };
    let text = |value: &str, out: &mut Vec<u8>| {
        out.extend_from_slice(&(value.len() as i32).to_be_bytes());
        out.extend_from_slice(value.as_bytes());
    };
    match row {
        Row::Dimension { id, name } => {
            out.extend_from_slice(&2i16.to_be_bytes());
            int(*id, out);
            text(name, out);
        }
        Row::Hire {
            id,
            name,
            micros,
            department_id,
            job_id,
        } => {
            out.extend_from_slice(&5i16.to_be_bytes());
            int(*id, out);
            text(name, out);
            out.extend_from_slice(&8i32.to_be_bytes());
            out.extend_from_slice(&(micros - PG_EPOCH_MICROS).to_be_bytes());
            int(*department_id, out);
            int(*job_id, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_rows_written_in_binary_format_parse_back_whatever_the_chunking() {
        let rows = vec![
            Row::Hire {
                id: 1,
                name: "Ana \\ \"Ñ\"".into(),
                micros: 1_636_253_322_000_001,
                department_id: 2,
                job_id: 3,
            },
            Row::Hire {
                id: 2,
                name: "B".into(),
                micros: -62_135_596_800_000_000,
                department_id: 1,
                job_id: 1,
            },
        ];
        let mut data = Vec::new();
        copy_header(&mut data);
        for row in &rows {
            copy_row(row, &mut data);
        }
        copy_trailer(&mut data);
        for split in 1..data.len() {
            let mut parser = CopyParser::default();
            let mut seen = Vec::new();
            for piece in data.chunks(split) {
                parser
                    .parse(Table::HiredEmployees, piece, |row| {
                        seen.push(match row {
                            Row::Hire {
                                id,
                                name,
                                micros,
                                department_id,
                                job_id,
                            } => Row::Hire {
                                id,
                                name: name.into_owned().into(),
                                micros,
                                department_id,
                                job_id,
                            },
                            other => panic!("unexpected {other:?}"),
                        });
                        Ok(())
                    })
                    .unwrap();
            }
            parser.check_finished().unwrap();
            assert_eq!(seen, rows, "chunks of {split} bytes");
        }
    }
}
