//! The HTTP server: the OData v2 surface under `/odata/v2/` (authenticated,
//! logged, subject to injected faults) and the emulator's own admin API under
//! `/_emulator/` (no SuccessFactors auth, loopback peers only).

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::{Json, Router};
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sf_odata::edm::{EntityType, edmx, schema};
use sf_odata::error::ODataError;
use sf_odata::query::{Paging, QueryOptions};
use sf_odata::render;

use crate::auth::Authenticator;
use crate::engine::{self, Row};
use crate::events::{EventError, EventOutcome, HrEvent};
use crate::faults::{Fault, Faults};
use crate::model::{Database, Scenario};
use crate::reqlog::{LoggedRequest, RequestLog, decode_once};
use crate::time::{Clock, MS_PER_DAY, format_instant, parse_instant};
use crate::upsert::UpsertOptions;

/// SuccessFactors' hard page cap (KBA-2489065); also the default page size.
pub const MAX_PAGE_SIZE: usize = 1000;
/// How long a `paging=snapshot` key list is kept after its last use.
const SNAPSHOT_TTL: Duration = Duration::from_secs(30 * 60);
const MAX_SNAPSHOTS: usize = 64;

/// State shared by every request.
#[derive(Debug)]
pub struct Shared {
    pub db: RwLock<Database>,
    pub clock: Clock,
    pub auth: Authenticator,
    pub faults: Faults,
    /// Added to every OData request (`--latency-ms`).
    pub latency: Duration,
    /// `Retry-After` seconds on injected 429s (SuccessFactors says 300).
    pub retry_after_secs: u64,
    pub log: RequestLog,
    snapshots: Mutex<HashMap<u64, Snapshot>>,
    next_snapshot: AtomicU64,
    /// Bytes per row of the last collection page: the next page's buffer size.
    page_bytes_per_row: AtomicUsize,
    /// `http://host:port`, set once the listener is bound.
    pub base_url: OnceLock<String>,
    pub seed: u64,
    event_seq: AtomicU64,
}

#[derive(Debug)]
struct Snapshot {
    rows: Arc<Vec<Row>>,
    last_used: Instant,
}

impl Shared {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        db: Database,
        clock: Clock,
        auth: Authenticator,
        faults: Faults,
        latency: Duration,
        retry_after_secs: u64,
        log_capacity: usize,
        seed: u64,
    ) -> Self {
        Shared {
            db: RwLock::new(db),
            clock,
            auth,
            faults,
            latency,
            retry_after_secs,
            log: RequestLog::new(log_capacity),
            snapshots: Mutex::new(HashMap::new()),
            next_snapshot: AtomicU64::new(1),
            page_bytes_per_row: AtomicUsize::new(0),
            base_url: OnceLock::new(),
            seed,
            event_seq: AtomicU64::new(0),
        }
    }

    /// Read access to the data (a poisoned lock still holds consistent data:
    /// every mutation validates before it writes).
    pub fn read(&self) -> RwLockReadGuard<'_, Database> {
        self.db.read().unwrap_or_else(|e| e.into_inner())
    }

    pub fn write(&self) -> RwLockWriteGuard<'_, Database> {
        self.db.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Applies an HR event with a per-event seed derived from the emulator's seed.
    pub fn apply(&self, event: &HrEvent) -> Result<EventOutcome, EventError> {
        let n = self.event_seq.fetch_add(1, Ordering::Relaxed) + 1;
        let seed = self.seed ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let mut db = self.write();
        let outcome = db.apply(event, &self.clock, seed);
        match &outcome {
            Ok(o) => tracing::info!(person = %o.person_id_external, ?event, "HR event applied"),
            Err(e) => tracing::info!(error = %e, "HR event rejected"),
        }
        outcome
    }

    /// personIdExternal of every person per scenario.
    pub fn scenarios(&self) -> BTreeMap<Scenario, Vec<String>> {
        let mut out: BTreeMap<Scenario, Vec<String>> = BTreeMap::new();
        for p in &self.read().persons {
            out.entry(p.scenario).or_default().push(p.person_id_external.clone());
        }
        out
    }

    fn service_root(&self) -> String {
        format!(
            "{}/odata/v2",
            self.base_url.get().map(String::as_str).unwrap_or("http://127.0.0.1")
        )
    }
}

/// The full router.
pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/odata/v2/{*rest}", any(odata))
        .route("/oauth/token", post(crate::oauth::sf_token))
        .route("/oauth2/token", post(crate::oauth::ias_token))
        .route("/_emulator/events", post(admin_events))
        .route("/_emulator/clock", get(admin_clock_get).post(admin_clock_set))
        .route("/_emulator/requests", get(admin_requests).delete(admin_clear_requests))
        .route("/_emulator/workers/{id}", get(admin_worker))
        .route("/_emulator/scenarios", get(admin_scenarios))
        .with_state(shared)
}

/// An OData response before faults and logging.
struct Reply {
    status: StatusCode,
    content_type: &'static str,
    body: String,
}

const JSON: &str = "application/json;charset=utf-8";

impl Reply {
    fn json(body: String) -> Self {
        Reply { status: StatusCode::OK, content_type: JSON, body }
    }
    fn error(e: &ODataError) -> Self {
        Reply {
            status: StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST),
            content_type: JSON,
            body: e.to_json(),
        }
    }
}

/// A response body that fails at once: hyper closes the connection without a
/// complete response, which the client sees as a connection error.
struct DroppedBody;

impl http_body::Body for DroppedBody {
    type Data = Bytes;
    type Error = std::io::Error;
    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, std::io::Error>>> {
        std::task::Poll::Ready(Some(Err(std::io::Error::other("emulated dropped connection"))))
    }
}

async fn odata(
    State(s): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let started = Instant::now();
    let draw = s.faults.draw();
    let delay = s.latency + draw.delay.unwrap_or_default();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let authorization = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let (user, mut fault) = (s.auth.authenticate(authorization), None);
    let response = match &user {
        Err(e) => reply_response(Reply::error(e)),
        Ok(_) => match draw.outcome {
            Some(Fault::Throttle) => {
                fault = Some("429");
                let e = ODataError::new(
                    429,
                    "COE_TOO_MANY_REQUESTS",
                    "[COE0046]Too many requests. Retry after the time given in Retry-After.",
                );
                let mut r = reply_response(Reply::error(&e));
                if let Ok(v) = HeaderValue::from_str(&s.retry_after_secs.to_string()) {
                    r.headers_mut().insert(header::RETRY_AFTER, v);
                }
                r
            }
            Some(Fault::Unavailable) => {
                fault = Some("503");
                reply_response(Reply::error(&ODataError::new(
                    503,
                    "COE_SERVICE_UNAVAILABLE",
                    "Service temporarily unavailable",
                )))
            }
            Some(Fault::Drop) => {
                fault = Some("drop");
                Response::builder()
                    .status(StatusCode::OK)
                    .body(Body::new(DroppedBody))
                    .unwrap_or_default()
            }
            other => {
                let mut reply = dispatch(&s, &method, &uri, &headers, body).await;
                if other == Some(Fault::Truncate) && reply.status == StatusCode::OK {
                    fault = Some("truncate");
                    let mut cut = reply.body.len() / 2;
                    while !reply.body.is_char_boundary(cut) {
                        cut -= 1;
                    }
                    reply.body.truncate(cut);
                }
                reply_response(reply)
            }
        },
    };
    let url = uri.path_and_query().map(|pq| pq.as_str()).unwrap_or("/");
    s.log.push(LoggedRequest {
        seq: 0,
        method: method.to_string(),
        url: decode_once(url),
        status: response.status().as_u16(),
        duration_ms: started.elapsed().as_secs_f64() * 1000.0,
        user: user.ok(),
        at: format_instant(s.clock.now_ms()),
        fault,
    });
    response
}

fn reply_response(reply: Reply) -> Response {
    let mut response = (reply.status, reply.body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(reply.content_type));
    response
}

/// Splits `Set('key')/$count` style paths: (set, key predicate body, suffix).
fn split_path(rest: &str) -> (&str, Option<&str>, Option<&str>) {
    let slash = rest.find('/');
    match rest.find('(') {
        Some(open) if slash.is_none_or(|s| open < s) => {
            let mut quoted = false;
            let close = rest[open..].char_indices().find_map(|(i, c)| {
                if c == '\'' {
                    quoted = !quoted;
                }
                (c == ')' && !quoted).then_some(open + i)
            });
            let Some(close) = close else { return (&rest[..open], Some(&rest[open + 1..]), None) };
            let suffix = rest[close + 1..].strip_prefix('/').filter(|s| !s.is_empty());
            (&rest[..open], Some(&rest[open + 1..close]), suffix)
        }
        _ => match rest.split_once('/') {
            Some((set, suffix)) => (set, None, Some(suffix).filter(|s| !s.is_empty())),
            None => (rest, None, None),
        },
    }
}

async fn dispatch(
    s: &Arc<Shared>,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Bytes,
) -> Reply {
    let rest = uri.path().strip_prefix("/odata/v2/").unwrap_or("");
    let rest = decode_once(rest);
    let query = uri.query().unwrap_or("").to_owned();
    if rest == "$metadata" || rest.ends_with("/$metadata") {
        if method != Method::GET {
            return Reply::error(&ODataError::new(
                405,
                "COE_METHOD_NOT_ALLOWED",
                format!("{method} is not allowed on $metadata"),
            ));
        }
        let wants_json = query.split('&').any(|p| {
            p.eq_ignore_ascii_case("$format=json") || p.eq_ignore_ascii_case("%24format=json")
        }) || headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.contains("application/json") && !a.contains("xml"));
        if wants_json {
            return Reply::error(&ODataError::metadata_not_acceptable());
        }
        return Reply {
            status: StatusCode::OK,
            content_type: "application/xml;charset=utf-8",
            body: edmx(),
        };
    }
    if rest == "upsert" {
        if method != Method::POST {
            return Reply::error(&ODataError::new(
                405,
                "COE_METHOD_NOT_ALLOWED",
                "upsert requires POST",
            ));
        }
        let options = UpsertOptions {
            purge_full: query_param(&query, "purgeType")
                .is_some_and(|v| v.eq_ignore_ascii_case("full")),
            process_inactive: query_param(&query, "processInactiveEmployees")
                .is_some_and(|v| v.eq_ignore_ascii_case("true")),
        };
        let result = s.write().upsert(&body, options, &s.clock);
        return match result {
            Ok(v) => Reply::json(v.to_string()),
            Err(e) => Reply::error(&ODataError::new(400, "COE_GENERAL_BAD_REQUEST", e.to_string())),
        };
    }
    if method != Method::GET {
        return Reply::error(&ODataError::new(
            405,
            "COE_METHOD_NOT_ALLOWED",
            format!("{method} is not supported on {rest} by this emulator"),
        ));
    }
    let (set_name, key, suffix) = split_path(&rest);
    let Some(set) = schema().entity_set(set_name) else {
        return Reply::error(&ODataError::entity_set_not_found(set_name));
    };
    let opts = match QueryOptions::parse(&query, set) {
        Ok(o) => o,
        Err(e) => return Reply::error(&e),
    };
    let shared = Arc::clone(s);
    let key = key.map(str::to_owned);
    let suffix = suffix.map(str::to_owned);
    // Filtering and rendering are CPU work under the read lock: keep them off the async workers.
    let task = tokio::task::spawn_blocking(move || {
        let today = shared.clock.today();
        match (key, suffix.as_deref()) {
            (None, Some("$count")) => {
                let db = shared.read();
                let n = engine::matching_rows(&db, set, &opts, today).len();
                Reply {
                    status: StatusCode::OK,
                    content_type: "text/plain;charset=utf-8",
                    body: n.to_string(),
                }
            }
            (None, None) => {
                collection(&shared, set, &opts, today).unwrap_or_else(|e| Reply::error(&e))
            }
            (Some(key), None) => {
                let db = shared.read();
                match engine::find_by_key(&db, set, &key).and_then(|row| engine::node(&db, row)) {
                    Some(node) => {
                        let root = shared.service_root();
                        let ctx = engine::render_context(&root, &opts, today);
                        let mut out = String::new();
                        render::write_single(
                            &mut out,
                            &node,
                            &ctx,
                            opts.select.as_ref(),
                            &opts.expand,
                        );
                        Reply::json(out)
                    }
                    None => Reply::error(&ODataError::entity_not_found(set.name, &key)),
                }
            }
            (_, Some(other)) => Reply::error(&ODataError::new(
                404,
                "COE_RESOURCE_NOT_FOUND",
                format!(
                    "Resource not found for the segment '{other}'. Navigation by path is not supported by this emulator; use $expand."
                ),
            )),
        }
    });
    match task.await {
        Ok(reply) => reply,
        Err(e) => {
            tracing::error!(error = %e, "query task failed");
            Reply::error(&ODataError::new(
                500,
                "COE_INTERNAL_ERROR",
                "internal error in the emulator",
            ))
        }
    }
}

fn query_param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query.split('&').find_map(|p| p.split_once('=').filter(|(k, _)| *k == name).map(|(_, v)| v))
}

/// The `$skiptoken` payload (opaque to clients: base64 of this JSON).
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SkipToken {
    start_row: usize,
    end_row: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    snapshot_id: Option<u64>,
}

fn encode_token(t: &SkipToken) -> String {
    base64::engine::general_purpose::STANDARD.encode(serde_json::to_vec(t).unwrap_or_default())
}

fn decode_token(text: &str) -> Result<SkipToken, ODataError> {
    let bad = || {
        ODataError::bad_option_value("$skiptoken", text, "a $skiptoken taken verbatim from __next")
    };
    let bytes = base64::engine::general_purpose::STANDARD.decode(text.trim()).map_err(|_| bad())?;
    serde_json::from_slice(&bytes).map_err(|_| bad())
}

fn collection(
    s: &Shared,
    set: &'static EntityType,
    opts: &QueryOptions,
    today: i32,
) -> Result<Reply, ODataError> {
    let page_size =
        opts.custom_page_size.map(|n| n as usize).unwrap_or(MAX_PAGE_SIZE).clamp(1, MAX_PAGE_SIZE);
    let token = opts.skiptoken.as_deref().map(decode_token).transpose()?;
    let snapshot = opts.paging == Some(Paging::Snapshot);
    if snapshot && (opts.top.is_some() || opts.skip.is_some()) {
        return Err(ODataError::unsupported_combination(
            "paging=snapshot cannot be combined with $top or $skip",
        ));
    }
    let db = s.read();
    let (rows, snapshot_id): (Arc<Vec<Row>>, Option<u64>) =
        match token.as_ref().and_then(|t| t.snapshot_id) {
            Some(id) => {
                let mut snaps = s.snapshots.lock().unwrap_or_else(|e| e.into_inner());
                let snap = snaps.get_mut(&id).ok_or_else(|| {
                    ODataError::bad_option_value(
                        "$skiptoken",
                        opts.skiptoken.as_deref().unwrap_or(""),
                        "a live snapshot (it expired or never existed)",
                    )
                })?;
                snap.last_used = Instant::now();
                (Arc::clone(&snap.rows), Some(id))
            }
            None => {
                let mut rows = engine::matching_rows(&db, set, opts, today);
                if let Some(skip) = opts.skip {
                    rows.drain(..(skip as usize).min(rows.len()));
                }
                if let Some(top) = opts.top {
                    rows.truncate(top as usize);
                }
                let rows = Arc::new(rows);
                let id = snapshot.then(|| store_snapshot(s, Arc::clone(&rows)));
                (rows, id)
            }
        };
    let total = rows.len();
    let start = token.as_ref().map(|t| t.start_row).unwrap_or(0).min(total);
    let end = (start + page_size).min(total);
    let root = s.service_root();
    let next = (end < total).then(|| {
        let token =
            encode_token(&SkipToken { start_row: end, end_row: end + page_size, snapshot_id });
        opts.next_link(&root, &format!("/{}", set.set), &token)
    });
    let ctx = engine::render_context(&root, opts, today);
    // Sized from the previous page so a 4 MB page is not built by doubling.
    let per_row = s.page_bytes_per_row.load(Ordering::Relaxed).max(1024);
    let mut out = String::with_capacity(per_row.saturating_mul(end - start).saturating_add(4096));
    engine::write_page(
        &mut out,
        &db,
        &rows[start..end],
        &ctx,
        opts,
        next.as_deref(),
        opts.inline_count.then_some(total as u64),
    );
    if end > start {
        s.page_bytes_per_row.store(out.len() / (end - start) + 64, Ordering::Relaxed);
    }
    Ok(Reply::json(out))
}

fn store_snapshot(s: &Shared, rows: Arc<Vec<Row>>) -> u64 {
    let id = s.next_snapshot.fetch_add(1, Ordering::Relaxed);
    let mut snaps = s.snapshots.lock().unwrap_or_else(|e| e.into_inner());
    snaps.retain(|_, v| v.last_used.elapsed() < SNAPSHOT_TTL);
    if snaps.len() >= MAX_SNAPSHOTS
        && let Some(oldest) = snaps.iter().min_by_key(|(_, v)| v.last_used).map(|(k, _)| *k)
    {
        snaps.remove(&oldest);
    }
    snaps.insert(id, Snapshot { rows, last_used: Instant::now() });
    id
}

// ----- admin API -------------------------------------------------------------

/// The refusal for a client that is not on loopback, if it is not.
fn refuse_remote(peer: &SocketAddr) -> Option<Response> {
    (!peer.ip().is_loopback()).then(|| {
        (
            StatusCode::FORBIDDEN,
            Json(json!({"error": "the /_emulator/ admin API only answers loopback clients"})),
        )
            .into_response()
    })
}

fn admin_error(status: StatusCode, message: impl std::fmt::Display) -> Response {
    (status, Json(json!({ "error": message.to_string() }))).into_response()
}

/// `POST /_emulator/events`: one event or a list; applied in order, stopping at
/// the first rejected one (earlier ones stay applied and are reported).
async fn admin_events(
    State(s): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Bytes,
) -> Response {
    if let Some(r) = refuse_remote(&peer) {
        return r;
    }
    let value: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return admin_error(StatusCode::BAD_REQUEST, format!("body is not JSON: {e}")),
    };
    let single = value.is_object();
    let items = match value {
        Value::Array(items) => items,
        other => vec![other],
    };
    let mut events = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        match serde_json::from_value::<HrEvent>(item) {
            Ok(e) => events.push(e),
            Err(e) => return admin_error(StatusCode::BAD_REQUEST, format!("event {i}: {e}")),
        }
    }
    let mut outcomes = Vec::new();
    for (i, event) in events.iter().enumerate() {
        match s.apply(event) {
            Ok(o) => outcomes.push(o),
            Err(e) => {
                return (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    Json(json!({"error": format!("event {i}: {e}"), "applied": outcomes})),
                )
                    .into_response();
            }
        }
    }
    if single {
        Json(json!(outcomes.first())).into_response()
    } else {
        Json(json!(outcomes)).into_response()
    }
}

fn clock_json(s: &Shared) -> Value {
    let now = s.clock.now_ms();
    json!({"now": format_instant(now), "nowMs": now, "today": crate::time::format_day(s.clock.today())})
}

async fn admin_clock_get(
    State(s): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
) -> Response {
    if let Some(r) = refuse_remote(&peer) {
        return r;
    }
    Json(clock_json(&s)).into_response()
}

/// `{"set":"RFC3339"}` or `{"advance":"P1DT2H"}` / `{"advance":3600}` (seconds).
async fn admin_clock_set(
    State(s): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Bytes,
) -> Response {
    if let Some(r) = refuse_remote(&peer) {
        return r;
    }
    let value: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return admin_error(StatusCode::BAD_REQUEST, format!("body is not JSON: {e}")),
    };
    if let Some(set) = value.get("set") {
        match set.as_str().and_then(parse_instant) {
            Some(ms) => s.clock.set_now(ms),
            None => {
                return admin_error(
                    StatusCode::BAD_REQUEST,
                    format!("set: {set} is not an RFC 3339 instant"),
                );
            }
        }
    } else if let Some(advance) = value.get("advance") {
        let ms = match advance {
            Value::Number(n) => n.as_f64().filter(|f| f.is_finite()).map(|f| (f * 1000.0) as i64),
            Value::String(text) => parse_iso_duration(text),
            _ => None,
        };
        match ms {
            Some(ms) => s.clock.advance(ms),
            None => {
                return admin_error(
                    StatusCode::BAD_REQUEST,
                    format!(
                        "advance: {advance} is neither seconds nor an ISO 8601 duration like P1DT2H"
                    ),
                );
            }
        }
    } else {
        return admin_error(
            StatusCode::BAD_REQUEST,
            "expected {\"set\": RFC3339} or {\"advance\": seconds | \"P1D\"}",
        );
    }
    Json(clock_json(&s)).into_response()
}

/// `P[nW][nD][T[nH][nM][n[.n]S]]`, optionally with a leading `-`, to ms.
pub fn parse_iso_duration(text: &str) -> Option<i64> {
    let (sign, body) = match text.trim().strip_prefix('-') {
        Some(b) => (-1.0, b),
        None => (1.0, text.trim()),
    };
    let body = body.strip_prefix('P')?;
    let (date, time) = body.split_once('T').unwrap_or((body, ""));
    let mut total = 0.0;
    let mut any = false;
    for (part, units) in [
        (date, &[('W', 7.0 * 86_400_000.0), ('D', 86_400_000.0)][..]),
        (time, &[('H', 3_600_000.0), ('M', 60_000.0), ('S', 1000.0)][..]),
    ] {
        let mut num = String::new();
        for c in part.chars() {
            if c.is_ascii_digit() || c == '.' {
                num.push(c);
            } else {
                let factor = units.iter().find(|(u, _)| *u == c)?.1;
                total += num.parse::<f64>().ok()? * factor;
                num.clear();
                any = true;
            }
        }
        if !num.is_empty() {
            return None;
        }
    }
    any.then_some((sign * total) as i64)
}

async fn admin_requests(
    State(s): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
) -> Response {
    if let Some(r) = refuse_remote(&peer) {
        return r;
    }
    Json(s.log.entries()).into_response()
}

async fn admin_clear_requests(
    State(s): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
) -> Response {
    if let Some(r) = refuse_remote(&peer) {
        return r;
    }
    s.log.clear();
    StatusCode::NO_CONTENT.into_response()
}

async fn admin_worker(
    State(s): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
) -> Response {
    if let Some(r) = refuse_remote(&peer) {
        return r;
    }
    let db = s.read();
    match db.person(&id) {
        Some(p) => Json(json!(p)).into_response(),
        None => {
            admin_error(StatusCode::NOT_FOUND, format!("no person with personIdExternal '{id}'"))
        }
    }
}

async fn admin_scenarios(
    State(s): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
) -> Response {
    if let Some(r) = refuse_remote(&peer) {
        return r;
    }
    Json(json!(s.scenarios())).into_response()
}

/// One day in ms, re-exported for callers advancing the clock.
pub const DAY_MS: i64 = MS_PER_DAY;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_paths() {
        assert_eq!(split_path("PerPerson"), ("PerPerson", None, None));
        assert_eq!(split_path("PerPerson/$count"), ("PerPerson", None, Some("$count")));
        assert_eq!(split_path("PerPerson('a/b')"), ("PerPerson", Some("'a/b'"), None));
        assert_eq!(
            split_path("PerPerson('x')/emailNav"),
            ("PerPerson", Some("'x'"), Some("emailNav"))
        );
        assert_eq!(
            split_path("Picklist('ecEmailType')"),
            ("Picklist", Some("'ecEmailType'"), None)
        );
    }

    #[test]
    fn iso_durations() {
        assert_eq!(parse_iso_duration("P1D"), Some(86_400_000));
        assert_eq!(parse_iso_duration("PT1H30M"), Some(5_400_000));
        assert_eq!(parse_iso_duration("-P1W"), Some(-7 * 86_400_000));
        assert_eq!(parse_iso_duration("P1X"), None);
        assert_eq!(parse_iso_duration("1D"), None);
        assert_eq!(parse_iso_duration("P"), None);
    }

    #[test]
    fn skiptoken_round_trip_and_garbage() {
        let t = encode_token(&SkipToken { start_row: 100, end_row: 200, snapshot_id: None });
        assert_eq!(t, "eyJzdGFydFJvdyI6MTAwLCJlbmRSb3ciOjIwMH0=");
        assert_eq!(decode_token(&t).map(|t| t.start_row).ok(), Some(100));
    }
}
