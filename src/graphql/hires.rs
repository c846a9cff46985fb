//! Hires: reading one, and inserting batches of departments, jobs and hires.

use std::collections::HashMap;

use async_graphql::{
    ComplexObject, Context, Enum, InputObject, Lookahead, Object, Result, SimpleObject,
    connection::PageInfo,
};
use entity::{department, hired_employee, job};
use sea_orm::DatabaseConnection;

use super::{
    check_filter_ids, db,
    dimensions::{self, Department, Job},
    prefetch, read_db,
    scalars::DateTime,
};
use crate::{
    auth::{Needs, Role},
    error::AppError,
    rules::{Dimension, RawRecord},
    service::{
        hires_list::{self, HirePage, NamedHire, WithNames},
        ingest,
    },
};

/// The most rows one insert mutation takes.
pub const MAX_BATCH_ROWS: usize = 1_000;

/// One hire.
#[derive(Debug, Clone, SimpleObject)]
#[graphql(complex)]
pub struct HiredEmployee {
    /// Its id from the source data.
    pub id: i32,
    /// The person's name.
    pub name: String,
    /// When they were hired.
    pub hire_datetime: DateTime,
    /// The hiring department's id.
    pub department_id: i32,
    /// The id of the job hired for.
    pub job_id: i32,
    /// Its department and job, when the query's look-ahead prefetched them.
    #[graphql(skip)]
    pub prefetched: Prefetched,
}

/// A hire's department and job, read ahead with those of the rest of its list.
#[derive(Debug, Clone, Default)]
pub struct Prefetched {
    department: Option<Department>,
    job: Option<Job>,
}

impl From<hired_employee::Model> for HiredEmployee {
    fn from(m: hired_employee::Model) -> Self {
        Self {
            id: m.id,
            name: m.name,
            hire_datetime: DateTime(m.hire_datetime),
            department_id: m.department_id,
            job_id: m.job_id,
            prefetched: Prefetched::default(),
        }
    }
}

/// The departments and jobs of a list of hires, as far as the query selects them.
#[derive(Debug, Default)]
struct NestedLookups {
    departments: HashMap<i32, Department>,
    jobs: HashMap<i32, Job>,
}

/// The names to read with the hires whose selection set is `hires`: those of
/// the department and job it selects.
fn names_asked(hires: Option<&Lookahead<'_>>) -> WithNames {
    hires.map_or_else(WithNames::default, |hires| WithNames {
        department: hires.field("department").exists(),
        job: hires.field("job").exists(),
    })
}

/// Each distinct `(id, name)` of `named`, skipping rows read without the name.
fn distinct_named<M>(
    named: impl Iterator<Item = (i32, Option<String>)>,
    make: fn(i32, String) -> M,
) -> Vec<M> {
    let named: HashMap<i32, String> = named.filter_map(|(id, name)| Some((id, name?))).collect();
    named.into_iter().map(|(id, name)| make(id, name)).collect()
}

impl NestedLookups {
    /// Builds the departments and jobs `hires` (the selection set of the hire
    /// objects, if selected) asks about `rows`, from the names read with the
    /// rows, plus one query per distinct year of their hire counts, if any.
    async fn fetch<'r>(
        db: &DatabaseConnection,
        rows: impl Iterator<Item = &'r NamedHire> + Clone,
        hires: Option<Lookahead<'_>>,
    ) -> Result<Self, AppError> {
        let mut nested = Self::default();
        let Some(hires) = hires else {
            return Ok(nested);
        };
        let departments = distinct_named(
            rows.clone()
                .map(|row| (row.hire.department_id, row.department.clone())),
            |id, department| department::Model { id, department },
        );
        let jobs = distinct_named(
            rows.map(|row| (row.hire.job_id, row.job.clone())),
            |id, job| job::Model { id, job },
        );
        let (department, job) = (hires.field("department"), hires.field("job"));
        // Both at once: counts of both kinds cost one round trip, not two.
        (nested.departments, nested.jobs) = tokio::try_join!(
            dimensions::departments_from(db, departments, &department),
            dimensions::jobs_from(db, jobs, &job),
        )?;
        Ok(nested)
    }

    /// `row` as a hire carrying its prefetched department and job.
    fn hire(&self, row: &NamedHire) -> HiredEmployee {
        let mut hire = HiredEmployee::from(row.hire.clone());
        hire.prefetched = Prefetched {
            department: self.departments.get(&row.hire.department_id).cloned(),
            job: self.jobs.get(&row.hire.job_id).cloned(),
        };
        hire
    }
}

fn dangling(what: &str, id: i32) -> async_graphql::Error {
    AppError::Internal(anyhow::anyhow!(
        "{what} {id} referenced by a hire does not exist"
    ))
    .into()
}

#[ComplexObject]
impl HiredEmployee {
    /// The hiring department (batched: a list of hires costs one query).
    async fn department(&self, ctx: &Context<'_>) -> Result<Department> {
        if let Some(department) = &self.prefetched.department {
            return Ok(department.clone());
        }
        let id = self.department_id;
        let selection = ctx.look_ahead();
        let mut found = dimensions::departments_by_ids(read_db(ctx), &[id], &selection).await?;
        found.remove(&id).ok_or_else(|| dangling("department", id))
    }

    /// The job hired for (batched: a list of hires costs one query).
    async fn job(&self, ctx: &Context<'_>) -> Result<Job> {
        if let Some(job) = &self.prefetched.job {
            return Ok(job.clone());
        }
        let id = self.job_id;
        let selection = ctx.look_ahead();
        let mut found = dimensions::jobs_by_ids(read_db(ctx), &[id], &selection).await?;
        found.remove(&id).ok_or_else(|| dangling("job", id))
    }
}

/// Which hires to list; every given filter must match.
#[derive(Debug, Clone, Default, InputObject)]
pub struct HireFilter {
    /// Hires in any of these departments.
    pub department_ids: Option<Vec<i32>>,
    /// Hires for any of these jobs.
    pub job_ids: Option<Vec<i32>>,
    /// Hired at or after this instant.
    pub hired_from: Option<DateTime>,
    /// Hired before this instant.
    pub hired_before: Option<DateTime>,
    /// Names containing this text (at most 255 characters), ignoring the case of ASCII letters.
    pub name_contains: Option<String>,
}

impl From<HireFilter> for hires_list::HireFilter {
    fn from(f: HireFilter) -> Self {
        Self {
            department_ids: f.department_ids,
            job_ids: f.job_ids,
            hired_from: f.hired_from.map(|d| d.0),
            hired_before: f.hired_before.map(|d| d.0),
            name_contains: f.name_contains,
        }
    }
}

/// The field hires are ordered by; ties are broken by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum HireOrderField {
    /// By hire instant.
    HireDatetime,
    /// By name, in byte order.
    Name,
    /// By id.
    Id,
}

/// Smallest or largest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum OrderDirection {
    /// Smallest first.
    Asc,
    /// Largest first.
    Desc,
}

/// An order for hires.
#[derive(Debug, Clone, Copy, InputObject)]
pub struct HireOrder {
    /// The field to order by.
    #[graphql(default_with = "HireOrderField::Id")]
    pub field: HireOrderField,
    /// Smallest or largest first.
    #[graphql(default_with = "OrderDirection::Asc")]
    pub direction: OrderDirection,
}

impl From<HireOrder> for hires_list::HireOrder {
    fn from(o: HireOrder) -> Self {
        Self {
            field: match o.field {
                HireOrderField::HireDatetime => hires_list::HireOrderField::HireDatetime,
                HireOrderField::Name => hires_list::HireOrderField::Name,
                HireOrderField::Id => hires_list::HireOrderField::Id,
            },
            descending: o.direction == OrderDirection::Desc,
        }
    }
}

/// A hire and its cursor.
#[derive(Debug, Clone, SimpleObject)]
pub struct HiredEmployeeEdge {
    /// Where this hire stands in the list; pass it as `after` or `before`.
    pub cursor: String,
    /// The hire.
    pub node: HiredEmployee,
}

/// One page of hires.
pub struct HiredEmployeeConnection {
    page: HirePage,
    filter: hires_list::HireFilter,
    nested: NestedLookups,
}

#[Object]
impl HiredEmployeeConnection {
    /// The hires of this page with their cursors.
    async fn edges(&self) -> Vec<HiredEmployeeEdge> {
        self.page
            .rows
            .iter()
            .map(|(row, cursor)| HiredEmployeeEdge {
                cursor: cursor.clone(),
                node: self.nested.hire(row),
            })
            .collect()
    }

    /// The hires of this page.
    async fn nodes(&self) -> Vec<HiredEmployee> {
        self.page
            .rows
            .iter()
            .map(|(row, _)| self.nested.hire(row))
            .collect()
    }

    /// Whether more pages follow or precede, and the cursors at the page's ends.
    async fn page_info(&self) -> PageInfo {
        PageInfo {
            has_previous_page: self.page.has_previous,
            has_next_page: self.page.has_next,
            start_cursor: self.page.rows.first().map(|(_, c)| c.clone()),
            end_cursor: self.page.rows.last().map(|(_, c)| c.clone()),
        }
    }

    /// The number of hires matching the filter, on every page (counted only when asked for).
    async fn total_count(&self, ctx: &Context<'_>) -> Result<u64> {
        Ok(hires_list::count_hires(read_db(ctx), &self.filter).await?)
    }
}

/// Queries over hires.
#[derive(Default)]
pub struct HiresQuery;

#[Object]
impl HiresQuery {
    /// The hire with this id, or null when there is none.
    #[graphql(guard = "Needs(Role::Analyst)")]
    async fn hired_employee(&self, ctx: &Context<'_>, id: i32) -> Result<Option<HiredEmployee>> {
        let db = read_db(ctx);
        let selection = ctx.look_ahead();
        let names = names_asked(Some(&selection));
        let Some(row) = hires_list::named_hire(db, id, names).await? else {
            return Ok(None);
        };
        let nested = NestedLookups::fetch(db, [&row].into_iter(), Some(selection)).await?;
        Ok(Some(nested.hire(&row)))
    }

    /// Hires matching `filter`, in `orderBy` order (by id when omitted), one
    /// page at a time: `first` (default 50, at most 500) after the cursor
    /// `after`, or `last` before the cursor `before`.
    #[allow(clippy::too_many_arguments)] // one per GraphQL argument
    #[graphql(guard = "Needs(Role::Analyst)")]
    async fn hired_employees(
        &self,
        ctx: &Context<'_>,
        filter: Option<HireFilter>,
        order_by: Option<HireOrder>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<HiredEmployeeConnection> {
        let filter: hires_list::HireFilter = filter.unwrap_or_default().into();
        check_filter_ids("filter.departmentIds", filter.department_ids.as_deref())?;
        check_filter_ids("filter.jobIds", filter.job_ids.as_deref())?;
        let order = order_by
            .unwrap_or(HireOrder {
                field: HireOrderField::Id,
                direction: OrderDirection::Asc,
            })
            .into();
        let request = hires_list::PageRequest {
            first: first.map(i64::from),
            after,
            last: last.map(i64::from),
            before,
        };
        let db = read_db(ctx);
        let selection = ctx.look_ahead();
        let hires = prefetch::merged(&[
            selection.field("nodes"),
            selection.field("edges").field("node"),
        ]);
        let names = names_asked(hires.as_ref());
        let page = hires_list::list_hires(db, &filter, order, &request, names).await?;
        let rows = page.rows.iter().map(|(row, _)| row);
        let nested = NestedLookups::fetch(db, rows, hires).await?;
        Ok(HiredEmployeeConnection {
            page,
            filter,
            nested,
        })
    }
}

/// A department to insert.
#[derive(Debug, InputObject)]
pub struct DepartmentInput {
    /// Its id (a positive 32-bit integer).
    pub id: i32,
    /// Its unique name, at most 255 characters.
    pub department: String,
}

/// A job to insert.
#[derive(Debug, InputObject)]
pub struct JobInput {
    /// Its id (a positive 32-bit integer).
    pub id: i32,
    /// Its unique title, at most 255 characters.
    pub job: String,
}

/// A hire to insert.
#[derive(Debug, InputObject)]
pub struct HiredEmployeeInput {
    /// Its id (a positive 32-bit integer).
    pub id: i32,
    /// The person's name, at most 255 characters.
    pub name: String,
    /// RFC 3339 with an explicit offset, e.g. `2021-11-07T02:48:42Z`; stored in UTC, to the microsecond.
    pub hire_datetime: String,
    /// An existing department's id.
    pub department_id: i32,
    /// An existing job's id.
    pub job_id: i32,
}

/// A row that was refused, and why.
#[derive(Debug, Clone, SimpleObject)]
pub struct RejectedRow {
    /// Its position in the `rows` argument, from 0.
    pub index: i32,
    /// Its id, when it could be read.
    pub id: Option<i32>,
    /// The offending input field, when one field is to blame.
    pub field: Option<String>,
    /// A stable reason code: MISSING_FIELD, INVALID_ID, NAME_TOO_LONG, INVALID_DATETIME,
    /// UNKNOWN_DEPARTMENT, UNKNOWN_JOB, DUPLICATE_ID or DUPLICATE_NAME.
    pub code: String,
    /// What is wrong, for people.
    pub message: String,
}

/// What became of an insert batch.
#[derive(Debug, Clone, SimpleObject)]
pub struct InsertReport {
    /// Rows newly stored.
    pub inserted: i32,
    /// Rows already stored with the same content; nothing was changed.
    pub unchanged: i32,
    /// Rows refused; they are also in the rejected-row log.
    pub rejected: Vec<RejectedRow>,
}

/// Input field names as the GraphQL client wrote them.
fn input_field_name(column: &str) -> &str {
    match column {
        "hire_datetime" => "hireDatetime",
        "department_id" => "departmentId",
        "job_id" => "jobId",
        other => other,
    }
}

/// Announces the change to subscribers when rows were stored (the batch is
/// committed by now), counts the refused rows in the metrics, then turns the
/// report into its GraphQL shape.
fn reported(
    ctx: &Context<'_>,
    table: crate::rules::Table,
    report: ingest::InsertReport,
) -> InsertReport {
    let state = ctx.data_unchecked::<crate::state::AppState>();
    if report.inserted > 0 {
        state.changes.announce(&[table]);
    }
    for row in &report.rejected {
        state.metrics.rejected(row.code, 1);
    }
    report.into()
}

impl From<ingest::InsertReport> for InsertReport {
    fn from(report: ingest::InsertReport) -> Self {
        Self {
            inserted: report.inserted as i32,
            unchanged: report.unchanged as i32,
            rejected: report
                .rejected
                .into_iter()
                .map(|r| RejectedRow {
                    index: r.position as i32,
                    id: r.id,
                    field: r.field.map(|f| input_field_name(f).to_owned()),
                    code: r.code.to_owned(),
                    message: r.message,
                })
                .collect(),
        }
    }
}

/// Turns a batch of inputs into raw records, refusing an empty or oversized batch whole.
///
/// A refused row is logged as its fields in CSV form, like a row from a file.
fn records<T>(rows: &[T], fields: impl Fn(&T) -> Vec<String>) -> Result<Vec<RawRecord>, AppError> {
    if rows.is_empty() || rows.len() > MAX_BATCH_ROWS {
        return Err(AppError::bad_input(
            "BATCH_SIZE",
            format!(
                "a batch takes 1 to {MAX_BATCH_ROWS} rows; this one has {}",
                rows.len()
            ),
        ));
    }
    Ok(rows
        .iter()
        .enumerate()
        .map(|(index, row)| RawRecord {
            position: index as i64,
            fields: fields(row),
            raw: None,
            problem: None,
        })
        .collect())
}

/// Insert mutations; each needs write access.
#[derive(Default)]
pub struct InsertMutation;

#[Object]
impl InsertMutation {
    /// Inserts 1 to 1000 departments. Valid rows are stored in one transaction;
    /// refused rows are returned and logged. Rows already stored unchanged are counted, not rewritten.
    #[graphql(guard = "Needs(Role::Editor)")]
    async fn insert_departments(
        &self,
        ctx: &Context<'_>,
        rows: Vec<DepartmentInput>,
    ) -> Result<InsertReport> {
        let records = records(&rows, |r| vec![r.id.to_string(), r.department.clone()])?;
        let report = ingest::insert_dimension_batch(
            db(ctx),
            Dimension::Departments,
            "graphql:insertDepartments",
            &records,
        )
        .await?;
        Ok(reported(ctx, crate::rules::Table::Departments, report))
    }

    /// Inserts 1 to 1000 jobs, with the same rules as `insertDepartments`.
    #[graphql(guard = "Needs(Role::Editor)")]
    async fn insert_jobs(&self, ctx: &Context<'_>, rows: Vec<JobInput>) -> Result<InsertReport> {
        let records = records(&rows, |r| vec![r.id.to_string(), r.job.clone()])?;
        let report = ingest::insert_dimension_batch(
            db(ctx),
            Dimension::Jobs,
            "graphql:insertJobs",
            &records,
        )
        .await?;
        Ok(reported(ctx, crate::rules::Table::Jobs, report))
    }

    /// Inserts 1 to 1000 hires. Their department and job must exist. Valid rows
    /// are stored in one transaction; refused rows are returned and logged.
    #[graphql(guard = "Needs(Role::Editor)")]
    async fn insert_hired_employees(
        &self,
        ctx: &Context<'_>,
        rows: Vec<HiredEmployeeInput>,
    ) -> Result<InsertReport> {
        let records = records(&rows, |r| {
            vec![
                r.id.to_string(),
                r.name.clone(),
                r.hire_datetime.clone(),
                r.department_id.to_string(),
                r.job_id.to_string(),
            ]
        })?;
        let report =
            ingest::insert_hire_batch(db(ctx), "graphql:insertHiredEmployees", &records).await?;
        Ok(reported(ctx, crate::rules::Table::HiredEmployees, report))
    }
}
