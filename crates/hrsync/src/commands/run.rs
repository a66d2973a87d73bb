//! `hrsync run`: the runner (`hrsync-runner`) with the config's flows (or
//! the one named by `--flow`) on the schedule, stopped by SIGTERM or
//! SIGINT. Wiring only.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use hrsync_runner::{FlowSpec, Interrupt, Runner, Schedule, StopSignals, Stopped};

use super::app::{self, ConfigArg};

/// Exit code when a stop cut a cycle in flight (a second signal, or the
/// stop timeout): the next cycle marks it aborted and redoes what it had
/// not committed.
const EXIT_INTERRUPTED: u8 = 5;

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// Only this flow (`inbound` or a `[[flows]]` name); default every flow.
    #[arg(long)]
    flow: Option<String>,
    /// Override the config's `[schedule] interval` (e.g. 30s, 5m).
    #[arg(long, value_parser = parse_interval)]
    interval: Option<Duration>,
    /// Stop after this many cycles of each flow (0 = run until stopped).
    #[arg(long, default_value_t = 0)]
    cycles: u64,
    /// After a stop signal, how long a cycle in flight may take to finish
    /// before it is interrupted (0 = interrupt at once).
    #[arg(long, value_parser = parse_timeout, default_value = "30s")]
    stop_timeout: Duration,
}

/// The config's duration syntax (jiff's friendly format or ISO 8601):
/// `30s`, `5m`, `1h 30m`, `PT40M`.
fn parse_duration(s: &str) -> Result<Option<Duration>, String> {
    let d: jiff::SignedDuration =
        s.trim().parse().map_err(|_| format!("`{s}` is not a duration like 30s, 5m or 1h 30m"))?;
    // `None` when negative.
    Ok(Duration::try_from(d).ok())
}

fn parse_interval(s: &str) -> Result<Duration, String> {
    parse_duration(s)?
        .filter(|d| !d.is_zero())
        .ok_or_else(|| format!("`{s}`: the interval must be positive"))
}

fn parse_timeout(s: &str) -> Result<Duration, String> {
    parse_duration(s)?.ok_or_else(|| format!("`{s}`: the stop timeout must not be negative"))
}

pub fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let config = app::load(&args.config)?;
    let flows = app::pick_some(&config, args.flow.as_deref())?;
    // Every lease first, in config order, held until the runner has ended.
    let mut leased = Vec::new();
    for flow in &flows {
        leased.push((*flow, app::cycle_lease(&config, flow.name())?));
    }
    let interval = args.interval.unwrap_or(config.schedule.interval);
    let rt = app::runtime()?;
    let code = rt.block_on(async {
        // Caught from here on, so a signal during the first cycle counts.
        let signals = StopSignals::install().context("installing the SIGTERM/SIGINT handlers")?;
        let schedule = match args.cycles {
            0 => Schedule::every(interval),
            n => Schedule::every(interval).limit(n),
        };
        let mut specs = Vec::new();
        let mut _leases = Vec::new();
        if config.api.is_some() {
            // Before any cycle, so the runner's counters are recorded.
            hrsync_server::metrics_recorder()?;
        }
        for (flow, (store, lease)) in leased {
            let engine = app::engine_for_on(&config, flow, app::Files::Create, store)?;
            specs.push(FlowSpec::new(flow.name(), engine).scheduled(schedule));
            _leases.push(lease);
        }
        let (handle, runner) = Runner::new(specs)?;
        // Bound before the first cycle, so a taken port fails the start.
        let (api_stop, api_task) = match &config.api {
            Some(api) => {
                let server = super::api::bind(&config, &flows, api, handle.clone()).await?;
                let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
                let task = tokio::spawn(server.run(async move {
                    let _ = stopped.await;
                }));
                (Some(stop), Some(task))
            }
            None => (None, None),
        };
        tokio::spawn(signals.forward(handle, args.stop_timeout));
        let stopped = runner.run().await;
        if let (Some(stop), Some(task)) = (api_stop, api_task) {
            let _ = stop.send(());
            // Requests in flight get a moment; the process is ending anyway.
            match tokio::time::timeout(Duration::from_secs(5), task).await {
                Ok(Ok(Err(e))) => tracing::warn!(error = %e, "The API server ended with an error."),
                Ok(_) => {}
                Err(_) => tracing::warn!("The API server did not stop within 5 s; leaving it."),
            }
        }
        Ok(match stopped {
            Stopped::Interrupted { by, jobs } => {
                let by = match by {
                    Interrupt::Request => "a second signal".to_owned(),
                    Interrupt::Deadline(d) => format!("the stop timeout ({d:?})"),
                };
                let cut: Vec<String> = jobs.iter().map(|(f, j)| format!("the {j} of flow {f}")).collect();
                tracing::warn!(
                    "Stopped: {by} interrupted {}; the next cycle marks it aborted and redoes what it had not committed.",
                    cut.join(", ")
                );
                ExitCode::from(EXIT_INTERRUPTED)
            }
            Stopped::Requested => {
                tracing::info!("Stopped: no cycle was in flight or it finished.");
                ExitCode::SUCCESS
            }
            Stopped::ScheduleDone | Stopped::HandlesDropped => ExitCode::SUCCESS,
        })
    });
    // A cut cycle may leave tasks behind (its read-ahead, a blocking call
    // into a target): they are abandoned like the cycle, not waited for.
    rt.shutdown_timeout(Duration::from_secs(1));
    code
}
