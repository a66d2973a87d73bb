//! The `hrsync` command: wiring only. Each subcommand lives in `commands/` and
//! calls into the library crates; no logic lives here.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod commands;

// Parsing pages of expanded PerPerson records allocates and frees millions of
// small JSON nodes; glibc's allocator was a quarter of a full sync's CPU.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// HR-driven identity provisioning: SAP SuccessFactors to Active Directory /
/// LDAP, SCIM 2.0 apps and Microsoft Entra ID.
#[derive(Parser)]
#[command(name = "hrsync", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// API bearer tokens for `hrsync run`'s `[api]` server: create, list, revoke.
    ApiToken(commands::api::ApiTokenArgs),
    /// Run the built-in SuccessFactors Employee Central OData v2 emulator.
    Emulator(commands::emulator::EmulatorArgs),
    /// Run the Microsoft Graph test double (users, $batch, token endpoint; not Microsoft Graph).
    EmulatorGraph(commands::emulator_graph::EmulatorGraphArgs),
    /// Convert an hrsync mapping to another tool's format (entra-schema).
    Export(commands::export::ExportArgs),
    /// Evaluate an Entra provisioning expression against attribute values.
    Expr(commands::expr::ExprArgs),
    /// Convert an export from another tool (entra-schema) to hrsync TOML.
    Import(commands::import::ImportArgs),
    /// Print the JSON array of JSONPath matches in a JSON document.
    Jsonpath(commands::jsonpath::JsonPathArgs),
    /// Write a commented starter config with the default SuccessFactors-to-AD mapping.
    Init(commands::init::InitArgs),
    /// Keys for OAuth (SAML bearer, workload identity).
    Keys(commands::keys::KeysArgs),
    /// Dry run: what a sync would create, update, disable or delete, and why.
    Plan(commands::plan::PlanArgs),
    /// Run one sync cycle (incremental, or --full).
    Sync(commands::sync::SyncArgs),
    /// Keep syncing: incremental cycles on a short interval.
    ///
    /// The first SIGTERM or SIGINT stops it: a cycle in flight gets
    /// --stop-timeout to finish (exit 0); a second signal or the timeout
    /// interrupts it safely (exit 5: the next cycle marks it aborted and
    /// redoes what it had not committed).
    Run(commands::run::RunArgs),
    /// Provision one worker now and print each step.
    OnDemand(commands::on_demand::OnDemandArgs),
    /// The provisioning log.
    Logs(commands::logs::LogsArgs),
    /// Last cycles, watermark and escrow.
    Status(commands::logs::StatusArgs),
    /// Test Connection: source and target, without changing anything.
    Check(commands::check::CheckArgs),
    /// The main job: emulator, full sync, HR events, incremental sync.
    Demo(commands::demo::DemoArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(match cli.command {
        // A daemon's log is its output: every cycle's summary, and why it stopped.
        Command::Run(_) => "warn,hrsync=info,hrsync_runner=info,hrsync_server=info",
        _ => "warn",
    });
    let result = match cli.command {
        Command::ApiToken(args) => commands::api::api_token(args),
        Command::Emulator(args) => commands::emulator::run(args),
        Command::EmulatorGraph(args) => commands::emulator_graph::run(args),
        Command::Export(args) => commands::export::run(args),
        Command::Expr(args) => commands::expr::run(args),
        Command::Import(args) => commands::import::run(args),
        Command::Jsonpath(args) => commands::jsonpath::run(args),
        Command::Init(args) => commands::init::run(args),
        Command::Keys(args) => commands::keys::run(args),
        Command::Plan(args) => commands::plan::run(args),
        Command::Sync(args) => commands::sync::run(args),
        Command::Run(args) => commands::run::run(args),
        Command::OnDemand(args) => commands::on_demand::run(args),
        Command::Logs(args) => commands::logs::logs(args),
        Command::Status(args) => commands::logs::status(args),
        Command::Check(args) => commands::check::run(args),
        Command::Demo(args) => commands::demo::run(args),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {}", commands::app::error_chain(&error));
            ExitCode::from(1)
        }
    }
}

/// Logs go to stderr so stdout stays machine-readable (`hrsync expr`, `plan --format json`).
/// `HRSYNC_LOG` overrides the command's default filter. Colours only when
/// stderr is a terminal and `NO_COLOR` is not set (<https://no-color.org>):
/// a log file or a pipe gets plain text.
fn init_tracing(default: &str) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_env("HRSYNC_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal() && !commands::app::no_color())
        .init();
}
