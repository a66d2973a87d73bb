//! Building an engine from a config file, shared by `plan`, `sync`, `run`,
//! `on-demand`, `logs`, `status` and `check`.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, bail};
use hrsync_config::{Config, FlowRef, WritebackSettings};
use hrsync_engine::cycle::{
    CompiledFlow, CycleReport, DeletionGuard, Engine, EscrowPolicy, Settings,
};
use hrsync_engine::plan::Actions;
use hrsync_expr::SystemClock;
use hrsync_source_sf::SfClient;
use hrsync_store_sqlite::SqliteStore;
use hrsync_target::Target;

/// `--config`, shared by every command that reads one.
#[derive(Debug, Clone, clap::Args)]
pub struct ConfigArg {
    /// The config file (`hrsync init` writes a starter).
    #[arg(long, short = 'c', env = "HRSYNC_CONFIG", default_value = "hrsync.toml")]
    pub config: PathBuf,
}

pub type AppEngine = Engine<SqliteStore, Box<dyn Target>>;

/// `--flow`, for commands that act on one flow (default `inbound`).
#[derive(Debug, Clone, clap::Args)]
pub struct FlowArg {
    /// The flow: `inbound` (`[flow]` and `[target]`), the name of a
    /// `[[flows]]` entry, or `writeback` (`[writeback]`).
    #[arg(long, default_value = Config::INBOUND)]
    pub flow: String,
}

/// A flow of the config as a command runs it: an inbound one (`[flow]` or
/// a `[[flows]]` entry) or `writeback` (`[writeback]`).
#[derive(Debug, Clone, Copy)]
pub enum Picked<'c> {
    Inbound(FlowRef<'c>),
    Writeback(&'c WritebackSettings),
}

impl Picked<'_> {
    pub fn name(&self) -> &str {
        match self {
            Picked::Inbound(f) => f.name,
            Picked::Writeback(_) => Config::WRITEBACK,
        }
    }
}

/// Every flow name of the config, for messages.
fn flow_names(config: &Config) -> String {
    let mut names: Vec<String> = config.flows().iter().map(|f| format!("`{}`", f.name)).collect();
    if config.writeback.is_some() {
        names.push(format!("`{}`", Config::WRITEBACK));
    }
    names.join(", ")
}

/// The inbound flow named `name`, or an error listing the config's flows.
pub fn pick<'c>(config: &'c Config, name: &str) -> anyhow::Result<FlowRef<'c>> {
    config.flow_named(name).ok_or_else(|| {
        anyhow::anyhow!(
            "{}: no flow named `{name}`; its flows are {}",
            config.path.display(),
            flow_names(config)
        )
    })
}

/// The flow named `name`, `writeback` included.
pub fn pick_any<'c>(config: &'c Config, name: &str) -> anyhow::Result<Picked<'c>> {
    if name == Config::WRITEBACK {
        return match &config.writeback {
            Some(w) => Ok(Picked::Writeback(w)),
            None => bail!(
                "{}: the flow `writeback` needs a `[writeback]` section (its `mapping`, e.g. `builtin:writeback-email`); its flows are {}",
                config.path.display(),
                flow_names(config)
            ),
        };
    }
    Ok(Picked::Inbound(pick(config, name)?))
}

/// The flows a command that may run several acts on: the one named, or
/// every flow of the config (the inbound ones, then `writeback` if
/// configured).
pub fn pick_some<'c>(config: &'c Config, name: Option<&str>) -> anyhow::Result<Vec<Picked<'c>>> {
    match name {
        Some(n) => Ok(vec![pick_any(config, n)?]),
        None => {
            let mut all: Vec<Picked<'c>> =
                config.flows().into_iter().map(Picked::Inbound).collect();
            if let Some(w) = &config.writeback {
                all.push(Picked::Writeback(w));
            }
            Ok(all)
        }
    }
}

/// Load and validate the config; every problem is listed, each with file,
/// line and field.
pub fn load(arg: &ConfigArg) -> anyhow::Result<Config> {
    Config::load(&arg.config).map_err(config_errors)
}

/// Load and validate the config without reading any secret, for commands
/// that only read hrsync's own state (`status`, `logs`): they run without
/// the SuccessFactors password or OAuth keys.
pub fn load_local(arg: &ConfigArg) -> anyhow::Result<Config> {
    Config::load_local(&arg.config).map_err(config_errors)
}

fn config_errors(errors: hrsync_config::ConfigErrors) -> anyhow::Error {
    let lines: Vec<String> = errors.errors().iter().map(ToString::to_string).collect();
    anyhow::anyhow!("{} problem(s) in the config:\n{}", lines.len(), lines.join("\n"))
}

/// An error and its causes on one line, each said once (many errors quote
/// their cause in their own message: `cannot listen on ...: Address
/// already in use`), escaped for a terminal.
pub fn error_chain(error: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    hrsync_display::escape_keeping_lines(&out).into_owned()
}

pub fn settings(config: &Config, flow: FlowRef<'_>) -> Settings {
    let a = flow.flow.actions;
    Settings {
        page_size: config.source.page_size,
        select: config.source.select,
        concurrency: flow.target_concurrency as usize,
        actions: Actions {
            create: a.create,
            update: a.update,
            disable: a.disable,
            delete: a.delete,
        },
        time_zone: flow.flow.time_zone.clone(),
        prehire_lead_days: i64::from(flow.flow.prehire_lead_days),
        onboarding_prehires: flow.flow.onboarding_prehires,
        guard: DeletionGuard {
            max_count: u64::from(config.guard.max_count),
            max_share: config.guard.max_share,
        },
        escrow: EscrowPolicy {
            first_retry: config.escrow.first_retry,
            max_retry: config.escrow.max_retry,
            flag_after: config.escrow.flag_after,
        },
        ..Settings::default()
    }
}

/// How a command opens hrsync's files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Files {
    /// Created when missing (sync, run, on-demand).
    Create,
    /// Never created: a missing state or embedded target is an empty one in
    /// memory (`plan`, `check`, `status`, `logs`), so a read-only command
    /// works in a read-only directory and leaves nothing behind.
    Existing,
}

/// The flow's target (`[target]` or `[flows.target]`), through the registry.
pub fn target_with(
    config: &Config,
    flow: FlowRef<'_>,
    compiled: &CompiledFlow,
    files: Files,
) -> anyhow::Result<Box<dyn Target>> {
    if !config.secrets_read {
        bail!("internal: the target needs a config loaded with its secrets");
    }
    let lookup = compiled.lookup_attributes();
    if let (Files::Existing, hrsync_targets::TargetConfig::Embedded(c)) = (files, flow.target)
        && !c.path.exists()
    {
        // The registry opens (and creates) the file; a dry run must not.
        let unique: Vec<&str> = c.unique.iter().map(String::as_str).collect();
        let t = hrsync_targets::EmbeddedTarget::in_memory_indexed(&unique, &lookup).with_context(
            || format!("opening an empty embedded target in memory for {}", c.path.display()),
        )?;
        return Ok(Box::new(t));
    }
    let context = hrsync_targets::BuildContext { lookup_attributes: &lookup };
    let section = if flow.name == Config::INBOUND {
        "[target]".to_owned()
    } else {
        format!("[flows.target] of flow `{}`", flow.name)
    };
    hrsync_targets::build(flow.target, &context)
        .with_context(|| format!("{}: {section}", config.path.display()))
}

/// The state of the flow named `flow` (its rows of the one state file),
/// pruning the log as `[state]` says.
pub fn store_with(config: &Config, flow: &str, files: Files) -> anyhow::Result<SqliteStore> {
    let path = &config.state.path;
    if files == Files::Existing && !path.exists() {
        tracing::info!(
            message = "No state file yet (no cycle has run): reading an empty state.",
            path = %path.display()
        );
        return SqliteStore::in_memory(flow).context("opening an empty state in memory");
    }
    let mut store = SqliteStore::open(path, flow)
        .with_context(|| format!("opening the state store {}", path.display()))?;
    let days = u64::from(config.state.log_retention_days);
    store.set_retention(hrsync_store::Retention {
        max_age: (days > 0).then(|| std::time::Duration::from_secs(days * 86_400)),
        keep_cycles: config.state.log_retention_cycles,
    });
    Ok(store)
}

/// The flow's mapping compiled for the engine.
pub fn compile(flow: FlowRef<'_>) -> anyhow::Result<CompiledFlow> {
    CompiledFlow::compile(&flow.flow.schema, &flow.flow.mapping)
        .with_context(|| format!("compiling the mapping of flow `{}`", flow.name))
}

/// The engine of a picked flow, with the crash-test seam wired to
/// `HRSYNC_CRASH_AFTER` (see [`writeback_engine`] for `writeback`).
pub fn engine_for(config: &Config, flow: Picked<'_>, files: Files) -> anyhow::Result<AppEngine> {
    let store = store_with(config, flow.name(), files)?;
    engine_for_on(config, flow, files, store)
}

/// [`engine_for`] over a store opened already (the one [`cycle_lease`] holds).
pub fn engine_for_on(
    config: &Config,
    flow: Picked<'_>,
    files: Files,
    store: SqliteStore,
) -> anyhow::Result<AppEngine> {
    match flow {
        Picked::Inbound(f) => engine_over(config, f, files, store),
        Picked::Writeback(w) => writeback_engine(config, w, files, store),
    }
}

/// The name of the writeback flow's watermark.
pub const WRITEBACK_WATERMARK: &str = "directory:writeback";

/// The writeback flow: the accounts the inbound flow joined, read from its
/// target (`[target]`) through its joins, into SuccessFactors' email and
/// phone records. The directory is only read: an embedded target is opened
/// read-only, beside an `hrsync run` that may hold it.
pub fn writeback_engine(
    config: &Config,
    wb: &WritebackSettings,
    files: Files,
    store: SqliteStore,
) -> anyhow::Result<AppEngine> {
    use hrsync_engine::directory::{DirectoryOptions, DirectorySource};
    if !config.secrets_read {
        bail!("internal: reaching SuccessFactors needs a config loaded with its secrets");
    }
    let compiled = CompiledFlow::compile(&wb.schema, &wb.mapping)
        .context("compiling the mapping of flow `writeback`")?;
    let inbound = pick(config, Config::INBOUND)?;
    let directory: Box<dyn Target> = match inbound.target {
        hrsync_targets::TargetConfig::Embedded(c) if c.path.exists() => Box::new(
            hrsync_targets::EmbeddedTarget::open_read_only(&c.path).with_context(|| {
                format!("{}: [target]: opening {} to read", config.path.display(), c.path.display())
            })?,
        ),
        _ => target_with(config, inbound, &compile(inbound)?, files)?,
    };
    let joins = store_with(config, Config::INBOUND, files)?;
    let source = DirectorySource::new(
        Arc::from(directory),
        Arc::new(std::sync::Mutex::new(joins)),
        DirectoryOptions {
            page_size: config.source.page_size as usize,
            concurrency: inbound.target_concurrency as usize,
        },
    );
    let sf = SfClient::new(&config.source.client).context("SuccessFactors client")?;
    let wb_config =
        hrsync_target_sf_writeback::SfWritebackConfig { primary: wb.primary, ..Default::default() };
    let target: Box<dyn Target> =
        Box::new(hrsync_target_sf_writeback::SfWritebackTarget::new(sf, wb_config));
    let a = wb.actions;
    let settings = Settings {
        watermark_scope: WRITEBACK_WATERMARK.into(),
        page_size: config.source.page_size,
        concurrency: config.target_concurrency as usize,
        actions: Actions {
            create: a.create,
            update: a.update,
            disable: a.disable,
            delete: a.delete,
        },
        guard: DeletionGuard {
            max_count: u64::from(config.guard.max_count),
            max_share: config.guard.max_share,
        },
        escrow: EscrowPolicy {
            first_retry: config.escrow.first_retry,
            max_retry: config.escrow.max_retry,
            flag_after: config.escrow.flag_after,
        },
        ..Settings::default()
    };
    let mut engine = Engine::with_source(
        Arc::new(source),
        compiled,
        store,
        target,
        Arc::new(SystemClock),
        settings,
    );
    crash_seam(&mut engine);
    Ok(engine)
}

fn engine_over(
    config: &Config,
    flow: FlowRef<'_>,
    files: Files,
    store: SqliteStore,
) -> anyhow::Result<AppEngine> {
    if !config.secrets_read {
        bail!("internal: reaching SuccessFactors needs a config loaded with its secrets");
    }
    let compiled = compile(flow)?;
    let sf = SfClient::new(&config.source.client).context("SuccessFactors client")?;
    let target = target_with(config, flow, &compiled, files)?;
    let settings = settings(config, flow);
    let mut engine = Engine::new(sf, compiled, store, target, Arc::new(SystemClock), settings);
    crash_seam(&mut engine);
    Ok(engine)
}

/// The crash-test seam: `HRSYNC_CRASH_AFTER=n` aborts at the n-th crash
/// point (tests only).
fn crash_seam(engine: &mut AppEngine) {
    if let Some(n) = std::env::var("HRSYNC_CRASH_AFTER").ok().and_then(|v| v.parse::<u64>().ok()) {
        let count = AtomicU64::new(0);
        engine.on_crash_point(Arc::new(move |point| {
            if count.fetch_add(1, Ordering::SeqCst) + 1 == n {
                eprintln!("HRSYNC_CRASH_AFTER: aborting at crash point {n} ({point})");
                std::process::abort();
            }
        }));
    }
}

/// A multi-threaded runtime: SelectUniqueValue asks the target from inside
/// expression evaluation, which needs `block_in_place`.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// One-paragraph summary of a cycle for people (the runner logs it too),
/// escaped for a terminal by the runner.
pub fn summary(r: &CycleReport) -> String {
    hrsync_runner::summary(r)
}
/// `attribute: old -> new`, the values as JSON and escaped for a terminal.
pub fn change_line(c: &hrsync_store::AttributeChange) -> String {
    hrsync_display::escape(&format!("{}: {} -> {}", c.attribute, c.old, c.new)).into_owned()
}

/// Whether `NO_COLOR` asks for no colours (set and not empty).
pub fn no_color() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}

/// A progress bar on a terminal, nothing otherwise.
pub fn progress_bar<S: hrsync_store::Store, T: Target + 'static>(
    engine: &mut Engine<S, T>,
) -> Option<indicatif::ProgressBar> {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} {elapsed_precise} {pos} workers ({per_sec}) {msg}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    let b = bar.clone();
    engine.on_progress(move |r| {
        b.set_position(r.workers);
        let counts: Vec<String> = r.counts.iter().map(|(k, v)| format!("{k} {v}")).collect();
        b.set_message(counts.join(", "));
    });
    Some(bar)
}

/// The state store holding the flow's lease ("one cycle at a time
/// per flow"), and the keeper that renews it every third of `[state]
/// lease_ttl` and releases it when dropped: hold both while running cycles.
/// A second `hrsync sync`/`run`/`on-demand` on the same state is refused
/// while the lease is held. A process killed on this host leaves a lease the
/// next one takes over at once; one that stalls, or runs on another host,
/// loses it `lease_ttl` after its last renewal, and its writes are fenced
/// from then on.
pub fn cycle_lease(
    config: &Config,
    flow: &str,
) -> anyhow::Result<(SqliteStore, hrsync_store_sqlite::LeaseKeeper)> {
    let mut store = store_with(config, flow, Files::Create)?;
    let ttl = config.state.lease_ttl;
    let holder = hrsync_store_sqlite::process_holder();
    match store.try_lease_or_take_over(&holder, ttl, jiff::Timestamp::now()) {
        Ok(lease) => {
            tracing::debug!(message = "Lease taken.", holder = %lease.holder, epoch = lease.epoch)
        }
        Err(hrsync_store::StoreError::LeaseHeld { holder, expires_at, flow, .. }) => {
            let left = expires_at.duration_since(jiff::Timestamp::now()).as_secs().max(0);
            bail!(
                "another hrsync is running cycles on {} (flow `{flow}`): its lease is held by {holder} \
                 until {expires_at} (in {left} s). It is renewed while that process runs; if that process \
                 is gone, the lease expires by itself then",
                config.state.path.display()
            )
        }
        Err(e) => {
            return Err(e).with_context(|| {
                format!("taking the lease on the state store {}", config.state.path.display())
            });
        }
    }
    let keeper = store
        .keep_lease(ttl, jiff::Timestamp::now)
        .with_context(|| format!("keeping the lease on {}", config.state.path.display()))?;
    Ok((store, keeper))
}
