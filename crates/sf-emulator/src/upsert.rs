//! `POST /odata/v2/upsert` for PerEmail, PerPhone and User, with SuccessFactors'
//! per-record result array (HTTP 200 even when records fail).
//!
//! Bodies are JSON (one record or an array) or Atom XML (an `<entry>` or a
//! `<feed>` of entries, as SAP's CPI adapter sends them, KBA-3307746).
//! Records identify themselves by `__metadata.uri` (relative `PerEmail(...)`,
//! absolute `https://host/odata/v2/PerEmail(...)`, or a bare `PerEmail` plus key
//! properties).
//!
//! Checked for the whole request before any record is written, as
//! SuccessFactors checks the payload against the metadata (errors for the
//! whole request, with the record's `with the index N`):
//! - more than 1,000 records: 400 `BadRequestException` (KBA-3145174);
//! - a property the entity does not have: 400 `COE_PROPERTY_NOT_FOUND`;
//! - a property the metadata marks not upsertable (`createdDateTime`,
//!   `lastModifiedDateTime`, a `__deferred` navigation copied from a read):
//!   400 `[COE0030]… is not insertable` (KBA-2671173);
//! - a value the property cannot take (`User.status` `e`): 500
//!   `COE_GENERAL_SERVER_FAILURE` `[COE0019]Invalid property value`
//!   (KBA-2994898).
//!
//! Business rules fail one record (`status":"ERROR"`, `httpCode` 500 as real
//! tenants answer, R5): an unknown person or user, a picklist id of another
//! picklist, an invalid boolean flag, a second primary email/phone (the
//! older tenant behaviour; successfactors-odata.md §5), an inactive user
//! without `processInactiveEmployees=true`. With `purgeType=full` every valid
//! record of a request comes back `ACCEPTED` and nothing is written if any
//! record fails; otherwise the person's records of that entity are replaced.

use std::collections::{BTreeMap, HashSet};

use serde_json::{Map, Value, json};
use sf_odata::atom;
use sf_odata::edm::EdmType;
use sf_odata::error::ODataError;
use sf_odata::value::ODataValue;

use crate::model::*;
use crate::refdata;
use crate::time::Clock;

/// SuccessFactors' limit of records per upsert request (KBA-3145174).
pub const MAX_UPSERT_RECORDS: usize = 1000;

/// Request-level options of an upsert.
#[derive(Debug, Clone, Copy, Default)]
pub struct UpsertOptions {
    /// `purgeType=full`.
    pub purge_full: bool,
    /// `processInactiveEmployees=true`: allow writing inactive Users.
    pub process_inactive: bool,
}

/// One upsert record: the JSON object (or the Atom entry read as one).
pub type Record = Map<String, Value>;

const ATOM_NS: &str = "http://www.w3.org/2005/Atom";
const D_NS: &str = "http://schemas.microsoft.com/ado/2007/08/dataservices";
const M_NS: &str = "http://schemas.microsoft.com/ado/2007/08/dataservices/metadata";

/// Reads an upsert body: Atom XML when it is XML (by `Content-Type` or a
/// leading `<`), JSON otherwise.
pub fn parse_body(body: &[u8], content_type: Option<&str>) -> Result<Vec<Record>, ODataError> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace()).copied();
    let xml =
        content_type.is_some_and(|c| c.to_ascii_lowercase().contains("xml")) || first == Some(b'<');
    if xml {
        let text = std::str::from_utf8(body)
            .map_err(|_| ODataError::upsert_bad_body("the XML body is not UTF-8"))?;
        return parse_atom(text);
    }
    let parsed: Value = serde_json::from_slice(body).map_err(|e| {
        ODataError::upsert_bad_body(&format!("the body is neither JSON nor Atom XML: {e}"))
    })?;
    match parsed {
        Value::Object(o) => Ok(vec![o]),
        Value::Array(items) => items
            .into_iter()
            .map(|v| match v {
                Value::Object(o) => Ok(o),
                _ => Err(ODataError::upsert_bad_body(
                    "every element of the array must be a record object",
                )),
            })
            .collect(),
        _ => Err(ODataError::upsert_bad_body(
            "the body must be a record object or an array of records",
        )),
    }
}

/// Atom entries as records: `<id>` (or the edit link) becomes
/// `__metadata.uri`, `<category term>` the type, each `<d:prop>` of
/// `<m:properties>` a value (`m:null` → null, `Edm.Boolean` → a boolean),
/// and each `<link>` with inline content a navigation value.
fn parse_atom(text: &str) -> Result<Vec<Record>, ODataError> {
    let root = crate::oauth::parse_xml(text)
        .map_err(|e| ODataError::upsert_bad_body(&format!("invalid XML: {e}")))?;
    let entries: Vec<&crate::oauth::Element> = match (root.ns.as_str(), root.local.as_str()) {
        (ATOM_NS, "entry") => vec![&root],
        (ATOM_NS, "feed") => root.children_named(ATOM_NS, "entry").collect(),
        _ => {
            return Err(ODataError::upsert_bad_body(
                "the XML body must be an Atom <entry> or <feed>",
            ));
        }
    };
    let mut out = Vec::with_capacity(entries.len());
    for entry in entries {
        let mut record = Record::new();
        let mut meta = Map::new();
        let uri = entry
            .child(ATOM_NS, "id")
            .map(|e| e.text().trim().to_owned())
            .filter(|t| !t.is_empty())
            .or_else(|| {
                entry
                    .children_named(ATOM_NS, "link")
                    .find(|l| l.attr("rel") == Some("edit"))
                    .and_then(|l| l.attr("href").map(str::to_owned))
            });
        if let Some(uri) = uri {
            meta.insert("uri".into(), Value::String(uri));
        }
        if let Some(term) = entry.child(ATOM_NS, "category").and_then(|c| c.attr("term")) {
            meta.insert("type".into(), Value::String(term.to_owned()));
        }
        record.insert("__metadata".into(), Value::Object(meta));
        for link in entry.children_named(ATOM_NS, "link") {
            let inline = link.child(M_NS, "inline").is_some();
            if let (true, Some(title)) = (inline, link.attr("title")) {
                record.insert(title.to_owned(), Value::Object(Map::new()));
            }
        }
        let props = entry.child(ATOM_NS, "content").and_then(|c| c.child(M_NS, "properties"));
        if let Some(props) = props {
            for child in &props.children {
                let crate::oauth::Node::Element(p) = child else { continue };
                if p.ns != D_NS {
                    continue;
                }
                let attr = |local: &str| {
                    p.attrs
                        .iter()
                        .find(|(k, _)| k.rsplit(':').next() == Some(local) && k.contains(':'))
                        .map(|(_, v)| v.as_str())
                };
                let value = if attr("null") == Some("true") {
                    Value::Null
                } else if attr("type") == Some("Edm.Boolean") {
                    match p.text().trim() {
                        "true" => Value::Bool(true),
                        "false" => Value::Bool(false),
                        other => Value::String(other.to_owned()),
                    }
                } else {
                    Value::String(p.text())
                };
                record.insert(p.local.clone(), value);
            }
        }
        out.push(record);
    }
    Ok(out)
}

/// The upsert results as an Atom feed of `UpsertResult` entries (the
/// response when the client did not ask for JSON).
pub fn results_xml(results: &[Value], service_root: &str, now_ms: i64) -> String {
    let mut out = String::with_capacity(256 + results.len() * 512);
    out.push_str(r#"<?xml version="1.0" encoding="utf-8"?>"#);
    out.push('\n');
    out.push_str(r#"<feed xml:base=""#);
    atom::push_xml_escaped(&mut out, service_root.trim_end_matches('/'));
    out.push_str(r#"/" xmlns="http://www.w3.org/2005/Atom" xmlns:m="http://schemas.microsoft.com/ado/2007/08/dataservices/metadata" xmlns:d="http://schemas.microsoft.com/ado/2007/08/dataservices"><title type="text">UpsertResult</title><id>"#);
    atom::push_xml_escaped(&mut out, service_root.trim_end_matches('/'));
    out.push_str("/UpsertResult</id><updated>");
    out.push_str(&crate::time::format_instant(now_ms));
    out.push_str("</updated>");
    for r in results {
        out.push_str(r#"<entry><content type="application/xml"><m:properties>"#);
        for name in ["key", "status", "editStatus", "message", "index", "httpCode", "inlineResults"]
        {
            let value = match r.get(name) {
                Some(Value::String(s)) => ODataValue::String(s.clone()),
                Some(Value::Number(n)) => {
                    ODataValue::Int32(n.as_i64().and_then(|n| i32::try_from(n).ok()).unwrap_or(0))
                }
                _ => ODataValue::Null,
            };
            atom::push_property(&mut out, name, &value);
        }
        out.push_str("</m:properties></content></entry>");
    }
    out.push_str("</feed>");
    out
}

/// A validated write of one record.
#[derive(Debug, Clone)]
enum Write {
    Email {
        person: usize,
        ty: i64,
        address: Option<String>,
        primary: Option<bool>,
    },
    Phone {
        person: usize,
        ty: i64,
        phone: Option<Phone>,
        primary: Option<bool>,
    },
    User {
        person: usize,
        employment: usize,
        status: Option<UserStatus>,
        custom: Vec<(u8, String)>,
        /// Other string properties: (schema name, value).
        set: Vec<(&'static str, String)>,
    },
}

/// One record's failure: message and httpCode.
struct RecordError(String, u16);

/// A business-rule failure of one record: SuccessFactors answers these with
/// `httpCode` 500 (R5).
fn rule(message: impl Into<String>) -> RecordError {
    RecordError(message.into(), 500)
}

/// Parses `Entity(k='v',k2=12L)` → (entity, [(k, v)]). Absolute URIs are cut at the last `/`.
fn parse_uri(uri: &str) -> (String, Vec<(String, String)>) {
    let tail = uri.rsplit('/').next().unwrap_or(uri);
    let Some((entity, rest)) = tail.split_once('(') else { return (tail.to_owned(), Vec::new()) };
    let inner = rest.strip_suffix(')').unwrap_or(rest);
    let mut keys = Vec::new();
    let mut single = None;
    for part in split_key_parts(inner) {
        let unquote = |v: &str| {
            let v = v.trim();
            let v = v.strip_suffix('L').unwrap_or(v);
            v.strip_prefix('\'')
                .and_then(|v| v.strip_suffix('\''))
                .map(|v| v.replace("''", "'"))
                .unwrap_or_else(|| v.to_owned())
        };
        match part.split_once('=') {
            Some((k, v)) => keys.push((k.trim().to_owned(), unquote(v))),
            None if !part.trim().is_empty() => single = Some(unquote(&part)),
            None => {}
        }
    }
    if let Some(v) = single {
        keys.push((String::new(), v));
    }
    (entity.to_owned(), keys)
}

/// Splits a key predicate on commas outside quotes.
fn split_key_parts(inner: &str) -> Vec<String> {
    let mut parts = vec![String::new()];
    let mut quoted = false;
    for c in inner.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                if let Some(p) = parts.last_mut() {
                    p.push(c)
                }
            }
            ',' if !quoted => parts.push(String::new()),
            _ => {
                if let Some(p) = parts.last_mut() {
                    p.push(c)
                }
            }
        }
    }
    parts
}

/// SuccessFactors' boolean flags: JSON booleans or the strings it lists.
fn flag(value: &Value) -> Option<Option<bool>> {
    match value {
        Value::Null => Some(None),
        Value::Bool(b) => Some(Some(*b)),
        Value::String(s) => match s.to_ascii_lowercase().as_str() {
            "y" | "yes" | "t" | "true" | "1" => Some(Some(true)),
            "n" | "no" | "f" | "false" | "0" => Some(Some(false)),
            _ => None,
        },
        _ => None,
    }
}

fn text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

const BAD_FLAG: &str = "contains an invalid flag for boolean field. Only 'Y'/'Yes'/'T'/'True'/'1' or 'N'/'No'/'F'/'False'/'0' are supported";

/// The entity a record names: `__metadata.uri` (its last segment), else
/// `__metadata.type` without `SFOData.`; with the key values of the URI.
fn record_entity(record: &Record) -> (String, Vec<(String, String)>) {
    let meta = record.get("__metadata").and_then(Value::as_object);
    let uri = meta.and_then(|m| m.get("uri")).and_then(Value::as_str).unwrap_or("");
    let (mut entity, uri_keys) = parse_uri(uri);
    if entity.is_empty() {
        entity = meta
            .and_then(|m| m.get("type"))
            .and_then(Value::as_str)
            .map(|t| t.trim_start_matches("SFOData.").to_owned())
            .unwrap_or_default();
    }
    (entity, uri_keys)
}

/// User statuses a User upsert may write (`e`/`d` are external users, which
/// SuccessFactors refuses through `User`: KBA-2994898).
fn user_status(value: &str) -> Option<UserStatus> {
    match value.to_ascii_lowercase().as_str() {
        "active" | "t" => Some(UserStatus::Active),
        "inactive" | "f" => Some(UserStatus::Inactive),
        _ => None,
    }
}

impl Database {
    /// Runs an upsert request's records. Returns the `d` array of per-record
    /// results, or the error that rejects the whole request.
    pub fn upsert(
        &mut self,
        records: Vec<Record>,
        options: UpsertOptions,
        clock: &Clock,
    ) -> Result<Vec<Value>, ODataError> {
        if records.len() > MAX_UPSERT_RECORDS {
            return Err(ODataError::upsert_too_large(MAX_UPSERT_RECORDS));
        }
        for (index, record) in records.iter().enumerate() {
            self.check_against_metadata(record, index)?;
        }

        let mut results = Vec::with_capacity(records.len());
        let mut writes: Vec<Option<Write>> = Vec::with_capacity(records.len());
        // Primaries claimed by earlier records of this request: (person, entity).
        let mut claimed: HashSet<(usize, &'static str)> = HashSet::new();
        for (index, record) in records.iter().enumerate() {
            let (entity, key, outcome) = self.validate(record, options, &mut claimed);
            match outcome {
                Ok(write) => {
                    results.push(json!({"key": key, "status": "OK", "editStatus": "UPSERTED", "message": null, "index": index, "httpCode": 200, "inlineResults": null}));
                    writes.push(Some(write));
                }
                Err(RecordError(message, code)) => {
                    let message = format!("{message} for Key {key} with the index {index}");
                    tracing::debug!(entity, %message, "upsert record rejected");
                    results.push(json!({"key": key, "status": "ERROR", "editStatus": null, "message": message, "index": index, "httpCode": code, "inlineResults": null}));
                    writes.push(None);
                }
            }
        }

        if options.purge_full {
            if writes.iter().any(Option::is_none) {
                for r in results.iter_mut().filter(|r| r["status"] == "OK") {
                    r["status"] = json!("ACCEPTED");
                    r["editStatus"] = Value::Null;
                }
                return Ok(results);
            }
            self.purge(&writes, clock);
        }
        for write in writes.into_iter().flatten() {
            let stamp = clock.stamp();
            self.apply_write(write, stamp);
        }
        Ok(results)
    }

    /// The payload check against the metadata that SuccessFactors makes for
    /// the whole request (see the module docs).
    fn check_against_metadata(&self, record: &Record, index: usize) -> Result<(), ODataError> {
        let (entity, _) = record_entity(record);
        if entity.is_empty() {
            // Reported for the record itself ("no __metadata").
            return Ok(());
        }
        let schema = self.schema.schema;
        let Some(ty) = schema.entity(&entity) else {
            return Err(ODataError::new(
                400,
                "COE_ENTITY_NOT_FOUND",
                format!(
                    "[COE0007]invalid entity (or function) name: {entity} with the index {index}"
                ),
            ));
        };
        for (name, value) in record {
            if name == "__metadata" {
                continue;
            }
            if let Some(p) = ty.property(name) {
                if !p.upsertable || !ty.upsertable {
                    return Err(ODataError::upsert_not_upsertable(name, index));
                }
                let shown = match value {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                let fits = match (p.ty, value) {
                    (_, Value::Null) => true,
                    (_, Value::Object(_) | Value::Array(_)) => false,
                    (EdmType::String, Value::String(_) | Value::Number(_)) => true,
                    // Flags are checked per record (KBA-3386831's message).
                    (EdmType::Boolean, _) => true,
                    (
                        EdmType::Int32 | EdmType::Int64 | EdmType::Decimal | EdmType::Double,
                        Value::Number(_),
                    ) => true,
                    (
                        EdmType::Int32 | EdmType::Int64 | EdmType::Decimal | EdmType::Double,
                        Value::String(s),
                    ) => ODataValue::parse_literal(s)
                        .is_ok_and(|v| v.edm_type().is_some_and(|t| t != EdmType::String)),
                    (EdmType::DateTime | EdmType::DateTimeOffset, Value::String(s)) => {
                        sf_odata::value::parse_wire_date(s).is_ok()
                            || sf_odata::value::parse_datetime_body(s).is_ok()
                            || sf_odata::value::parse_datetimeoffset_body(s).is_ok()
                    }
                    _ => false,
                };
                if !fits {
                    return Err(ODataError::upsert_invalid_value(name, &shown, index));
                }
                if ty.name == "User" && name == "status" && user_status(&shown).is_none() {
                    return Err(ODataError::upsert_invalid_value(name, &shown, index));
                }
            } else if ty.nav(name).is_some() {
                // A navigation copied from a read (`{"__deferred":…}`) is no
                // link to write.
                if value.get("__deferred").is_some() {
                    return Err(ODataError::upsert_not_upsertable(name, index));
                }
            } else {
                return Err(ODataError::upsert_unknown_property(ty.name, name, index));
            }
        }
        Ok(())
    }

    /// Deletes the records of each (person, entity) in the request that the request omits.
    fn purge(&mut self, writes: &[Option<Write>], clock: &Clock) {
        let mut kept: BTreeMap<(usize, bool), Vec<i64>> = BTreeMap::new();
        for w in writes.iter().flatten() {
            match w {
                Write::Email { person, ty, .. } => {
                    kept.entry((*person, true)).or_default().push(*ty)
                }
                Write::Phone { person, ty, .. } => {
                    kept.entry((*person, false)).or_default().push(*ty)
                }
                Write::User { .. } => {}
            }
        }
        for ((person, email), types) in kept {
            let stamp = clock.stamp();
            let p = &mut self.persons[person];
            if email {
                p.emails.retain(|e| types.contains(&e.email_type));
            } else {
                p.phones.retain(|ph| types.contains(&ph.phone_type));
            }
            p.last_modified = p.last_modified.max(stamp);
        }
    }

    fn apply_write(&mut self, write: Write, stamp: i64) {
        match write {
            Write::Email { person, ty, address, primary } => {
                self.set_email(person, ty, address.as_deref(), primary, false, stamp)
            }
            Write::Phone { person, ty, phone, primary } => {
                self.set_phone(person, ty, phone, primary, false, stamp)
            }
            Write::User { person, employment, status, custom, set } => {
                let Some(user) = self.persons[person]
                    .employments
                    .get_mut(employment)
                    .and_then(|e| e.user.as_mut())
                else {
                    return;
                };
                if let Some(s) = status {
                    user.status = s;
                }
                for (n, v) in custom {
                    set_custom(&mut user.custom, n, Some(&v));
                }
                for (name, v) in set {
                    match name {
                        "username" => user.username = Some(v),
                        "email" => user.email = Some(v),
                        "firstName" => user.first_name = v,
                        "lastName" => user.last_name = v,
                        "businessPhone" => user.business_phone = Some(v),
                        "cellPhone" => user.cell_phone = Some(v),
                        "title" => user.title = Some(v),
                        "department" => user.department = Some(v),
                        "location" => user.location = Some(v),
                        other => {
                            user.extra.retain(|(n, _)| *n != other);
                            user.extra.push((other, v));
                        }
                    }
                }
                user.last_modified = stamp;
            }
        }
    }

    /// Validates one record; returns (entity, result key, write or error).
    fn validate(
        &self,
        record: &Record,
        options: UpsertOptions,
        claimed: &mut HashSet<(usize, &'static str)>,
    ) -> (String, String, Result<Write, RecordError>) {
        let (entity, uri_keys) = record_entity(record);
        let key_of = |name: &str| -> Option<String> {
            text(record.get(name)).or_else(|| {
                uri_keys
                    .iter()
                    .find(|(k, _)| k == name || (k.is_empty() && name == "userId"))
                    .map(|(_, v)| v.clone())
            })
        };
        match entity.as_str() {
            "PerEmail" | "PerPhone" => {
                let email = entity == "PerEmail";
                let (type_prop, picklist) = if email {
                    ("emailType", refdata::EMAIL_TYPE)
                } else {
                    ("phoneType", refdata::PHONE_TYPE)
                };
                let pid = key_of("personIdExternal").unwrap_or_default();
                let ty_text = key_of(type_prop).unwrap_or_default();
                let key = if email {
                    format!("PerEmail/emailType={ty_text},PerEmail/personIdExternal={pid}")
                } else {
                    format!("PerPhone/personIdExternal={pid},PerPhone/phoneType={ty_text}")
                };
                let nav = record.keys().find(|k| k.ends_with("Nav"));
                let outcome = match nav {
                    Some(n) => Err(rule(format!(
                        "Writing the navigation {n} is not supported by this emulator"
                    ))),
                    None => self.validate_contact(record, email, &pid, &ty_text, picklist, claimed),
                };
                (entity, key, outcome)
            }
            "User" => {
                let user_id = key_of("userId").unwrap_or_default();
                let key = format!("User/userId={user_id}");
                let outcome = self.validate_user(record, &user_id, options);
                (entity, key, outcome)
            }
            other => {
                let key = format!("{other}/unknown");
                let message = if other.is_empty() {
                    "Record has no __metadata.uri or type naming its entity".to_owned()
                } else {
                    format!(
                        "Entity {other} is not supported by upsert in this emulator (PerEmail, PerPhone, User are)"
                    )
                };
                (entity.clone(), key, Err(rule(message)))
            }
        }
    }

    fn validate_user(
        &self,
        record: &Record,
        user_id: &str,
        options: UpsertOptions,
    ) -> Result<Write, RecordError> {
        let missing = || rule(format!("User with userId '{user_id}' does not exist"));
        let &(p, e) = self.user_index.get(user_id).ok_or_else(missing)?;
        let u = self.persons[p].employments[e].user.as_ref().ok_or_else(missing)?;
        if u.status == UserStatus::Inactive && !options.process_inactive {
            return Err(rule(format!(
                "User '{user_id}' is inactive; set processInactiveEmployees=true to update inactive users"
            )));
        }
        let user_type = self.schema.types.user;
        let mut custom = Vec::new();
        let mut set = Vec::new();
        let mut status = None;
        for (name, value) in record {
            if name == "__metadata" || name == "userId" {
                continue;
            }
            // Checked against the metadata already: a User property.
            let Some(prop) = user_type.property(name) else {
                return Err(rule(format!(
                    "Writing the navigation {name} is not supported by this emulator"
                )));
            };
            if value.is_null() {
                continue;
            }
            let Some(v) = text(Some(value)) else {
                return Err(rule(format!("{name} must be a string")));
            };
            if name == "status" {
                status = user_status(&v);
            } else if let Some(n) = name
                .strip_prefix("custom")
                .and_then(|n| n.parse::<u8>().ok())
                .filter(|n| (1..=15).contains(n))
            {
                custom.push((n, v));
            } else if prop.ty == EdmType::String {
                set.push((prop.name, v));
            } else {
                return Err(rule(format!("User/{name} is not stored by this emulator's upsert")));
            }
        }
        Ok(Write::User { person: p, employment: e, status, custom, set })
    }

    fn validate_contact(
        &self,
        record: &Map<String, Value>,
        email: bool,
        pid: &str,
        ty_text: &str,
        picklist: &str,
        claimed: &mut HashSet<(usize, &'static str)>,
    ) -> Result<Write, RecordError> {
        let entity = if email { "PerEmail" } else { "PerPhone" };
        let &person = self.person_index.get(pid).ok_or_else(|| {
            RecordError(format!("Person with personIdExternal '{pid}' does not exist"), 500)
        })?;
        let ty: i64 = ty_text
            .parse()
            .ok()
            .filter(|id| {
                self.refs.options_by_id.get(id).is_some_and(|&o| {
                    self.refs.picklists.get(picklist).is_some_and(|&l| {
                        self.refs
                            .get(o)
                            .navs
                            .iter()
                            .any(|(n, t)| *n == "picklist" && t.contains(&l))
                    })
                })
            })
            .ok_or_else(|| {
                RecordError(
                    format!(
                        "Invalid picklist option id '{ty_text}' for {entity}/{}",
                        if email { "emailType" } else { "phoneType" }
                    ),
                    500,
                )
            })?;
        let primary = match record.get("isPrimary") {
            None => None,
            Some(v) => flag(v).ok_or_else(|| RecordError(format!("isPrimary {BAD_FLAG}"), 500))?,
        };
        let delete = record
            .get("operation")
            .and_then(Value::as_str)
            .is_some_and(|o| o.eq_ignore_ascii_case("DELETE"));
        if delete {
            if primary.is_none() {
                return Err(RecordError(format!("isPrimary {BAD_FLAG}"), 500));
            }
            return Ok(if email {
                Write::Email { person, ty, address: None, primary }
            } else {
                Write::Phone { person, ty, phone: None, primary }
            });
        }
        let p = &self.persons[person];
        if primary == Some(true) {
            let other_primary = if email {
                p.emails.iter().any(|e| e.is_primary && e.email_type != ty)
            } else {
                p.phones.iter().any(|ph| ph.is_primary && ph.phone_type != ty)
            };
            if other_primary || !claimed.insert((person, entity)) {
                return Err(RecordError(
                    format!(
                        "Person '{pid}' already has a primary {}; only one is allowed",
                        if email { "email" } else { "phone" }
                    ),
                    500,
                ));
            }
        }
        if email {
            let address = text(record.get("emailAddress"));
            let exists = p.emails.iter().any(|e| e.email_type == ty);
            match address {
                Some(a) if a.contains('@') => {
                    Ok(Write::Email { person, ty, address: Some(a), primary })
                }
                Some(a) => Err(RecordError(
                    format!("emailAddress '{a}' is not a valid email address"),
                    500,
                )),
                None if exists => Ok(Write::Email {
                    person,
                    ty,
                    address: p
                        .emails
                        .iter()
                        .find(|e| e.email_type == ty)
                        .map(|e| e.address.clone()),
                    primary,
                }),
                None => Err(RecordError("emailAddress is required".into(), 500)),
            }
        } else {
            let number = text(record.get("phoneNumber"));
            let existing = p.phones.iter().find(|ph| ph.phone_type == ty);
            let number = number
                .or_else(|| existing.map(|e| e.number.clone()))
                .ok_or_else(|| RecordError("phoneNumber is required".into(), 500))?;
            Ok(Write::Phone {
                person,
                ty,
                phone: Some(Phone {
                    phone_type: ty,
                    country_code: text(record.get("countryCode")),
                    area_code: text(record.get("areaCode")),
                    number,
                    extension: text(record.get("extension")),
                    is_primary: primary.unwrap_or(false),
                    last_modified: 0,
                    created: 0,
                }),
                primary,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_relative_absolute_and_bare_uris() {
        assert_eq!(
            parse_uri("PerEmail(emailType='8448',personIdExternal='O''Neil')"),
            (
                "PerEmail".into(),
                vec![
                    ("emailType".into(), "8448".into()),
                    ("personIdExternal".into(), "O'Neil".into())
                ]
            )
        );
        assert_eq!(
            parse_uri("https://h:443/odata/v2/User('103208')"),
            ("User".into(), vec![(String::new(), "103208".into())])
        );
        assert_eq!(parse_uri("PerPhone"), ("PerPhone".into(), vec![]));
        assert_eq!(parse_uri("PerEmail(emailType=8448L,personIdExternal='a,b')").1[1].1, "a,b");
    }

    #[test]
    fn boolean_flags_follow_successfactors_list() {
        for (v, want) in [
            (json!(true), Some(Some(true))),
            (json!("Yes"), Some(Some(true))),
            (json!("0"), Some(Some(false))),
            (json!("maybe"), None),
            (json!(2), None),
        ] {
            assert_eq!(flag(&v), want, "{v}");
        }
    }
}
