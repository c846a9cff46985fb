//! `hiring-analytics import`: load CSV files, dimensions first.

use std::{
    fs::File,
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use sea_orm::DatabaseConnection;

use super::{
    Failure,
    progress::{Watched, shows_bar, watch},
};
use crate::{
    config::ImportArgs,
    db::{self, PoolSettings},
    error::ErrorClass,
    rules::Table,
    service::{
        import::{ImportProgress, TableSummary},
        operations::{Job, Output},
    },
};

/// Exit code for a missing or unreadable input file.
pub const EXIT_INPUT: u8 = ErrorClass::UnreadableInput.exit_code();
/// Exit code for an import cut off by Ctrl-C.
pub const EXIT_INTERRUPTED: u8 = 130;

/// The files to load, in load order, each checked to be readable before anything is written.
fn input_files(args: &ImportArgs) -> Result<Vec<(Table, PathBuf, File)>, Failure> {
    let chosen: Vec<(Table, PathBuf)> = match &args.dir {
        Some(dir) => Table::ALL
            .iter()
            .map(|table| (*table, dir.join(table.file_name())))
            .collect(),
        None => [
            (Table::Departments, &args.departments),
            (Table::Jobs, &args.jobs),
            (Table::HiredEmployees, &args.hired_employees),
        ]
        .into_iter()
        .filter_map(|(table, path)| path.clone().map(|path| (table, path)))
        .collect(),
    };
    chosen
        .into_iter()
        .map(|(table, path)| {
            let file = File::open(&path).map_err(|err| Failure {
                exit_code: EXIT_INPUT,
                error: anyhow::anyhow!("cannot read {} for {table}: {err}", path.display()),
            })?;
            if file.metadata().is_ok_and(|m| m.is_dir()) {
                return Err(Failure {
                    exit_code: EXIT_INPUT,
                    error: anyhow::anyhow!("{} is a folder, not a CSV file", path.display()),
                });
            }
            Ok((table, path, file))
        })
        .collect()
}

/// The file's name, as the rejected-row log's source names it (`csv:<name>`).
fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// Imports the chosen files and prints a summary per table.
pub async fn run(database_url: &str, args: ImportArgs) -> Result<(), Failure> {
    let files = input_files(&args)?;
    let db = db::connect(database_url, PoolSettings::default()).await?;
    db::migrate(&db).await?;
    let show_bar = shows_bar(args.progress);

    let mut summaries = Vec::new();
    for (table, path, file) in files {
        let progress = Arc::new(ImportProgress::default());
        let watched = Arc::new(TableImport {
            table,
            progress: Arc::clone(&progress),
        });
        let watcher = tokio::spawn(watch(watched, show_bar));
        let outcome = tokio::select! {
            outcome = load(&db, table, &path, file, Arc::clone(&progress)) => outcome,
            _ = tokio::signal::ctrl_c() => {
                watcher.abort();
                let done: Vec<_> = summaries.iter().map(|s: &TableSummary| s.table.name()).collect();
                return Err(Failure {
                    exit_code: EXIT_INTERRUPTED,
                    error: anyhow::anyhow!(
                        "interrupted: {table} was rolled back and is as it was before; \
                         tables already loaded: {}",
                        if done.is_empty() { "none".to_owned() } else { done.join(", ") }
                    ),
                });
            }
        };
        watcher.abort();
        let _ = watcher.await;
        summaries.push(outcome?);
    }
    print_summary(&summaries, args.json);
    Ok(())
}

async fn load(
    db: &DatabaseConnection,
    table: Table,
    path: &Path,
    file: File,
    progress: Arc<ImportProgress>,
) -> Result<TableSummary, Failure> {
    let size = file.metadata().ok().map(|m| m.len());
    let what = (table, file_name(path), size);
    let job = Job::import(db.clone(), what, Box::new(file), progress);
    let outcome = super::recorded::run(db, job)
        .await
        .and_then(Output::into_import);
    outcome.map_err(|err| {
        err.log();
        Failure {
            exit_code: err.exit_code(),
            error: anyhow::anyhow!(
                "importing {} into {table} failed: {}",
                path.display(),
                err.detail()
            ),
        }
    })
}

/// One table's import, as the progress display sees it.
struct TableImport {
    table: Table,
    progress: Arc<ImportProgress>,
}

impl Watched for TableImport {
    fn label(&self) -> &'static str {
        self.table.name()
    }

    fn rows(&self) -> u64 {
        self.progress.rows_read()
    }

    fn phase(&self) -> &'static str {
        self.progress.phase()
    }

    fn log(&self, elapsed: Duration) {
        let rows = self.rows();
        let seconds = elapsed.as_secs_f64().max(0.001);
        tracing::info!(
            table = self.table.name(),
            rows,
            rows_per_second = (rows as f64 / seconds) as u64,
            phase = self.phase(),
            "import progress"
        );
    }
}

fn print_summary(summaries: &[TableSummary], json: bool) {
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(summaries).unwrap_or_default()
        );
        return;
    }
    println!(
        "{:<16} {:>10} {:>10} {:>10} {:>10}  rejected by reason",
        "table", "read", "inserted", "unchanged", "rejected"
    );
    for s in summaries {
        let reasons: Vec<String> = s
            .rejected_by_reason
            .iter()
            .map(|(code, n)| format!("{code}: {n}"))
            .collect();
        println!(
            "{:<16} {:>10} {:>10} {:>10} {:>10}  {}",
            s.table.name(),
            s.read,
            s.inserted,
            s.unchanged,
            s.rejected,
            if reasons.is_empty() {
                "-".to_owned()
            } else {
                reasons.join(", ")
            }
        );
    }
}
