//! Verdicts against the stored data: the problems a well-formed row can still
//! have once it meets what is already stored. Both the batch path (Rust) and
//! the PostgreSQL bulk path (which decides in SQL) word them here.

use super::{problem::Problem, reason, table::Dimension};

/// A hire whose id is stored with other content.
pub fn duplicate_hire(id: i32) -> Problem {
    Problem::new(
        Some("id"),
        reason::DUPLICATE_ID,
        format!("hire id {id} already exists with different content"),
    )
}

/// A hire whose department is not stored.
pub fn unknown_department(department_id: i32) -> Problem {
    Problem::new(
        Some("department_id"),
        reason::UNKNOWN_DEPARTMENT,
        format!("no department has id {department_id}"),
    )
}

/// A hire whose job is not stored.
pub fn unknown_job(job_id: i32) -> Problem {
    Problem::new(
        Some("job_id"),
        reason::UNKNOWN_JOB,
        format!("no job has id {job_id}"),
    )
}

/// The problem a hire verdict code names, for a hire with these ids; `None`
/// for a code that is not a verdict against stored data.
pub fn hire_problem(code: &str, id: i32, department_id: i32, job_id: i32) -> Option<Problem> {
    match code {
        reason::DUPLICATE_ID => Some(duplicate_hire(id)),
        reason::UNKNOWN_DEPARTMENT => Some(unknown_department(department_id)),
        reason::UNKNOWN_JOB => Some(unknown_job(job_id)),
        _ => None,
    }
}

/// A department or job whose id is stored under another name.
pub fn duplicate_dimension_id(id: i32, stored_name: &str) -> Problem {
    Problem::new(
        Some("id"),
        reason::DUPLICATE_ID,
        format!("id {id} already exists as {stored_name:?}"),
    )
}

/// A department or job whose name is stored under another id.
pub fn duplicate_dimension_name(dimension: Dimension, name: &str, other_id: i32) -> Problem {
    let field = dimension.name_field();
    Problem::new(
        Some(field),
        reason::DUPLICATE_NAME,
        format!("{field} {name:?} is already used by id {other_id}"),
    )
}
