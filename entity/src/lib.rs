//! SeaORM entities: one module per table.

pub mod audit_entry;
pub mod department;
pub mod hired_employee;
pub mod hires_rollup;
pub mod job;
pub mod operation;
pub mod rejected_row;
pub mod report_state;
