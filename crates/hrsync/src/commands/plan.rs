//! `hrsync plan [--full] [--person ID] [--format text|json]`: a dry run.
//! Reads SuccessFactors and the target, writes nothing anywhere.

use std::fmt::Write as _;
use std::process::ExitCode;

use hrsync_display::escape;
use hrsync_engine::cycle::CycleReport;
use hrsync_runner::Job;

use super::app::{self, ConfigArg, Files, FlowArg};

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    #[command(flatten)]
    config: ConfigArg,
    #[command(flatten)]
    flow: FlowArg,
    /// Plan a full cycle instead of the changes since the watermark.
    #[arg(long)]
    full: bool,
    /// Plan only this worker (personIdExternal).
    #[arg(long)]
    person: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// Also list workers that need nothing.
    #[arg(long)]
    all: bool,
}

pub fn run(args: PlanArgs) -> anyhow::Result<ExitCode> {
    let config = app::load(&args.config)?;
    let flow = app::pick_any(&config, &args.flow.flow)?;
    let rt = app::runtime()?;
    let report = rt.block_on(async {
        // A missing state or embedded target reads as empty, in memory:
        // a dry run creates no file (and works in a read-only directory).
        let engine = app::engine_for(&config, flow, Files::Existing)?;
        let job = Job::Plan { full: args.full, person: args.person.clone() };
        anyhow::Ok(hrsync_runner::run_once(flow.name(), engine, job).await?)
    })?;
    match args.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        Format::Text => print!("{}", render(&report, args.all)),
    }
    Ok(ExitCode::SUCCESS)
}

/// The plan for people: one block per worker that needs something.
pub fn render(report: &CycleReport, all: bool) -> String {
    let mut out = String::new();
    for d in &report.details {
        if !all && d.action == hrsync_engine::Action::Skip {
            continue;
        }
        let target =
            d.target_id.as_deref().map(|t| format!(" [{}]", escape(t))).unwrap_or_default();
        let _ = writeln!(out, "{} {}{}", d.action, escape(&d.person_id), target);
        for c in &d.modified {
            let _ = writeln!(out, "    {}", app::change_line(c));
        }
        if let Some(e) = &d.error {
            let _ = writeln!(out, "    error: {}", escape(e));
        }
        for s in d.steps.iter().filter(|s| s.status != hrsync_store::LogStatus::Success) {
            let _ = writeln!(out, "    {} ({}): {}", s.name, s.status, escape(&s.detail));
        }
    }
    let counts: Vec<String> = report.counts.iter().map(|(k, v)| format!("{k} {v}")).collect();
    let _ = writeln!(
        out,
        "plan ({}, {} workers read): {}{}",
        report.kind,
        report.workers,
        if counts.is_empty() { "nothing to do".to_owned() } else { counts.join(", ") },
        report
            .message
            .as_deref()
            .map(|m| format!("\n{}", hrsync_display::escape_keeping_lines(m)))
            .unwrap_or_default()
    );
    out
}
