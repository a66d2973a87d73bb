//! A faithful emulator of SAP SuccessFactors Employee Central's OData v2 API.
//!
//! No real tenant is reachable from our test machines, so this crate *is* our
//! SuccessFactors: every sync, writeback and auth test trusts it. It shares no
//! code with the hrsync connector, so the connector cannot agree with the
//! emulator by sharing a bug. The protocol layer (schema, query options,
//! `$filter`, JSON rendering, error bodies) lives in `sf-odata`; this crate
//! holds the HR data ([`model`], [`generate`]), HR events ([`events`]), upsert
//! ([`upsert`]) and the HTTP server ([`server`]).
//!
//! # Strict as a tenant
//!
//! Checked against SAP's own clients (pyodata, SAP Cloud SDK) and real
//! SuccessFactors material (shared/emulator-fidelity.md), the emulator
//! refuses what a tenant refuses: Atom XML unless JSON is asked for; links
//! on the request's `Host`; 400 `COE_ENTITY_NOT_FOUND` for unknown sets;
//! only the fields a tenant has ([`TenantFields`]: tenant-configured fields
//! exist only when configured); `$inlinecount` over all matches; upserts of
//! at most 1,000 records whose payload is checked against the metadata;
//! `*On` stamps in the data centre's local time ([`DataCentre`]). And it
//! accepts what real clients send: the `upsert` function import and `sap:`
//! annotations in `$metadata`, navigation by path, the service document,
//! typed key predicates, a session cookie and `X-CSRF-Token: Fetch`, Atom
//! upsert bodies. `tests/it/fidelity.rs` holds one table-driven test per
//! finding; `tests/it/odata_clients.rs` runs the two clients.
//!
//! # Population mix
//!
//! Deterministic from the seed and the clock's start day (see [`generate`] for
//! the full table): active 67%, active with a future-dated change 3%,
//! terminated 8%, terminated with `personEmpTerminationInfoNav` null 1%,
//! pre-hires 4% (user status `t` 1.5%, `f` 1%, `e` 1.5%), rehires 4%, worker
//! conversions 3%, global assignments 3%, concurrent jobs 3%, paid leave 2%,
//! unpaid leave 2%.
//!
//! # Use from tests
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use sf_emulator::{Emulator, events::HrEvent};
//! let emu = Emulator::builder().workers(500).seed(7).start().await?;
//! let url = format!("{}/odata/v2/PerPerson?$format=json", emu.base_url());
//! emu.apply(&HrEvent::Terminate { person_id_external: "100042".into(), last_day: "2025-01-31".into(), user_id: None })?;
//! emu.advance_ms(sf_emulator::time::MS_PER_DAY);
//! let log = emu.requests();
//! emu.shutdown().await;
//! # let _ = (url, log); Ok(()) }
//! ```

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

pub mod auth;
pub mod engine;
pub mod events;
pub mod faults;
pub mod generate;
pub mod model;
pub mod nodes;
pub mod oauth;
pub mod refdata;
pub mod reqlog;
pub mod server;
pub mod time;
pub mod upsert;

use auth::{Authenticator, BasicAuth};
use events::{EventError, EventOutcome, HrEvent};
use faults::{FaultSpec, Faults};
use generate::{PopulationConfig, generate};
use model::{Person, Scenario};
use reqlog::LoggedRequest;
use server::Shared;
pub use sf_odata::edm::TenantFields;
use time::Clock;
pub use time::DataCentre;

/// Default Basic credentials (`sfapi@HRSYNCTEST` / `hrsync-emulator`).
/// Well known: an emulator reachable beyond loopback with them is open to
/// anyone (the `hrsync emulator` command warns).
pub const DEFAULT_COMPANY_ID: &str = "HRSYNCTEST";
pub const DEFAULT_USERNAME: &str = "sfapi";
pub const DEFAULT_PASSWORD: &str = "hrsync-emulator";

/// The largest population the emulator generates: about 4.8 KiB per worker
/// (BENCHMARKS.md), so a million workers take some 5 GiB. Larger asks are
/// refused up front instead of running out of memory.
pub const MAX_WORKERS: usize = 1_000_000;

/// Why the emulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    #[error(
        "--workers {0} is more than the emulator generates (at most {MAX_WORKERS}, about 4.8 KiB of memory each)"
    )]
    TooManyWorkers(usize),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("generating the population failed: {0}")]
    Generate(String),
    #[error("cannot read the bound address: {0}")]
    LocalAddr(std::io::Error),
}

/// Entry point for building an emulator.
pub struct Emulator;

impl Emulator {
    /// A builder with defaults: 1,000 workers, seed 42, 127.0.0.1:0, default
    /// credentials, no faults, no latency, `Retry-After: 1`.
    pub fn builder() -> EmulatorBuilder {
        EmulatorBuilder {
            workers: 1000,
            seed: 42,
            now_ms: None,
            clock_offset_ms: 0,
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            basic: BasicAuth {
                username: DEFAULT_USERNAME.into(),
                company_id: DEFAULT_COMPANY_ID.into(),
                password: DEFAULT_PASSWORD.into(),
            },
            faults: FaultSpec::default(),
            latency: Duration::ZERO,
            retry_after_secs: 1,
            log_capacity: 10_000,
            basic_enabled: true,
            oauth: None,
            tenant_fields: TenantFields::emulator_default(),
            data_centre: DataCentre::default(),
            explicit_port: false,
        }
    }
}

/// Configuration of one emulator instance.
#[derive(Debug, Clone)]
pub struct EmulatorBuilder {
    workers: usize,
    seed: u64,
    now_ms: Option<i64>,
    clock_offset_ms: i64,
    listen: SocketAddr,
    basic: BasicAuth,
    faults: FaultSpec,
    latency: Duration,
    retry_after_secs: u64,
    log_capacity: usize,
    basic_enabled: bool,
    oauth: Option<oauth::OAuthConfig>,
    tenant_fields: TenantFields,
    data_centre: DataCentre,
    explicit_port: bool,
}

impl EmulatorBuilder {
    pub fn workers(mut self, n: usize) -> Self {
        self.workers = n;
        self
    }
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
    /// Pins the clock's start (ms since the epoch) for reproducible data.
    pub fn now_ms(mut self, ms: i64) -> Self {
        self.now_ms = Some(ms);
        self
    }
    /// Runs the tenant's clock this far (ms, signed) from the start given by
    /// [`EmulatorBuilder::now_ms`] or from real time: a tenant whose clock
    /// is ahead of (positive) or behind (negative) the client's. Its
    /// `lastModifiedDateTime` stamps and the `Date` header of every answer
    /// follow that clock.
    pub fn clock_offset_ms(mut self, ms: i64) -> Self {
        self.clock_offset_ms = ms;
        self
    }
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }
    /// Accepted Basic credentials: user name `username@company_id`.
    pub fn credentials(mut self, company_id: &str, username: &str, password: &str) -> Self {
        self.basic = BasicAuth {
            username: username.into(),
            company_id: company_id.into(),
            password: password.into(),
        };
        self
    }
    pub fn faults(mut self, spec: FaultSpec) -> Self {
        self.faults = spec;
        self
    }
    /// Fixed latency added to every OData request.
    pub fn latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }
    /// `Retry-After` of injected 429s (SuccessFactors recommends 300 s).
    pub fn retry_after_secs(mut self, secs: u64) -> Self {
        self.retry_after_secs = secs;
        self
    }
    pub fn request_log_capacity(mut self, n: usize) -> Self {
        self.log_capacity = n;
        self
    }
    /// Serves `/oauth/token` and `/oauth2/token` with this trust set-up and
    /// accepts the Bearer tokens they issue.
    pub fn oauth(mut self, config: oauth::OAuthConfig) -> Self {
        self.oauth = Some(config);
        self
    }
    /// Whether Basic authentication is accepted (default on, as sandboxes do).
    pub fn basic_auth(mut self, enabled: bool) -> Self {
        self.basic_enabled = enabled;
        self
    }
    /// The tenant-configured fields the tenant has (default:
    /// [`TenantFields::emulator_default`]); the others do not exist.
    pub fn tenant_fields(mut self, fields: TenantFields) -> Self {
        self.tenant_fields = fields;
        self
    }
    /// The data centre whose wall clock `createdOn`/`lastModifiedOn` show
    /// (default: a European one, with daylight saving).
    pub fn data_centre(mut self, dc: DataCentre) -> Self {
        self.data_centre = dc;
        self
    }
    /// Write the port into links even when the client's `Host` has none
    /// (`https://host:443/odata/v2/…`), as some tenants do (KBA-2489065).
    pub fn explicit_port(mut self, on: bool) -> Self {
        self.explicit_port = on;
        self
    }

    /// Generates the data (without serving it). Refuses a population above
    /// [`MAX_WORKERS`].
    pub fn build_shared(&self) -> Result<Shared, EmulatorError> {
        if self.workers > MAX_WORKERS {
            return Err(EmulatorError::TooManyWorkers(self.workers));
        }
        let clock = Clock::new(self.now_ms);
        if self.clock_offset_ms != 0 {
            clock.advance(self.clock_offset_ms);
        }
        let mut db = generate(&PopulationConfig {
            workers: self.workers,
            seed: self.seed,
            today: clock.today(),
        });
        db.set_schema(sf_odata::edm::schema_for(&self.tenant_fields), self.data_centre);
        clock.observe_stamp(db.max_stamp());
        let mut schemes: Vec<Box<dyn auth::AuthScheme>> = Vec::new();
        if self.basic_enabled {
            schemes.push(Box::new(self.basic.clone()));
        }
        let oauth = self.oauth.clone().map(|c| Arc::new(oauth::OAuthState::new(c)));
        if let Some(state) = &oauth {
            schemes.push(Box::new(oauth::BearerAuth(Arc::clone(state))));
        }
        let auth = Authenticator { schemes, oauth };
        let mut shared = Shared::new(
            db,
            clock,
            auth,
            Faults::new(self.faults.clone(), self.seed),
            self.latency,
            self.retry_after_secs,
            self.log_capacity,
            self.seed,
        );
        shared.explicit_port = self.explicit_port;
        Ok(shared)
    }

    /// Generates the data, binds and serves in the background.
    pub async fn start(self) -> Result<RunningEmulator, EmulatorError> {
        if self.workers > MAX_WORKERS {
            return Err(EmulatorError::TooManyWorkers(self.workers));
        }
        let builder = self.clone();
        let shared = Arc::new(
            tokio::task::spawn_blocking(move || builder.build_shared())
                .await
                .map_err(|e| EmulatorError::Generate(e.to_string()))??,
        );
        let listener = tokio::net::TcpListener::bind(self.listen)
            .await
            .map_err(|source| EmulatorError::Bind { addr: self.listen, source })?;
        let addr = listener.local_addr().map_err(EmulatorError::LocalAddr)?;
        let _ = shared.base_url.set(format!("http://{addr}"));
        if let Some(oauth) = &shared.auth.oauth {
            oauth.set_issuer_url(&format!("http://{addr}"));
        }
        let app =
            server::router(Arc::clone(&shared)).into_make_service_with_connect_info::<SocketAddr>();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = rx.await;
            });
            if let Err(e) = serve.await {
                tracing::error!(error = %e, "emulator server stopped");
            }
        });
        tracing::info!(%addr, "SuccessFactors emulator listening");
        Ok(RunningEmulator { shared, addr, shutdown: Some(tx), task })
    }
}

/// A serving emulator. Dropping it stops serving.
#[derive(Debug)]
pub struct RunningEmulator {
    shared: Arc<Shared>,
    addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl RunningEmulator {
    /// `http://127.0.0.1:PORT` (the OData service root is `{base_url}/odata/v2`).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
    /// The shared state (data, clock, log) for direct inspection.
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }
    pub fn apply(&self, event: &HrEvent) -> Result<EventOutcome, EventError> {
        self.shared.apply(event)
    }
    pub fn now_ms(&self) -> i64 {
        self.shared.clock.now_ms()
    }
    /// Sets the clock (clamped to 1900..=9999, see [`time::Clock::try_set_now`]).
    pub fn set_now_ms(&self, ms: i64) {
        self.shared.clock.set_now(ms)
    }
    /// Moves the clock (stopping at 1900 or 9999, see [`time::Clock::try_advance`]).
    pub fn advance_ms(&self, ms: i64) {
        self.shared.clock.advance(ms)
    }
    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.shared.log.entries()
    }
    pub fn clear_requests(&self) {
        self.shared.log.clear()
    }
    pub fn scenarios(&self) -> BTreeMap<Scenario, Vec<String>> {
        self.shared.scenarios()
    }
    /// The OAuth state (issued-token counter, expiry and revocation switches), when configured.
    pub fn oauth(&self) -> Option<&Arc<oauth::OAuthState>> {
        self.shared.auth.oauth.as_ref()
    }
    /// A copy of one person's raw model.
    pub fn worker(&self, person_id_external: &str) -> Option<Person> {
        self.shared.read().person(person_id_external).cloned()
    }
    /// Stops serving and waits for the server task.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.task).await;
    }
}

impl Drop for RunningEmulator {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
