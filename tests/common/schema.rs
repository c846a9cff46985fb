//! The GraphQL schema over a test database, run as the admin.

use std::{path::Path, sync::Arc};

use async_graphql::{Name, Request, UploadValue, Variables};
use hiring_analytics::{
    AppSchema, AppState,
    auth::Caller,
    build_schema,
    service::backup::{Backups, Storage},
};
use serde_json::Value;

use super::TestDb;

/// The schema over `t` as a local developer runs it, keeping backups in `dir`.
pub fn schema_with_backups(t: &TestDb, dir: &Path) -> AppSchema {
    let mut state = t.local_state();
    state.backups = Arc::new(Backups::new(Storage::local(dir)));
    build_schema(&state)
}

/// Runs `query` as the admin and returns its data; fails the test on any error.
pub async fn admin(schema: &AppSchema, query: &str) -> Value {
    let response = schema
        .execute(Request::new(query).data(Caller::admin()))
        .await;
    assert!(response.errors.is_empty(), "{query}: {:?}", response.errors);
    response.data.into_json().unwrap()
}

/// `request` with `file` sent as its `$file` variable, an upload named `name`
/// (a CSV file, as `importCsv` takes it).
pub fn with_upload(mut request: Request, name: &str, file: std::fs::File) -> Request {
    request
        .variables
        .insert(Name::new("file"), async_graphql::Value::Null);
    request.set_upload(
        "variables.file",
        UploadValue {
            filename: name.to_owned(),
            content_type: Some("text/csv".into()),
            content: file,
        },
    );
    request
}

/// Runs `query` with `variables` on the schema over `state` and returns the
/// whole response as JSON.
pub async fn execute_json(state: &AppState, query: &str, variables: Value) -> Value {
    let request = Request::new(query).variables(Variables::from_json(variables));
    serde_json::to_value(build_schema(state).execute(request).await).unwrap()
}

/// The `data` of `query` run as [`execute_json`] does, failing the test on any error.
pub async fn data_of(state: &AppState, query: &str, variables: Value) -> Value {
    let response = execute_json(state, query, variables).await;
    assert_eq!(response["errors"], Value::Null, "{response}");
    response["data"].clone()
}
