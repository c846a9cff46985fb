//! Encoding CSV records as PostgreSQL COPY text, on a blocking thread.
//!
//! Each record is parsed once, by the same rules as every other input path.
//! Into an empty table, rows that are plainly new go straight to the table and
//! the rest are spooled to a file; otherwise every row goes to the staging
//! table, where set-based SQL decides it against the stored data.

use std::{
    collections::HashSet,
    fs::File,
    io::{BufWriter, Read, Seek, Write},
    sync::Arc,
};

use chrono::{Datelike, Timelike};
use roaring::RoaringBitmap;
use tokio::sync::mpsc;

use super::summary::ImportProgress;
use crate::{
    csv::CsvRecords,
    db::postgres::COPY_CHUNK_BYTES,
    rules::{HireRow, Problem, RawRecord, parse_hire_record},
    service::rollup::RollupDelta,
};

/// The staging table's columns in COPY order: a parsed row's values, or the
/// problem found while parsing it, and the record as received.
pub(super) const STAGING_COLUMNS: &str =
    "line, id, name, hire_datetime, department_id, job_id, code, field, message, raw";

/// A stream of COPY chunks, or the read error that ended the input.
pub(super) type Chunks = mpsc::Receiver<Result<Vec<u8>, std::io::Error>>;

/// Where the encoder sends each row.
pub(super) enum Routing {
    /// Every row to the staging table.
    AllStaged,
    /// Into an empty table: rows that are valid, name a known department and
    /// job, and carry an id not seen before go straight to `hired_employees`;
    /// every other row is spooled to a file and staged afterwards, where the
    /// SQL checks decide it against what was loaded.
    Direct {
        departments: HashSet<i32>,
        jobs: HashSet<i32>,
    },
}

/// The encoder's output: COPY chunks, and (when routing directly) the spooled rows.
pub(super) struct Encoder {
    /// COPY chunks for the first statement.
    pub(super) chunks: Chunks,
    /// When routing directly: the spooled rows and the rollup counts of the rows sent directly.
    pub(super) spool: tokio::task::JoinHandle<Result<(Option<File>, RollupDelta), std::io::Error>>,
}

/// Spooled rows of a direct load.
struct DirectLoad {
    departments: HashSet<i32>,
    jobs: HashSet<i32>,
    /// Ids of rows sent directly, and of rows held back for an unknown
    /// department or job: a later row with such an id must be checked in SQL,
    /// in file order.
    seen: RoaringBitmap,
    spool: BufWriter<File>,
    line: Vec<u8>,
    /// Rollup counts of the rows sent directly.
    delta: RollupDelta,
}

impl DirectLoad {
    fn route(&mut self, record: &RawRecord, chunk: &mut Vec<u8>) -> std::io::Result<()> {
        self.line.clear();
        match parse_hire_record(record) {
            Ok(row) => {
                let known = self.departments.contains(&row.department_id)
                    && self.jobs.contains(&row.job_id);
                let first = self.seen.insert(row.id as u32);
                if known && first {
                    encode_target(&row, chunk);
                    self.delta
                        .add(&row.hire_datetime, row.department_id, row.job_id);
                    return Ok(());
                }
                encode_valid(record, &row, &mut self.line);
            }
            Err(problem) => encode_problem(record, &problem, &mut self.line),
        }
        self.spool.write_all(&self.line)
    }
}

/// Parses records on a blocking thread and encodes them as COPY text, in bounded chunks.
pub(super) fn spawn_encoder(
    input: Box<dyn Read + Send>,
    progress: Arc<ImportProgress>,
    routing: Routing,
) -> Encoder {
    let (sender, chunks) = mpsc::channel(4);
    let spool = tokio::task::spawn_blocking(move || {
        let mut direct = match routing {
            Routing::AllStaged => None,
            Routing::Direct { departments, jobs } => Some(DirectLoad {
                departments,
                jobs,
                seen: RoaringBitmap::new(),
                spool: BufWriter::new(tempfile::tempfile()?),
                line: Vec::new(),
                delta: RollupDelta::default(),
            }),
        };
        let mut records = CsvRecords::new(input);
        let mut chunk = Vec::with_capacity(COPY_CHUNK_BYTES + 4096);
        let mut rows_in_chunk = 0u64;
        loop {
            match records.next_line() {
                Ok(Some(line)) => {
                    let record = RawRecord::from(line);
                    match &mut direct {
                        Some(load) => load.route(&record, &mut chunk)?,
                        None => encode_record(&record, &mut chunk),
                    }
                    rows_in_chunk += 1;
                    if chunk.len() >= COPY_CHUNK_BYTES {
                        progress.add_rows(rows_in_chunk);
                        rows_in_chunk = 0;
                        let full = std::mem::replace(
                            &mut chunk,
                            Vec::with_capacity(COPY_CHUNK_BYTES + 4096),
                        );
                        if sender.blocking_send(Ok(full)).is_err() {
                            return Ok((None, RollupDelta::default()));
                        }
                    }
                }
                Ok(None) => break,
                Err(err) => {
                    let _ = sender.blocking_send(Err(err));
                    return Ok((None, RollupDelta::default()));
                }
            }
        }
        progress.add_rows(rows_in_chunk);
        if !chunk.is_empty() && sender.blocking_send(Ok(chunk)).is_err() {
            return Ok((None, RollupDelta::default()));
        }
        match direct {
            Some(load) => {
                let mut file = load.spool.into_inner().map_err(|err| err.into_error())?;
                file.rewind()?;
                Ok((Some(file), load.delta))
            }
            None => Ok((None, RollupDelta::default())),
        }
    });
    Encoder { chunks, spool }
}

/// One `hired_employees` row in COPY text format.
fn encode_target(row: &HireRow, out: &mut Vec<u8>) {
    let _ = write!(out, "{}\t", row.id);
    escape(&row.name, out);
    out.push(b'\t');
    encode_timestamp(row, out);
    let _ = writeln!(out, "\t{}\t{}", row.department_id, row.job_id);
}

fn encode_timestamp(row: &HireRow, out: &mut Vec<u8>) {
    let dt = row.hire_datetime;
    let _ = write!(
        out,
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:06}+00",
        dt.year(),
        dt.month(),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second(),
        dt.nanosecond() / 1_000
    );
}

/// One staging row in COPY text format.
fn encode_record(record: &RawRecord, out: &mut Vec<u8>) {
    match parse_hire_record(record) {
        Ok(row) => encode_valid(record, &row, out),
        Err(problem) => encode_problem(record, &problem, out),
    }
}

/// A staging row refused while parsing: its line, the problem and the raw text.
fn encode_problem(record: &RawRecord, problem: &Problem, out: &mut Vec<u8>) {
    let _ = write!(out, "{}\t\\N\t\\N\t\\N\t\\N\t\\N\t", record.position);
    escape(problem.code(), out);
    out.push(b'\t');
    match problem.field() {
        Some(field) => escape(field, out),
        None => out.extend_from_slice(b"\\N"),
    }
    out.push(b'\t');
    escape(problem.message(), out);
    out.push(b'\t');
    escape(&record.raw_text(), out);
    out.push(b'\n');
}

/// A staging row that parsed; the SQL checks decide it.
fn encode_valid(record: &RawRecord, row: &HireRow, out: &mut Vec<u8>) {
    let _ = write!(out, "{}\t{}\t", record.position, row.id);
    escape(&row.name, out);
    out.push(b'\t');
    encode_timestamp(row, out);
    let _ = write!(
        out,
        "\t{}\t{}\t\\N\t\\N\t\\N\t",
        row.department_id, row.job_id
    );
    escape(&record.raw_text(), out);
    out.push(b'\n');
}

/// Escapes a value for COPY's text format.
fn escape(value: &str, out: &mut Vec<u8>) {
    for byte in value.bytes() {
        match byte {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            other => out.push(other),
        }
    }
}

/// Reads a spool file back in chunks.
pub(super) fn read_spool(mut spool: File) -> Chunks {
    let (sender, receiver) = mpsc::channel(4);
    tokio::task::spawn_blocking(move || {
        loop {
            let mut chunk = vec![0; COPY_CHUNK_BYTES];
            match spool.read(&mut chunk) {
                Ok(0) => return,
                Ok(n) => {
                    chunk.truncate(n);
                    if sender.blocking_send(Ok(chunk)).is_err() {
                        return;
                    }
                }
                Err(err) => {
                    let _ = sender.blocking_send(Err(err));
                    return;
                }
            }
        }
    });
    receiver
}
