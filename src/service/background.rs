//! A background task that runs a round every interval until it is stopped
//! (the rollup compactor, the interrupted-operations sweep).

use std::time::Duration;

use tokio::{task::JoinHandle, time::MissedTickBehavior};

/// A running background task; stop it before closing the pool it uses.
#[derive(Debug)]
pub struct Background {
    task: JoinHandle<()>,
}

impl Background {
    /// Runs `round` at once, then every `interval` (a late round delays the
    /// next rather than bunching them).
    pub fn every<F, Fut>(interval: Duration, mut round: F) -> Self
    where
        F: FnMut() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send,
    {
        Self {
            task: tokio::spawn(async move {
                let mut ticks = tokio::time::interval(interval);
                ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
                loop {
                    ticks.tick().await;
                    round().await;
                }
            }),
        }
    }

    /// Stops it; a round under way is dropped (a transaction rolls back).
    pub async fn stop(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}
