//! `INTROSPECTION=admin`: a query that introspects the schema (`__schema`,
//! `__type`) is refused with `FORBIDDEN` for callers below admin, over HTTP
//! and WebSocket alike; `__typename` stays open, as clients need it.

use std::sync::Arc;

use async_graphql::{
    ServerError, ServerResult, Variables,
    extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery},
    parser::types::{ExecutableDocument, Selection, SelectionSet},
};

use super::error_codes::with_code;
use crate::auth::{AccessPolicy, caller};

/// Refuses introspection to the callers the policy keeps it from.
pub struct IntrospectionGate;

impl ExtensionFactory for IntrospectionGate {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(IntrospectionGate)
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for IntrospectionGate {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        let allowed = ctx
            .data_opt::<Arc<AccessPolicy>>()
            .is_none_or(|policy| policy.allows_introspection(&caller(ctx)));
        if !allowed && introspects(&document) {
            let message = "introspection is for admins on this server (INTROSPECTION=admin)";
            return Err(with_code(ServerError::new(message, None), "FORBIDDEN"));
        }
        Ok(document)
    }
}

/// Whether any operation or fragment of `document` selects `__schema` or `__type`.
fn introspects(document: &ExecutableDocument) -> bool {
    let operations = document
        .operations
        .iter()
        .map(|(_, op)| &op.node.selection_set);
    let fragments = document.fragments.values().map(|f| &f.node.selection_set);
    operations
        .chain(fragments)
        .any(|set| selects_introspection(&set.node))
}

fn selects_introspection(set: &SelectionSet) -> bool {
    set.items.iter().any(|item| match &item.node {
        Selection::Field(field) => {
            matches!(field.node.name.node.as_str(), "__schema" | "__type")
                || selects_introspection(&field.node.selection_set.node)
        }
        Selection::InlineFragment(fragment) => {
            selects_introspection(&fragment.node.selection_set.node)
        }
        Selection::FragmentSpread(_) => false,
    })
}
