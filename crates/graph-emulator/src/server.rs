//! The test double's HTTP server: start, base URL, in-memory tenant,
//! shutdown, the `/v1.0/users` routes of [`crate::users`] and the write
//! limit, faults and stats of [`crate::throttle`], and the token endpoint
//! and bearer check of [`crate::auth`]. Every other
//! path answers Graph's 404 error shape so a client pointed at it fails
//! loudly rather than seeing a success this double does not implement.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

/// Errors starting the double.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("bind {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("local address: {0}")]
    LocalAddr(std::io::Error),
    #[error("app certificate: {0}")]
    Certificate(String),
    #[error("token-signing key: {0}")]
    Key(String),
    #[error("user schema: {0}")]
    Schema(#[from] crate::schema::SchemaError),
}

/// The in-memory tenant: users by object id, each user's manager (user id
/// to manager id) and the verified domains a userPrincipalName may use.
#[derive(Debug, Clone)]
pub struct Tenant {
    pub users: BTreeMap<String, serde_json::Value>,
    pub managers: BTreeMap<String, String>,
    pub verified_domains: Vec<String>,
    /// Lower-cased value -> ids of the filterable properties, kept in step
    /// with `users` by the routes of [`crate::users`].
    pub(crate) index: crate::users::UserIndex,
}

impl Default for Tenant {
    fn default() -> Self {
        Tenant {
            users: BTreeMap::new(),
            managers: BTreeMap::new(),
            verified_domains: vec!["contoso.example".to_owned()],
            index: crate::users::UserIndex::default(),
        }
    }
}

/// Configuration of the Graph test double; [`GraphEmulator::start`] serves it.
#[derive(Debug, Clone)]
pub struct GraphEmulator {
    listen: SocketAddr,
    domains: Vec<String>,
    write_limit: Option<(usize, std::time::Duration)>,
    apps: Vec<(String, AppCredential)>,
    token_lifetime: std::time::Duration,
}

#[derive(Debug, Clone)]
enum AppCredential {
    CertPem(String),
    Secret(String),
    Federation { issuer: String, subject: String, audience: String, keys: String },
}

impl GraphEmulator {
    /// A double that will listen on `listen` (`127.0.0.1:0` picks a port).
    pub fn new(listen: SocketAddr) -> Self {
        GraphEmulator {
            listen,
            domains: Vec::new(),
            write_limit: None,
            apps: Vec::new(),
            token_lifetime: std::time::Duration::from_secs(3600),
        }
    }

    /// Adds a verified domain; without any, the tenant has `contoso.example`.
    pub fn domain(mut self, domain: impl Into<String>) -> Self {
        self.domains.push(domain.into());
        self
    }

    /// Refuses (429, `Retry-After`) a write that would make more than
    /// `writes` writes within the sliding `window`; without it, no limit.
    /// A `writes` of 0 is taken as 1. See [`crate::throttle`].
    pub fn write_limit(mut self, writes: usize, window: std::time::Duration) -> Self {
        self.write_limit = Some((writes, window));
        self
    }

    /// Registers an app that authenticates with a client assertion signed
    /// by the key of `cert_pem` (RS256 or PS256). Once any app is
    /// registered, `/v1.0` requires a bearer token from the token endpoint.
    pub fn app_with_certificate(
        mut self,
        client_id: impl Into<String>,
        cert_pem: impl Into<String>,
    ) -> Self {
        self.apps.push((client_id.into(), AppCredential::CertPem(cert_pem.into())));
        self
    }

    /// Registers an app that authenticates with `client_secret`.
    pub fn app_with_secret(
        mut self,
        client_id: impl Into<String>,
        secret: impl Into<String>,
    ) -> Self {
        self.apps.push((client_id.into(), AppCredential::Secret(secret.into())));
        self
    }

    /// Registers an app with one federated identity credential: a token from
    /// `issuer` for `subject` with `audience` (Entra's default is
    /// `api://AzureADTokenExchange`), signed by a key of `keys` (a JWKS
    /// document, such as `hrsync keys generate`'s `jwks.json`, or a PEM
    /// public key or certificate), is accepted as the client assertion.
    pub fn app_with_federation(
        mut self,
        client_id: impl Into<String>,
        issuer: impl Into<String>,
        subject: impl Into<String>,
        audience: impl Into<String>,
        keys: impl Into<String>,
    ) -> Self {
        self.apps.push((
            client_id.into(),
            AppCredential::Federation {
                issuer: issuer.into(),
                subject: subject.into(),
                audience: audience.into(),
                keys: keys.into(),
            },
        ));
        self
    }

    /// Lifetime of issued access tokens (default 3600 s).
    pub fn token_lifetime(mut self, lifetime: std::time::Duration) -> Self {
        self.token_lifetime = lifetime;
        self
    }

    /// Binds and serves in the background.
    pub async fn start(self) -> Result<RunningGraph, ServerError> {
        let mut tenant = Tenant::default();
        if !self.domains.is_empty() {
            tenant.verified_domains = self.domains.clone();
        }
        let mut apps = BTreeMap::new();
        for (id, cred) in &self.apps {
            let cred = match cred {
                AppCredential::Secret(s) => crate::auth::Credential::Secret(s.clone()),
                AppCredential::CertPem(pem) => {
                    crate::auth::cert_credential(pem).map_err(ServerError::Certificate)?
                }
                AppCredential::Federation { issuer, subject, audience, keys } => {
                    crate::auth::Credential::Federation {
                        issuer: issuer.clone(),
                        subject: subject.clone(),
                        audience: audience.clone(),
                        keys: crate::auth::federation_keys(keys)
                            .map_err(ServerError::Certificate)?,
                    }
                }
            };
            apps.insert(id.clone(), cred);
        }
        let tenant = Arc::new(Mutex::new(tenant));
        let listener = tokio::net::TcpListener::bind(self.listen)
            .await
            .map_err(|source| ServerError::Bind { addr: self.listen, source })?;
        let addr = listener.local_addr().map_err(ServerError::LocalAddr)?;
        let shared = Arc::new(crate::users::Shared {
            tenant: Arc::clone(&tenant),
            schema: crate::schema::Schema::embedded()?,
            base_url: format!("http://{addr}"),
        });
        let control = Arc::new(crate::throttle::Control::new(self.write_limit));
        let auth = Arc::new(crate::auth::Auth {
            apps,
            lifetime: self.token_lifetime,
            base_url: format!("http://{addr}"),
            tokens: Mutex::new(std::collections::HashMap::new()),
            issued: Arc::clone(&control.tokens_issued),
            key: crate::issuer::IssuerKey::generate().map_err(ServerError::Key)?,
        });
        let token_routes = axum::Router::new()
            .route("/{tenant}/oauth2/v2.0/token", axum::routing::post(crate::auth::token))
            .route(
                "/{tenant}/v2.0/.well-known/openid-configuration",
                axum::routing::get(crate::auth::openid_configuration),
            )
            .route("/{tenant}/discovery/v2.0/keys", axum::routing::get(crate::auth::keys))
            .with_state(Arc::clone(&auth));
        let app = crate::users::routes(shared, control)
            .merge(token_routes)
            .layer(axum::middleware::from_fn_with_state(auth, crate::auth::bearer));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = rx.await;
            });
            // A serve error ends the task; the test sees connection errors.
            let _ = serve.await;
        });
        Ok(RunningGraph { tenant, addr, shutdown: Some(tx), task })
    }
}

/// A serving double. Dropping it stops serving.
#[derive(Debug)]
pub struct RunningGraph {
    tenant: Arc<Mutex<Tenant>>,
    addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl RunningGraph {
    /// `http://127.0.0.1:PORT` (Graph's v1.0 root will be `{base_url}/v1.0`).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
    /// The issuer of access tokens for `tenant` (`{base_url}/{tenant}/v2.0`).
    pub fn issuer(&self, tenant: &str) -> String {
        crate::issuer::issuer(&self.base_url(), tenant)
    }
    /// The JWKS URI of `tenant` (as its discovery document names it).
    pub fn jwks_uri(&self, tenant: &str) -> String {
        format!("{}/{tenant}/discovery/v2.0/keys", self.base_url())
    }
    /// A copy of the tenant for inspection.
    pub fn tenant(&self) -> Tenant {
        match self.tenant.lock() {
            Ok(t) => t.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
    /// Stops serving and waits for the server task.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.task).await;
    }
}

impl Drop for RunningGraph {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
