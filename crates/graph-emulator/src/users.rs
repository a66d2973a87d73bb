//! The `/v1.0/users` routes of the double: create, read, update, delete and
//! list with a small, strictly parsed `$filter` (`<prop> eq '<literal>'` or
//! `<prop> in ('<literal>', ...)` with 1 to 15 literals, for `employeeId`,
//! `userPrincipalName`, `mail`, `id`, `mailNickname`, `displayName`,
//! `givenName`, `surname`, `jobTitle`; compared case-insensitively),
//! `$select` and `$top` paging; the manager reference (`PUT`/`DELETE
//! .../manager/$ref`, `GET .../manager`), stored in [`Tenant::managers`].
//! Bodies are checked against the Graph metadata excerpt ([`crate::schema`])
//! and the value rules ([`crate::rules`]); anything the double does not
//! implement is refused rather than accepted.
//!
//! Lookups do not scan the users: [`UserIndex`] (in the tenant, under the
//! same lock) maps each filterable property's lower-cased value to the ids
//! holding it and is updated on create, PATCH and DELETE, so finding a user
//! by userPrincipalName, the duplicate-UPN check and `$filter` cost O(1)
//! per value rather than O(users).

use std::collections::hash_map::RandomState;
use std::collections::{BTreeSet, HashMap};
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::rules;
use crate::schema::Schema;
use crate::server::Tenant;

/// Shared state of the routes.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) tenant: Arc<Mutex<Tenant>>,
    pub(crate) schema: Schema,
    pub(crate) base_url: String,
}

/// The request id the middleware chose for this request.
#[derive(Debug, Clone)]
pub(crate) struct RequestIds {
    pub(crate) request_id: String,
    pub(crate) client_request_id: String,
}

/// Properties a create must carry (besides `passwordProfile.password`).
const REQUIRED: [&str; 4] = ["accountEnabled", "displayName", "mailNickname", "userPrincipalName"];
/// Properties `$filter` may compare with `eq` or `in` (the user resource
/// type documents `$filter (eq, in, ...)` without advanced query for each).
const FILTERABLE: [&str; 9] = [
    "employeeId",
    "userPrincipalName",
    "mail",
    "id",
    "mailNickname",
    "displayName",
    "givenName",
    "surname",
    "jobTitle",
];
/// Most literals one `in` list may carry: "Using the in operator ...
/// requests are limited to 15 expressions in the filter clause by default"
/// (Microsoft Graph, the `$filter` query parameter page).
const MAX_IN: usize = 15;
const DEFAULT_TOP: usize = 100;

/// Per-tenant indexes of the [`FILTERABLE`] properties: for each (in the
/// order of `FILTERABLE`), the string value lower-cased with
/// [`str::to_lowercase`] (as `$filter` compares) -> the ids of the users
/// holding it. Only string values are indexed, so a null or absent property
/// matches nothing, as when the users were scanned.
#[derive(Debug, Clone, Default)]
pub(crate) struct UserIndex {
    by_property: [HashMap<String, BTreeSet<String>>; FILTERABLE.len()],
}

impl UserIndex {
    fn slot(property: &str) -> Option<usize> {
        FILTERABLE.iter().position(|p| *p == property)
    }

    /// Adds `user`'s filterable values under `id`.
    fn insert(&mut self, id: &str, user: &Value) {
        for (map, property) in self.by_property.iter_mut().zip(FILTERABLE) {
            if let Some(v) = user.get(property).and_then(Value::as_str) {
                map.entry(v.to_lowercase()).or_default().insert(id.to_owned());
            }
        }
    }

    /// Takes `user`'s filterable values (as stored now) out for `id`.
    fn remove(&mut self, id: &str, user: &Value) {
        for (map, property) in self.by_property.iter_mut().zip(FILTERABLE) {
            if let Some(v) = user.get(property).and_then(Value::as_str) {
                let key = v.to_lowercase();
                if let Some(ids) = map.get_mut(&key) {
                    ids.remove(id);
                    if ids.is_empty() {
                        map.remove(&key);
                    }
                }
            }
        }
    }

    /// The ids (in id order) whose `property` lower-cases to the same string
    /// as `value`.
    fn ids(&self, property: &str, value: &str) -> impl Iterator<Item = &str> {
        Self::slot(property)
            .and_then(|i| self.by_property[i].get(&value.to_lowercase()))
            .into_iter()
            .flatten()
            .map(String::as_str)
    }
}
const MAX_TOP: usize = 999;

pub(crate) fn routes(shared: Arc<Shared>, control: Arc<crate::throttle::Control>) -> axum::Router {
    use axum::middleware::{from_fn, from_fn_with_state};
    use axum::routing::{get, post, put};
    let api = axum::Router::new()
        .route("/v1.0/users", get(list_users).post(create_user))
        .route("/v1.0/users/{id}", get(get_user).patch(patch_user).delete(delete_user))
        .route("/v1.0/users/{id}/manager", get(get_manager))
        .route("/v1.0/users/{id}/manager/$ref", put(put_manager_ref).delete(delete_manager_ref))
        .route("/_emulator/users", get(admin_users))
        .fallback(not_found)
        .with_state(shared)
        .layer(from_fn_with_state(Arc::clone(&control), crate::throttle::guard))
        .layer(from_fn(request_ids));
    let admin = axum::Router::new()
        .route("/_emulator/faults", post(crate::throttle::add_fault))
        .route("/_emulator/stats", get(crate::throttle::stats))
        .with_state(Arc::clone(&control))
        .layer(from_fn(request_ids));
    // `$batch` dispatches each item through `api`, the same handlers (and
    // the same throttle) a single request reaches.
    axum::Router::new()
        .route("/v1.0/$batch", post(crate::batch::batch))
        .with_state(api.clone())
        .layer(from_fn_with_state(control, crate::throttle::count_batch))
        .layer(from_fn(request_ids))
        .merge(admin)
        .merge(api)
}

/// A new random GUID-shaped string (version-4 layout).
pub(crate) fn new_guid() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let a = RandomState::new().hash_one(n);
    let b = RandomState::new().hash_one(n ^ a);
    let a = (a & 0xffff_ffff_ffff_0fff) | 0x4000;
    let b = (b & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000;
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xffff,
        b >> 48,
        b & 0xffff_ffff_ffff
    )
}

/// Chooses `request-id`, echoes `client-request-id` (or uses the request id)
/// and puts both on the response.
async fn request_ids(mut req: Request, next: Next) -> Response {
    let request_id = new_guid();
    let client_request_id = req
        .headers()
        .get("client-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .unwrap_or_else(|| request_id.clone());
    let ids = RequestIds { request_id, client_request_id };
    req.extensions_mut().insert(ids.clone());
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&ids.request_id) {
        h.insert("request-id", v);
    }
    if let Ok(v) = HeaderValue::from_str(&ids.client_request_id) {
        h.insert("client-request-id", v);
    }
    resp
}

/// Graph's error body.
pub(crate) fn error(
    ids: &RequestIds,
    status: StatusCode,
    code: &str,
    message: impl Into<String>,
) -> Response {
    let date = jiff::Timestamp::now().round(jiff::Unit::Second).unwrap_or(jiff::Timestamp::now());
    (
        status,
        axum::Json(json!({"error": {
            "code": code,
            "message": message.into(),
            "innerError": {
                "date": date.to_string(),
                "request-id": ids.request_id,
                "client-request-id": ids.client_request_id,
            },
        }})),
    )
        .into_response()
}

pub(crate) fn bad_request(ids: &RequestIds, message: impl Into<String>) -> Response {
    error(ids, StatusCode::BAD_REQUEST, "Request_BadRequest", message)
}

fn user_not_found(ids: &RequestIds, id: &str) -> Response {
    error(
        ids,
        StatusCode::NOT_FOUND,
        "Request_ResourceNotFound",
        format!(
            "Resource '{id}' does not exist or one of its queried reference-property objects are not present."
        ),
    )
}

async fn not_found(Extension(ids): Extension<RequestIds>) -> Response {
    error(
        &ids,
        StatusCode::NOT_FOUND,
        "Request_ResourceNotFound",
        "The test double does not serve this resource.",
    )
}

fn lock(shared: &Shared) -> MutexGuard<'_, Tenant> {
    match shared.tenant.lock() {
        Ok(t) => t,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// Parses a request body that must be a JSON object.
fn parse_object(body: &[u8]) -> Result<Map<String, Value>, String> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err("The request body must be a JSON object.".into()),
        Err(e) => Err(format!("Unable to read JSON request payload: {e}")),
    }
}

/// Checks every property name and value against `type_name` in the schema.
fn check_properties(
    schema: &Schema,
    type_name: &str,
    obj: &Map<String, Value>,
) -> Result<(), String> {
    for (name, value) in obj {
        let Some(def) = schema.property(type_name, name) else {
            return Err(format!(
                "Property '{name}' does not exist on type 'microsoft.graph.{type_name}'."
            ));
        };
        check_value(schema, &def.edm_type, value, name)?;
    }
    Ok(())
}

fn check_value(schema: &Schema, edm: &str, value: &Value, name: &str) -> Result<(), String> {
    if value.is_null() {
        return Ok(());
    }
    let wrong = || {
        format!(
            "Cannot convert the literal '{value}' to the expected type '{edm}' of property '{name}'."
        )
    };
    if let Some(inner) = edm.strip_prefix("Collection(").and_then(|s| s.strip_suffix(')')) {
        let Value::Array(items) = value else { return Err(wrong()) };
        for item in items {
            if item.is_null() {
                return Err(wrong());
            }
            check_value(schema, inner, item, name)?;
        }
        return Ok(());
    }
    match edm {
        "Edm.String" => value.is_string().then_some(()).ok_or_else(wrong),
        "Edm.Guid" => match value.as_str() {
            Some(s) if is_guid(s) => Ok(()),
            _ => Err(wrong()),
        },
        "Edm.Boolean" => value.is_boolean().then_some(()).ok_or_else(wrong),
        "Edm.Int32" => match value.as_i64() {
            Some(n) if i32::try_from(n).is_ok() => Ok(()),
            _ => Err(wrong()),
        },
        "Edm.DateTimeOffset" => match value.as_str() {
            Some(s) if s.parse::<jiff::Timestamp>().is_ok() => Ok(()),
            _ => Err(wrong()),
        },
        _ => {
            if let Some(complex) = edm.strip_prefix("graph.") {
                let Value::Object(obj) = value else { return Err(wrong()) };
                if schema.types.contains_key(complex) {
                    check_properties(schema, complex, obj)?;
                }
                Ok(())
            } else {
                Err(format!(
                    "Property '{name}' has the type '{edm}', which the test double does not accept."
                ))
            }
        }
    }
}

fn is_guid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(p, n)| p.len() == n && p.chars().all(|c| c.is_ascii_hexdigit()))
}

/// Names, types and value rules shared by POST and PATCH.
fn check_user_body(
    shared: &Shared,
    tenant: &Tenant,
    obj: &Map<String, Value>,
) -> Result<(), String> {
    if obj.contains_key("id") {
        return Err("Property 'id' is read-only and cannot be set.".into());
    }
    check_properties(&shared.schema, "user", obj)?;
    if let Some(upn) = obj.get("userPrincipalName").and_then(Value::as_str) {
        rules::check_upn(upn, &tenant.verified_domains)?;
    }
    if let Some(nick) = obj.get("mailNickname").and_then(Value::as_str) {
        rules::check_mail_nickname(nick)?;
    }
    if let Some(eid) = obj.get("employeeId").and_then(Value::as_str) {
        rules::check_employee_id(eid)?;
    }
    Ok(())
}

/// The ids (in id order) whose userPrincipalName equals `upn` ignoring
/// ASCII case. Two strings equal ignoring ASCII case also lower-case alike,
/// so the index holds every candidate; the check keeps the ASCII-only
/// comparison these lookups have always made.
fn upn_ids<'a>(tenant: &'a Tenant, upn: &'a str) -> impl Iterator<Item = &'a str> {
    tenant.index.ids("userPrincipalName", upn).filter(move |id| {
        tenant
            .users
            .get(*id)
            .and_then(|u| u.get("userPrincipalName"))
            .and_then(Value::as_str)
            .is_some_and(|x| x.eq_ignore_ascii_case(upn))
    })
}

fn duplicate_upn(tenant: &Tenant, upn: &str, except_id: Option<&str>) -> bool {
    upn_ids(tenant, upn).any(|id| Some(id) != except_id)
}

const DUPLICATE_UPN: &str =
    "Another object with the same value for property userPrincipalName already exists.";

/// Removes `passwordProfile.password` before storing.
fn strip_password(obj: &mut Map<String, Value>) {
    if let Some(Value::Object(pp)) = obj.get_mut("passwordProfile") {
        pp.remove("password");
    }
}

async fn create_user(
    State(shared): State<Arc<Shared>>,
    Extension(ids): Extension<RequestIds>,
    body: Bytes,
) -> Response {
    let mut obj = match parse_object(&body) {
        Ok(o) => o,
        Err(m) => return bad_request(&ids, m),
    };
    let mut tenant = lock(&shared);
    if let Err(m) = check_user_body(&shared, &tenant, &obj) {
        return bad_request(&ids, m);
    }
    for name in REQUIRED {
        if obj.get(name).is_none_or(Value::is_null) {
            return bad_request(
                &ids,
                format!("Invalid value specified for property '{name}' of resource 'User'."),
            );
        }
    }
    let has_password = obj
        .get("passwordProfile")
        .and_then(|p| p.get("password"))
        .is_some_and(|p| p.as_str().is_some_and(|s| !s.is_empty()));
    if !has_password {
        return bad_request(
            &ids,
            "Invalid value specified for property 'passwordProfile.password' of resource 'User'.",
        );
    }
    let upn = obj.get("userPrincipalName").and_then(Value::as_str).unwrap_or_default().to_owned();
    if duplicate_upn(&tenant, &upn, None) {
        return bad_request(&ids, DUPLICATE_UPN);
    }
    strip_password(&mut obj);
    let id = new_guid();
    obj.insert("id".into(), Value::String(id.clone()));
    let stored = Value::Object(obj);
    tenant.index.insert(&id, &stored);
    tenant.users.insert(id, stored.clone());
    drop(tenant);
    let mut out = Map::new();
    out.insert(
        "@odata.context".into(),
        json!(format!("{}/v1.0/$metadata#users/$entity", shared.base_url)),
    );
    if let Value::Object(m) = stored {
        out.extend(m);
    }
    (StatusCode::CREATED, axum::Json(Value::Object(out))).into_response()
}

/// Finds a user by object id or, as Graph allows, by userPrincipalName.
fn find_id(tenant: &Tenant, key: &str) -> Option<String> {
    if tenant.users.contains_key(key) {
        return Some(key.to_owned());
    }
    upn_ids(tenant, key).next().map(str::to_owned)
}

type Params = Result<Query<Vec<(String, String)>>, axum::extract::rejection::QueryRejection>;

fn parse_select(shared: &Shared, raw: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for name in raw.split(',').map(str::trim) {
        if name.is_empty() || shared.schema.property("user", name).is_none() {
            return Err(format!(
                "Could not find a property named '{name}' on type 'microsoft.graph.user'."
            ));
        }
        out.push(name.to_owned());
    }
    Ok(out)
}

fn project(user: &Value, select: Option<&[String]>) -> Value {
    match (select, user) {
        (Some(names), Value::Object(m)) => Value::Object(
            names.iter().map(|n| (n.clone(), m.get(n).cloned().unwrap_or(Value::Null))).collect(),
        ),
        _ => user.clone(),
    }
}

async fn get_user(
    State(shared): State<Arc<Shared>>,
    Extension(ids): Extension<RequestIds>,
    Path(key): Path<String>,
    params: Params,
) -> Response {
    let Ok(Query(params)) = params else {
        return bad_request(&ids, "The query string could not be parsed.");
    };
    let mut select = None;
    for (k, v) in &params {
        match k.as_str() {
            "$select" => match parse_select(&shared, v) {
                Ok(s) => select = Some(s),
                Err(m) => return bad_request(&ids, m),
            },
            other => {
                return error(
                    &ids,
                    StatusCode::BAD_REQUEST,
                    "Request_UnsupportedQuery",
                    format!("The query option '{other}' is not supported by the test double."),
                );
            }
        }
    }
    let tenant = lock(&shared);
    let Some(user) = find_id(&tenant, &key).and_then(|id| tenant.users.get(&id).cloned()) else {
        return user_not_found(&ids, &key);
    };
    drop(tenant);
    let mut out = Map::new();
    let ctx = match &select {
        Some(s) => format!("{}/v1.0/$metadata#users({})/$entity", shared.base_url, s.join(",")),
        None => format!("{}/v1.0/$metadata#users/$entity", shared.base_url),
    };
    out.insert("@odata.context".into(), json!(ctx));
    if let Value::Object(m) = project(&user, select.as_deref()) {
        out.extend(m);
    }
    axum::Json(Value::Object(out)).into_response()
}

async fn patch_user(
    State(shared): State<Arc<Shared>>,
    Extension(ids): Extension<RequestIds>,
    Path(key): Path<String>,
    body: Bytes,
) -> Response {
    let mut obj = match parse_object(&body) {
        Ok(o) => o,
        Err(m) => return bad_request(&ids, m),
    };
    let mut tenant = lock(&shared);
    let Some(id) = find_id(&tenant, &key) else {
        return user_not_found(&ids, &key);
    };
    if let Err(m) = check_user_body(&shared, &tenant, &obj) {
        return bad_request(&ids, m);
    }
    for name in REQUIRED {
        if obj.get(name).is_some_and(Value::is_null) {
            return bad_request(
                &ids,
                format!("Invalid value specified for property '{name}' of resource 'User'."),
            );
        }
    }
    if let Some(upn) = obj.get("userPrincipalName").and_then(Value::as_str)
        && duplicate_upn(&tenant, upn, Some(&id))
    {
        return bad_request(&ids, DUPLICATE_UPN);
    }
    strip_password(&mut obj);
    let tenant = &mut *tenant;
    if let Some(user) = tenant.users.get_mut(&id) {
        tenant.index.remove(&id, user);
        if let Value::Object(m) = user {
            m.extend(obj);
        }
        tenant.index.insert(&id, user);
    }
    StatusCode::NO_CONTENT.into_response()
}

async fn delete_user(
    State(shared): State<Arc<Shared>>,
    Extension(ids): Extension<RequestIds>,
    Path(key): Path<String>,
) -> Response {
    let mut tenant = lock(&shared);
    match find_id(&tenant, &key) {
        Some(id) => {
            if let Some(user) = tenant.users.remove(&id) {
                tenant.index.remove(&id, &user);
            }
            tenant.managers.remove(&id);
            tenant.managers.retain(|_, manager| *manager != id);
            StatusCode::NO_CONTENT.into_response()
        }
        None => user_not_found(&ids, &key),
    }
}

/// A parsed `<property> eq '<literal>'` (the `eq`-only view of [`Filter`]
/// the parser's first tests were written against).
#[cfg(test)]
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct EqFilter {
    pub(crate) property: String,
    pub(crate) value: String,
}

/// A parsed `$filter` clause: `eq` (one value) or `in` (1 to [`MAX_IN`]
/// values); a user matches when its property equals any value, ignoring case.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Filter {
    pub(crate) property: String,
    pub(crate) operator: Operator,
    pub(crate) values: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Operator {
    Eq,
    In,
}

/// Parses `prop eq 'literal'` (OData string literal, `''` is one quote).
#[cfg(test)]
pub(crate) fn parse_filter(s: &str) -> Result<EqFilter, String> {
    match parse_clause(s)? {
        Filter { property, operator: Operator::Eq, mut values } if values.len() == 1 => {
            Ok(EqFilter { property, value: values.remove(0) })
        }
        _ => Err(format!("Unsupported or invalid query filter clause specified: '{s}'.")),
    }
}

/// An OData string literal at the start of `s`: its value (`''` is one
/// quote) and what follows the closing quote.
fn literal(s: &str) -> Option<(String, &str)> {
    let mut rest = s.strip_prefix('\'')?;
    let mut value = String::new();
    loop {
        let quote = rest.find('\'')?;
        value.push_str(&rest[..quote]);
        let tail = &rest[quote + 1..];
        match tail.strip_prefix('\'') {
            Some(t) => {
                value.push('\'');
                rest = t;
            }
            None => return Some((value, tail)),
        }
    }
}

/// Parses `prop eq 'literal'` or `prop in ('a', 'b', ...)` (OData's
/// `RWS "eq" RWS` and `RWS "in" BWS` list with optional spaces around the
/// commas and parentheses); nothing else.
pub(crate) fn parse_clause(s: &str) -> Result<Filter, String> {
    let unsupported = || format!("Unsupported or invalid query filter clause specified: '{s}'.");
    let rest = s.trim_start();
    let name_len =
        rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(rest.len());
    let (name, rest) = rest.split_at(name_len);
    if !FILTERABLE.contains(&name) {
        return Err(format!(
            "Unsupported or invalid query filter clause specified for property '{name}' of resource 'User'."
        ));
    }
    let after_ws = rest.trim_start();
    if after_ws.len() == rest.len() {
        return Err(unsupported());
    }
    let property = name.to_owned();
    if let Some(rest) = after_ws.strip_prefix("eq") {
        let after_ws = rest.trim_start();
        if after_ws.len() == rest.len() {
            return Err(unsupported());
        }
        let (value, tail) = literal(after_ws).ok_or_else(unsupported)?;
        if !tail.trim().is_empty() {
            return Err(unsupported());
        }
        return Ok(Filter { property, operator: Operator::Eq, values: vec![value] });
    }
    let Some(rest) = after_ws.strip_prefix("in") else { return Err(unsupported()) };
    let Some(mut rest) = rest.trim_start().strip_prefix('(') else { return Err(unsupported()) };
    let mut values = Vec::new();
    loop {
        // An empty list `()` fails here too: it has no literal.
        let (value, tail) = literal(rest.trim_start()).ok_or_else(unsupported)?;
        values.push(value);
        let tail = tail.trim_start();
        if let Some(t) = tail.strip_prefix(',') {
            rest = t;
        } else if let Some(t) = tail.strip_prefix(')') {
            if !t.trim().is_empty() {
                return Err(unsupported());
            }
            break;
        } else {
            return Err(unsupported());
        }
    }
    if values.len() > MAX_IN {
        // Our wording: the exact text Graph returns was not found in its
        // documentation; the limit is the documented one.
        return Err(format!(
            "Too many expressions in the filter clause: {}. The 'in' operator allows at most {MAX_IN} by default.",
            values.len()
        ));
    }
    Ok(Filter { property, operator: Operator::In, values })
}

/// Percent-encodes a query value (everything but RFC 3986 unreserved).
fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

async fn list_users(
    State(shared): State<Arc<Shared>>,
    Extension(ids): Extension<RequestIds>,
    params: Params,
) -> Response {
    let unsupported =
        |m: String| error(&ids, StatusCode::BAD_REQUEST, "Request_UnsupportedQuery", m);
    let Ok(Query(params)) = params else {
        return bad_request(&ids, "The query string could not be parsed.");
    };
    let (mut filter_raw, mut select_raw, mut top, mut skip) = (None, None, DEFAULT_TOP, 0usize);
    for (k, v) in &params {
        match k.as_str() {
            "$filter" => filter_raw = Some(v.clone()),
            "$select" => select_raw = Some(v.clone()),
            "$top" => match v.parse::<usize>() {
                Ok(n) if (1..=MAX_TOP).contains(&n) => top = n,
                _ => {
                    return bad_request(
                        &ids,
                        format!(
                            "Invalid page size specified: '{v}'. Must be between 1 and {MAX_TOP} inclusive."
                        ),
                    );
                }
            },
            "$skiptoken" => match v.parse::<usize>() {
                Ok(n) => skip = n,
                Err(_) => return bad_request(&ids, "The $skiptoken is invalid."),
            },
            other => {
                return unsupported(format!(
                    "The query option '{other}' is not supported by the test double."
                ));
            }
        }
    }
    let filter = match filter_raw.as_deref().map(parse_clause).transpose() {
        Ok(f) => f,
        Err(m) => return unsupported(m),
    };
    let select = match select_raw.as_deref().map(|s| parse_select(&shared, s)).transpose() {
        Ok(s) => s,
        Err(m) => return bad_request(&ids, m),
    };
    let tenant = lock(&shared);
    let matching: Vec<&Value> = match &filter {
        None => tenant.users.values().collect(),
        Some(f) => {
            // In id order, as the users map iterates, each user once.
            let ids: BTreeSet<&str> =
                f.values.iter().flat_map(|v| tenant.index.ids(&f.property, v)).collect();
            ids.into_iter().filter_map(|id| tenant.users.get(id)).collect()
        }
    };
    let page: Vec<Value> =
        matching.iter().skip(skip).take(top).map(|u| project(u, select.as_deref())).collect();
    let more = matching.len() > skip.saturating_add(top);
    drop(tenant);
    let ctx = match &select {
        Some(s) => format!("{}/v1.0/$metadata#users({})", shared.base_url, s.join(",")),
        None => format!("{}/v1.0/$metadata#users", shared.base_url),
    };
    let mut out = Map::new();
    out.insert("@odata.context".into(), json!(ctx));
    if more {
        let mut q = Vec::new();
        if let Some(f) = &filter_raw {
            q.push(format!("$filter={}", encode(f)));
        }
        if let Some(s) = &select_raw {
            q.push(format!("$select={}", encode(s)));
        }
        q.push(format!("$top={top}"));
        q.push(format!("$skiptoken={}", skip + top));
        out.insert(
            "@odata.nextLink".into(),
            json!(format!("{}/v1.0/users?{}", shared.base_url, q.join("&"))),
        );
    }
    out.insert("value".into(), Value::Array(page));
    axum::Json(Value::Object(out)).into_response()
}

/// The manager id from a `$ref` body's `@odata.id`: any base URL ending in
/// `/users/{id}` or `/directoryObjects/{id}`.
fn ref_target(obj: &Map<String, Value>) -> Result<String, String> {
    let Some(odata_id) = obj.get("@odata.id").and_then(Value::as_str) else {
        return Err("The request body must carry the reference as '@odata.id'.".into());
    };
    if obj.len() != 1 {
        return Err("A reference body carries only '@odata.id'.".into());
    }
    let mut parts = odata_id.rsplitn(3, '/');
    let (Some(id), Some(set), Some(_)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(format!("Invalid object identifier '{odata_id}'."));
    };
    if id.is_empty() || !(set == "users" || set == "directoryObjects") {
        return Err(format!("Invalid object identifier '{odata_id}'."));
    }
    Ok(id.to_owned())
}

async fn put_manager_ref(
    State(shared): State<Arc<Shared>>,
    Extension(ids): Extension<RequestIds>,
    Path(key): Path<String>,
    body: Bytes,
) -> Response {
    let obj = match parse_object(&body) {
        Ok(o) => o,
        Err(m) => return bad_request(&ids, m),
    };
    let target = match ref_target(&obj) {
        Ok(t) => t,
        Err(m) => return bad_request(&ids, m),
    };
    let mut tenant = lock(&shared);
    let Some(id) = find_id(&tenant, &key) else {
        return user_not_found(&ids, &key);
    };
    let Some(manager) = find_id(&tenant, &target) else {
        return user_not_found(&ids, &target);
    };
    if manager == id {
        return bad_request(&ids, "A user cannot be their own manager.");
    }
    tenant.managers.insert(id, manager);
    StatusCode::NO_CONTENT.into_response()
}

async fn get_manager(
    State(shared): State<Arc<Shared>>,
    Extension(ids): Extension<RequestIds>,
    Path(key): Path<String>,
) -> Response {
    let tenant = lock(&shared);
    let Some(id) = find_id(&tenant, &key) else {
        return user_not_found(&ids, &key);
    };
    let Some(user) = tenant.managers.get(&id).and_then(|m| tenant.users.get(m)).cloned() else {
        return user_not_found(&ids, "manager");
    };
    drop(tenant);
    let mut out = Map::new();
    out.insert(
        "@odata.context".into(),
        json!(format!("{}/v1.0/$metadata#directoryObjects/$entity", shared.base_url)),
    );
    out.insert("@odata.type".into(), json!("#microsoft.graph.user"));
    if let Value::Object(m) = user {
        out.extend(m);
    }
    axum::Json(Value::Object(out)).into_response()
}

async fn delete_manager_ref(
    State(shared): State<Arc<Shared>>,
    Extension(ids): Extension<RequestIds>,
    Path(key): Path<String>,
) -> Response {
    let mut tenant = lock(&shared);
    let Some(id) = find_id(&tenant, &key) else {
        return user_not_found(&ids, &key);
    };
    match tenant.managers.remove(&id) {
        Some(_) => StatusCode::NO_CONTENT.into_response(),
        None => user_not_found(&ids, "manager"),
    }
}

/// Every stored user plus `_managerId` (the manager's id or null).
async fn admin_users(State(shared): State<Arc<Shared>>) -> Response {
    let tenant = lock(&shared);
    let users: Vec<Value> = tenant
        .users
        .iter()
        .map(|(id, u)| {
            let mut u = u.clone();
            if let Value::Object(m) = &mut u {
                m.insert("_managerId".into(), json!(tenant.managers.get(id)));
            }
            u
        })
        .collect();
    drop(tenant);
    axum::Json(Value::Array(users)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_parses_escaped_quotes_and_refuses_the_rest() {
        assert_eq!(
            parse_filter("userPrincipalName eq 'o''brien@contoso.example'"),
            Ok(EqFilter {
                property: "userPrincipalName".into(),
                value: "o'brien@contoso.example".into()
            })
        );
        assert_eq!(parse_filter("employeeId eq ''''").map(|f| f.value), Ok("'".into()));
        for bad in [
            "employeeId ne '1'",
            "officeLocation eq 'x'",
            "employeeId eq 'a' or id eq 'b'",
            "employeeId eq 'o'brien'",
            "employeeId eq 'open",
            "employeeIdeq'1'",
            "startsWith(mail,'a')",
            "employeeId eq 1",
        ] {
            assert!(parse_filter(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn in_lists_parse_quotes_and_spaces() {
        assert_eq!(
            parse_clause("mail in ('o''brien@contoso.example','b@contoso.example')"),
            Ok(Filter {
                property: "mail".into(),
                operator: Operator::In,
                values: vec!["o'brien@contoso.example".into(), "b@contoso.example".into()],
            })
        );
        assert_eq!(
            parse_clause(" employeeId in( '1' ,'''' , 'a,b)' ) ").map(|f| f.values),
            Ok(vec!["1".into(), "'".into(), "a,b)".into()])
        );
        assert_eq!(parse_clause("id in ('x')").map(|f| f.values.len()), Ok(1));
        assert_eq!(
            parse_clause("employeeId eq 'x'").map(|f| (f.operator, f.values)),
            Ok((Operator::Eq, vec!["x".into()]))
        );
        // `parse_filter` stays the `eq` parser.
        assert!(parse_filter("employeeId in ('x')").is_err());
    }

    #[test]
    fn in_lists_take_fifteen_values_and_refuse_sixteen() {
        let list = |n: usize| {
            let items: Vec<String> = (0..n).map(|i| format!("'{i}'")).collect();
            format!("employeeId in ({})", items.join(","))
        };
        assert_eq!(parse_clause(&list(15)).map(|f| f.values.len()), Ok(15));
        let err = parse_clause(&list(16)).unwrap_err();
        assert!(err.contains("Too many expressions") && err.contains("16"), "{err}");
        assert!(err.contains("at most 15"), "{err}");
    }

    #[test]
    fn malformed_in_lists_are_refused() {
        for bad in [
            "employeeId in ()",
            "employeeId in ( )",
            "employeeId in ('a',)",
            "employeeId in (,'a')",
            "employeeId in ('a' 'b')",
            "employeeId in ('a'",
            "employeeId in 'a'",
            "employeeId in ('a') or id eq 'b'",
            "employeeId in ('a'))",
            "employeeId in ('o'brien')",
            "employeeId in ('open)",
            "employeeId in (1)",
            "employeeId in ('a';'b')",
            "employeeIdin ('a')",
            "employeeId IN ('a')",
            "officeLocation in ('a')",
            "employeeId in",
        ] {
            assert!(parse_clause(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn index_follows_create_patch_and_delete() {
        let mut index = UserIndex::default();
        let a = json!({"id": "A", "userPrincipalName": "Ann@x", "employeeId": "1"});
        index.insert("A", &a);
        index.insert("B", &json!({"id": "B", "employeeId": "1"}));
        assert_eq!(index.ids("employeeId", "1").collect::<Vec<_>>(), ["A", "B"]);
        assert_eq!(index.ids("userPrincipalName", "ANN@X").collect::<Vec<_>>(), ["A"]);
        index.remove("A", &a);
        index.insert("A", &json!({"id": "A", "userPrincipalName": "bo@x", "employeeId": null}));
        assert_eq!(index.ids("employeeId", "1").collect::<Vec<_>>(), ["B"]);
        assert_eq!(index.ids("userPrincipalName", "ann@x").count(), 0);
        assert_eq!(index.ids("userPrincipalName", "BO@X").collect::<Vec<_>>(), ["A"]);
        assert_eq!(index.ids("officeLocation", "x").count(), 0);
    }

    #[test]
    fn guids_are_guid_shaped_and_differ() {
        let a = new_guid();
        assert!(is_guid(&a), "{a}");
        assert_ne!(a, new_guid());
    }
}
