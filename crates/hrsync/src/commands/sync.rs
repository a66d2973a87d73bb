//! `hrsync sync [--full] [--flow NAME]`: one cycle of each flow (or of the
//! one named; `--flow writeback` is the `[writeback]` flow), with a progress bar on a terminal and a summary at the end.

use std::process::ExitCode;

use hrsync_runner::Job;
use hrsync_store::CycleKind;

use super::app::{self, ConfigArg};

#[derive(Debug, clap::Args)]
pub struct SyncArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// Read every worker instead of the changes since the watermark.
    #[arg(long)]
    full: bool,
    /// Only this flow (`inbound`, a `[[flows]]` name or `writeback`); default
    /// every flow (`writeback` last, when `[writeback]` is configured).
    #[arg(long)]
    flow: Option<String>,
    /// Print the cycle report as JSON on stdout (with several flows, an
    /// object of reports by flow name).
    #[arg(long)]
    json: bool,
}

pub fn run(args: SyncArgs) -> anyhow::Result<ExitCode> {
    let config = app::load(&args.config)?;
    let flows = app::pick_some(&config, args.flow.as_deref())?;
    // Every lease first, in config order: a second hrsync is refused before
    // either runs a cycle, and two never wait on each other.
    let mut leased = Vec::new();
    for flow in &flows {
        leased.push((*flow, app::cycle_lease(&config, flow.name())?));
    }
    let several = leased.len() > 1;
    let kind = if args.full { CycleKind::Full } else { CycleKind::Incremental };
    let rt = app::runtime()?;
    rt.block_on(async {
        let mut code = ExitCode::SUCCESS;
        let mut reports = serde_json::Map::new();
        // One flow after the other: they share the source and the state file.
        for (flow, (store, _lease)) in leased {
            let mut engine = app::engine_for_on(&config, flow, app::Files::Create, store)?;
            let bar = app::progress_bar(&mut engine);
            let report = hrsync_runner::run_once(flow.name(), engine, Job::Cycle(kind)).await;
            if let Some(b) = bar {
                b.finish_and_clear();
            }
            let report = report?;
            if report.status != hrsync_store::CycleStatus::Completed {
                // Partial success and a tripped deletion guard are not
                // crashes, but scripts must notice them.
                code = ExitCode::from(3);
            }
            match (args.json, several) {
                (true, false) => println!("{}", serde_json::to_string_pretty(&report)?),
                (true, true) => {
                    reports.insert(flow.name().to_owned(), serde_json::to_value(&report)?);
                }
                (false, false) => println!("{}", app::summary(&report)),
                (false, true) => println!("flow {}: {}", flow.name(), app::summary(&report)),
            }
        }
        if args.json && several {
            println!("{}", serde_json::to_string_pretty(&reports)?);
        }
        Ok(code)
    })
}
