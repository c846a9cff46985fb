//! Reading headerless CSV files as a stream of raw records.
//!
//! RFC 4180 quoting, LF or CRLF, an optional UTF-8 BOM and a missing final
//! newline are all accepted (the `csv` crate handles them); empty lines are
//! skipped. Records are handed over in bounded batches so that memory stays
//! flat whatever the file size.

use std::io::Read;

use super::ingest::{Problem, RawRecord, reason};

/// Rows per batch handed from the reader to the loader.
pub const BATCH_ROWS: usize = 4_000;

/// Reads records one at a time from a CSV stream.
pub struct CsvRecords<R: Read> {
    reader: csv::Reader<R>,
    record: csv::ByteRecord,
}

impl<R: Read> CsvRecords<R> {
    /// Wraps a headerless CSV stream.
    pub fn new(input: R) -> Self {
        let reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(input);
        Self {
            reader,
            record: csv::ByteRecord::new(),
        }
    }

    /// The next record, `None` at the end, or an I/O error that ends the import.
    pub fn next_record(&mut self) -> Result<Option<RawRecord>, std::io::Error> {
        match self.reader.read_byte_record(&mut self.record) {
            Ok(false) => Ok(None),
            Ok(true) => Ok(Some(to_raw_record(&self.record))),
            Err(err) => match err.into_kind() {
                csv::ErrorKind::Io(io) => Err(io),
                other => Err(std::io::Error::other(format!("{other:?}"))),
            },
        }
    }
}

fn to_raw_record(record: &csv::ByteRecord) -> RawRecord {
    let position = record.position().map_or(0, |p| p.line()) as i64;
    let mut problem = None;
    let fields = record
        .iter()
        .map(|field| match std::str::from_utf8(field) {
            Ok(text) => text.to_owned(),
            Err(_) => {
                problem.get_or_insert_with(|| {
                    Problem::new(
                        None,
                        reason::INVALID_ENCODING,
                        "the record is not valid UTF-8",
                    )
                });
                String::from_utf8_lossy(field).into_owned()
            }
        })
        .collect();
    RawRecord {
        position,
        fields,
        raw: None,
        problem,
    }
}

/// Writes fields back as one CSV line, quoting where needed; used for the rejection log.
pub fn to_csv_line(fields: &[String]) -> String {
    let mut writer = csv::WriterBuilder::new()
        .has_headers(false)
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    if writer.write_record(fields).is_err() {
        return fields.join(",");
    }
    let mut bytes = writer.into_inner().unwrap_or_default();
    if bytes.last() == Some(&b'\n') {
        bytes.pop();
    }
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}
