//! SIGTERM and SIGINT as stop requests, the same in every cycle: the first
//! asks the runner to stop and gives the jobs in flight the stop deadline to
//! finish; a second interrupts them at once.

use std::time::Duration;

use tokio::signal::unix::{Signal, SignalKind, signal};

use crate::runner::RunnerHandle;

/// The process's stop signals, caught from the moment this is built (so a
/// signal during the first cycle is not lost to the default action).
pub struct StopSignals {
    term: Signal,
    int: Signal,
}

impl StopSignals {
    /// Must be called inside a tokio runtime.
    pub fn install() -> std::io::Result<Self> {
        Ok(StopSignals {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
        })
    }

    async fn next(&mut self) -> &'static str {
        tokio::select! {
            _ = self.term.recv() => "SIGTERM",
            _ = self.int.recv() => "SIGINT",
        }
    }

    /// Turns the signals into stop requests to `runner`; returns after the
    /// second one (or when the runner is gone).
    pub async fn forward(mut self, runner: RunnerHandle, deadline: Duration) {
        let first = self.next().await;
        tracing::info!(
            "{first}: stopping; a cycle in flight has {deadline:?} to finish (a second signal interrupts it)."
        );
        if runner.request_stop(deadline).is_err() {
            return;
        }
        let second = self.next().await;
        tracing::warn!("{second} again: interrupting the cycle in flight.");
        let _ = runner.request_stop(Duration::ZERO);
    }
}
