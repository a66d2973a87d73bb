//! `hrsync on-demand ID`: provision one worker now and print each step,
//! like Entra's provision on demand.

use std::process::ExitCode;

use hrsync_display::escape;
use hrsync_runner::Job;

use super::app::{self, ConfigArg, FlowArg};

#[derive(Debug, clap::Args)]
pub struct OnDemandArgs {
    #[command(flatten)]
    config: ConfigArg,
    #[command(flatten)]
    flow: FlowArg,
    /// The worker's personIdExternal.
    #[arg(value_parser = person_id)]
    person: String,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: OnDemandArgs) -> anyhow::Result<ExitCode> {
    let config = app::load(&args.config)?;
    let flow = app::pick_any(&config, &args.flow.flow)?;
    let (store, _lease) = app::cycle_lease(&config, flow.name())?;
    let rt = app::runtime()?;
    let report = rt.block_on(async {
        let engine = app::engine_for_on(&config, flow, app::Files::Create, store)?;
        let job = Job::OnDemand { person: args.person.clone() };
        anyhow::Ok(hrsync_runner::run_once(flow.name(), engine, job).await?)
    })?;
    // The same exit codes in both modes: 4 when SuccessFactors did not
    // return the worker, 3 when provisioning it failed.
    // The engine processes only the person asked for; anything else in the
    // report is a record SuccessFactors returned that could not be read
    // (it failed, and is shown as such).
    let detail = report
        .details
        .iter()
        .find(|d| d.person_id == args.person)
        .or_else(|| report.details.first());
    let code = match detail {
        None => ExitCode::from(4),
        Some(d) if d.error.is_some() => ExitCode::from(3),
        Some(_) => ExitCode::SUCCESS,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(code);
    }
    let writeback = matches!(flow, app::Picked::Writeback(_));
    for q in report.queries.iter().filter(|_| !writeback) {
        println!(
            "request: GET {}/odata/v2/{q}",
            config.source.client.base_url.trim_end_matches('/')
        );
    }
    let Some(d) = detail else {
        println!(
            "{}: not returned by SuccessFactors (unknown id, or not in the source's view)",
            escape(&args.person)
        );
        return Ok(ExitCode::from(4));
    };
    for s in &d.steps {
        println!("{:<7} {:<8} {}", s.name, s.status, escape(&s.detail));
    }
    println!("action: {} ({})", d.action, d.status);
    for c in &d.modified {
        println!("    {}", app::change_line(c));
    }
    if let Some(e) = &d.error {
        println!("error: {}", escape(e));
    }
    Ok(code)
}

/// A personIdExternal as given on the command line: refused when empty or
/// blank, before any query is sent (SuccessFactors would be asked for
/// `personIdExternal eq ''`).
fn person_id(s: &str) -> Result<String, String> {
    if s.trim().is_empty() {
        return Err("a personIdExternal must not be empty or blank".to_owned());
    }
    Ok(s.to_owned())
}
