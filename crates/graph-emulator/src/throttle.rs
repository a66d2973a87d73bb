//! Write throttling, injected faults and request statistics of the double.
//!
//! * A write budget ([`crate::server::GraphEmulator::write_limit`]): every
//!   write (POST/PATCH/PUT/DELETE under `/v1.0`, each `$batch` item counted,
//!   the `$batch` POST itself not) is recorded with its time; a write that
//!   would exceed the budget within the sliding window is refused with 429,
//!   code `TooManyRequests` and `Retry-After` (whole seconds until a slot
//!   frees, at least 1). Refused writes are not recorded. This is a plain
//!   sliding window, not Graph's token bucket with resource units. A write
//!   done once 80 % of the budget is used answers with
//!   `x-ms-throttle-limit-percentage` (the used share, 0.8 to 1.8, as Graph's
//!   identity throttling guidance describes); `x-ms-throttle-information`
//!   and `x-ms-throttle-scope` are not sent.
//! * `POST /_emulator/faults` `{"method": "POST", "path_prefix": "/users",
//!   "status": 503, "count": 2}`: the next `count` matching requests
//!   (single or `$batch` item; `method` optional, `path_prefix` relative to
//!   `/v1.0`) fail with that status and a Graph error body, with
//!   `Retry-After: 1` for 429 and 503. A faulted request is not a write done.
//! * `GET /_emulator/stats`: `writes`, `requests_by_method` (requests that
//!   reached `/v1.0` routes, `$batch` items included, the `$batch` POST not),
//!   `batches`, `throttled` (429s sent, faults included), `faults_sent` and
//!   `max_writes_in_window` (most writes done in any sliding window of the
//!   configured length, 150 s without a limit).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::users::{RequestIds, bad_request, error};

/// Graph's per-app-and-tenant write window, used for stats without a limit.
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(150);

/// One injected fault.
#[derive(Debug, Clone)]
struct Fault {
    method: Option<Method>,
    path_prefix: String,
    status: StatusCode,
    remaining: u64,
}

#[derive(Debug, Default)]
struct Book {
    write_times: Vec<Instant>,
    requests_by_method: BTreeMap<String, u64>,
    batches: u64,
    throttled: u64,
    faults_sent: u64,
    faults: Vec<Fault>,
}

/// Throttling, fault and stats state shared by the routes.
#[derive(Debug)]
pub(crate) struct Control {
    limit: Option<(usize, Duration)>,
    state: Mutex<Book>,
    /// Tokens the token endpoint issued (shared with [`crate::auth`]).
    pub(crate) tokens_issued: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Control {
    pub(crate) fn new(limit: Option<(usize, Duration)>) -> Self {
        Control { limit, state: Mutex::new(Book::default()), tokens_issued: Default::default() }
    }

    fn lock(&self) -> MutexGuard<'_, Book> {
        match self.state.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }
}

fn is_write(m: &Method) -> bool {
    matches!(*m, Method::POST | Method::PATCH | Method::PUT | Method::DELETE)
}

/// Whole seconds from `now` until `at`, rounded up, at least 1.
fn seconds_until(at: Instant, now: Instant) -> u64 {
    let d = at.saturating_duration_since(now);
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    secs.max(1)
}

/// `Some(retry_after)` when one more write now would exceed the budget.
fn refuse(times: &[Instant], writes: usize, window: Duration, now: Instant) -> Option<u64> {
    let writes = writes.max(1);
    let in_window: Vec<Instant> =
        times.iter().copied().filter(|t| now.saturating_duration_since(*t) < window).collect();
    if in_window.len() < writes {
        return None;
    }
    // After the oldest `len - writes + 1` expire, one slot is free.
    let idx = in_window.len() - writes;
    let frees = in_window.get(idx).map_or(now, |t| *t + window);
    Some(seconds_until(frees, now))
}

/// Most entries of sorted `times` inside any window of length `window`.
fn max_in_window(times: &[Instant], window: Duration) -> usize {
    let mut best = 0;
    let mut start = 0;
    for (end, t) in times.iter().enumerate() {
        while let Some(s) = times.get(start)
            && t.saturating_duration_since(*s) >= window
        {
            start += 1;
        }
        best = best.max(end + 1 - start);
    }
    best
}

fn error_code(status: StatusCode) -> &'static str {
    match status.as_u16() {
        429 => "TooManyRequests",
        503 => "serviceNotAvailable",
        504 => "gatewayTimeout",
        500 => "InternalServerError",
        400 => "Request_BadRequest",
        404 => "Request_ResourceNotFound",
        _ => "generalException",
    }
}

fn with_retry_after(mut resp: Response, secs: u64) -> Response {
    if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
        resp.headers_mut().insert(header::RETRY_AFTER, v);
    }
    resp
}

/// Middleware on the `/v1.0` routes (single requests and `$batch` items).
pub(crate) async fn guard(
    State(control): State<Arc<Control>>,
    Extension(ids): Extension<RequestIds>,
    req: Request,
    next: Next,
) -> Response {
    let path = req.uri().path().to_owned();
    let Some(rel) = path.strip_prefix("/v1.0") else {
        return next.run(req).await;
    };
    let method = req.method().clone();
    let mut pressure = None;
    {
        let mut st = control.lock();
        *st.requests_by_method.entry(method.as_str().to_owned()).or_insert(0) += 1;
        let fault = st.faults.iter_mut().find(|f| {
            f.remaining > 0
                && f.method.as_ref().is_none_or(|m| *m == method)
                && rel.starts_with(f.path_prefix.as_str())
        });
        if let Some(f) = fault {
            f.remaining -= 1;
            let status = f.status;
            st.faults.retain(|f| f.remaining > 0);
            st.faults_sent += 1;
            if status == StatusCode::TOO_MANY_REQUESTS {
                st.throttled += 1;
            }
            drop(st);
            let resp = error(&ids, status, error_code(status), "Injected fault (test double).");
            return if matches!(status.as_u16(), 429 | 503) {
                with_retry_after(resp, 1)
            } else {
                resp
            };
        }
        if is_write(&method) {
            let now = Instant::now();
            if let Some((writes, window)) = control.limit
                && let Some(secs) = refuse(&st.write_times, writes, window, now)
            {
                st.throttled += 1;
                drop(st);
                let resp = error(
                    &ids,
                    StatusCode::TOO_MANY_REQUESTS,
                    "TooManyRequests",
                    "Too many requests: the write limit of this test double is exceeded.",
                );
                return with_retry_after(resp, secs);
            }
            st.write_times.push(now);
            if let Some((writes, window)) = control.limit {
                let used = st
                    .write_times
                    .iter()
                    .rev()
                    .take_while(|t| now.saturating_duration_since(**t) < window)
                    .count();
                pressure = Some(used as f64 / writes.max(1) as f64);
            }
        }
    }
    let mut resp = next.run(req).await;
    // Graph: "x-ms-throttle-limit-percentage: returned only when the
    // application consumed more than 0.8 of its limit", 0.8 to 1.8.
    if let Some(p) = pressure.filter(|p| *p >= 0.8)
        && let Ok(v) = HeaderValue::from_str(&format!("{:.1}", p.min(1.8)))
    {
        resp.headers_mut().insert("x-ms-throttle-limit-percentage", v);
    }
    resp
}

/// Middleware on the `$batch` route: counts batches.
pub(crate) async fn count_batch(
    State(control): State<Arc<Control>>,
    req: Request,
    next: Next,
) -> Response {
    control.lock().batches += 1;
    next.run(req).await
}

/// `POST /_emulator/faults`.
pub(crate) async fn add_fault(
    State(control): State<Arc<Control>>,
    Extension(ids): Extension<RequestIds>,
    body: Bytes,
) -> Response {
    let Ok(Value::Object(obj)) = serde_json::from_slice::<Value>(&body) else {
        return bad_request(&ids, "The fault must be a JSON object.");
    };
    let method = match obj.get("method") {
        None | Some(Value::Null) => None,
        Some(Value::String(m)) => match Method::from_bytes(m.to_ascii_uppercase().as_bytes()) {
            Ok(m) => Some(m),
            Err(_) => return bad_request(&ids, format!("Invalid method '{m}'.")),
        },
        Some(_) => return bad_request(&ids, "'method' must be a string."),
    };
    let path_prefix = match obj.get("path_prefix") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(p)) => p.clone(),
        Some(_) => return bad_request(&ids, "'path_prefix' must be a string."),
    };
    let status = match obj
        .get("status")
        .and_then(Value::as_u64)
        .and_then(|s| u16::try_from(s).ok())
        .and_then(|s| StatusCode::from_u16(s).ok())
    {
        Some(s) if s.is_client_error() || s.is_server_error() => s,
        _ => return bad_request(&ids, "'status' must be an HTTP error status (400-599)."),
    };
    let count = match obj.get("count") {
        None | Some(Value::Null) => 1,
        Some(c) => match c.as_u64() {
            Some(c) if c > 0 => c,
            _ => return bad_request(&ids, "'count' must be a positive integer."),
        },
    };
    control.lock().faults.push(Fault { method, path_prefix, status, remaining: count });
    StatusCode::NO_CONTENT.into_response()
}

/// `GET /_emulator/stats`.
pub(crate) async fn stats(State(control): State<Arc<Control>>) -> Response {
    let window = control.limit.map_or(DEFAULT_WINDOW, |(_, w)| w);
    let st = control.lock();
    let out = json!({
        "writes": st.write_times.len(),
        "requests_by_method": st.requests_by_method,
        "batches": st.batches,
        "throttled": st.throttled,
        "faults_sent": st.faults_sent,
        "max_writes_in_window": max_in_window(&st.write_times, window),
        "tokens_issued": control.tokens_issued.load(std::sync::atomic::Ordering::Relaxed),
    });
    drop(st);
    axum::Json(out).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sliding_window_refuses_and_counts() {
        let t0 = Instant::now();
        let w = Duration::from_secs(2);
        let times = [t0, t0 + Duration::from_millis(500), t0 + Duration::from_millis(1000)];
        assert_eq!(refuse(&times[..2], 3, w, t0 + Duration::from_millis(1100)), None);
        // Oldest frees at t0+2 s: 0.9 s away, rounded up to 1.
        assert_eq!(refuse(&times, 3, w, t0 + Duration::from_millis(1100)), Some(1));
        assert_eq!(refuse(&times, 3, w, t0 + Duration::from_millis(2100)), None);
        assert_eq!(refuse(&times, 2, w, t0 + Duration::from_millis(1100)), Some(2));
        assert_eq!(
            refuse(&times, 1, Duration::from_secs(10), t0 + Duration::from_millis(1100)),
            Some(10)
        );
        assert_eq!(max_in_window(&times, w), 3);
        assert_eq!(max_in_window(&times, Duration::from_millis(600)), 2);
        assert_eq!(max_in_window(&[], w), 0);
    }
}
