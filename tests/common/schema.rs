//! The GraphQL schema over a test database, run as the admin.

use std::{path::Path, sync::Arc};

use async_graphql::{Name, Request, UploadValue};
use hiring_analytics::{
    AppSchema,
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
