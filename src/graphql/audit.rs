//! The audit trail of the GraphQL API: every call of a mutation root field
//! is recorded in the audit log once it has resolved, with the caller, the
//! request id, the arguments (without secrets or row contents) and the
//! outcome: `OK`, or the error's code (a guard's `FORBIDDEN` included).
//!
//! The resolvers know nothing of it, with one exception: a mutation that
//! starts an operation notes the operation's id with [`started_operation`],
//! so the entry names the operation it started.

use std::{
    convert::Infallible,
    sync::{Arc, Mutex, OnceLock},
};

use async_graphql::{
    Request, ServerError, ServerResult, Value, Variables,
    extensions::{
        Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextPrepareRequest,
        NextResolve, ResolveInfo,
    },
    parser::types::{ExecutableDocument, Field},
    registry::{MetaField, MetaInputValue, MetaType, MetaTypeName, Registry},
};
use sea_orm::DatabaseConnection;
use serde_json::json;

use crate::{
    auth::caller,
    service::audit::{self, NewEntry},
    state::AppState,
};

/// The request id of a request that came over HTTP (its `x-request-id`),
/// as request data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

/// The outcome of a call whose request ended before it answered (a request
/// timeout, a client that went away); an operation it started runs on.
const ABANDONED: &str = "ABANDONED";

/// The code of an error raised without one: async-graphql's own errors
/// while coercing a field's input, as the `ErrorCodes` extension labels them.
const UNCODED: &str = "BAD_USER_INPUT";

/// Upload variables hold this prefix and the upload's index (async-graphql's convention).
const UPLOAD_PLACEHOLDER: &str = "#__graphql_file__:";

/// Arguments whose name holds one of these are never recorded.
const SECRET_WORDS: [&str; 3] = ["token", "password", "secret"];

tokio::task_local! {
    /// The operation the mutation being resolved started, if any.
    static STARTED_OPERATION: Arc<OnceLock<i64>>;
}

/// Notes that the mutation being resolved started operation `id` (its audit
/// entry names the first one); outside a mutation it does nothing.
pub fn started_operation(id: i64) {
    let _ = STARTED_OPERATION.try_with(|started| started.set(id));
}

/// The extension factory; one extension per request.
pub struct Audit;

impl ExtensionFactory for Audit {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(AuditExtension::default())
    }
}

#[derive(Default)]
struct AuditExtension {
    inputs: Mutex<RequestInputs>,
}

/// What the arguments of a request's fields refer to.
#[derive(Default)]
struct RequestInputs {
    operation_name: Option<String>,
    /// The request's variables, with the chosen operation's defaults filled in.
    variables: Variables,
    uploads: Vec<UploadSummary>,
}

/// An uploaded file, as recorded: its size only. Its name is the client's
/// to choose and could hold a person's name, which an append-only table
/// could never forget.
struct UploadSummary {
    bytes: Option<u64>,
}

impl AuditExtension {
    fn inputs(&self) -> std::sync::MutexGuard<'_, RequestInputs> {
        self.inputs.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for AuditExtension {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        let request = next.run(ctx, request).await?;
        let mut inputs = self.inputs();
        inputs.operation_name = request.operation_name.clone();
        inputs.variables = request.variables.clone();
        inputs.uploads = request
            .uploads
            .iter()
            .map(|upload| UploadSummary {
                bytes: upload.content.metadata().ok().map(|meta| meta.len()),
            })
            .collect();
        Ok(request)
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        fill_variable_defaults(&document, &mut self.inputs());
        Ok(document)
    }

    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        let registry = &ctx.schema_env.registry;
        let mutation_root_field = info.path_node.parent.is_none()
            && registry.mutation_type.as_deref() == Some(info.parent_type);
        let state = ctx.data_opt::<AppState>();
        let Some(state) = state.filter(|_| mutation_root_field) else {
            return next.run(ctx, info).await;
        };
        let meta = registry
            .types
            .get(info.parent_type)
            .and_then(|ty| ty.field_by_name(info.name));
        let arguments = summarize(info.field, meta, registry, &self.inputs());
        let pending = PendingCall::new(call_of(ctx, info.name, arguments), &state.db);
        let started = Arc::clone(&pending.started);
        let result = STARTED_OPERATION.scope(started, next.run(ctx, info)).await;
        pending.finish(outcome_of(&result)).await;
        result
    }
}

/// Fills in the defaults the chosen operation declares for variables the
/// request left out.
fn fill_variable_defaults(document: &ExecutableDocument, inputs: &mut RequestInputs) {
    let chosen = document.operations.iter().find(|(name, _)| {
        match (inputs.operation_name.as_deref(), name) {
            (Some(wanted), Some(name)) => wanted == name.as_str(),
            _ => true,
        }
    });
    let Some((_, operation)) = chosen else {
        return;
    };
    for definition in &operation.node.variable_definitions {
        let name = &definition.node.name.node;
        if let (false, Some(default)) = (
            inputs.variables.contains_key(name),
            definition.node.default_value(),
        ) {
            inputs.variables.insert(name.clone(), default.clone());
        }
    }
}

/// The entry of a call of `operation`, its outcome yet to come.
fn call_of(ctx: &ExtensionContext<'_>, operation: &str, arguments: serde_json::Value) -> NewEntry {
    let caller = caller(ctx);
    NewEntry {
        role: caller.role_name().to_owned(),
        identity: caller.identity,
        display: caller.display,
        operation: operation.to_owned(),
        arguments,
        outcome: String::new(),
        request_id: ctx.data_opt::<RequestId>().map(|id| id.0.clone()),
        operation_id: None,
    }
}

/// `OK`, or the code of the error the field resolved to.
fn outcome_of(result: &ServerResult<Option<Value>>) -> String {
    let Err(err) = result else {
        return audit::OK.to_owned();
    };
    error_code(err).unwrap_or(UNCODED).to_owned()
}

fn error_code(err: &ServerError) -> Option<&str> {
    match err.extensions.as_ref()?.get("code")? {
        Value::String(code) => Some(code),
        Value::Enum(code) => Some(code.as_str()),
        _ => None,
    }
}

/// A call being resolved. It is recorded when it ends; if its request is
/// dropped first, it is recorded as [`ABANDONED`] by a task of its own.
struct PendingCall {
    entry: Option<NewEntry>,
    db: DatabaseConnection,
    started: Arc<OnceLock<i64>>,
}

impl PendingCall {
    fn new(entry: NewEntry, db: &DatabaseConnection) -> Self {
        Self {
            entry: Some(entry),
            db: db.clone(),
            started: Arc::default(),
        }
    }

    /// Records the call with `outcome`; the write finishes even if the
    /// request is dropped meanwhile.
    async fn finish(mut self, outcome: String) {
        if let Some(written) = self.spawn_write(outcome)
            && let Err(err) = written.await
        {
            tracing::error!(error = %err, "the task recording an audit entry failed");
        }
    }

    fn spawn_write(&mut self, outcome: String) -> Option<tokio::task::JoinHandle<()>> {
        let mut entry = self.entry.take()?;
        entry.outcome = outcome;
        entry.operation_id = self.started.get().copied();
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::error!(
                operation = entry.operation,
                identity = entry.identity,
                "no runtime to record an audit entry on"
            );
            return None;
        };
        Some(runtime.spawn(write(self.db.clone(), entry)))
    }
}

impl Drop for PendingCall {
    fn drop(&mut self) {
        self.spawn_write(ABANDONED.to_owned());
    }
}

/// Appends `entry`; a failure is logged, and the caller's answer stands.
async fn write(db: DatabaseConnection, entry: NewEntry) {
    let (operation, identity) = (entry.operation.clone(), entry.identity.clone());
    if let Err(err) = audit::record(&db, entry).await {
        err.log();
        tracing::error!(operation, identity, "recording an audit entry failed");
    }
}

/// The arguments of `field` as recorded: scalars and enums as given (after
/// variables and defaults), lists of input objects (rows) as their count,
/// uploads as their size, and nothing whose name suggests a secret.
fn summarize(
    field: &Field,
    meta: Option<&MetaField>,
    registry: &Registry,
    inputs: &RequestInputs,
) -> serde_json::Value {
    let declared = |name: &str| meta.and_then(|meta| meta.args.get(name));
    let mut recorded = serde_json::Map::new();
    for (name, value) in &field.arguments {
        let (name, argument) = (name.node.as_str(), declared(name.node.as_str()));
        if !is_secret(name, argument) {
            // Variables replaced by their values (a copy, rows included: they are counted next).
            let value = value
                .node
                .clone()
                .into_const_with(|name| {
                    Ok::<_, Infallible>(inputs.variables.get(&name).cloned().unwrap_or_default())
                })
                .unwrap_or_else(|never| match never {});
            let summary = summarize_value(argument, &value, registry, &inputs.uploads);
            recorded.insert(name.to_owned(), summary);
        }
    }
    for argument in meta.iter().flat_map(|meta| meta.args.values()) {
        if !recorded.contains_key(&argument.name)
            && !is_secret(&argument.name, Some(argument))
            && let Some(default) = recorded_default(argument, registry)
        {
            recorded.insert(argument.name.clone(), default);
        }
    }
    serde_json::Value::Object(recorded)
}

fn is_secret(name: &str, argument: Option<&MetaInputValue>) -> bool {
    let name = name.to_ascii_lowercase();
    argument.is_some_and(|argument| argument.is_secret)
        || SECRET_WORDS.iter().any(|word| name.contains(word))
}

/// What is recorded of one argument's value, by its declared type.
fn summarize_value(
    argument: Option<&MetaInputValue>,
    value: &Value,
    registry: &Registry,
    uploads: &[UploadSummary],
) -> serde_json::Value {
    match argument.map(|argument| MetaTypeName::concrete_typename(&argument.ty)) {
        Some("Upload") => upload_summary(value, uploads),
        Some(name) if is_input_object(registry, name) => rows_summary(value),
        // An argument the schema does not declare fails anyway; keep no object of it.
        None if holds_object(value) => rows_summary(value),
        _ => value.clone().into_json().unwrap_or_default(),
    }
}

fn is_input_object(registry: &Registry, name: &str) -> bool {
    matches!(registry.types.get(name), Some(MetaType::InputObject { .. }))
}

fn holds_object(value: &Value) -> bool {
    match value {
        Value::Object(_) => true,
        Value::List(items) => items.iter().any(holds_object),
        _ => false,
    }
}

/// Rows are counted, never recorded.
fn rows_summary(value: &Value) -> serde_json::Value {
    match value {
        Value::Null => serde_json::Value::Null,
        Value::List(rows) => json!({ "count": rows.len() }),
        _ => json!({ "count": 1 }),
    }
}

/// An upload as its size (`"upload"` when unknown).
fn upload_summary(value: &Value, uploads: &[UploadSummary]) -> serde_json::Value {
    match value {
        Value::Null => serde_json::Value::Null,
        Value::List(items) => items
            .iter()
            .map(|item| upload_summary(item, uploads))
            .collect(),
        Value::String(placeholder) => placeholder
            .strip_prefix(UPLOAD_PLACEHOLDER)
            .and_then(|index| uploads.get(index.parse::<usize>().ok()?))
            .map_or(json!("upload"), |upload| json!({ "bytes": upload.bytes })),
        _ => json!("upload"),
    }
}

/// The default of an argument left out, when it is a scalar or an enum (or
/// a list of them): what the call ran with.
fn recorded_default(argument: &MetaInputValue, registry: &Registry) -> Option<serde_json::Value> {
    let default = argument.default_value.as_deref()?;
    let name = MetaTypeName::concrete_typename(&argument.ty);
    if name == "Upload" || is_input_object(registry, name) {
        return None;
    }
    Some(serde_json::from_str(default).unwrap_or_else(|_| json!(default)))
}
