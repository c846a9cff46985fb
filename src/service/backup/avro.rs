//! The Avro side of a backup: one object container file per table.
//!
//! Field names match the table columns, `hire_datetime` is a `long` with the
//! `timestamp-micros` logical type, and blocks are zstd-compressed. Rows are
//! encoded and decoded through apache-avro's schema-aware serde support, so no
//! generic `Value` tree is built per row.

use std::{
    borrow::Cow,
    collections::HashSet,
    io::{Read, Write},
    sync::{
        LazyLock,
        atomic::{AtomicU64, Ordering},
    },
};

use apache_avro::{Codec, Reader, Schema, Writer, ZstandardSettings};
use bytes::Bytes;
use roaring::RoaringBitmap;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use crate::rules::{HireInstant, Name, Problem, RowId, Table, reason};

/// The codec named in manifests.
pub const CODEC_NAME: &str = "zstandard";

/// Uncompressed bytes per Avro block.
const BLOCK_BYTES: usize = 256 * 1024;

/// Bytes handed on to storage at a time.
const CHUNK_BYTES: usize = 1024 * 1024;

fn codec() -> Codec {
    Codec::Zstandard(ZstandardSettings::new(1))
}

static DEPARTMENTS: LazyLock<Schema> =
    LazyLock::new(|| dimension_schema("departments", "department"));
static JOBS: LazyLock<Schema> = LazyLock::new(|| dimension_schema("jobs", "job"));
static HIRED_EMPLOYEES: LazyLock<Schema> = LazyLock::new(|| {
    parse_schema(
        r#"{"type": "record", "name": "hired_employees", "namespace": "hiring_analytics",
            "fields": [
              {"name": "id", "type": "int"},
              {"name": "name", "type": "string"},
              {"name": "hire_datetime", "type": {"type": "long", "logicalType": "timestamp-micros"}},
              {"name": "department_id", "type": "int"},
              {"name": "job_id", "type": "int"}
            ]}"#,
    )
});

fn dimension_schema(table: &str, column: &str) -> Schema {
    parse_schema(&format!(
        r#"{{"type": "record", "name": "{table}", "namespace": "hiring_analytics",
            "fields": [{{"name": "id", "type": "int"}}, {{"name": "{column}", "type": "string"}}]}}"#
    ))
}

fn parse_schema(text: &str) -> Schema {
    // The schemas are constants of this file; a test parses each of them.
    Schema::parse_str(text).unwrap_or_else(|err| panic!("invalid built-in Avro schema: {err}"))
}

/// The Avro schema of `table`'s rows.
pub fn schema(table: Table) -> &'static Schema {
    match table {
        Table::Departments => &DEPARTMENTS,
        Table::Jobs => &JOBS,
        Table::HiredEmployees => &HIRED_EMPLOYEES,
    }
}

/// The schema's fingerprint: the SHA-256 of its Parsing Canonical Form, in hex.
pub fn fingerprint(schema: &Schema) -> String {
    hex(&Sha256::digest(schema.canonical_form()))
}

/// Lower-case hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Named as the Avro record, which schema-aware serde checks.
#[derive(Serialize, Deserialize)]
#[serde(rename = "departments")]
struct DepartmentRecord<'a> {
    id: i32,
    department: Cow<'a, str>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename = "jobs")]
struct JobRecord<'a> {
    id: i32,
    job: Cow<'a, str>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename = "hired_employees")]
struct HireRecord<'a> {
    id: i32,
    name: Cow<'a, str>,
    hire_datetime: i64,
    department_id: i32,
    job_id: i32,
}

/// One row of any table, with the hire time in microseconds since the Unix epoch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Row<'a> {
    /// A department or job.
    Dimension {
        /// Its id.
        id: i32,
        /// Its name.
        name: Cow<'a, str>,
    },
    /// A hire.
    Hire {
        /// Its id.
        id: i32,
        /// The person's name.
        name: Cow<'a, str>,
        /// Microseconds since 1970-01-01T00:00:00Z.
        micros: i64,
        /// The department.
        department_id: i32,
        /// The job.
        job_id: i32,
    },
}

/// Bytes on their way to storage, with their running SHA-256 and size.
pub struct ChunkSink {
    buffer: Vec<u8>,
    hasher: Sha256,
    bytes: u64,
    chunks: mpsc::Sender<Bytes>,
}

impl Write for ChunkSink {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.hasher.update(data);
        self.bytes += data.len() as u64;
        self.buffer.extend_from_slice(data);
        if self.buffer.len() >= CHUNK_BYTES {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl ChunkSink {
    fn send(&mut self) -> std::io::Result<()> {
        let full = std::mem::replace(
            &mut self.buffer,
            Vec::with_capacity(CHUNK_BYTES + BLOCK_BYTES),
        );
        self.chunks
            .blocking_send(Bytes::from(full))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the upload stopped"))
    }
}

/// What was written for one table.
#[derive(Debug, Clone)]
pub struct Encoded {
    /// Rows written.
    pub rows: u64,
    /// Bytes of the object.
    pub bytes: u64,
    /// SHA-256 of the object, in hex.
    pub sha256: String,
}

/// Encodes one table's rows as an Avro object container file, handing the
/// bytes on in chunks. Runs on a blocking thread.
pub struct TableEncoder {
    table: Table,
    writer: Writer<'static, ChunkSink>,
    rows: u64,
}

impl TableEncoder {
    /// An encoder for `table` that sends its output to `chunks`.
    pub fn new(table: Table, chunks: mpsc::Sender<Bytes>) -> anyhow::Result<Self> {
        let sink = ChunkSink {
            buffer: Vec::with_capacity(CHUNK_BYTES + BLOCK_BYTES),
            hasher: Sha256::new(),
            bytes: 0,
            chunks,
        };
        let writer = Writer::builder()
            .schema(schema(table))
            .writer(sink)
            .codec(codec())
            .block_size(BLOCK_BYTES)
            .build()?;
        Ok(Self {
            table,
            writer,
            rows: 0,
        })
    }

    /// Appends one row.
    pub fn push(&mut self, row: Row<'_>) -> anyhow::Result<()> {
        match (self.table, row) {
            (Table::Departments, Row::Dimension { id, name }) => {
                self.writer.append_ser(DepartmentRecord {
                    id,
                    department: name,
                })?
            }
            (Table::Jobs, Row::Dimension { id, name }) => {
                self.writer.append_ser(JobRecord { id, job: name })?
            }
            (
                Table::HiredEmployees,
                Row::Hire {
                    id,
                    name,
                    micros,
                    department_id,
                    job_id,
                },
            ) => self.writer.append_ser(HireRecord {
                id,
                name,
                hire_datetime: micros,
                department_id,
                job_id,
            })?,
            (table, row) => anyhow::bail!("a {row:?} row cannot go into {table}"),
        };
        self.rows += 1;
        Ok(())
    }

    /// Rows appended so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Flushes the last block and the last chunk.
    pub fn finish(self) -> anyhow::Result<Encoded> {
        let mut sink = self.writer.into_inner()?;
        if !sink.buffer.is_empty() {
            sink.send()?;
        }
        Ok(Encoded {
            rows: self.rows,
            bytes: sink.bytes,
            sha256: hex(&sink.hasher.finalize()),
        })
    }
}

/// A blocking reader over chunks sent from async code.
pub struct ChunkReader {
    chunks: mpsc::Receiver<Bytes>,
    current: Bytes,
}

impl ChunkReader {
    /// Reads what arrives on `chunks` until the sender is dropped.
    pub fn new(chunks: mpsc::Receiver<Bytes>) -> Self {
        Self {
            chunks,
            current: Bytes::new(),
        }
    }
}

impl Read for ChunkReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.chunks.blocking_recv() {
                Some(chunk) => self.current = chunk,
                None => return Ok(0),
            }
        }
        let n = out.len().min(self.current.len());
        out[..n].copy_from_slice(&self.current[..n]);
        bytes::Buf::advance(&mut self.current, n);
        Ok(n)
    }
}

/// Why a backup object cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanProblem {
    /// The bytes are not a readable Avro file.
    Corrupt(String),
    /// The file's schema is not this table's.
    Schema(String),
    /// A row breaks the rules every stored row follows.
    InvalidRow {
        /// The row's position in the file, from 1.
        position: u64,
        /// Its id.
        id: i32,
        /// The reason code.
        code: &'static str,
        /// What is wrong.
        message: String,
    },
}

/// What a full read of one object found.
#[derive(Debug, Default)]
pub struct Scan {
    /// Rows read.
    pub rows: u64,
    /// The fingerprint of the file's own schema.
    pub schema_fingerprint: Option<String>,
    /// Every row id.
    pub ids: RoaringBitmap,
    /// Departments the hires point at.
    pub departments: RoaringBitmap,
    /// Jobs the hires point at.
    pub jobs: RoaringBitmap,
    /// The first problem found; reading stops there.
    pub problem: Option<ScanProblem>,
}

/// Reads a whole object, checking its schema and every row by the rules the
/// import applies. Runs on a blocking thread; `rows_read` counts progress.
pub fn scan(table: Table, input: impl Read, rows_read: &AtomicU64) -> Scan {
    let mut scan = Scan::default();
    let reader = match Reader::new(input) {
        Ok(reader) => reader,
        Err(err) => {
            scan.problem = Some(ScanProblem::Corrupt(format!(
                "the Avro header is unreadable: {err}"
            )));
            return scan;
        }
    };
    let expected = schema(table);
    let found = fingerprint(reader.writer_schema());
    scan.schema_fingerprint = Some(found.clone());
    if found != fingerprint(expected) {
        scan.problem = Some(ScanProblem::Schema(format!(
            "the file's schema is not the {table} schema: found {}",
            reader.writer_schema().canonical_form()
        )));
        return scan;
    }
    let mut names = HashSet::new();
    let result = for_each_row(table, reader, |row| {
        scan.rows += 1;
        if scan.rows % 65_536 == 0 {
            rows_read.store(scan.rows, Ordering::Relaxed);
        }
        if let Err((id, problem)) = check_row(&row, &mut scan, &mut names) {
            return Err(ScanProblem::InvalidRow {
                position: scan.rows,
                id,
                code: problem.code(),
                message: problem.message().to_owned(),
            });
        }
        Ok(())
    });
    rows_read.store(scan.rows, Ordering::Relaxed);
    scan.problem = result.err();
    scan
}

/// Calls `each` with every row of an object whose schema was checked.
pub fn for_each_row<R: Read>(
    table: Table,
    reader: Reader<'_, R>,
    mut each: impl FnMut(Row<'static>) -> Result<(), ScanProblem>,
) -> Result<(), ScanProblem> {
    let corrupt =
        |err: apache_avro::Error| ScanProblem::Corrupt(format!("a block is unreadable: {err}"));
    match table {
        Table::Departments => {
            for record in reader.into_deser_iter::<DepartmentRecord<'static>>() {
                let record = record.map_err(corrupt)?;
                each(Row::Dimension {
                    id: record.id,
                    name: record.department,
                })?;
            }
        }
        Table::Jobs => {
            for record in reader.into_deser_iter::<JobRecord<'static>>() {
                let record = record.map_err(corrupt)?;
                each(Row::Dimension {
                    id: record.id,
                    name: record.job,
                })?;
            }
        }
        Table::HiredEmployees => {
            for record in reader.into_deser_iter::<HireRecord<'static>>() {
                let record = record.map_err(corrupt)?;
                each(Row::Hire {
                    id: record.id,
                    name: record.name,
                    micros: record.hire_datetime,
                    department_id: record.department_id,
                    job_id: record.job_id,
                })?;
            }
        }
    }
    Ok(())
}

/// Checks one row by the rules every stored row follows.
fn check_row(
    row: &Row<'_>,
    scan: &mut Scan,
    names: &mut HashSet<String>,
) -> Result<(), (i32, Problem)> {
    let (id, name) = match row {
        Row::Dimension { id, name } | Row::Hire { id, name, .. } => (*id, name.as_ref()),
    };
    let fail = |problem: Problem| (id, problem);
    RowId::new("id", id).map_err(fail)?;
    Name::parse_stored(name).map_err(fail)?;
    if !scan.ids.insert(id as u32) {
        return Err(fail(Problem::new(
            Some("id"),
            reason::DUPLICATE_ID,
            format!("id {id} appears more than once"),
        )));
    }
    match row {
        Row::Dimension { .. } => {
            if !names.insert(name.to_owned()) {
                return Err(fail(Problem::new(
                    Some("name"),
                    reason::DUPLICATE_NAME,
                    format!("the name {name:?} appears more than once"),
                )));
            }
        }
        Row::Hire {
            micros,
            department_id,
            job_id,
            ..
        } => {
            HireInstant::from_micros(*micros).map_err(fail)?;
            RowId::new("department_id", *department_id).map_err(fail)?;
            RowId::new("job_id", *job_id).map_err(fail)?;
            scan.departments.insert(*department_id as u32);
            scan.jobs.insert(*job_id as u32);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_schema_parses_and_names_the_table_columns() {
        for table in Table::ALL {
            let canonical = schema(table).canonical_form();
            assert!(canonical.contains(&format!("\"name\":\"hiring_analytics.{table}\"")));
        }
        assert!(HIRED_EMPLOYEES.canonical_form().contains("hire_datetime"));
    }
}
