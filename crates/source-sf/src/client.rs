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

use hrsync_display::escape;

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
    /// Upper bound on one wait a server's `Retry-After` asks for. Default
    /// 120 s: SuccessFactors' throttling asks for up to 300 s, and a server
    /// asking for an hour would otherwise hold a cycle "running" for
    /// `max_attempts` hours; with the default policy a request gives up
    /// after at most about 14 minutes of waiting.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 8,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(120),
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
            .user_agent(concat!("hrsync/", env!("CARGO_PKG_VERSION")))
            // The `__next` rule for redirects: followed only within the
            // origin asked (same scheme, host and port, so never https to
            // plain http), at most 5 hops. Any other is answered as it
            // came and reported with both URLs ([`SourceError::Redirected`]):
            // the credentials go to no other server.
            .redirect(reqwest::redirect::Policy::custom(|attempt| {
                let same_origin = attempt
                    .previous()
                    .first()
                    .is_some_and(|first| first.origin() == attempt.url().origin());
                if same_origin && attempt.previous().len() <= 5 {
                    attempt.follow()
                } else {
                    attempt.stop()
                }
            }));
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
///
/// The `url` fields hold the whole URL; messages show it shortened
/// ([`short_url`]: a full-sync URL is 1-2.5 KB), and everything the server
/// chose (messages, bodies, links) escaped for display
/// ([`hrsync_display::escape`]).
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("invalid SuccessFactors source configuration: {0}")]
    Config(String),
    #[error(
        "SuccessFactors rejected the request {}: HTTP {status} {}: {}",
        short_url(.url),
        escape(.code),
        escape(.message)
    )]
    Rejected { url: String, status: u16, code: String, message: String },
    #[error(
        "SuccessFactors refused the credentials for {}: HTTP {status}: {}",
        short_url(.url),
        escape(.message)
    )]
    Unauthorized { url: String, status: u16, message: String },
    #[error("request {} still failing after {attempts} attempts: {}", short_url(.url), escape(.cause))]
    Exhausted { url: String, attempts: u32, cause: String },
    /// A 2xx answer that is not what was asked for (an HTML login or
    /// maintenance page, a proxy's notice, JSON of another shape): reported
    /// at once, since asking again gets the same.
    #[error("SuccessFactors answered {} with HTTP {status} but {}", short_url(.url), escape(.what))]
    Unexpected { url: String, status: u16, what: String },
    #[error(
        "SuccessFactors answered {} with HTTP {status}, a redirect to {}: hrsync follows redirects only within the server asked (the credentials would go to another server, or over plain http); set source.url to the server that answers",
        short_url(.url),
        escape(&short_url(.location))
    )]
    Redirected { url: String, status: u16, location: String },
    /// The server's certificate was refused: not retried, another attempt
    /// meets the same certificate.
    #[error(
        "TLS certificate verification failed for {}: {}. Not retried: fix the server's certificate, or give its CA in source.ca_file",
        short_url(.url),
        escape(.cause)
    )]
    Tls { url: String, cause: String },
    #[error(
        "SuccessFactors sent a next-page link to another server ({}); refusing to send credentials there",
        escape(.next)
    )]
    ForeignNextLink { next: String },
    /// Paging that would never end: a `__next` link already followed, one
    /// that is not a URL, or a page with no records that still links on.
    #[error(
        "SuccessFactors paging stopped after {pages} page(s): the page of {} {reason} (next-page link {}); the read ends here instead of looping",
        short_url(.url),
        escape(&short_url(.next))
    )]
    Paging { url: String, next: String, pages: u32, reason: &'static str },
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
    /// The `Date` of the first answer since [`SfClient::mark_server_time`]
    /// (or since the client was made): SuccessFactors' clock, which its
    /// `lastModifiedDateTime` stamps follow, whatever this machine's says.
    server_time: std::sync::Mutex<Option<jiff::Timestamp>>,
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
            server_time: std::sync::Mutex::new(None),
        })
    }

    /// Forget the server time seen so far: [`SfClient::server_time`] then
    /// gives the `Date` of the next answer (the engine marks each cycle's
    /// start).
    pub fn mark_server_time(&self) {
        *self.server_time.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// SuccessFactors' clock as the `Date` header of the first answer since
    /// [`SfClient::mark_server_time`] said it (whole seconds); `None` before
    /// an answer, or when answers carry no readable `Date`.
    pub fn server_time(&self) -> Option<jiff::Timestamp> {
        *self.server_time.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Keep the `Date` of an answer if it is the first since the mark.
    fn saw_date(&self, date: Option<&str>) {
        let Some(at) = date.and_then(|d| jiff::fmt::rfc2822::parse(d).ok()) else { return };
        let mut seen = self.server_time.lock().unwrap_or_else(|p| p.into_inner());
        if seen.is_none() {
            *seen = Some(at.timestamp());
        }
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
        self.with_retries(&url, |body, content_type| {
            std::str::from_utf8(body).ok().and_then(|t| t.trim().parse().ok()).ok_or_else(|| {
                Unusable::Unexpected(format!("not a count: {}", describe_body(content_type, body)))
            })
        })
        .await
    }

    /// Read a query page by page. Memory holds one page at a time.
    pub fn persons(&self, query: &PersonQuery) -> Result<PageStream<'_>, SourceError> {
        let first = self.resolve(&query.relative_url())?;
        Ok(PageStream {
            client: self,
            next: Some(first),
            pages: 0,
            keep: query.keep.clone(),
            followed: std::collections::HashSet::new(),
        })
    }

    /// Read any collection URL (relative to the OData root) page by page,
    /// like [`SfClient::persons`].
    pub(crate) fn pages_of(&self, relative: &str) -> Result<PageStream<'_>, SourceError> {
        Ok(PageStream {
            client: self,
            next: Some(self.resolve(relative)?),
            pages: 0,
            keep: None,
            followed: std::collections::HashSet::new(),
        })
    }

    pub(crate) fn resolve(&self, relative: &str) -> Result<Url, SourceError> {
        self.root
            .join(relative)
            .map_err(|e| SourceError::Config(format!("bad request URL `{relative}`: {e}")))
    }

    /// Run a GET until `accept` takes the body, retrying transport errors,
    /// 429/5xx and bodies `accept` rejects as damaged (truncated JSON). A
    /// body `accept` finds unexpected, a redirect to elsewhere, a 4xx and a
    /// refused TLS certificate end it at once.
    async fn with_retries<T>(
        &self,
        url: &Url,
        // A borrowed body (a page is parsed in place, not copied first) and
        // its Content-Type.
        accept: impl FnMut(&[u8], Option<&str>) -> Result<T, Unusable>,
    ) -> Result<T, SourceError> {
        self.request_with_retries(url, None, accept).await
    }

    /// [`SfClient::with_retries`] for any request: a GET without `post`, a
    /// POST of the JSON body `post` with it (the upsert). The same
    /// authentication, retries and timeouts apply; a POST is retried like a
    /// GET, which is safe for upserts (writing the same records again
    /// leaves the same state).
    pub(crate) async fn request_with_retries<T>(
        &self,
        url: &Url,
        post: Option<&[u8]>,
        mut accept: impl FnMut(&[u8], Option<&str>) -> Result<T, Unusable>,
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
            match self.send(url, post, token.as_ref()).await {
                Ok(resp) => {
                    let status = resp.status();
                    let header = |name| {
                        resp.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
                    };
                    let retry_after =
                        header(reqwest::header::RETRY_AFTER).as_deref().and_then(parse_retry_after);
                    let content_type = header(reqwest::header::CONTENT_TYPE);
                    let location = header(reqwest::header::LOCATION);
                    // Any answer tells the server's time, an error's too.
                    self.saw_date(header(reqwest::header::DATE).as_deref());
                    // Where the answer came from: after a same-origin
                    // redirect, not `url`.
                    let answered = resp.url().clone();
                    let body = resp.bytes().await;
                    tracing::debug!(
                        message = "SuccessFactors request.",
                        url = %url,
                        status = status.as_u16(),
                        ms = started.elapsed().as_millis() as u64,
                        attempt
                    );
                    match (status, body) {
                        (s, Ok(body)) if s.is_success() => {
                            match accept(&body, content_type.as_deref()) {
                                Ok(v) => return Ok(v),
                                Err(Unusable::Damaged(e)) => {
                                    cause = format!("damaged response body: {e}")
                                }
                                Err(Unusable::Unexpected(what)) => {
                                    return Err(SourceError::Unexpected {
                                        url: url.to_string(),
                                        status: s.as_u16(),
                                        what,
                                    });
                                }
                            }
                        }
                        (s, Err(e)) if s.is_success() => {
                            cause = format!("reading the response body: {e}")
                        }
                        (s, _) if s.is_redirection() => {
                            return Err(SourceError::Redirected {
                                url: answered.to_string(),
                                status: s.as_u16(),
                                location: location
                                    .map(|l| answered.join(&l).map_or(l, |u| u.to_string()))
                                    .unwrap_or_else(|| "(no Location header)".to_owned()),
                            });
                        }
                        (s, body) if s == StatusCode::TOO_MANY_REQUESTS || s.is_server_error() => {
                            cause = match body
                                .ok()
                                .and_then(|b| describe_error(content_type.as_deref(), &b))
                            {
                                Some(said) => format!("HTTP {}: {said}", s.as_u16()),
                                None => format!("HTTP {}", s.as_u16()),
                            };
                            if let Some(after) = retry_after {
                                wait = retry_wait(&self.retry, after);
                            }
                        }
                        (s, body) => {
                            let body = body.map(|b| b.to_vec()).unwrap_or_default();
                            let parsed = parse_error_body(&body);
                            let message =
                                parsed.as_ref().map(|e| e.message.clone()).unwrap_or_else(|| {
                                    describe_error(content_type.as_deref(), &body)
                                        .unwrap_or_default()
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
                Err(e) => {
                    if let Some(refused) = tls_refusal(&e) {
                        return Err(SourceError::Tls { url: url.to_string(), cause: refused });
                    }
                    // The URL is in the error line already (shortened).
                    let e = e.without_url();
                    cause = format!("transport error: {}", hrsync_sf_auth::error_chain(&e))
                }
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
                url = %short_url(url.as_str()),
                attempt,
                wait_ms = wait.as_millis() as u64,
                cause = %escape(&cause)
            );
            tokio::time::sleep(wait).await;
        }
    }

    async fn send(
        &self,
        url: &Url,
        post: Option<&[u8]>,
        token: Option<&SecretString>,
    ) -> Result<reqwest::Response, reqwest::Error> {
        let req = match post {
            None => self.http.get(url.clone()),
            Some(body) => self
                .http
                .post(url.clone())
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.to_vec()),
        };
        let req = req.header(reqwest::header::ACCEPT, "application/json");
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
    /// Every URL requested so far: a `__next` back to one of them would
    /// loop for ever.
    followed: std::collections::HashSet<String>,
}

impl PageStream<'_> {
    /// The next page, or `None` after the last one. A page's records that
    /// cannot be read are in its [`Page::rejected`], the rest go on.
    pub async fn next_page(&mut self) -> Result<Option<Page>, SourceError> {
        let Some(url) = self.next.take() else { return Ok(None) };
        let keep = self.keep.as_deref();
        let page = self
            .client
            .with_retries(&url, |body, content_type| {
                if !looks_like_json_object(body) {
                    return Err(Unusable::Unexpected(format!(
                        "not an OData JSON page: {}",
                        describe_body(content_type, body)
                    )));
                }
                wire::parse_page_keeping(body, keep).map_err(|e| {
                    if e.is_truncation() {
                        Unusable::Damaged(e.to_string())
                    } else {
                        Unusable::Unexpected(format!("{e}; {}", describe_body(content_type, body)))
                    }
                })
            })
            .await?;
        self.pages += 1;
        self.followed.insert(url.to_string());
        if let Some(next) = &page.next {
            let paging = |reason| SourceError::Paging {
                url: url.to_string(),
                next: next.clone(),
                pages: self.pages,
                reason,
            };
            let next_url = Url::parse(next)
                .or_else(|_| self.client.root.join(next))
                .map_err(|_| paging("links on with something that is not a URL"))?;
            if next_url.origin() != self.client.root.origin() {
                return Err(SourceError::ForeignNextLink { next: next.clone() });
            }
            if self.followed.contains(next_url.as_str()) {
                return Err(paging("links back to a page already read"));
            }
            if page.is_empty() {
                return Err(paging("has no records but links on"));
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

/// Why `accept` did not take a 2xx body.
pub(crate) enum Unusable {
    /// Damaged in transit (cut short): another attempt may get it whole.
    Damaged(String),
    /// Not what was asked for: the same again next time, so not retried.
    Unexpected(String),
}

/// Whether a body could be a JSON object (an OData page or error), before
/// parsing it: an HTML page says so in its first byte.
pub(crate) fn looks_like_json_object(body: &[u8]) -> bool {
    body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
}

/// What a body is, for an error: its Content-Type, size and opening text.
pub(crate) fn describe_body(content_type: Option<&str>, body: &[u8]) -> String {
    let kind = content_type.unwrap_or("no Content-Type");
    if body.is_empty() {
        return format!("{kind}, empty body");
    }
    format!("{kind}, {} bytes: `{}`", body.len(), snippet(body, 160))
}

/// The opening `max` characters of a body as one line (whitespace runs
/// folded), `…` when cut.
pub fn snippet(body: &[u8], max: usize) -> String {
    let text = String::from_utf8_lossy(body);
    let folded = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if folded.chars().count() <= max {
        return folded;
    }
    let mut cut: String = folded.chars().take(max).collect();
    cut.truncate(cut.trim_end().len());
    cut.push('…');
    cut
}

/// What an error body says: SuccessFactors' message (JSON
/// `error.message.value`, or the XML `<error><code/><message/></error>` of
/// its Atom format) with its code, or else the body's opening text.
fn describe_error(content_type: Option<&str>, body: &[u8]) -> Option<String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return None;
    }
    let parsed = parse_error_body(body).or_else(|| wire::parse_xml_error_body(body));
    Some(match parsed {
        Some(e) if e.code.is_empty() => e.message,
        Some(e) => format!("{} {}", e.code, e.message),
        None => describe_body(content_type, body),
    })
}

/// The wait before retrying a request the server asked to be retried
/// `after` from now: never more than [`RetryPolicy::max_retry_after`].
fn retry_wait(policy: &RetryPolicy, after: Duration) -> Duration {
    after.min(policy.max_retry_after)
}

/// The reason, when a transport error is a TLS certificate (or other
/// handshake) refusal: the same server certificate comes back on every
/// attempt, so it is reported at once.
fn tls_refusal(e: &reqwest::Error) -> Option<String> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(tls) = as_rustls(err)
            && matches!(
                tls,
                rustls::Error::InvalidCertificate(_)
                    | rustls::Error::NoCertificatesPresented
                    | rustls::Error::UnsupportedNameType
                    | rustls::Error::InvalidCertRevocationList(_)
                    | rustls::Error::PeerIncompatible(_)
            )
        {
            return Some(tls.to_string());
        }
        cur = err.source();
    }
    None
}

/// The rustls error in `err`, also inside `io::Error`s wrapping each other
/// (as the TLS connector reports it); their `source()` skips it.
fn as_rustls<'e>(err: &'e (dyn std::error::Error + 'static)) -> Option<&'e rustls::Error> {
    if let Some(tls) = err.downcast_ref::<rustls::Error>() {
        return Some(tls);
    }
    let inner = err.downcast_ref::<std::io::Error>()?.get_ref()?;
    as_rustls(inner)
}

/// A URL short enough for an error line: kept whole up to 160 characters;
/// beyond, the origin and path with each query parameter's value cut to
/// its first 32 characters and its length (`$filter=lastModifiedDateTime%20ge…(1834 chars)`).
pub fn short_url(url: &str) -> String {
    const WHOLE: usize = 160;
    const VALUE: usize = 32;
    if url.chars().count() <= WHOLE {
        return url.to_owned();
    }
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut out: String = base.chars().take(WHOLE).collect();
    if base.chars().count() > WHOLE {
        out.push('…');
    }
    for (i, param) in query.split('&').filter(|p| !p.is_empty()).enumerate() {
        out.push(if i == 0 { '?' } else { '&' });
        let (name, value) = param.split_once('=').unwrap_or((param, ""));
        out.extend(name.chars().take(VALUE));
        if param.contains('=') {
            out.push('=');
        }
        let len = value.chars().count();
        if len <= VALUE {
            out.push_str(value);
        } else {
            out.extend(value.chars().take(VALUE));
            out.push_str(&format!("…({len} chars)"));
        }
    }
    out
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
    fn a_huge_retry_after_is_capped_at_two_minutes() {
        let p = RetryPolicy::default();
        assert_eq!(p.max_retry_after, Duration::from_secs(120));
        assert_eq!(retry_wait(&p, Duration::from_secs(86_400)), Duration::from_secs(120));
        assert_eq!(retry_wait(&p, Duration::from_secs(5)), Duration::from_secs(5));
        let worst: Duration = (1..p.max_attempts).map(|_| retry_wait(&p, Duration::MAX)).sum();
        assert!(worst <= Duration::from_secs(15 * 60), "{worst:?}");
    }

    #[test]
    fn long_urls_are_shortened_for_error_lines() {
        let short = "https://api4.successfactors.com/odata/v2/PerPerson?$format=json";
        assert_eq!(short_url(short), short);
        let filter = "x".repeat(1800);
        let long = format!(
            "https://api4.successfactors.com/odata/v2/PerPerson?$format=json&customPageSize=500&$filter={filter}&$expand=employmentNav"
        );
        let s = short_url(&long);
        assert_eq!(
            s,
            format!(
                "https://api4.successfactors.com/odata/v2/PerPerson?$format=json&customPageSize=500&$filter={}…(1800 chars)&$expand=employmentNav",
                "x".repeat(32)
            )
        );
        let path_only = format!("https://h/{}", "p".repeat(500));
        assert!(short_url(&path_only).chars().count() < 170);
    }

    #[test]
    fn snippets_fold_whitespace_and_cut() {
        assert_eq!(
            snippet(b"<html>\n  <title>Sign in</title>\n</html>", 100),
            "<html> <title>Sign in</title> </html>"
        );
        assert_eq!(snippet(b"abcdef ghi", 4), "abcd…");
        assert_eq!(snippet(b"abcd efg", 4), "abcd…");
        assert_eq!(snippet(b"abcd", 4), "abcd");
        assert_eq!(snippet(b"\xff\xfeok", 10), "\u{fffd}\u{fffd}ok");
    }

    #[test]
    fn error_descriptions_prefer_successfactors_message() {
        let json = br#"{"error":{"code":"COE_GENERAL_SERVER_FAILURE","message":{"lang":"en-US","value":"down"}}}"#;
        assert_eq!(describe_error(None, json).as_deref(), Some("COE_GENERAL_SERVER_FAILURE down"));
        let xml = br#"<?xml version="1.0"?><error xmlns="x"><code>C1</code><message lang="en">a &lt; b</message></error>"#;
        assert_eq!(describe_error(Some("application/xml"), xml).as_deref(), Some("C1 a < b"));
        let html = b"<html><body>Bad gateway</body></html>";
        let d = describe_error(Some("text/html"), html).unwrap_or_default();
        assert!(d.starts_with("text/html, 37 bytes: `<html><body>Bad gateway"), "{d}");
        assert_eq!(describe_error(None, b"  "), None);
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
