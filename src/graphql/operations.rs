//! Admin operations as tracked jobs: start one and get it back at once,
//! look it up, list them, cancel one (admin only).

use async_graphql::{
    Context, ID, Json, Object, Result, SimpleObject, Union, Upload,
    connection::{Connection, Edge},
};

use super::{
    admin::{ImportSummary, import_job},
    audit_log::AuditEntry,
    backup::{BackupSet, BackupVerification, RestoreReport, backup_job, restore_job, verify_job},
    db, id_page, jobs,
    scalars::DateTime,
};
use crate::{
    auth::{Needs, Role},
    error::{AppError, ErrorClass},
    rules::Table,
    service::{
        audit,
        operations::{self, Filter, Kind, OperationRecord, Output, State, output_of, state_of},
    },
};

/// The most operations one page returns.
const MAX_PAGE_SIZE: i32 = 100;
const DEFAULT_PAGE_SIZE: i32 = 20;

/// How far an operation has got.
#[derive(Debug, Clone, SimpleObject)]
pub struct OperationProgress {
    /// Units done so far.
    pub done: u64,
    /// Units in all, once known.
    pub total: Option<u64>,
    /// What is counted: `rows` or `bytes`.
    pub unit: String,
    /// What it is doing now, e.g. `writing` or `verifying`.
    pub phase: String,
}

/// Why an operation failed or stopped.
#[derive(Debug, Clone, SimpleObject)]
pub struct OperationError {
    /// A stable code, e.g. `BUSY`, `CHECKSUM_MISMATCH`, `CANCELLED` or `INTERRUPTED`.
    pub code: String,
    /// What went wrong, for people.
    pub message: String,
}

/// What a successful operation produced.
#[derive(Union)]
pub enum OperationResult {
    /// A backup's new set.
    BackupSet(BackupSet),
    /// A verification's findings.
    BackupVerification(BackupVerification),
    /// A restore's report.
    RestoreReport(RestoreReport),
    /// An import's summary.
    ImportSummary(ImportSummary),
}

/// An import, backup, verification or restore, from queued to finished.
pub struct Operation(pub OperationRecord);

#[Object]
impl Operation {
    /// The operation's id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// What it does.
    async fn kind(&self) -> Kind {
        Kind::parse(&self.0.kind).unwrap_or(Kind::Import)
    }

    /// Where it is in its life.
    async fn state(&self) -> State {
        state_of(&self.0)
    }

    /// How far it has got.
    async fn progress(&self) -> OperationProgress {
        OperationProgress {
            done: self.0.progress_done.max(0) as u64,
            total: self.0.progress_total.map(|total| total.max(0) as u64),
            unit: self.0.progress_unit.clone(),
            phase: self.0.phase.clone(),
        }
    }

    /// When it was recorded.
    async fn queued_at(&self) -> DateTime {
        DateTime(self.0.queued_at)
    }

    /// When it started running.
    async fn started_at(&self) -> Option<DateTime> {
        self.0.started_at.map(DateTime)
    }

    /// When it ended.
    async fn finished_at(&self) -> Option<DateTime> {
        self.0.finished_at.map(DateTime)
    }

    /// Who started it: `token:<name>` for a static token, `user:<sub>` for a JWT, or
    /// `cli:<user>` for the command line.
    async fn started_by(&self) -> &str {
        &self.0.started_by
    }

    /// Its arguments.
    async fn parameters(&self) -> Json<serde_json::Value> {
        Json(serde_json::from_str(&self.0.parameters).unwrap_or_default())
    }

    /// What it produced, once it succeeded.
    async fn result(&self, ctx: &Context<'_>) -> Option<OperationResult> {
        Some(match output_of(&self.0)? {
            Output::Backup(manifest) => OperationResult::BackupSet(BackupSet::new(manifest, ctx)),
            Output::Verification(verification) => {
                OperationResult::BackupVerification(BackupVerification::new(verification, ctx))
            }
            Output::Restore(report) => OperationResult::RestoreReport(report.into()),
            Output::Import(summary) => OperationResult::ImportSummary(summary.into()),
        })
    }

    /// Why it failed or stopped.
    async fn error(&self) -> Option<OperationError> {
        Some(OperationError {
            code: self.0.error_code.clone()?,
            message: self.0.error_message.clone().unwrap_or_default(),
        })
    }

    /// True once `cancelOperation` was asked for it.
    async fn cancel_requested(&self) -> bool {
        self.0.cancel_requested
    }

    /// The audit log's entry of the call that started it; null for one started
    /// before the audit log existed, or asked for in the very call that starts it
    /// (the entry is recorded once that call has answered).
    async fn audit_entry(&self, ctx: &Context<'_>) -> Result<Option<AuditEntry>> {
        Ok(audit::of_operation(db(ctx), self.0.id)
            .await?
            .map(AuditEntry))
    }
}

/// The operation id `id`, or `INVALID_OPERATION_ID`.
pub(super) fn operation_id(id: &ID) -> Result<i64, AppError> {
    id.parse::<i64>().map_err(|_| {
        AppError::bad_input(
            "INVALID_OPERATION_ID",
            format!("{:?} is not an operation id", id.as_str()),
        )
    })
}

/// `OPERATION_NOT_FOUND`.
pub(super) fn not_found(id: i64) -> AppError {
    AppError::Service {
        class: ErrorClass::NotFound,
        code: "OPERATION_NOT_FOUND",
        message: format!("no operation has id {id}"),
    }
}

/// Operation queries; each needs the admin token.
#[derive(Default)]
pub struct OperationsQuery;

#[Object]
impl OperationsQuery {
    /// The operation `id`, or null when there is none.
    #[graphql(guard = "Needs(Role::Admin)")]
    async fn operation(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Operation>> {
        let record = operations::get(db(ctx), operation_id(&id)?).await?;
        Ok(record.map(Operation))
    }

    /// Imports, backups, verifications and restores, newest first.
    #[graphql(guard = "Needs(Role::Admin)")]
    async fn operations(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size, 1 to 100; 20 when omitted.")] first: Option<i32>,
        #[graphql(desc = "The cursor of the last operation of the previous page.")] after: Option<
            String,
        >,
        kind: Option<Kind>,
        state: Option<State>,
    ) -> Result<Connection<String, Operation>> {
        let (first, before_id) = id_page(first, after, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)?;
        let filter = Filter { kind, state };
        let page = operations::list(db(ctx), filter, before_id, first).await?;
        let mut connection = Connection::new(before_id.is_some(), page.has_more);
        connection.edges.extend(
            page.rows
                .into_iter()
                .map(|row| Edge::new(row.id.to_string(), Operation(row))),
        );
        Ok(connection)
    }
}

/// Mutations that start an operation and answer at once with it, `QUEUED`
/// or `RUNNING`; follow it with `subscription { operation(id) }`.
#[derive(Default)]
pub struct OperationsMutation;

#[Object]
impl OperationsMutation {
    /// Starts a backup of tables (every table when `tables` is left out).
    #[graphql(guard = "Needs(Role::Admin)")]
    async fn start_backup(
        &self,
        ctx: &Context<'_>,
        tables: Option<Vec<Table>>,
    ) -> Result<Operation> {
        Ok(Operation(jobs::start(ctx, backup_job(ctx, tables)).await?))
    }

    /// Starts a verification of the backup set `id`.
    #[graphql(guard = "Needs(Role::Admin)")]
    async fn start_verify_backup(&self, ctx: &Context<'_>, id: ID) -> Result<Operation> {
        Ok(Operation(jobs::start(ctx, verify_job(ctx, id)).await?))
    }

    /// Starts a restore of tables (every table of the set when `tables` is left out) from
    /// the set `backupId`; with `dryRun`, everything but the commit.
    #[graphql(guard = "Needs(Role::Admin)")]
    async fn start_restore(
        &self,
        ctx: &Context<'_>,
        backup_id: ID,
        tables: Option<Vec<Table>>,
        #[graphql(default = false)] dry_run: bool,
    ) -> Result<Operation> {
        let job = restore_job(ctx, backup_id, tables, dry_run);
        Ok(Operation(jobs::start(ctx, job).await?))
    }

    /// Starts an import of a headerless CSV file (a multipart upload) into one table.
    #[graphql(guard = "Needs(Role::Admin)")]
    async fn start_import_csv(
        &self,
        ctx: &Context<'_>,
        table: Table,
        file: Upload,
    ) -> Result<Operation> {
        let job = import_job(ctx, table, file)?;
        Ok(Operation(jobs::start(ctx, job).await?))
    }

    /// Asks the operation to stop, wherever it runs: an import or restore rolls back, a
    /// backup deletes its partial set. It ends `CANCELLED` within a second or so (or with
    /// its own outcome, if it finished first). Answers with the operation as it is now.
    #[graphql(guard = "Needs(Role::Admin)")]
    async fn cancel_operation(&self, ctx: &Context<'_>, id: ID) -> Result<Operation> {
        let id = operation_id(&id)?;
        let record = operations::request_cancel(db(ctx), id).await?;
        Ok(Operation(record.ok_or_else(|| not_found(id))?))
    }
}
