//! Showing a long operation's progress: a bar with rows/s on a terminal, or a
//! log line a second.

use std::{
    io::IsTerminal,
    sync::Arc,
    time::{Duration, Instant},
};

use indicatif::{ProgressBar, ProgressStyle};

use crate::config::ProgressMode;

/// Something whose progress can be shown.
pub(super) trait Watched: Send + Sync + 'static {
    /// What is being worked on, e.g. a table name.
    fn label(&self) -> &'static str;
    /// Rows done so far.
    fn rows(&self) -> u64;
    /// What is happening now.
    fn phase(&self) -> &'static str;
    /// Writes one progress line to the log, `elapsed` after the start.
    fn log(&self, elapsed: Duration);
}

/// Whether `mode` shows a bar here.
pub(super) fn shows_bar(mode: ProgressMode) -> bool {
    match mode {
        ProgressMode::Auto => std::io::stderr().is_terminal(),
        ProgressMode::Bar => true,
        ProgressMode::Log => false,
    }
}

/// Shows progress until aborted.
pub(super) async fn watch(watched: Arc<impl Watched>, show_bar: bool) {
    if show_bar {
        show_as_bar(watched.as_ref()).await
    } else {
        let started = Instant::now();
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            watched.log(started.elapsed());
        }
    }
}

async fn show_as_bar(watched: &impl Watched) {
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} {prefix:16} {human_pos:>11} rows {per_sec:>16} {elapsed:>4} {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    let _finish = FinishOnDrop(bar.clone());
    loop {
        bar.set_prefix(watched.label());
        bar.set_position(watched.rows());
        bar.set_message(watched.phase());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Clears the bar when the watcher is aborted.
struct FinishOnDrop(ProgressBar);

impl Drop for FinishOnDrop {
    fn drop(&mut self) {
        self.0.finish_and_clear();
    }
}
