//! `hrsync emulator`: serve the built-in SuccessFactors Employee Central
//! OData v2 emulator until Ctrl-C or SIGTERM.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::LazyLock;
use std::time::Duration;

use anyhow::Context;
use sf_emulator::faults::FaultSpec;
use sf_emulator::{DEFAULT_COMPANY_ID, DEFAULT_PASSWORD, DEFAULT_USERNAME, Emulator, MAX_WORKERS};

static LONG_HELP: LazyLock<String> = LazyLock::new(|| {
    format!(
        "Serves a deterministic SuccessFactors Employee Central tenant over OData v2 at \
http://ADDR/odata/v2/ (PerPerson with $filter/$select/$expand, $count, $metadata, paging \
with $skiptoken and paging=snapshot, asOfDate/fromDate/toDate, navigation by path, Picklist, \
upsert for PerEmail/PerPhone/User in JSON or Atom, at most 1,000 records) with HTTP Basic \
auth as USERNAME@COMPANY_ID. As SuccessFactors does, it answers Atom XML unless asked for \
JSON ($format=json or Accept: application/json), and links name the Host the client called.

Admin API (no SuccessFactors auth, loopback clients only), under /_emulator/:
  POST   /_emulator/events         one HR event or a list, e.g.
         {{\"type\":\"terminate\",\"personIdExternal\":\"100042\",\"lastDay\":\"2025-03-31\"}}
         types: hire, pre_hire, terminate, rehire, convert, transfer, leave, name_change,
         future_dated_change, email_change, phone_change
  GET    /_emulator/clock          the emulator's now; POST {{\"set\":\"RFC3339\"}} or {{\"advance\":\"P1D\"|seconds}}
  GET    /_emulator/requests       request log (method, URL, status, duration, user); DELETE clears it
  GET    /_emulator/workers/ID     raw model of one person
  GET    /_emulator/scenarios      personIdExternal per seeded scenario

Population mix (per worker, seeded; the first 1% are always active managers):
{}
--faults grammar: comma-separated KIND@RATE with RATE in 0..1; kinds: latency=DURATION
(e.g. latency=200ms@0.1), 429 (Too Many Requests with Retry-After), 503, drop (connection
closed without a response), truncate (200 whose JSON body is cut in half). Example:
  --faults 'latency=200ms@0.1,429@0.05,503@0.02,drop@0.01,truncate@0.01'
SuccessFactors itself answers 429 with Retry-After: 300; --retry-after-secs defaults to that.",
        sf_emulator::generate::mix_table()
    )
});

/// Run the built-in SuccessFactors Employee Central OData v2 emulator.
#[derive(clap::Args)]
#[command(long_about = LONG_HELP.as_str())]
pub struct EmulatorArgs {
    /// Number of workers (persons) to generate; 100,000 is supported, 1,000,000 at most.
    #[arg(long, default_value_t = 1000)]
    pub workers: usize,
    /// Seed of the population and of injected faults.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Company id accepted in the Basic user name (USERNAME@COMPANY_ID).
    #[arg(long, default_value = DEFAULT_COMPANY_ID)]
    pub company_id: String,
    /// API user name accepted by Basic auth.
    #[arg(long, default_value = DEFAULT_USERNAME)]
    pub username: String,
    /// API password accepted by Basic auth (default: the well-known
    /// `hrsync-emulator`). Also read from HRSYNC_EMULATOR_PASSWORD, which keeps
    /// it out of the process list. Never printed.
    #[arg(long, env = "HRSYNC_EMULATOR_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
    /// Fixed latency added to every OData request, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Injected faults, e.g. 'latency=200ms@0.1,429@0.05,503@0.02,drop@0.01,truncate@0.01'.
    #[arg(long)]
    pub faults: Option<String>,
    /// Retry-After seconds on injected 429 responses.
    #[arg(long, default_value_t = 300)]
    pub retry_after_secs: u64,
    /// Pin the emulator's start time (RFC 3339, e.g. 2025-03-01T09:00:00Z) for reproducible data.
    #[arg(long)]
    pub now: Option<String>,
    /// Run the tenant's clock this many seconds ahead of real time (or of
    /// --now); negative: behind. Its lastModifiedDateTime stamps and the
    /// Date header of every answer follow it: a tenant whose clock is off.
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    pub clock_offset_secs: i64,
}

impl std::fmt::Debug for EmulatorArgs {
    // Not derived: the password must not reach a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmulatorArgs")
            .field("workers", &self.workers)
            .field("seed", &self.seed)
            .field("listen", &self.listen)
            .field("company_id", &self.company_id)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("latency_ms", &self.latency_ms)
            .field("faults", &self.faults)
            .field("retry_after_secs", &self.retry_after_secs)
            .field("now", &self.now)
            .field("clock_offset_secs", &self.clock_offset_secs)
            .finish()
    }
}

/// Refuses a population the emulator would not generate, before any work.
fn check_workers(workers: usize) -> anyhow::Result<()> {
    if workers > MAX_WORKERS {
        anyhow::bail!(
            "--workers {workers}: the emulator generates at most {MAX_WORKERS} workers (about 4.8 KiB of memory each)"
        );
    }
    Ok(())
}

/// The start-up banner: where the service is and how to try it. The API
/// password appears only when it is the built-in, publicly documented
/// default; a password the operator chose is never printed.
fn banner(args: &EmulatorArgs, base: &str) -> Vec<String> {
    let password = match &args.password {
        None => DEFAULT_PASSWORD,
        Some(_) => "<your --password>",
    };
    vec![
        format!(
            "SuccessFactors emulator: {} workers (seed {}) at {base}/odata/v2/",
            args.workers, args.seed
        ),
        format!(
            "try: curl -u '{}@{}:{password}' '{base}/odata/v2/PerPerson?$format=json&customPageSize=2&$expand=employmentNav/jobInfoNav'",
            args.username, args.company_id
        ),
        format!("admin: {base}/_emulator/scenarios   (Ctrl-C to stop)"),
    ]
}

/// A warning when the emulator listens beyond loopback with the well-known
/// default password: anyone who can reach the port can read the whole
/// tenant and write through upsert.
fn exposure_warning(args: &EmulatorArgs) -> Option<String> {
    let default_password = args.password.as_deref().is_none_or(|p| p == DEFAULT_PASSWORD);
    (!args.listen.ip().is_loopback() && default_password).then(|| {
        format!(
            "warning: listening on {} (reachable from other machines) with the well-known default password; \
anyone who can reach this port can read every worker and write through upsert. \
Set --password (or HRSYNC_EMULATOR_PASSWORD), or listen on 127.0.0.1.",
            args.listen
        )
    })
}

/// Starts the emulator and serves until Ctrl-C or SIGTERM.
pub fn run(args: EmulatorArgs) -> anyhow::Result<ExitCode> {
    check_workers(args.workers)?;
    let faults: FaultSpec = match &args.faults {
        Some(spec) => spec.parse().context("--faults")?,
        None => FaultSpec::default(),
    };
    let password = args.password.as_deref().unwrap_or(DEFAULT_PASSWORD);
    let mut builder = Emulator::builder()
        .workers(args.workers)
        .seed(args.seed)
        .listen(args.listen)
        .credentials(&args.company_id, &args.username, password)
        .faults(faults)
        .latency(Duration::from_millis(args.latency_ms))
        .retry_after_secs(args.retry_after_secs)
        .clock_offset_ms(args.clock_offset_secs.saturating_mul(1000));
    if let Some(now) = &args.now {
        let ts: jiff::Timestamp =
            now.parse().with_context(|| format!("--now {now}: not an RFC 3339 instant"))?;
        builder = builder.now_ms(ts.as_millisecond());
    }
    if let Some(w) = exposure_warning(&args) {
        eprintln!("{w}");
        tracing::warn!(message = "Emulator reachable beyond loopback with the default password.", listen = %args.listen);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let emulator = builder.start().await.context("starting the emulator")?;
        for line in banner(&args, &emulator.base_url()) {
            eprintln!("{line}");
        }
        shutdown_signal().await;
        eprintln!("stopping");
        emulator.shutdown().await;
        Ok(ExitCode::SUCCESS)
    })
}

/// Waits for Ctrl-C or SIGTERM (also used by `hrsync emulator-graph`).
pub(crate) async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        args: EmulatorArgs,
    }

    fn parse(argv: &[&str]) -> EmulatorArgs {
        let mut all = vec!["emulator"];
        all.extend_from_slice(argv);
        match Cli::try_parse_from(all) {
            Ok(c) => c.args,
            Err(e) => panic!("{argv:?}: {e}"),
        }
    }

    #[test]
    fn banner_never_shows_a_chosen_password() {
        let base = "http://127.0.0.1:8080";
        let chosen = parse(&["--password", "s3cr3t-Pa55"]);
        let text = banner(&chosen, base).join("\n");
        assert!(!text.contains("s3cr3t-Pa55"), "{text}");
        assert!(text.contains("<your --password>"), "{text}");
        // The built-in default is public (documented), so the try-line can use it.
        let text = banner(&parse(&[]), base).join("\n");
        assert!(text.contains(&format!("sfapi@HRSYNCTEST:{DEFAULT_PASSWORD}")), "{text}");
        assert!(!format!("{chosen:?}").contains("s3cr3t"), "Debug redacts it");
    }

    #[test]
    fn listening_beyond_loopback_with_the_default_password_warns() {
        let exposed = ["0.0.0.0:8080", "[::]:8080", "192.0.2.7:8080"];
        for listen in exposed {
            assert!(exposure_warning(&parse(&["--listen", listen])).is_some(), "{listen}");
            assert!(
                exposure_warning(&parse(&["--listen", listen, "--password", DEFAULT_PASSWORD]))
                    .is_some(),
                "{listen} with the default given explicitly"
            );
            assert!(
                exposure_warning(&parse(&["--listen", listen, "--password", "other"])).is_none()
            );
        }
        for listen in ["127.0.0.1:8080", "[::1]:8080"] {
            assert!(exposure_warning(&parse(&["--listen", listen])).is_none(), "{listen}");
        }
        let w = exposure_warning(&parse(&["--listen", "0.0.0.0:9"])).unwrap_or_default();
        assert!(w.contains("0.0.0.0:9") && w.contains("--password"), "{w}");
        assert!(!w.contains(DEFAULT_PASSWORD), "the warning does not repeat the password: {w}");
    }

    #[test]
    fn workers_have_an_upper_bound() {
        assert!(check_workers(MAX_WORKERS).is_ok());
        let e = check_workers(MAX_WORKERS + 1).map(|_| ()).unwrap_err().to_string();
        assert!(e.contains("--workers 1000001") && e.contains("at most 1000000"), "{e}");
        assert!(check_workers(usize::MAX).is_err());
    }
}
