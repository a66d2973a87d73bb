//! App-only access tokens for Microsoft Graph from the Entra ID token
//! endpoint (`POST {login_url}/{tenant_id}/oauth2/v2.0/token`, OAuth 2.0
//! client credentials).
//!
//! Credential methods, one per config ([`GraphConfig::problems`] checks):
//! - `certificate` (`certificate_file` + `private_key_file`): a client
//!   assertion JWT signed PS256 with header `x5t#S256` (base64url SHA-256 of
//!   the certificate's DER) and claims `aud` = the token endpoint, `iss` =
//!   `sub` = `client_id`, a unique `jti`, `nbf`/`iat`/`exp` (10 minutes),
//!   per Microsoft's "certificate credentials" page.
//! - `federated-token-file` (`federated_token_file`): workload identity
//!   federation with a token the platform writes (Kubernetes projected
//!   service-account token, Azure workload identity, GitHub OIDC), re-read
//!   on every token request because the platform rotates it, and sent as
//!   the client assertion. An expired file is reported before Entra is
//!   asked (its `exp`, read unverified).
//! - `self-signed-federation` (`assertion_key_file`, `assertion_issuer`,
//!   `assertion_subject`, `assertion_audience`): hrsync signs an RS256 JWT
//!   (`kid` = the key's RFC 7638 thumbprint, as in `hrsync keys generate`'s
//!   `jwks.json`, which the issuer URL must publish) and sends it as the
//!   client assertion; the app's federated identity credential names that
//!   issuer, subject and audience (default `api://AzureADTokenExchange`).
//! - `client-secret` (sandboxes): `client_secret`.
//!
//! Invariants (the same as the SuccessFactors token provider's; the code is
//! this module's own):
//! - One refresher at a time (a tokio mutex around the endpoint call);
//!   callers holding a still-valid token while another refreshes keep it.
//! - Tokens are refreshed ahead of expiry, at `lifetime - min(lifetime/5, 60 s)`.
//! - [`TokenClient::invalidate`] drops a token only while it is still the
//!   cached one, so a burst of 401s with one stale token refreshes once.
//! - Secrets, assertions and tokens are [`SecretString`]s; no error, log
//!   event or `Debug` output contains one.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hrsync_sf_auth::AuthError;
use hrsync_sf_auth::jwt;
use hrsync_sf_auth::keys::{CertificateInfo, SigningKey};
use secrecy::{ExposeSecret, SecretString};

use crate::config::GraphConfig;

/// `client_assertion_type` of a JWT client assertion (RFC 7523).
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// Lifetime of a client assertion hrsync signs.
const ASSERTION_LIFETIME_SECS: i64 = 600;
/// The audience Entra suggests for federated identity credentials.
pub const TOKEN_EXCHANGE_AUDIENCE: &str = "api://AzureADTokenExchange";

/// The claims of the client assertion Entra refused (none is a secret):
/// what a federated credential or the token endpoint must match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Presented {
    pub issuer: String,
    pub subject: String,
    pub audience: String,
}

/// Why no token could be had, with [`TokenError::explanation`] saying what
/// an admin can do. No variant holds a secret, an assertion or a token.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// A field of `[target.connection]` is missing or wrong.
    #[error("target.connection.{field}: {cause}")]
    Config { field: &'static str, cause: String },
    /// A file named by a field cannot be read or is not what it should be.
    #[error("target.connection.{field}: {}: {cause}", path.display())]
    File { field: &'static str, path: PathBuf, cause: String },
    #[error(
        "target.connection.private_key_file: {} is not the private key of target.connection.certificate_file {}",
        key.display(),
        certificate.display()
    )]
    KeyMismatch { key: PathBuf, certificate: PathBuf },
    #[error("target.connection.certificate_file: {} {problem}", path.display())]
    CertificateValidity { path: PathBuf, problem: String },
    #[error("target.connection.federated_token_file: the token in {} expired at {expired_at}", path.display())]
    FederatedTokenExpired { path: PathBuf, expired_at: String },
    #[error("cannot reach the Entra ID token endpoint {url}: {cause}")]
    Unreachable { url: String, cause: String },
    /// Entra ID answered with an OAuth error (`error`, `error_description`,
    /// `error_codes`: the AADSTS numbers).
    #[error("Entra ID refused the token request at {url}: HTTP {status} {error}: {description}")]
    Rejected {
        url: String,
        status: u16,
        error: String,
        description: String,
        codes: Vec<u64>,
        /// [`TokenClient::method`].
        method: &'static str,
        /// The assertion's `iss`, `sub`, `aud` (for assertion methods).
        presented: Option<Box<Presented>>,
    },
    #[error(
        "the token endpoint {url} answered HTTP {status} with a body hrsync cannot read: {cause}"
    )]
    BadResponse { url: String, status: u16, cause: String },
}

impl TokenError {
    /// The AADSTS codes of a refusal (empty for other errors).
    pub fn codes(&self) -> &[u64] {
        match self {
            TokenError::Rejected { codes, .. } => codes,
            _ => &[],
        }
    }

    /// What to check, in an admin's terms.
    pub fn explanation(&self) -> String {
        match self {
            TokenError::Config { field, .. } => format!(
                "Set target.connection.{field} as the message says, then run `hrsync check` again."
            ),
            TokenError::File { field, path, .. } => format!(
                "target.connection.{field} names {}, which hrsync cannot use: check the path, the file's permissions and that it is the PEM file `hrsync keys generate` wrote.",
                path.display()
            ),
            TokenError::KeyMismatch { .. } => "certificate_file and private_key_file are not a pair: use the private-key.pem written together with the certificate.pem registered on the app (Certificates & secrets), or run `hrsync keys generate` and upload the new certificate.pem.".into(),
            TokenError::FederatedTokenExpired { path, .. } => format!(
                "The token in {} is no longer refreshed: check the platform component that writes it (Kubernetes projected service-account token with audience api://AzureADTokenExchange, Azure workload identity webhook, the CI's OIDC step) and that hrsync reads the path it writes.",
                path.display()
            ),
            TokenError::CertificateValidity { .. } => "The certificate is outside its validity period: run `hrsync keys generate`, upload the new certificate.pem to the app registration (Certificates & secrets > Certificates) and point certificate_file and private_key_file at the new files.".into(),
            TokenError::Unreachable { url, .. } => format!(
                "hrsync could not reach {url}: check target.connection.login_url (https://login.microsoftonline.com for the public cloud, https://login.microsoftonline.us for US Government, https://login.chinacloudapi.cn for China), DNS, the proxy and the firewall."
            ),
            TokenError::BadResponse { url, .. } => format!(
                "{url} did not answer like an Entra ID token endpoint: check that target.connection.login_url is the Entra sign-in host."
            ),
            TokenError::Rejected { url, codes, method, description, presented, .. } => {
                rejected_explanation(url, codes, method, description, presented.as_deref())
            }
        }
    }
}

fn rejected_explanation(
    url: &str,
    codes: &[u64],
    method: &str,
    description: &str,
    presented: Option<&Presented>,
) -> String {
    let has = |c: u64| codes.contains(&c);
    let federated = method == "federated-token-file" || method == "self-signed-federation";
    if federated && let Some(text) = federation_explanation(codes, method, presented) {
        return text;
    }
    if has(700023) {
        format!(
            "Wrong audience: the client assertion was made for {url}, which is not the token endpoint of the tenant the app is registered in. Check target.connection.tenant_id (the Directory (tenant) ID on the app's Overview page) and target.connection.login_url (the sign-in host of the app's cloud)."
        )
    } else if has(700024) {
        "The client assertion was not yet valid or already expired when Entra ID checked it: this machine's clock is off. Check NTP / the time service; assertions live 10 minutes from the local clock.".into()
    } else if has(700027) {
        if description.contains("Key was not found") {
            "Entra ID does not know the certificate the assertion names (x5t#S256): the certificate registered on the app does not match certificate_file / private_key_file. Upload certificate.pem (the one next to private_key_file) under Certificates & secrets > Certificates of the app registration, or point the config at the registered pair.".into()
        } else {
            "The client assertion's signature does not verify with the certificate registered on the app: private_key_file is not the key of the registered certificate. Upload certificate.pem (written with private_key_file) under Certificates & secrets > Certificates, or use the matching key.".into()
        }
    } else if has(700016) {
        "The app is not in this tenant: check target.connection.client_id (Application (client) ID on the app's Overview page) and target.connection.tenant_id; the app must be registered (or consented) in that tenant.".into()
    } else if has(7000215) {
        "The client secret is wrong: copy the secret's Value (not its Secret ID) from Certificates & secrets into the variable named by client_secret_env (or the file client_secret_file).".into()
    } else if has(7000222) {
        "The client secret has expired: create a new one under Certificates & secrets and update client_secret_env / client_secret_file (better: switch to a certificate).".into()
    } else if has(700021) {
        "The assertion's issuer/subject is not the client_id sent: check target.connection.client_id.".into()
    } else if has(90002) {
        "The tenant does not exist: check target.connection.tenant_id (a GUID or a verified domain) and login_url.".into()
    } else if has(70011) {
        "Entra ID refused the scope: check target.connection.graph_url (https://graph.microsoft.com for the public cloud).".into()
    } else if has(7000218) {
        format!(
            "Entra ID got no credential: the {method} credential was not sent; check the credential fields of target.connection."
        )
    } else {
        "Entra ID's message above names the cause; look the AADSTS code up at https://login.microsoftonline.com/error.".into()
    }
}

/// Explanations of refusals of a federated client assertion; `None` for
/// codes that mean the same as for a certificate.
fn federation_explanation(
    codes: &[u64],
    method: &str,
    presented: Option<&Presented>,
) -> Option<String> {
    let has = |c: u64| codes.contains(&c);
    let file = method == "federated-token-file";
    let (iss, sub, aud) = presented
        .map(|p| (p.issuer.as_str(), p.subject.as_str(), p.audience.as_str()))
        .unwrap_or(("?", "?", "?"));
    let credential = "the app registration's Certificates & secrets > Federated credentials";
    let text = if has(700211) {
        if file {
            format!(
                "No federated credential of the app trusts the issuer {iss} of the token in federated_token_file: add one in {credential} whose Issuer is exactly {iss} (case and trailing slash matter), e.g. the cluster's OIDC issuer URL."
            )
        } else {
            format!(
                "No federated credential of the app has the Issuer {iss}: set target.connection.assertion_issuer to the credential's Issuer, or the credential's Issuer to {iss} (exact match, trailing slash included) in {credential}."
            )
        }
    } else if has(700212) {
        if file {
            format!(
                "The token in federated_token_file has the audience {aud}, which no federated credential of the app lists: request the token with audience {TOKEN_EXCHANGE_AUDIENCE} (the projected token's `audience`), or add {aud} to the credential's Audience."
            )
        } else {
            format!(
                "The audience {aud} is not the federated credential's Audience: set target.connection.assertion_audience to it (default {TOKEN_EXCHANGE_AUDIENCE}) or fix the credential in {credential}."
            )
        }
    } else if has(700213) || has(7002137) || has(7002138) {
        if file {
            format!(
                "The token in federated_token_file is for the subject {sub}, which no federated credential of the app names (matching is case-sensitive): set the credential's Subject identifier to {sub} (for Kubernetes system:serviceaccount:NAMESPACE:NAME)."
            )
        } else {
            format!(
                "The subject {sub} is not the federated credential's Subject identifier (case-sensitive): set target.connection.assertion_subject to it, or the credential's Subject to {sub}."
            )
        }
    } else if has(70021) {
        format!(
            "No federated credential of the app matches the token (issuer {iss}, subject {sub}, audience {aud}): compare all three with the Issuer, Subject identifier and Audience in {credential}; they must match exactly."
        )
    } else if has(7000272) {
        if file {
            format!(
                "Entra ID cannot find the key that signed the token in federated_token_file in the metadata of {iss}: the issuer's OIDC discovery document or JWKS is not reachable from Entra ID, or the platform rotated its signing key without publishing it."
            )
        } else {
            format!(
                "Entra ID cannot find the signing key in the metadata of {iss}: publish the jwks.json written with assertion_key_file (its kid is the key's thumbprint) at the jwks_uri of {iss}/.well-known/openid-configuration, reachable from the internet."
            )
        }
    } else if has(700027) {
        if file {
            format!(
                "The token in federated_token_file does not verify with the keys {iss} publishes: it was not issued by that issuer, or the issuer's keys changed."
            )
        } else {
            format!(
                "The self-signed assertion does not verify with the key {iss} publishes under its kid: assertion_key_file is not the private key of the published jwks.json; publish the jwks.json written with it (`hrsync keys generate`)."
            )
        }
    } else if has(700024) {
        if file {
            "Entra ID found the token in federated_token_file expired or not yet valid: the platform stopped refreshing it, or this machine's clock is off.".into()
        } else {
            "The self-signed assertion was not yet valid or already expired when Entra ID checked it: this machine's clock is off (check NTP).".into()
        }
    } else {
        return None;
    };
    Some(text)
}

/// Hands out Graph access tokens for one app; cheap to clone (shared cache).
#[derive(Clone)]
pub struct TokenClient {
    inner: Arc<Inner>,
    clock_offset: jiff::SignedDuration,
}

impl std::fmt::Debug for TokenClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenClient")
            .field("method", &self.method())
            .field("token_url", &self.inner.token_url)
            .field("client_id", &self.inner.client_id)
            .finish_non_exhaustive()
    }
}

struct Inner {
    token_url: String,
    client_id: String,
    scope: String,
    credential: Credential,
    http: reqwest::Client,
    cache: Mutex<Option<Cached>>,
    refresh: tokio::sync::Mutex<()>,
    fetches: AtomicU64,
}

#[derive(Clone)]
struct Cached {
    token: SecretString,
    refresh_at: Instant,
    expires_at: Instant,
}

enum Credential {
    Certificate {
        key: SigningKey,
        certificate_path: PathBuf,
        certificate: CertificateInfo,
        x5t_s256: String,
    },
    FederatedFile(PathBuf),
    SelfSigned {
        key: SigningKey,
        kid: String,
        issuer: String,
        subject: String,
        audience: String,
    },
    Secret(SecretString),
}

fn file_error(field: &'static str, path: &Path, e: AuthError) -> TokenError {
    let cause = match e {
        AuthError::Key { cause, .. } | AuthError::Certificate { cause, .. } => cause,
        other => other.to_string(),
    };
    TokenError::File { field, path: path.to_owned(), cause }
}

impl TokenClient {
    /// A client for `config`'s credential. Reads the certificate and key
    /// files now, so a broken set-up fails at start with the field named.
    pub fn new(config: &GraphConfig, http: reqwest::Client) -> Result<TokenClient, TokenError> {
        let credential = match (
            &config.certificate_file,
            &config.private_key_file,
            &config.client_secret,
        ) {
            (Some(cert_path), Some(key_path), _) => {
                let certificate = CertificateInfo::load(cert_path)
                    .map_err(|e| file_error("certificate_file", cert_path, e))?;
                let key = SigningKey::load(key_path)
                    .map_err(|e| file_error("private_key_file", key_path, e))?;
                if certificate.modulus != key.modulus() {
                    return Err(TokenError::KeyMismatch {
                        key: key_path.clone(),
                        certificate: cert_path.clone(),
                    });
                }
                let x5t_s256 = hrsync_sf_auth::jwt::x5t_s256(&certificate.der);
                Credential::Certificate {
                    key,
                    certificate_path: cert_path.clone(),
                    certificate,
                    x5t_s256,
                }
            }
            _ if config.federated_token_file.is_some() => {
                Credential::FederatedFile(config.federated_token_file.clone().unwrap_or_default())
            }
            _ if config.assertion_key_file.is_some() => {
                let path = config.assertion_key_file.clone().unwrap_or_default();
                let key = SigningKey::load(&path)
                    .map_err(|e| file_error("assertion_key_file", &path, e))?;
                let required = |field: &'static str, v: &Option<String>| {
                    v.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned).ok_or(
                        TokenError::Config {
                            field,
                            cause:
                                "assertion_key_file needs assertion_issuer and assertion_subject"
                                    .into(),
                        },
                    )
                };
                Credential::SelfSigned {
                    kid: key.thumbprint(),
                    key,
                    issuer: required("assertion_issuer", &config.assertion_issuer)?,
                    subject: required("assertion_subject", &config.assertion_subject)?,
                    audience: config
                        .assertion_audience
                        .clone()
                        .unwrap_or_else(|| TOKEN_EXCHANGE_AUDIENCE.to_owned()),
                }
            }
            (Some(_), None, _) => {
                return Err(TokenError::Config {
                    field: "private_key_file",
                    cause: "certificate_file needs private_key_file".into(),
                });
            }
            (None, Some(_), _) => {
                return Err(TokenError::Config {
                    field: "certificate_file",
                    cause: "private_key_file needs certificate_file".into(),
                });
            }
            (None, None, Some(secret)) => Credential::Secret(secret.clone()),
            (None, None, None) => {
                return Err(TokenError::Config {
                    field: "certificate_file",
                    cause: "no credential: set certificate_file + private_key_file, federated_token_file, assertion_key_file or client_secret_env".into(),
                });
            }
        };
        if config.tenant_id.trim().is_empty() {
            return Err(TokenError::Config {
                field: "tenant_id",
                cause: "must not be empty".into(),
            });
        }
        let token_url = format!(
            "{}/{}/oauth2/v2.0/token",
            config.login_url.trim_end_matches('/'),
            config.tenant_id.trim()
        );
        let scope = format!("{}/.default", config.graph_url.trim_end_matches('/'));
        Ok(TokenClient {
            inner: Arc::new(Inner {
                token_url,
                client_id: config.client_id.trim().to_owned(),
                scope,
                credential,
                http,
                cache: Mutex::new(None),
                refresh: tokio::sync::Mutex::new(()),
                fetches: AtomicU64::new(0),
            }),
            clock_offset: jiff::SignedDuration::ZERO,
        })
    }

    /// Adds `offset` to this machine's clock when stamping assertions (tests,
    /// and reproducing a skewed clock in `hrsync check`).
    pub fn with_clock_offset(mut self, offset: jiff::SignedDuration) -> TokenClient {
        self.clock_offset = offset;
        self
    }

    /// `certificate`, `federated-token-file`, `self-signed-federation` or
    /// `client-secret`.
    pub fn method(&self) -> &'static str {
        match self.inner.credential {
            Credential::Certificate { .. } => "certificate",
            Credential::FederatedFile(_) => "federated-token-file",
            Credential::SelfSigned { .. } => "self-signed-federation",
            Credential::Secret(_) => "client-secret",
        }
    }

    /// The token endpoint (also the `aud` of a certificate assertion).
    pub fn token_url(&self) -> &str {
        &self.inner.token_url
    }

    /// The `scope` sent: `{graph_url}/.default`.
    pub fn scope(&self) -> &str {
        &self.inner.scope
    }

    /// Tokens fetched from the endpoint so far.
    pub fn fetches(&self) -> u64 {
        self.inner.fetches.load(Ordering::Relaxed)
    }

    /// A token for `Authorization: Bearer`, from the cache while fresh.
    pub async fn token(&self) -> Result<SecretString, TokenError> {
        if let Some(c) = self.cached() {
            let now = Instant::now();
            if now < c.refresh_at {
                return Ok(c.token);
            }
            if now < c.expires_at {
                // Past the refresh point but valid: one caller refreshes,
                // the others keep using this token meanwhile.
                let Ok(_guard) = self.inner.refresh.try_lock() else {
                    return Ok(c.token);
                };
                if let Some(fresh) = self.cached().filter(|n| Instant::now() < n.refresh_at) {
                    return Ok(fresh.token);
                }
                return match self.refresh_locked().await {
                    Ok(t) => Ok(t),
                    Err(e) => {
                        tracing::warn!(
                            message = "Graph token refresh failed; the current token is used until it expires.",
                            error = %e
                        );
                        let retry = Instant::now()
                            + Duration::from_secs(5)
                                .min(c.expires_at.saturating_duration_since(Instant::now()) / 2);
                        if let Some(k) = self.lock_cache().as_mut() {
                            k.refresh_at = retry;
                        }
                        Ok(c.token)
                    }
                };
            }
        }
        let _guard = self.inner.refresh.lock().await;
        if let Some(fresh) = self.cached().filter(|n| Instant::now() < n.expires_at) {
            return Ok(fresh.token);
        }
        self.refresh_locked().await
    }

    /// Forgets `token` if it is still the cached one (Graph answered 401
    /// with it), so the next [`Self::token`] fetches a new one.
    pub fn invalidate(&self, token: &SecretString) {
        let mut cache = self.lock_cache();
        if cache.as_ref().is_some_and(|c| c.token.expose_secret() == token.expose_secret()) {
            tracing::debug!(message = "Graph rejected the access token; it will be refreshed.");
            *cache = None;
        }
    }

    fn lock_cache(&self) -> std::sync::MutexGuard<'_, Option<Cached>> {
        // Nothing a panicking holder could leave half-done.
        self.inner.cache.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn cached(&self) -> Option<Cached> {
        self.lock_cache().clone()
    }

    async fn refresh_locked(&self) -> Result<SecretString, TokenError> {
        let started = Instant::now();
        let (token, lifetime) = self.fetch().await?;
        let margin = (lifetime / 5).min(Duration::from_secs(60));
        *self.lock_cache() = Some(Cached {
            token: token.clone(),
            refresh_at: started + lifetime - margin,
            expires_at: started + lifetime,
        });
        Ok(token)
    }

    fn now(&self) -> jiff::Timestamp {
        let now = jiff::Timestamp::now();
        now.checked_add(self.clock_offset).unwrap_or(now)
    }

    /// The client assertion the next token request sends: a freshly signed
    /// JWT (certificate, self-signed federation) or the federated token
    /// file's content, read now.
    pub fn client_assertion(&self) -> Result<SecretString, TokenError> {
        match &self.inner.credential {
            Credential::Certificate { key, certificate_path, certificate, x5t_s256 } => {
                self.certificate_assertion(key, certificate_path, certificate, x5t_s256)
            }
            Credential::FederatedFile(path) => self.federated_file(path),
            Credential::SelfSigned { key, kid, issuer, subject, audience } => {
                let id = random_id();
                let claims = jwt::Claims {
                    issuer,
                    subject,
                    audience,
                    issued_at: self.now(),
                    lifetime_secs: ASSERTION_LIFETIME_SECS as u64,
                    id: &id,
                };
                jwt::sign(key, kid, &claims).map_err(|e| TokenError::Config {
                    field: "assertion_key_file",
                    cause: e.to_string(),
                })
            }
            Credential::Secret(_) => Err(TokenError::Config {
                field: "client_secret_env",
                cause: "a client secret has no client assertion".into(),
            }),
        }
    }

    /// The federated token file's JWT, refused here when already expired.
    fn federated_file(&self, path: &Path) -> Result<SecretString, TokenError> {
        let err = |cause: String| TokenError::File {
            field: "federated_token_file",
            path: path.to_owned(),
            cause,
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        let token = text.trim();
        let claims = jwt::unverified_claims(token)
            .ok_or_else(|| err("the file does not hold a JWT".into()))?;
        if let Some(exp) = claims.get("exp").and_then(serde_json::Value::as_i64)
            && exp <= self.now().as_second()
        {
            let expired_at = jiff::Timestamp::from_second(exp)
                .map(|t| t.to_string())
                .unwrap_or_else(|_| exp.to_string());
            return Err(TokenError::FederatedTokenExpired { path: path.to_owned(), expired_at });
        }
        Ok(SecretString::from(token.to_owned()))
    }

    fn certificate_assertion(
        &self,
        key: &SigningKey,
        certificate_path: &Path,
        certificate: &CertificateInfo,
        x5t_s256: &str,
    ) -> Result<SecretString, TokenError> {
        let now = self.now();
        let validity = |problem: String| TokenError::CertificateValidity {
            path: certificate_path.to_owned(),
            problem,
        };
        if now > certificate.not_after {
            return Err(validity(format!("expired on {}", certificate.not_after)));
        }
        if now < certificate.not_before {
            return Err(validity(format!("is not valid before {}", certificate.not_before)));
        }
        // The same assertion the SuccessFactors side sends to Entra for AT1.
        hrsync_sf_auth::jwt::entra_client_assertion(
            key,
            x5t_s256,
            &self.inner.client_id,
            &self.inner.token_url,
            now,
            &random_id(),
        )
        .map_err(|e| TokenError::Config { field: "private_key_file", cause: e.to_string() })
    }

    /// One token from the endpoint, bypassing the cache: (token, lifetime).
    async fn fetch(&self) -> Result<(SecretString, Duration), TokenError> {
        let inner = &self.inner;
        let mut assertion = SecretString::from(String::new());
        let mut form: Vec<(&str, &str)> = vec![
            ("grant_type", "client_credentials"),
            ("client_id", inner.client_id.as_str()),
            ("scope", inner.scope.as_str()),
        ];
        match &inner.credential {
            Credential::Secret(secret) => form.push(("client_secret", secret.expose_secret())),
            _ => {
                assertion = self.client_assertion()?;
                form.push(("client_assertion_type", JWT_BEARER));
                form.push(("client_assertion", assertion.expose_secret()));
            }
        }
        let url = inner.token_url.as_str();
        let started = Instant::now();
        let unreachable = |e: reqwest::Error| TokenError::Unreachable {
            url: url.to_owned(),
            cause: hrsync_sf_auth::error_chain(&e),
        };
        let resp = inner
            .http
            .post(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .form(&form)
            .send()
            .await
            .map_err(unreachable)?;
        let status = resp.status().as_u16();
        let body = resp.bytes().await.map_err(unreachable)?;
        tracing::debug!(
            message = "Graph token request.",
            method = self.method(),
            url,
            status,
            ms = started.elapsed().as_millis() as u64
        );
        let answer = if status == 200 {
            parse_token(url, &body)?
        } else {
            let mut e = parse_refusal(url, status, &body, self.method());
            if let TokenError::Rejected { presented, .. } = &mut e
                && !matches!(inner.credential, Credential::Secret(_))
            {
                *presented = jwt::unverified_claims(assertion.expose_secret())
                    .map(|c| Box::new(presented_claims(&c)));
            }
            return Err(e);
        };
        inner.fetches.fetch_add(1, Ordering::Relaxed);
        Ok(answer)
    }
}

fn parse_token(url: &str, body: &[u8]) -> Result<(SecretString, Duration), TokenError> {
    // The body holds the token: errors describe it, never quote it.
    let bad = |cause: &str| TokenError::BadResponse {
        url: url.to_owned(),
        status: 200,
        cause: cause.to_owned(),
    };
    let v: serde_json::Value = serde_json::from_slice(body).map_err(|_| bad("not JSON"))?;
    let token = v
        .get("access_token")
        .and_then(serde_json::Value::as_str)
        .ok_or_else(|| bad("no access_token"))?;
    if let Some(t) = v.get("token_type").and_then(serde_json::Value::as_str)
        && !t.eq_ignore_ascii_case("bearer")
    {
        return Err(bad("token_type is not Bearer"));
    }
    let secs = match v.get("expires_in") {
        Some(serde_json::Value::Number(n)) => n.as_u64(),
        Some(serde_json::Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    }
    .ok_or_else(|| bad("expires_in is not a number of seconds"))?;
    Ok((SecretString::from(token.to_owned()), Duration::from_secs(secs)))
}

fn parse_refusal(url: &str, status: u16, body: &[u8], method: &'static str) -> TokenError {
    let v: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let error = v.as_ref().and_then(|v| v.get("error")).and_then(serde_json::Value::as_str);
    match (v.as_ref(), error) {
        (Some(v), Some(error)) => {
            let description = v
                .get("error_description")
                .and_then(serde_json::Value::as_str)
                .unwrap_or("")
                .to_owned();
            let mut codes: Vec<u64> = v
                .get("error_codes")
                .and_then(serde_json::Value::as_array)
                .map(|a| a.iter().filter_map(serde_json::Value::as_u64).collect())
                .unwrap_or_default();
            if codes.is_empty() {
                codes.extend(aadsts_code(&description));
            }
            TokenError::Rejected {
                url: url.to_owned(),
                status,
                error: error.to_owned(),
                description,
                codes,
                method,
                presented: None,
            }
        }
        _ => TokenError::BadResponse {
            url: url.to_owned(),
            status,
            cause: String::from_utf8_lossy(body).chars().take(300).collect(),
        },
    }
}

/// `iss`, `sub`, `aud` (a string or the list joined with `,`) of claims.
fn presented_claims(c: &serde_json::Value) -> Presented {
    let text = |k: &str| match c.get(k) {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Array(a)) => {
            a.iter().filter_map(serde_json::Value::as_str).collect::<Vec<_>>().join(",")
        }
        _ => String::new(),
    };
    Presented { issuer: text("iss"), subject: text("sub"), audience: text("aud") }
}

/// `AADSTS700027: ...` -> 700027.
fn aadsts_code(description: &str) -> Option<u64> {
    let rest = &description[description.find("AADSTS")? + 6..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// 128 random bits, hex: a `jti`.
fn random_id() -> String {
    let mut bytes = [0u8; 16];
    if aws_lc_rs::rand::fill(&mut bytes).is_err() {
        // Uniqueness is what a jti needs; the clock gives it.
        bytes = jiff::Timestamp::now().as_nanosecond().to_le_bytes();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aadsts_code_from_description() {
        assert_eq!(aadsts_code("AADSTS700027: Client assertion"), Some(700027));
        assert_eq!(aadsts_code("nothing"), None);
    }

    #[test]
    fn refusal_without_codes_reads_the_description() {
        let e = parse_refusal(
            "u",
            401,
            br#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided."}"#,
            "client-secret",
        );
        assert_eq!(e.codes(), &[7000215]);
        assert!(e.explanation().contains("client_secret_env"));
        let e = parse_refusal("u", 502, b"<html>bad gateway</html>", "certificate");
        assert!(matches!(e, TokenError::BadResponse { status: 502, .. }));
    }

    #[test]
    fn token_answer_errors_never_quote_the_body() {
        let e = parse_token(
            "u",
            br#"{"access_token":"SECRET-TOKEN","token_type":"mac","expires_in":1}"#,
        )
        .unwrap_err();
        assert!(!format!("{e} {e:?}").contains("SECRET-TOKEN"));
        let (t, life) = parse_token(
            "u",
            br#"{"access_token":"abc","token_type":"Bearer","expires_in":"3599"}"#,
        )
        .unwrap();
        assert_eq!(t.expose_secret(), "abc");
        assert_eq!(life, Duration::from_secs(3599));
    }
}
