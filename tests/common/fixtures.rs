//! Test data: the shared real samples, generated data and CSV imports, and
//! counts of what the database holds afterwards.

use std::path::Path;

use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};

use super::db::TestDb;

/// Rows in `table`.
pub async fn count_rows(db: &DatabaseConnection, table: &str) -> i64 {
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            format!("SELECT COUNT(*) AS n FROM {table}"),
        ))
        .await
        .expect("count")
        .expect("a row");
    row.try_get::<i64>("", "n").expect("n")
}

/// The rejected-row log as (source, position, field, code), oldest first.
pub async fn rejected_rows(db: &DatabaseConnection) -> Vec<(String, i64, Option<String>, String)> {
    use sea_orm::{EntityTrait, QueryOrder};
    entity::rejected_row::Entity::find()
        .order_by_asc(entity::rejected_row::Column::Id)
        .all(db)
        .await
        .expect("rejected rows")
        .into_iter()
        .map(|r| (r.source, r.position, r.field, r.code))
        .collect()
}

/// The shared real samples, or `None` (with a notice) where they are absent outside CI.
pub fn shared_data_dir() -> Option<std::path::PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data");
    if dir.join("hired_employees.csv").exists() {
        return Some(dir);
    }
    if std::env::var_os("CI").is_some() {
        panic!("../shared/data is missing, and CI requires the tests that read it");
    }
    eprintln!("notice: ../shared/data is absent; skipping a test that reads the real samples");
    None
}

/// Generates `settings.hires` hires with the project's generator and imports
/// all three files into `t` with the library's CSV import.
pub async fn load_generated(t: &TestDb, settings: hiring_analytics::generator::GeneratorSettings) {
    let dir = tempfile::tempdir().unwrap();
    hiring_analytics::generator::generate(dir.path(), &settings).unwrap();
    import_dir(t, dir.path()).await;
}

/// Imports the three standard files of `dir` into `t` with the library's CSV import.
pub async fn import_dir(t: &TestDb, dir: &Path) {
    for table in hiring_analytics::rules::Table::ALL {
        let file = std::fs::File::open(dir.join(table.file_name())).unwrap();
        hiring_analytics::service::import::import_csv(
            &t.db,
            table,
            &format!("csv:{}", table.file_name()),
            Box::new(file),
            std::sync::Arc::new(Default::default()),
        )
        .await
        .unwrap_or_else(|e| panic!("import failed: {}", e.detail()));
    }
}

/// Generator settings for `hires` valid hires from `from_year` to `to_year`.
pub fn generated(
    hires: u64,
    seed: u64,
    from_year: i32,
    to_year: i32,
) -> hiring_analytics::generator::GeneratorSettings {
    hiring_analytics::generator::GeneratorSettings {
        hires,
        seed,
        bad_fraction: 0.0,
        from_year,
        to_year,
    }
}
