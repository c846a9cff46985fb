//! The report rollup as stored, and the raw aggregate it must equal.

use std::collections::BTreeMap;

use sea_orm::{ConnectionTrait, DatabaseConnection};

/// Hires per (year, month, department, job); cells with no hires are left out.
pub type RollupCells = BTreeMap<(i32, i16, i32, i32), i64>;

/// Rows that differ between the compacted per-department and per-job totals
/// and the compacted cells summed per year and department or job.
pub async fn totals_mismatches(db: &DatabaseConnection) -> i64 {
    let mut mismatches = 0;
    for (table, key) in [
        ("hires_rollup_department", "department_id"),
        ("hires_rollup_job", "job_id"),
    ] {
        let summed = format!(
            "SELECT year, {key}, {} FROM hires_rollup GROUP BY year, {key}",
            month_sums()
        );
        let stored = format!("SELECT year, {key}, {} FROM {table}", MONTHS.join(", "));
        for (a, b) in [(&summed, &stored), (&stored, &summed)] {
            let sql = format!("SELECT COUNT(*) AS n FROM ({a} EXCEPT {b}) x");
            let row = db
                .query_one_raw(sea_orm::Statement::from_string(
                    db.get_database_backend(),
                    sql,
                ))
                .await
                .unwrap()
                .unwrap();
            mismatches += row.try_get::<i64>("", "n").unwrap();
        }
    }
    mismatches
}

/// The rollup as reports see it: the compacted cells plus the pending deltas.
/// Also asserts that the compacted totals agree with the compacted cells.
pub async fn stored_rollup(db: &DatabaseConnection) -> RollupCells {
    assert_eq!(
        totals_mismatches(db).await,
        0,
        "the per-department and per-job totals differ from the cells"
    );
    let cells = format!("year, department_id, job_id, {}", MONTHS.join(", "));
    let sql = format!(
        "SELECT year, department_id, job_id, {}
         FROM (SELECT {cells} FROM hires_rollup
               UNION ALL
               SELECT {cells} FROM hires_rollup_delta) c
         GROUP BY year, department_id, job_id",
        month_sums()
    );
    let rows = db
        .query_all_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            sql,
        ))
        .await
        .unwrap();
    let mut cells = BTreeMap::new();
    for row in rows {
        let get = |column: &str| row.try_get::<i32>("", column).unwrap();
        for month in 1..=12i16 {
            let hires: i64 = row.try_get("", &format!("m{month}")).unwrap();
            if hires != 0 {
                let key = (get("year"), month, get("department_id"), get("job_id"));
                cells.insert(key, hires);
            }
        }
    }
    cells
}

/// The hires in a `hiresByQuarter` answer (rows with `q1` to `q4`).
pub fn quarterly_hires(rows: &serde_json::Value) -> i64 {
    rows.as_array()
        .unwrap()
        .iter()
        .map(|row| {
            (1..=4)
                .map(|q| row[format!("q{q}")].as_i64().unwrap())
                .sum::<i64>()
        })
        .sum()
}

/// The month columns of every rollup table.
const MONTHS: [&str; 12] = [
    "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "m9", "m10", "m11", "m12",
];

/// `CAST(SUM(m1) AS BIGINT) AS m1, …` for every month.
fn month_sums() -> String {
    MONTHS
        .map(|m| format!("CAST(SUM({m}) AS BIGINT) AS {m}"))
        .join(", ")
}

/// Delta rows waiting to be folded.
pub async fn pending_deltas(db: &DatabaseConnection) -> i64 {
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT COUNT(*) AS n FROM hires_rollup_delta",
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get("", "n").unwrap()
}

/// The per-month counts computed by plain SQL over the raw table, written per backend.
pub async fn raw_sql_aggregate(db: &DatabaseConnection) -> RollupCells {
    let backend = db.get_database_backend();
    let sql = match backend {
        sea_orm::DbBackend::Postgres => {
            "SELECT EXTRACT(YEAR FROM hire_datetime AT TIME ZONE 'UTC')::integer AS year,
                    EXTRACT(MONTH FROM hire_datetime AT TIME ZONE 'UTC')::integer AS month,
                    department_id, job_id, COUNT(*) AS hires
             FROM hired_employees GROUP BY 1, 2, 3, 4"
        }
        _ => {
            "SELECT CAST(strftime('%Y', hire_datetime) AS INTEGER) AS year,
                    CAST(strftime('%m', hire_datetime) AS INTEGER) AS month,
                    department_id, job_id, COUNT(*) AS hires
             FROM hired_employees GROUP BY 1, 2, 3, 4"
        }
    };
    db.query_all_raw(sea_orm::Statement::from_string(backend, sql))
        .await
        .unwrap()
        .iter()
        .map(|row| {
            let get = |column: &str| row.try_get::<i32>("", column).unwrap();
            let hires: i64 = row.try_get("", "hires").unwrap();
            (
                (
                    get("year"),
                    get("month") as i16,
                    get("department_id"),
                    get("job_id"),
                ),
                hires,
            )
        })
        .collect()
}
