//! `hrsync emulator`: serve the built-in SuccessFactors Employee Central
//! OData v2 emulator until Ctrl-C or SIGTERM.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::LazyLock;
use std::time::Duration;

use anyhow::Context;
use sf_emulator::faults::FaultSpec;
use sf_emulator::{DEFAULT_COMPANY_ID, DEFAULT_PASSWORD, DEFAULT_USERNAME, Emulator};

static LONG_HELP: LazyLock<String> = LazyLock::new(|| {
    format!(
        "Serves a deterministic SuccessFactors Employee Central tenant over OData v2 at \
http://ADDR/odata/v2/ (PerPerson with $filter/$select/$expand, $count, $metadata, paging \
with $skiptoken and paging=snapshot, asOfDate/fromDate/toDate, Picklist, upsert for \
PerEmail/PerPhone/User) with HTTP Basic auth as USERNAME@COMPANY_ID.

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
#[derive(Debug, clap::Args)]
#[command(long_about = LONG_HELP.as_str())]
pub struct EmulatorArgs {
    /// Number of workers (persons) to generate; 100,000 is supported.
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
    /// API password accepted by Basic auth.
    #[arg(long, default_value = DEFAULT_PASSWORD)]
    pub password: String,
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
}

/// Starts the emulator and serves until Ctrl-C or SIGTERM.
pub fn run(args: EmulatorArgs) -> anyhow::Result<ExitCode> {
    let faults: FaultSpec = match &args.faults {
        Some(spec) => spec.parse().context("--faults")?,
        None => FaultSpec::default(),
    };
    let mut builder = Emulator::builder()
        .workers(args.workers)
        .seed(args.seed)
        .listen(args.listen)
        .credentials(&args.company_id, &args.username, &args.password)
        .faults(faults)
        .latency(Duration::from_millis(args.latency_ms))
        .retry_after_secs(args.retry_after_secs);
    if let Some(now) = &args.now {
        let ts: jiff::Timestamp =
            now.parse().with_context(|| format!("--now {now}: not an RFC 3339 instant"))?;
        builder = builder.now_ms(ts.as_millisecond());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let emulator = builder.start().await.context("starting the emulator")?;
        let base = emulator.base_url();
        eprintln!("SuccessFactors emulator: {} workers (seed {}) at {base}/odata/v2/", args.workers, args.seed);
        eprintln!(
            "try: curl -u '{}@{}:{}' '{base}/odata/v2/PerPerson?$format=json&customPageSize=2&$expand=employmentNav/jobInfoNav'",
            args.username, args.company_id, args.password
        );
        eprintln!("admin: {base}/_emulator/scenarios   (Ctrl-C to stop)");
        shutdown_signal().await;
        eprintln!("stopping");
        emulator.shutdown().await;
        Ok(ExitCode::SUCCESS)
    })
}

async fn shutdown_signal() {
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
