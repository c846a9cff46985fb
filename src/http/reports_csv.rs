//! The reports as CSV downloads: `/reports/hires-by-quarter.csv` and
//! `/reports/departments-above-mean.csv`, stamped with the time hires last changed.

use axum::{
    extract::{FromRef, FromRequestParts, Query, State},
    http::{HeaderValue, header, request::Parts},
    response::{IntoResponse, Response},
};
use sea_orm::DatabaseConnection;

use super::{caller::identify, error::HttpError};
use crate::{
    csv::csv_field,
    error::AppError,
    service::reports::{self, AboveMeanReport, QuarterlyHires},
    state::AppState,
};

/// Query parameters of the CSV reports.
#[derive(Debug, serde::Deserialize)]
struct ReportParams {
    year: Option<String>,
}

/// The year a report is asked for, by a caller whose token (if any) is valid.
///
/// Checked in this order: the query string, the token, the year.
pub struct ReportYear(i32);

impl<S: Send + Sync> FromRequestParts<S> for ReportYear
where
    AppState: FromRef<S>,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        let Query(params) = Query::<ReportParams>::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        identify(&AppState::from_ref(state).policy, &parts.headers)
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
        Ok(ReportYear(year))
    }
}

/// GET /reports/hires-by-quarter.csv?year=2021: the quarterly report with a header row.
pub async fn hires_by_quarter_csv(
    State(state): State<AppState>,
    ReportYear(year): ReportYear,
) -> Result<Response, HttpError> {
    let read =
        async |db: &DatabaseConnection| reports::hires_by_quarter(db, year, None, None).await;
    let (rows, as_of) = reports::with_as_of(&state.read_db, read).await?;
    let body = quarters_csv(&rows);
    Ok(csv_download("hires-by-quarter", year, body, as_of))
}

/// GET /reports/departments-above-mean.csv?year=2021: the departments above the mean.
pub async fn departments_above_mean_csv(
    State(state): State<AppState>,
    ReportYear(year): ReportYear,
) -> Result<Response, HttpError> {
    let read = async |db: &DatabaseConnection| reports::departments_above_mean(db, year).await;
    let (report, as_of) = reports::with_as_of(&state.read_db, read).await?;
    let body = above_mean_csv(&report);
    Ok(csv_download("departments-above-mean", year, body, as_of))
}

/// A CSV attachment named `{name}-{year}.csv`, with `Last-Modified` set to `as_of`.
fn csv_download(
    name: &str,
    year: i32,
    body: String,
    as_of: Option<chrono::DateTime<chrono::Utc>>,
) -> Response {
    let mut response = (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}-{year}.csv\""),
            ),
            (header::CACHE_CONTROL, "no-cache".to_owned()),
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
fn spreadsheet_text(value: &str) -> String {
    if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        csv_field(&format!("'{value}")).into_owned()
    } else {
        csv_field(value).into_owned()
    }
}
