//! `hrsync logs` and `hrsync status`: the provisioning log, the last
//! cycles, the watermark and the escrow, read from the state store.

use std::process::ExitCode;

use hrsync_display::escape;
use hrsync_store::{LogQuery, Store};

use super::app::{self, ConfigArg, Files, FlowArg};

/// The statuses of stored provisioning log entries (`planned` is a dry
/// run's, never stored).
const STATUSES: [&str; 4] = ["success", "failure", "skipped", "warning"];

#[derive(Debug, clap::Args)]
pub struct LogsArgs {
    #[command(flatten)]
    config: ConfigArg,
    #[command(flatten)]
    flow: FlowArg,
    /// Only this worker (personIdExternal).
    #[arg(long)]
    person: Option<String>,
    /// Only this cycle.
    #[arg(long)]
    cycle: Option<i64>,
    /// Only entries with this status.
    #[arg(long, value_parser = STATUSES)]
    status: Option<String>,
    /// At most this many entries (1 or more), newest first.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..))]
    limit: u64,
    #[arg(long)]
    json: bool,
}

pub fn logs(args: LogsArgs) -> anyhow::Result<ExitCode> {
    let config = app::load_local(&args.config)?;
    let flow = app::pick_any(&config, &args.flow.flow)?;
    let store = app::store_with(&config, flow.name(), Files::Existing)?;
    let entries = store.log(&LogQuery {
        person_id: args.person,
        cycle_id: args.cycle,
        // Checked by clap against STATUSES, which all parse.
        status: args.status.as_deref().and_then(hrsync_store::LogStatus::parse),
        // SQLite's LIMIT is a signed 64-bit integer; more is "all there are".
        limit: usize::try_from(args.limit.min(i64::MAX as u64)).unwrap_or(usize::MAX),
        ..Default::default()
    })?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&entries)?);
        return Ok(ExitCode::SUCCESS);
    }
    for e in &entries {
        println!(
            "{} cycle {} {} {} {}{}",
            e.at,
            e.cycle_id,
            escape(&e.person_id),
            e.action,
            e.status,
            e.target_id.as_deref().map(|t| format!(" [{}]", escape(t))).unwrap_or_default()
        );
        for c in &e.modified {
            println!("    {}", app::change_line(c));
        }
        if let Some(err) = &e.error {
            println!("    error: {}", escape(err));
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    #[command(flatten)]
    config: ConfigArg,
    #[command(flatten)]
    flow: FlowArg,
    #[arg(long)]
    json: bool,
}

pub fn status(args: StatusArgs) -> anyhow::Result<ExitCode> {
    let config = app::load_local(&args.config)?;
    let flow = app::pick_any(&config, &args.flow.flow)?;
    let store = app::store_with(&config, flow.name(), Files::Existing)?;
    let scope = match flow {
        app::Picked::Writeback(_) => app::WRITEBACK_WATERMARK.to_owned(),
        app::Picked::Inbound(_) => hrsync_engine::cycle::Settings::default().watermark_scope,
    };
    let watermark = store.watermark(&scope)?;
    let cycles = store.cycles(10)?;
    let escrows = store.escrows()?;
    let counts = store.account_counts()?;
    let next_wakeup = store.next_wakeup()?;
    if args.json {
        let v = serde_json::json!({
            "flow": flow.name(),
            "watermark": watermark.map(|w| w.to_string()),
            "accounts": {"active": counts.active, "disabled": counts.disabled, "deleted": counts.deleted},
            "next_wakeup": next_wakeup.map(|w| w.to_string()),
            "cycles": cycles.iter().map(|c| serde_json::json!({"id": c.id, "kind": c.kind, "status": c.status, "started_at": c.started_at.to_string(), "summary": c.summary, "message": c.message})).collect::<Vec<_>>(),
            "escrow": escrows.iter().map(|e| serde_json::json!({"person": e.person_id, "attempts": e.attempts, "next_attempt_at": e.next_attempt_at.to_string(), "flagged": e.flagged, "error": e.last_error})).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(ExitCode::SUCCESS);
    }
    let mut names: Vec<&str> = config.flows().iter().map(|f| f.name).collect();
    if config.writeback.is_some() {
        names.push(hrsync_config::Config::WRITEBACK);
    }
    if names.len() > 1 {
        println!("flow: {} (of {}; --flow picks another)", flow.name(), names.join(", "));
    }
    println!(
        "watermark: {}",
        watermark.map_or("none (the next cycle is a full sync)".to_owned(), |w| w.to_string())
    );
    println!(
        "accounts: {} active, {} disabled, {} deleted",
        counts.active, counts.disabled, counts.deleted
    );
    if let Some(w) = next_wakeup {
        println!("next wake-up: {w}");
    }
    println!("last cycles:");
    for c in &cycles {
        println!(
            "  {} {:?} {:?} started {}{}",
            c.id,
            c.kind,
            c.status,
            c.started_at,
            c.message.as_deref().map(|m| format!(": {}", escape(m))).unwrap_or_default()
        );
    }
    println!(
        "escrow: {} worker(s), {} flagged for a human",
        escrows.len(),
        escrows.iter().filter(|e| e.flagged).count()
    );
    for e in escrows.iter().take(20) {
        println!(
            "  {} attempts {} next {}{}: {}",
            escape(&e.person_id),
            e.attempts,
            e.next_attempt_at,
            if e.flagged { " FLAGGED" } else { "" },
            escape(&e.last_error)
        );
    }
    Ok(ExitCode::SUCCESS)
}
