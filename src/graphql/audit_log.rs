//! The audit log, read back (admin only): who called which write or admin
//! operation, when, with what, and how it ended.

use async_graphql::{
    Context, ID, Json, Object, Result,
    connection::{Connection, Edge},
};

use super::{db, id_page, scalars::DateTime};
use crate::{
    auth::{Needs, Role},
    service::audit::{self, AuditRecord, Filter},
};

/// The most entries one page returns.
const MAX_PAGE_SIZE: i32 = 100;
const DEFAULT_PAGE_SIZE: i32 = 50;

/// One call of a mutation or a CLI command, as the audit log recorded it.
pub struct AuditEntry(pub AuditRecord);

#[Object]
impl AuditEntry {
    /// The entry's id; later entries have larger ids.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// When the call ended and was recorded.
    async fn at(&self) -> DateTime {
        DateTime(self.0.at)
    }

    /// Who made it: `token:<name>`, `user:<sub>`, `anonymous`, or `cli:<user>`.
    async fn identity(&self) -> &str {
        &self.0.identity
    }

    /// A name for people to read, when the identity provider gave one.
    async fn display(&self) -> Option<&str> {
        self.0.display.as_deref()
    }

    /// The caller's role: `viewer`, `analyst`, `editor`, `admin`, or `none`.
    async fn role(&self) -> &str {
        &self.0.role
    }

    /// The mutation field (e.g. `insertHiredEmployees`), or the CLI command (e.g. `restore`).
    async fn operation(&self) -> &str {
        &self.0.operation
    }

    /// Its arguments, without secrets: rows appear as `{"count": n}`, an upload as its
    /// size (`{"bytes": n}`; never its file name, which could name a person).
    async fn arguments(&self) -> Json<serde_json::Value> {
        Json(serde_json::from_str(&self.0.arguments).unwrap_or_default())
    }

    /// `OK`, or the error's code (e.g. `FORBIDDEN`, `BAD_USER_INPUT`); `ABANDONED` when
    /// the request ended before the call answered.
    async fn outcome(&self) -> &str {
        &self.0.outcome
    }

    /// The HTTP request's `x-request-id`; null from the CLI.
    async fn request_id(&self) -> Option<&str> {
        self.0.request_id.as_deref()
    }

    /// The operation the call started (see `operation(id)`), if any.
    async fn operation_id(&self) -> Option<ID> {
        self.0.operation_id.map(|id| ID(id.to_string()))
    }
}

/// The audit log query (admin only).
#[derive(Default)]
pub struct AuditLogQuery;

#[Object]
impl AuditLogQuery {
    /// Every write and admin operation, from GraphQL or the CLI, newest first;
    /// optionally only one identity's, or only those since an instant.
    #[graphql(guard = "Needs(Role::Admin)")]
    async fn audit_log(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size, 1 to 100.", default = 50)] first: Option<i32>,
        #[graphql(desc = "The cursor of the last entry of the previous page.")] after: Option<
            String,
        >,
        #[graphql(desc = "Only calls by exactly this identity, e.g. `token:admin`.")]
        identity: Option<String>,
        #[graphql(desc = "Only calls recorded at or after this instant.")] since: Option<DateTime>,
    ) -> Result<Connection<String, AuditEntry>> {
        let (first, before_id) = id_page(first, after, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)?;
        let filter = Filter {
            identity,
            since: since.map(|since| since.0),
        };
        let page = audit::list(db(ctx), filter, before_id, first).await?;
        let mut connection = Connection::new(before_id.is_some(), page.has_more);
        connection.edges.extend(
            page.rows
                .into_iter()
                .map(|row| Edge::new(row.id.to_string(), AuditEntry(row))),
        );
        Ok(connection)
    }
}
