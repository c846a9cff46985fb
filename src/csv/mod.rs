//! CSV reading (headerless files as raw records) and writing (fields and lines).

mod read;
mod write;

pub use read::{CsvFault, CsvLine, CsvRecords, MAX_LINE_BYTES};
pub use write::{csv_field, to_csv_line};
