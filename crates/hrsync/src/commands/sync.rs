//! `hrsync sync [--full]`: one cycle, with a progress bar on a terminal and
//! a summary at the end.

use std::process::ExitCode;

use hrsync_runner::{INBOUND, Job};
use hrsync_store::CycleKind;

use super::app::{self, ConfigArg};

#[derive(Debug, clap::Args)]
pub struct SyncArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// Read every worker instead of the changes since the watermark.
    #[arg(long)]
    full: bool,
    /// Print the cycle report as JSON on stdout.
    #[arg(long)]
    json: bool,
}

pub fn run(args: SyncArgs) -> anyhow::Result<ExitCode> {
    let config = app::load(&args.config)?;
    let (store, _lease) = app::cycle_lease(&config)?;
    let rt = app::runtime()?;
    rt.block_on(async {
        let mut engine = app::engine_on(&config, store)?;
        let bar = app::progress_bar(&mut engine);
        let kind = if args.full { CycleKind::Full } else { CycleKind::Incremental };
        let report = hrsync_runner::run_once(INBOUND, engine, Job::Cycle(kind)).await;
        if let Some(b) = bar {
            b.finish_and_clear();
        }
        let report = report?;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&report)?);
        } else {
            println!("{}", app::summary(&report));
        }
        Ok(match report.status {
            hrsync_store::CycleStatus::Completed => ExitCode::SUCCESS,
            // Partial success and a tripped deletion guard are not crashes,
            // but scripts must notice them.
            _ => ExitCode::from(3),
        })
    })
}
