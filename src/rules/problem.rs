//! What is wrong with one record.

/// A problem with one record, before its position is attached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub(super) field: Option<&'static str>,
    pub(super) code: &'static str,
    pub(super) message: String,
}

impl Problem {
    /// A problem with `field` (if one is to blame), a reason code and a message.
    pub fn new(
        field: Option<&'static str>,
        code: &'static str,
        message: impl Into<String>,
    ) -> Self {
        Self {
            field,
            code,
            message: message.into(),
        }
    }

    /// The reason code, from [`super::reason`].
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// The field to blame, if one is.
    pub fn field(&self) -> Option<&'static str> {
        self.field
    }

    /// What is wrong, for people.
    pub fn message(&self) -> &str {
        &self.message
    }
}
