//! Getting, caching and refreshing bearer tokens.
//!
//! Invariants:
//! - One refresher at a time: a tokio mutex guards the token endpoint call;
//!   callers that find a still-valid token while another task refreshes keep
//!   using it, callers without a valid token wait for that one refresh.
//! - Tokens are refreshed ahead of expiry: at `lifetime - min(lifetime/5, 60 s)`.
//! - With AT1 from Microsoft Entra ID (`type = "entra"`), AT1 and AT2 are
//!   cached apart, both refreshed by the one refresher ahead of expiry: an
//!   AT2 refresh reuses the cached AT1 until its own refresh point. IAS
//!   refusing a cached AT1 with `invalid_client_assertion` drops it and
//!   the exchange is tried once more with a new AT1.
//! - [`TokenProvider::invalidate`] drops a token only if it is still the cached
//!   one, so a burst of requests failing with the same stale token causes one
//!   refresh, not one per request.
//! - Tokens, assertions and keys are [`SecretString`]s or stay inside this
//!   module; logs carry URLs, statuses, lifetimes and timings only.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::config::{self, AssertionSource, AuthConfig};
use crate::error::AuthError;
use crate::keys::{CertificateInfo, SigningKey};
use crate::{jwt, saml};

/// `grant_type` of SuccessFactors' SAML bearer token request.
pub const SAML2_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:saml2-bearer";
/// `client_assertion_type` for a JWT client assertion (RFC 7523).
pub const JWT_BEARER_ASSERTION: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Knobs that are not part of the user's auth block.
#[derive(Debug, Clone, Default)]
pub struct ProviderOptions {
    /// Added to this machine's clock when stamping assertions; lets tests (and
    /// `hrsync check --clock-offset`) reproduce a skewed clock.
    pub clock_offset: jiff::SignedDuration,
}

/// An access token and how long it lives.
pub struct Token {
    pub value: SecretString,
    pub lifetime: Duration,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("value", &"<redacted>")
            .field("lifetime", &self.lifetime)
            .finish()
    }
}

/// Hands out bearer tokens for one SuccessFactors source; cheap to clone.
#[derive(Clone)]
pub struct TokenProvider {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for TokenProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenProvider")
            .field("method", &self.method())
            .field("token_url", &self.token_url())
            .finish()
    }
}

struct Inner {
    grant: Grant,
    http: reqwest::Client,
    cache: Mutex<Option<Cached>>,
    /// AT1 from Entra (only for `type = "entra"`), cached apart from AT2;
    /// read and written under the `refresh` lock.
    at1_cache: Mutex<Option<Cached>>,
    refresh: tokio::sync::Mutex<()>,
    fetches: AtomicU64,
    at1_fetches: AtomicU64,
    clock_offset: jiff::SignedDuration,
}

#[derive(Clone)]
struct Cached {
    token: SecretString,
    refresh_at: Instant,
    expires_at: Instant,
}

enum Grant {
    Saml(SamlGrant),
    Workload(WorkloadGrant),
}

struct SamlGrant {
    client_id: String,
    user_id: String,
    company_id: String,
    token_url: String,
    audience: String,
    lifetime: u64,
    key: SigningKey,
    certificate: Option<(PathBuf, CertificateInfo)>,
}

struct WorkloadGrant {
    token_url: String,
    client_id: String,
    resource: String,
    at1: At1,
}

enum At1 {
    File(PathBuf),
    SelfSigned {
        key: SigningKey,
        key_id: String,
        issuer: String,
        subject: String,
        audience: String,
        lifetime: u64,
    },
    Entra(EntraAt1),
}

/// AT1 requested from Microsoft Entra ID with client credentials.
struct EntraAt1 {
    token_url: String,
    client_id: String,
    scope: String,
    credential: EntraCredential,
}

enum EntraCredential {
    Certificate {
        key: SigningKey,
        certificate_path: PathBuf,
        certificate: CertificateInfo,
        x5t_s256: String,
    },
    FederatedFile(PathBuf),
}

impl EntraAt1 {
    fn new(
        tenant_id: &str,
        client_id: &str,
        certificate_file: Option<&PathBuf>,
        private_key_file: Option<&PathBuf>,
        federated_token_file: Option<&PathBuf>,
        login_url: &str,
        scope: &str,
    ) -> Result<EntraAt1, AuthError> {
        let credential = match (certificate_file, private_key_file, federated_token_file) {
            (Some(cert), Some(key_path), None) => {
                let certificate = CertificateInfo::load(cert)?;
                let key = SigningKey::load(key_path)?;
                if certificate.modulus != key.modulus() {
                    return Err(AuthError::KeyMismatch {
                        key: key_path.clone(),
                        certificate: cert.clone(),
                    });
                }
                EntraCredential::Certificate {
                    x5t_s256: jwt::x5t_s256(&certificate.der),
                    key,
                    certificate_path: cert.clone(),
                    certificate,
                }
            }
            (None, None, Some(path)) => EntraCredential::FederatedFile(path.clone()),
            _ => {
                return Err(AuthError::Config(
                    "workload-identity entra: set certificate_file and private_key_file, or federated_token_file (not both)".into(),
                ));
            }
        };
        if tenant_id.trim().is_empty() || client_id.trim().is_empty() {
            return Err(AuthError::Config(
                "workload-identity entra: tenant_id and client_id must not be empty".into(),
            ));
        }
        Ok(EntraAt1 {
            token_url: format!(
                "{}/{}/oauth2/v2.0/token",
                login_url.trim_end_matches('/'),
                tenant_id.trim()
            ),
            client_id: client_id.trim().to_owned(),
            scope: scope.trim().to_owned(),
            credential,
        })
    }
}

/// The origin (`scheme://host[:port]`) of the SuccessFactors API server URL.
pub(crate) fn api_origin(api_base_url: &str) -> Result<String, AuthError> {
    let url = reqwest::Url::parse(api_base_url)
        .map_err(|e| AuthError::Config(format!("SuccessFactors URL `{api_base_url}`: {e}")))?;
    Ok(url.origin().ascii_serialization())
}

impl TokenProvider {
    /// A provider for a token method; `api_base_url` is the SuccessFactors API
    /// server (its origin gives the default `/oauth/token`). Reads and checks
    /// key and certificate files now, so a broken set-up fails at start.
    pub fn new(
        config: &AuthConfig,
        api_base_url: &str,
        http: reqwest::Client,
        options: ProviderOptions,
    ) -> Result<Self, AuthError> {
        let grant = match config {
            AuthConfig::Basic { .. } => {
                return Err(AuthError::Config("basic authentication has no tokens".into()));
            }
            AuthConfig::SamlBearer {
                client_id,
                user_id,
                company_id,
                private_key_file,
                certificate_file,
                token_url,
                audience,
                assertion_lifetime,
            } => {
                let company_id = company_id.clone().ok_or_else(|| {
                    AuthError::Config("saml-bearer: company_id is missing".into())
                })?;
                let key = SigningKey::load(private_key_file)?;
                let certificate = match certificate_file {
                    Some(path) => {
                        let info = CertificateInfo::load(path)?;
                        if info.modulus != key.modulus() {
                            return Err(AuthError::KeyMismatch {
                                key: private_key_file.clone(),
                                certificate: path.clone(),
                            });
                        }
                        Some((path.clone(), info))
                    }
                    None => None,
                };
                let token_url = match token_url {
                    Some(u) => u.clone(),
                    None => format!("{}/oauth/token", api_origin(api_base_url)?),
                };
                Grant::Saml(SamlGrant {
                    client_id: client_id.clone(),
                    user_id: user_id.clone(),
                    company_id,
                    token_url,
                    audience: audience.clone(),
                    lifetime: *assertion_lifetime,
                    key,
                    certificate,
                })
            }
            AuthConfig::WorkloadIdentity { ias_url, client_id, dependency, assertion } => {
                let at1 = match assertion {
                    AssertionSource::FederatedFile { path } => At1::File(path.clone()),
                    AssertionSource::SelfSigned {
                        private_key_file,
                        key_id,
                        issuer,
                        subject,
                        audience,
                        lifetime,
                    } => At1::SelfSigned {
                        key: SigningKey::load(private_key_file)?,
                        key_id: key_id.clone(),
                        issuer: issuer.clone(),
                        subject: subject.clone(),
                        audience: audience.clone(),
                        lifetime: *lifetime,
                    },
                    AssertionSource::Entra {
                        tenant_id,
                        client_id,
                        certificate_file,
                        private_key_file,
                        federated_token_file,
                        login_url,
                        scope,
                    } => At1::Entra(EntraAt1::new(
                        tenant_id,
                        client_id,
                        certificate_file.as_ref(),
                        private_key_file.as_ref(),
                        federated_token_file.as_ref(),
                        login_url,
                        scope,
                    )?),
                };
                Grant::Workload(WorkloadGrant {
                    token_url: format!("{}/oauth2/token", ias_url.trim_end_matches('/')),
                    client_id: client_id.clone(),
                    resource: config::dependency_resource(dependency),
                    at1,
                })
            }
        };
        Ok(TokenProvider {
            inner: Arc::new(Inner {
                grant,
                http,
                cache: Mutex::new(None),
                at1_cache: Mutex::new(None),
                refresh: tokio::sync::Mutex::new(()),
                fetches: AtomicU64::new(0),
                at1_fetches: AtomicU64::new(0),
                clock_offset: options.clock_offset,
            }),
        })
    }

    /// `saml-bearer` or `workload-identity`.
    pub fn method(&self) -> &'static str {
        match self.inner.grant {
            Grant::Saml(_) => "saml-bearer",
            Grant::Workload(_) => "workload-identity",
        }
    }

    /// The token endpoint this provider calls.
    pub fn token_url(&self) -> &str {
        match &self.inner.grant {
            Grant::Saml(f) => &f.token_url,
            Grant::Workload(f) => &f.token_url,
        }
    }

    /// Tokens fetched from the token endpoint so far.
    pub fn fetches(&self) -> u64 {
        self.inner.fetches.load(Ordering::Relaxed)
    }

    /// AT1s obtained from Microsoft Entra ID so far (`type = "entra"`).
    pub fn at1_fetches(&self) -> u64 {
        self.inner.at1_fetches.load(Ordering::Relaxed)
    }

    /// Entra's token endpoint, for `type = "entra"`.
    pub fn entra_token_url(&self) -> Option<&str> {
        match &self.inner.grant {
            Grant::Workload(WorkloadGrant { at1: At1::Entra(e), .. }) => Some(&e.token_url),
            _ => None,
        }
    }

    /// A token to send as `Authorization: Bearer`. Served from the cache while
    /// fresh; past the refresh point one caller refreshes while the others
    /// keep the still-valid token; without a valid token callers wait for the
    /// single refresh.
    pub async fn bearer(&self) -> Result<SecretString, AuthError> {
        let now = Instant::now();
        let cached = self.cached();
        match &cached {
            Some(c) if now < c.refresh_at => return Ok(c.token.clone()),
            Some(c) if now < c.expires_at => {
                let Ok(_guard) = self.inner.refresh.try_lock() else { return Ok(c.token.clone()) };
                if let Some(fresh) = self.cached().filter(|n| Instant::now() < n.refresh_at) {
                    return Ok(fresh.token);
                }
                return match self.refresh_locked().await {
                    Ok(token) => Ok(token),
                    Err(e) => {
                        // The old token is still valid: keep syncing, try again shortly.
                        tracing::warn!(message = "Token refresh failed; using the current token until it expires.", error = %e);
                        let mut cache = self.lock_cache();
                        if let Some(c) = cache.as_mut() {
                            c.refresh_at = Instant::now()
                                + Duration::from_secs(5).min(
                                    c.expires_at.saturating_duration_since(Instant::now()) / 2,
                                );
                        }
                        Ok(c.token.clone())
                    }
                };
            }
            _ => {}
        }
        let _guard = self.inner.refresh.lock().await;
        // Another caller may have refreshed while this one waited.
        if let Some(fresh) = self.cached().filter(|n| Instant::now() < n.expires_at) {
            return Ok(fresh.token);
        }
        self.refresh_locked().await
    }

    /// Forgets `token` if it is still the cached one (SuccessFactors answered
    /// 403 `[LGN0022]` or 401 with it), so the next [`Self::bearer`] refreshes.
    pub fn invalidate(&self, token: &SecretString) {
        let mut cache = self.lock_cache();
        if cache.as_ref().is_some_and(|c| c.token.expose_secret() == token.expose_secret()) {
            tracing::debug!(
                message = "Access token rejected by SuccessFactors; it will be refreshed.",
                method = self.method()
            );
            *cache = None;
        }
    }

    fn lock_cache(&self) -> std::sync::MutexGuard<'_, Option<Cached>> {
        // The cache holds no invariant a panicking holder could break.
        self.inner.cache.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lock_at1(&self) -> std::sync::MutexGuard<'_, Option<Cached>> {
        self.inner.at1_cache.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Drops the cached AT1 (IAS refused it), so the next exchange gets a new one.
    pub fn invalidate_at1(&self) {
        *self.lock_at1() = None;
    }

    fn cached(&self) -> Option<Cached> {
        self.lock_cache().clone()
    }

    /// Fetches and caches a token; the caller holds the refresh lock.
    async fn refresh_locked(&self) -> Result<SecretString, AuthError> {
        let started = Instant::now();
        let token = self.fetch().await?;
        let lifetime = token.lifetime;
        let margin = (lifetime / 5).min(Duration::from_secs(60));
        let cached = Cached {
            token: token.value.clone(),
            refresh_at: started + lifetime - margin,
            expires_at: started + lifetime,
        };
        *self.lock_cache() = Some(cached);
        Ok(token.value)
    }

    /// One token from the endpoint, bypassing the cache.
    pub async fn fetch(&self) -> Result<Token, AuthError> {
        let token = match &self.inner.grant {
            Grant::Saml(_) => {
                let assertion = self.saml_assertion()?;
                self.exchange_saml(&assertion).await?
            }
            Grant::Workload(_) => {
                let (at1, from_cache) = self.current_at1().await?;
                match self.exchange_at1(&at1).await {
                    // IAS refused a cached AT1 as an assertion: the trust or
                    // the token changed under it. One more try with a new one.
                    Err(AuthError::IasRejected { error, .. })
                        if from_cache && error == "invalid_client_assertion" =>
                    {
                        tracing::debug!(
                            message =
                                "IAS refused the cached AT1; getting a new one from Entra ID."
                        );
                        self.invalidate_at1();
                        let (at1, _) = self.current_at1().await?;
                        self.exchange_at1(&at1).await?
                    }
                    r => r?,
                }
            }
        };
        self.inner.fetches.fetch_add(1, Ordering::Relaxed);
        Ok(token)
    }

    fn now(&self) -> jiff::Timestamp {
        jiff::Timestamp::now()
            .saturating_add(self.inner.clock_offset)
            .unwrap_or_else(|_| jiff::Timestamp::now())
    }

    /// A freshly signed SAML assertion, base64 as the `assertion` form field wants it.
    pub fn saml_assertion(&self) -> Result<SecretString, AuthError> {
        let Grant::Saml(f) = &self.inner.grant else {
            return Err(AuthError::Config("not a saml-bearer provider".into()));
        };
        if let Some((path, info)) = &f.certificate {
            info.check_validity(path, jiff::Timestamp::now())?;
        }
        let id = random_id();
        let params = saml::AssertionParams {
            client_id: &f.client_id,
            user_id: &f.user_id,
            audience: &f.audience,
            recipient: &f.token_url,
            issued_at: self.now(),
            lifetime_secs: f.lifetime,
            id: &id,
        };
        let xml = saml::signed_assertion(
            &params,
            &f.key,
            f.certificate.as_ref().map(|(_, c)| c.der.as_slice()),
        )?;
        Ok(SecretString::from(base64::engine::general_purpose::STANDARD.encode(xml)))
    }

    /// AT1 for the next exchange and whether it came from the cache: the
    /// cached Entra AT1 while before its refresh point, else a new one.
    async fn current_at1(&self) -> Result<(SecretString, bool), AuthError> {
        if let Some(c) = self.lock_at1().clone()
            && Instant::now() < c.refresh_at
        {
            return Ok((c.token, true));
        }
        Ok((self.obtain_at1().await?, false))
    }

    /// A new AT1: from Microsoft Entra ID for `type = "entra"` (then cached
    /// for the next exchanges), else as [`Self::at1`] makes it.
    pub async fn obtain_at1(&self) -> Result<SecretString, AuthError> {
        let Grant::Workload(WorkloadGrant { at1: At1::Entra(e), .. }) = &self.inner.grant else {
            return self.at1();
        };
        let started = Instant::now();
        let token = self.request_entra_at1(e).await?;
        let lifetime = token.lifetime;
        let margin = (lifetime / 5).min(Duration::from_secs(60));
        *self.lock_at1() = Some(Cached {
            token: token.value.clone(),
            refresh_at: started + lifetime - margin,
            expires_at: started + lifetime,
        });
        self.inner.at1_fetches.fetch_add(1, Ordering::Relaxed);
        Ok(token.value)
    }

    /// `POST {login_url}/{tenant}/oauth2/v2.0/token` (client credentials
    /// with a client assertion: signed here, or the federated token file).
    async fn request_entra_at1(&self, e: &EntraAt1) -> Result<Token, AuthError> {
        let assertion = match &e.credential {
            EntraCredential::Certificate { key, certificate_path, certificate, x5t_s256 } => {
                certificate.check_validity(certificate_path, self.now())?;
                jwt::entra_client_assertion(
                    key,
                    x5t_s256,
                    &e.client_id,
                    &e.token_url,
                    self.now(),
                    &random_id(),
                )?
            }
            EntraCredential::FederatedFile(path) => read_federated_file(path)?,
        };
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", e.client_id.as_str()),
            ("scope", e.scope.as_str()),
            ("client_assertion_type", JWT_BEARER_ASSERTION),
            ("client_assertion", assertion.expose_secret()),
        ];
        let (status, body) = self.post_form(&e.token_url, &form).await?;
        if status == 200 {
            return parse_token(&e.token_url, status, &body);
        }
        let v: Option<serde_json::Value> = serde_json::from_slice(&body).ok();
        let error = v.as_ref().and_then(|v| v.get("error")).and_then(serde_json::Value::as_str);
        match (v.as_ref(), error) {
            (Some(v), Some(error)) => {
                let description = v
                    .get("error_description")
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or("")
                    // Entra appends trace and correlation ids on new lines.
                    .lines()
                    .next()
                    .unwrap_or("")
                    .to_owned();
                let codes = v
                    .get("error_codes")
                    .and_then(serde_json::Value::as_array)
                    .map(|a| a.iter().filter_map(serde_json::Value::as_u64).collect())
                    .unwrap_or_default();
                Err(AuthError::EntraRejected {
                    url: e.token_url.clone(),
                    status,
                    error: error.to_owned(),
                    description,
                    codes,
                })
            }
            _ => Err(AuthError::BadTokenResponse {
                url: e.token_url.clone(),
                status,
                cause: String::from_utf8_lossy(&body).chars().take(300).collect(),
            }),
        }
    }

    /// AT1: the federated token file's content (checked for expiry) or a
    /// fresh self-signed JWT. For `type = "entra"` use [`Self::obtain_at1`].
    pub fn at1(&self) -> Result<SecretString, AuthError> {
        let Grant::Workload(f) = &self.inner.grant else {
            return Err(AuthError::Config("not a workload-identity provider".into()));
        };
        match &f.at1 {
            At1::File(path) => read_federated_file(path),
            At1::Entra(_) => Err(AuthError::Config(
                "AT1 from Microsoft Entra ID is requested, not made: use obtain_at1".into(),
            )),
            At1::SelfSigned { key, key_id, issuer, subject, audience, lifetime } => {
                let id = random_id();
                let claims = jwt::Claims {
                    issuer,
                    subject,
                    audience,
                    issued_at: self.now(),
                    lifetime_secs: *lifetime,
                    id: &id,
                };
                jwt::sign(key, key_id, &claims)
            }
        }
    }

    async fn exchange_saml(&self, assertion: &SecretString) -> Result<Token, AuthError> {
        let Grant::Saml(f) = &self.inner.grant else {
            return Err(AuthError::Config("not a saml-bearer provider".into()));
        };
        let form = [
            ("company_id", f.company_id.as_str()),
            ("client_id", f.client_id.as_str()),
            ("grant_type", SAML2_BEARER_GRANT),
            ("assertion", assertion.expose_secret()),
            // Without it SuccessFactors hands back the still-cached token (KBA-2872019).
            ("new_token", "true"),
        ];
        let (status, body) = self.post_form(&f.token_url, &form).await?;
        if status == 200 {
            return parse_token(&f.token_url, status, &body);
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct SfError {
            error_message: Option<String>,
        }
        let message = serde_json::from_slice::<SfError>(&body)
            .ok()
            .and_then(|e| e.error_message)
            .unwrap_or_else(|| String::from_utf8_lossy(&body).chars().take(300).collect());
        Err(AuthError::SfTokenRejected { url: f.token_url.clone(), status, message })
    }

    /// Exchanges AT1 for AT2 at SAP Cloud Identity Service.
    pub async fn exchange_at1(&self, at1: &SecretString) -> Result<Token, AuthError> {
        let Grant::Workload(f) = &self.inner.grant else {
            return Err(AuthError::Config("not a workload-identity provider".into()));
        };
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", f.client_id.as_str()),
            ("client_assertion_type", JWT_BEARER_ASSERTION),
            ("client_assertion", at1.expose_secret()),
            ("resource", f.resource.as_str()),
        ];
        let (status, body) = self.post_form(&f.token_url, &form).await?;
        if status == 200 {
            return parse_token(&f.token_url, status, &body);
        }
        #[derive(Deserialize)]
        struct OAuthError {
            error: String,
            #[serde(default)]
            error_description: String,
        }
        match serde_json::from_slice::<OAuthError>(&body) {
            Ok(e) => Err(AuthError::IasRejected {
                url: f.token_url.clone(),
                status,
                error: e.error,
                description: e.error_description,
            }),
            Err(_) => Err(AuthError::BadTokenResponse {
                url: f.token_url.clone(),
                status,
                cause: String::from_utf8_lossy(&body).chars().take(300).collect(),
            }),
        }
    }

    async fn post_form(
        &self,
        url: &str,
        form: &[(&str, &str)],
    ) -> Result<(u16, Vec<u8>), AuthError> {
        let started = Instant::now();
        let transport = |e: reqwest::Error| AuthError::Transport {
            url: url.to_owned(),
            cause: error_chain(&e),
        };
        let resp = self
            .inner
            .http
            .post(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .form(form)
            .send()
            .await
            .map_err(transport)?;
        let status = resp.status().as_u16();
        let body = resp.bytes().await.map_err(transport)?.to_vec();
        tracing::debug!(
            message = "Token request.",
            method = self.method(),
            url,
            status,
            ms = started.elapsed().as_millis() as u64
        );
        Ok((status, body))
    }
}

/// A federated token file's JWT, refused here when already expired.
fn read_federated_file(path: &std::path::Path) -> Result<SecretString, AuthError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| AuthError::FederatedToken { path: path.to_owned(), cause: e.to_string() })?;
    let token = text.trim();
    let claims = jwt::unverified_claims(token).ok_or_else(|| AuthError::FederatedToken {
        path: path.to_owned(),
        cause: "the file does not hold a JWT".into(),
    })?;
    if let Some(exp) = claims.get("exp").and_then(serde_json::Value::as_i64)
        && exp <= jiff::Timestamp::now().as_second()
    {
        let expired_at = jiff::Timestamp::from_second(exp)
            .map(|t| t.to_string())
            .unwrap_or_else(|_| exp.to_string());
        return Err(AuthError::FederatedTokenExpired { path: path.to_owned(), expired_at });
    }
    Ok(SecretString::from(token.to_owned()))
}

/// `{"access_token","token_type","expires_in"}`; `expires_in` as a number or a
/// numeric string (both are seen from OAuth servers).
fn parse_token(url: &str, status: u16, body: &[u8]) -> Result<Token, AuthError> {
    #[derive(Deserialize)]
    struct Answer {
        access_token: String,
        #[serde(default)]
        token_type: Option<String>,
        expires_in: serde_json::Value,
    }
    let bad = |cause: String| AuthError::BadTokenResponse { url: url.to_owned(), status, cause };
    let a: Answer =
        serde_json::from_slice(body).map_err(|e| bad(format!("not a token answer: {e}")))?;
    if a.token_type.as_deref().is_some_and(|t| !t.eq_ignore_ascii_case("bearer")) {
        return Err(bad(format!("token_type {:?} is not Bearer", a.token_type)));
    }
    let secs = match &a.expires_in {
        serde_json::Value::Number(n) => n.as_u64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .ok_or_else(|| bad(format!("expires_in {} is not a number of seconds", a.expires_in)))?;
    tracing::debug!(message = "Access token received.", url, expires_in = secs);
    Ok(Token { value: SecretString::from(a.access_token), lifetime: Duration::from_secs(secs) })
}

/// 128 random bits as an XML ID / `jti` (`_` first: an NCName cannot start with a digit).
fn random_id() -> String {
    let mut bytes = [0u8; 16];
    if aws_lc_rs::rand::fill(&mut bytes).is_err() {
        // Uniqueness, not secrecy, is what the id needs; fall back to the clock.
        bytes = jiff::Timestamp::now().as_nanosecond().to_le_bytes();
    }
    let mut id = String::with_capacity(33);
    id.push('_');
    for b in bytes {
        id.push_str(&format!("{b:02x}"));
    }
    id
}

/// An error and its sources joined with `: ` (reqwest hides the cause of a
/// transport failure in its source chain).
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        // Many errors quote their cause in their own message (`cannot
        // listen on ...: Address already in use`): said once is enough.
        let text = inner.to_string();
        if !s.contains(&text) {
            s.push_str(": ");
            s.push_str(&text);
        }
        src = inner.source();
    }
    s
}
