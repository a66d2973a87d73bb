//! The HTTP server: the OData v2 surface under `/odata/v2/` (authenticated,
//! logged, subject to injected faults) and the emulator's own admin API under
//! `/_emulator/` (no SuccessFactors auth, loopback peers only).
//!
//! What it is strict about, as SuccessFactors is:
//! - the format: Atom XML (and XML error bodies) unless `$format=json` or
//!   `Accept: application/json` asks for JSON;
//! - links (`__metadata.uri`, `__deferred`, `__next`) name the host the
//!   client called (`Host`), optionally with an explicit port as some
//!   tenants write `:443`;
//! - unknown entity sets are 400 `COE_ENTITY_NOT_FOUND`; key predicates are
//!   parsed as typed values (any key order, `1` or `1L`, `datetime'…'` with
//!   or without fractional seconds), an unquoted string key is refused;
//! - upserts: at most 1,000 records, payloads checked against the metadata
//!   (see [`crate::upsert`]).
//!
//! And what it accepts because real clients send it: navigation by path
//! (the URIs of `__deferred`), the service document, a session cookie and
//! `X-CSRF-Token: Fetch` on any request, Atom XML upsert bodies.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::{Json, Router};
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sf_odata::atom;
use sf_odata::edm::{EntityType, NavProperty, Property, Schema};
use sf_odata::entity::EntityNode;
use sf_odata::error::ODataError;
use sf_odata::query::{Paging, QueryOptions};
use sf_odata::render::{self, RenderContext};

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
/// Sessions remembered for cookies and CSRF tokens (oldest forgotten first).
const MAX_SESSIONS: usize = 10_000;
/// The session cookie SuccessFactors sets (KBA-3308165).
const SESSION_COOKIE: &str = "JSESSIONID";

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
    /// `http://host:port`, set once the listener is bound: the service root
    /// of requests without a usable `Host` header.
    pub base_url: OnceLock<String>,
    pub seed: u64,
    event_seq: AtomicU64,
    /// The tenant's schema (fixed for the emulator's life).
    pub schema: &'static Schema,
    /// Write the port in links even when the client's `Host` has none
    /// (`https://host:443/...`, as some tenants do, KBA-2489065).
    pub explicit_port: bool,
    sessions: Mutex<Sessions>,
}

#[derive(Debug)]
struct Snapshot {
    rows: Arc<Vec<Row>>,
    /// Entities the query matched before `$top`/`$skip` (`$inlinecount`).
    matched: u64,
    last_used: Instant,
}

/// Session id → CSRF token, bounded.
#[derive(Debug, Default)]
struct Sessions {
    tokens: HashMap<String, String>,
    order: VecDeque<String>,
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
        let schema = db.schema.schema;
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
            schema,
            explicit_port: false,
            sessions: Mutex::new(Sessions::default()),
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

    /// The service root links of this request name: the scheme and host the
    /// client called (`Host`, `X-Forwarded-Proto`), else the bound address.
    fn service_root(&self, headers: &HeaderMap) -> String {
        let host =
            headers.get(header::HOST).and_then(|v| v.to_str().ok()).filter(|h| valid_host(h));
        let https = headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|p| p.trim().eq_ignore_ascii_case("https"));
        let scheme = if https { "https" } else { "http" };
        match host {
            Some(h) if self.explicit_port && !has_port(h) => {
                format!("{scheme}://{h}:{}/odata/v2", if https { 443 } else { 80 })
            }
            Some(h) => format!("{scheme}://{h}/odata/v2"),
            None => format!(
                "{}/odata/v2",
                self.base_url.get().map(String::as_str).unwrap_or("http://127.0.0.1")
            ),
        }
    }

    /// The session of a request (from its cookie), creating one when it has
    /// none or an unknown one; `true` when the session is new.
    fn session(&self, headers: &HeaderMap) -> (String, String, bool) {
        let cookie = headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|c| c.trim().split_once('='))
            .find(|(k, _)| *k == SESSION_COOKIE)
            .map(|(_, v)| v.trim().to_owned());
        let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(id) = cookie
            && let Some(token) = sessions.tokens.get(&id)
        {
            return (id, token.clone(), false);
        }
        let (id, token) = (random_hex(), random_hex());
        if sessions.order.len() >= MAX_SESSIONS
            && let Some(old) = sessions.order.pop_front()
        {
            sessions.tokens.remove(&old);
        }
        sessions.order.push_back(id.clone());
        sessions.tokens.insert(id.clone(), token.clone());
        (id, token, true)
    }
}

/// 128 random bits as hex (session ids, CSRF tokens).
fn random_hex() -> String {
    let mut b = [0u8; 16];
    if aws_lc_rs::rand::fill(&mut b).is_err() {
        // The system RNG failed: fall back to the clock (a test double's
        // session id guards nothing; authentication is per request).
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        b = nanos.to_le_bytes();
    }
    b.iter().map(|x| format!("{x:02X}")).collect()
}

/// A `Host` value safe to echo into links: host name, IPv4 or `[IPv6]`,
/// optional port; nothing that could break out of a URL.
fn valid_host(h: &str) -> bool {
    !h.is_empty()
        && h.len() <= 255
        && h.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'))
}

fn has_port(h: &str) -> bool {
    match h.rfind(']') {
        Some(i) => h[i..].contains(':'),
        None => h.contains(':'),
    }
}

/// The full router.
pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/odata/v2", any(odata))
        .route("/odata/v2/", any(odata))
        .route("/odata/v2/{*rest}", any(odata))
        .route("/oauth/token", post(crate::oauth::sf_token))
        .route("/oauth2/token", post(crate::oauth::ias_token))
        .route("/_emulator/events", post(admin_events))
        .route("/_emulator/clock", get(admin_clock_get).post(admin_clock_set))
        .route("/_emulator/requests", get(admin_requests).delete(admin_clear_requests))
        .route("/_emulator/workers/{id}", get(admin_worker))
        .route("/_emulator/scenarios", get(admin_scenarios))
        .layer(axum::middleware::map_response_with_state(Arc::clone(&shared), date_header))
        .with_state(shared)
}

/// Every answer carries the tenant's clock in its `Date` header (RFC 9110
/// IMF-fixdate), as a real server's does from its own clock: a client can
/// tell how far the tenant's clock is from its own. hyper would otherwise
/// write the machine's time, which an offset tenant clock does not follow.
async fn date_header(State(s): State<Arc<Shared>>, mut response: Response) -> Response {
    let printer = jiff::fmt::rfc2822::DateTimePrinter::new();
    if let Ok(now) = jiff::Timestamp::from_millisecond(s.clock.now_ms())
        && let Ok(text) = printer.timestamp_to_rfc9110_string(&now)
        && let Ok(value) = HeaderValue::from_str(&text)
    {
        response.headers_mut().insert(header::DATE, value);
    }
    response
}

/// An OData response before faults and logging.
struct Reply {
    status: StatusCode,
    content_type: &'static str,
    body: String,
}

const JSON: &str = "application/json;charset=utf-8";
const TEXT: &str = "text/plain;charset=utf-8";

impl Reply {
    fn ok(json: bool, body: String) -> Self {
        Reply {
            status: StatusCode::OK,
            content_type: if json { JSON } else { atom::ATOM_CONTENT_TYPE },
            body,
        }
    }
    fn error(e: &ODataError, json: bool) -> Self {
        Reply {
            status: StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST),
            content_type: if json { JSON } else { atom::XML_CONTENT_TYPE },
            body: e.body(json),
        }
    }
    fn text(body: String) -> Self {
        Reply { status: StatusCode::OK, content_type: TEXT, body }
    }
}

/// Whether the client asked for JSON: `$format=json`, else an `Accept`
/// header naming `application/json` before any XML type. Everything else
/// gets Atom XML, SuccessFactors' default.
pub fn wants_json(query: &str, headers: &HeaderMap) -> bool {
    let format = query.split('&').find_map(|p| {
        let (k, v) = p.split_once('=').unwrap_or((p, ""));
        (decode_once(k) == "$format").then(|| decode_once(v))
    });
    if let Some(f) = format {
        return f.trim().eq_ignore_ascii_case("json");
    }
    let accept = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join(",")
        .to_ascii_lowercase();
    let json = accept.find("application/json");
    let xml = ["application/atom+xml", "application/xml", "text/xml"]
        .iter()
        .filter_map(|t| accept.find(t))
        .min();
    match (json, xml) {
        (Some(j), Some(x)) => j < x,
        (Some(_), None) => true,
        _ => false,
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
    let json = wants_json(uri.query().unwrap_or(""), &headers);
    let draw = s.faults.draw();
    let delay = s.latency + draw.delay.unwrap_or_default();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let authorization = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let (user, mut fault) = (s.auth.authenticate(authorization), None);
    let (session, csrf, new_session) = s.session(&headers);
    let csrf_header = headers.get("x-csrf-token").and_then(|v| v.to_str().ok()).map(str::trim);
    let fetch = csrf_header.is_some_and(|v| v.eq_ignore_ascii_case("fetch"));
    let mut response = match &user {
        Err(e) => reply_response(Reply::error(e, json)),
        // A token that does not belong to the session fails a write, as
        // SuccessFactors' CSRF protection does; writes without a token pass
        // (Basic-authenticated integrations send none).
        Ok(_)
            if method != Method::GET
                && csrf_header.is_some_and(|t| !t.eq_ignore_ascii_case("fetch") && t != csrf) =>
        {
            let mut r = reply_response(Reply::error(
                &ODataError::new(403, "COE_CSRF_TOKEN_INVALID", "CSRF token validation failed"),
                json,
            ));
            r.headers_mut().insert("x-csrf-token", HeaderValue::from_static("Required"));
            r
        }
        Ok(_) => match draw.outcome {
            Some(Fault::Throttle) => {
                fault = Some("429");
                let e = ODataError::new(
                    429,
                    "COE_TOO_MANY_REQUESTS",
                    "[COE0046]Too many requests. Retry after the time given in Retry-After.",
                );
                let mut r = reply_response(Reply::error(&e, json));
                if let Ok(v) = HeaderValue::from_str(&s.retry_after_secs.to_string()) {
                    r.headers_mut().insert(header::RETRY_AFTER, v);
                }
                r
            }
            Some(Fault::Unavailable) => {
                fault = Some("503");
                reply_response(Reply::error(
                    &ODataError::new(
                        503,
                        "COE_SERVICE_UNAVAILABLE",
                        "Service temporarily unavailable",
                    ),
                    json,
                ))
            }
            Some(Fault::Drop) => {
                fault = Some("drop");
                Response::builder()
                    .status(StatusCode::OK)
                    .body(Body::new(DroppedBody))
                    .unwrap_or_default()
            }
            other => {
                let mut reply = dispatch(&s, &method, &uri, &headers, body, json).await;
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
    let h = response.headers_mut();
    if new_session
        && let Ok(v) =
            HeaderValue::from_str(&format!("{SESSION_COOKIE}={session}; Path=/; HttpOnly"))
    {
        h.insert(header::SET_COOKIE, v);
    }
    if fetch && let Ok(v) = HeaderValue::from_str(&csrf) {
        h.insert(HeaderName::from_static("x-csrf-token"), v);
    }
    h.insert("dataserviceversion", HeaderValue::from_static("2.0"));
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

/// Splits `Set('key')/nav/$count` style paths: (set, key predicate body,
/// the rest after the key or set).
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

/// One segment after `Set(key)` in a navigation path.
#[derive(Debug, Clone, Copy)]
enum Segment {
    Nav(&'static NavProperty),
    Property(&'static Property),
    Count,
}

/// Resolves the segments after `Set(key)` against the schema: navigations
/// (to-one ones may be followed by more segments), then optionally a
/// property or `$count` (after a to-many navigation). Returns the segments
/// and the entity type the query options apply to.
fn resolve_segments(
    set: &'static EntityType,
    suffix: &str,
) -> Result<(Vec<Segment>, &'static EntityType), ODataError> {
    let not_found = |seg: &str| {
        ODataError::new(
            404,
            "COE_RESOURCE_NOT_FOUND",
            format!("Resource not found for the segment '{seg}'."),
        )
    };
    let mut ty = set;
    let mut out = Vec::new();
    let parts: Vec<&str> = suffix.split('/').collect();
    for (i, seg) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        if let Some(Segment::Nav(n)) = out.last()
            && n.many
        {
            // Only `$count` may follow a to-many navigation (no keys here).
            if *seg == "$count" && last {
                out.push(Segment::Count);
                continue;
            }
            return Err(not_found(seg));
        }
        if let Some(nav) = ty.nav(seg) {
            out.push(Segment::Nav(nav));
            ty = nav.target_type().ok_or_else(|| not_found(seg))?;
        } else if let Some(p) = ty.property(seg).filter(|_| last) {
            out.push(Segment::Property(p));
        } else if ty.property(seg).is_some() {
            return Err(not_found(parts[i + 1]));
        } else {
            return Err(ODataError::property_not_found(ty.name, &[seg]));
        }
    }
    Ok((out, ty))
}

async fn dispatch(
    s: &Arc<Shared>,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Bytes,
    json: bool,
) -> Reply {
    let path = uri.path();
    let rest = path.strip_prefix("/odata/v2").unwrap_or("");
    let rest = decode_once(rest.strip_prefix('/').unwrap_or(rest));
    let query = uri.query().unwrap_or("").to_owned();
    let schema = s.schema;
    if rest.is_empty() {
        if method != Method::GET {
            return Reply::error(
                &ODataError::new(
                    405,
                    "COE_METHOD_NOT_ALLOWED",
                    format!("{method} is not allowed on the service document"),
                ),
                json,
            );
        }
        let root = s.service_root(headers);
        return if json {
            Reply::ok(true, sf_odata::edm::service_document_json(schema))
        } else {
            Reply {
                status: StatusCode::OK,
                content_type: "application/atomsvc+xml;charset=utf-8",
                body: sf_odata::edm::service_document_xml(schema, &root),
            }
        };
    }
    if rest == "$metadata" || rest.ends_with("/$metadata") {
        if method != Method::GET {
            return Reply::error(
                &ODataError::new(
                    405,
                    "COE_METHOD_NOT_ALLOWED",
                    format!("{method} is not allowed on $metadata"),
                ),
                json,
            );
        }
        if json {
            return Reply::error(&ODataError::metadata_not_acceptable(), json);
        }
        return Reply {
            status: StatusCode::OK,
            content_type: atom::XML_CONTENT_TYPE,
            body: schema.edmx().to_owned(),
        };
    }
    if rest == "upsert" {
        if method != Method::POST {
            return Reply::error(
                &ODataError::new(405, "COE_METHOD_NOT_ALLOWED", "upsert requires POST"),
                json,
            );
        }
        let options = UpsertOptions {
            purge_full: query_param(&query, "purgeType")
                .is_some_and(|v| v.eq_ignore_ascii_case("full")),
            process_inactive: query_param(&query, "processInactiveEmployees")
                .is_some_and(|v| v.eq_ignore_ascii_case("true")),
        };
        let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
        let records = match crate::upsert::parse_body(&body, content_type) {
            Ok(r) => r,
            Err(e) => return Reply::error(&e, json),
        };
        let result = s.write().upsert(records, options, &s.clock);
        return match result {
            Ok(results) if json => Reply::ok(true, json!({ "d": results }).to_string()),
            Ok(results) => {
                let root = s.service_root(headers);
                Reply::ok(false, crate::upsert::results_xml(&results, &root, s.clock.now_ms()))
            }
            Err(e) => Reply::error(&e, json),
        };
    }
    if method != Method::GET {
        return Reply::error(
            &ODataError::new(
                405,
                "COE_METHOD_NOT_ALLOWED",
                format!("{method} is not supported on {rest} by this emulator"),
            ),
            json,
        );
    }
    let (set_name, key, suffix) = split_path(&rest);
    let Some(set) = schema.entity_set(set_name) else {
        return Reply::error(&ODataError::entity_set_not_found(set_name), json);
    };
    let key_text = key.map(str::to_owned).unwrap_or_default();
    let key = match key.map(|k| engine::parse_key(set, k)).transpose() {
        Ok(k) => k,
        Err(e) => return Reply::error(&e, json),
    };
    let (segments, target) = match (&key, suffix) {
        (_, None) => (Vec::new(), set),
        (None, Some("$count")) => (vec![Segment::Count], set),
        (None, Some(other)) => {
            return Reply::error(
                &ODataError::new(
                    404,
                    "COE_RESOURCE_NOT_FOUND",
                    format!("Resource not found for the segment '{other}'."),
                ),
                json,
            );
        }
        (Some(_), Some(suffix)) => match resolve_segments(set, suffix) {
            Ok(r) => r,
            Err(e) => return Reply::error(&e, json),
        },
    };
    let opts = match QueryOptions::parse(&query, target) {
        Ok(o) => o,
        Err(e) => return Reply::error(&e, json),
    };
    let shared = Arc::clone(s);
    let root = s.service_root(headers);
    // Filtering and rendering are CPU work under the read lock: keep them off the async workers.
    let task = tokio::task::spawn_blocking(move || {
        let today = shared.clock.today();
        match key {
            None if segments.is_empty() => collection(&shared, set, &opts, today, &root, json)
                .unwrap_or_else(|e| Reply::error(&e, json)),
            None => {
                let db = shared.read();
                Reply::text(engine::matching_rows(&db, set, &opts, today).len().to_string())
            }
            Some(key) => {
                let db = shared.read();
                let Some(node) =
                    engine::find_by_key(&db, set, &key).and_then(|row| engine::node(&db, row))
                else {
                    return Reply::error(&ODataError::entity_not_found(set.name, &key_text), json);
                };
                let ctx = engine::render_context(&root, &opts, today);
                let now = shared.clock.now_ms();
                by_path(&node, &segments, &ctx, &opts, json, now)
            }
        }
    });
    match task.await {
        Ok(reply) => reply,
        Err(e) => {
            tracing::error!(error = %e, "query task failed");
            Reply::error(
                &ODataError::new(500, "COE_INTERNAL_ERROR", "internal error in the emulator"),
                json,
            )
        }
    }
}

/// Renders what `segments` address from `node`: the entity itself, a
/// navigation's targets (a collection or one entity), a property, or the
/// number of a to-many navigation's targets.
fn by_path(
    node: &dyn EntityNode,
    segments: &[Segment],
    ctx: &RenderContext<'_>,
    opts: &QueryOptions,
    json: bool,
    now: i64,
) -> Reply {
    let Some((first, rest)) = segments.split_first() else {
        let mut out = String::new();
        if json {
            render::write_single(&mut out, node, ctx, opts.select.as_ref(), &opts.expand);
        } else {
            atom::write_entry_document(
                &mut out,
                node,
                ctx,
                opts.select.as_ref(),
                &opts.expand,
                now,
            );
        }
        return Reply::ok(json, out);
    };
    let view = ctx.view_for(node);
    match *first {
        Segment::Property(p) => {
            let value = node.property(p.name);
            if json {
                let mut out = String::from("{\"d\":{");
                sf_odata::value::write_json_string(&mut out, p.name);
                out.push(':');
                value.write_json(&mut out);
                out.push_str("}}");
                Reply::ok(true, out)
            } else {
                Reply {
                    status: StatusCode::OK,
                    content_type: atom::XML_CONTENT_TYPE,
                    body: atom::property_document(p.name, &value),
                }
            }
        }
        Segment::Count => Reply::text("0".into()),
        Segment::Nav(nav) if nav.many => {
            if matches!(rest.first(), Some(Segment::Count)) {
                let mut n = 0u64;
                node.navigate(nav.name, view, &mut |_| n += 1);
                return Reply::text(n.to_string());
            }
            let (select, expand) = (opts.select.as_ref(), &opts.expand);
            let mut out = String::new();
            if json {
                out.push_str("{\"d\":{\"results\":[");
                let mut first = true;
                node.navigate(nav.name, view, &mut |child| {
                    if !first {
                        out.push(',');
                    }
                    first = false;
                    render::write_entity(&mut out, child, ctx, select, expand, ctx.view_for(child));
                });
                out.push_str("]}}");
            } else {
                let title = nav.target_type().map_or(nav.name, |t| t.set);
                atom::open_feed(&mut out, title, ctx, None, now);
                node.navigate(nav.name, view, &mut |child| {
                    atom::write_feed_entry(&mut out, child, ctx, select, expand, now);
                });
                atom::close_feed(&mut out, None);
            }
            Reply::ok(json, out)
        }
        Segment::Nav(nav) => {
            let mut reply = None;
            node.navigate(nav.name, view, &mut |child| {
                if reply.is_none() {
                    reply = Some(by_path(child, rest, ctx, opts, json, now));
                }
            });
            reply.unwrap_or_else(|| {
                Reply::error(
                    &ODataError::new(
                        404,
                        "COE_RESOURCE_NOT_FOUND",
                        format!("Resource not found for the segment '{}'.", nav.name),
                    ),
                    json,
                )
            })
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
    root: &str,
    json: bool,
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
    let (rows, matched, snapshot_id): (Arc<Vec<Row>>, u64, Option<u64>) =
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
                (Arc::clone(&snap.rows), snap.matched, Some(id))
            }
            None => {
                let mut rows = engine::matching_rows(&db, set, opts, today);
                // `$inlinecount=allpages` counts every entity the filter
                // matches, not the `$top`/`$skip` window (MS-ODATA 2.2.6.3.2.1).
                let matched = rows.len() as u64;
                if let Some(skip) = opts.skip {
                    rows.drain(..(skip as usize).min(rows.len()));
                }
                if let Some(top) = opts.top {
                    rows.truncate(top as usize);
                }
                let rows = Arc::new(rows);
                let id = snapshot.then(|| store_snapshot(s, Arc::clone(&rows), matched));
                (rows, matched, id)
            }
        };
    let total = rows.len();
    let start = token.as_ref().map(|t| t.start_row).unwrap_or(0).min(total);
    let end = (start + page_size).min(total);
    let next = (end < total).then(|| {
        let token =
            encode_token(&SkipToken { start_row: end, end_row: end + page_size, snapshot_id });
        opts.next_link(root, &format!("/{}", set.set), &token)
    });
    let ctx = engine::render_context(root, opts, today);
    // Sized from the previous page so a 4 MB page is not built by doubling.
    let per_row = s.page_bytes_per_row.load(Ordering::Relaxed).max(1024);
    let mut out = String::with_capacity(per_row.saturating_mul(end - start).saturating_add(4096));
    let count = opts.inline_count.then_some(matched);
    if json {
        engine::write_page(&mut out, &db, &rows[start..end], &ctx, opts, next.as_deref(), count);
    } else {
        let nodes = rows[start..end].iter().filter_map(|&row| engine::node(&db, row));
        atom::write_feed(
            &mut out,
            set.set,
            nodes,
            &ctx,
            opts.select.as_ref(),
            &opts.expand,
            next.as_deref(),
            count,
            s.clock.now_ms(),
        );
    }
    if end > start && json {
        s.page_bytes_per_row.store(out.len() / (end - start) + 64, Ordering::Relaxed);
    }
    Ok(Reply::ok(json, out))
}

fn store_snapshot(s: &Shared, rows: Arc<Vec<Row>>, matched: u64) -> u64 {
    let id = s.next_snapshot.fetch_add(1, Ordering::Relaxed);
    let mut snaps = s.snapshots.lock().unwrap_or_else(|e| e.into_inner());
    snaps.retain(|_, v| v.last_used.elapsed() < SNAPSHOT_TTL);
    if snaps.len() >= MAX_SNAPSHOTS
        && let Some(oldest) = snaps.iter().min_by_key(|(_, v)| v.last_used).map(|(k, _)| *k)
    {
        snaps.remove(&oldest);
    }
    snaps.insert(id, Snapshot { rows, matched, last_used: Instant::now() });
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
            Some(ms) => {
                if let Err(e) = s.clock.try_set_now(ms) {
                    return admin_error(StatusCode::BAD_REQUEST, format!("set: {e}"));
                }
            }
            None => {
                return admin_error(
                    StatusCode::BAD_REQUEST,
                    format!("set: {set} is not an RFC 3339 instant"),
                );
            }
        }
    } else if let Some(advance) = value.get("advance") {
        let ms = match advance {
            Value::Number(n) => n.as_f64().and_then(seconds_to_ms),
            Value::String(text) => parse_iso_duration(text),
            _ => None,
        };
        match ms {
            Some(ms) => {
                if let Err(e) = s.clock.try_advance(ms) {
                    return admin_error(StatusCode::BAD_REQUEST, format!("advance: {e}"));
                }
            }
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

/// Seconds (any finite number) to whole ms; `None` when they do not fit an
/// i64 (a float-to-int cast would saturate silently).
fn seconds_to_ms(secs: f64) -> Option<i64> {
    let ms = (secs * 1000.0).round();
    (ms.is_finite() && ms.abs() < 9.0e18).then_some(ms as i64)
}

/// `P[nW][nD][T[nH][nM][n[.n]S]]`, optionally with a leading `-`, to ms
/// (`None` when malformed or too large for the clock's arithmetic).
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
    if !any {
        return None;
    }
    seconds_to_ms(sign * total / 1000.0)
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
        assert_eq!(parse_iso_duration("P99999999999999999999D"), None);
        assert_eq!(seconds_to_ms(1e300), None);
        assert_eq!(seconds_to_ms(f64::NAN), None);
        assert_eq!(seconds_to_ms(-1.5), Some(-1500));
    }

    #[test]
    fn skiptoken_round_trip_and_garbage() {
        let t = encode_token(&SkipToken { start_row: 100, end_row: 200, snapshot_id: None });
        assert_eq!(t, "eyJzdGFydFJvdyI6MTAwLCJlbmRSb3ciOjIwMH0=");
        assert_eq!(decode_token(&t).map(|t| t.start_row).ok(), Some(100));
    }
}
