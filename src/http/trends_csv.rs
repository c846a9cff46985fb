//! The trend reports as CSV downloads, with the same parameters as their
//! GraphQL fields (camelCase names, enum values as in the schema, instants in
//! RFC 3339 with an offset, id lists comma-separated), and the same ETag and
//! `Last-Modified` rules as the year reports:
//!
//! - `/reports/hires-over-time.csv?from=…&to=…&granularity=MONTH&by=DEPARTMENT&departmentIds=1,2&jobIds=3`:
//!   one row per series and bucket;
//! - `/reports/hires-comparison.csv?period=QUARTER&at=…&by=DEPARTMENT&departmentIds=…&jobIds=…`;
//! - `/reports/top-departments.csv?from=…&to=…&first=10`;
//! - `/reports/top-jobs.csv?departmentId=2&from=…&to=…&first=10`.

use std::collections::HashMap;

use async_graphql::resolver_utils::EnumType;
use axum::{
    extract::{Query, State},
    http::HeaderMap,
    response::Response,
};
use chrono::{DateTime, SecondsFormat, Utc};
use sea_orm::DatabaseConnection;

use super::{
    caller::identify_with,
    error::HttpError,
    reports_csv::{Export, csv_report, spreadsheet_text},
};
use crate::{
    auth::Role,
    error::AppError,
    graphql::MAX_FILTER_IDS,
    service::{
        periods::{Granularity, Span},
        reports,
        trends::{self, Breakdown, Comparison, Filter, Ranked, Series, SeriesKey},
    },
    state::AppState,
};

/// The query string of a CSV export, by parameter name.
type Params = Query<HashMap<String, String>>;

/// GET /reports/hires-over-time.csv: `hiresOverTime` as rows of
/// `start,departmentId,department,jobId,job,hires`.
pub async fn hires_over_time_csv(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(params): Params,
) -> Result<Response, HttpError> {
    let caller = identify_with(&state, &headers, Role::Viewer).await?;
    let granularity = choice(&params, "granularity", Granularity::Month)?;
    let span = Span::new(
        instant(&params, "from")?,
        instant(&params, "to")?,
        granularity,
    )?;
    let series = SeriesAsked::from(&params)?;
    let mut parameters = vec![
        day(span.from.start()),
        day(span.to.start()),
        name(granularity),
    ];
    parameters.extend(series.parameters());
    let export = Export {
        name: "hires-over-time".to_owned(),
        parameters,
        caller,
    };
    let make = async |db: &DatabaseConnection| {
        let (by, filter) = (series.by, series.filter());
        let read =
            async |db: &DatabaseConnection| trends::hires_over_time(db, span, by, filter).await;
        let (series, as_of) = reports::with_as_of(db, read).await?;
        Ok((series_csv(&series), as_of))
    };
    csv_report(&state, &headers, export, make).await
}

/// GET /reports/hires-comparison.csv: `hiresComparison` with the same columns.
pub async fn hires_comparison_csv(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(params): Params,
) -> Result<Response, HttpError> {
    let caller = identify_with(&state, &headers, Role::Viewer).await?;
    let period: Granularity = required_choice(&params, "period")?;
    let span = Span::one(instant(&params, "at")?, period)?;
    let series = SeriesAsked::from(&params)?;
    let mut parameters = vec![day(span.from.start()), name(period)];
    parameters.extend(series.parameters());
    let export = Export {
        name: "hires-comparison".to_owned(),
        parameters,
        caller,
    };
    let make = async |db: &DatabaseConnection| {
        let (by, filter) = (series.by, series.filter());
        let read =
            async |db: &DatabaseConnection| trends::hires_comparison(db, span, by, filter).await;
        let (rows, as_of) = reports::with_as_of(db, read).await?;
        Ok((comparison_csv(&rows, span), as_of))
    };
    csv_report(&state, &headers, export, make).await
}

/// How a series export splits and narrows hires: `by`, `departmentIds` and `jobIds`.
struct SeriesAsked {
    by: Breakdown,
    department_ids: Option<Vec<i32>>,
    job_ids: Option<Vec<i32>>,
}

impl SeriesAsked {
    /// The three parameters, checked; `by` defaults to `DEPARTMENT`.
    fn from(params: &HashMap<String, String>) -> Result<Self, AppError> {
        Ok(SeriesAsked {
            by: choice(params, "by", Breakdown::Department)?,
            department_ids: ids(params, "departmentIds")?,
            job_ids: ids(params, "jobIds")?,
        })
    }

    /// The parameters as text, for the ETag and the file name.
    fn parameters(&self) -> [String; 3] {
        [
            name(self.by),
            joined(self.department_ids.as_deref()),
            joined(self.job_ids.as_deref()),
        ]
    }

    /// The filter the trend service takes.
    fn filter(&self) -> Filter<'_> {
        Filter {
            department_ids: self.department_ids.as_deref(),
            job_ids: self.job_ids.as_deref(),
        }
    }
}

/// GET /reports/top-departments.csv: `topDepartments` as `rank,departmentId,department,hires,share`.
pub async fn top_departments_csv(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(params): Params,
) -> Result<Response, HttpError> {
    ranking_csv(state, headers, params, Breakdown::Department).await
}

/// GET /reports/top-jobs.csv: `topJobs` as `rank,jobId,job,hires,share`.
pub async fn top_jobs_csv(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(params): Params,
) -> Result<Response, HttpError> {
    ranking_csv(state, headers, params, Breakdown::Job).await
}

/// A ranking of departments or jobs (`by`) as CSV.
async fn ranking_csv(
    state: AppState,
    headers: HeaderMap,
    params: HashMap<String, String>,
    by: Breakdown,
) -> Result<Response, HttpError> {
    let caller = identify_with(&state, &headers, Role::Viewer).await?;
    let span = Span::any_length(
        instant(&params, "from")?,
        instant(&params, "to")?,
        Granularity::Month,
    )?;
    let first = trends::ranking_size(number(&params, "first")?.unwrap_or(10))?;
    let department = match by {
        Breakdown::Job => number(&params, "departmentId")?.map(|id| vec![id]),
        _ => None,
    };
    let (name, columns) = match by {
        Breakdown::Job => ("top-jobs", "rank,jobId,job,hires,share\n"),
        _ => (
            "top-departments",
            "rank,departmentId,department,hires,share\n",
        ),
    };
    let export = Export {
        name: name.to_owned(),
        parameters: vec![
            day(span.from.start()),
            day(span.to.start()),
            first.to_string(),
            joined(department.as_deref()),
        ],
        caller,
    };
    let make = async |db: &DatabaseConnection| {
        let filter = Filter {
            department_ids: department.as_deref(),
            job_ids: None,
        };
        let read = async |db: &DatabaseConnection| trends::top(db, span, by, filter, first).await;
        let (ranked, as_of) = reports::with_as_of(db, read).await?;
        Ok((ranked_csv(columns, &ranked, by), as_of))
    };
    csv_report(&state, &headers, export, make).await
}

/// The series' points as CSV rows with a header.
fn series_csv(series: &[Series]) -> String {
    let mut body = String::from("start,departmentId,department,jobId,job,hires\n");
    for s in series {
        let key = key_fields(&s.key);
        for point in &s.points {
            body.push_str(&format!(
                "{},{key},{}\n",
                instant_text(point.start),
                point.hires
            ));
        }
    }
    body
}

/// The comparison as CSV rows with a header; a percent without a base is empty.
fn comparison_csv(rows: &[Comparison], period: Span) -> String {
    let mut body = String::from(
        "departmentId,department,jobId,job,start,hires,previousStart,previous,\
         yearEarlierStart,yearEarlier,changeFromPrevious,percentChangeFromPrevious,\
         changeFromYearEarlier,percentChangeFromYearEarlier\n",
    );
    let start = |span: Span| instant_text(span.from.start());
    let previous = period.shifted(-period.granularity.months());
    let percent = |p: Option<f64>| p.map(|p| p.to_string()).unwrap_or_default();
    for c in rows {
        body.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{},{}\n",
            key_fields(&c.key),
            start(period),
            c.hires,
            start(previous),
            c.previous,
            start(period.shifted(-12)),
            c.year_earlier,
            c.hires - c.previous,
            percent(c.percent_change_from_previous()),
            c.hires - c.year_earlier,
            percent(c.percent_change_from_year_earlier()),
        ));
    }
    body
}

/// A ranking as CSV rows after the header `columns`.
fn ranked_csv(columns: &str, ranked: &[Ranked], by: Breakdown) -> String {
    let mut body = String::from(columns);
    for r in ranked {
        let (id, name) = match by {
            Breakdown::Job => (r.key.job_id, r.key.job.as_deref()),
            _ => (r.key.department_id, r.key.department.as_deref()),
        };
        let name = spreadsheet_text(name.unwrap_or_default());
        let id = id.unwrap_or_default();
        body.push_str(&format!("{},{id},{name},{},{}\n", r.rank, r.hires, r.share));
    }
    body
}

/// `departmentId,department,jobId,job`, empty where the series has none.
fn key_fields(key: &SeriesKey) -> String {
    let id = |id: Option<i32>| id.map(|id| id.to_string()).unwrap_or_default();
    let text = |name: &Option<String>| name.as_deref().map(spreadsheet_text).unwrap_or_default();
    format!(
        "{},{},{},{}",
        id(key.department_id),
        text(&key.department),
        id(key.job_id),
        text(&key.job)
    )
}

/// A required RFC 3339 instant with an offset, like the GraphQL `DateTime`.
fn instant(params: &HashMap<String, String>, name: &str) -> Result<DateTime<Utc>, AppError> {
    let text = params
        .get(name)
        .ok_or_else(|| bad_input(format!("{name} is required")))?;
    DateTime::parse_from_rfc3339(&offset_plus(text.trim()))
        .map(|at| at.to_utc())
        .map_err(|_| {
            bad_input(format!(
                "{name} must be an RFC 3339 instant with an offset, such as 2021-01-01T00:00:00Z, got {text:?}"
            ))
        })
}

/// `text` with a space before a trailing `hh:mm` offset read as `+`: an
/// unencoded `+01:00` in a query string arrives as ` 01:00`.
fn offset_plus(text: &str) -> String {
    match text.len().checked_sub(6).and_then(|at| text.get(at..)) {
        Some(offset) if offset.starts_with(' ') && offset.as_bytes()[3] == b':' => {
            format!("{}+{}", &text[..text.len() - 6], &offset[1..])
        }
        _ => text.to_owned(),
    }
}

/// An optional whole number.
fn number(params: &HashMap<String, String>, name: &str) -> Result<Option<i32>, AppError> {
    params
        .get(name)
        .map(|text| {
            text.trim()
                .parse()
                .map_err(|_| bad_input(format!("{name} must be a whole number, got {text:?}")))
        })
        .transpose()
}

/// An optional comma-separated list of ids, at most [`MAX_FILTER_IDS`].
fn ids(params: &HashMap<String, String>, name: &str) -> Result<Option<Vec<i32>>, AppError> {
    let Some(text) = params.get(name) else {
        return Ok(None);
    };
    let ids = text
        .split(',')
        .filter(|part| !part.trim().is_empty())
        .map(|part| part.trim().parse::<i32>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| {
            bad_input(format!(
                "{name} must be ids separated by commas, got {text:?}"
            ))
        })?;
    if ids.len() > MAX_FILTER_IDS {
        return Err(AppError::bad_input(
            "TOO_MANY_IDS",
            format!(
                "{name} holds {} ids; at most {MAX_FILTER_IDS} are allowed",
                ids.len()
            ),
        ));
    }
    Ok(Some(ids))
}

/// An optional enum value, by its name in the schema.
fn choice<T: EnumType>(
    params: &HashMap<String, String>,
    name: &str,
    default: T,
) -> Result<T, AppError> {
    match params.get(name) {
        None => Ok(default),
        Some(_) => required_choice(params, name),
    }
}

/// A required enum value, by its name in the schema.
fn required_choice<T: EnumType>(
    params: &HashMap<String, String>,
    name: &str,
) -> Result<T, AppError> {
    let names: Vec<&str> = T::items().iter().map(|item| item.name).collect();
    let text = params.get(name).map(String::as_str).unwrap_or_default();
    T::items()
        .iter()
        .find(|item| item.name == text)
        .map(|item| item.value)
        .ok_or_else(|| {
            bad_input(format!(
                "{name} must be one of {}, got {text:?}",
                names.join(", ")
            ))
        })
}

/// An enum value's name in the schema.
fn name<T: EnumType>(value: T) -> String {
    T::items()
        .iter()
        .find(|item| item.value == value)
        .map_or_else(String::new, |item| item.name.to_lowercase())
}

/// Ids joined by `-`, or `all`.
fn joined(ids: Option<&[i32]>) -> String {
    ids.map_or_else(
        || "all".to_owned(),
        |ids| ids.iter().map(i32::to_string).collect::<Vec<_>>().join("-"),
    )
}

/// The date of a bucket start, for file names and ETags.
fn day(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d").to_string()
}

/// An instant as the API writes it.
fn instant_text(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

fn bad_input(message: String) -> AppError {
    AppError::bad_input("BAD_USER_INPUT", message)
}
