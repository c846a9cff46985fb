//! Stable reason codes for refused rows.

/// The line is not valid CSV: an unclosed quote, text after a closing quote, or too long.
pub const MALFORMED_CSV: &str = "MALFORMED_CSV";
/// The record is not valid UTF-8.
pub const INVALID_ENCODING: &str = "INVALID_ENCODING";
/// A name holds a control character such as NUL, a tab or a line break.
pub const INVALID_CHARACTER: &str = "INVALID_CHARACTER";
/// The record has too few or too many fields.
pub const WRONG_FIELD_COUNT: &str = "WRONG_FIELD_COUNT";
/// A mandatory field is empty or blank.
pub const MISSING_FIELD: &str = "MISSING_FIELD";
/// An id is not a positive 32-bit integer.
pub const INVALID_ID: &str = "INVALID_ID";
/// A name is longer than 255 characters.
pub const NAME_TOO_LONG: &str = "NAME_TOO_LONG";
/// The hire datetime is not an RFC 3339 instant with an offset.
pub const INVALID_DATETIME: &str = "INVALID_DATETIME";
/// `department_id` names no department.
pub const UNKNOWN_DEPARTMENT: &str = "UNKNOWN_DEPARTMENT";
/// `job_id` names no job.
pub const UNKNOWN_JOB: &str = "UNKNOWN_JOB";
/// The id is already stored with different content.
pub const DUPLICATE_ID: &str = "DUPLICATE_ID";
/// The department or job name is already used by another id.
pub const DUPLICATE_NAME: &str = "DUPLICATE_NAME";

/// Every reason code.
pub const ALL: [&str; 12] = [
    MALFORMED_CSV,
    INVALID_ENCODING,
    INVALID_CHARACTER,
    WRONG_FIELD_COUNT,
    MISSING_FIELD,
    INVALID_ID,
    NAME_TOO_LONG,
    INVALID_DATETIME,
    UNKNOWN_DEPARTMENT,
    UNKNOWN_JOB,
    DUPLICATE_ID,
    DUPLICATE_NAME,
];

/// The reason code spelled `code`, if there is one (e.g. read back from the database).
pub fn known(code: &str) -> Option<&'static str> {
    ALL.into_iter().find(|known| *known == code)
}
