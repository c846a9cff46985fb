//! Writing values as CSV.

use std::borrow::Cow;

/// One field as CSV: quoted when it holds a comma, a quote or a line break.
pub fn csv_field(value: &str) -> Cow<'_, str> {
    if value.contains([',', '"', '\n', '\r']) {
        Cow::Owned(format!("\"{}\"", value.replace('"', "\"\"")))
    } else {
        Cow::Borrowed(value)
    }
}

/// Writes fields back as one CSV line; used for the rejection log.
pub fn to_csv_line(fields: &[String]) -> String {
    fields
        .iter()
        .map(|field| csv_field(field))
        .collect::<Vec<_>>()
        .join(",")
}
