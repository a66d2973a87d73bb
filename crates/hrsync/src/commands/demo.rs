//! `hrsync demo`: the README's main job. Starts the SuccessFactors emulator
//! in-process, runs a full sync into the embedded target, applies a batch of
//! HR events, runs an incremental cycle and prints what changed. No set-up,
//! no network beyond loopback.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use hrsync_display::escape;
use hrsync_engine::cycle::{CompiledFlow, Engine, Settings};
use hrsync_expr::SystemClock;
use hrsync_mapping::{MappingConfig, SourceSchema};
use hrsync_source_sf::{Credentials, SfClient, SourceConfig};
use hrsync_store::{CycleKind, LogQuery, Store};
use hrsync_store_sqlite::SqliteStore;
use hrsync_target::Target;
use hrsync_target_embedded::EmbeddedTarget;
use secrecy::SecretString;
use sf_emulator::events::HrEvent;
use sf_emulator::model::{Scenario, UserStatus};
use sf_emulator::{DEFAULT_COMPANY_ID, DEFAULT_PASSWORD, DEFAULT_USERNAME, Emulator};

use super::app;

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Workers in the emulated tenant.
    #[arg(long, default_value_t = 10_000)]
    workers: usize,
    /// Seed of the emulated population.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Where to keep the target and state databases (default: a new
    /// directory under the system temp dir, printed at the end).
    #[arg(long)]
    dir: Option<PathBuf>,
}

pub fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    let dir = match args.dir {
        Some(d) => d,
        None => {
            std::env::temp_dir().join(format!("hrsync-demo-{}", jiff::Timestamp::now().as_second()))
        }
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let rt = app::runtime()?;
    rt.block_on(demo(args.workers, args.seed, dir))
}

async fn demo(workers: usize, seed: u64, dir: PathBuf) -> anyhow::Result<ExitCode> {
    println!("Starting the SuccessFactors emulator with {workers} workers (seed {seed})...");
    let emu = Emulator::builder()
        .workers(workers)
        .seed(seed)
        .start()
        .await
        .context("starting the emulator")?;
    println!(
        "  OData at {}/odata/v2/ (Basic {DEFAULT_USERNAME}@{DEFAULT_COMPANY_ID})",
        emu.base_url()
    );

    let client = SfClient::new(&SourceConfig::new(
        emu.base_url(),
        Credentials::Basic {
            username: DEFAULT_USERNAME.into(),
            company_id: DEFAULT_COMPANY_ID.into(),
            password: SecretString::from(DEFAULT_PASSWORD.to_owned()),
        },
    ))?;
    let schema = SourceSchema::builtin()?;
    let mapping = MappingConfig::sf_to_ad()?;
    let flow = CompiledFlow::compile(&schema, &mapping)?;
    let store = SqliteStore::open(&dir.join("hrsync-state.sqlite"), hrsync_store::INBOUND)?;
    let target = EmbeddedTarget::open_indexed(
        &dir.join("hrsync-target.sqlite"),
        &["sAMAccountName", "userPrincipalName"],
        &flow.lookup_attributes(),
    )?;
    let settings = Settings { page_size: 1000, ..Settings::default() };
    let mut engine = Engine::new(client, flow, store, target, Arc::new(SystemClock), settings);

    println!("\nFull sync with the default SuccessFactors-to-AD mapping into the embedded target:");
    let report = with_bar(&mut engine, CycleKind::Full).await?;
    println!("  {}", app::summary(&report));
    println!("  accounts in the target: {}", engine.target().all()?.len());

    println!("\nHR events in SuccessFactors:");
    let scenarios = emu.scenarios();
    let pick = |s: Scenario, i: usize| scenarios.get(&s).and_then(|v| v.get(i)).cloned();
    let today = jiff::Timestamp::now().to_zoned_datetime(jiff::tz::TimeZone::UTC).date();
    let day = |n: i64| {
        today.checked_add(jiff::Span::new().days(n)).map(|d| d.to_string()).unwrap_or_default()
    };
    let mut events: Vec<(String, HrEvent)> = vec![
        (
            "hire Zoë O'Brien, starting today".into(),
            HrEvent::Hire {
                person_id_external: None,
                first_name: Some("Zoë".into()),
                last_name: Some("O'Brien".into()),
                start_date: None,
                company: None,
                manager_id: None,
            },
        ),
        (
            "pre-hire Jürgen Weiß, starting in 7 days".into(),
            HrEvent::PreHire {
                person_id_external: None,
                first_name: Some("Jürgen".into()),
                last_name: Some("Weiß".into()),
                start_date: day(7),
                status: UserStatus::Active,
                company: None,
            },
        ),
    ];
    if let Some(p) = pick(Scenario::Active, 0) {
        events.push((
            format!("transfer {p} to a new title"),
            HrEvent::Transfer {
                person_id_external: p,
                effective: None,
                department: None,
                location: None,
                company: None,
                manager_id: None,
                job_title: Some("Head of Demos".into()),
            },
        ));
    }
    if let Some(p) = pick(Scenario::Active, 1) {
        events.push((
            format!("unpaid leave for {p}"),
            HrEvent::Leave { person_id_external: p, paid: false, from: day(0), to: None },
        ));
    }
    if let Some(p) = pick(Scenario::Active, 2) {
        events.push((
            format!("terminate {p}, last day yesterday"),
            HrEvent::Terminate { person_id_external: p, last_day: day(-1), user_id: None },
        ));
    }
    if let Some(p) = pick(Scenario::Terminated, 0) {
        events.push((
            format!("rehire {p}"),
            HrEvent::Rehire { person_id_external: p, start_date: None },
        ));
    }
    if let Some(p) = pick(Scenario::Active, 3) {
        events.push((
            format!("convert {p} to a new employment"),
            HrEvent::Convert { person_id_external: p, start_date: None },
        ));
    }
    if let Some(p) = pick(Scenario::Active, 4) {
        events.push((
            format!("name change for {p}"),
            HrEvent::NameChange {
                person_id_external: p,
                effective: None,
                first_name: None,
                last_name: Some("Nguyễn-Smith".into()),
                preferred_name: None,
            },
        ));
    }
    for (what, event) in &events {
        match emu.apply(event) {
            Ok(o) => println!("  {what} ({})", o.person_id_external),
            Err(e) => println!("  {what}: rejected by the emulator: {e}"),
        }
    }

    println!("\nIncremental cycle:");
    emu.clear_requests();
    let report = with_bar(&mut engine, CycleKind::Incremental).await?;
    println!("  {}", app::summary(&report));
    println!("  SuccessFactors requests: {}", emu.requests().len());
    let log =
        engine.store().log(&LogQuery { cycle_id: Some(report.cycle_id), ..Default::default() })?;
    println!("\nWhat changed:");
    for e in log.iter().filter(|e| e.action != hrsync_engine::Action::Skip) {
        let target = e.target_id.as_deref().unwrap_or("");
        println!("  {} {} {}", e.action, escape(&e.person_id), escape(target));
        for c in e.modified.iter().take(if e.action == hrsync_engine::Action::Create {
            6
        } else {
            usize::MAX
        }) {
            println!("      {}", app::change_line(c));
        }
        if let Some(err) = &e.error {
            println!("      error: {}", escape(err));
        }
    }
    println!("\nState and target kept in {}", dir.display());
    emu.shutdown().await;
    Ok(ExitCode::SUCCESS)
}

async fn with_bar<T: Target + 'static>(
    engine: &mut Engine<SqliteStore, T>,
    kind: CycleKind,
) -> anyhow::Result<hrsync_engine::cycle::CycleReport> {
    let bar = app::progress_bar(engine);
    let r = engine.run_cycle(kind).await;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    Ok(r?)
}
