//! The HTTP side: one reqwest client (TLS as configured), the
//! `Authorization` header (a bearer token, or an OAuth 2.0 client-credentials
//! token renewed before it expires), at most `concurrency` requests in
//! flight, at most `rate_limit` request starts per second, and 429/503
//! answered by waiting as `Retry-After` says (seconds or an HTTP date).

use std::time::{Duration, Instant};

use reqwest::header::{
    ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue, IF_MATCH, RETRY_AFTER,
};
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use tokio::sync::{Mutex, Semaphore};

use hrsync_target::TargetError;

use crate::config::{AuthMethod, ConfigError, ScimConfig};

const SCIM_JSON: &str = "application/scim+json";

/// How often a 429/503 is waited out before the call is given up (the
/// engine escrows the worker then).
const MAX_RETRIES: u32 = 5;
/// A `Retry-After` longer than this is not waited for in the cycle: the
/// worker is escrowed instead.
const MAX_WAIT: Duration = Duration::from_secs(120);

/// The CA certificates of `ca_file`, if one is given.
pub(crate) fn root_certificates(
    config: &ScimConfig,
) -> Result<Option<Vec<reqwest::Certificate>>, ConfigError> {
    let Some(path) = &config.ca_file else { return Ok(None) };
    let bad = |reason: String| ConfigError { field: "ca_file", reason };
    let pem = std::fs::read(path).map_err(|e| bad(format!("{}: {e}", path.display())))?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem)
        .map_err(|e| bad(format!("{}: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(bad(format!("{}: no PEM certificate in it", path.display())));
    }
    Ok(Some(certs))
}

/// A response, read whole.
#[derive(Debug)]
pub(crate) struct Answer {
    pub status: StatusCode,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> Option<Value> {
        serde_json::from_str(&self.body).ok()
    }
}

struct OauthToken {
    token: SecretString,
    renew_at: Instant,
}

pub(crate) struct Service {
    client: reqwest::Client,
    config: ScimConfig,
    permits: Semaphore,
    /// The earliest start of the next request under `rate_limit`.
    next_start: Mutex<Instant>,
    oauth: Mutex<Option<OauthToken>>,
    /// Requests and answers kept for `hrsync on-demand` (`None`: not kept).
    exchanges: std::sync::Mutex<Option<Vec<String>>>,
}

impl Service {
    pub fn new(config: ScimConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let mut builder = reqwest::Client::builder()
            .timeout(config.request_timeout())
            .connect_timeout(config.request_timeout())
            .danger_accept_invalid_certs(!config.tls_verify)
            .user_agent(concat!("hrsync/", env!("CARGO_PKG_VERSION")));
        if let Some(certs) = root_certificates(&config)? {
            builder = builder.tls_certs_only(certs);
        }
        let client = builder
            .build()
            .map_err(|e| ConfigError { field: "url", reason: format!("HTTP client: {e}") })?;
        let permits = Semaphore::new(config.concurrency.max(1));
        Ok(Service {
            client,
            config,
            permits,
            next_start: Mutex::new(Instant::now()),
            oauth: Mutex::new(None),
            exchanges: std::sync::Mutex::new(None),
        })
    }

    pub fn config(&self) -> &ScimConfig {
        &self.config
    }

    /// Keep (or stop keeping) the requests sent and their answers.
    pub fn record(&self, on: bool) {
        let mut e = self.exchanges.lock().unwrap_or_else(|p| p.into_inner());
        *e = on.then(Vec::new);
    }

    /// The kept requests and answers since the last call.
    pub fn take_exchanges(&self) -> Vec<String> {
        let mut e = self.exchanges.lock().unwrap_or_else(|p| p.into_inner());
        e.as_mut().map(std::mem::take).unwrap_or_default()
    }

    fn keep(&self, text: impl FnOnce() -> String) {
        let mut e = self.exchanges.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(list) = e.as_mut() {
            list.push(text());
        }
    }

    /// `{base}{path}` (path starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.config.base())
    }

    async fn pace(&self) {
        let Some(rate) = self.config.rate_limit else { return };
        let interval = Duration::from_secs_f64(1.0 / rate);
        let wait = {
            let mut next = self.next_start.lock().await;
            let now = Instant::now();
            let start = (*next).max(now);
            *next = start + interval;
            start - now
        };
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }

    async fn authorization(&self, operation: &'static str) -> Result<HeaderValue, TargetError> {
        let token = match self.config.method {
            AuthMethod::Bearer => {
                self.config.token.as_ref().map(|t| t.expose_secret().to_owned()).unwrap_or_default()
            }
            AuthMethod::Oauth2 => self.oauth_token(operation).await?,
        };
        let mut v = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
            TargetError::Rejected {
                operation,
                message: "the token holds characters an HTTP header cannot carry".into(),
            }
        })?;
        // Keeps the header out of reqwest's and hyper's Debug output.
        v.set_sensitive(true);
        Ok(v)
    }

    /// The cached client-credentials token, renewed a minute before it expires.
    async fn oauth_token(&self, operation: &'static str) -> Result<String, TargetError> {
        let mut cached = self.oauth.lock().await;
        if let Some(t) = cached.as_ref()
            && Instant::now() < t.renew_at
        {
            return Ok(t.token.expose_secret().to_owned());
        }
        let c = &self.config;
        let secret =
            c.client_secret.as_ref().map(|s| s.expose_secret().to_owned()).unwrap_or_default();
        let mut form = vec![
            ("grant_type", "client_credentials".to_owned()),
            ("client_id", c.client_id.clone().unwrap_or_default()),
            ("client_secret", secret),
        ];
        if let Some(scope) = &c.scope {
            form.push(("scope", scope.clone()));
        }
        let token_url = c.token_url.clone().unwrap_or_default();
        let unavailable = |message: String| TargetError::Unavailable { operation, message };
        let response = self.client.post(&token_url).form(&form).send().await.map_err(|e| {
            let message = format!("OAuth token from {token_url}: {}", transport(&e));
            if e.is_connect() {
                TargetError::Unreachable { operation, message }
            } else {
                unavailable(message)
            }
        })?;
        let status = response.status();
        let body = response.text().await.map_err(|e| unavailable(format!("OAuth token: {e}")))?;
        if !status.is_success() {
            // The body is the token endpoint's error (RFC 6749 §5.2), no secret.
            let message = format!(
                "OAuth token from {token_url}: {}",
                crate::request_builder::error_text(status.as_u16(), &body)
            );
            // A refused client (RFC 6749 invalid_client, 401) refuses
            // hrsync itself, whatever the worker.
            return Err(if status.is_server_error() {
                unavailable(message)
            } else {
                TargetError::Unreachable { operation, message }
            });
        }
        let v: Value = serde_json::from_str(&body)
            .map_err(|e| unavailable(format!("OAuth token from {token_url}: not JSON: {e}")))?;
        let Some(token) = v.get("access_token").and_then(Value::as_str) else {
            return Err(unavailable(format!("OAuth token from {token_url}: no access_token")));
        };
        let lifetime = v.get("expires_in").and_then(Value::as_u64).unwrap_or(3600);
        let renew_at = Instant::now() + Duration::from_secs(lifetime.saturating_sub(60).max(1));
        *cached = Some(OauthToken { token: SecretString::from(token.to_owned()), renew_at });
        Ok(token.to_owned())
    }

    /// Send a request (JSON body if given) and read the answer. 429 and
    /// 503 are waited out as `Retry-After` says, up to [`MAX_RETRIES`]
    /// times; transport failures and timeouts are `Unavailable`.
    pub async fn send(
        &self,
        operation: &'static str,
        method: Method,
        url: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<Answer, TargetError> {
        self.send_if_match(operation, method, url, query, body, None).await
    }

    /// [`Service::send`] with `If-Match: version` when a version is given
    /// (RFC 7644 §3.14): the server answers 412 if the resource changed.
    pub async fn send_if_match(
        &self,
        operation: &'static str,
        method: Method,
        url: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
        version: Option<&str>,
    ) -> Result<Answer, TargetError> {
        let mut attempt = 0;
        loop {
            let answer = {
                let _permit =
                    self.permits.acquire().await.map_err(|_| TargetError::Unavailable {
                        operation,
                        message: "the target is shutting down".into(),
                    })?;
                self.pace().await;
                let mut target = reqwest::Url::parse(url).map_err(|e| TargetError::Rejected {
                    operation,
                    message: format!("{url}: {e}"),
                })?;
                if !query.is_empty() {
                    // Encodes the filter (quotes, spaces, `&`) as a query value.
                    target.query_pairs_mut().extend_pairs(query);
                }
                let mut request = self
                    .client
                    .request(method.clone(), target)
                    .header(ACCEPT, SCIM_JSON)
                    .header(AUTHORIZATION, self.authorization(operation).await?);
                if let Some(b) = body {
                    request = request.header(CONTENT_TYPE, SCIM_JSON).body(b.to_string());
                }
                if let Some(v) = version {
                    request = request.header(IF_MATCH, v);
                }
                tracing::debug!(operation, %method, url, "SCIM request");
                let response = request.send().await.map_err(|e| {
                    let message = format!("{method} {url}: {}", transport(&e));
                    if e.is_connect() {
                        // Refused, no such host, or a failed TLS handshake:
                        // no worker is at fault, the cycle stops.
                        TargetError::Unreachable { operation, message }
                    } else {
                        TargetError::Unavailable { operation, message }
                    }
                })?;
                let status = response.status();
                let wait = retry_after(response.headers());
                let body = response.text().await.map_err(|e| TargetError::Unavailable {
                    operation,
                    message: format!("{method} {url}: reading the answer: {}", transport(&e)),
                })?;
                (Answer { status, body }, wait)
            };
            let (answer, wait) = answer;
            self.keep(|| exchange(&method, url, query, body, version, &answer));
            let throttled = matches!(
                answer.status,
                StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
            );
            if !throttled {
                if answer.status == StatusCode::UNAUTHORIZED
                    && self.config.method == AuthMethod::Oauth2
                {
                    // An expired or revoked token: fetch a new one next time.
                    *self.oauth.lock().await = None;
                }
                return Ok(answer);
            }
            attempt += 1;
            let wait = wait.unwrap_or_else(|| Duration::from_secs(1 << attempt.min(5)));
            if attempt > MAX_RETRIES || wait > MAX_WAIT {
                return Err(TargetError::Unavailable {
                    operation,
                    message: format!(
                        "{method} {url}: {} after {attempt} attempts",
                        crate::request_builder::error_text(answer.status.as_u16(), &answer.body)
                    ),
                });
            }
            tracing::info!(
                operation,
                url,
                status = answer.status.as_u16(),
                wait_ms = wait.as_millis() as u64,
                "SCIM server throttles; waiting as Retry-After says"
            );
            tokio::time::sleep(wait).await;
        }
    }
}

/// A request and its answer as people read them: method, URL with the
/// query decoded, `If-Match`, the body and the answer's status and body,
/// secrets redacted (the token is a header and never shown).
fn exchange(
    method: &Method,
    url: &str,
    query: &[(&str, &str)],
    body: Option<&Value>,
    version: Option<&str>,
    answer: &Answer,
) -> String {
    let mut out = format!("{method} {url}");
    for (i, (k, v)) in query.iter().enumerate() {
        out.push_str(&format!("{}{k}={v}", if i == 0 { '?' } else { '&' }));
    }
    if let Some(v) = version {
        out.push_str(&format!(" (If-Match: {v})"));
    }
    if let Some(b) = body {
        out.push_str(&format!(" {}", crate::request_builder::redacted(b)));
    }
    let shown = match answer.json() {
        Some(v) => crate::request_builder::redacted(&v).to_string(),
        None => answer.body.chars().take(300).collect(),
    };
    out.push_str(&format!(" -> HTTP {}", answer.status.as_u16()));
    if !shown.is_empty() {
        out.push_str(&format!(" {shown}"));
    }
    out
}

/// A transport error, with its causes (reqwest's Display says little).
fn transport(e: &reqwest::Error) -> String {
    let mut out = if e.is_timeout() { "timed out".to_owned() } else { e.to_string() };
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        out.push_str(&format!(": {s}"));
        source = s.source();
    }
    out
}

/// `Retry-After` as seconds or an HTTP date (RFC 9110 §10.2.3).
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let text = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    parse_retry_after(text, jiff::Timestamp::now())
}

pub(crate) fn parse_retry_after(text: &str, now: jiff::Timestamp) -> Option<Duration> {
    if let Ok(secs) = text.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = jiff::fmt::rfc2822::parse(text).ok()?.timestamp();
    let d = at.duration_since(now);
    Some(Duration::try_from(d).unwrap_or(Duration::ZERO))
}
