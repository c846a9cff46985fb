//! The input rules: what a stored row must be, and why a record is refused.
//!
//! Every input path (CSV files, GraphQL batches, backup restores) turns raw
//! input into checked rows through these types and functions, so one set of
//! rules decides what is stored and what is refused, with one message each.

mod domain;
mod problem;
mod raw;
pub mod reason;
mod records;
mod table;
pub mod verdict;

pub use domain::{HireInstant, MAX_NAME_CHARS, Name, RowId, YEARS};
pub use problem::Problem;
pub use raw::{RawRecord, RejectedRow};
pub use records::{DimensionRow, HireRow, hire_field, parse_dimension_record, parse_hire_record};
pub use table::{Dimension, Table};
