//! The roles, each including the one before, and what each may do.

use std::fmt;

/// What a caller may do. Each role includes every role before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Aggregates only: reports, charts, departments, jobs, counts, the CSV
    /// report exports and `dataChanged`. No hire-level rows.
    Viewer,
    /// Plus hire-level reads (`hiredEmployees`, `hiredEmployee`).
    Analyst,
    /// Plus the insert mutations.
    Editor,
    /// Plus import, backup, verify, restore, operations, the rejected-row
    /// log and the audit log.
    Admin,
}

impl Role {
    /// Every role, lowest first.
    pub const ALL: [Role; 4] = [Role::Viewer, Role::Analyst, Role::Editor, Role::Admin];

    /// The role's name, as configured and as shown in errors.
    pub fn name(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Analyst => "analyst",
            Role::Editor => "editor",
            Role::Admin => "admin",
        }
    }

    /// The role named exactly `name`, if it is one. Case counts: a role
    /// claim holding group names that users may create must not turn a
    /// group called `Admin` into the admin role.
    pub fn parse(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|role| role.name() == name)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
