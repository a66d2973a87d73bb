//! Pure request building: target attribute names (SCIM paths as Entra names
//! them) parsed into [`ScimPath`]s, filters with their values escaped per
//! RFC 7644 §3.4.2.2, the JSON body of a `POST /Users`, the operations of a
//! `PATCH /Users/{id}` (only the changed attributes), and a SCIM resource
//! flattened back into attributes named as the mapping names them. No I/O.

use serde_json::{Map, Value, json};

use hrsync_target::{AttributeUpdate, Attributes, attr};

use crate::config::Quirks;

/// The core User schema.
pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// The enterprise User extension (RFC 7643 §4.3).
pub const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// The PATCH message schema (RFC 7644 §3.5.2).
pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// The error message schema (RFC 7644 §3.12).
pub const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// Sub-attributes of the core User schema that are booleans; values for
/// them arrive from mappings as `"True"`/`"False"` text.
const BOOLEANS: [&str; 2] = ["active", "primary"];

/// A target attribute name, understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScimPath {
    /// A top-level attribute of the core schema (`userName`, `title`,
    /// `entitlements`) or, inside [`ScimPath::Extension`], of an extension.
    Attribute(String),
    /// A sub-attribute of a complex attribute (`name.givenName`).
    Sub { attribute: String, sub: String },
    /// A sub-attribute of the element of a multi-valued attribute with a
    /// given `type` (`emails[type eq "work"].value`).
    Typed { attribute: String, kind: String, sub: String },
    /// An attribute of a schema extension (`urn:...:enterprise:2.0:User:department`).
    Extension { urn: String, path: Box<ScimPath> },
    /// [`attr::ACCOUNT_DISABLED`]: written as `active`, inverted.
    AccountDisabled,
    /// The manager reference ([`attr::MANAGER`] or the enterprise
    /// `manager` / `manager.value`): a matching value the target resolves
    /// to the manager's SCIM id.
    Manager,
}

/// Why a target attribute name is not a SCIM path hrsync can write.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("target attribute {name:?} is not a SCIM attribute path hrsync can write: {reason}")]
pub struct PathError {
    pub name: String,
    pub reason: String,
}

fn is_name(s: &str) -> bool {
    // RFC 7643 §2.1 ATTRNAME: ALPHA *(nameChar), nameChar = "-" / "_" / DIGIT / ALPHA;
    // `$ref` is the one reserved name with a `$`.
    s == "$ref"
        || (s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
}

/// Parse a target attribute name.
pub fn parse_path(name: &str) -> Result<ScimPath, PathError> {
    let err = |reason: &str| PathError { name: name.to_owned(), reason: reason.to_owned() };
    if name.eq_ignore_ascii_case(attr::ACCOUNT_DISABLED) {
        return Ok(ScimPath::AccountDisabled);
    }
    if name.eq_ignore_ascii_case(attr::MANAGER) {
        return Ok(ScimPath::Manager);
    }
    if name.len() > 4 && name[..4].eq_ignore_ascii_case("urn:") {
        let Some((urn, rest)) = name.rsplit_once(':') else {
            return Err(err("no attribute after the schema URN"));
        };
        // A dotted rest (`manager.value`) has its dot after the last colon.
        let inner = parse_simple(rest).map_err(|r| err(&r))?;
        if urn.eq_ignore_ascii_case(USER_SCHEMA) {
            return Ok(inner);
        }
        if urn.eq_ignore_ascii_case(ENTERPRISE) {
            let is_manager = match &inner {
                ScimPath::Attribute(a) => a == "manager",
                ScimPath::Sub { attribute, sub } => attribute == "manager" && sub == "value",
                _ => false,
            };
            if is_manager {
                return Ok(ScimPath::Manager);
            }
        }
        return Ok(ScimPath::Extension { urn: urn.to_owned(), path: Box::new(inner) });
    }
    parse_simple(name).map_err(|r| err(&r))
}

/// `attr`, `attr.sub` or `attr[type eq "x"].sub`.
fn parse_simple(s: &str) -> Result<ScimPath, String> {
    if let Some((attribute, rest)) = s.split_once('[') {
        let (filter, sub) =
            rest.split_once("].").ok_or("a value filter must be followed by `.subAttribute`")?;
        let kind = filter
            .trim()
            .strip_prefix("type eq ")
            .map(str::trim)
            .and_then(|v| v.strip_prefix('"'))
            .and_then(|v| v.strip_suffix('"'))
            .ok_or("only `[type eq \"...\"]` value filters are supported")?;
        if kind.contains(['"', '\\']) {
            return Err("the type value may not contain quotes or backslashes".into());
        }
        if !is_name(attribute) || !is_name(sub) {
            return Err("attribute names are letters, digits, `-` and `_`".into());
        }
        return Ok(ScimPath::Typed {
            attribute: attribute.to_owned(),
            kind: kind.to_owned(),
            sub: sub.to_owned(),
        });
    }
    match s.split_once('.') {
        Some((a, sub)) if is_name(a) && is_name(sub) => {
            Ok(ScimPath::Sub { attribute: a.to_owned(), sub: sub.to_owned() })
        }
        None if is_name(s) => Ok(ScimPath::Attribute(s.to_owned())),
        _ => Err("attribute names are letters, digits, `-` and `_`".into()),
    }
}

/// A filter value as RFC 7644 wants it: a JSON string (quotes, backslashes
/// and control characters escaped), so that no value can end the string and
/// add a clause of its own.
pub fn filter_value(value: &str) -> String {
    Value::String(value.to_owned()).to_string()
}

/// The attribute path as written in a filter or PATCH `path`.
pub fn path_text(path: &ScimPath) -> String {
    match path {
        ScimPath::Attribute(a) => a.clone(),
        ScimPath::Sub { attribute, sub } => format!("{attribute}.{sub}"),
        ScimPath::Typed { attribute, kind, sub } => {
            format!("{attribute}[type eq {}].{sub}", filter_value(kind))
        }
        ScimPath::Extension { urn, path } => format!("{urn}:{}", path_text(path)),
        ScimPath::AccountDisabled => "active".into(),
        ScimPath::Manager => format!("{ENTERPRISE}:manager"),
    }
}

/// `filter` for the objects whose attribute equals `value`.
pub fn eq_filter(path: &ScimPath, value: &str) -> String {
    let v = filter_value(value);
    match path {
        ScimPath::Typed { attribute, kind, sub } => {
            format!("{attribute}[type eq {} and {sub} eq {v}]", filter_value(kind))
        }
        ScimPath::Manager => format!("{ENTERPRISE}:manager.value eq {v}"),
        other => format!("{} eq {v}", path_text(other)),
    }
}

/// Whether the server compares values of `path` exactly (RFC 7643
/// `caseExact`): ids and `externalId` are, names and addresses are not.
pub fn case_exact(path: &ScimPath) -> bool {
    match path {
        ScimPath::Attribute(a) => matches!(a.as_str(), "id" | "externalId"),
        ScimPath::Extension { path, .. } => case_exact(path),
        ScimPath::Manager => true,
        _ => false,
    }
}

/// A path segment (a SCIM id in `/Users/{id}`), percent-encoded.
pub fn id_segment(id: &str) -> String {
    percent_encoding::utf8_percent_encode(id, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn leaf(path: &ScimPath) -> &str {
    match path {
        ScimPath::Attribute(a) => a,
        ScimPath::Sub { sub, .. } | ScimPath::Typed { sub, .. } => sub,
        ScimPath::Extension { path, .. } => leaf(path),
        ScimPath::AccountDisabled => "active",
        ScimPath::Manager => "manager",
    }
}

/// A boolean as the server wants it (a JSON boolean; `"True"`/`"False"`
/// with the `string_booleans` quirk).
fn boolean(b: bool, quirks: &Quirks) -> Value {
    if quirks.string_booleans { attr::flag_value(b) } else { Value::Bool(b) }
}

/// A mapped value converted for `path`: booleans for boolean
/// sub-attributes, `[{"value": ...}]` for the multi-valued `entitlements`,
/// `roles` and `groups` given as text or a list of text.
pub fn convert(path: &ScimPath, value: &Value, quirks: &Quirks) -> Value {
    let name = leaf(path);
    if BOOLEANS.contains(&name)
        && let Some(b) = attr::flag(value)
    {
        return boolean(b, quirks);
    }
    if let ScimPath::Attribute(a) = path
        && matches!(a.as_str(), "entitlements" | "roles" | "groups" | "x509Certificates")
    {
        let one = |v: &Value| match v {
            Value::Object(_) => v.clone(),
            other => json!({ "value": other }),
        };
        return match value {
            Value::Array(items) => Value::Array(items.iter().map(one).collect()),
            Value::Null => Value::Null,
            Value::String(s) if s.is_empty() => Value::Array(Vec::new()),
            v => Value::Array(vec![one(v)]),
        };
    }
    value.clone()
}

/// Put `value` at `path` inside `object` (a resource or an extension).
fn put(object: &mut Map<String, Value>, path: &ScimPath, value: Value) {
    match path {
        ScimPath::Attribute(a) => {
            object.insert(a.clone(), value);
        }
        ScimPath::Sub { attribute, sub } => {
            let entry = object.entry(attribute.clone()).or_insert_with(|| json!({}));
            if let Value::Object(o) = entry {
                o.insert(sub.clone(), value);
            }
        }
        ScimPath::Typed { attribute, kind, sub } => {
            let entry = object.entry(attribute.clone()).or_insert_with(|| json!([]));
            if let Value::Array(items) = entry {
                let at = items
                    .iter()
                    .position(|e| e.get("type").and_then(Value::as_str) == Some(kind.as_str()));
                let at = at.unwrap_or_else(|| {
                    items.push(json!({ "type": kind }));
                    items.len() - 1
                });
                if let Some(Value::Object(e)) = items.get_mut(at) {
                    e.insert(sub.clone(), value);
                }
            }
        }
        ScimPath::Extension { urn, path } => {
            let entry = object.entry(urn.clone()).or_insert_with(|| json!({}));
            if let Value::Object(o) = entry {
                put(o, path, value);
            }
        }
        ScimPath::AccountDisabled => {
            object.insert("active".into(), value);
        }
        ScimPath::Manager => {
            let entry = object.entry(ENTERPRISE.to_owned()).or_insert_with(|| json!({}));
            if let Value::Object(o) = entry {
                o.insert("manager".into(), value);
            }
        }
    }
}

/// The enterprise `manager` value for a manager's SCIM id.
pub fn manager_value(id: &str, quirks: &Quirks) -> Value {
    if quirks.bare_string_manager { json!(id) } else { json!({ "value": id }) }
}

/// The body of `POST /Users`. `manager` is the manager's SCIM id when it is
/// known (the caller resolves it); mapped `null`s are left out, `active`
/// defaults to true (a new account is in use unless the mapping says not).
pub fn create_body(
    attributes: &Attributes,
    manager: Option<&str>,
    quirks: &Quirks,
) -> Result<Value, PathError> {
    let mut object = Map::new();
    let mut schemas = vec![USER_SCHEMA.to_owned()];
    let mut add_schema = |urn: &str| {
        if !schemas.iter().any(|s| s.eq_ignore_ascii_case(urn)) {
            schemas.push(urn.to_owned());
        }
    };
    for (name, value) in attributes {
        let path = parse_path(name)?;
        if value.is_null() || path == ScimPath::Manager {
            continue;
        }
        let value = match &path {
            ScimPath::AccountDisabled => match attr::flag(value) {
                Some(disabled) => boolean(!disabled, quirks),
                None => continue,
            },
            p => convert(p, value, quirks),
        };
        if let ScimPath::Extension { urn, .. } = &path {
            add_schema(urn);
        }
        put(&mut object, &path, value);
    }
    if let Some(id) = manager {
        add_schema(ENTERPRISE);
        put(&mut object, &ScimPath::Manager, manager_value(id, quirks));
    }
    object.entry("active").or_insert_with(|| boolean(true, quirks));
    object.insert("schemas".into(), json!(schemas));
    Ok(Value::Object(object))
}

/// What `update` does with the manager: set it to an id, or remove it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ManagerChange {
    Set(String),
    Remove,
}

/// Whether the element of `attribute` with `type` = `kind` exists in
/// `current` (the resource as read), where a typed path is changed.
fn has_element(current: Option<&Value>, ext: Option<&str>, attribute: &str, kind: &str) -> bool {
    let base = match ext {
        Some(urn) => current.and_then(|c| c.get(urn)),
        None => current,
    };
    base.and_then(|c| c.get(attribute)).and_then(Value::as_array).is_some_and(|items| {
        items.iter().any(|e| e.get("type").and_then(Value::as_str) == Some(kind))
    })
}

/// A new element of a typed attribute: (extension urn, attribute, type).
type ElementKey = (Option<String>, String, String);

/// The operations of `PATCH /Users/{id}` for `changes` (each attribute
/// given; nothing else is touched). `current` is the resource as read, needed
/// only when a typed path (`emails[type eq "work"].value`) changes: RFC
/// 7644 answers `replace` on a filter no element matches with `noTarget`,
/// so a missing element is added to its attribute instead.
pub fn patch_operations(
    changes: &[AttributeUpdate],
    manager: Option<&ManagerChange>,
    current: Option<&Value>,
    quirks: &Quirks,
) -> Result<Vec<Value>, PathError> {
    let op = |name: &str| -> String {
        if quirks.capitalised_ops {
            let mut c = name.chars();
            c.next().map(|f| f.to_ascii_uppercase().to_string() + c.as_str()).unwrap_or_default()
        } else {
            name.to_owned()
        }
    };
    let mut ops = Vec::new();
    // New elements of typed attributes, merged (value and primary of one
    // new work email are one element): (extension, attribute, type) -> element.
    let mut new_elements: Vec<(ElementKey, Map<String, Value>)> = Vec::new();
    for change in changes {
        let path = parse_path(&change.name)?;
        if path == ScimPath::Manager {
            continue;
        }
        let (ext, inner) = match &path {
            ScimPath::Extension { urn, path } => (Some(urn.as_str()), path.as_ref()),
            p => (None, p),
        };
        if let ScimPath::Typed { attribute, kind, sub } = inner
            && !has_element(current, ext, attribute, kind)
        {
            if change.value.is_null() {
                continue; // nothing to remove
            }
            let key = (ext.map(str::to_owned), attribute.clone(), kind.clone());
            let value = convert(inner, &change.value, quirks);
            match new_elements.iter_mut().find(|(k, _)| *k == key) {
                Some((_, e)) => {
                    e.insert(sub.clone(), value);
                }
                None => {
                    let mut e = Map::new();
                    e.insert("type".into(), json!(kind));
                    e.insert(sub.clone(), value);
                    new_elements.push((key, e));
                }
            }
            continue;
        }
        let text = match (&path, inner) {
            // Removing the value of a typed element removes the element:
            // an email without an address is no email.
            (_, ScimPath::Typed { attribute, kind, sub })
                if change.value.is_null() && sub == "value" =>
            {
                let p = format!("{attribute}[type eq {}]", filter_value(kind));
                match ext {
                    Some(urn) => format!("{urn}:{p}"),
                    None => p,
                }
            }
            (p, _) => path_text(p),
        };
        let value = match &path {
            ScimPath::AccountDisabled => {
                match attr::disabling(attr::ACCOUNT_DISABLED, &change.value) {
                    Some(disabled) => boolean(!disabled, quirks),
                    // Removing the status says nothing about the account.
                    None => continue,
                }
            }
            p => convert(p, &change.value, quirks),
        };
        if value.is_null() {
            ops.push(json!({ "op": op("remove"), "path": text }));
        } else {
            ops.push(json!({ "op": op("replace"), "path": text, "value": value }));
        }
    }
    for ((ext, attribute, _), element) in new_elements {
        let path = match ext {
            Some(urn) => format!("{urn}:{attribute}"),
            None => attribute,
        };
        ops.push(json!({ "op": op("add"), "path": path, "value": [Value::Object(element)] }));
    }
    match manager {
        Some(ManagerChange::Set(id)) => ops.push(json!({
            "op": op("replace"),
            "path": format!("{ENTERPRISE}:manager"),
            "value": manager_value(id, quirks),
        })),
        Some(ManagerChange::Remove) => {
            ops.push(json!({ "op": op("remove"), "path": format!("{ENTERPRISE}:manager") }))
        }
        None => {}
    }
    Ok(ops)
}

/// The body of a PATCH with these operations.
pub fn patch_body(operations: Vec<Value>) -> Value {
    json!({ "schemas": [PATCH_OP], "Operations": operations })
}

/// The manager's SCIM id in a resource as read (complex or bare string).
pub fn manager_id(resource: &Value) -> Option<&str> {
    let m = resource.get(ENTERPRISE)?.get("manager")?;
    m.get("value").and_then(Value::as_str).or_else(|| m.as_str())
}

/// A resource as read, flattened into attributes named as mappings name
/// them: top-level values as they are, `name.givenName`,
/// `emails[type eq "work"].value`, extension attributes behind their URN;
/// `active` also as [`attr::ACCOUNT_DISABLED`]. `id`, `schemas`, `meta`
/// and the manager (which the target resolves) are left out.
pub fn flatten(resource: &Value) -> Attributes {
    let mut out = Attributes::new();
    let Some(object) = resource.as_object() else { return out };
    fn walk(out: &mut Attributes, prefix: &str, object: &Map<String, Value>) {
        for (k, v) in object {
            let name = format!("{prefix}{k}");
            match v {
                Value::Object(sub) => {
                    for (s, sv) in sub {
                        out.insert(format!("{name}.{s}"), sv.clone());
                    }
                }
                Value::Array(items)
                    if !items.is_empty()
                        && items
                            .iter()
                            .all(|e| e.get("type").and_then(Value::as_str).is_some()) =>
                {
                    for e in items {
                        let (Some(kind), Some(fields)) =
                            (e.get("type").and_then(Value::as_str), e.as_object())
                        else {
                            continue;
                        };
                        for (s, sv) in fields.iter().filter(|(s, _)| *s != "type") {
                            out.insert(
                                format!("{name}[type eq {}].{s}", filter_value(kind)),
                                sv.clone(),
                            );
                        }
                    }
                }
                v => {
                    out.insert(name, v.clone());
                }
            }
        }
    }
    let mut core = Map::new();
    for (k, v) in object {
        match k.as_str() {
            "id" | "schemas" | "meta" => {}
            k if k.len() > 4 && k[..4].eq_ignore_ascii_case("urn:") => {
                if let Value::Object(ext) = v {
                    let mut ext = ext.clone();
                    if k.eq_ignore_ascii_case(ENTERPRISE) {
                        ext.remove("manager");
                    }
                    walk(&mut out, &format!("{k}:"), &ext);
                }
            }
            _ => {
                core.insert(k.clone(), v.clone());
            }
        }
    }
    walk(&mut out, "", &core);
    for secret in attr::WELL_KNOWN_SECRETS {
        out.remove(secret);
    }
    if let Some(active) = out.get("active").and_then(attr::flag) {
        out.insert(attr::ACCOUNT_DISABLED.into(), attr::flag_value(!active));
    }
    out
}

/// The SCIM error of a response body, quoted for messages: `scimType` and
/// `detail` when the body is a SCIM error, else the body's start.
pub fn error_text(status: u16, body: &str) -> String {
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    let field =
        |k: &str| parsed.as_ref().and_then(|v| v.get(k)).and_then(Value::as_str).map(str::to_owned);
    let quoted = quote_error(status, body, field("scimType"), field("detail"));
    match field("detail").as_deref().and_then(blame) {
        Some(at_fault) => format!("{quoted}; at fault: {at_fault}"),
        None => quoted,
    }
}

/// The attribute an error `detail` points at, in the admin's terms, for
/// the refusals whose wording is known (Salesforce's codes, the "Field 'x'
/// is required" of pydantic-based servers).
pub fn blame(detail: &str) -> Option<String> {
    if let Some(rest) = detail.split("REQUIRED_FIELD_MISSING").nth(1) {
        let rest = rest.trim_start_matches([':', ' ']);
        if rest.contains("entitlement") || rest.contains("profile") {
            return Some(
                "entitlements: Salesforce requires a profile id (map one, as builtin:sf-to-salesforce does)"
                    .into(),
            );
        }
        let field: String = rest.chars().take_while(|c| !c.is_whitespace()).collect();
        return Some(format!("{field}: Salesforce says this required field is missing"));
    }
    if detail.contains("DUPLICATE_USERNAME") {
        return Some(
            "userName: Salesforce usernames must be unique across ALL Salesforce orgs".into(),
        );
    }
    let (_, rest) = detail.split_once("Field '")?;
    let (field, tail) = rest.split_once('\'')?;
    tail.trim_start()
        .starts_with("is required")
        .then(|| format!("{field}: the server requires it and the request has no value"))
}

fn quote_error(
    status: u16,
    body: &str,
    scim_type: Option<String>,
    detail: Option<String>,
) -> String {
    match (scim_type, detail) {
        (Some(t), Some(d)) => format!("HTTP {status}, scimType {t}: {d:?}"),
        (None, Some(d)) => format!("HTTP {status}: {d:?}"),
        (Some(t), None) => format!("HTTP {status}, scimType {t}"),
        (None, None) => {
            let start: String = body.chars().take(300).collect();
            if start.is_empty() {
                format!("HTTP {status}")
            } else {
                format!("HTTP {status}: {start:?}")
            }
        }
    }
}

/// The `scimType` of an error body.
pub fn scim_type(body: &str) -> Option<String> {
    let v: Value = serde_json::from_str(body).ok()?;
    v.get("scimType").and_then(Value::as_str).map(str::to_owned)
}

/// A request body fit for logs and output: every secret attribute replaced
/// by `"[redacted]"`, also inside PATCH operations.
pub fn redacted(body: &Value) -> Value {
    let mut body = body.clone();
    fn hide(v: &mut Value) {
        match v {
            Value::Object(o) => {
                let is_secret_op =
                    o.get("path").and_then(Value::as_str).is_some_and(attr::is_secret);
                for (k, item) in o.iter_mut() {
                    if attr::is_secret(k) || (is_secret_op && k == "value") {
                        *item = json!("[redacted]");
                    } else {
                        hide(item);
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(hide),
            _ => {}
        }
    }
    hide(&mut body);
    body
}
