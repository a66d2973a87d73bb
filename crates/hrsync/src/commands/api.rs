//! `hrsync api-token` and the `[api]` server's wiring for `hrsync run`.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use hrsync_config::{ApiSettings, Config};
use hrsync_runner::RunnerHandle;
use hrsync_server::{AppState, FlowSource, Role, Server, ServerOptions, TokenStore};
use hrsync_store_sqlite::SqliteHistory;

use super::app::{ConfigArg, Picked};

/// The server of `[api]` for these flows, bound (not yet serving).
pub async fn bind(
    config: &Config,
    flows: &[Picked<'_>],
    api: &ApiSettings,
    runner: RunnerHandle,
) -> anyhow::Result<Server> {
    let metrics = hrsync_server::metrics_recorder()?;
    let inbound_scope = hrsync_engine::cycle::Settings::default().watermark_scope;
    let mut sources = Vec::new();
    for flow in flows {
        let history = SqliteHistory::open(&config.state.path, flow.name()).with_context(|| {
            format!("opening the state store {} for the API", config.state.path.display())
        })?;
        // Each flow's watermark is kept under its source's scope.
        let watermark_scope = match flow {
            Picked::Inbound(_) => inbound_scope.clone(),
            Picked::Writeback(_) => super::app::WRITEBACK_WATERMARK.to_owned(),
        };
        sources.push(FlowSource {
            name: flow.name().to_owned(),
            history: Arc::new(history),
            watermark_scope,
        });
    }
    let tokens = TokenStore::beside(&config.state.path);
    let state = AppState::new(sources, runner, tokens, metrics, api.metrics_token_required);
    let options = ServerOptions {
        listen: api.listen,
        tls: api.tls.as_ref().map(|t| (t.cert_file.clone(), t.key_file.clone())),
        metrics_token_required: api.metrics_token_required,
    };
    let server = Server::bind(&options, state).await?;
    if api.insecure_listen && api.tls.is_none() && !api.listen.ip().is_loopback() {
        tracing::warn!(listen = %api.listen, "API: plain HTTP on a non-loopback address (insecure_listen = true).");
    }
    Ok(server)
}

#[derive(Debug, clap::Args)]
pub struct ApiTokenArgs {
    #[command(subcommand)]
    command: ApiTokenCommand,
}

#[derive(Debug, clap::Subcommand)]
enum ApiTokenCommand {
    /// Make a token and print it once (only its hash is kept).
    Create {
        #[command(flatten)]
        config: ConfigArg,
        /// viewer (read), operator (also act on flows) or admin.
        #[arg(long, value_parser = ["viewer", "operator", "admin"])]
        role: String,
        /// A name to list and revoke it by (default ROLE-N).
        #[arg(long)]
        name: Option<String>,
    },
    /// The tokens: name, role, created, revoked (never the tokens).
    List {
        #[command(flatten)]
        config: ConfigArg,
        /// JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Revoke the token NAME: requests with it are refused at once.
    Revoke {
        #[command(flatten)]
        config: ConfigArg,
        name: String,
    },
}

pub fn api_token(args: ApiTokenArgs) -> anyhow::Result<ExitCode> {
    let now = jiff::Timestamp::now();
    match args.command {
        ApiTokenCommand::Create { config, role, name } => {
            let store = tokens(&config)?;
            let role = Role::parse(&role).context("unknown role")?;
            let (token, record) = store.create(role, name.as_deref(), now)?;
            eprintln!(
                "Created API token `{}` ({}); it is shown once, only its hash is kept in {}:",
                record.name,
                record.role,
                store.path().display()
            );
            println!("{token}");
        }
        ApiTokenCommand::List { config, json } => {
            let store = tokens(&config)?;
            let list = store.list()?;
            if json {
                let v: Vec<_> = list
                    .iter()
                    .map(|t| {
                        serde_json::json!({
                            "name": t.name, "role": t.role.as_str(),
                            "created_at": t.created_at.to_string(),
                            "revoked_at": t.revoked_at.map(|r| r.to_string()),
                        })
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else if list.is_empty() {
                eprintln!("No API tokens (hrsync api-token create --role viewer).");
            } else {
                println!("{:<24} {:<9} {:<26} REVOKED", "NAME", "ROLE", "CREATED");
                for t in &list {
                    println!(
                        "{:<24} {:<9} {:<26} {}",
                        hrsync_display::escape(&t.name),
                        t.role.as_str(),
                        t.created_at.to_string(),
                        t.revoked_at.map_or_else(|| "-".to_owned(), |r| r.to_string())
                    );
                }
            }
        }
        ApiTokenCommand::Revoke { config, name } => {
            let store = tokens(&config)?;
            let record = store.revoke(&name, now)?;
            eprintln!("Revoked API token `{}` ({}).", record.name, record.role);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The token file beside the config's state file. The config is read
/// without its secrets: tokens need only the state's path.
fn tokens(config: &ConfigArg) -> anyhow::Result<TokenStore> {
    let config = super::app::load_local(config)?;
    Ok(TokenStore::beside(&config.state.path))
}
