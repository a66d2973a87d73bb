//! hrsync's HTTP API, served by `hrsync run` when the config has `[api]`.
//!
//! Routes (all JSON; errors are `{"error":{"code","message"}}`):
//! - `GET /healthz`: the process is up. No auth.
//! - `GET /readyz`: every flow's state store answers and the runner runs
//!   (503 otherwise). No auth.
//! - `GET /metrics`: Prometheus text; open unless `metrics_token_required`
//!   (then any API token).
//! - `GET /api/v1/flows`, `/api/v1/cycles?flow=&limit=`,
//!   `/api/v1/cycles/{id}`, `/api/v1/log?person=&action=&status=&cycle=&from=&to=&q=&limit=&cursor=`:
//!   a viewer token or better.
//! - `GET /api/v1/escrow?flow=` (viewer); `POST /api/v1/flows/{flow}/pause`,
//!   `/resume`, `POST /api/v1/escrow/{flow}/{person}/retry`,
//!   `DELETE /api/v1/escrow/{flow}/{person}` (operator or admin).
//! - `GET /api/v1/openapi.json`: the OpenAPI document, written from the
//!   route table the router is built from (`table.rs`).
//!
//! Invariants:
//! - Every route but `/healthz`, `/readyz` (and `/metrics` unless asked)
//!   wants `Authorization: Bearer <token>`; tokens are checked against the
//!   hashes of [`tokens::TokenStore`] at each request (so a revoke counts at
//!   once) and never logged.
//! - Bad input is a 400 with a message naming the parameter; unknown
//!   routes, flows, cycles and persons a 404; a page is at most
//!   [`MAX_LIMIT`] items. Handlers return errors, never panic.
//! - State store reads run on the blocking pool, so a slow disk never
//!   stalls the runner's tasks on the same runtime.
//! - `hrsync_http_requests_total` is labelled by route template (never the
//!   raw path), so its cardinality is bounded by the route table.

mod api;
pub mod error;
mod metrics_http;
mod table;
mod tls;
pub mod tokens;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use axum::Router;
use hrsync_runner::RunnerHandle;
use hrsync_store::History;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

pub use api::MAX_LIMIT;
pub use error::ApiError;
/// The OpenAPI document served at `/api/v1/openapi.json`.
pub use table::openapi;
pub use tokens::{Role, TokenError, TokenRecord, TokenStore};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("API: listening on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("API TLS: {0}")]
    Tls(String),
    #[error("API: serving: {0}")]
    Serve(#[source] std::io::Error),
    #[error("API metrics: {0}")]
    Metrics(String),
}

/// Where and how to serve.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    pub listen: SocketAddr,
    /// Certificate chain and key (PEM): serve HTTPS.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// `/metrics` wants an API token.
    pub metrics_token_required: bool,
}

/// One flow as the API reads it.
pub struct FlowSource {
    pub name: String,
    /// Its state, read-only.
    pub history: Arc<dyn History>,
    /// The source scope whose watermark is the flow's.
    pub watermark_scope: String,
}

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    flows: Vec<FlowSource>,
    runner: RunnerHandle,
    tokens: TokenStore,
    metrics: PrometheusHandle,
    metrics_token_required: bool,
}

impl AppState {
    pub fn new(
        flows: Vec<FlowSource>,
        runner: RunnerHandle,
        tokens: TokenStore,
        metrics: PrometheusHandle,
        metrics_token_required: bool,
    ) -> AppState {
        let names: Vec<&str> = flows.iter().map(|f| f.name.as_str()).collect();
        hrsync_runner::metric::describe(&names);
        metrics_http::describe();
        AppState {
            inner: Arc::new(Inner { flows, runner, tokens, metrics, metrics_token_required }),
        }
    }

    fn flow(&self, name: &str) -> Option<&FlowSource> {
        self.inner.flows.iter().find(|f| f.name == name)
    }
}

/// The process-wide Prometheus recorder, installed at the first call (the
/// `metrics` facade has one global recorder; the runner's counters go to
/// it too).
pub fn metrics_recorder() -> Result<PrometheusHandle, ServerError> {
    static HANDLE: OnceLock<Result<PrometheusHandle, String>> = OnceLock::new();
    HANDLE
        .get_or_init(|| PrometheusBuilder::new().install_recorder().map_err(|e| e.to_string()))
        .clone()
        .map_err(ServerError::Metrics)
}

/// The routes, with request metrics.
pub fn router(state: AppState) -> Router {
    api::routes().layer(axum::middleware::from_fn(metrics_http::track)).with_state(state)
}

/// A bound server; [`Server::run`] serves until `shutdown` resolves.
pub struct Server {
    listener: tokio::net::TcpListener,
    tls: Option<rustls::ServerConfig>,
    app: Router,
}

impl Server {
    /// Bind and load the TLS files now, so that `hrsync run` fails at start
    /// (not later) when the port is taken or a file is bad.
    pub async fn bind(options: &ServerOptions, state: AppState) -> Result<Server, ServerError> {
        let tls = match &options.tls {
            Some((cert, key)) => Some(tls::server_config(cert, key)?),
            None => None,
        };
        let listener = tokio::net::TcpListener::bind(options.listen)
            .await
            .map_err(|source| ServerError::Bind { addr: options.listen, source })?;
        Ok(Server { listener, tls, app: router(state) })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    pub async fn run(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServerError> {
        let addr = self.local_addr().map_err(ServerError::Serve)?;
        match self.tls {
            Some(config) => {
                tracing::info!(%addr, "API listening (HTTPS).");
                let listener =
                    tls::TlsListener::new(self.listener, config).map_err(ServerError::Serve)?;
                axum::serve(listener, self.app)
                    .with_graceful_shutdown(shutdown)
                    .await
                    .map_err(ServerError::Serve)
            }
            None => {
                tracing::info!(%addr, "API listening (HTTP).");
                axum::serve(self.listener, self.app)
                    .with_graceful_shutdown(shutdown)
                    .await
                    .map_err(ServerError::Serve)
            }
        }
    }
}
