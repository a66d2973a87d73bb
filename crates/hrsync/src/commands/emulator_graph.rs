//! `hrsync emulator-graph`: serve the Microsoft Graph test double
//! (`crates/graph-emulator`) until Ctrl-C or SIGTERM. A test double, not
//! Microsoft Graph: it enforces the documented rules hrsync's Graph target
//! must meet, nothing more.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use graph_emulator::server::GraphEmulator;

const LONG_HELP: &str = "Serves a test double of Microsoft Graph v1.0 users and of the Entra \
token endpoint: a stand-in for tests and trials, not Microsoft Graph. It enforces Graph's \
documented rules: the properties a create requires (accountEnabled, displayName, \
mailNickname, userPrincipalName, passwordProfile), property names and types from Graph's \
published v1.0 user metadata, userPrincipalName characters and verified domains, \
mailNickname characters, employeeId of at most 16 characters, $filter on employeeId, \
manager $ref, $batch of at most 20 requests with dependsOn and 424, and with \
--write-limit a sliding-window write budget answered by 429 with Retry-After.

Routes: /v1.0/users, /v1.0/users/{id}, /v1.0/users/{id}/manager/$ref, /v1.0/$batch; \
token endpoint POST /{tenant}/oauth2/v2.0/token (client credentials, any tenant id); \
admin (no auth): GET /_emulator/users, GET /_emulator/stats, POST /_emulator/faults.

Without --app-certificate or --app-secret, /v1.0 needs no bearer token; with any app \
registered, every /v1.0 request needs a token the token endpoint issued.";

/// Serve the Microsoft Graph test double (users, $batch, token endpoint).
#[derive(Debug, clap::Args)]
#[command(long_about = LONG_HELP)]
pub struct EmulatorGraphArgs {
    /// Address to listen on (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:8444")]
    pub listen: SocketAddr,
    /// A verified domain userPrincipalNames may use (repeatable; default contoso.example).
    #[arg(long = "domain", value_name = "DOMAIN")]
    pub domains: Vec<String>,
    /// Refuse (429, Retry-After) a write beyond N writes per --write-window-secs (default: no limit).
    #[arg(long, value_name = "N")]
    pub write_limit: Option<usize>,
    /// Length of the sliding window of --write-limit, in seconds (Graph's is 150).
    #[arg(long, value_name = "S", default_value_t = 150)]
    pub write_window_secs: u64,
    /// An app that signs client assertions with the key of this certificate (repeatable).
    #[arg(long = "app-certificate", value_name = "CLIENT_ID=PEM_PATH")]
    pub app_certificates: Vec<String>,
    /// An app whose client secret is read from the environment variable ENV_VAR_NAME (repeatable).
    #[arg(long = "app-secret", value_name = "CLIENT_ID=ENV_VAR_NAME")]
    pub app_secrets: Vec<String>,
    /// Lifetime of the access tokens the token endpoint issues, in seconds.
    #[arg(long, value_name = "S", default_value_t = 3600)]
    pub token_lifetime_secs: u64,
}

/// `CLIENT_ID=VALUE`, both non-empty.
fn split_pair<'a>(flag: &str, given: &'a str, what: &str) -> anyhow::Result<(&'a str, &'a str)> {
    match given.split_once('=') {
        Some((id, value)) if !id.trim().is_empty() && !value.trim().is_empty() => {
            Ok((id.trim(), value.trim()))
        }
        _ => anyhow::bail!("{flag} {given:?}: expected CLIENT_ID={what}"),
    }
}

/// An app the double will accept. No `Debug`: it holds the secret; the
/// banner names it by [`App::describe`], never showing the secret.
enum App {
    Certificate { client_id: String, pem: String, path: PathBuf },
    Secret { client_id: String, secret: String, env: String },
}

impl App {
    fn client_id(&self) -> &str {
        match self {
            App::Certificate { client_id, .. } | App::Secret { client_id, .. } => client_id,
        }
    }
    fn describe(&self) -> String {
        match self {
            App::Certificate { client_id, path, .. } => {
                format!("{client_id} (certificate {})", path.display())
            }
            App::Secret { client_id, env, .. } => format!("{client_id} (secret from ${env})"),
        }
    }
}

/// Reads the apps' certificates and secrets; every problem names its flag.
fn apps(
    args: &EmulatorGraphArgs,
    env: &dyn Fn(&str) -> Option<String>,
) -> anyhow::Result<Vec<App>> {
    let mut out: Vec<App> = Vec::new();
    for given in &args.app_certificates {
        let (id, path) = split_pair("--app-certificate", given, "PEM_PATH")?;
        let path = PathBuf::from(path);
        let pem = std::fs::read_to_string(&path).with_context(|| {
            format!("--app-certificate {id}: cannot read the certificate {}", path.display())
        })?;
        if !pem.contains("-----BEGIN CERTIFICATE-----") {
            anyhow::bail!(
                "--app-certificate {id}: {} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
                path.display()
            );
        }
        out.push(App::Certificate { client_id: id.to_owned(), pem, path });
    }
    for given in &args.app_secrets {
        let (id, var) = split_pair("--app-secret", given, "ENV_VAR_NAME")?;
        let secret = env(var).filter(|s| !s.is_empty()).with_context(|| {
            format!("--app-secret {id}: the environment variable {var} is not set or empty")
        })?;
        out.push(App::Secret { client_id: id.to_owned(), secret, env: var.to_owned() });
    }
    let mut ids: Vec<&str> = out.iter().map(App::client_id).collect();
    ids.sort_unstable();
    if let Some(w) = ids.windows(2).find(|w| w[0] == w[1]) {
        anyhow::bail!("app {} is registered twice", w[0]);
    }
    Ok(out)
}

/// Refuses settings the double would take in a surprising way.
fn check(args: &EmulatorGraphArgs) -> anyhow::Result<()> {
    if args.write_limit == Some(0) {
        anyhow::bail!("--write-limit 0: give at least 1 write per window (or leave it off)");
    }
    if args.write_window_secs == 0 {
        anyhow::bail!("--write-window-secs 0: the window must be at least 1 second");
    }
    if args.token_lifetime_secs == 0 {
        anyhow::bail!("--token-lifetime-secs 0: tokens must live at least 1 second");
    }
    if let Some(d) = args.domains.iter().find(|d| d.trim().is_empty() || d.contains('@')) {
        anyhow::bail!("--domain {d:?}: not a domain name");
    }
    Ok(())
}

/// The start-up banner: where the double is, its token URL, what it enforces.
fn banner(args: &EmulatorGraphArgs, base: &str, apps: &[App]) -> Vec<String> {
    let domains = if args.domains.is_empty() {
        "contoso.example".to_owned()
    } else {
        args.domains.join(", ")
    };
    let limit = match args.write_limit {
        Some(n) => {
            format!("{n} writes per {} s, then 429 with Retry-After", args.write_window_secs)
        }
        None => "none".to_owned(),
    };
    let auth = if apps.is_empty() {
        "none (no app registered: /v1.0 needs no bearer token)".to_owned()
    } else {
        let names: Vec<String> = apps.iter().map(App::describe).collect();
        format!("bearer token required; apps: {}", names.join(", "))
    };
    vec![
        format!("Microsoft Graph test double (not Microsoft Graph) at {base}/v1.0/"),
        format!(
            "token: {base}/{{tenant}}/oauth2/v2.0/token  (any tenant id, e.g. {base}/contoso/oauth2/v2.0/token)"
        ),
        format!("verified domains: {domains}"),
        format!("write limit: {limit}"),
        format!("auth: {auth}"),
        format!("admin: {base}/_emulator/stats   (Ctrl-C to stop)"),
    ]
}

/// A warning when the double accepts writes from anyone who can reach it.
fn exposure_warning(args: &EmulatorGraphArgs, apps: &[App]) -> Option<String> {
    (!args.listen.ip().is_loopback() && apps.is_empty()).then(|| {
        format!(
            "warning: listening on {} (reachable from other machines) with no app registered; \
anyone who can reach this port can create, change and delete users. \
Register an app (--app-certificate or --app-secret), or listen on 127.0.0.1.",
            args.listen
        )
    })
}

/// Starts the double and serves until Ctrl-C or SIGTERM.
pub fn run(args: EmulatorGraphArgs) -> anyhow::Result<ExitCode> {
    check(&args)?;
    let apps = apps(&args, &|name| std::env::var(name).ok())?;
    let mut builder = GraphEmulator::new(args.listen)
        .token_lifetime(Duration::from_secs(args.token_lifetime_secs));
    for d in &args.domains {
        builder = builder.domain(d.trim());
    }
    if let Some(n) = args.write_limit {
        builder = builder.write_limit(n, Duration::from_secs(args.write_window_secs));
    }
    for app in &apps {
        builder = match app {
            App::Certificate { client_id, pem, .. } => {
                builder.app_with_certificate(client_id.clone(), pem.clone())
            }
            App::Secret { client_id, secret, .. } => {
                builder.app_with_secret(client_id.clone(), secret.clone())
            }
        };
    }
    if let Some(w) = exposure_warning(&args, &apps) {
        eprintln!("{w}");
        tracing::warn!(message = "Graph test double reachable beyond loopback without auth.", listen = %args.listen);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let graph = builder.start().await.context("starting the Graph test double")?;
        for line in banner(&args, &graph.base_url(), &apps) {
            eprintln!("{line}");
        }
        super::emulator::shutdown_signal().await;
        eprintln!("stopping");
        graph.shutdown().await;
        Ok(ExitCode::SUCCESS)
    })
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        args: EmulatorGraphArgs,
    }

    fn parse(argv: &[&str]) -> EmulatorGraphArgs {
        let mut all = vec!["emulator-graph"];
        all.extend_from_slice(argv);
        match Cli::try_parse_from(all) {
            Ok(c) => c.args,
            Err(e) => panic!("{argv:?}: {e}"),
        }
    }

    #[test]
    fn defaults() {
        let a = parse(&[]);
        assert_eq!(a.listen.to_string(), "127.0.0.1:8444");
        assert!(a.domains.is_empty() && a.app_certificates.is_empty() && a.app_secrets.is_empty());
        assert_eq!((a.write_limit, a.write_window_secs, a.token_lifetime_secs), (None, 150, 3600));
        assert!(check(&a).is_ok());
    }

    #[test]
    fn secrets_come_from_the_environment_and_are_never_shown() {
        let a = parse(&["--app-secret", "app-1=MY_SECRET", "--domain", "contoso.com"]);
        let env = |name: &str| (name == "MY_SECRET").then(|| "s3cr3t-value".to_owned());
        let apps = apps(&a, &env).map_err(|e| e.to_string());
        let apps = match apps {
            Ok(a) => a,
            Err(e) => panic!("{e}"),
        };
        let text = banner(&a, "http://127.0.0.1:1", &apps).join("\n");
        assert!(text.contains("app-1 (secret from $MY_SECRET)"), "{text}");
        assert!(text.contains("verified domains: contoso.com"), "{text}");
        assert!(!text.contains("s3cr3t"), "{text}");
        let e = super::apps(&a, &|_| None).map(|_| ()).map_err(|e| e.to_string());
        assert_eq!(
            e,
            Err("--app-secret app-1: the environment variable MY_SECRET is not set or empty".into())
        );
    }

    #[test]
    fn bad_flags_are_named() {
        for (argv, want) in [
            (
                vec!["--app-secret", "no-equals"],
                "--app-secret \"no-equals\": expected CLIENT_ID=ENV_VAR_NAME",
            ),
            (vec!["--app-certificate", "=x.pem"], "expected CLIENT_ID=PEM_PATH"),
            (vec!["--app-certificate", "a=/nonexistent/x.pem"], "cannot read the certificate"),
        ] {
            let a = parse(&argv);
            let e = apps(&a, &|_| Some("x".into())).map(|_| ()).map_err(|e| format!("{e:#}"));
            assert!(e.as_ref().is_err_and(|m| m.contains(want)), "{argv:?}: {e:?}");
        }
        let twice = parse(&["--app-secret", "a=X", "--app-secret", "a=Y"]);
        assert!(apps(&twice, &|_| Some("x".into())).is_err());
        for argv in [
            vec!["--write-limit", "0"],
            vec!["--write-window-secs", "0"],
            vec!["--token-lifetime-secs", "0"],
            vec!["--domain", "a@b"],
        ] {
            assert!(check(&parse(&argv)).is_err(), "{argv:?}");
        }
    }

    #[test]
    fn open_to_the_network_without_auth_warns() {
        assert!(exposure_warning(&parse(&["--listen", "0.0.0.0:1"]), &[]).is_some());
        assert!(exposure_warning(&parse(&["--listen", "127.0.0.1:1"]), &[]).is_none());
        let app = App::Secret { client_id: "a".into(), secret: "s".into(), env: "E".into() };
        assert!(exposure_warning(&parse(&["--listen", "0.0.0.0:1"]), &[app]).is_none());
    }
}
