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

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hrsync_sf_auth::AuthError;
use hrsync_sf_auth::keys::{CertificateInfo, SigningKey};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

use crate::config::GraphConfig;

/// `client_assertion_type` of a JWT client assertion (RFC 7523).
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// Lifetime of a client assertion hrsync signs.
const ASSERTION_LIFETIME_SECS: i64 = 600;

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
        /// `certificate` or `client-secret`.
        method: &'static str,
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
            TokenError::CertificateValidity { .. } => "The certificate is outside its validity period: run `hrsync keys generate`, upload the new certificate.pem to the app registration (Certificates & secrets > Certificates) and point certificate_file and private_key_file at the new files.".into(),
            TokenError::Unreachable { url, .. } => format!(
                "hrsync could not reach {url}: check target.connection.login_url (https://login.microsoftonline.com for the public cloud, https://login.microsoftonline.us for US Government, https://login.chinacloudapi.cn for China), DNS, the proxy and the firewall."
            ),
            TokenError::BadResponse { url, .. } => format!(
                "{url} did not answer like an Entra ID token endpoint: check that target.connection.login_url is the Entra sign-in host."
            ),
            TokenError::Rejected { url, codes, method, description, .. } => {
                rejected_explanation(url, codes, method, description)
            }
        }
    }
}

fn rejected_explanation(url: &str, codes: &[u64], method: &str, description: &str) -> String {
    let has = |c: u64| codes.contains(&c);
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
                let x5t_s256 = URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(
                    &aws_lc_rs::digest::SHA256,
                    &certificate.der,
                ));
                Credential::Certificate {
                    key,
                    certificate_path: cert_path.clone(),
                    certificate,
                    x5t_s256,
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
                    cause: "no credential: set certificate_file + private_key_file or client_secret_env".into(),
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

    /// `certificate` or `client-secret`.
    pub fn method(&self) -> &'static str {
        match self.inner.credential {
            Credential::Certificate { .. } => "certificate",
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

    /// A freshly signed client assertion (certificate method only).
    pub fn client_assertion(&self) -> Result<SecretString, TokenError> {
        let Credential::Certificate { key, certificate_path, certificate, x5t_s256 } =
            &self.inner.credential
        else {
            return Err(TokenError::Config {
                field: "certificate_file",
                cause: "no certificate configured".into(),
            });
        };
        let now = self.now();
        let validity = |problem: String| TokenError::CertificateValidity {
            path: certificate_path.clone(),
            problem,
        };
        if now > certificate.not_after {
            return Err(validity(format!("expired on {}", certificate.not_after)));
        }
        if now < certificate.not_before {
            return Err(validity(format!("is not valid before {}", certificate.not_before)));
        }
        let iat = now.as_second();
        let header = json!({ "alg": "PS256", "typ": "JWT", "x5t#S256": x5t_s256 });
        let claims = json!({
            "aud": self.inner.token_url,
            "iss": self.inner.client_id,
            "sub": self.inner.client_id,
            "jti": random_id(),
            "nbf": iat,
            "iat": iat,
            "exp": iat.saturating_add(ASSERTION_LIFETIME_SECS),
        });
        let mut jwt = URL_SAFE_NO_PAD.encode(header.to_string());
        jwt.push('.');
        jwt.push_str(&URL_SAFE_NO_PAD.encode(claims.to_string()));
        let sig = key
            .sign_pss(jwt.as_bytes())
            .map_err(|e| TokenError::Config { field: "private_key_file", cause: e.to_string() })?;
        jwt.push('.');
        jwt.push_str(&URL_SAFE_NO_PAD.encode(sig));
        Ok(SecretString::from(jwt))
    }

    /// One token from the endpoint, bypassing the cache: (token, lifetime).
    async fn fetch(&self) -> Result<(SecretString, Duration), TokenError> {
        let inner = &self.inner;
        let assertion;
        let mut form: Vec<(&str, &str)> = vec![
            ("grant_type", "client_credentials"),
            ("client_id", inner.client_id.as_str()),
            ("scope", inner.scope.as_str()),
        ];
        match &inner.credential {
            Credential::Certificate { .. } => {
                assertion = self.client_assertion()?;
                form.push(("client_assertion_type", JWT_BEARER));
                form.push(("client_assertion", assertion.expose_secret()));
            }
            Credential::Secret(secret) => form.push(("client_secret", secret.expose_secret())),
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
            return Err(parse_refusal(url, status, &body, self.method()));
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
            }
        }
        _ => TokenError::BadResponse {
            url: url.to_owned(),
            status,
            cause: String::from_utf8_lossy(body).chars().take(300).collect(),
        },
    }
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
