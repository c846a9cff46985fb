//! Checking input rows and storing the valid ones.
//!
//! Every input path (GraphQL batches today, CSV files later) hands records to
//! the parsers here as raw text fields, so that one set of rules decides what is
//! stored and what is refused. A refused row is never stored in the data
//! tables; it is logged in `rejected_rows` and in the tracing log.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Datelike, Timelike, Utc};
use entity::{department, hired_employee, job, rejected_row};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait,
    QueryFilter, QuerySelect, SqlErr,
    sea_query::LockType,
};

use super::rollup::{self, RollupDelta};
use crate::{db::begin_write, error::AppError};

/// The longest name accepted, in characters.
pub const MAX_NAME_CHARS: usize = 255;

/// How often a batch is re-checked when a concurrent writer stored the same id first.
const CONFLICT_RETRIES: usize = 3;

/// Stable reason codes for refused rows.
pub mod reason {
    /// The line is not valid CSV: an unclosed quote, text after a closing quote, or too long.
    pub const MALFORMED_CSV: &str = "MALFORMED_CSV";
    /// The record is not valid UTF-8.
    pub const INVALID_ENCODING: &str = "INVALID_ENCODING";
    /// A name holds a control character such as NUL, a tab or a line break.
    pub const INVALID_CHARACTER: &str = "INVALID_CHARACTER";
    /// The record has too few or too many fields.
    pub const WRONG_FIELD_COUNT: &str = "WRONG_FIELD_COUNT";
    /// A mandatory field is empty or blank.
    pub const MISSING_FIELD: &str = "MISSING_FIELD";
    /// An id is not a positive 32-bit integer.
    pub const INVALID_ID: &str = "INVALID_ID";
    /// A name is longer than 255 characters.
    pub const NAME_TOO_LONG: &str = "NAME_TOO_LONG";
    /// The hire datetime is not an RFC 3339 instant with an offset.
    pub const INVALID_DATETIME: &str = "INVALID_DATETIME";
    /// `department_id` names no department.
    pub const UNKNOWN_DEPARTMENT: &str = "UNKNOWN_DEPARTMENT";
    /// `job_id` names no job.
    pub const UNKNOWN_JOB: &str = "UNKNOWN_JOB";
    /// The id is already stored with different content.
    pub const DUPLICATE_ID: &str = "DUPLICATE_ID";
    /// The department or job name is already used by another id.
    pub const DUPLICATE_NAME: &str = "DUPLICATE_NAME";
}

/// One input record before it is checked.
#[derive(Debug, Clone)]
pub struct RawRecord {
    /// The line number in a file, or the index in a batch.
    pub position: i64,
    /// The fields as text, in column order.
    pub fields: Vec<String>,
    /// The record as received, for the rejection log; `None` means the fields as a CSV line.
    pub raw: Option<String>,
    /// A problem found while reading, before any field is looked at.
    pub problem: Option<Problem>,
}

impl RawRecord {
    /// The record as received, for the rejection log.
    ///
    /// NUL characters become U+FFFD, because PostgreSQL text cannot hold them.
    pub fn raw_text(&self) -> String {
        let raw = self
            .raw
            .clone()
            .unwrap_or_else(|| super::csv_input::to_csv_line(&self.fields));
        if raw.contains('\0') {
            raw.replace('\0', "\u{FFFD}")
        } else {
            raw
        }
    }
}

/// Why one record was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedRow {
    /// The line number in a file, or the index in a batch.
    pub position: i64,
    /// The record's id, when it could be read.
    pub id: Option<i32>,
    /// The offending field, when one field is to blame.
    pub field: Option<&'static str>,
    /// A code from [`reason`].
    pub code: &'static str,
    /// What is wrong, for people.
    pub message: String,
    /// The record as received.
    pub raw: String,
}

/// What became of a batch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InsertReport {
    /// Rows newly stored.
    pub inserted: u64,
    /// Rows that were already stored with the same content.
    pub unchanged: u64,
    /// Rows refused, in input order.
    pub rejected: Vec<RejectedRow>,
}

/// The two lookup tables, which share one shape: an id and a unique name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dimension {
    /// `departments(id, department)`.
    Departments,
    /// `jobs(id, job)`.
    Jobs,
}

impl Dimension {
    /// The name column, as in the CSV dictionary and the rejection log.
    pub fn name_field(self) -> &'static str {
        match self {
            Dimension::Departments => "department",
            Dimension::Jobs => "job",
        }
    }
}

/// A checked department or job row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DimensionRow {
    /// Its id from the data.
    pub id: i32,
    /// Its unique name.
    pub name: String,
}

/// A checked hire row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HireRow {
    /// Its id from the data.
    pub id: i32,
    /// The person's name.
    pub name: String,
    /// When they were hired, in UTC.
    pub hire_datetime: DateTime<Utc>,
    /// The hiring department.
    pub department_id: i32,
    /// The job hired for.
    pub job_id: i32,
}

/// A problem with one record, before its position is attached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    field: Option<&'static str>,
    code: &'static str,
    message: String,
}

impl Problem {
    /// The reason code, from [`reason`].
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// The field to blame, if one is.
    pub fn field(&self) -> Option<&'static str> {
        self.field
    }

    /// What is wrong, for people.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// A problem with `field` (if one is to blame), a reason code and a message.
    pub fn new(
        field: Option<&'static str>,
        code: &'static str,
        message: impl Into<String>,
    ) -> Self {
        Self {
            field,
            code,
            message: message.into(),
        }
    }
}

fn expect_fields<'a>(
    record: &'a RawRecord,
    names: &[&'static str],
) -> Result<Vec<&'a str>, Problem> {
    if let Some(problem) = &record.problem {
        return Err(problem.clone());
    }
    if record.fields.len() != names.len() {
        return Err(Problem::new(
            None,
            reason::WRONG_FIELD_COUNT,
            format!(
                "expected {} fields ({}), found {}",
                names.len(),
                names.join(","),
                record.fields.len()
            ),
        ));
    }
    let fields: Vec<&str> = record.fields.iter().map(|f| f.trim()).collect();
    for (value, name) in fields.iter().zip(names) {
        if value.is_empty() {
            return Err(Problem::new(
                Some(*name),
                reason::MISSING_FIELD,
                format!("{name} is empty"),
            ));
        }
    }
    Ok(fields)
}

fn parse_id(field: &'static str, value: &str) -> Result<i32, Problem> {
    match value.parse::<i64>() {
        Ok(id) if id > 0 && id <= i64::from(i32::MAX) => Ok(id as i32),
        _ => Err(Problem::new(
            Some(field),
            reason::INVALID_ID,
            format!(
                "{field} must be a whole number from 1 to {}, got {value:?}",
                i32::MAX
            ),
        )),
    }
}

/// Checks a name by the stored-name rules: no control character, at most 255 characters.
pub(crate) fn check_name(field: &'static str, value: &str) -> Result<(), Problem> {
    if value.chars().any(char::is_control) {
        return Err(Problem::new(
            Some(field),
            reason::INVALID_CHARACTER,
            format!("{field} holds a control character (such as NUL, a tab or a line break)"),
        ));
    }
    let chars = value.chars().count();
    if chars > MAX_NAME_CHARS {
        return Err(Problem::new(
            Some(field),
            reason::NAME_TOO_LONG,
            format!("{field} has {chars} characters; at most {MAX_NAME_CHARS} are allowed"),
        ));
    }
    Ok(())
}

fn parse_name(field: &'static str, value: &str) -> Result<String, Problem> {
    check_name(field, value)?;
    Ok(value.to_owned())
}

/// Parses an RFC 3339 instant with an explicit offset, converted to UTC.
///
/// At most microsecond precision is accepted, because that is what
/// PostgreSQL stores: a finer value could not round-trip.
pub fn parse_hire_datetime(value: &str) -> Result<DateTime<Utc>, Problem> {
    let field = Some("hire_datetime");
    let parsed = DateTime::parse_from_rfc3339(value).map_err(|err| {
        Problem::new(
            field,
            reason::INVALID_DATETIME,
            format!(
                "{value:?} is not an RFC 3339 datetime with an offset such as \
                 2021-11-07T02:48:42Z ({err})"
            ),
        )
    })?;
    if parsed.nanosecond() >= 1_000_000_000 {
        return Err(Problem::new(
            field,
            reason::INVALID_DATETIME,
            format!("{value:?} is a leap second, which cannot be stored"),
        ));
    }
    if parsed.nanosecond() % 1_000 != 0 {
        return Err(Problem::new(
            field,
            reason::INVALID_DATETIME,
            format!("{value:?} is more precise than a microsecond"),
        ));
    }
    let utc = parsed.with_timezone(&Utc);
    if !(1..=9999).contains(&utc.year()) {
        return Err(Problem::new(
            field,
            reason::INVALID_DATETIME,
            format!("{value:?} is outside the years 1 to 9999 in UTC"),
        ));
    }
    Ok(utc)
}

/// Checks one `id,name` record of a department or job.
pub fn parse_dimension_record(
    dimension: Dimension,
    record: &RawRecord,
) -> Result<DimensionRow, Problem> {
    let name_field = dimension.name_field();
    let fields = expect_fields(record, &["id", name_field])?;
    Ok(DimensionRow {
        id: parse_id("id", fields[0])?,
        name: parse_name(name_field, fields[1])?,
    })
}

/// Checks one `id,name,datetime,department_id,job_id` hire record.
pub fn parse_hire_record(record: &RawRecord) -> Result<HireRow, Problem> {
    let fields = expect_fields(
        record,
        &["id", "name", "hire_datetime", "department_id", "job_id"],
    )?;
    Ok(HireRow {
        id: parse_id("id", fields[0])?,
        name: parse_name("name", fields[1])?,
        hire_datetime: parse_hire_datetime(fields[2])?,
        department_id: parse_id("department_id", fields[3])?,
        job_id: parse_id("job_id", fields[4])?,
    })
}

/// The id of a record, if its first field is one; used to label rejections.
fn leading_id(record: &RawRecord) -> Option<i32> {
    record
        .fields
        .first()
        .and_then(|f| f.trim().parse::<i32>().ok())
        .filter(|id| *id > 0)
}

fn reject(record: &RawRecord, id: Option<i32>, problem: Problem) -> RejectedRow {
    RejectedRow {
        position: record.position,
        id: id.or_else(|| leading_id(record)),
        field: problem.field,
        code: problem.code,
        message: problem.message,
        raw: record.raw_text(),
    }
}

/// Stores the valid rows of a department or job batch in one transaction, and logs the rest.
#[tracing::instrument(skip(db, records), fields(rows = records.len()))]
pub async fn insert_dimension_batch(
    db: &DatabaseConnection,
    dimension: Dimension,
    source: &str,
    records: &[RawRecord],
) -> Result<InsertReport, AppError> {
    retry_on_conflict(|| async {
        let txn = begin_write(db).await?;
        let report = store_dimension_batch(&txn, dimension, source, records).await?;
        txn.commit().await?;
        Ok(report)
    })
    .await
}

/// Stores the valid rows of a hire batch in one transaction, and logs the rest.
#[tracing::instrument(skip(db, records), fields(rows = records.len()))]
pub async fn insert_hire_batch(
    db: &DatabaseConnection,
    source: &str,
    records: &[RawRecord],
) -> Result<InsertReport, AppError> {
    retry_on_conflict(|| async {
        let txn = begin_write(db).await?;
        let report = store_hire_batch(&txn, source, records).await?;
        txn.commit().await?;
        Ok(report)
    })
    .await
}

/// A conflict with a concurrent writer that a fresh attempt resolves: the same
/// key stored first, a deadlock, or a serialization failure.
fn is_retryable(err: &DbErr) -> bool {
    if matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) {
        return true;
    }
    let sqlx_error = match err {
        DbErr::Exec(sea_orm::RuntimeErr::SqlxError(e))
        | DbErr::Query(sea_orm::RuntimeErr::SqlxError(e)) => e.as_ref(),
        _ => return false,
    };
    matches!(sqlx_error, sea_orm::sqlx::Error::Database(db)
        if matches!(db.code().as_deref(), Some("40P01" | "40001")))
}

/// Runs `attempt` again when a concurrent writer stored the same key first.
///
/// The checks run inside the transaction, so a retry sees the other writer's
/// rows and reports them as unchanged or duplicate instead of failing.
async fn retry_on_conflict<F, Fut>(mut attempt: F) -> Result<InsertReport, AppError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<InsertReport, DbErr>>,
{
    let mut tries = 0;
    loop {
        match attempt().await {
            Err(err) if tries < CONFLICT_RETRIES && is_retryable(&err) => {
                tries += 1;
                tracing::debug!(error = %err, tries, "batch raced a concurrent writer; checking again");
            }
            other => return other.map_err(AppError::from),
        }
    }
}

pub(crate) async fn store_dimension_batch(
    txn: &impl ConnectionTrait,
    dimension: Dimension,
    source: &str,
    records: &[RawRecord],
) -> Result<InsertReport, DbErr> {
    let mut parsed = Vec::with_capacity(records.len());
    let mut report = InsertReport::default();
    for record in records {
        match parse_dimension_record(dimension, record) {
            Ok(row) => parsed.push((record, row)),
            Err(problem) => report.rejected.push(reject(record, None, problem)),
        }
    }
    let ids: Vec<i32> = parsed.iter().map(|(_, row)| row.id).collect();
    let names: Vec<String> = parsed.iter().map(|(_, row)| row.name.clone()).collect();
    let stored = existing_dimension_rows(txn, dimension, &ids, &names).await?;
    let mut name_by_id: HashMap<i32, String> = HashMap::new();
    let mut id_by_name: HashMap<String, i32> = HashMap::new();
    for row in stored {
        id_by_name.insert(row.name.clone(), row.id);
        name_by_id.insert(row.id, row.name);
    }
    let name_field = dimension.name_field();
    let mut accepted = Vec::new();
    for (record, row) in parsed {
        if let Some(stored_name) = name_by_id.get(&row.id) {
            if *stored_name == row.name {
                report.unchanged += 1;
            } else {
                let problem = Problem::new(
                    Some("id"),
                    reason::DUPLICATE_ID,
                    format!("id {} already exists as {stored_name:?}", row.id),
                );
                report.rejected.push(reject(record, Some(row.id), problem));
            }
        } else if let Some(other_id) = id_by_name.get(&row.name) {
            let problem = Problem::new(
                Some(name_field),
                reason::DUPLICATE_NAME,
                format!(
                    "{name_field} {:?} is already used by id {other_id}",
                    row.name
                ),
            );
            report.rejected.push(reject(record, Some(row.id), problem));
        } else {
            name_by_id.insert(row.id, row.name.clone());
            id_by_name.insert(row.name.clone(), row.id);
            accepted.push(row);
        }
    }
    report.inserted = accepted.len() as u64;
    insert_dimension_rows(txn, dimension, accepted).await?;
    report.rejected.sort_by_key(|row| row.position);
    log_rejections(txn, source, &report.rejected).await?;
    Ok(report)
}

async fn existing_dimension_rows(
    txn: &impl ConnectionTrait,
    dimension: Dimension,
    ids: &[i32],
    names: &[String],
) -> Result<Vec<DimensionRow>, DbErr> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(match dimension {
        Dimension::Departments => department::Entity::find()
            .filter(
                Condition::any()
                    .add(department::Column::Id.is_in(ids.iter().copied()))
                    .add(department::Column::Department.is_in(names.iter().cloned())),
            )
            .all(txn)
            .await?
            .into_iter()
            .map(|m| DimensionRow {
                id: m.id,
                name: m.department,
            })
            .collect(),
        Dimension::Jobs => job::Entity::find()
            .filter(
                Condition::any()
                    .add(job::Column::Id.is_in(ids.iter().copied()))
                    .add(job::Column::Job.is_in(names.iter().cloned())),
            )
            .all(txn)
            .await?
            .into_iter()
            .map(|m| DimensionRow {
                id: m.id,
                name: m.job,
            })
            .collect(),
    })
}

async fn insert_dimension_rows(
    txn: &impl ConnectionTrait,
    dimension: Dimension,
    rows: Vec<DimensionRow>,
) -> Result<(), DbErr> {
    if rows.is_empty() {
        return Ok(());
    }
    match dimension {
        Dimension::Departments => {
            department::Entity::insert_many(rows.into_iter().map(|row| department::ActiveModel {
                id: Set(row.id),
                department: Set(row.name),
            }))
            .exec_without_returning(txn)
            .await?;
        }
        Dimension::Jobs => {
            job::Entity::insert_many(rows.into_iter().map(|row| job::ActiveModel {
                id: Set(row.id),
                job: Set(row.name),
            }))
            .exec_without_returning(txn)
            .await?;
        }
    }
    Ok(())
}

pub(crate) async fn store_hire_batch(
    txn: &impl ConnectionTrait,
    source: &str,
    records: &[RawRecord],
) -> Result<InsertReport, DbErr> {
    let mut parsed = Vec::with_capacity(records.len());
    let mut report = InsertReport::default();
    for record in records {
        match parse_hire_record(record) {
            Ok(row) => parsed.push((record, row)),
            Err(problem) => report.rejected.push(reject(record, None, problem)),
        }
    }
    if !parsed.is_empty() {
        // Three lookups for the whole batch, whatever its size.
        let ids: HashSet<i32> = parsed.iter().map(|(_, r)| r.id).collect();
        let department_ids: HashSet<i32> = parsed.iter().map(|(_, r)| r.department_id).collect();
        let job_ids: HashSet<i32> = parsed.iter().map(|(_, r)| r.job_id).collect();
        let mut stored: HashMap<i32, HireRow> = hired_employee::Entity::find()
            .filter(hired_employee::Column::Id.is_in(ids))
            .all(txn)
            .await?
            .into_iter()
            .map(|m| {
                let row = HireRow {
                    id: m.id,
                    name: m.name,
                    hire_datetime: m.hire_datetime,
                    department_id: m.department_id,
                    job_id: m.job_id,
                };
                (row.id, row)
            })
            .collect();
        // On PostgreSQL the referenced rows are locked FOR KEY SHARE once here, as
        // the foreign-key checks would do row by row: those then find the lock
        // already held, instead of creating a multixact per row when batches run
        // concurrently.
        let key_share = txn.get_database_backend() == DbBackend::Postgres;
        let mut departments = department::Entity::find()
            .select_only()
            .column(department::Column::Id)
            .filter(department::Column::Id.is_in(department_ids));
        let mut jobs = job::Entity::find()
            .select_only()
            .column(job::Column::Id)
            .filter(job::Column::Id.is_in(job_ids));
        if key_share {
            departments = departments.lock(LockType::KeyShare);
            jobs = jobs.lock(LockType::KeyShare);
        }
        let known_departments: HashSet<i32> = departments
            .into_tuple::<i32>()
            .all(txn)
            .await?
            .into_iter()
            .collect();
        let known_jobs: HashSet<i32> = jobs
            .into_tuple::<i32>()
            .all(txn)
            .await?
            .into_iter()
            .collect();
        let mut accepted = Vec::new();
        for (record, row) in parsed {
            let problem = if let Some(existing) = stored.get(&row.id) {
                if *existing == row {
                    report.unchanged += 1;
                    continue;
                }
                Problem::new(
                    Some("id"),
                    reason::DUPLICATE_ID,
                    format!("hire id {} already exists with different content", row.id),
                )
            } else if !known_departments.contains(&row.department_id) {
                Problem::new(
                    Some("department_id"),
                    reason::UNKNOWN_DEPARTMENT,
                    format!("no department has id {}", row.department_id),
                )
            } else if !known_jobs.contains(&row.job_id) {
                Problem::new(
                    Some("job_id"),
                    reason::UNKNOWN_JOB,
                    format!("no job has id {}", row.job_id),
                )
            } else {
                stored.insert(row.id, row.clone());
                accepted.push(row);
                continue;
            };
            report.rejected.push(reject(record, Some(row.id), problem));
        }
        report.inserted = accepted.len() as u64;
        if !accepted.is_empty() {
            let mut delta = RollupDelta::default();
            for row in &accepted {
                delta.add(&row.hire_datetime, row.department_id, row.job_id);
            }
            // Every writer locks in one order: hires, then rollup cells, then the state row.
            hired_employee::Entity::insert_many(accepted.into_iter().map(|row| {
                hired_employee::ActiveModel {
                    id: Set(row.id),
                    name: Set(row.name),
                    hire_datetime: Set(row.hire_datetime),
                    department_id: Set(row.department_id),
                    job_id: Set(row.job_id),
                }
            }))
            .exec_without_returning(txn)
            .await?;
            rollup::apply(txn, &delta).await?;
        }
    }
    report.rejected.sort_by_key(|row| row.position);
    log_rejections(txn, source, &report.rejected).await?;
    Ok(report)
}

/// Writes rejections to `rejected_rows` and to the tracing log.
async fn log_rejections(
    txn: &impl ConnectionTrait,
    source: &str,
    rejected: &[RejectedRow],
) -> Result<(), DbErr> {
    if rejected.is_empty() {
        return Ok(());
    }
    let now = Utc::now();
    for row in rejected {
        tracing::warn!(
            source,
            position = row.position,
            id = row.id,
            field = row.field,
            code = row.code,
            message = %row.message,
            "row rejected"
        );
    }
    for chunk in rejected.chunks(1_000) {
        rejected_row::Entity::insert_many(chunk.iter().map(|row| rejected_row::ActiveModel {
            id: NotSet,
            source: Set(source.to_owned()),
            position: Set(row.position),
            raw_record: Set(row.raw.clone()),
            field: Set(row.field.map(str::to_owned)),
            code: Set(row.code.to_owned()),
            message: Set(row.message.clone()),
            rejected_at: Set(now),
        }))
        .exec_without_returning(txn)
        .await?;
    }
    Ok(())
}
