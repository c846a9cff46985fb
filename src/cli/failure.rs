//! How a subcommand fails: an exit code and what went wrong.

/// A failure that ends the process, with the exit code it deserves.
#[derive(Debug)]
pub struct Failure {
    /// 2 for a usage or configuration problem, 1 for anything else.
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
            exit_code: 2,
            error: anyhow::anyhow!(message.into()),
        }
    }
}
