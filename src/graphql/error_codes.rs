//! Gives every GraphQL error a stable `extensions.code`.

use std::sync::Arc;

use async_graphql::{
    Response, ServerError, ServerResult, ValidationResult, Variables,
    extensions::{
        Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextRequest, NextValidation,
    },
    parser::types::{ExecutableDocument, Selection, SelectionSet},
};

/// Extension that labels parse, validation and limit errors with a code.
///
/// Errors raised by resolvers already carry one (see `AppError`); this covers
/// the ones async-graphql raises itself, so clients can match on every error.
///
/// It also refuses, right after parsing, a document that selects more than
/// `max_fields` fields: validation compares same-named fields pairwise, so a
/// megabyte of `departments { id }` would otherwise keep a core busy for
/// minutes before the complexity limit could refuse it.
pub struct ErrorCodes {
    /// The most field selections a document may hold (fragments counted once).
    pub max_fields: usize,
}

impl ExtensionFactory for ErrorCodes {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ErrorCodesExtension {
            max_fields: self.max_fields,
        })
    }
}

struct ErrorCodesExtension {
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

fn with_code(mut err: ServerError, code: &str) -> ServerError {
    let ext = err.extensions.get_or_insert_with(Default::default);
    if ext.get("code").is_none() {
        ext.set("code", code);
    }
    err
}

#[async_graphql::async_trait::async_trait]
impl Extension for ErrorCodesExtension {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let mut response = next.run(ctx).await;
        // Whatever is left without a code failed while coercing a field's input.
        response.errors = std::mem::take(&mut response.errors)
            .into_iter()
            .map(|err| with_code(err, "BAD_USER_INPUT"))
            .collect();
        response
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next
            .run(ctx, query, variables)
            .await
            .map_err(|err| with_code(err, "GRAPHQL_PARSE_FAILED"))?;
        let mut fields = 0;
        for (_, operation) in document.operations.iter() {
            count_fields(
                &operation.node.selection_set.node,
                &mut fields,
                self.max_fields,
            );
        }
        for fragment in document.fragments.values() {
            count_fields(
                &fragment.node.selection_set.node,
                &mut fields,
                self.max_fields,
            );
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

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        next.run(ctx).await.map_err(|errors| {
            errors
                .into_iter()
                .map(|err| {
                    let code = match err.message.as_str() {
                        "Query is nested too deep." => "QUERY_TOO_DEEP",
                        "Query is too complex." => "QUERY_TOO_COMPLEX",
                        _ => "GRAPHQL_VALIDATION_FAILED",
                    };
                    with_code(err, code)
                })
                .collect()
        })
    }
}
