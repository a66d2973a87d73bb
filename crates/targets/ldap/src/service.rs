//! Connections: a small bounded pool of bound ldap3 connections with
//! pipelined operations, and the mapping of LDAP results to [`TargetError`].
//!
//! ldap3 has neither pool nor reconnect. Each of `pool_size` slots holds one
//! connection; an operation takes a permit (at most `pool_size ×
//! in_flight_per_connection` operations are in flight), picks a slot round
//! robin and runs on a clone of its handle, so operations on one connection
//! are pipelined. A slot whose connection closed (server restart, idle
//! timeout) is reconnected and rebound on next use; an operation that fails
//! at the transport level drops its slot's connection, and a read is then
//! retried once on a fresh connection. Writes are not retried here: the
//! server may have applied them, and the engine decides (escrow).

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use hrsync_target::TargetError;
use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, LdapError, LdapResult};
use secrecy::ExposeSecret;
use tokio::sync::{Mutex, Semaphore};

use crate::config::{BindMethod, ConfigError, LdapConfig};

pub(crate) struct Pool {
    config: Arc<LdapConfig>,
    tls: Option<Arc<rustls::ClientConfig>>,
    slots: Vec<Mutex<Option<Ldap>>>,
    next: AtomicUsize,
    permits: Semaphore,
}

/// An LDAP failure before mapping: the server's result, or the transport's;
/// or, before any operation, no bound connection at all.
#[derive(Debug)]
pub(crate) enum OpError {
    Server(LdapResult),
    Transport(String),
    /// No connection could be opened (refused, the name does not resolve,
    /// timeout, TLS or StartTLS handshake): the message names the URL.
    Connect(String),
    /// The server refused the bind (invalidCredentials and the like): the
    /// message names the bind DN and the server's answer.
    Bind(String),
}

impl From<LdapError> for OpError {
    fn from(e: LdapError) -> Self {
        match e {
            LdapError::LdapResult { result } => OpError::Server(result),
            other => OpError::Transport(other.to_string()),
        }
    }
}

/// Turn a non-success result into an error.
pub(crate) fn success(r: LdapResult) -> Result<LdapResult, OpError> {
    if r.rc == 0 { Ok(r) } else { Err(OpError::Server(r)) }
}

pub(crate) fn tls_config(
    config: &LdapConfig,
) -> Result<Option<Arc<rustls::ClientConfig>>, ConfigError> {
    let Some(path) = &config.ca_file else { return Ok(None) };
    if !config.tls_verify {
        return Ok(None);
    }
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let ca_err = |reason: String| ConfigError::CaFile { path: path.clone(), reason };
    let mut roots = rustls::RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(path).map_err(|e| ca_err(e.to_string()))?;
    for cert in certs {
        let cert = cert.map_err(|e| ca_err(e.to_string()))?;
        roots.add(cert).map_err(|e| ca_err(e.to_string()))?;
    }
    if roots.is_empty() {
        return Err(ca_err("no certificate in the file".into()));
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ca_err(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Some(Arc::new(tls)))
}

impl Pool {
    pub(crate) fn new(config: Arc<LdapConfig>) -> Result<Pool, ConfigError> {
        config.validate()?;
        let tls = tls_config(&config)?;
        let slots = (0..config.pool_size).map(|_| Mutex::new(None)).collect();
        let permits = Semaphore::new(config.pool_size * config.in_flight_per_connection);
        Ok(Pool { config, tls, slots, next: AtomicUsize::new(0), permits })
    }

    /// Open and bind a new connection.
    pub(crate) async fn connect(&self) -> Result<Ldap, OpError> {
        let c = &self.config;
        let mut settings =
            LdapConnSettings::new().set_conn_timeout(c.connect_timeout()).set_starttls(c.starttls);
        if let Some(tls) = &self.tls {
            settings = settings.set_config(tls.clone());
        }
        if !c.tls_verify {
            settings = settings.set_no_tls_verify(true);
        }
        // Failures here are the directory's, not any worker's: the engine
        // stops the cycle on them (TargetError::Unreachable).
        let (conn, mut ldap) = LdapConnAsync::with_settings(settings, &c.url)
            .await
            .map_err(|e| OpError::Connect(format!("cannot connect to {}: {e}", c.url)))?;
        let url = c.url.clone();
        tokio::spawn(async move {
            if let Err(e) = conn.drive().await {
                tracing::debug!(url, error = %e, "LDAP connection ended");
            }
        });
        ldap.with_timeout(c.operation_timeout());
        let bound = match c.bind {
            BindMethod::Simple => ldap.simple_bind(&c.bind_dn, c.password.expose_secret()).await,
            BindMethod::SaslExternal => ldap.sasl_external_bind().await,
        }
        .map_err(|e| OpError::Connect(format!("cannot bind to {}: {e}", c.url)))?;
        if bound.rc != 0 {
            let text = bound.text.trim();
            return Err(OpError::Bind(format!(
                "{} refused the bind as {:?}: {} ({}){}",
                c.url,
                c.bind_dn,
                code_name(bound.rc),
                bound.rc,
                if text.is_empty() { String::new() } else { format!(": {text}") }
            )));
        }
        tracing::debug!(url = %c.url, "LDAP connection bound");
        Ok(ldap)
    }

    /// A bound handle on the slot's connection, connecting if needed.
    async fn handle(&self, slot: usize) -> Result<Ldap, OpError> {
        let Some(m) = self.slots.get(slot) else {
            return Err(OpError::Transport(format!("no pool slot {slot}")));
        };
        let mut guard = m.lock().await;
        if let Some(l) = guard.as_mut()
            && !l.is_closed()
        {
            return Ok(l.clone());
        }
        *guard = None;
        let l = self.connect().await?;
        *guard = Some(l.clone());
        Ok(l)
    }

    async fn drop_slot(&self, slot: usize) {
        if let Some(m) = self.slots.get(slot) {
            *m.lock().await = None;
        }
    }

    /// Run `op` on a pooled connection. `retry_on_transport`: run it once
    /// more on a fresh connection if the transport failed (reads only).
    pub(crate) async fn run<T, F, Fut>(&self, retry_on_transport: bool, op: F) -> Result<T, OpError>
    where
        F: Fn(Ldap) -> Fut,
        Fut: Future<Output = Result<T, OpError>>,
    {
        let _permit =
            self.permits.acquire().await.map_err(|e| OpError::Transport(e.to_string()))?;
        let attempts = if retry_on_transport { 2 } else { 1 };
        let mut last = OpError::Transport("no attempt".into());
        for _ in 0..attempts {
            let slot = self.next.fetch_add(1, Ordering::Relaxed) % self.slots.len().max(1);
            let mut ldap = match self.handle(slot).await {
                Ok(l) => l,
                // A refused bind will not get better on a second try.
                Err(e @ (OpError::Server(_) | OpError::Bind(_))) => return Err(e),
                Err(e) => {
                    last = e;
                    continue;
                }
            };
            ldap.with_timeout(self.config.operation_timeout());
            match op(ldap).await {
                Err(OpError::Transport(msg)) => {
                    tracing::warn!(url = %self.config.url, error = %msg, "LDAP transport failure; dropping the connection");
                    self.drop_slot(slot).await;
                    last = OpError::Transport(msg);
                }
                other => return other,
            }
        }
        Err(last)
    }
}

/// The name of an LDAP result code (RFC 4511 §4.1.9).
pub(crate) fn code_name(rc: u32) -> &'static str {
    match rc {
        1 => "operationsError",
        2 => "protocolError",
        3 => "timeLimitExceeded",
        4 => "sizeLimitExceeded",
        7 => "authMethodNotSupported",
        8 => "strongerAuthRequired",
        11 => "adminLimitExceeded",
        12 => "unavailableCriticalExtension",
        13 => "confidentialityRequired",
        16 => "noSuchAttribute",
        17 => "undefinedAttributeType",
        18 => "inappropriateMatching",
        19 => "constraintViolation",
        20 => "attributeOrValueExists",
        21 => "invalidAttributeSyntax",
        32 => "noSuchObject",
        34 => "invalidDNSyntax",
        48 => "inappropriateAuthentication",
        49 => "invalidCredentials",
        50 => "insufficientAccessRights",
        51 => "busy",
        52 => "unavailable",
        53 => "unwillingToPerform",
        54 => "loopDetect",
        64 => "namingViolation",
        65 => "objectClassViolation",
        66 => "notAllowedOnNonLeaf",
        67 => "notAllowedOnRDN",
        68 => "entryAlreadyExists",
        69 => "objectClassModsProhibited",
        71 => "affectsMultipleDSAs",
        80 => "other",
        122 => "assertionFailed",
        _ => "unknown",
    }
}

/// Where an operation failed, for the error message and the error kind.
pub(crate) struct Context<'a> {
    pub operation: &'static str,
    /// The DN the operation addressed.
    pub dn: &'a str,
    /// The stable id the engine asked for, if any (for `NotFound`).
    pub id: Option<&'a str>,
}

/// Map an LDAP failure to the engine's error kinds, keeping the server's
/// code, diagnostic text and the DN in the message.
pub(crate) fn map_error(ctx: &Context<'_>, e: OpError) -> TargetError {
    let operation = ctx.operation;
    let r = match e {
        OpError::Transport(message) => {
            return TargetError::Unavailable {
                operation,
                message: format!("{message} (on {})", ctx.dn),
            };
        }
        OpError::Connect(message) | OpError::Bind(message) => {
            return TargetError::Unreachable { operation, message };
        }
        OpError::Server(r) => r,
    };
    let text = r.text.trim();
    let message = format!(
        "{} ({}) on {:?}: {}",
        code_name(r.rc),
        r.rc,
        ctx.dn,
        if text.is_empty() { "no diagnostic message" } else { text }
    );
    match r.rc {
        // AD reports a duplicate sAMAccountName as 68 and a duplicate UPN as
        // 19; both name the attribute in the diagnostic text.
        68 | 19 if in_use(text).is_some() => {
            let (attribute, value) = in_use(text).unwrap_or_default();
            TargetError::AlreadyExists { operation, attribute, value }
        }
        68 => TargetError::AlreadyExists {
            operation,
            attribute: "distinguishedName".into(),
            value: ctx.dn.to_owned(),
        },
        32 if ctx.id.is_some() => {
            TargetError::NotFound { operation, id: ctx.id.unwrap_or_default().to_owned() }
        }
        // Transient: the server or a limit may let it through later.
        3 | 51 | 52 | 80 => TargetError::Unavailable { operation, message },
        // An operation refused for how hrsync is bound: nothing will work
        // until the config changes, and no worker is at fault. (A refused
        // bind itself is OpError::Bind.)
        7 | 8 | 13 | 48 | 49 => TargetError::Unreachable { operation, message },
        _ => TargetError::Rejected { operation, message },
    }
}

/// `(attribute, value)` from AD's "samldb: samAccountName 'x' already in use"
/// and "userPrincipalName 'x' is already in use" diagnostics.
fn in_use(text: &str) -> Option<(String, String)> {
    if !text.contains("already in use") {
        return None;
    }
    let lower = text.to_ascii_lowercase();
    let attribute = if lower.contains("samaccountname") {
        "sAMAccountName"
    } else if lower.contains("userprincipalname") {
        "userPrincipalName"
    } else {
        return None;
    };
    let value = text.split('\'').nth(1).unwrap_or_default().to_owned();
    Some((attribute.to_owned(), value))
}
