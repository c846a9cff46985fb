//! Counts and times every GraphQL request per operation, and names the
//! operation on the request's tracing span.

use std::{
    sync::{Arc, Mutex},
    time::Instant,
};

use async_graphql::{
    Response, ServerResult, Variables,
    extensions::{
        Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery, NextRequest,
    },
    parser::types::{ExecutableDocument, OperationType},
};

use crate::metrics::{Metrics, Outcome};

/// The extension factory; one extension per request.
pub struct Observe(pub Arc<Metrics>);

impl ExtensionFactory for Observe {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ObserveExtension {
            metrics: Arc::clone(&self.0),
            operation: Mutex::default(),
            named: Mutex::default(),
        })
    }
}

struct ObserveExtension {
    metrics: Arc<Metrics>,
    /// The operation's name and type, once known.
    operation: Mutex<Option<(Option<String>, &'static str)>>,
    /// The type of each named operation of the document, for the one the request picks.
    named: Mutex<Vec<(String, &'static str)>>,
}

fn kind(ty: OperationType) -> &'static str {
    match ty {
        OperationType::Query => "query",
        OperationType::Mutation => "mutation",
        OperationType::Subscription => "subscription",
    }
}

impl ObserveExtension {
    fn set(&self, name: Option<String>, ty: &'static str) {
        if let Some(name) = &name {
            tracing::Span::current().record("operation", name.as_str());
        }
        *self.operation.lock().unwrap_or_else(|e| e.into_inner()) = Some((name, ty));
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for ObserveExtension {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let started = Instant::now();
        let response = next.run(ctx).await;
        let (name, ty) = self
            .operation
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .unwrap_or((None, "unknown"));
        let outcome = if response.errors.is_empty() {
            Outcome::Ok
        } else {
            Outcome::Error
        };
        self.metrics
            .graphql_request(name.as_deref(), ty, outcome, started.elapsed());
        response
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        // With one operation it is the one that runs, even if validation fails later.
        let mut operations = document.operations.iter();
        if let (Some((name, operation)), None) = (operations.next(), operations.next()) {
            self.set(name.map(|n| n.to_string()), kind(operation.node.ty));
        }
        *self.named.lock().unwrap_or_else(|e| e.into_inner()) = document
            .operations
            .iter()
            .filter_map(|(name, op)| Some((name?.to_string(), kind(op.node.ty))))
            .collect();
        Ok(document)
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        if let Some(name) = operation_name {
            let ty = self
                .named
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .find(|(named, _)| named == name)
                .map_or("unknown", |(_, ty)| *ty);
            self.set(Some(name.to_owned()), ty);
        }
        next.run(ctx, operation_name).await
    }
}
