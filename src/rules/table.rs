//! The product's data tables.

use serde::{Deserialize, Serialize};

/// A data table of the product.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    async_graphql::Enum,
    clap::ValueEnum,
)]
#[serde(rename_all = "snake_case")]
#[value(rename_all = "snake_case")]
pub enum Table {
    /// `departments(id, department)`.
    Departments,
    /// `jobs(id, job)`.
    Jobs,
    /// `hired_employees(id, name, hire_datetime, department_id, job_id)`.
    HiredEmployees,
}

impl Table {
    /// Every table, dimensions first (the order imports and restores use).
    pub const ALL: [Table; 3] = [Table::Departments, Table::Jobs, Table::HiredEmployees];

    /// The table's name in the database.
    pub fn name(self) -> &'static str {
        match self {
            Table::Departments => "departments",
            Table::Jobs => "jobs",
            Table::HiredEmployees => "hired_employees",
        }
    }

    /// The table's columns in file and backup order, comma-separated.
    pub fn columns(self) -> &'static str {
        match self {
            Table::Departments => "id, department",
            Table::Jobs => "id, job",
            Table::HiredEmployees => "id, name, hire_datetime, department_id, job_id",
        }
    }

    /// How many columns the table has.
    pub fn width(self) -> usize {
        match self {
            Table::HiredEmployees => 5,
            Table::Departments | Table::Jobs => 2,
        }
    }

    /// The standard CSV file name, e.g. `hired_employees.csv`.
    pub fn file_name(self) -> String {
        format!("{}.csv", self.name())
    }

    /// The lookup table this is, if it is one.
    pub fn dimension(self) -> Option<Dimension> {
        match self {
            Table::Departments => Some(Dimension::Departments),
            Table::Jobs => Some(Dimension::Jobs),
            Table::HiredEmployees => None,
        }
    }
}

impl std::fmt::Display for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
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
