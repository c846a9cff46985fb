//! Listing hires: filters, a stable order and keyset (cursor) pagination.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use entity::{
    department,
    hired_employee::{self, Column, Relation},
    job,
};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, FromQueryResult, JoinType, Order,
    PaginatorTrait, QueryFilter, QueryOrder, QueryResult, QuerySelect, RelationTrait, Select,
    sea_query::{Expr, ExprTrait, Func, LikeExpr},
};

use crate::error::AppError;

/// The most hires one page returns.
pub const MAX_PAGE_SIZE: u64 = 500;
/// The page size when neither `first` nor `last` is given.
pub const DEFAULT_PAGE_SIZE: u64 = 50;

/// Which hires to list; every set filter must match.
#[derive(Debug, Clone, Default)]
pub struct HireFilter {
    /// Hires in any of these departments.
    pub department_ids: Option<Vec<i32>>,
    /// Hires for any of these jobs.
    pub job_ids: Option<Vec<i32>>,
    /// Hired at or after this instant.
    pub hired_from: Option<DateTime<Utc>>,
    /// Hired before this instant.
    pub hired_before: Option<DateTime<Utc>>,
    /// Names containing this text, ignoring case.
    pub name_contains: Option<String>,
}

/// The field hires are ordered by; ties are broken by id, so the order is total.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HireOrderField {
    /// By hire instant.
    HireDatetime,
    /// By name, in byte order.
    Name,
    /// By id.
    Id,
}

impl HireOrderField {
    fn tag(self) -> &'static str {
        match self {
            HireOrderField::HireDatetime => "d",
            HireOrderField::Name => "n",
            HireOrderField::Id => "i",
        }
    }

    fn column(self) -> Column {
        match self {
            HireOrderField::HireDatetime => Column::HireDatetime,
            HireOrderField::Name => Column::Name,
            HireOrderField::Id => Column::Id,
        }
    }
}

/// An order for hires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HireOrder {
    /// The field.
    pub field: HireOrderField,
    /// Largest first when true.
    pub descending: bool,
}

/// A position in an ordered list of hires: the order field's value and the id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    field: HireOrderField,
    value: String,
    id: i32,
}

impl Cursor {
    /// The cursor of `hire` in a list ordered by `field`.
    pub fn of(hire: &hired_employee::Model, field: HireOrderField) -> Self {
        let value = match field {
            HireOrderField::HireDatetime => hire.hire_datetime.to_rfc3339(),
            HireOrderField::Name => hire.name.clone(),
            HireOrderField::Id => String::new(),
        };
        Self {
            field,
            value,
            id: hire.id,
        }
    }

    /// The opaque text clients hold.
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{}:{}:{}", self.field.tag(), self.id, self.value))
    }

    /// Reads a cursor for a list ordered by `field`.
    pub fn decode(text: &str, field: HireOrderField) -> Result<Self, AppError> {
        let invalid = || {
            AppError::bad_input(
                "INVALID_CURSOR",
                format!(
                    "{text:?} is not a cursor of this list; cursors come from edges of the same ordering"
                ),
            )
        };
        let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| invalid())?;
        let decoded = String::from_utf8(bytes).map_err(|_| invalid())?;
        let mut parts = decoded.splitn(3, ':');
        let (Some(tag), Some(id), Some(value)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(invalid());
        };
        if tag != field.tag() {
            return Err(invalid());
        }
        let id = id.parse::<i32>().map_err(|_| invalid())?;
        if field == HireOrderField::HireDatetime && DateTime::parse_from_rfc3339(value).is_err() {
            return Err(invalid());
        }
        Ok(Self {
            field,
            value: value.to_owned(),
            id,
        })
    }

    /// Rows strictly after this cursor when walking in `descending` order.
    fn beyond(&self, descending: bool) -> Condition {
        let column = self.field.column();
        let id_beyond = if descending {
            Column::Id.lt(self.id)
        } else {
            Column::Id.gt(self.id)
        };
        let value = match self.field {
            HireOrderField::Id => return Condition::all().add(id_beyond),
            HireOrderField::HireDatetime => {
                let at = DateTime::parse_from_rfc3339(&self.value)
                    .map(|d| d.with_timezone(&Utc))
                    .unwrap_or_default();
                sea_orm::Value::from(at)
            }
            HireOrderField::Name => sea_orm::Value::from(self.value.clone()),
        };
        // Qualified: a page may join departments and jobs.
        let field = Expr::col((hired_employee::Entity, column));
        let value_beyond = if descending {
            field.clone().lt(value.clone())
        } else {
            field.clone().gt(value.clone())
        };
        Condition::any()
            .add(value_beyond)
            .add(Condition::all().add(field.eq(value)).add(id_beyond))
    }
}

/// Which page to return.
#[derive(Debug, Clone, Default)]
pub struct PageRequest {
    /// The first N after `after`.
    pub first: Option<i64>,
    /// Start after this cursor.
    pub after: Option<String>,
    /// The last N before `before`.
    pub last: Option<i64>,
    /// End before this cursor.
    pub before: Option<String>,
}

/// Which names to read with each hire, in the same statement.
#[derive(Debug, Clone, Copy, Default)]
pub struct WithNames {
    /// Its department's name.
    pub department: bool,
    /// Its job's title.
    pub job: bool,
}

/// A hire, with the names of its department and job when they were asked for.
#[derive(Debug, Clone)]
pub struct NamedHire {
    /// The hire.
    pub hire: hired_employee::Model,
    /// Its department's name, if asked for.
    pub department: Option<String>,
    /// Its job's title, if asked for.
    pub job: Option<String>,
}

const DEPARTMENT_NAME: &str = "department_name";
const JOB_NAME: &str = "job_name";

impl FromQueryResult for NamedHire {
    fn from_query_result(row: &QueryResult, pre: &str) -> Result<Self, DbErr> {
        Ok(Self {
            hire: hired_employee::Model::from_query_result(row, pre)?,
            department: row.try_get(pre, DEPARTMENT_NAME)?,
            job: row.try_get(pre, JOB_NAME)?,
        })
    }
}

/// `query` joined to the departments and jobs `names` asks for, selecting
/// their names (NULL for a name not asked for).
fn with_names(
    query: Select<hired_employee::Entity>,
    names: WithNames,
) -> Select<hired_employee::Entity> {
    let query = match names.department {
        true => query
            .join(JoinType::InnerJoin, Relation::Department.def())
            .column_as(department::Column::Department, DEPARTMENT_NAME),
        false => query.column_as(Expr::val(None::<String>), DEPARTMENT_NAME),
    };
    match names.job {
        true => query
            .join(JoinType::InnerJoin, Relation::Job.def())
            .column_as(job::Column::Job, JOB_NAME),
        false => query.column_as(Expr::val(None::<String>), JOB_NAME),
    }
}

/// The hire with this id, with the names asked for, or `None` when there is none.
#[tracing::instrument(skip(db))]
pub async fn named_hire(
    db: &impl ConnectionTrait,
    id: i32,
    names: WithNames,
) -> Result<Option<NamedHire>, AppError> {
    let query = hired_employee::Entity::find().filter(Column::Id.eq(id));
    Ok(with_names(query, names)
        .into_model::<NamedHire>()
        .one(db)
        .await?)
}

/// One page of hires.
#[derive(Debug, Clone)]
pub struct HirePage {
    /// The hires, in the requested order, with their cursors.
    pub rows: Vec<(NamedHire, String)>,
    /// Whether hires follow this page.
    pub has_next: bool,
    /// Whether hires precede this page.
    pub has_previous: bool,
}

fn page_size(value: Option<i64>, name: &str) -> Result<Option<u64>, AppError> {
    match value {
        None => Ok(None),
        Some(n) if (0..=MAX_PAGE_SIZE as i64).contains(&n) => Ok(Some(n as u64)),
        Some(n) => Err(AppError::bad_input(
            "PAGE_SIZE",
            format!("{name} must be from 0 to {MAX_PAGE_SIZE}, got {n}"),
        )),
    }
}

fn filtered(filter: &HireFilter) -> sea_orm::Select<hired_employee::Entity> {
    let mut query = hired_employee::Entity::find();
    if let Some(ids) = &filter.department_ids {
        query = query.filter(Column::DepartmentId.is_in(ids.iter().copied()));
    }
    if let Some(ids) = &filter.job_ids {
        query = query.filter(Column::JobId.is_in(ids.iter().copied()));
    }
    if let Some(from) = filter.hired_from {
        query = query.filter(Column::HireDatetime.gte(from));
    }
    if let Some(before) = filter.hired_before {
        query = query.filter(Column::HireDatetime.lt(before));
    }
    if let Some(text) = filter.name_contains.as_deref().filter(|t| !t.is_empty()) {
        // Both backends fold only ASCII letters here (SQLite's lower(), and
        // PostgreSQL's on a COLLATE "C" column), so the pattern folds the same way.
        let escaped = text
            .to_ascii_lowercase()
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        query = query.filter(
            Expr::expr(Func::lower(Expr::col((
                hired_employee::Entity,
                Column::Name,
            ))))
            .like(LikeExpr::new(format!("%{escaped}%")).escape('\\')),
        );
    }
    query
}

/// The number of hires matching `filter`.
#[tracing::instrument(skip(db))]
pub async fn count_hires(db: &impl ConnectionTrait, filter: &HireFilter) -> Result<u64, AppError> {
    check_filter(filter)?;
    Ok(filtered(filter).count(db).await?)
}

/// The longest `nameContains` text accepted.
pub const MAX_NAME_FILTER_CHARS: usize = 255;

fn check_filter(filter: &HireFilter) -> Result<(), AppError> {
    match &filter.name_contains {
        Some(text) if text.chars().count() > MAX_NAME_FILTER_CHARS => Err(AppError::bad_input(
            "BAD_USER_INPUT",
            format!("nameContains takes at most {MAX_NAME_FILTER_CHARS} characters"),
        )),
        _ => Ok(()),
    }
}

/// One page of hires matching `filter` in `order`, each with the names `names` asks for.
#[tracing::instrument(skip(db))]
pub async fn list_hires(
    db: &impl ConnectionTrait,
    filter: &HireFilter,
    order: HireOrder,
    page: &PageRequest,
    names: WithNames,
) -> Result<HirePage, AppError> {
    check_filter(filter)?;
    let first = page_size(page.first, "first")?;
    let last = page_size(page.last, "last")?;
    if first.is_some() && last.is_some() {
        return Err(AppError::bad_input(
            "PAGE_SIZE",
            "give first or last, not both",
        ));
    }
    let after = page
        .after
        .as_deref()
        .map(|c| Cursor::decode(c, order.field))
        .transpose()?;
    let before = page
        .before
        .as_deref()
        .map(|c| Cursor::decode(c, order.field))
        .transpose()?;
    let backward = last.is_some();
    let size = last.or(first).unwrap_or(DEFAULT_PAGE_SIZE);

    let mut query = filtered(filter);
    if let Some(after) = &after {
        query = query.filter(after.beyond(order.descending));
    }
    if let Some(before) = &before {
        query = query.filter(before.beyond(!order.descending));
    }
    // Walking backward reads the order reversed, then flips the page.
    let walk_descending = order.descending != backward;
    let direction = if walk_descending {
        Order::Desc
    } else {
        Order::Asc
    };
    let mut rows = with_names(query, names)
        .order_by(order.field.column(), direction.clone())
        .order_by(Column::Id, direction)
        .limit(size + 1)
        .into_model::<NamedHire>()
        .all(db)
        .await?;
    let more = rows.len() as u64 > size;
    rows.truncate(size as usize);
    if backward {
        rows.reverse();
    }
    // A cursor on the far side means rows lie beyond it, whatever the page size.
    let (has_next, has_previous) = if backward {
        (before.is_some(), more || after.is_some())
    } else {
        (more || before.is_some(), after.is_some())
    };
    Ok(HirePage {
        rows: rows
            .into_iter()
            .map(|row| {
                let cursor = Cursor::of(&row.hire, order.field).encode();
                (row, cursor)
            })
            .collect(),
        has_next,
        has_previous,
    })
}
