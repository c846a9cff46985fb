//! How large a GraphQL query may be: depth and complexity (checked by
//! async-graphql's validation), and the number of selected fields (checked
//! right after parsing, by [`FieldCountLimit`]).

use std::sync::Arc;

use async_graphql::{
    ServerError, ServerResult, Variables,
    extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery},
    parser::types::{ExecutableDocument, Selection, SelectionSet},
};

use super::error_codes::with_code;

/// Default deepest selection; GraphiQL's introspection query needs 13.
pub const DEFAULT_MAX_DEPTH: usize = 16;
/// Default highest complexity; GraphiQL's introspection query needs about 200.
pub const DEFAULT_MAX_COMPLEXITY: usize = 1_000;

/// Depth and complexity limits applied to every query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryLimits {
    /// Deepest selection accepted.
    pub max_depth: usize,
    /// Highest complexity accepted.
    pub max_complexity: usize,
}

impl Default for QueryLimits {
    fn default() -> Self {
        Self {
            max_depth: DEFAULT_MAX_DEPTH,
            max_complexity: DEFAULT_MAX_COMPLEXITY,
        }
    }
}

impl QueryLimits {
    /// The field-count limit that goes with these limits.
    pub fn field_count_limit(&self) -> FieldCountLimit {
        FieldCountLimit {
            // Twice the complexity limit: a larger document can never pass it.
            max_fields: self.max_complexity.saturating_mul(2).max(100),
        }
    }
}

/// Extension that refuses, right after parsing, a document that selects more
/// than `max_fields` fields: validation compares same-named fields pairwise,
/// so a megabyte of `departments { id }` would otherwise keep a core busy for
/// minutes before the complexity limit could refuse it.
pub struct FieldCountLimit {
    /// The most field selections a document may hold (fragments counted once).
    pub max_fields: usize,
}

impl ExtensionFactory for FieldCountLimit {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(FieldCountLimitExtension {
            max_fields: self.max_fields,
        })
    }
}

struct FieldCountLimitExtension {
    max_fields: usize,
}

/// Field selections in a selection set, counted until `limit` is passed.
fn count_fields(set: &SelectionSet, count: &mut usize, limit: usize) {
    for item in &set.items {
        if *count > limit {
            return;
        }
        match &item.node {
            Selection::Field(field) => {
                *count += 1;
                count_fields(&field.node.selection_set.node, count, limit);
            }
            Selection::InlineFragment(fragment) => {
                count_fields(&fragment.node.selection_set.node, count, limit);
            }
            Selection::FragmentSpread(_) => {}
        }
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for FieldCountLimitExtension {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        let mut fields = 0;
        let operations = document
            .operations
            .iter()
            .map(|(_, op)| &op.node.selection_set);
        let fragments = document.fragments.values().map(|f| &f.node.selection_set);
        for set in operations.chain(fragments) {
            count_fields(&set.node, &mut fields, self.max_fields);
        }
        if fields > self.max_fields {
            return Err(with_code(
                ServerError::new(
                    format!(
                        "the query selects more than {} fields; split it into smaller queries",
                        self.max_fields
                    ),
                    None,
                ),
                "QUERY_TOO_LARGE",
            ));
        }
        Ok(document)
    }
}
