//! Checking one raw record into a typed row.

use chrono::{DateTime, Utc};

use super::{
    domain::{HireInstant, Name, RowId},
    problem::Problem,
    raw::RawRecord,
    reason,
    table::Dimension,
};

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

/// Checks one `id,name` record of a department or job.
pub fn parse_dimension_record(
    dimension: Dimension,
    record: &RawRecord,
) -> Result<DimensionRow, Problem> {
    let name_field = dimension.name_field();
    let fields = expect_fields(record, &["id", name_field])?;
    Ok(DimensionRow {
        id: RowId::parse("id", fields[0])?.get(),
        name: Name::parse(name_field, fields[1])?.into_inner(),
    })
}

/// The fields of a hire record, in file order.
const HIRE_FIELDS: [&str; 5] = ["id", "name", "hire_datetime", "department_id", "job_id"];

/// The hire field spelled `name`, if there is one (e.g. read back from the database).
pub fn hire_field(name: &str) -> Option<&'static str> {
    HIRE_FIELDS.into_iter().find(|field| *field == name)
}

/// Checks one `id,name,datetime,department_id,job_id` hire record.
pub fn parse_hire_record(record: &RawRecord) -> Result<HireRow, Problem> {
    let fields = expect_fields(record, &HIRE_FIELDS)?;
    Ok(HireRow {
        id: RowId::parse("id", fields[0])?.get(),
        name: Name::parse("name", fields[1])?.into_inner(),
        hire_datetime: HireInstant::parse(fields[2])?.get(),
        department_id: RowId::parse("department_id", fields[3])?.get(),
        job_id: RowId::parse("job_id", fields[4])?.get(),
    })
}

/// The record's fields, trimmed, once it has as many as `names` and none is blank.
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
