//! `POST /v1.0/$batch`: JSON batching as Graph documents it (at most 20
//! requests, unique ids, relative urls, `dependsOn` with 424 for an item
//! whose dependency did not succeed, Content-Type required with a body). Each item is dispatched through the
//! same router, and so the same handlers, as a single request.
//!
//! Items run one after another in the order given; a `dependsOn` must name
//! an earlier item. Graph may run independent items in parallel and return
//! them in any order; clients correlate by `id`, which this double allows.

use std::collections::BTreeMap;

use axum::Extension;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderName, HeaderValue, Method, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use tower::ServiceExt;

use crate::users::{RequestIds, bad_request, error, new_guid};

/// Graph's limit on requests in one batch.
pub const MAX_REQUESTS: usize = 20;
/// Largest item response body the double reads back.
const MAX_ITEM_BODY: usize = 4 * 1024 * 1024;

/// One validated batch item.
struct Item {
    id: String,
    method: Method,
    url: String,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: Option<Value>,
    depends_on: Vec<String>,
}

fn string_field<'a>(req: &'a Map<String, Value>, name: &str, n: usize) -> Result<&'a str, String> {
    match req.get(name) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        _ => Err(format!("Request {n} of the batch is missing the required property '{name}'.")),
    }
}

/// The url must be relative to the version root (`/users`, `users/{id}`);
/// a version segment or an absolute URL is refused.
fn check_url(url: &str) -> Result<String, String> {
    let path = url.strip_prefix('/').unwrap_or(url);
    let first = path.split(['/', '?']).next().unwrap_or_default();
    if url.contains("://") || first == "v1.0" || first == "beta" || first.is_empty() {
        return Err(format!(
            "Invalid request URL '{url}': a batch request url must be relative to the version root, e.g. '/users'."
        ));
    }
    Ok(format!("/v1.0/{path}"))
}

fn parse(body: &[u8]) -> Result<Vec<Item>, String> {
    let Ok(Value::Object(outer)) = serde_json::from_slice::<Value>(body) else {
        return Err("The batch request body must be a JSON object.".into());
    };
    let Some(Value::Array(requests)) = outer.get("requests") else {
        return Err("The batch request body must carry a 'requests' array.".into());
    };
    if requests.is_empty() {
        return Err("The batch request must contain at least one request.".into());
    }
    if requests.len() > MAX_REQUESTS {
        return Err(format!(
            "The number of batch requests ({}) exceeds the limit of {MAX_REQUESTS}.",
            requests.len()
        ));
    }
    let mut items: Vec<Item> = Vec::new();
    for (n, req) in requests.iter().enumerate() {
        let Value::Object(req) = req else {
            return Err(format!("Request {n} of the batch must be a JSON object."));
        };
        let id = string_field(req, "id", n)?.to_owned();
        if items.iter().any(|i| i.id == id) {
            return Err(format!("The batch contains more than one request with the id '{id}'."));
        }
        let method = match string_field(req, "method", n)?.to_ascii_uppercase().as_str() {
            "GET" => Method::GET,
            "POST" => Method::POST,
            "PATCH" => Method::PATCH,
            "PUT" => Method::PUT,
            "DELETE" => Method::DELETE,
            other => return Err(format!("Invalid method '{other}' in batch request '{id}'.")),
        };
        let url = check_url(string_field(req, "url", n)?)?;
        let mut headers = Vec::new();
        match req.get("headers") {
            None | Some(Value::Null) => {}
            Some(Value::Object(h)) => {
                for (k, v) in h {
                    let (Ok(name), Some(Ok(value))) = (
                        HeaderName::from_bytes(k.as_bytes()),
                        v.as_str().map(HeaderValue::from_str),
                    ) else {
                        return Err(format!("Invalid header '{k}' in batch request '{id}'."));
                    };
                    headers.push((name, value));
                }
            }
            Some(_) => {
                return Err(format!("The headers of batch request '{id}' must be an object."));
            }
        }
        let body = req.get("body").filter(|b| !b.is_null()).cloned();
        // Graph: "When a body is included with the request, the headers
        // object must contain a value for Content-Type."
        if body.is_some() && !headers.iter().any(|(k, _)| *k == header::CONTENT_TYPE) {
            return Err(format!("Batch request '{id}' has a body but no Content-Type header."));
        }
        let depends_on = match req.get("dependsOn") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(deps)) => {
                let mut out = Vec::new();
                for d in deps {
                    let Some(d) = d.as_str() else {
                        return Err(format!("Invalid dependsOn in batch request '{id}'."));
                    };
                    if !items.iter().any(|i| i.id == d) {
                        return Err(format!(
                            "Batch request '{id}' depends on '{d}', which is not an earlier request of the batch."
                        ));
                    }
                    out.push(d.to_owned());
                }
                out
            }
            Some(_) => {
                return Err(format!("The dependsOn of batch request '{id}' must be an array."));
            }
        };
        items.push(Item { id, method, url, headers, body, depends_on });
    }
    Ok(items)
}

/// Runs one item through the router and turns the answer into a batch
/// response entry.
async fn dispatch(api: &axum::Router, item: Item) -> (u16, Value) {
    let mut builder = Request::builder().method(item.method).uri(item.url.as_str());
    for (k, v) in item.headers {
        builder = builder.header(k, v);
    }
    let body = match &item.body {
        Some(b) => Body::from(b.to_string()),
        None => Body::empty(),
    };
    let resp = match builder.body(body) {
        Ok(req) => match api.clone().oneshot(req).await {
            Ok(r) => r,
            Err(never) => match never {},
        },
        Err(e) => {
            let ids = RequestIds { request_id: new_guid(), client_request_id: new_guid() };
            bad_request(&ids, format!("Invalid request URL '{}': {e}", item.url))
        }
    };
    entry(&item.id, resp).await
}

async fn entry(id: &str, resp: Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let headers: BTreeMap<String, String> = resp
        .headers()
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
        .collect();
    let bytes = axum::body::to_bytes(resp.into_body(), MAX_ITEM_BODY).await.unwrap_or_default();
    let mut out = json!({"id": id, "status": status, "headers": headers});
    if !bytes.is_empty()
        && let (Value::Object(m), Ok(body)) = (&mut out, serde_json::from_slice::<Value>(&bytes))
    {
        m.insert("body".into(), body);
    }
    (status, out)
}

pub(crate) async fn batch(
    State(api): State<axum::Router>,
    Extension(ids): Extension<RequestIds>,
    body: Bytes,
) -> Response {
    let items = match parse(&body) {
        Ok(i) => i,
        Err(m) => return bad_request(&ids, m),
    };
    let mut statuses: BTreeMap<String, u16> = BTreeMap::new();
    let mut responses = Vec::new();
    for item in items {
        let id = item.id.clone();
        let failed = item
            .depends_on
            .iter()
            .find(|d| !statuses.get(d.as_str()).is_some_and(|s| (200..300).contains(s)));
        let (status, out) = match failed {
            Some(dep) => {
                let item_ids = RequestIds { request_id: new_guid(), client_request_id: new_guid() };
                // The error code of Graph's 424 item body is not documented
                // in what we have (unverified); clients should key on 424.
                let resp = error(
                    &item_ids,
                    StatusCode::FAILED_DEPENDENCY,
                    "FailedDependency",
                    format!("The request depends on request '{dep}', which did not succeed."),
                );
                entry(&id, resp).await
            }
            None => dispatch(&api, item).await,
        };
        statuses.insert(id, status);
        responses.push(out);
    }
    axum::Json(json!({"responses": responses})).into_response()
}
