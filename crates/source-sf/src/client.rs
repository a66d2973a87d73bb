//! The HTTP side: one `reqwest` client, authentication, retries that honour
//! `Retry-After`, and page-by-page reading that follows `__next` verbatim.
//!
//! With a [`TokenProvider`] every request carries `Authorization: Bearer`. A
//! request answered 401, or 403 `[LGN0022]` (SuccessFactors' "access token
//! expired"), makes the provider drop that token and is retried once with a
//! fresh one; a second refusal is returned, never retried again.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use hrsync_sf_auth::{AuthConfig, AuthError, TokenProvider};
use reqwest::{StatusCode, Url};
use secrecy::{ExposeSecret, SecretString};

use crate::query::PersonQuery;
use crate::wire::{self, Page, parse_error_body};

/// How hrsync proves who it is to SuccessFactors.
#[derive(Clone)]
pub enum Credentials {
    /// `Authorization: Basic base64(username@companyId:password)`. SAP retired
    /// basic authentication for the OData APIs on 2026-11-20; it remains for
    /// sandboxes and the emulator.
    Basic { username: String, company_id: String, password: SecretString },
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::Basic { username, company_id, .. } => f
                .debug_struct("Basic")
                .field("username", username)
                .field("company_id", company_id)
                .field("password", &"<redacted>")
                .finish(),
        }
    }
}

/// When and how long to retry a request that failed for a reason that may pass.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts in total, the first included.
    pub max_attempts: u32,
    /// First backoff; doubles per attempt up to `max_delay`.
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// Upper bound on a server's `Retry-After` (SuccessFactors asks for 300 s).
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 8,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(300),
        }
    }
}

/// Connection settings for one SuccessFactors tenant.
#[derive(Debug, Clone)]
pub struct SourceConfig {
    /// The API server, e.g. `https://api4.successfactors.com`; `/odata/v2/` is appended.
    pub base_url: String,
    pub credentials: Credentials,
    pub timeout: Duration,
    pub retry: RetryPolicy,
    /// Extra CA certificate (PEM) to trust, e.g. a TLS-inspecting proxy.
    pub ca_file: Option<PathBuf>,
    /// Turns TLS certificate verification off. Only for test set-ups; never default.
    pub danger_accept_invalid_certs: bool,
    /// OAuth bearer tokens (saml-bearer, workload-identity). When set, requests
    /// carry its tokens and `credentials` are not sent.
    pub token_provider: Option<TokenProvider>,
}

impl SourceConfig {
    pub fn new(base_url: impl Into<String>, credentials: Credentials) -> Self {
        SourceConfig {
            base_url: base_url.into(),
            credentials,
            timeout: Duration::from_secs(120),
            retry: RetryPolicy::default(),
            ca_file: None,
            danger_accept_invalid_certs: false,
            token_provider: None,
        }
    }

    /// Applies an `auth` block: `basic` replaces `credentials`; the token
    /// methods install a [`TokenProvider`] whose token requests use the same
    /// TLS settings (`ca_file`, `danger_accept_invalid_certs`) and timeout as
    /// OData requests. Keys and certificates are read and checked here.
    pub fn with_auth(mut self, auth: &AuthConfig) -> Result<Self, SourceError> {
        if let Some((username, company_id, password)) = auth.basic_credentials()? {
            self.credentials = Credentials::Basic { username, company_id, password };
            self.token_provider = None;
            return Ok(self);
        }
        let http = self
            .http_builder()?
            .build()
            .map_err(|e| SourceError::Config(format!("HTTP client: {e}")))?;
        self.token_provider =
            Some(TokenProvider::new(auth, &self.base_url, http, Default::default())?);
        Ok(self)
    }

    /// An HTTP client builder with this source's timeout, CA file and TLS
    /// verification: for anything that talks to SuccessFactors or its token
    /// services on the source's behalf (`hrsync check`).
    pub fn http_builder(&self) -> Result<reqwest::ClientBuilder, SourceError> {
        let mut builder = reqwest::Client::builder()
            .timeout(self.timeout)
            .connect_timeout(Duration::from_secs(15))
            .user_agent(concat!("hrsync/", env!("CARGO_PKG_VERSION")));
        if let Some(ca) = &self.ca_file {
            let pem = std::fs::read(ca)
                .map_err(|e| SourceError::Config(format!("ca_file {}: {e}", ca.display())))?;
            let cert = reqwest::Certificate::from_pem(&pem)
                .map_err(|e| SourceError::Config(format!("ca_file {}: {e}", ca.display())))?;
            builder = builder.add_root_certificate(cert);
        }
        if self.danger_accept_invalid_certs {
            builder = builder.tls_danger_accept_invalid_certs(true);
        }
        Ok(builder)
    }
}

/// Everything that can go wrong talking to SuccessFactors.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("invalid SuccessFactors source configuration: {0}")]
    Config(String),
    #[error("SuccessFactors rejected the request {url}: HTTP {status} {code}: {message}")]
    Rejected { url: String, status: u16, code: String, message: String },
    #[error("SuccessFactors refused the credentials for {url}: HTTP {status}: {message}")]
    Unauthorized { url: String, status: u16, message: String },
    #[error("request {url} still failing after {attempts} attempts: {cause}")]
    Exhausted { url: String, attempts: u32, cause: String },
    #[error(
        "SuccessFactors sent a next-page link to another server ({next}); refusing to send credentials there"
    )]
    ForeignNextLink { next: String },
    /// Getting a token failed; [`AuthError::explanation`] says what to check.
    #[error(transparent)]
    Auth(#[from] AuthError),
}

/// A SuccessFactors OData v2 client.
pub struct SfClient {
    http: reqwest::Client,
    root: Url,
    credentials: Credentials,
    tokens: Option<TokenProvider>,
    retry: RetryPolicy,
}

impl SfClient {
    pub fn new(config: &SourceConfig) -> Result<Self, SourceError> {
        let mut root = Url::parse(&config.base_url)
            .map_err(|e| SourceError::Config(format!("base_url `{}`: {e}", config.base_url)))?;
        if !matches!(root.scheme(), "http" | "https") {
            return Err(SourceError::Config(format!(
                "base_url `{}` must be http or https",
                config.base_url
            )));
        }
        let path = root.path().trim_end_matches('/').to_owned();
        let path = if path.ends_with("/odata/v2") {
            format!("{path}/")
        } else {
            format!("{path}/odata/v2/")
        };
        root.set_path(&path);

        // Snapshot paging ties pages to the session the first response opens.
        let builder = config.http_builder()?.cookie_store(true);
        if config.danger_accept_invalid_certs {
            tracing::warn!(message = "TLS certificate verification is OFF for SuccessFactors.", url = %root);
        }
        let http = builder.build().map_err(|e| SourceError::Config(format!("HTTP client: {e}")))?;
        match (&config.token_provider, &config.credentials) {
            (Some(p), _) => tracing::info!(
                message = "Authenticating to SuccessFactors with OAuth bearer tokens.",
                method = p.method()
            ),
            (None, Credentials::Basic { .. }) => tracing::warn!(
                message = "Using basic authentication: SAP retired it for the SuccessFactors OData API on 2026-11-20; it works only on sandboxes and the emulator."
            ),
        }
        Ok(SfClient {
            http,
            root,
            credentials: config.credentials.clone(),
            tokens: config.token_provider.clone(),
            retry: config.retry.clone(),
        })
    }

    /// The OData root every relative URL is resolved against (`.../odata/v2/`).
    pub fn root(&self) -> &Url {
        &self.root
    }

    /// The bearer token provider, when OAuth is in use.
    pub fn token_provider(&self) -> Option<&TokenProvider> {
        self.tokens.as_ref()
    }

    /// Count the persons matching a query's filter (`PerPerson/$count`): the
    /// cheap probe that lets an idle incremental cycle cost one request.
    pub async fn count(&self, query: &PersonQuery) -> Result<u64, SourceError> {
        let url = self.resolve(&query.count_url())?;
        let body = self.get(&url).await?;
        let text = String::from_utf8_lossy(&body);
        text.trim().parse().map_err(|_| SourceError::Exhausted {
            url: url.to_string(),
            attempts: 1,
            cause: format!(
                "$count answered `{}`, not an integer",
                text.chars().take(80).collect::<String>()
            ),
        })
    }

    /// Read a query page by page. Memory holds one page at a time.
    pub fn persons(&self, query: &PersonQuery) -> Result<PageStream<'_>, SourceError> {
        let first = self.resolve(&query.relative_url())?;
        Ok(PageStream { client: self, next: Some(first), pages: 0, keep: query.keep.clone() })
    }

    fn resolve(&self, relative: &str) -> Result<Url, SourceError> {
        self.root
            .join(relative)
            .map_err(|e| SourceError::Config(format!("bad request URL `{relative}`: {e}")))
    }

    /// GET with authentication and retries; returns the body of a 2xx answer.
    async fn get(&self, url: &Url) -> Result<Vec<u8>, SourceError> {
        self.with_retries(url, |body| Ok(body.to_vec())).await
    }

    /// Run a GET until `accept` takes the body, retrying transport errors,
    /// 429/5xx and bodies `accept` rejects as damaged (truncated JSON).
    async fn with_retries<T>(
        &self,
        url: &Url,
        // A borrowed body: a page is parsed in place, not copied first.
        mut accept: impl FnMut(&[u8]) -> Result<T, String>,
    ) -> Result<T, SourceError> {
        let mut attempt = 0u32;
        let mut refreshed = false;
        loop {
            attempt += 1;
            let started = Instant::now();
            let cause;
            let mut wait = backoff(&self.retry, attempt);
            let token = match &self.tokens {
                Some(p) => Some(p.bearer().await?),
                None => None,
            };
            match self.send(url, token.as_ref()).await {
                Ok(resp) => {
                    let status = resp.status();
                    let retry_after = resp
                        .headers()
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(parse_retry_after);
                    let body = resp.bytes().await;
                    tracing::debug!(
                        message = "SuccessFactors request.",
                        url = %url,
                        status = status.as_u16(),
                        ms = started.elapsed().as_millis() as u64,
                        attempt
                    );
                    match (status, body) {
                        (s, Ok(body)) if s.is_success() => match accept(&body) {
                            Ok(v) => return Ok(v),
                            Err(e) => cause = format!("damaged response body: {e}"),
                        },
                        (s, Err(e)) if s.is_success() => {
                            cause = format!("reading the response body: {e}")
                        }
                        (StatusCode::TOO_MANY_REQUESTS, _) => {
                            cause = "HTTP 429 Too Many Requests".to_owned();
                            if let Some(after) = retry_after {
                                wait = after.min(self.retry.max_retry_after);
                            }
                        }
                        (s, _) if s.is_server_error() => {
                            cause = format!("HTTP {}", s.as_u16());
                            if let Some(after) = retry_after {
                                wait = after.min(self.retry.max_retry_after);
                            }
                        }
                        (s, body) => {
                            let body = body.map(|b| b.to_vec()).unwrap_or_default();
                            let parsed = parse_error_body(&body);
                            let message =
                                parsed.as_ref().map(|e| e.message.clone()).unwrap_or_else(|| {
                                    String::from_utf8_lossy(&body).chars().take(300).collect()
                                });
                            let token_refused = s == StatusCode::UNAUTHORIZED
                                || (s == StatusCode::FORBIDDEN && message.contains("LGN0022"));
                            if let (Some(provider), Some(token), true, false) =
                                (&self.tokens, &token, token_refused, refreshed)
                            {
                                tracing::debug!(message = "SuccessFactors refused the access token; refreshing once.", url = %url, status = s.as_u16());
                                provider.invalidate(token);
                                refreshed = true;
                                attempt -= 1;
                                continue;
                            }
                            if s == StatusCode::UNAUTHORIZED || s == StatusCode::FORBIDDEN {
                                return Err(SourceError::Unauthorized {
                                    url: url.to_string(),
                                    status: s.as_u16(),
                                    message,
                                });
                            }
                            return Err(SourceError::Rejected {
                                url: url.to_string(),
                                status: s.as_u16(),
                                code: parsed.map(|e| e.code).unwrap_or_default(),
                                message,
                            });
                        }
                    }
                }
                Err(e) => cause = format!("transport error: {}", hrsync_sf_auth::error_chain(&e)),
            }
            if attempt >= self.retry.max_attempts {
                return Err(SourceError::Exhausted {
                    url: url.to_string(),
                    attempts: attempt,
                    cause,
                });
            }
            tracing::warn!(
                message = "Retrying SuccessFactors request.",
                url = %url,
                attempt,
                wait_ms = wait.as_millis() as u64,
                %cause
            );
            tokio::time::sleep(wait).await;
        }
    }

    async fn send(
        &self,
        url: &Url,
        token: Option<&SecretString>,
    ) -> Result<reqwest::Response, reqwest::Error> {
        let req = self.http.get(url.clone()).header(reqwest::header::ACCEPT, "application/json");
        let req = match (token, &self.credentials) {
            (Some(token), _) => req.bearer_auth(token.expose_secret()),
            (None, Credentials::Basic { username, company_id, password }) => {
                req.basic_auth(format!("{username}@{company_id}"), Some(password.expose_secret()))
            }
        };
        req.send().await
    }
}

/// Pages of one query, read lazily.
pub struct PageStream<'c> {
    client: &'c SfClient,
    next: Option<Url>,
    pages: u32,
    keep: Option<std::sync::Arc<wire::Projection>>,
}

impl PageStream<'_> {
    /// The next page, or `None` after the last one.
    pub async fn next_page(&mut self) -> Result<Option<Page>, SourceError> {
        let Some(url) = self.next.take() else { return Ok(None) };
        let keep = self.keep.as_deref();
        let page = self
            .client
            .with_retries(&url, |body| {
                wire::parse_page_keeping(body, keep).map_err(|e| e.to_string())
            })
            .await?;
        self.pages += 1;
        if let Some(next) = &page.next {
            let next_url = Url::parse(next)
                .or_else(|_| self.client.root.join(next))
                .map_err(|_| SourceError::ForeignNextLink { next: next.clone() })?;
            if next_url.origin() != self.client.root.origin() {
                return Err(SourceError::ForeignNextLink { next: next.clone() });
            }
            self.next = Some(next_url);
        }
        Ok(Some(page))
    }

    /// Pages read so far.
    pub fn pages_read(&self) -> u32 {
        self.pages
    }
}

fn backoff(policy: &RetryPolicy, attempt: u32) -> Duration {
    let factor = 1u32.checked_shl(attempt.saturating_sub(1)).unwrap_or(u32::MAX);
    policy.base_delay.saturating_mul(factor).min(policy.max_delay)
}

/// `Retry-After` is either delta-seconds or an HTTP date.
fn parse_retry_after(v: &str) -> Option<Duration> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = jiff::fmt::rfc2822::parse(v).ok()?.timestamp();
    let now = jiff::Timestamp::now();
    Some(Duration::try_from(when.duration_since(now)).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after("300"), Some(Duration::from_secs(300)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let p = RetryPolicy::default();
        assert_eq!(backoff(&p, 1), Duration::from_millis(200));
        assert_eq!(backoff(&p, 3), Duration::from_millis(800));
        assert_eq!(backoff(&p, 40), p.max_delay);
    }

    #[test]
    fn root_gets_odata_path_and_debug_hides_password() {
        let creds = Credentials::Basic {
            username: "u".into(),
            company_id: "C".into(),
            password: SecretString::from("hunter2".to_owned()),
        };
        assert!(!format!("{creds:?}").contains("hunter2"));
        let c =
            SfClient::new(&SourceConfig::new("https://api4.successfactors.com:443", creds.clone()))
                .unwrap();
        assert_eq!(c.root().as_str(), "https://api4.successfactors.com/odata/v2/");
        let c = SfClient::new(&SourceConfig::new("http://127.0.0.1:9/odata/v2", creds.clone()))
            .unwrap();
        assert_eq!(c.root().as_str(), "http://127.0.0.1:9/odata/v2/");
        assert!(SfClient::new(&SourceConfig::new("ftp://x", creds)).is_err());
    }
}
