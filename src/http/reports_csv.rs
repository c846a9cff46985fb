//! The reports as CSV downloads: `/reports/hires-by-quarter.csv` and
//! `/reports/departments-above-mean.csv`, stamped with the time hires last
//! changed, with an ETag from the data version (a matching `If-None-Match`
//! gets 304).

use axum::{
    extract::{FromRef, FromRequestParts, Query, State},
    http::{HeaderMap, HeaderValue, header, request::Parts},
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;

use super::{caching, caller::identify_with, error::HttpError};
use crate::{
    auth::{Caller, Role},
    csv::csv_field,
    error::AppError,
    service::{
        data_version,
        reports::{self, AboveMeanReport, QuarterlyHires},
    },
    state::AppState,
};

/// Query parameters of the CSV reports.
#[derive(Debug, serde::Deserialize)]
struct ReportParams {
    year: Option<String>,
}

/// The year a report is asked for, by a caller who may read reports (viewer).
///
/// Checked in this order: the query string, the token, the year.
pub struct ReportYear {
    year: i32,
    caller: Caller,
}

impl<S: Send + Sync> FromRequestParts<S> for ReportYear
where
    AppState: FromRef<S>,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        let Query(params) = Query::<ReportParams>::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let caller = identify_with(&AppState::from_ref(state), &parts.headers, Role::Viewer)
            .await
            .map_err(IntoResponse::into_response)?;
        let year = match params.year.as_deref() {
            None => 2021,
            Some(text) => text.trim().parse::<i32>().map_err(|_| {
                HttpError::from(AppError::bad_input(
                    "BAD_USER_INPUT",
                    format!("year must be a whole number, got {text:?}"),
                ))
                .into_response()
            })?,
        };
        Ok(ReportYear { year, caller })
    }
}

/// GET /reports/hires-by-quarter.csv?year=2021: the quarterly report with a header row.
pub async fn hires_by_quarter_csv(
    State(state): State<AppState>,
    headers: HeaderMap,
    asked: ReportYear,
) -> Result<Response, HttpError> {
    let year = asked.year;
    let make = async |db: &DatabaseConnection| {
        let read =
            async |db: &DatabaseConnection| reports::hires_by_quarter(db, year, None, None).await;
        let (rows, as_of) = reports::with_as_of(db, read).await?;
        Ok((quarters_csv(&rows), as_of))
    };
    csv_report(&state, &headers, asked.export("hires-by-quarter"), make).await
}

/// GET /reports/departments-above-mean.csv?year=2021: the departments above the mean.
pub async fn departments_above_mean_csv(
    State(state): State<AppState>,
    headers: HeaderMap,
    asked: ReportYear,
) -> Result<Response, HttpError> {
    let year = asked.year;
    let make = async |db: &DatabaseConnection| {
        let read = async |db: &DatabaseConnection| reports::departments_above_mean(db, year).await;
        let (report, as_of) = reports::with_as_of(db, read).await?;
        Ok((above_mean_csv(&report), as_of))
    };
    csv_report(
        &state,
        &headers,
        asked.export("departments-above-mean"),
        make,
    )
    .await
}

impl ReportYear {
    fn export(self, name: &str) -> Export {
        Export {
            name: name.to_owned(),
            parameters: vec![self.year.to_string()],
            caller: self.caller,
        }
    }
}

/// One CSV export asked for: the report's name, its parameters as text (in
/// the ETag and, joined by `_`, in the file name) and who asks.
pub struct Export {
    /// The report's name, e.g. `hires-by-quarter`.
    pub name: String,
    /// The parameters, normalised, in a fixed order.
    pub parameters: Vec<String>,
    /// The caller, whose role is in the ETag.
    pub caller: Caller,
}

/// The CSV export `asked`, made by `make` unless the client's
/// `If-None-Match` holds the current ETag (then 304, and nothing is read but
/// the data version).
pub async fn csv_report(
    state: &AppState,
    headers: &HeaderMap,
    asked: Export,
    make: impl AsyncFnOnce(&DatabaseConnection) -> Result<(String, Option<DateTime<Utc>>), AppError>,
) -> Result<Response, HttpError> {
    let version = data_version::current(&state.read_db).await?;
    let mut key = vec![asked.name.as_str()];
    key.extend(asked.parameters.iter().map(String::as_str));
    let etag = caching::tag_of(&key, &asked.caller, &version);
    if caching::not_modified(headers, &etag) {
        return Ok(caching::not_modified_response(&etag, state.cache_max_age));
    }
    let (body, as_of) = make(&state.read_db).await?;
    let file_name = format!("{}-{}.csv", asked.name, asked.parameters.join("_"));
    let mut response = csv_download(&file_name, body, as_of);
    caching::mark(response.headers_mut(), Some(&etag), state.cache_max_age);
    Ok(response)
}

/// A CSV attachment named `file_name`, with `Last-Modified` set to `as_of`.
fn csv_download(file_name: &str, body: String, as_of: Option<DateTime<Utc>>) -> Response {
    let mut response = (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file_name}\""),
            ),
        ],
        body,
    )
        .into_response();
    if let Some(value) = as_of
        .map(|at| at.format("%a, %d %b %Y %H:%M:%S GMT").to_string())
        .and_then(|text| HeaderValue::from_str(&text).ok())
    {
        response.headers_mut().insert(header::LAST_MODIFIED, value);
    }
    response
}

/// The quarterly report as CSV text with a header row.
fn quarters_csv(rows: &[QuarterlyHires]) -> String {
    let mut body = String::from("departmentId,department,jobId,job,q1,q2,q3,q4,total\n");
    for r in rows {
        body.push_str(&format!(
            "{},{},{},{},{},{},{},{},{}\n",
            r.department_id,
            spreadsheet_text(&r.department),
            r.job_id,
            spreadsheet_text(&r.job),
            r.q1,
            r.q2,
            r.q3,
            r.q4,
            r.total
        ));
    }
    body
}

/// The departments above the mean as CSV text with a header row.
fn above_mean_csv(report: &AboveMeanReport) -> String {
    let mut body = String::from("year,mean,id,department,hired\n");
    for d in &report.departments {
        body.push_str(&format!(
            "{},{},{},{},{}\n",
            report.year,
            report.mean,
            d.id,
            spreadsheet_text(&d.department),
            d.hired
        ));
    }
    body
}

/// A name as a CSV field that a spreadsheet shows as text: one that starts like
/// a formula (`=`, `+`, `-`, `@`) gets a leading apostrophe.
pub fn spreadsheet_text(value: &str) -> String {
    if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        csv_field(&format!("'{value}")).into_owned()
    } else {
        csv_field(value).into_owned()
    }
}
