//! What can end an import besides the database.

use crate::error::{AppError, ErrorClass};

/// An import failure; each variant decides its code and class.
#[derive(Debug)]
pub enum ImportError {
    /// The input stream failed while it was read; the table is rolled back.
    Unreadable {
        /// The input's label, e.g. `csv:hired_employees.csv`.
        source: String,
        /// The read error.
        error: std::io::Error,
    },
}

impl ImportError {
    /// An input stream that failed while `source` was read.
    pub fn unreadable(source: &str, error: std::io::Error) -> Self {
        ImportError::Unreadable {
            source: source.to_owned(),
            error,
        }
    }
}

impl From<ImportError> for AppError {
    fn from(err: ImportError) -> Self {
        match err {
            ImportError::Unreadable { source, error } => AppError::Service {
                class: ErrorClass::UnreadableInput,
                code: "UNREADABLE_INPUT",
                message: format!("reading {source} failed: {error}"),
            },
        }
    }
}
