//! How a subcommand fails: an exit code and what went wrong.

use crate::error::ErrorClass;

/// A failure that ends the process, with the exit code it deserves.
#[derive(Debug)]
pub struct Failure {
    /// The process's exit code: see `ErrorClass::exit_code`, plus 130 for Ctrl-C.
    pub exit_code: u8,
    /// What went wrong, with its context.
    pub error: anyhow::Error,
}

impl From<anyhow::Error> for Failure {
    fn from(error: anyhow::Error) -> Self {
        Self {
            exit_code: 1,
            error,
        }
    }
}

impl Failure {
    /// A configuration problem the operator must fix (exit code 2).
    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            exit_code: ErrorClass::BadInput.exit_code(),
            error: anyhow::anyhow!(message.into()),
        }
    }
}
