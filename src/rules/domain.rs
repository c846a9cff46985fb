//! Checked values, each parsed once from raw input: ids, names and hire instants.
//!
//! Every input path (CSV, GraphQL, backup restore) builds these through the
//! constructors here, so a value is accepted or refused with the same words
//! wherever it comes from.

use std::fmt::Display;

use chrono::{DateTime, Datelike, Timelike, Utc};

use super::{problem::Problem, reason};

/// The longest name accepted, in characters.
pub const MAX_NAME_CHARS: usize = 255;

/// The years an instant may fall in, in UTC: what both backends store.
pub const YEARS: std::ops::RangeInclusive<i32> = 1..=9999;

/// An id from the data (a hire's, a department's or a job's): a positive 32-bit integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RowId(i32);

impl RowId {
    /// Parses the text of `field`.
    pub fn parse(field: &'static str, text: &str) -> Result<Self, Problem> {
        match text.parse::<i64>() {
            Ok(id) if id > 0 && id <= i64::from(i32::MAX) => Ok(Self(id as i32)),
            _ => Err(invalid_id(field, format!("{text:?}"))),
        }
    }

    /// Checks a stored value of `field`, e.g. one read from a backup.
    pub fn new(field: &'static str, value: i32) -> Result<Self, Problem> {
        if value > 0 {
            Ok(Self(value))
        } else {
            Err(invalid_id(field, value))
        }
    }

    /// The id.
    pub fn get(self) -> i32 {
        self.0
    }
}

fn invalid_id(field: &'static str, shown: impl Display) -> Problem {
    Problem::new(
        Some(field),
        reason::INVALID_ID,
        format!(
            "{field} must be a whole number from 1 to {}, got {shown}",
            i32::MAX
        ),
    )
}

/// A name as stored: no control character, at most [`MAX_NAME_CHARS`] characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Name(String);

impl Name {
    /// Checks the (already trimmed, non-empty) text of `field`.
    pub fn parse(field: &'static str, text: &str) -> Result<Self, Problem> {
        if text.chars().any(char::is_control) {
            return Err(Problem::new(
                Some(field),
                reason::INVALID_CHARACTER,
                format!("{field} holds a control character (such as NUL, a tab or a line break)"),
            ));
        }
        let chars = text.chars().count();
        if chars > MAX_NAME_CHARS {
            return Err(Problem::new(
                Some(field),
                reason::NAME_TOO_LONG,
                format!("{field} has {chars} characters; at most {MAX_NAME_CHARS} are allowed"),
            ));
        }
        Ok(Self(text.to_owned()))
    }

    /// Checks a stored name (e.g. from a backup), which imports already trimmed:
    /// not empty and without surrounding blanks, then as [`Name::parse`].
    pub fn parse_stored(text: &str) -> Result<Self, Problem> {
        if text.trim().is_empty() {
            return Err(Problem::new(
                Some("name"),
                reason::MISSING_FIELD,
                "the name is empty",
            ));
        }
        if text.trim() != text {
            return Err(Problem::new(
                Some("name"),
                reason::INVALID_CHARACTER,
                format!("the name {text:?} has leading or trailing blanks"),
            ));
        }
        Self::parse("name", text)
    }

    /// The name.
    pub fn into_inner(self) -> String {
        self.0
    }
}

/// When a hire happened: a UTC instant to the microsecond, within the years 1 to 9999.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct HireInstant(DateTime<Utc>);

impl HireInstant {
    /// The field every hire instant is read from.
    const FIELD: Option<&'static str> = Some("hire_datetime");

    /// Parses an RFC 3339 instant with an explicit offset, converted to UTC.
    ///
    /// At most microsecond precision is accepted, because that is what
    /// PostgreSQL stores: a finer value could not round-trip.
    pub fn parse(text: &str) -> Result<Self, Problem> {
        let invalid =
            |message: String| Problem::new(Self::FIELD, reason::INVALID_DATETIME, message);
        let parsed = DateTime::parse_from_rfc3339(text).map_err(|err| {
            invalid(format!(
                "{text:?} is not an RFC 3339 datetime with an offset such as \
                 2021-11-07T02:48:42Z ({err})"
            ))
        })?;
        if parsed.nanosecond() >= 1_000_000_000 {
            return Err(invalid(format!(
                "{text:?} is a leap second, which cannot be stored"
            )));
        }
        if parsed.nanosecond() % 1_000 != 0 {
            return Err(invalid(format!(
                "{text:?} is more precise than a microsecond"
            )));
        }
        let utc = parsed.with_timezone(&Utc);
        if !YEARS.contains(&utc.year()) {
            return Err(invalid(format!(
                "{text:?} is outside the years 1 to 9999 in UTC"
            )));
        }
        Ok(Self(utc))
    }

    /// An instant stored as microseconds since the Unix epoch (a backup's `timestamp-micros`).
    pub fn from_micros(micros: i64) -> Result<Self, Problem> {
        DateTime::from_timestamp_micros(micros)
            .filter(|at| YEARS.contains(&at.year()))
            .map(Self)
            .ok_or_else(|| {
                Problem::new(
                    Self::FIELD,
                    reason::INVALID_DATETIME,
                    format!("{micros} microseconds since 1970 is outside the years 1 to 9999"),
                )
            })
    }

    /// The instant.
    pub fn get(self) -> DateTime<Utc> {
        self.0
    }
}
