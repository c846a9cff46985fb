//! What can go wrong with a backup, a verification or a restore.

use crate::error::{AppError, ErrorClass};

/// A backup failure; each variant decides its code and class (and so the HTTP
/// status and CLI exit code). The message says what is wrong, safe to show.
#[derive(Debug)]
pub enum BackupError {
    /// The table list is empty.
    InvalidTables(String),
    /// The id is not of the form `20261127T081500Z-3f9a`.
    InvalidId(String),
    /// A table was asked for that the set does not hold.
    TableNotInBackup(String),
    /// No complete set has the id.
    NotFound(String),
    /// Another backup or restore holds the operation lock.
    Busy,
    /// The manifest or an object cannot be read, or an object is missing.
    Corrupt(String),
    /// The set was written by a newer format version.
    UnsupportedFormat(String),
    /// An object's Avro schema is not the one this version reads.
    SchemaMismatch(String),
    /// An object's size or SHA-256 differs from its manifest entry.
    ChecksumMismatch(String),
    /// An object holds another number of rows than its manifest entry says.
    RowCountMismatch(String),
    /// A row breaks the import rules, or a reference within the set is dangling.
    InvalidData(String),
    /// The restore would leave hires pointing at missing departments or jobs.
    BreaksReferences(String),
    /// The backup storage failed; the cause is logged.
    StorageUnavailable(anyhow::Error),
    /// An operator cancelled it (`cancelOperation`).
    Cancelled,
}

impl BackupError {
    /// The stable code sent in `extensions.code`.
    pub fn code(&self) -> &'static str {
        match self {
            BackupError::InvalidTables(_) => "INVALID_TABLES",
            BackupError::InvalidId(_) => "INVALID_BACKUP_ID",
            BackupError::TableNotInBackup(_) => "TABLE_NOT_IN_BACKUP",
            BackupError::NotFound(_) => "BACKUP_NOT_FOUND",
            BackupError::Busy => "BUSY",
            BackupError::Corrupt(_) => "CORRUPT_BACKUP",
            BackupError::UnsupportedFormat(_) => "UNSUPPORTED_BACKUP_FORMAT",
            BackupError::SchemaMismatch(_) => "SCHEMA_MISMATCH",
            BackupError::ChecksumMismatch(_) => "CHECKSUM_MISMATCH",
            BackupError::RowCountMismatch(_) => "ROW_COUNT_MISMATCH",
            BackupError::InvalidData(_) => "INVALID_BACKUP_DATA",
            BackupError::BreaksReferences(_) => "RESTORE_BREAKS_REFERENCES",
            BackupError::StorageUnavailable(_) => "STORAGE_UNAVAILABLE",
            BackupError::Cancelled => "CANCELLED",
        }
    }

    /// The class, which decides the HTTP status and the CLI exit code.
    pub fn class(&self) -> ErrorClass {
        match self {
            BackupError::InvalidTables(_)
            | BackupError::InvalidId(_)
            | BackupError::TableNotInBackup(_) => ErrorClass::BadInput,
            BackupError::NotFound(_) => ErrorClass::NotFound,
            BackupError::Busy => ErrorClass::Busy,
            BackupError::Corrupt(_)
            | BackupError::UnsupportedFormat(_)
            | BackupError::SchemaMismatch(_)
            | BackupError::ChecksumMismatch(_)
            | BackupError::RowCountMismatch(_)
            | BackupError::InvalidData(_) => ErrorClass::InvalidData,
            BackupError::BreaksReferences(_) => ErrorClass::Refused,
            BackupError::StorageUnavailable(_) => ErrorClass::Unavailable,
            BackupError::Cancelled => ErrorClass::Cancelled,
        }
    }
}

impl From<BackupError> for AppError {
    fn from(err: BackupError) -> Self {
        let (class, code) = (err.class(), err.code());
        let message = match err {
            BackupError::Busy => {
                "another backup or restore is running; try again when it has finished".to_owned()
            }
            BackupError::Cancelled => {
                "cancelled: a backup deletes its partial set, a restore rolls back".to_owned()
            }
            // Logged here, where it happens, so that a backup whose request has
            // gone still leaves a trace. The outermost message names the object
            // and S3's error code; the causes stay in the log.
            BackupError::StorageUnavailable(cause) => {
                tracing::error!(error = format!("{cause:#}"), "backup storage failed");
                format!("the backup storage failed: {cause}")
            }
            BackupError::InvalidTables(message)
            | BackupError::InvalidId(message)
            | BackupError::TableNotInBackup(message)
            | BackupError::NotFound(message)
            | BackupError::Corrupt(message)
            | BackupError::UnsupportedFormat(message)
            | BackupError::SchemaMismatch(message)
            | BackupError::ChecksumMismatch(message)
            | BackupError::RowCountMismatch(message)
            | BackupError::InvalidData(message)
            | BackupError::BreaksReferences(message) => message,
        };
        AppError::Service {
            class,
            code,
            message,
        }
    }
}
