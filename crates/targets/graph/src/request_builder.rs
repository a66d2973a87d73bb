//! Pure builders for Graph requests: `$filter` values (`eq`, `in`) and path
//! segments, escaped; create and termination bodies, manager references, the
//! initial password, redaction, and `$batch` requests and their responses.
//! PATCH bodies are `crate::properties::patch`. Nothing here does I/O except
//! drawing random bytes for the password.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use rand::TryRng;
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde_json::{Map, Value, json};

// Everything but the unreserved characters of RFC 3986 is encoded, so a
// quote, space or `&` in an employee id cannot break out of the query.
const QUERY: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// Graph's filter path for a mapping attribute (`a.b` is `a/b`).
fn filter_path(attribute: &str) -> String {
    attribute.replace('.', "/")
}

/// An OData string literal: single quotes doubled inside.
fn literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// The `$filter` value finding users whose `attribute` equals `value`
/// (`employeeId eq 'O''Hara'`), URL-encoded.
pub fn eq_filter(attribute: &str, value: &str) -> String {
    let filter = format!("{} eq {}", filter_path(attribute), literal(value));
    utf8_percent_encode(&filter, QUERY).to_string()
}

/// Values per `in` filter: Graph limits a filter clause to 15 expressions.
pub const IN_CHUNK: usize = 15;

/// The `$filter` value finding users whose `attribute` is one of `values`
/// (`employeeId in ('a','b')`), URL-encoded.
pub fn in_filter(attribute: &str, values: &[&String]) -> String {
    let list: Vec<String> = values.iter().map(|v| literal(v)).collect();
    let filter = format!("{} in ({})", filter_path(attribute), list.join(","));
    utf8_percent_encode(&filter, QUERY).to_string()
}

/// One path segment: an object id can never add a `/`, `?` or `#`.
pub fn segment(id: &str) -> String {
    utf8_percent_encode(id, QUERY).to_string()
}

/// Path (relative to `/v1.0`) of a user's manager reference, for both the
/// `PUT` and the `DELETE`.
pub fn manager_ref_path(user_id: &str) -> String {
    format!("/users/{}/manager/$ref", segment(user_id))
}

/// Body of `PUT /users/{id}/manager/$ref`.
pub fn manager_ref_body(graph_url: &str, manager_id: &str) -> Value {
    json!({ "@odata.id": format!("{}/v1.0/users/{}", graph_url.trim_end_matches('/'), segment(manager_id)) })
}

/// Body of the PATCH that disables an account.
pub fn disable_body() -> Value {
    json!({ "accountEnabled": false })
}

/// Body of the PATCH terminating an account: disabled, with the leave date
/// as an RFC 3339 UTC string.
pub fn termination_body(leave: jiff::Timestamp) -> Value {
    json!({ "accountEnabled": false, "employeeLeaveDateTime": leave.to_string() })
}

// ---------------------------------------------------------------- password

const UPPER: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";
const LOWER: &[u8] = b"abcdefghijkmnopqrstuvwxyz";
const DIGIT: &[u8] = b"23456789";
const SYMBOL: &[u8] = b"!#$%*+-=?@^_~";
/// Length of a generated password (Entra requires 8..=256).
pub const PASSWORD_LEN: usize = 20;

/// The initial password of a created user. Its `Debug` prints
/// `<redacted>`; the clear text is only reachable through [`create_body`].
pub struct InitialPassword(SecretString);

impl fmt::Debug for InitialPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// The random source failed.
#[derive(Debug, thiserror::Error)]
#[error("no random bytes for the initial password: {0}")]
pub struct PasswordError(String);

/// An unbiased index below `n` (rejection sampling).
fn below<R: TryRng>(rng: &mut R, n: usize) -> Result<usize, PasswordError> {
    let n = n as u32;
    let zone = u32::MAX - (u32::MAX % n);
    loop {
        let x = rng.try_next_u32().map_err(|e| PasswordError(e.to_string()))?;
        if x < zone {
            return Ok((x % n) as usize);
        }
    }
}

impl InitialPassword {
    /// A password from the operating system's random source.
    pub fn generate() -> Result<Self, PasswordError> {
        Self::generate_with(&mut rand::rngs::SysRng)
    }

    /// [`PASSWORD_LEN`] characters holding at least one upper-case letter,
    /// lower-case letter, digit and symbol (Entra's complexity rule asks for
    /// three of the four), in random order.
    pub fn generate_with<R: TryRng>(rng: &mut R) -> Result<Self, PasswordError> {
        let all: Vec<u8> = [UPPER, LOWER, DIGIT, SYMBOL].concat();
        let mut chars = Vec::with_capacity(PASSWORD_LEN);
        for class in [UPPER, LOWER, DIGIT, SYMBOL] {
            chars.push(class[below(rng, class.len())?]);
        }
        while chars.len() < PASSWORD_LEN {
            chars.push(all[below(rng, all.len())?]);
        }
        for i in (1..chars.len()).rev() {
            let j = below(rng, i + 1)?;
            chars.swap(i, j);
        }
        let text = String::from_utf8(chars).expect("ASCII alphabet");
        Ok(InitialPassword(SecretString::from(text)))
    }
}

// ------------------------------------------------------------ create/PATCH

/// A create body lacks a property Graph requires.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("create body lacks required property {0}")]
pub struct MissingProperty(pub &'static str);

/// Body of `POST /users`: the mapped properties plus the initial password
/// (`forceChangePasswordNextSignIn`). `accountEnabled` defaults to `true`;
/// `displayName`, `mailNickname` and `userPrincipalName` must be mapped
/// (non-null). A `passwordProfile` in `properties` is replaced.
///
/// The returned value holds the password in clear: it is for the wire only
/// and must not be logged.
pub fn create_body(
    properties: &Map<String, Value>,
    password: &InitialPassword,
) -> Result<Value, MissingProperty> {
    let mut body = properties.clone();
    body.retain(|_, v| !v.is_null());
    for required in ["displayName", "mailNickname", "userPrincipalName"] {
        if !body.contains_key(required) {
            return Err(MissingProperty(required));
        }
    }
    body.entry("accountEnabled").or_insert(Value::Bool(true));
    body.insert(
        "passwordProfile".into(),
        json!({
            "password": password.0.expose_secret(),
            "forceChangePasswordNextSignIn": true,
        }),
    );
    Ok(Value::Object(body))
}

// ------------------------------------------------------------------ $batch

/// Graph's limit of requests in one `$batch`.
pub const MAX_BATCH: usize = 20;
/// Seconds to wait when a throttled item names no `Retry-After`.
pub const DEFAULT_RETRY_AFTER: u64 = 5;

/// HTTP method of a batched request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    Get,
    Post,
    Patch,
    Put,
    Delete,
}

/// The value with every `password` (any depth, any case) replaced: what
/// `Debug`, logs and recorded exchanges may show of a create body, also
/// inside a `$batch`.
pub fn redacted(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| {
                    let v = if k.eq_ignore_ascii_case("password") {
                        Value::String("<redacted>".into())
                    } else {
                        redacted(v)
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(redacted).collect()),
        other => other.clone(),
    }
}

/// One write to send, before it is given a batch id. `Debug` redacts a
/// create body's password.
#[derive(Clone, PartialEq)]
pub struct Write {
    /// The caller's name for this write, unique in one call of
    /// [`build_batches`]; outcomes are reported under it.
    pub key: String,
    pub method: Method,
    /// Relative to `/v1.0`, e.g. `/users/{id}`.
    pub url: String,
    pub body: Option<Value>,
    /// Key of an earlier write this one needs (a manager reference after
    /// the create of its user).
    pub after: Option<String>,
}

impl fmt::Debug for Write {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Write")
            .field("key", &self.key)
            .field("method", &self.method)
            .field("url", &self.url)
            .field("body", &self.body.as_ref().map(redacted))
            .field("after", &self.after)
            .finish()
    }
}

/// One item of a `$batch` request, serialised as Graph expects. `Debug`
/// redacts a create body's password.
#[derive(Clone, PartialEq, Serialize)]
pub struct BatchRequest {
    pub id: String,
    pub method: Method,
    pub url: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
    #[serde(rename = "dependsOn", skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
}

impl fmt::Debug for BatchRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BatchRequest")
            .field("id", &self.id)
            .field("method", &self.method)
            .field("url", &self.url)
            .field("headers", &self.headers)
            .field("body", &self.body.as_ref().map(redacted))
            .field("depends_on", &self.depends_on)
            .finish()
    }
}

/// One `POST /$batch`: at most [`MAX_BATCH`] requests, and the write key of
/// each request id.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    pub requests: Vec<BatchRequest>,
    pub keys: BTreeMap<String, String>,
}

impl Batch {
    /// The body of `POST /v1.0/$batch`.
    pub fn to_json(&self) -> Value {
        json!({ "requests": self.requests })
    }
}

/// The writes cannot be batched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchBuildError {
    #[error("write key {0:?} used twice")]
    DuplicateKey(String),
    #[error("write {key:?} needs {after:?}, which is not an earlier write")]
    UnknownDependency { key: String, after: String },
}

/// Splits `writes` in order into batches of at most [`MAX_BATCH`], with ids
/// unique over all batches. `dependsOn` is set only where a write needs an
/// earlier write of the same batch; a dependency in an earlier batch is
/// satisfied by sending the batches in order (the caller holds back a write
/// whose dependency failed). Items with a body get
/// `Content-Type: application/json`.
pub fn build_batches(writes: Vec<Write>) -> Result<Vec<Batch>, BatchBuildError> {
    let mut seen = BTreeSet::new();
    for w in &writes {
        if let Some(after) = &w.after
            && !seen.contains(after.as_str())
        {
            return Err(BatchBuildError::UnknownDependency {
                key: w.key.clone(),
                after: after.clone(),
            });
        }
        if !seen.insert(w.key.as_str()) {
            return Err(BatchBuildError::DuplicateKey(w.key.clone()));
        }
    }
    let mut batches = Vec::new();
    let mut next_id = 1usize;
    let mut iter = writes.into_iter().peekable();
    while iter.peek().is_some() {
        let mut batch = Batch { requests: Vec::new(), keys: BTreeMap::new() };
        // key -> id, for this batch only
        let mut ids: BTreeMap<String, String> = BTreeMap::new();
        for w in iter.by_ref().take(MAX_BATCH) {
            let id = next_id.to_string();
            next_id += 1;
            let depends_on =
                w.after.as_ref().and_then(|a| ids.get(a)).cloned().into_iter().collect();
            let mut headers = BTreeMap::new();
            if w.body.is_some() {
                headers.insert("Content-Type".into(), "application/json".into());
            }
            ids.insert(w.key.clone(), id.clone());
            batch.keys.insert(id.clone(), w.key);
            batch.requests.push(BatchRequest {
                id,
                method: w.method,
                url: w.url,
                headers,
                body: w.body,
                depends_on,
            });
        }
        batches.push(batch);
    }
    Ok(batches)
}

/// Why a batched item failed, as far as retrying goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailureClass {
    /// Sending it again unchanged fails again (400, 409, other 4xx,
    /// `Request_BadRequest`).
    Permanent,
    /// 424: a request it depends on failed; retry only together with those.
    FailedDependency { on: Vec<String> },
    /// Anything else (5xx other than 503/504, 401): the caller decides.
    Unclassified,
}

/// A failed item, with Graph's error details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemFailure {
    pub status: u16,
    pub code: Option<String>,
    pub message: Option<String>,
    /// `error.innerError.request-id`, for support cases.
    pub request_id: Option<String>,
    pub class: FailureClass,
}

impl ItemFailure {
    /// The failure Graph's error body (`{"error":{code,message,innerError:
    /// {request-id}}}`) describes, for a request that depended on `depends_on`
    /// (ids in its batch; empty outside one).
    pub fn from_body(status: u16, body: Option<&Value>, depends_on: &[String]) -> Self {
        let error = body.and_then(|b| b.get("error"));
        let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
        let code = text(error.and_then(|e| e.get("code")));
        let inner = error.and_then(|e| e.get("innerError").or_else(|| e.get("innererror")));
        ItemFailure {
            status,
            class: classify(status, code.as_deref(), depends_on),
            code,
            message: text(error.and_then(|e| e.get("message"))),
            request_id: text(inner.and_then(|i| i.get("request-id"))),
        }
    }
}

/// `HTTP 400 Request_BadRequest: message (request-id ...)`: Graph's error as
/// quoted in the provisioning log.
impl fmt::Display for ItemFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HTTP {}", self.status)?;
        if let Some(c) = &self.code {
            write!(f, " {c}")?;
        }
        if let Some(m) = &self.message {
            write!(f, ": {m}")?;
        }
        if let Some(r) = &self.request_id {
            write!(f, " (request-id {r})")?;
        }
        Ok(())
    }
}

/// The outcome of one batched item.
#[derive(Debug, Clone, PartialEq)]
pub enum ItemOutcome {
    /// 2xx, with the body if there was one (204 has none).
    Ok(Option<Value>),
    /// 429/503/504: send again after this many seconds.
    Retry {
        after_secs: u64,
    },
    Failed(ItemFailure),
}

/// The `$batch` response does not match its request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchParseError {
    #[error("batch response is malformed: {0}")]
    Malformed(String),
    #[error("batch response has an unknown id {0:?}")]
    UnknownId(String),
    #[error("batch response has id {0:?} twice")]
    DuplicateId(String),
    #[error("batch response lacks id {0:?}")]
    MissingId(String),
}

fn header<'a>(headers: Option<&'a Map<String, Value>>, name: &str) -> Option<&'a str> {
    headers?.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).and_then(|(_, v)| v.as_str())
}

fn classify(status: u16, code: Option<&str>, depends_on: &[String]) -> FailureClass {
    if status == 424 {
        FailureClass::FailedDependency { on: depends_on.to_vec() }
    } else if code == Some("Request_BadRequest") || (400..500).contains(&status) && status != 401 {
        FailureClass::Permanent
    } else {
        FailureClass::Unclassified
    }
}

/// Correlates a `{"responses":[{id,status,headers,body}]}` body (in any
/// order) with `batch`. Returns one `(write key, outcome)` per request, in
/// request order; an id that is missing, unknown or repeated is an error.
pub fn parse_batch_response(
    batch: &Batch,
    response: &Value,
) -> Result<Vec<(String, ItemOutcome)>, BatchParseError> {
    let items = response
        .get("responses")
        .and_then(Value::as_array)
        .ok_or_else(|| BatchParseError::Malformed("no responses array".into()))?;
    let by_id: BTreeMap<&str, &BatchRequest> =
        batch.requests.iter().map(|r| (r.id.as_str(), r)).collect();
    let mut outcomes: BTreeMap<String, ItemOutcome> = BTreeMap::new();
    for item in items {
        let id = match item.get("id") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => return Err(BatchParseError::Malformed("item without id".into())),
        };
        let request =
            by_id.get(id.as_str()).ok_or_else(|| BatchParseError::UnknownId(id.clone()))?;
        let status = item
            .get("status")
            .and_then(Value::as_u64)
            .and_then(|s| u16::try_from(s).ok())
            .ok_or_else(|| BatchParseError::Malformed(format!("item {id:?} without status")))?;
        let headers = item.get("headers").and_then(Value::as_object);
        let body = item.get("body").filter(|b| !b.is_null());
        let outcome = match status {
            200..=299 => ItemOutcome::Ok(body.cloned()),
            429 | 503 | 504 => ItemOutcome::Retry {
                after_secs: header(headers, "Retry-After")
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(DEFAULT_RETRY_AFTER),
            },
            _ => ItemOutcome::Failed(ItemFailure::from_body(status, body, &request.depends_on)),
        };
        if outcomes.insert(id.clone(), outcome).is_some() {
            return Err(BatchParseError::DuplicateId(id));
        }
    }
    batch
        .requests
        .iter()
        .map(|r| {
            let outcome =
                outcomes.remove(&r.id).ok_or_else(|| BatchParseError::MissingId(r.id.clone()))?;
            Ok((batch.keys[&r.id].clone(), outcome))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    fn expose(p: &InitialPassword) -> &str {
        p.0.expose_secret()
    }

    #[test]
    fn filters_escape_quotes_and_encode() {
        assert_eq!(
            eq_filter("employeeId", "O'Hara 1&x"),
            "employeeId%20eq%20%27O%27%27Hara%201%26x%27"
        );
        assert_eq!(
            eq_filter("onPremisesExtensionAttributes.extensionAttribute1", "a&b"),
            "onPremisesExtensionAttributes%2FextensionAttribute1%20eq%20%27a%26b%27"
        );
        let (a, b) = ("O'Neil".to_owned(), "x y".to_owned());
        assert_eq!(
            in_filter("employeeId", &[&a, &b]),
            "employeeId%20in%20%28%27O%27%27Neil%27%2C%27x%20y%27%29"
        );
    }

    #[test]
    fn passwords_are_redacted_at_any_depth() {
        let v = json!({"requests": [{"body": {"passwordProfile": {"Password": "S3cret!"}}}]});
        assert!(!redacted(&v).to_string().contains("S3cret"));
    }

    #[test]
    fn manager_and_disable() {
        assert_eq!(
            manager_ref_body("https://graph.microsoft.com/", "abc")["@odata.id"],
            "https://graph.microsoft.com/v1.0/users/abc"
        );
        assert_eq!(disable_body(), json!({"accountEnabled": false}));
    }

    #[test]
    fn manager_paths_encode_ids() {
        assert_eq!(manager_ref_path("u-1"), "/users/u-1/manager/$ref");
        assert_eq!(manager_ref_path("a/b?c#d"), "/users/a%2Fb%3Fc%23d/manager/$ref");
        assert_eq!(
            manager_ref_body("https://g.example", "m/1")["@odata.id"],
            "https://g.example/v1.0/users/m%2F1"
        );
    }

    #[test]
    fn termination_is_disabled_with_utc_leave_date() {
        let t: jiff::Timestamp = "2026-03-31T17:00:00+02:00".parse().unwrap();
        assert_eq!(
            termination_body(t),
            json!({"accountEnabled": false, "employeeLeaveDateTime": "2026-03-31T15:00:00Z"})
        );
    }

    #[test]
    fn password_debug_is_redacted() {
        let p = InitialPassword::generate().unwrap();
        assert_eq!(format!("{p:?}"), "<redacted>");
        assert!(!format!("{:?}", Some(&p)).contains(expose(&p)));
    }

    fn complex(p: &str) -> bool {
        p.len() >= 16
            && p.bytes().any(|b| b.is_ascii_uppercase())
            && p.bytes().any(|b| b.is_ascii_lowercase())
            && p.bytes().any(|b| b.is_ascii_digit())
            && p.bytes().any(|b| SYMBOL.contains(&b))
            && p.bytes().all(|b| [UPPER, LOWER, DIGIT, SYMBOL].concat().contains(&b))
    }

    #[test]
    fn password_complexity_over_many_draws() {
        let mut distinct = BTreeSet::new();
        for _ in 0..2_000 {
            let p = InitialPassword::generate().unwrap();
            assert!(complex(expose(&p)), "weak password drawn");
            distinct.insert(expose(&p).to_string());
        }
        assert_eq!(distinct.len(), 2_000);
    }

    #[test]
    fn debug_of_writes_and_batches_hides_the_password() {
        let props =
            obj(json!({"displayName": "A", "mailNickname": "a", "userPrincipalName": "a@x"}));
        let p = InitialPassword::generate().unwrap();
        let mut w = create("u");
        w.body = Some(create_body(&props, &p).unwrap());
        let batches = build_batches(vec![w.clone()]).unwrap();
        for text in [format!("{w:?}"), format!("{batches:?}")] {
            assert!(!text.contains(expose(&p)), "{text}");
            assert!(text.contains("<redacted>"));
        }
        // the wire body keeps it
        assert_eq!(
            batches[0].to_json()["requests"][0]["body"]["passwordProfile"]["password"],
            expose(&p)
        );
    }

    #[test]
    fn create_body_has_required_and_password() {
        let props = obj(json!({
            "displayName": "Ada Lovelace", "mailNickname": "alovelace",
            "userPrincipalName": "alovelace@example.com", "employeeId": "1001",
            "jobTitle": null,
        }));
        let p = InitialPassword::generate().unwrap();
        let body = create_body(&props, &p).unwrap();
        assert_eq!(body["accountEnabled"], true);
        assert_eq!(body["employeeId"], "1001");
        assert!(body.get("jobTitle").is_none());
        assert_eq!(body["passwordProfile"]["forceChangePasswordNextSignIn"], true);
        assert_eq!(body["passwordProfile"]["password"], expose(&p));

        let mut disabled = props.clone();
        disabled.insert("accountEnabled".into(), json!(false));
        assert_eq!(create_body(&disabled, &p).unwrap()["accountEnabled"], false);

        let mut missing = props.clone();
        missing.remove("mailNickname");
        assert_eq!(create_body(&missing, &p), Err(MissingProperty("mailNickname")));
    }

    fn create(key: &str) -> Write {
        Write {
            key: key.into(),
            method: Method::Post,
            url: "/users".into(),
            body: Some(json!({"displayName": key})),
            after: None,
        }
    }

    fn manager(key: &str, user: &str) -> Write {
        Write {
            key: key.into(),
            method: Method::Put,
            url: manager_ref_path(user),
            body: Some(manager_ref_body("https://graph.microsoft.com", "m1")),
            after: Some(user.into()),
        }
    }

    #[test]
    fn twenty_fit_twenty_one_split() {
        let writes = |n: usize| (0..n).map(|i| create(&format!("u{i}"))).collect::<Vec<_>>();
        let b = build_batches(writes(20)).unwrap();
        assert_eq!(b.len(), 1);
        assert_eq!(b[0].requests.len(), 20);
        let b = build_batches(writes(21)).unwrap();
        assert_eq!(b.iter().map(|b| b.requests.len()).collect::<Vec<_>>(), vec![20, 1]);
        let ids: BTreeSet<_> =
            b.iter().flat_map(|b| b.requests.iter().map(|r| r.id.clone())).collect();
        assert_eq!(ids.len(), 21);
        assert_eq!(b[1].keys[&b[1].requests[0].id], "u20");
        assert!(build_batches(Vec::new()).unwrap().is_empty());
    }

    #[test]
    fn depends_on_only_on_the_manager_item() {
        let mut patch = create("p");
        patch.method = Method::Patch;
        patch.url = "/users/x".into();
        let delete = Write {
            key: "d".into(),
            method: Method::Delete,
            url: manager_ref_path("y"),
            body: None,
            after: None,
        };
        let b = build_batches(vec![create("u"), patch, manager("m", "u"), delete]).unwrap();
        let r = &b[0].requests;
        assert_eq!(r.iter().filter(|r| !r.depends_on.is_empty()).count(), 1);
        assert_eq!(r[2].depends_on, vec![r[0].id.clone()]);
        assert!(r[3].headers.is_empty(), "no Content-Type without a body");
        let j = b[0].to_json();
        assert_eq!(j["requests"][2]["dependsOn"], json!([r[0].id]));
        assert_eq!(j["requests"][2]["method"], "PUT");
        assert_eq!(j["requests"][2]["url"], "/users/u/manager/$ref");
        assert_eq!(j["requests"][0]["headers"]["Content-Type"], "application/json");
        assert!(j["requests"][0].get("dependsOn").is_none());
        assert!(j["requests"][3].get("body").is_none());
        assert!(j["requests"][3].get("headers").is_none());
    }

    #[test]
    fn dependency_in_an_earlier_batch_has_no_depends_on() {
        let mut w: Vec<_> = (0..20).map(|i| create(&format!("u{i}"))).collect();
        w.push(manager("m", "u3"));
        let b = build_batches(w).unwrap();
        assert!(b[1].requests[0].depends_on.is_empty());
    }

    #[test]
    fn bad_dependencies_and_keys_refused() {
        assert_eq!(
            build_batches(vec![manager("m", "u"), create("u")]),
            Err(BatchBuildError::UnknownDependency { key: "m".into(), after: "u".into() })
        );
        assert_eq!(
            build_batches(vec![create("u"), create("u")]),
            Err(BatchBuildError::DuplicateKey("u".into()))
        );
    }

    fn four() -> Batch {
        let mut patch = create("bad");
        patch.method = Method::Patch;
        build_batches(vec![create("ok"), create("slow"), patch, manager("mgr", "slow")])
            .unwrap()
            .remove(0)
    }

    #[test]
    fn mixed_response_correlated_out_of_order() {
        let batch = four();
        let response = json!({"responses": [
            {"id": "4", "status": 424, "headers": {}, "body": {"error": {"code": "BadRequest", "message": "dependency failed"}}},
            {"id": "3", "status": 400, "headers": {"Content-Type": "application/json"}, "body": {"error": {
                "code": "Request_BadRequest", "message": "Invalid value",
                "innerError": {"request-id": "r-123", "date": "2026-01-01T00:00:00"}}}},
            {"id": "2", "status": 429, "headers": {"retry-after": "17"}},
            {"id": "1", "status": 201, "headers": {}, "body": {"id": "new-1"}},
        ]});
        let out = parse_batch_response(&batch, &response).unwrap();
        let keys: Vec<_> = out.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["ok", "slow", "bad", "mgr"]);
        assert_eq!(out[0].1, ItemOutcome::Ok(Some(json!({"id": "new-1"}))));
        assert_eq!(out[1].1, ItemOutcome::Retry { after_secs: 17 });
        assert_eq!(
            out[2].1,
            ItemOutcome::Failed(ItemFailure {
                status: 400,
                code: Some("Request_BadRequest".into()),
                message: Some("Invalid value".into()),
                request_id: Some("r-123".into()),
                class: FailureClass::Permanent,
            })
        );
        match &out[3].1 {
            ItemOutcome::Failed(f) => {
                assert_eq!(f.status, 424);
                assert_eq!(f.class, FailureClass::FailedDependency { on: vec!["2".into()] });
            }
            o => panic!("{o:?}"),
        }
    }

    #[test]
    fn retry_statuses_and_default_after() {
        let batch = four();
        let response = json!({"responses": [
            {"id": "1", "status": 503},
            {"id": "2", "status": 504, "headers": {"Retry-After": "nonsense"}},
            {"id": "3", "status": 409, "body": {"error": {"code": "Conflict", "message": "exists"}}},
            {"id": "4", "status": 204, "body": null},
        ]});
        let out = parse_batch_response(&batch, &response).unwrap();
        assert_eq!(out[0].1, ItemOutcome::Retry { after_secs: DEFAULT_RETRY_AFTER });
        assert_eq!(out[1].1, ItemOutcome::Retry { after_secs: DEFAULT_RETRY_AFTER });
        assert!(
            matches!(&out[2].1, ItemOutcome::Failed(f) if f.class == FailureClass::Permanent && f.request_id.is_none())
        );
        assert_eq!(out[3].1, ItemOutcome::Ok(None));
        let server = json!({"responses": [
            {"id": "1", "status": 500}, {"id": "2", "status": 200},
            {"id": "3", "status": 401}, {"id": "4", "status": 200}]});
        let out = parse_batch_response(&batch, &server).unwrap();
        assert!(
            matches!(&out[0].1, ItemOutcome::Failed(f) if f.class == FailureClass::Unclassified)
        );
        assert!(
            matches!(&out[2].1, ItemOutcome::Failed(f) if f.class == FailureClass::Unclassified)
        );
    }

    #[test]
    fn missing_unknown_duplicate_ids_are_errors() {
        let batch = four();
        let ok = |id: &str| json!({"id": id, "status": 204});
        let missing = json!({"responses": [ok("1"), ok("2"), ok("4")]});
        assert_eq!(
            parse_batch_response(&batch, &missing),
            Err(BatchParseError::MissingId("3".into()))
        );
        let unknown = json!({"responses": [ok("1"), ok("2"), ok("3"), ok("4"), ok("9")]});
        assert_eq!(
            parse_batch_response(&batch, &unknown),
            Err(BatchParseError::UnknownId("9".into()))
        );
        let dup = json!({"responses": [ok("1"), ok("1"), ok("2"), ok("3"), ok("4")]});
        assert_eq!(
            parse_batch_response(&batch, &dup),
            Err(BatchParseError::DuplicateId("1".into()))
        );
        assert!(matches!(
            parse_batch_response(&batch, &json!({"value": []})),
            Err(BatchParseError::Malformed(_))
        ));
    }

    /// Zero bytes are always in the sampling zone: the weakest source still
    /// yields every class.
    struct Zeros;
    impl TryRng for Zeros {
        type Error = std::convert::Infallible;
        fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
            Ok(0)
        }
        fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
            Ok(0)
        }
        fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
            dst.fill(0);
            Ok(())
        }
    }

    #[test]
    fn degenerate_source_still_complex() {
        assert!(complex(expose(&InitialPassword::generate_with(&mut Zeros).unwrap())));
    }

    proptest! {
        /// Any list of writes with backward dependencies: batches of at most
        /// 20, unique ids, order kept, dependsOn exactly where the
        /// dependency is earlier in the same batch.
        #[test]
        fn batches_well_formed(deps in prop::collection::vec(prop::option::of(0usize..1000), 0..70)) {
            let writes: Vec<Write> = deps.iter().enumerate().map(|(i, d)| {
                let mut w = create(&format!("w{i}"));
                w.after = d.filter(|_| i > 0).map(|d| format!("w{}", d % i));
                w
            }).collect();
            let batches = build_batches(writes.clone()).unwrap();
            let mut ids = BTreeSet::new();
            let mut order = Vec::new();
            for b in &batches {
                prop_assert!(!b.requests.is_empty() && b.requests.len() <= MAX_BATCH);
                for (pos, r) in b.requests.iter().enumerate() {
                    prop_assert!(ids.insert(r.id.clone()));
                    let key = &b.keys[&r.id];
                    order.push(key.clone());
                    let w = writes.iter().find(|w| &w.key == key).unwrap();
                    let earlier: Vec<_> = b.requests[..pos].iter()
                        .filter(|e| Some(&b.keys[&e.id]) == w.after.as_ref())
                        .map(|e| e.id.clone()).collect();
                    prop_assert_eq!(&r.depends_on, &earlier);
                }
            }
            prop_assert_eq!(order, writes.iter().map(|w| w.key.clone()).collect::<Vec<_>>());
        }
    }
}
