//! A record before it is checked, and a refused one.

use super::{domain::RowId, problem::Problem, reason};
use crate::csv::{CsvFault, CsvLine, to_csv_line};

/// One input record before it is checked.
#[derive(Debug, Clone)]
pub struct RawRecord {
    /// The line number in a file, or the index in a batch.
    pub position: i64,
    /// The fields as text, in column order.
    pub fields: Vec<String>,
    /// The record as received, for the rejection log; `None` means the fields as a CSV line.
    pub raw: Option<String>,
    /// A problem found while reading, before any field is looked at.
    pub problem: Option<Problem>,
}

impl RawRecord {
    /// The record as received, for the rejection log.
    ///
    /// NUL characters become U+FFFD, because PostgreSQL text cannot hold them.
    pub fn raw_text(&self) -> String {
        let raw = self
            .raw
            .clone()
            .unwrap_or_else(|| to_csv_line(&self.fields));
        if raw.contains('\0') {
            raw.replace('\0', "\u{FFFD}")
        } else {
            raw
        }
    }

    /// The id of the record, if its first field is one; used to label rejections.
    fn leading_id(&self) -> Option<i32> {
        let first = self.fields.first()?;
        RowId::parse("id", first.trim()).ok().map(RowId::get)
    }
}

impl From<CsvLine> for RawRecord {
    /// A CSV line as a record; a line that could not be read cleanly carries its problem.
    fn from(line: CsvLine) -> Self {
        let problem = line.fault.map(|fault| match fault {
            CsvFault::Malformed(message) => Problem::new(None, reason::MALFORMED_CSV, message),
            CsvFault::NotUtf8 => Problem::new(
                None,
                reason::INVALID_ENCODING,
                "the record is not valid UTF-8",
            ),
        });
        Self {
            position: line.line_number,
            fields: line.fields,
            raw: line.raw,
            problem,
        }
    }
}

/// Why one record was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedRow {
    /// The line number in a file, or the index in a batch.
    pub position: i64,
    /// The record's id, when it could be read.
    pub id: Option<i32>,
    /// The offending field, when one field is to blame.
    pub field: Option<&'static str>,
    /// A code from [`super::reason`].
    pub code: &'static str,
    /// What is wrong, for people.
    pub message: String,
    /// The record as received.
    pub raw: String,
}

impl RejectedRow {
    /// `record` refused for `problem`; `id` labels it when known, else its leading id.
    pub fn new(record: &RawRecord, id: Option<i32>, problem: Problem) -> Self {
        Self {
            position: record.position,
            id: id.or_else(|| record.leading_id()),
            field: problem.field,
            code: problem.code,
            message: problem.message,
            raw: record.raw_text(),
        }
    }

    /// A row refused by a check that ran elsewhere (SQL), from its stored raw text.
    pub fn from_stored(position: i64, id: Option<i32>, problem: Problem, raw: String) -> Self {
        Self {
            position,
            id,
            field: problem.field,
            code: problem.code,
            message: problem.message,
            raw,
        }
    }
}
