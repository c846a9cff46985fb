//! Storing checked batches of departments, jobs and hires.
//!
//! Every batch input path (GraphQL batches, the portable CSV import) hands raw
//! records here; the rules in [`crate::rules`] decide what is stored and what is
//! refused. A refused row is never stored in the data tables; it is logged in
//! `rejected_rows` and in the tracing log.

use std::collections::{HashMap, HashSet};

use entity::{department, hired_employee, job};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbBackend,
    DbErr, EntityTrait, QueryFilter, QuerySelect, QueryTrait, SqlErr, sea_query::LockType,
};

use super::{
    rejected::record_rejections,
    rollup::{self, RollupDelta},
};
use crate::{
    db::{begin_write, sql_state},
    error::AppError,
    rules::{
        Dimension, DimensionRow, HireRow, Problem, RawRecord, RejectedRow, parse_dimension_record,
        parse_hire_record, verdict,
    },
};

/// How often a batch is re-checked when a concurrent writer stored the same id first.
const CONFLICT_RETRIES: usize = 3;

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

impl InsertReport {
    /// Records `record` as refused for `problem`.
    fn reject(&mut self, record: &RawRecord, id: Option<i32>, problem: Problem) {
        self.rejected.push(RejectedRow::new(record, id, problem));
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
    matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
        || matches!(sql_state(err).as_deref(), Some("40P01" | "40001"))
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

/// Parses every record with `parse`, refusing the ones that fail.
fn parse_batch<'a, T>(
    records: &'a [RawRecord],
    parse: impl Fn(&RawRecord) -> Result<T, Problem>,
    report: &mut InsertReport,
) -> Vec<(&'a RawRecord, T)> {
    let mut parsed = Vec::with_capacity(records.len());
    for record in records {
        match parse(record) {
            Ok(row) => parsed.push((record, row)),
            Err(problem) => report.reject(record, None, problem),
        }
    }
    parsed
}

/// Sorts the refusals into input order and logs them; the last step of every batch.
async fn finish_batch(
    txn: &impl ConnectionTrait,
    source: &str,
    mut report: InsertReport,
) -> Result<InsertReport, DbErr> {
    report.rejected.sort_by_key(|row| row.position);
    record_rejections(txn, source, &report.rejected).await?;
    Ok(report)
}

/// Checks and stores one batch of departments or jobs in the caller's transaction.
pub(crate) async fn store_dimension_batch(
    txn: &impl ConnectionTrait,
    dimension: Dimension,
    source: &str,
    records: &[RawRecord],
) -> Result<InsertReport, DbErr> {
    let mut report = InsertReport::default();
    let parsed = parse_batch(
        records,
        |record| parse_dimension_record(dimension, record),
        &mut report,
    );
    let ids: Vec<i32> = parsed.iter().map(|(_, row)| row.id).collect();
    let names: Vec<String> = parsed.iter().map(|(_, row)| row.name.clone()).collect();
    let stored = existing_dimension_rows(txn, dimension, &ids, &names).await?;
    let accepted = judge_dimension_rows(dimension, parsed, stored, &mut report);
    report.inserted = accepted.len() as u64;
    insert_dimension_rows(txn, dimension, accepted).await?;
    finish_batch(txn, source, report).await
}

/// Decides each parsed row against the stored ones and those accepted before it.
fn judge_dimension_rows(
    dimension: Dimension,
    parsed: Vec<(&RawRecord, DimensionRow)>,
    stored: Vec<DimensionRow>,
    report: &mut InsertReport,
) -> Vec<DimensionRow> {
    let mut name_by_id: HashMap<i32, String> = HashMap::new();
    let mut id_by_name: HashMap<String, i32> = HashMap::new();
    for row in stored {
        id_by_name.insert(row.name.clone(), row.id);
        name_by_id.insert(row.id, row.name);
    }
    let mut accepted = Vec::new();
    for (record, row) in parsed {
        if let Some(stored_name) = name_by_id.get(&row.id) {
            if *stored_name == row.name {
                report.unchanged += 1;
            } else {
                let problem = verdict::duplicate_dimension_id(row.id, stored_name);
                report.reject(record, Some(row.id), problem);
            }
        } else if let Some(other_id) = id_by_name.get(&row.name) {
            let problem = verdict::duplicate_dimension_name(dimension, &row.name, *other_id);
            report.reject(record, Some(row.id), problem);
        } else {
            name_by_id.insert(row.id, row.name.clone());
            id_by_name.insert(row.name.clone(), row.id);
            accepted.push(row);
        }
    }
    accepted
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

/// Checks and stores one batch of hires in the caller's transaction.
pub(crate) async fn store_hire_batch(
    txn: &impl ConnectionTrait,
    source: &str,
    records: &[RawRecord],
) -> Result<InsertReport, DbErr> {
    let mut report = InsertReport::default();
    let parsed = parse_batch(records, parse_hire_record, &mut report);
    if !parsed.is_empty() {
        let stored = StoredForHires::load(txn, &parsed).await?;
        let accepted = judge_hires(parsed, stored, &mut report);
        report.inserted = accepted.len() as u64;
        insert_hires(txn, accepted).await?;
    }
    finish_batch(txn, source, report).await
}

/// PostgreSQL: takes the hires table's write lock before reading it, so that
/// the batch never upgrades its lock while a CSV import waits for the table
/// (which would deadlock the two).
async fn lock_hires_for_writing(txn: &impl ConnectionTrait) -> Result<(), DbErr> {
    if txn.get_database_backend() == DbBackend::Postgres {
        txn.execute_unprepared("LOCK TABLE hired_employees IN ROW EXCLUSIVE MODE")
            .await?;
    }
    Ok(())
}

/// What a hire batch is checked against: stored hires with its ids, and which
/// of its departments and jobs exist. Three lookups, whatever the batch size.
struct StoredForHires {
    hires: HashMap<i32, HireRow>,
    departments: HashSet<i32>,
    jobs: HashSet<i32>,
}

impl StoredForHires {
    /// Reads what the batch is checked against, locking as every writer does:
    /// departments, jobs, then hires (the order a restore locks them in).
    async fn load(
        txn: &impl ConnectionTrait,
        parsed: &[(&RawRecord, HireRow)],
    ) -> Result<Self, DbErr> {
        let departments = existing_ids(txn, Dimension::Departments, parsed, |r| r.department_id);
        let departments = departments.await?;
        let jobs = existing_ids(txn, Dimension::Jobs, parsed, |r| r.job_id).await?;
        lock_hires_for_writing(txn).await?;
        let ids: HashSet<i32> = parsed.iter().map(|(_, r)| r.id).collect();
        let hires = hired_employee::Entity::find()
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
        Ok(Self {
            hires,
            departments,
            jobs,
        })
    }
}

/// Which of the batch's department (or job) ids exist.
///
/// On PostgreSQL the rows are locked FOR KEY SHARE once here, as the
/// foreign-key checks would do row by row: those then find the lock already
/// held, instead of creating a multixact per row when batches run concurrently.
async fn existing_ids(
    txn: &impl ConnectionTrait,
    dimension: Dimension,
    parsed: &[(&RawRecord, HireRow)],
    id: impl Fn(&HireRow) -> i32,
) -> Result<HashSet<i32>, DbErr> {
    let ids: HashSet<i32> = parsed.iter().map(|(_, r)| id(r)).collect();
    let mut query = match dimension {
        Dimension::Departments => department::Entity::find()
            .select_only()
            .column(department::Column::Id)
            .filter(department::Column::Id.is_in(ids))
            .into_query(),
        Dimension::Jobs => job::Entity::find()
            .select_only()
            .column(job::Column::Id)
            .filter(job::Column::Id.is_in(ids))
            .into_query(),
    };
    if txn.get_database_backend() == DbBackend::Postgres {
        query.lock(LockType::KeyShare);
    }
    let statement = txn.get_database_backend().build(&query);
    let rows = txn.query_all_raw(statement).await?;
    rows.iter()
        .map(|row| row.try_get_by_index::<i32>(0))
        .collect()
}

/// Decides each parsed hire, in input order: a stored (or earlier accepted) id
/// is unchanged or a duplicate; otherwise its department and job must exist.
fn judge_hires(
    parsed: Vec<(&RawRecord, HireRow)>,
    mut stored: StoredForHires,
    report: &mut InsertReport,
) -> Vec<HireRow> {
    let mut accepted = Vec::new();
    for (record, row) in parsed {
        let problem = if let Some(existing) = stored.hires.get(&row.id) {
            if *existing == row {
                report.unchanged += 1;
                continue;
            }
            verdict::duplicate_hire(row.id)
        } else if !stored.departments.contains(&row.department_id) {
            verdict::unknown_department(row.department_id)
        } else if !stored.jobs.contains(&row.job_id) {
            verdict::unknown_job(row.job_id)
        } else {
            stored.hires.insert(row.id, row.clone());
            accepted.push(row);
            continue;
        };
        report.reject(record, Some(row.id), problem);
    }
    accepted
}

/// Inserts accepted hires and adds them to the report rollup.
async fn insert_hires(txn: &impl ConnectionTrait, accepted: Vec<HireRow>) -> Result<(), DbErr> {
    if accepted.is_empty() {
        return Ok(());
    }
    let mut delta = RollupDelta::default();
    for row in &accepted {
        delta.add(&row.hire_datetime, row.department_id, row.job_id);
    }
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
    rollup::apply(txn, &delta).await
}
