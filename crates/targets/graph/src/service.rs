//! The HTTP side of the Graph target: one reqwest client, the bearer token,
//! at most `concurrency` requests in flight, the write budget, 429/503/504
//! waited out as `Retry-After` says, and the `$batch` collector.
//!
//! Invariants:
//! - Every write goes through [`Service::write`]: writes issued together
//!   (the engine keeps many workers in flight) are collected into `$batch`
//!   requests of up to 20, a call's writes always in the same batch, so its
//!   `dependsOn` holds. Each call gets its own items' outcomes back.
//! - Items throttled inside a batch (429 with the item's `Retry-After`) are
//!   sent again after the wait; items that succeeded are never resent.
//! - No more than `write_budget` write items start in any window of
//!   `write_window` (150 s): the budget is taken before a batch is sent, so
//!   hrsync stays under Graph's 3,000 writes per 150 s instead of bouncing
//!   off it. `x-ms-throttle-limit-percentage` (Graph's warning that a limit
//!   is near) slows the writers down before Graph refuses them.
//! - The token never appears in logs, errors or recorded exchanges.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use tokio::sync::{Mutex, Semaphore, mpsc, oneshot};

use hrsync_target::TargetError;

use crate::config::GraphConfig;
use crate::request_builder::{self as rb, ItemOutcome, MAX_BATCH, Write};

/// How often a throttled request is waited out before the call is given
/// up (the engine escrows the worker then).
const MAX_RETRIES: u32 = 6;
/// A `Retry-After` longer than this is not waited for in the cycle.
const MAX_WAIT: Duration = Duration::from_secs(150);
/// How long the collector waits for more writes before sending a batch
/// that is not full: long enough for the engine's concurrent workers to
/// join, short against a request's own round trip.
const LINGER: Duration = Duration::from_millis(3);

/// Where bearer tokens come from (the token client; a fixed token in
/// tests). A small trait so the HTTP side does not care how a token is got.
#[async_trait]
pub trait Bearer: Send + Sync {
    /// A valid token, or why there is none, in words an admin can act on.
    async fn token(&self) -> Result<SecretString, String>;
    /// The token was refused (401): drop it if it is still the cached one.
    fn invalidate(&self, token: &SecretString);
}

/// No token at all: for a Graph double with no app registered.
pub struct NoBearer;

#[async_trait]
impl Bearer for NoBearer {
    async fn token(&self) -> Result<SecretString, String> {
        Ok(SecretString::from(String::new()))
    }
    fn invalidate(&self, _: &SecretString) {}
}

/// A response, read whole.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: StatusCode,
    pub body: String,
    pub headers: HeaderMap,
}

impl Answer {
    pub fn json(&self) -> Option<Value> {
        serde_json::from_str(&self.body).ok()
    }
}

/// Write starts in the last window: `reserve` answers how long to wait
/// before `n` more fit. A write counts from its reservation and, once its
/// batch is answered, from the answer ([`WriteBudget::settle`]): Graph
/// counts it somewhere in between, so the budget never sees a write leave
/// the window before Graph does. Pure over the instants it is given.
#[derive(Debug)]
pub struct WriteBudget {
    limit: usize,
    window: Duration,
    /// When writes counted (multiset: instant -> writes).
    sent: BTreeMap<Instant, usize>,
    total: usize,
}

impl WriteBudget {
    pub fn new(limit: u32, window: Duration) -> Self {
        WriteBudget { limit: limit.max(1) as usize, window, sent: BTreeMap::new(), total: 0 }
    }

    fn expire(&mut self, now: Instant) {
        while let Some((t, n)) = self.sent.first_key_value() {
            if now.duration_since(*t) < self.window {
                break;
            }
            self.total -= *n;
            self.sent.pop_first();
        }
    }

    /// Take `n` writes at `now` (`None`), or the wait until they fit.
    pub fn reserve(&mut self, n: usize, now: Instant) -> Option<Duration> {
        self.expire(now);
        let n = n.min(self.limit);
        if self.total + n <= self.limit {
            *self.sent.entry(now).or_insert(0) += n;
            self.total += n;
            return None;
        }
        // The oldest writes that must leave the window for `n` to fit.
        let mut must_leave = self.total + n - self.limit;
        for (t, count) in &self.sent {
            if *count >= must_leave {
                let free = *t + self.window;
                return Some(free.saturating_duration_since(now).max(Duration::from_millis(1)));
            }
            must_leave -= count;
        }
        Some(self.window)
    }

    /// `n` writes reserved at `reserved` were answered at `answered`: they
    /// count from then.
    pub fn settle(&mut self, reserved: Instant, n: usize, answered: Instant) {
        let Some(count) = self.sent.get_mut(&reserved) else { return };
        let moved = n.min(*count);
        *count -= moved;
        if *count == 0 {
            self.sent.remove(&reserved);
        }
        *self.sent.entry(answered.max(reserved)).or_insert(0) += moved;
    }
}

/// Writes of one call waiting for a batch, and where their outcomes go.
struct Pending {
    writes: Vec<Write>,
    reply: oneshot::Sender<Result<Vec<(String, ItemOutcome)>, TargetError>>,
}

/// Counters for tests and benchmarks.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    pub requests: u64,
    pub batches: u64,
    pub batch_items: u64,
    pub throttled: u64,
    pub budget_waits: u64,
    /// Pauses because Graph said a limit was near.
    pub slowdowns: u64,
}

struct Core {
    client: reqwest::Client,
    config: GraphConfig,
    bearer: Box<dyn Bearer>,
    permits: Semaphore,
    budget: Mutex<WriteBudget>,
    /// Writers hold back until then (Graph warned that a limit is near).
    slow_until: std::sync::Mutex<Option<Instant>>,
    stats: std::sync::Mutex<Stats>,
    /// Requests and answers kept for `hrsync on-demand` (`None`: not kept).
    exchanges: std::sync::Mutex<Option<Vec<String>>>,
    batch_size: usize,
}

pub(crate) struct Service {
    core: Arc<Core>,
    queue: OnceLock<mpsc::UnboundedSender<Pending>>,
}

fn locked<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A configuration problem found while building the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("target.connection.{field}: {reason}")]
pub struct ServiceError {
    pub field: &'static str,
    pub reason: String,
}

impl Service {
    pub fn new(
        config: GraphConfig,
        bearer: Box<dyn Bearer>,
        client: reqwest::Client,
    ) -> Result<Self, ServiceError> {
        let batch_size = MAX_BATCH.min(config.write_budget.max(1) as usize);
        let window = Duration::from_secs(config.write_window_secs.max(1));
        Ok(Service {
            core: Arc::new(Core {
                client,
                permits: Semaphore::new(config.concurrency.max(1)),
                budget: Mutex::new(WriteBudget::new(config.write_budget, window)),
                config,
                bearer,
                slow_until: std::sync::Mutex::new(None),
                stats: std::sync::Mutex::new(Stats::default()),
                exchanges: std::sync::Mutex::new(None),
                batch_size,
            }),
            queue: OnceLock::new(),
        })
    }

    /// The reqwest client this target uses (TLS as configured).
    pub fn http_client(config: &GraphConfig) -> Result<reqwest::Client, ServiceError> {
        reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .connect_timeout(Duration::from_secs(15))
            .danger_accept_invalid_certs(config.tls_insecure)
            .user_agent(concat!("hrsync/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ServiceError { field: "graph_url", reason: format!("HTTP client: {e}") })
    }

    pub fn config(&self) -> &GraphConfig {
        &self.core.config
    }

    pub fn stats(&self) -> Stats {
        *locked(&self.core.stats)
    }

    /// `{graph_url}/v1.0{path}`.
    pub fn url(&self, path: &str) -> String {
        self.core.url(path)
    }

    pub fn record(&self, on: bool) {
        *locked(&self.core.exchanges) = on.then(Vec::new);
    }

    pub fn take_exchanges(&self) -> Vec<String> {
        locked(&self.core.exchanges).as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// One request outside a batch (reads; `check`).
    pub async fn send(
        &self,
        operation: &'static str,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Answer, TargetError> {
        self.core.send(operation, method, &self.core.url(path), body).await
    }

    /// Reads in one `$batch` (up to 20 GETs): no write budget is taken.
    /// Each item's outcome, in order; 429 items are retried after the wait.
    pub async fn read_batch(
        &self,
        operation: &'static str,
        paths: &[String],
    ) -> Result<Vec<ItemOutcome>, TargetError> {
        let writes: Vec<Write> = paths
            .iter()
            .enumerate()
            .map(|(i, p)| Write {
                key: i.to_string(),
                method: rb::Method::Get,
                url: p.clone(),
                body: None,
                after: None,
            })
            .collect();
        let mut out: BTreeMap<String, ItemOutcome> = BTreeMap::new();
        let mut remaining = writes;
        for attempt in 0..=MAX_RETRIES {
            let batches = rb::build_batches(remaining.clone())
                .map_err(|e| TargetError::Rejected { operation, message: e.to_string() })?;
            let mut retry = BTreeSet::new();
            let mut wait = 0;
            for batch in batches {
                for (key, outcome) in self.core.post_batch(operation, &batch).await? {
                    match outcome {
                        ItemOutcome::Retry { after_secs } => {
                            wait = wait.max(after_secs);
                            retry.insert(key);
                        }
                        o => {
                            out.insert(key, o);
                        }
                    }
                }
            }
            if retry.is_empty() {
                break;
            }
            if attempt == MAX_RETRIES {
                return Err(TargetError::Unavailable {
                    operation,
                    message: format!("Graph throttled reads {} times in a row", attempt + 1),
                });
            }
            self.core.throttled(operation, Duration::from_secs(wait)).await?;
            remaining.retain(|w| retry.contains(&w.key));
        }
        (0..paths.len())
            .map(|i| {
                out.remove(&i.to_string()).ok_or_else(|| TargetError::Unavailable {
                    operation,
                    message: "a batched read got no answer".into(),
                })
            })
            .collect()
    }

    /// Send one call's writes (keys unique within the call, `after` naming
    /// an earlier one) in a `$batch` shared with other calls' writes, and
    /// return each write's final outcome in order. Throttled items are
    /// sent again after their `Retry-After`, together with the items that
    /// failed only because they depended on them; succeeded items are not.
    pub async fn write(
        &self,
        operation: &'static str,
        writes: Vec<Write>,
    ) -> Result<Vec<(String, ItemOutcome)>, TargetError> {
        let order: Vec<String> = writes.iter().map(|w| w.key.clone()).collect();
        let mut done: BTreeMap<String, ItemOutcome> = BTreeMap::new();
        let mut remaining = writes;
        for attempt in 0..=MAX_RETRIES {
            let outcomes = self.submit(operation, remaining.clone()).await?;
            let mut retry = BTreeSet::new();
            let mut wait = 0;
            for (key, outcome) in &outcomes {
                if let ItemOutcome::Retry { after_secs } = outcome {
                    wait = wait.max(*after_secs);
                    retry.insert(key.clone());
                }
            }
            for (key, outcome) in outcomes {
                let w = remaining.iter().find(|w| w.key == key);
                let needs_retried =
                    w.and_then(|w| w.after.as_ref()).is_some_and(|a| retry.contains(a));
                match outcome {
                    ItemOutcome::Retry { .. } => {}
                    ItemOutcome::Failed(f)
                        if matches!(f.class, rb::FailureClass::FailedDependency { .. })
                            && needs_retried =>
                    {
                        retry.insert(key);
                    }
                    o => {
                        done.insert(key, o);
                    }
                }
            }
            if retry.is_empty() {
                break;
            }
            if attempt == MAX_RETRIES {
                return Err(TargetError::Unavailable {
                    operation,
                    message: format!(
                        "Graph throttled the write {} times in a row; it is sent again next cycle",
                        attempt + 1
                    ),
                });
            }
            self.core.throttled(operation, Duration::from_secs(wait)).await?;
            remaining.retain(|w| retry.contains(&w.key));
            for w in &mut remaining {
                // A dependency that succeeded meanwhile holds no longer.
                if w.after.as_ref().is_some_and(|a| !retry.contains(a)) {
                    w.after = None;
                }
            }
        }
        Ok(order.into_iter().filter_map(|k| done.remove(&k).map(|o| (k, o))).collect())
    }

    /// Hand writes to the collector and wait for their outcomes.
    async fn submit(
        &self,
        operation: &'static str,
        writes: Vec<Write>,
    ) -> Result<Vec<(String, ItemOutcome)>, TargetError> {
        let queue = self.queue.get_or_init(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            tokio::spawn(collect(self.core.clone(), rx));
            tx
        });
        let (reply, answer) = oneshot::channel();
        let gone = || TargetError::Unavailable {
            operation,
            message: "the batch collector stopped".into(),
        };
        queue.send(Pending { writes, reply }).map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }
}

/// The collector: takes pending calls off the queue, fills a batch (up to
/// the batch size, waiting at most [`LINGER`] for more) and sends it while
/// the next fills, at most `concurrency` batches in flight.
async fn collect(core: Arc<Core>, mut rx: mpsc::UnboundedReceiver<Pending>) {
    let mut carry: Option<Pending> = None;
    let slots = Arc::new(Semaphore::new(core.config.concurrency.max(1)));
    loop {
        let first = match carry.take() {
            Some(p) => p,
            None => match rx.recv().await {
                Some(p) => p,
                None => return,
            },
        };
        let mut group = vec![first];
        let mut size: usize = group[0].writes.len();
        let deadline = tokio::time::Instant::now() + LINGER;
        while size < core.batch_size {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(p)) if size + p.writes.len() <= core.batch_size => {
                    size += p.writes.len();
                    group.push(p);
                }
                Ok(Some(p)) => {
                    carry = Some(p);
                    break;
                }
                // Timed out, or the target is gone: send what there is.
                _ => break,
            }
        }
        let Ok(slot) = slots.clone().acquire_owned().await else { return };
        let core = core.clone();
        tokio::spawn(async move {
            send_group(&core, group).await;
            drop(slot);
        });
    }
}

/// One batch for a group of calls; each call's items are renamed
/// `{call}:{key}` so keys from different calls cannot collide.
async fn send_group(core: &Core, group: Vec<Pending>) {
    let mut writes = Vec::new();
    let mut replies = Vec::new();
    for (i, p) in group.into_iter().enumerate() {
        for mut w in p.writes {
            w.key = format!("{i}:{}", w.key);
            w.after = w.after.map(|a| format!("{i}:{a}"));
            writes.push(w);
        }
        replies.push(p.reply);
    }
    let result = async {
        let batches = rb::build_batches(writes)
            .map_err(|e| TargetError::Rejected { operation: "write", message: e.to_string() })?;
        let mut all = Vec::new();
        for batch in batches {
            let n = batch.requests.len();
            let reserved = core.reserve(n).await;
            let answer = core.post_batch("write", &batch).await;
            core.budget.lock().await.settle(reserved, n, Instant::now());
            all.extend(answer?);
        }
        Ok::<_, TargetError>(all)
    }
    .await;
    match result {
        Ok(outcomes) => {
            let mut per: Vec<Vec<(String, ItemOutcome)>> =
                replies.iter().map(|_| Vec::new()).collect();
            for (key, outcome) in outcomes {
                if let Some((i, k)) = key.split_once(':')
                    && let Ok(i) = i.parse::<usize>()
                    && let Some(list) = per.get_mut(i)
                {
                    list.push((k.to_owned(), outcome));
                }
            }
            for (reply, outcomes) in replies.into_iter().zip(per) {
                let _ = reply.send(Ok(outcomes));
            }
        }
        Err(e) => {
            for reply in replies {
                let _ = reply.send(Err(e.clone()));
            }
        }
    }
}

impl Core {
    fn url(&self, path: &str) -> String {
        format!("{}/v1.0{path}", self.config.graph_url.trim_end_matches('/'))
    }

    fn count(&self, f: impl FnOnce(&mut Stats)) {
        f(&mut locked(&self.stats));
    }

    /// Wait until `n` more writes fit in the budget (and Graph's warning,
    /// if any, has passed); the instant they were counted at.
    async fn reserve(&self, n: usize) -> Instant {
        let hold = *locked(&self.slow_until);
        if let Some(until) = hold {
            let now = Instant::now();
            if until > now {
                tokio::time::sleep(until - now).await;
            }
        }
        loop {
            let now = Instant::now();
            let wait = self.budget.lock().await.reserve(n, now);
            match wait {
                None => return now,
                Some(d) => {
                    self.count(|s| s.budget_waits += 1);
                    tracing::debug!(
                        wait_ms = d.as_millis() as u64,
                        "Graph write budget reached; waiting"
                    );
                    tokio::time::sleep(d).await;
                }
            }
        }
    }

    /// Graph asked to wait: wait, or give up if the wait is too long.
    async fn throttled(&self, operation: &'static str, wait: Duration) -> Result<(), TargetError> {
        self.count(|s| s.throttled += 1);
        if wait > MAX_WAIT {
            return Err(TargetError::Unavailable {
                operation,
                message: format!(
                    "Graph asked to wait {} s (Retry-After); the write is sent again next cycle",
                    wait.as_secs()
                ),
            });
        }
        tracing::info!(
            operation,
            wait_ms = wait.as_millis() as u64,
            "Graph throttles; waiting as Retry-After says"
        );
        tokio::time::sleep(wait).await;
        Ok(())
    }

    /// `POST /$batch` and its items' outcomes. A throttled batch as a whole
    /// (nothing in it ran) is sent again after `Retry-After`.
    async fn post_batch(
        &self,
        operation: &'static str,
        batch: &rb::Batch,
    ) -> Result<Vec<(String, ItemOutcome)>, TargetError> {
        let body = batch.to_json();
        let url = self.url("/$batch");
        let answer = self.send(operation, Method::POST, &url, Some(&body)).await?;
        self.count(|s| {
            s.batches += 1;
            s.batch_items += batch.requests.len() as u64;
        });
        if !answer.status.is_success() {
            return Err(failure(operation, &answer));
        }
        let v = answer.json().ok_or_else(|| TargetError::Unavailable {
            operation,
            message: "the $batch answer is not JSON".into(),
        })?;
        let outcomes = rb::parse_batch_response(batch, &v)
            .map_err(|e| TargetError::Unavailable { operation, message: e.to_string() })?;
        // Inside a batch, Graph's throttling headers are the items'.
        self.pressure(batch_pressure(&v));
        Ok(outcomes)
    }

    async fn authorization(
        &self,
        operation: &'static str,
    ) -> Result<(HeaderValue, SecretString), TargetError> {
        let token = self.bearer.token().await.map_err(|message| TargetError::Unreachable {
            operation,
            message: format!("no Graph token: {message}"),
        })?;
        let mut v =
            HeaderValue::from_str(&format!("Bearer {}", token.expose_secret())).map_err(|_| {
                TargetError::Unreachable {
                    operation,
                    message: "the token holds characters an HTTP header cannot carry".into(),
                }
            })?;
        v.set_sensitive(true);
        Ok((v, token))
    }

    /// One request: 429/503/504 waited out as `Retry-After` says, a 401
    /// answered by one new token. Transport failures are `Unavailable`
    /// (`Unreachable` when nothing answers at all).
    async fn send(
        &self,
        operation: &'static str,
        method: Method,
        url: &str,
        body: Option<&Value>,
    ) -> Result<Answer, TargetError> {
        let mut attempt = 0;
        let mut refreshed = false;
        loop {
            let answer = {
                let _permit =
                    self.permits.acquire().await.map_err(|_| TargetError::Unavailable {
                        operation,
                        message: "the target is shutting down".into(),
                    })?;
                let (auth, token) = self.authorization(operation).await?;
                let mut request = self
                    .client
                    .request(method.clone(), url)
                    .header(ACCEPT, "application/json")
                    .header(AUTHORIZATION, auth);
                if let Some(b) = body {
                    request = request.header(CONTENT_TYPE, "application/json").body(b.to_string());
                }
                tracing::debug!(operation, %method, url, "Graph request");
                self.count(|s| s.requests += 1);
                let response = request.send().await.map_err(|e| {
                    let message = format!("{method} {url}: {}", transport(&e));
                    if e.is_connect() {
                        TargetError::Unreachable { operation, message }
                    } else {
                        TargetError::Unavailable { operation, message }
                    }
                })?;
                let status = response.status();
                let headers = response.headers().clone();
                let text = response.text().await.map_err(|e| TargetError::Unavailable {
                    operation,
                    message: format!("{method} {url}: reading the answer: {}", transport(&e)),
                })?;
                (Answer { status, body: text, headers }, token)
            };
            let (answer, token) = answer;
            self.keep(|| exchange(&method, url, body, &answer));
            self.watch_pressure(&answer.headers);
            if answer.status == StatusCode::UNAUTHORIZED && !refreshed {
                // An expired or revoked token: one new token, then give up.
                self.bearer.invalidate(&token);
                refreshed = true;
                continue;
            }
            let throttled = matches!(
                answer.status,
                StatusCode::TOO_MANY_REQUESTS
                    | StatusCode::SERVICE_UNAVAILABLE
                    | StatusCode::GATEWAY_TIMEOUT
            );
            if !throttled {
                return Ok(answer);
            }
            attempt += 1;
            let wait = retry_after(&answer.headers)
                .unwrap_or_else(|| Duration::from_secs(1 << attempt.min(5)));
            if attempt > MAX_RETRIES {
                return Err(TargetError::Unavailable {
                    operation,
                    message: format!(
                        "{method} {url}: {} after {attempt} attempts",
                        rb_error(&answer)
                    ),
                });
            }
            self.throttled(operation, wait).await?;
        }
    }

    /// `x-ms-throttle-limit-percentage` (0.8 to 1.8) is Graph's warning that
    /// the caller nears a limit: writers pause half a second per tenth
    /// above 0.7 (at most 6 s) before the next batch.
    fn watch_pressure(&self, headers: &HeaderMap) {
        let p = headers
            .get(THROTTLE_PERCENTAGE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok());
        self.pressure(p);
    }

    fn pressure(&self, p: Option<f64>) {
        let Some(p) = p.filter(|p| *p >= 0.8) else { return };
        let pause = pressure_pause(p);
        self.count(|s| s.slowdowns += 1);
        tracing::debug!(
            percentage = p,
            pause_ms = pause.as_millis() as u64,
            "Graph says a throttling limit is near; slowing down"
        );
        let mut slow = locked(&self.slow_until);
        let until = Instant::now() + pause;
        if slow.is_none_or(|s| s < until) {
            *slow = Some(until);
        }
    }

    fn keep(&self, text: impl FnOnce() -> String) {
        if let Some(list) = locked(&self.exchanges).as_mut() {
            list.push(text());
        }
    }
}

const THROTTLE_PERCENTAGE: &str = "x-ms-throttle-limit-percentage";

/// How long writers hold back at a limit percentage `p` (0.8 to 1.8).
fn pressure_pause(p: f64) -> Duration {
    Duration::from_millis(((p - 0.7) * 10.0).clamp(1.0, 12.0) as u64 * 500)
}

/// The highest `x-ms-throttle-limit-percentage` among a `$batch` answer's items.
fn batch_pressure(answer: &Value) -> Option<f64> {
    answer
        .get("responses")?
        .as_array()?
        .iter()
        .filter_map(|item| {
            let headers = item.get("headers")?.as_object()?;
            let (_, v) =
                headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(THROTTLE_PERCENTAGE))?;
            v.as_str()?.trim().parse::<f64>().ok()
        })
        .reduce(f64::max)
}

/// Graph's error as text: `HTTP 400 Request_BadRequest: message (request-id ...)`.
pub(crate) fn rb_error(answer: &Answer) -> String {
    error_text(answer.status.as_u16(), answer.json().as_ref(), &answer.body)
}

/// An error body (`{"error":{code,message,innerError:{request-id}}}`) as text.
pub(crate) fn error_text(status: u16, body: Option<&Value>, raw: &str) -> String {
    let failure = rb::ItemFailure::from_body(status, body, &[]);
    if failure.code.is_none() && failure.message.is_none() && !raw.is_empty() {
        // Not Graph's error shape: quote the start of what came back.
        return format!("HTTP {status}: {}", raw.chars().take(200).collect::<String>());
    }
    failure.to_string()
}

/// The error for an answer that is not a success, classed for the engine.
pub(crate) fn failure(operation: &'static str, answer: &Answer) -> TargetError {
    let message = rb_error(answer);
    match answer.status {
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => TargetError::Unreachable {
            operation,
            message: format!(
                "Microsoft Graph refused hrsync's token ({message}): check the app's application permissions (User.ReadWrite.All) and admin consent"
            ),
        },
        s if s.is_server_error()
            || s == StatusCode::REQUEST_TIMEOUT
            || s == StatusCode::TOO_MANY_REQUESTS =>
        {
            TargetError::Unavailable { operation, message }
        }
        _ => TargetError::Rejected { operation, message },
    }
}

/// A request and its answer as people read them; the create body's
/// password and the token never shown.
fn exchange(method: &Method, url: &str, body: Option<&Value>, answer: &Answer) -> String {
    let mut out = format!("{method} {url}");
    if let Some(b) = body {
        out.push_str(&format!(" {}", rb::redacted(b)));
    }
    out.push_str(&format!(" -> HTTP {}", answer.status.as_u16()));
    let shown = match answer.json() {
        Some(v) => rb::redacted(&v).to_string(),
        None => answer.body.chars().take(300).collect(),
    };
    if !shown.is_empty() {
        out.push_str(&format!(" {shown}"));
    }
    out
}

fn transport(e: &reqwest::Error) -> String {
    let mut out = if e.is_timeout() { "timed out".to_owned() } else { e.to_string() };
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        out.push_str(&format!(": {s}"));
        source = s.source();
    }
    out
}

/// `Retry-After` in seconds (Graph sends seconds).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers.get(RETRY_AFTER)?.to_str().ok()?.trim().parse().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_holds_the_window() {
        let t0 = Instant::now();
        let mut b = WriteBudget::new(50, Duration::from_secs(150));
        assert_eq!(b.reserve(20, t0), None);
        assert_eq!(b.reserve(20, t0 + Duration::from_secs(10)), None);
        // 40 in the window; 20 more do not fit until the first 20 leave.
        let wait = b.reserve(20, t0 + Duration::from_secs(20)).unwrap();
        assert_eq!(wait, Duration::from_secs(130));
        assert_eq!(b.reserve(10, t0 + Duration::from_secs(20)), None);
        assert_eq!(b.reserve(20, t0 + Duration::from_secs(150)), None);
    }

    #[test]
    fn answered_writes_count_from_the_answer() {
        let t0 = Instant::now();
        let mut b = WriteBudget::new(20, Duration::from_secs(10));
        assert_eq!(b.reserve(20, t0), None);
        b.settle(t0, 20, t0 + Duration::from_secs(3));
        assert_eq!(b.reserve(1, t0 + Duration::from_secs(10)), Some(Duration::from_secs(3)));
        assert_eq!(b.reserve(20, t0 + Duration::from_secs(13)), None);
    }

    #[test]
    fn budget_never_admits_more_than_the_limit_in_any_window() {
        let t0 = Instant::now();
        let mut b = WriteBudget::new(100, Duration::from_secs(10));
        let mut now = t0;
        let mut starts: Vec<Instant> = Vec::new();
        for i in 0..200 {
            let n = 1 + i % 20;
            loop {
                match b.reserve(n, now) {
                    None => {
                        starts.extend(std::iter::repeat_n(now, n));
                        break;
                    }
                    Some(d) => now += d,
                }
            }
            now += Duration::from_millis(7);
        }
        for (i, s) in starts.iter().enumerate() {
            let in_window = starts[i..]
                .iter()
                .take_while(|t| t.duration_since(*s) < Duration::from_secs(10))
                .count();
            assert!(in_window <= 100, "{in_window} writes in one window");
        }
    }

    #[test]
    fn throttle_percentage_of_batch_items_slows_writers() {
        let answer = serde_json::json!({"responses": [
            {"id": "1", "status": 201, "headers": {"x-ms-throttle-limit-percentage": "0.9"}},
            {"id": "2", "status": 201, "headers": {"X-Ms-Throttle-Limit-Percentage": "1.2"}},
            {"id": "3", "status": 204, "headers": {}},
        ]});
        assert_eq!(batch_pressure(&answer), Some(1.2));
        assert_eq!(batch_pressure(&serde_json::json!({"responses": []})), None);
        assert_eq!(pressure_pause(0.8), Duration::from_millis(500));
        assert_eq!(pressure_pause(1.8), Duration::from_millis(5500));
    }

    #[test]
    fn errors_quote_graph_code_message_and_request_id() {
        let body = serde_json::json!({"error": {"code": "Request_BadRequest", "message": "Invalid value", "innerError": {"request-id": "r-1"}}});
        assert_eq!(
            error_text(400, Some(&body), ""),
            "HTTP 400 Request_BadRequest: Invalid value (request-id r-1)"
        );
    }
}
