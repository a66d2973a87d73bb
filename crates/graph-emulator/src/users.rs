//! The `/v1.0/users` routes of the double: create, read, update, delete and
//! list with a small, strictly parsed `$filter` (`<prop> eq '<literal>'` for
//! `employeeId`, `userPrincipalName`, `mail`, `id`, `mailNickname`,
//! `displayName`, `givenName`, `surname`, `jobTitle`), `$select` and `$top`
//! paging; the manager reference (`PUT`/`DELETE .../manager/$ref`, `GET
//! .../manager`), stored in [`Tenant::managers`]. Bodies are checked against
//! the Graph metadata excerpt ([`crate::schema`]) and the value rules
//! ([`crate::rules`]); anything the double does not implement is refused
//! rather than accepted.

use std::collections::hash_map::RandomState;
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
/// Properties `$filter` may compare with `eq` (the user resource type
/// documents `$filter (eq, ...)` without advanced query for each).
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
const DEFAULT_TOP: usize = 100;
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

fn duplicate_upn(tenant: &Tenant, upn: &str, except_id: Option<&str>) -> bool {
    tenant.users.iter().any(|(id, u)| {
        Some(id.as_str()) != except_id
            && u.get("userPrincipalName")
                .and_then(Value::as_str)
                .is_some_and(|x| x.eq_ignore_ascii_case(upn))
    })
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
    tenant
        .users
        .iter()
        .find(|(_, u)| {
            u.get("userPrincipalName")
                .and_then(Value::as_str)
                .is_some_and(|x| x.eq_ignore_ascii_case(key))
        })
        .map(|(id, _)| id.clone())
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
    if let Some(Value::Object(user)) = tenant.users.get_mut(&id) {
        user.extend(obj);
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
            tenant.users.remove(&id);
            tenant.managers.remove(&id);
            tenant.managers.retain(|_, manager| *manager != id);
            StatusCode::NO_CONTENT.into_response()
        }
        None => user_not_found(&ids, &key),
    }
}

/// A parsed `$filter`: `<property> eq '<literal>'`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct EqFilter {
    pub(crate) property: String,
    pub(crate) value: String,
}

/// Parses `prop eq 'literal'` (OData string literal, `''` is one quote).
pub(crate) fn parse_filter(s: &str) -> Result<EqFilter, String> {
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
    let Some(rest) = after_ws.strip_prefix("eq") else { return Err(unsupported()) };
    let after_ws = rest.trim_start();
    if after_ws.len() == rest.len() {
        return Err(unsupported());
    }
    let Some(lit) = after_ws.strip_prefix('\'') else { return Err(unsupported()) };
    let mut value = String::new();
    let mut chars = lit.chars();
    loop {
        match chars.next() {
            None => return Err(unsupported()),
            Some('\'') => {
                let tail = chars.as_str();
                if let Some(t) = tail.strip_prefix('\'') {
                    value.push('\'');
                    chars = t.chars();
                } else if tail.trim().is_empty() {
                    return Ok(EqFilter { property: name.to_owned(), value });
                } else {
                    return Err(unsupported());
                }
            }
            Some(c) => value.push(c),
        }
    }
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
    let filter = match filter_raw.as_deref().map(parse_filter).transpose() {
        Ok(f) => f,
        Err(m) => return unsupported(m),
    };
    let select = match select_raw.as_deref().map(|s| parse_select(&shared, s)).transpose() {
        Ok(s) => s,
        Err(m) => return bad_request(&ids, m),
    };
    let tenant = lock(&shared);
    let matching: Vec<&Value> = tenant
        .users
        .values()
        .filter(|u| match &filter {
            None => true,
            Some(f) => u
                .get(&f.property)
                .and_then(Value::as_str)
                .is_some_and(|x| x.to_lowercase() == f.value.to_lowercase()),
        })
        .collect();
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
            "displayName eq 'x'",
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
    fn guids_are_guid_shaped_and_differ() {
        let a = new_guid();
        assert!(is_guid(&a), "{a}");
        assert_ne!(a, new_guid());
    }
}
