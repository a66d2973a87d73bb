//! The routes and their handlers.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, delete, get, post};
use hrsync_store::{Action, Cycle, CycleId, CycleStatus, History, LogEntry, LogQuery, LogStatus};
use jiff::Timestamp;
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::metrics_http;
use crate::table::{Method, Op, ROUTES};
use crate::tokens::Role;
use crate::{AppState, FlowSource};

/// The most items one page holds, whatever `limit` asks for.
pub const MAX_LIMIT: usize = 500;
/// A page's size without `limit`.
const DEFAULT_LIMIT: usize = 50;
/// Cycles read to find a flow's last successful one.
const SUCCESS_LOOKBACK: usize = 200;

/// The router, built from [`crate::table::ROUTES`] (grouped by path, so
/// a path with several methods answers 405 to any other).
pub fn routes() -> Router<AppState> {
    let mut by_path: Vec<(&'static str, MethodRouter<AppState>)> = Vec::new();
    for r in ROUTES {
        let h = handler(r.op, r.method);
        match by_path.iter_mut().find(|(p, _)| *p == r.path) {
            Some((_, m)) => *m = std::mem::take(m).merge(h),
            None => by_path.push((r.path, h)),
        }
    }
    let mut router = Router::new();
    for (path, m) in by_path {
        router = router.route(path, m);
    }
    router.fallback(not_found)
}

/// Every operation's handler: an exhaustive match, so the table cannot
/// name an operation nobody serves.
fn handler(op: Op, method: Method) -> MethodRouter<AppState> {
    fn on<H, T>(method: Method, h: H) -> MethodRouter<AppState>
    where
        H: axum::handler::Handler<T, AppState>,
        T: 'static,
    {
        match method {
            Method::Get => get(h),
            Method::Post => post(h),
            Method::Delete => delete(h),
        }
    }
    match op {
        Op::Healthz => on(method, healthz),
        Op::Readyz => on(method, readyz),
        Op::Metrics => on(method, metrics),
        Op::OpenApi => on(method, openapi),
        Op::Flows => on(method, flows),
        Op::Pause => on(method, pause),
        Op::Resume => on(method, resume),
        Op::Cycles => on(method, cycles),
        Op::Cycle => on(method, cycle),
        Op::Log => on(method, log),
        Op::Escrows => on(method, escrows),
        Op::RetryEscrow => on(method, retry_escrow),
        Op::DropEscrow => on(method, drop_escrow),
    }
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such route")
}

/// A request's bearer token, checked: its role.
pub struct Caller {
    pub role: Role,
    /// The token's name, for the log of what operators did.
    pub name: String,
}

impl Caller {
    pub fn require(&self, role: Role) -> Result<(), ApiError> {
        if self.role >= role {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "this needs the {role} role; the token has {}",
                self.role
            )))
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
            return Err(ApiError::unauthorized(
                "an API token is needed: Authorization: Bearer <token>",
            ));
        };
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .map(str::trim)
            .ok_or_else(|| {
                ApiError::unauthorized("the Authorization header is not `Bearer <token>`")
            })?
            .to_owned();
        let tokens = state.inner.tokens.clone();
        let found = tokio::task::spawn_blocking(move || tokens.verify(&token))
            .await
            .map_err(|_| ApiError::internal("checking the token failed"))?
            .map_err(|e| {
                tracing::error!(error = %e, "API: reading the token file failed.");
                ApiError::unavailable("the API token file could not be read")
            })?;
        match found {
            Some(t) => Ok(Caller { role: t.role, name: t.name }),
            None => Err(ApiError::unauthorized("unknown or revoked API token")),
        }
    }
}

/// Run a state read on the blocking pool.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await.map_err(|_| ApiError::internal("a state read failed"))?
}

async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

async fn readyz(State(state): State<AppState>) -> Response {
    let runner = match state.inner.runner.status().await {
        Ok(s) if s.stopping => Err("the runner is stopping".to_owned()),
        Ok(_) => Ok(()),
        Err(e) => Err(e.to_string()),
    };
    let histories: Vec<(String, Arc<dyn History>)> =
        state.inner.flows.iter().map(|f| (f.name.clone(), f.history.clone())).collect();
    let store = blocking(move || {
        Ok(histories
            .iter()
            .filter_map(|(name, h)| h.cycles(1).err().map(|e| format!("flow {name}: {e}")))
            .collect::<Vec<_>>())
    })
    .await;
    let mut problems = Vec::new();
    if let Err(e) = runner {
        problems.push(e);
    }
    match store {
        Ok(p) => problems.extend(p),
        Err(e) => problems.push(e.message),
    }
    if problems.is_empty() {
        Json(json!({"status": "ready"})).into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "not ready", "problems": problems})),
        )
            .into_response()
    }
}

async fn metrics(
    State(state): State<AppState>,
    caller: Option<Caller>,
    parts: axum::http::HeaderMap,
) -> Result<Response, ApiError> {
    if state.inner.metrics_token_required && caller.is_none() {
        // An absent or bad token: say which, as any route does.
        return Err(if parts.contains_key(header::AUTHORIZATION) {
            ApiError::unauthorized("unknown or revoked API token")
        } else {
            ApiError::unauthorized("an API token is needed: Authorization: Bearer <token>")
        });
    }
    let flows: Vec<(String, Arc<dyn History>, String)> = state
        .inner
        .flows
        .iter()
        .map(|f| (f.name.clone(), f.history.clone(), f.watermark_scope.clone()))
        .collect();
    blocking(move || {
        for (name, history, scope) in &flows {
            let escrows = history.escrows()?;
            let flagged = escrows.iter().filter(|e| e.flagged).count();
            metrics::gauge!(metrics_http::ESCROW_WORKERS, "flow" => name.clone())
                .set(escrows.len() as f64);
            metrics::gauge!(metrics_http::ESCROW_FLAGGED_WORKERS, "flow" => name.clone())
                .set(flagged as f64);
            if let Some(w) = history.watermark(scope)? {
                metrics::gauge!(metrics_http::WATERMARK, "flow" => name.clone()).set(seconds(w));
            }
            if let Some(at) = last_success(history.as_ref())? {
                metrics::gauge!(metrics_http::LAST_SUCCESS, "flow" => name.clone())
                    .set(seconds(at));
            }
        }
        Ok(())
    })
    .await?;
    let body = state.inner.metrics.render();
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], body).into_response())
}

impl axum::extract::OptionalFromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Option<Self>, ApiError> {
        match <Caller as FromRequestParts<AppState>>::from_request_parts(parts, state).await {
            Ok(c) => Ok(Some(c)),
            Err(e) if e.status == StatusCode::UNAUTHORIZED => Ok(None),
            Err(e) => Err(e),
        }
    }
}

fn seconds(t: Timestamp) -> f64 {
    t.as_millisecond() as f64 / 1000.0
}

fn last_success(history: &dyn History) -> Result<Option<Timestamp>, ApiError> {
    Ok(history
        .cycles(SUCCESS_LOOKBACK)?
        .into_iter()
        .find(|c| matches!(c.status, CycleStatus::Completed | CycleStatus::CompletedWithErrors))
        .and_then(|c| c.finished_at))
}

fn cycle_json(flow: &str, c: &Cycle) -> Value {
    let duration_ms =
        c.finished_at.map(|f| f.as_millisecond().saturating_sub(c.started_at.as_millisecond()));
    json!({
        "id": c.id,
        "flow": flow,
        "kind": c.kind.as_str(),
        "status": c.status.as_str(),
        "started_at": c.started_at.to_string(),
        "finished_at": c.finished_at.map(|t| t.to_string()),
        "duration_ms": duration_ms,
        "window": c.window.map(|(from, to)| json!({"from": from.to_string(), "to": to.to_string()})),
        "summary": c.summary,
        "message": c.message,
    })
}

async fn flows(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    let status = state
        .inner
        .runner
        .status()
        .await
        .map_err(|e| ApiError::unavailable(format!("the runner does not answer: {e}")))?;
    let sources: Vec<(String, Arc<dyn History>, String)> = state
        .inner
        .flows
        .iter()
        .map(|f| (f.name.clone(), f.history.clone(), f.watermark_scope.clone()))
        .collect();
    let now = Timestamp::now();
    let out = blocking(move || {
        let mut out = Vec::new();
        for (name, history, scope) in &sources {
            let run = status.flows.iter().find(|f| &f.name == name);
            let escrows = history.escrows()?;
            let last = history.cycles(1)?.into_iter().next();
            let wakeup = history.next_wakeup()?;
            let state = match run {
                Some(r) if r.running.is_some() => "running",
                Some(r) if r.paused => "paused",
                _ => "idle",
            };
            let next_run = run.and_then(|r| r.next_run_in).map(|d| {
                let at = now.checked_add(d).unwrap_or(now);
                // The runner brings a cycle forward to an effective-date
                // wake-up; otherwise it is the interval's.
                let why = match wakeup {
                    Some(w) if w <= at => "wake-up",
                    _ => "interval",
                };
                json!({"at": at.to_string(), "in_seconds": d.as_secs(), "why": why})
            });
            out.push(json!({
                "name": name,
                "state": state,
                "paused": run.is_some_and(|r| r.paused),
                "running": run.and_then(|r| r.running.as_ref()).map(|(job, d)| json!({"job": job.to_string(), "for_seconds": d.as_secs()})),
                "watermark": history.watermark(scope)?.map(|t| t.to_string()),
                "last_cycle": last.map(|c| json!({
                    "id": c.id,
                    "kind": c.kind.as_str(),
                    "status": c.status.as_str(),
                    "started_at": c.started_at.to_string(),
                    "finished_at": c.finished_at.map(|t| t.to_string()),
                })),
                "last_success_at": last_success(history.as_ref())?.map(|t| t.to_string()),
                "next_run": next_run,
                "next_wakeup": wakeup.map(|t| t.to_string()),
                "escrow": {"count": escrows.len(), "flagged": escrows.iter().filter(|e| e.flagged).count()},
            }));
        }
        Ok(out)
    })
    .await?;
    Ok(Json(json!({"flows": out})))
}

/// The query's parameters, each at most once and all known.
struct Params(HashMap<String, String>);

impl Params {
    fn parse(raw: Vec<(String, String)>, known: &[&str]) -> Result<Params, ApiError> {
        let mut map = HashMap::new();
        for (k, v) in raw {
            if !known.contains(&k.as_str()) {
                return Err(ApiError::bad_request(format!(
                    "unknown parameter `{}`; known: {}",
                    shown(&k),
                    known.join(", ")
                )));
            }
            if map.insert(k.clone(), v).is_some() {
                return Err(ApiError::bad_request(format!("parameter `{k}` is given twice")));
            }
        }
        Ok(Params(map))
    }

    fn get(&self, k: &str) -> Option<&str> {
        self.0.get(k).map(String::as_str)
    }

    fn limit(&self) -> Result<usize, ApiError> {
        match self.get("limit") {
            None => Ok(DEFAULT_LIMIT),
            // Capped, not refused: a client asking for everything (any
            // number of digits) gets pages.
            Some(v)
                if !v.is_empty()
                    && v.bytes().all(|b| b.is_ascii_digit())
                    && v.bytes().any(|b| b != b'0') =>
            {
                Ok(v.parse::<usize>().unwrap_or(MAX_LIMIT).min(MAX_LIMIT))
            }
            Some(v) => Err(ApiError::bad_request(format!(
                "`limit` must be a whole number from 1 (at most {MAX_LIMIT} are returned), not `{}`",
                shown(v)
            ))),
        }
    }

    fn int(&self, k: &str) -> Result<Option<i64>, ApiError> {
        self.get(k)
            .map(|v| {
                v.parse::<i64>().ok().filter(|n| *n > 0).ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "`{k}` must be a positive whole number, not `{}`",
                        shown(v)
                    ))
                })
            })
            .transpose()
    }

    fn time(&self, k: &str) -> Result<Option<Timestamp>, ApiError> {
        self.get(k)
            .map(|v| {
                v.parse::<Timestamp>().map_err(|_| {
                    ApiError::bad_request(format!(
                        "`{k}` must be an RFC 3339 instant like 2026-01-31T08:00:00Z, not `{}`",
                        shown(v)
                    ))
                })
            })
            .transpose()
    }

    fn flows<'a>(&self, state: &'a AppState) -> Result<Vec<&'a FlowSource>, ApiError> {
        match self.get("flow") {
            None => Ok(state.inner.flows.iter().collect()),
            Some(f) => state
                .flow(f)
                .map(|f| vec![f])
                .ok_or_else(|| ApiError::not_found(format!("no flow named `{}`", shown(f)))),
        }
    }
}

/// An engine's error for a response: control characters out, bounded.
fn shown_long(s: &str) -> String {
    s.chars().filter(|c| !c.is_control() || *c == '\n').take(2000).collect()
}

/// Text from a request, for a message: bounded and without control characters.
fn shown(s: &str) -> String {
    let mut out: String = s.chars().filter(|c| !c.is_control()).take(80).collect();
    if s.chars().count() > 80 {
        out.push('…');
    }
    out
}

async fn cycles(
    State(state): State<AppState>,
    caller: Caller,
    Query(raw): Query<Vec<(String, String)>>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    let params = Params::parse(raw, &["flow", "limit"])?;
    let limit = params.limit()?;
    let flows: Vec<(String, Arc<dyn History>)> =
        params.flows(&state)?.into_iter().map(|f| (f.name.clone(), f.history.clone())).collect();
    let out = blocking(move || {
        let mut all: Vec<(String, Cycle)> = Vec::new();
        for (name, h) in &flows {
            all.extend(h.cycles(limit)?.into_iter().map(|c| (name.clone(), c)));
        }
        // Ids are unique over the storage's flows: newest first across them.
        all.sort_by_key(|e| std::cmp::Reverse(e.1.id));
        all.truncate(limit);
        Ok(all.iter().map(|(f, c)| cycle_json(f, c)).collect::<Vec<_>>())
    })
    .await?;
    Ok(Json(json!({"cycles": out, "limit": limit})))
}

async fn cycle(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    let id: CycleId = id.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
        ApiError::bad_request(format!(
            "a cycle id is a positive whole number, not `{}`",
            shown(&id)
        ))
    })?;
    let flows: Vec<(String, Arc<dyn History>)> =
        state.inner.flows.iter().map(|f| (f.name.clone(), f.history.clone())).collect();
    let found = blocking(move || {
        for (name, h) in &flows {
            if let Some(c) = h.cycle(id)? {
                let mut counts: HashMap<&'static str, u64> = HashMap::new();
                // The log's statuses per action are the cycle's detail.
                let entries =
                    h.log(&LogQuery { cycle_id: Some(id), limit: 0, ..Default::default() })?;
                for e in &entries {
                    *counts.entry(e.status.as_str()).or_default() += 1;
                }
                let mut v = cycle_json(name, &c);
                v["log_entries"] = json!({"total": entries.len(), "by_status": counts});
                return Ok(Some(v));
            }
        }
        Ok(None)
    })
    .await?;
    found.map(Json).ok_or_else(|| ApiError::not_found(format!("no cycle {id}")))
}

fn entry_json(flow: &str, e: &LogEntry) -> Value {
    let mut v = serde_json::to_value(e).unwrap_or(Value::Null);
    if let Value::Object(m) = &mut v {
        m.insert("flow".into(), json!(flow));
        m.insert("at".into(), json!(e.at.to_string()));
    }
    v
}

async fn log(
    State(state): State<AppState>,
    caller: Caller,
    Query(raw): Query<Vec<(String, String)>>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    let params = Params::parse(
        raw,
        &["flow", "person", "action", "status", "cycle", "from", "to", "q", "limit", "cursor"],
    )?;
    let limit = params.limit()?;
    let action = params
        .get("action")
        .map(|a| {
            Action::parse(a).ok_or_else(|| {
                let all: Vec<&str> = Action::ALL.iter().map(|a| a.as_str()).collect();
                ApiError::bad_request(format!(
                    "`action` is one of {}, not `{}`",
                    all.join(", "),
                    shown(a)
                ))
            })
        })
        .transpose()?;
    let status = params
        .get("status")
        .map(|s| {
            LogStatus::parse(s).filter(|s| *s != LogStatus::Planned).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "`status` is one of success, failure, skipped, warning, not `{}`",
                    shown(s)
                ))
            })
        })
        .transpose()?;
    let from = params.time("from")?;
    let to = params.time("to")?;
    if let (Some(f), Some(t)) = (from, to)
        && f > t
    {
        return Err(ApiError::bad_request("`from` is after `to`"));
    }
    let person = params.get("person").map(str::to_owned);
    if person.as_deref().is_some_and(|p| p.is_empty() || p.len() > 256) {
        return Err(ApiError::bad_request("`person` must be 1 to 256 characters"));
    }
    let text = params.get("q").map(str::to_owned);
    if text.as_deref().is_some_and(|q| q.is_empty() || q.len() > 256) {
        return Err(ApiError::bad_request("`q` must be 1 to 256 characters"));
    }
    let query = LogQuery {
        person_id: person.clone(),
        cycle_id: params.int("cycle")?,
        status,
        action,
        from,
        to,
        text,
        before_id: params.int("cursor")?,
        // One more than the page, to know whether another follows.
        limit: limit + 1,
    };
    let flows: Vec<(String, Arc<dyn History>)> =
        params.flows(&state)?.into_iter().map(|f| (f.name.clone(), f.history.clone())).collect();
    let (entries, more, person_known) = blocking(move || {
        let mut all: Vec<(String, LogEntry)> = Vec::new();
        for (name, h) in &flows {
            all.extend(h.log(&query)?.into_iter().map(|e| (name.clone(), e)));
        }
        all.sort_by_key(|e| std::cmp::Reverse(e.1.id));
        let more = all.len() > limit;
        all.truncate(limit);
        // An unknown person is a 404, not an empty page: is there any entry
        // of theirs at all?
        let person_known = match &query.person_id {
            Some(p) if all.is_empty() => {
                let any = LogQuery { person_id: Some(p.clone()), limit: 1, ..Default::default() };
                let mut known = false;
                for (_, h) in &flows {
                    known |= !h.log(&any)?.is_empty();
                }
                known
            }
            _ => true,
        };
        Ok((all, more, person_known))
    })
    .await?;
    if !person_known {
        return Err(ApiError::not_found(format!(
            "no provisioning log entry for person `{}`",
            shown(person.as_deref().unwrap_or_default())
        )));
    }
    let next = if more { entries.last().map(|(_, e)| e.id.to_string()) } else { None };
    Ok(Json(json!({
        "entries": entries.iter().map(|(f, e)| entry_json(f, e)).collect::<Vec<_>>(),
        "limit": limit,
        "next_cursor": next,
    })))
}

async fn openapi() -> Json<Value> {
    Json(crate::table::openapi())
}

fn runner_error(e: hrsync_runner::RunnerError) -> ApiError {
    use hrsync_runner::RunnerError as E;
    match e {
        E::UnknownFlow(f) => ApiError::not_found(format!("no flow named `{}`", shown(&f))),
        E::Busy(f) => ApiError::conflict(format!(
            "flow `{}` is running a job; try again when it is idle",
            shown(&f)
        )),
        E::Driver(e) => ApiError::new(
            StatusCode::BAD_GATEWAY,
            "job_failed",
            format!("the job failed: {}", shown_long(&e.to_string())),
        ),
        other => ApiError::unavailable(other.to_string()),
    }
}

async fn set_paused(
    state: AppState,
    caller: Caller,
    flow: String,
    paused: bool,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Operator)?;
    if state.flow(&flow).is_none() {
        return Err(ApiError::not_found(format!("no flow named `{}`", shown(&flow))));
    }
    let r = if paused {
        state.inner.runner.pause(Some(&flow)).await
    } else {
        state.inner.runner.resume(Some(&flow)).await
    };
    r.map_err(runner_error)?;
    tracing::info!(
        flow = %shown(&flow),
        by = %caller.name,
        "{}",
        if paused { "API: flow paused." } else { "API: flow resumed." }
    );
    Ok(Json(json!({"flow": flow, "paused": paused})))
}

async fn pause(
    State(state): State<AppState>,
    caller: Caller,
    Path(flow): Path<String>,
) -> Result<Json<Value>, ApiError> {
    set_paused(state, caller, flow, true).await
}

async fn resume(
    State(state): State<AppState>,
    caller: Caller,
    Path(flow): Path<String>,
) -> Result<Json<Value>, ApiError> {
    set_paused(state, caller, flow, false).await
}

fn escrow_json(flow: &str, e: &hrsync_store::Escrow) -> Value {
    json!({
        "flow": flow,
        "person_id": e.person_id,
        "attempts": e.attempts,
        "first_failed_at": e.first_failed_at.to_string(),
        "last_failed_at": e.last_failed_at.to_string(),
        "next_attempt_at": e.next_attempt_at.to_string(),
        "last_error": e.last_error,
        "flagged": e.flagged,
    })
}

async fn escrows(
    State(state): State<AppState>,
    caller: Caller,
    Query(raw): Query<Vec<(String, String)>>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    let params = Params::parse(raw, &["flow"])?;
    let flows: Vec<(String, Arc<dyn History>)> =
        params.flows(&state)?.into_iter().map(|f| (f.name.clone(), f.history.clone())).collect();
    let out = blocking(move || {
        let mut out = Vec::new();
        for (name, h) in &flows {
            out.extend(h.escrows()?.iter().map(|e| escrow_json(name, e)));
        }
        Ok(out)
    })
    .await?;
    Ok(Json(json!({"escrow": out})))
}

/// The flow's history, and whether `person` is in its escrow.
async fn in_escrow(state: &AppState, flow: &str, person: &str) -> Result<bool, ApiError> {
    let Some(f) = state.flow(flow) else {
        return Err(ApiError::not_found(format!("no flow named `{}`", shown(flow))));
    };
    let h = f.history.clone();
    let person = person.to_owned();
    blocking(move || Ok(h.escrows()?.iter().any(|e| e.person_id == person))).await
}

async fn retry_escrow(
    State(state): State<AppState>,
    caller: Caller,
    Path((flow, person)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Operator)?;
    if !in_escrow(&state, &flow, &person).await? {
        return Err(ApiError::not_found(format!(
            "worker `{}` is not in the escrow of flow `{}`",
            shown(&person),
            shown(&flow)
        )));
    }
    tracing::info!(flow = %shown(&flow), person = %shown(&person), by = %caller.name, "API: retrying an escrowed worker.");
    let report = state.inner.runner.on_demand(&flow, &person).await.map_err(runner_error)?;
    let still = in_escrow(&state, &flow, &person).await?;
    Ok(Json(json!({
        "flow": flow,
        "person_id": person,
        "cycle_id": report.cycle_id,
        "status": report.status.as_str(),
        "counts": report.counts.iter().map(|(a, n)| (a.as_str().to_owned(), json!(n))).collect::<serde_json::Map<_, _>>(),
        "message": report.message,
        "still_in_escrow": still,
    })))
}

async fn drop_escrow(
    State(state): State<AppState>,
    caller: Caller,
    Path((flow, person)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Operator)?;
    if state.flow(&flow).is_none() {
        return Err(ApiError::not_found(format!("no flow named `{}`", shown(&flow))));
    }
    let dropped = state.inner.runner.drop_escrow(&flow, &person).await.map_err(runner_error)?;
    if !dropped {
        return Err(ApiError::not_found(format!(
            "worker `{}` is not in the escrow of flow `{}`",
            shown(&person),
            shown(&flow)
        )));
    }
    tracing::info!(flow = %shown(&flow), person = %shown(&person), by = %caller.name, "API: escrow dropped.");
    Ok(Json(json!({"flow": flow, "person_id": person, "dropped": true})))
}
