//! Admin-only queries.

use std::sync::Arc;

use async_graphql::{
    Context, Object, Result, SimpleObject, Upload,
    connection::{Connection, Edge},
};
use entity::rejected_row;

use super::{db, id_page, jobs, scalars::DateTime};
use crate::{
    auth::{Needs, Role},
    error::AppError,
    rules::Table,
    service::{
        import::{ImportProgress, TableSummary},
        operations::Job,
        rejected,
    },
};

/// The most entries one page of the rejected-row log returns.
pub const MAX_PAGE_SIZE: i32 = 500;
const DEFAULT_PAGE_SIZE: i32 = 50;

/// One refused input row, as logged.
#[derive(Debug, Clone, SimpleObject)]
pub struct RejectedRowLogEntry {
    /// The log entry's own id.
    pub id: i64,
    /// Where the row came from, such as `csv:hired_employees.csv` or `graphql:insertHiredEmployees`.
    pub source: String,
    /// The line number in a file, or the index in a batch.
    pub position: i64,
    /// The record as it was received.
    pub raw_record: String,
    /// The offending column, when one column is to blame.
    pub field: Option<String>,
    /// A stable reason code.
    pub code: String,
    /// What was wrong, for people.
    pub message: String,
    /// When the row was refused.
    pub rejected_at: DateTime,
}

impl From<rejected_row::Model> for RejectedRowLogEntry {
    fn from(m: rejected_row::Model) -> Self {
        Self {
            id: m.id,
            source: m.source,
            position: m.position,
            raw_record: m.raw_record,
            field: m.field,
            code: m.code,
            message: m.message,
            rejected_at: DateTime(m.rejected_at),
        }
    }
}

/// Queries for operators; each needs the admin token.
#[derive(Default)]
pub struct AdminQuery;

#[Object]
impl AdminQuery {
    /// The rejected-row log, newest first, optionally for one source.
    #[graphql(guard = "Needs(Role::Admin)")]
    async fn rejected_rows(
        &self,
        ctx: &Context<'_>,
        source: Option<String>,
        #[graphql(desc = "Page size, 1 to 500; 50 when omitted.")] first: Option<i32>,
        #[graphql(desc = "The cursor of the last entry of the previous page.")] after: Option<
            String,
        >,
    ) -> Result<Connection<String, RejectedRowLogEntry>> {
        let (first, before_id) = id_page(first, after, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)?;
        let page =
            rejected::list_rejected_rows(db(ctx), source.as_deref(), before_id, first).await?;
        let mut connection = Connection::new(before_id.is_some(), page.has_more);
        connection.edges.extend(
            page.rows
                .into_iter()
                .map(|row| Edge::new(row.id.to_string(), RejectedRowLogEntry::from(row))),
        );
        Ok(connection)
    }
}

/// Refused rows of one reason.
#[derive(Debug, Clone, SimpleObject)]
pub struct ReasonCount {
    /// The reason code, e.g. `MISSING_FIELD`.
    pub code: String,
    /// How many rows were refused for it.
    pub rows: u64,
}

/// What an import did to one table (the same summary the CLI prints).
#[derive(Debug, Clone, SimpleObject)]
pub struct ImportSummary {
    /// The table loaded.
    pub table: Table,
    /// Records read from the file.
    pub read: u64,
    /// Rows newly stored.
    pub inserted: u64,
    /// Rows already stored with the same content.
    pub unchanged: u64,
    /// Rows refused; each is in the rejected-row log.
    pub rejected: u64,
    /// Refused rows per reason code.
    pub rejected_by_reason: Vec<ReasonCount>,
}

impl From<TableSummary> for ImportSummary {
    fn from(s: TableSummary) -> Self {
        Self {
            table: s.table,
            read: s.read,
            inserted: s.inserted,
            unchanged: s.unchanged,
            rejected: s.rejected,
            rejected_by_reason: s
                .rejected_by_reason
                .into_iter()
                .map(|(code, rows)| ReasonCount { code, rows })
                .collect(),
        }
    }
}

/// The job of an import of the uploaded `file` into `table`.
pub(super) fn import_job(ctx: &Context<'_>, table: Table, file: Upload) -> Result<Job, AppError> {
    let upload = file.value(ctx).map_err(|err| {
        AppError::bad_input(
            "UNREADABLE_INPUT",
            format!("the upload cannot be read: {err}"),
        )
    })?;
    let size = upload.size().ok();
    let what = (table, upload.filename, size);
    let input = Box::new(upload.content);
    Ok(Job::import(
        db(ctx).clone(),
        what,
        input,
        Arc::new(ImportProgress::default()),
    ))
}

/// Mutations for operators; each needs the admin token.
#[derive(Default)]
pub struct AdminMutation;

#[Object]
impl AdminMutation {
    /// Loads a headerless CSV file into one table, in one transaction, with the same rules
    /// and summary as `hiring-analytics import` (send it as a GraphQL multipart upload).
    /// Recorded in the operations log like `startImportCsv`, but answers when done.
    #[graphql(guard = "Needs(Role::Admin)")]
    async fn import_csv(
        &self,
        ctx: &Context<'_>,
        table: Table,
        file: Upload,
    ) -> Result<ImportSummary> {
        let output = jobs::run_to_end(ctx, import_job(ctx, table, file)?).await?;
        Ok(output.into_import()?.into())
    }
}
