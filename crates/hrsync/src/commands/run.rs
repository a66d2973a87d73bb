//! `hrsync run`: incremental cycles on a short interval, woken early for
//! effective dates, one cycle at a time, stopping cleanly on SIGTERM.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use hrsync_store::{CycleKind, Store};

use super::app::{self, ConfigArg};

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// Override the config's `[schedule] interval` (e.g. 30s, 5m).
    #[arg(long, value_parser = parse_duration)]
    interval: Option<Duration>,
    /// Stop after this many cycles (0 = run until stopped).
    #[arg(long, default_value_t = 0)]
    cycles: u64,
}

/// The config's duration syntax (jiff's friendly format or ISO 8601):
/// `30s`, `5m`, `1h 30m`, `PT40M`; positive.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let d: jiff::SignedDuration =
        s.trim().parse().map_err(|_| format!("`{s}` is not a duration like 30s, 5m or 1h 30m"))?;
    Duration::try_from(d)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| format!("`{s}`: the interval must be positive"))
}

pub fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let config = app::load(&args.config)?;
    let _lock = app::cycle_lock(&config)?;
    let interval = args.interval.unwrap_or(config.schedule.interval);
    let rt = app::runtime()?;
    rt.block_on(async {
        let mut engine = app::engine(&config)?;
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).context("SIGTERM handler")?;
        let mut done = 0u64;
        loop {
            // A cycle in flight is finished, never cut: stop signals are only
            // looked at between cycles. Everything a cycle does is safe to
            // abandon anyway (see ARCHITECTURE.md), so a second signal or
            // SIGKILL loses nothing.
            match engine.run_cycle(CycleKind::Incremental).await {
                Ok(report) => tracing::info!(message = "Cycle finished.", summary = %app::summary(&report)),
                Err(error) => tracing::error!(message = "Cycle failed; retrying next interval.", %error),
            }
            done += 1;
            if args.cycles != 0 && done >= args.cycles {
                break;
            }
            let wait = next_wait(engine.store(), interval);
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = term.recv() => { tracing::info!(message = "SIGTERM: stopping between cycles."); break; }
                _ = tokio::signal::ctrl_c() => { tracing::info!(message = "Interrupted: stopping between cycles."); break; }
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// Until the next interval, or earlier when a worker's effective date
/// (termination end of day, future-dated change, pre-hire lead time) is due.
fn next_wait(store: &impl Store, interval: Duration) -> Duration {
    let Ok(Some(at)) = store.next_wakeup() else { return interval };
    let now = jiff::Timestamp::now();
    let until = at.duration_since(now);
    match Duration::try_from(until) {
        Ok(d) => d.min(interval),
        // Already due.
        Err(_) => Duration::ZERO,
    }
}
