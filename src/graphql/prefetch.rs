//! Look-ahead prefetching: a resolver that returns a list reads the selection
//! below it and fetches the nested lookups it asks for up front, one query per
//! kind of lookup (and per distinct `hires(year:)` argument) for the whole
//! list, never one per row and without waiting on a batching window. A child
//! field that finds no prefetched value (a shape the look-ahead cannot see)
//! reads it itself with one query.

use std::collections::HashMap;

use async_graphql::{Lookahead, Value};
use sea_orm::DatabaseConnection;

use crate::{
    error::AppError,
    service::reports::{self, HiresBy},
};

/// Hire counts of one department or job, by the year asked for (`None`: all years).
#[derive(Debug, Clone, Default)]
pub struct HireCounts(HashMap<Option<i32>, i64>);

impl HireCounts {
    /// The count for `year`, when it was prefetched.
    pub fn get(&self, year: Option<i32>) -> Option<i64> {
        self.0.get(&year).copied()
    }
}

/// One look-ahead covering every selection in `selections`, or `None` when
/// none of them is in the query.
pub fn merged<'a>(selections: &[Lookahead<'a>]) -> Option<Lookahead<'a>> {
    let fields: Vec<_> = selections
        .iter()
        .flat_map(Lookahead::selection_fields)
        .collect();
    Lookahead::try_from(fields.as_slice()).ok()
}

/// The year one `hires` field asks for: `Some(None)` for all years, `None`
/// when it cannot be read here or is invalid (the field itself reports that).
fn year_argument(arguments: &[(async_graphql::Name, Value)]) -> Option<Option<i32>> {
    match arguments.iter().find(|(name, _)| name.as_str() == "year") {
        None | Some((_, Value::Null)) => Some(None),
        Some((_, Value::Number(year))) => {
            let year = i32::try_from(year.as_i64()?).ok()?;
            reports::check_year(year).ok()?;
            Some(Some(year))
        }
        Some(_) => None,
    }
}

/// The distinct years the `hires` fields of `selection` ask for, under any alias.
fn years_asked(selection: &Lookahead<'_>) -> Vec<Option<i32>> {
    let mut years = Vec::new();
    for field in selection.field("hires").selection_fields() {
        let Some(year) = field.arguments().ok().and_then(|a| year_argument(&a)) else {
            continue;
        };
        if !years.contains(&year) {
            years.push(year);
        }
    }
    years
}

/// The hire counts the `hires` fields of `selection` ask for, for each of
/// `ids`: one query per distinct year, none when no count is selected.
pub async fn hire_counts(
    db: &DatabaseConnection,
    by: HiresBy,
    ids: &[i32],
    selection: &Lookahead<'_>,
) -> Result<HashMap<i32, HireCounts>, AppError> {
    let mut counts: HashMap<i32, HireCounts> = HashMap::new();
    if ids.is_empty() {
        return Ok(counts);
    }
    for year in years_asked(selection) {
        let found = reports::hires_per(db, by, ids, year).await?;
        for &id in ids {
            let hires = found.get(&id).copied().unwrap_or(0);
            counts.entry(id).or_default().0.insert(year, hires);
        }
    }
    Ok(counts)
}

/// The count of hires for `id` in `year`: the prefetched one, or one query.
pub async fn hires_of(
    db: &DatabaseConnection,
    by: HiresBy,
    id: i32,
    year: Option<i32>,
    prefetched: &HireCounts,
) -> Result<i64, AppError> {
    if let Some(year) = year {
        // Checked here: a bad year fails this field only.
        reports::check_year(year)?;
    }
    if let Some(hires) = prefetched.get(year) {
        return Ok(hires);
    }
    let found = reports::hires_per(db, by, &[id], year).await?;
    Ok(found.get(&id).copied().unwrap_or(0))
}
