//! Who sent a request, as proven by its bearer token, and with what role.

use super::role::Role;

/// The caller of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// Who it is, as recorded in the audit log and as `startedBy`:
    /// `anonymous`, `token:<name>` for a static token, `user:<sub>` for a JWT.
    pub identity: String,
    /// A name for people to read (a JWT's `email` or `preferred_username`).
    pub display: Option<String>,
    /// What it may do; `None` may do nothing (an anonymous caller where
    /// `ANONYMOUS_ROLE` is `none`).
    pub role: Option<Role>,
    /// When its credentials stop being valid (Unix seconds; a JWT's `exp`
    /// plus the leeway), so a long-lived WebSocket can end with them.
    pub valid_until: Option<i64>,
}

impl Caller {
    /// A request without a token, given the role anonymous callers get.
    pub fn anonymous(role: Option<Role>) -> Self {
        Self {
            identity: "anonymous".into(),
            display: None,
            role,
            valid_until: None,
        }
    }

    /// A request with the static token named `name`.
    pub fn service(name: &str, role: Role) -> Self {
        Self {
            identity: format!("token:{name}"),
            display: None,
            role: Some(role),
            valid_until: None,
        }
    }

    /// A user signed in with the identity provider.
    pub fn user(subject: &str, display: Option<String>, role: Option<Role>) -> Self {
        Self {
            identity: format!("user:{subject}"),
            display,
            role,
            valid_until: None,
        }
    }

    /// The caller, whose credentials are valid until `valid_until` (Unix seconds).
    pub fn until(mut self, valid_until: Option<i64>) -> Self {
        self.valid_until = valid_until;
        self
    }

    /// The `ADMIN_TOKEN` caller.
    pub fn admin() -> Self {
        Self::service("admin", Role::Admin)
    }

    /// The caller's role name, as named in cache keys and the audit log
    /// (`none` without a role).
    pub fn role_name(&self) -> &'static str {
        self.role.map_or("none", Role::name)
    }

    /// Whether the caller is anonymous.
    pub fn is_anonymous(&self) -> bool {
        self.identity == "anonymous"
    }

    /// Whether the caller's role includes `role`.
    pub fn has(&self, role: Role) -> bool {
        self.role.is_some_and(|own| own >= role)
    }
}
