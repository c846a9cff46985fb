//! The one error type at the boundary, with a stable code per variant.
//!
//! Each subsystem (backup, import) has its own error enum whose variants decide
//! their code and [`ErrorClass`]; the class alone decides the HTTP status and
//! the CLI exit code, so no caller matches on code strings.

use async_graphql::ErrorExtensions;
use axum::http::StatusCode;

use sea_orm::{DbErr, RuntimeErr, sqlx};

/// What kind of failure an error is: it decides the HTTP status and the CLI exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// The request or its arguments are wrong; the caller can fix them.
    BadInput,
    /// An input file could not be read.
    UnreadableInput,
    /// No valid credentials were sent.
    Unauthenticated,
    /// The credentials do not grant the operation.
    Forbidden,
    /// The thing asked for does not exist.
    NotFound,
    /// Another operation holds what this one needs; retry when it has finished.
    Busy,
    /// Stored data (a backup set) failed its checks: checksum, schema, rows.
    InvalidData,
    /// The operation was refused because it would break stored data.
    Refused,
    /// A service the server depends on (database, backup storage) failed; retry later.
    Unavailable,
    /// An operator cancelled the operation; it left nothing behind.
    Cancelled,
    /// A bug or an unexpected failure; the cause is logged, never shown.
    Internal,
}

impl ErrorClass {
    /// The HTTP status of a response that carries only this error.
    pub fn status(self) -> StatusCode {
        match self {
            ErrorClass::BadInput | ErrorClass::UnreadableInput => StatusCode::BAD_REQUEST,
            ErrorClass::Unauthenticated => StatusCode::UNAUTHORIZED,
            ErrorClass::Forbidden => StatusCode::FORBIDDEN,
            ErrorClass::NotFound => StatusCode::NOT_FOUND,
            ErrorClass::Busy | ErrorClass::Refused | ErrorClass::Cancelled => StatusCode::CONFLICT,
            ErrorClass::InvalidData => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorClass::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorClass::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The CLI's exit code: 2 usage, 3 not found or unreadable input, 4 busy,
    /// 5 invalid backup data, 6 refused, 1 anything else.
    pub const fn exit_code(self) -> u8 {
        match self {
            ErrorClass::BadInput => 2,
            ErrorClass::UnreadableInput | ErrorClass::NotFound => 3,
            ErrorClass::Busy => 4,
            ErrorClass::InvalidData => 5,
            ErrorClass::Refused => 6,
            ErrorClass::Cancelled => 130,
            ErrorClass::Unauthenticated
            | ErrorClass::Forbidden
            | ErrorClass::Unavailable
            | ErrorClass::Internal => 1,
        }
    }
}

/// An error as clients see it: a stable `code` and a message that is safe to show.
///
/// Internal causes (SQL text, file paths) are logged where the error is turned
/// into a response and never sent to clients. It deliberately has no `Display`:
/// async-graphql turns any `Display` type into an error without a code, so the
/// only way out to a client is the conversion below, which adds the code.
#[derive(Debug)]
pub enum AppError {
    /// No valid credentials were sent for an operation that needs them.
    Unauthenticated(String),
    /// The credentials are valid but do not grant this operation.
    Forbidden(String),
    /// The input is malformed or out of range; `code` names the rule.
    BadInput {
        /// A stable code such as `BATCH_SIZE` or `BAD_USER_INPUT`.
        code: &'static str,
        /// What is wrong, in words a user can act on.
        message: String,
    },
    /// A subsystem's error (see `service::backup::BackupError`): its variant
    /// chose the code, class and message.
    Service {
        /// The class, which decides status and exit code.
        class: ErrorClass,
        /// The stable code, e.g. `BUSY` or `CHECKSUM_MISMATCH`.
        code: &'static str,
        /// What is wrong, safe to show.
        message: String,
    },
    /// The database did not answer; retrying later may help.
    DatabaseUnavailable(DbErr),
    /// SQLite is busy with another writer (such as an import); retrying later may help.
    DatabaseBusy(DbErr),
    /// Anything else; the cause is logged, never shown.
    Internal(anyhow::Error),
}

impl AppError {
    /// The machine-readable code sent in `extensions.code`.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::Unauthenticated(_) => "UNAUTHENTICATED",
            AppError::Forbidden(_) => "FORBIDDEN",
            AppError::BadInput { code, .. } | AppError::Service { code, .. } => code,
            AppError::DatabaseUnavailable(_) => "DATABASE_UNAVAILABLE",
            AppError::DatabaseBusy(_) => "DATABASE_BUSY",
            AppError::Internal(_) => "INTERNAL_SERVER_ERROR",
        }
    }

    /// The class of failure, which decides the HTTP status and the CLI exit code.
    pub fn class(&self) -> ErrorClass {
        match self {
            AppError::Unauthenticated(_) => ErrorClass::Unauthenticated,
            AppError::Forbidden(_) => ErrorClass::Forbidden,
            AppError::BadInput { .. } => ErrorClass::BadInput,
            AppError::Service { class, .. } => *class,
            AppError::DatabaseUnavailable(_) | AppError::DatabaseBusy(_) => ErrorClass::Unavailable,
            AppError::Internal(_) => ErrorClass::Internal,
        }
    }

    /// The HTTP status of a response that carries only this error.
    pub fn status(&self) -> StatusCode {
        self.class().status()
    }

    /// The CLI's exit code for this error.
    pub fn exit_code(&self) -> u8 {
        self.class().exit_code()
    }

    /// The message that is safe to show to clients.
    pub fn public_message(&self) -> String {
        match self {
            AppError::Unauthenticated(message) | AppError::Forbidden(message) => message.clone(),
            AppError::BadInput { message, .. } | AppError::Service { message, .. } => {
                message.clone()
            }
            AppError::DatabaseUnavailable(_) => {
                "the database is unavailable; try again later".into()
            }
            AppError::DatabaseBusy(_) => {
                "the database is busy with another write, such as an import; try again later".into()
            }
            AppError::Internal(_) => "internal server error".into(),
        }
    }

    /// The public message with the internal cause appended: for the operator's
    /// terminal (CLI), never for HTTP clients.
    pub fn detail(&self) -> String {
        match self {
            AppError::DatabaseUnavailable(cause) | AppError::DatabaseBusy(cause) => {
                format!("{}: {cause}", self.public_message())
            }
            AppError::Internal(cause) => format!("{cause:#}"),
            _ => self.public_message(),
        }
    }

    /// An operation stopped by `cancelOperation`; it left nothing behind.
    pub fn cancelled() -> Self {
        AppError::Service {
            class: ErrorClass::Cancelled,
            code: "CANCELLED",
            message: "cancelled: an import or restore rolls back, a backup deletes its partial set"
                .to_owned(),
        }
    }

    /// A bad-input error with a specific code.
    pub fn bad_input(code: &'static str, message: impl Into<String>) -> Self {
        AppError::BadInput {
            code,
            message: message.into(),
        }
    }

    /// Logs the internal cause, if any, at the place the error leaves the server.
    pub fn log(&self) {
        match self {
            AppError::DatabaseUnavailable(cause) | AppError::DatabaseBusy(cause) => {
                tracing::error!(error = %cause, code = self.code(), "database unavailable");
            }
            AppError::Internal(cause) => {
                tracing::error!(
                    error = format!("{cause:#}"),
                    code = self.code(),
                    "internal error"
                );
            }
            _ => {}
        }
    }
}

impl From<DbErr> for AppError {
    fn from(err: DbErr) -> Self {
        let sqlx_error = match &err {
            DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => {
                return AppError::DatabaseUnavailable(err);
            }
            DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
                Some(e.as_ref())
            }
            _ => None,
        };
        match sqlx_error {
            Some(
                sqlx::Error::Io(_)
                | sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::WorkerCrashed,
            ) => AppError::DatabaseUnavailable(err),
            Some(sqlx::Error::Database(db)) if is_sqlite_busy(db.as_ref()) => {
                AppError::DatabaseBusy(err)
            }
            _ => AppError::Internal(anyhow::Error::new(err)),
        }
    }
}

/// SQLITE_BUSY or SQLITE_LOCKED, in any of their extended forms.
fn is_sqlite_busy(err: &dyn sqlx::error::DatabaseError) -> bool {
    err.code()
        .and_then(|code| code.parse::<i32>().ok())
        .is_some_and(|code| matches!(code & 0xff, 5 | 6))
        && err.message().contains("locked")
}

impl From<anyhow::Error> for AppError {
    fn from(err: anyhow::Error) -> Self {
        match err.downcast::<DbErr>() {
            Ok(db) => AppError::from(db),
            Err(other) => AppError::Internal(other),
        }
    }
}

impl From<AppError> for async_graphql::Error {
    fn from(err: AppError) -> Self {
        err.log();
        let code = err.code();
        async_graphql::Error::new(err.public_message()).extend_with(|_, ext| ext.set("code", code))
    }
}
