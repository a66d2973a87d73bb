//! `POST /odata/v2/upsert` for PerEmail, PerPhone and User, with SuccessFactors'
//! per-record result array (HTTP 200 even when records fail).
//!
//! Records identify themselves by `__metadata.uri` (relative `PerEmail(...)`,
//! absolute `https://host/odata/v2/PerEmail(...)`, or a bare `PerEmail` plus key
//! properties). A second primary email/phone is rejected (the older tenant
//! behaviour; SuccessFactors-odata.md §5). With `purgeType=full` every valid
//! record of a request comes back `ACCEPTED` and nothing is written if any
//! record fails; otherwise the person's records of that entity are replaced.

use std::collections::{BTreeMap, HashSet};

use serde_json::{Map, Value, json};

use crate::model::*;
use crate::refdata;
use crate::time::Clock;

/// Request-level options of an upsert.
#[derive(Debug, Clone, Copy, Default)]
pub struct UpsertOptions {
    /// `purgeType=full`.
    pub purge_full: bool,
    /// `processInactiveEmployees=true`: allow writing inactive Users.
    pub process_inactive: bool,
}

/// Why a whole upsert request is rejected (HTTP 400), as opposed to one record.
#[derive(Debug, thiserror::Error)]
pub enum UpsertError {
    #[error("the upsert body is not JSON: {0}")]
    NotJson(String),
    #[error("the upsert body must be an object or an array of objects")]
    NotRecords,
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
        username: Option<String>,
        email: Option<String>,
        custom: Vec<(u8, String)>,
    },
}

/// One record's failure: message and httpCode.
struct RecordError(String, u16);

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

impl Database {
    /// Runs an upsert request body. Returns the `{"d":[...]}` response.
    pub fn upsert(
        &mut self,
        body: &[u8],
        options: UpsertOptions,
        clock: &Clock,
    ) -> Result<Value, UpsertError> {
        let parsed: Value =
            serde_json::from_slice(body).map_err(|e| UpsertError::NotJson(e.to_string()))?;
        let records: Vec<Map<String, Value>> = match parsed {
            Value::Object(o) => vec![o],
            Value::Array(items) => items
                .into_iter()
                .map(|v| match v {
                    Value::Object(o) => Ok(o),
                    _ => Err(UpsertError::NotRecords),
                })
                .collect::<Result<_, _>>()?,
            _ => return Err(UpsertError::NotRecords),
        };

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
                return Ok(json!({ "d": results }));
            }
            self.purge(&writes, clock);
        }
        for write in writes.into_iter().flatten() {
            let stamp = clock.stamp();
            self.apply_write(write, stamp);
        }
        Ok(json!({ "d": results }))
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
            Write::User { person, employment, username, email, custom } => {
                let Some(user) = self.persons[person]
                    .employments
                    .get_mut(employment)
                    .and_then(|e| e.user.as_mut())
                else {
                    return;
                };
                if let Some(u) = username {
                    user.username = Some(u);
                }
                if let Some(e) = email {
                    user.email = Some(e);
                }
                for (n, v) in custom {
                    set_custom(&mut user.custom, n, Some(&v));
                }
                user.last_modified = stamp;
            }
        }
    }

    /// Validates one record; returns (entity, result key, write or error).
    fn validate(
        &self,
        record: &Map<String, Value>,
        options: UpsertOptions,
        claimed: &mut HashSet<(usize, &'static str)>,
    ) -> (String, String, Result<Write, RecordError>) {
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
                let outcome =
                    self.validate_contact(record, email, &pid, &ty_text, picklist, claimed);
                (entity, key, outcome)
            }
            "User" => {
                let user_id = key_of("userId").unwrap_or_default();
                let key = format!("User/userId={user_id}");
                let outcome = match self.user_index.get(&user_id) {
                    None => Err(RecordError(
                        format!("User with userId '{user_id}' does not exist"),
                        500,
                    )),
                    Some(&(p, e)) => match self.persons[p].employments[e].user.as_ref() {
                        None => Err(RecordError(
                            format!("User with userId '{user_id}' does not exist"),
                            500,
                        )),
                        Some(u)
                            if u.status == UserStatus::Inactive && !options.process_inactive =>
                        {
                            Err(RecordError(
                                format!(
                                    "User '{user_id}' is inactive; set processInactiveEmployees=true to update inactive users"
                                ),
                                400,
                            ))
                        }
                        Some(_) => {
                            let mut custom = Vec::new();
                            let mut bad = None;
                            for (name, value) in record {
                                if let Some(n) = name
                                    .strip_prefix("custom")
                                    .and_then(|n| n.parse::<u8>().ok())
                                    .filter(|n| (1..=15).contains(n))
                                {
                                    match text(Some(value)) {
                                        Some(v) => custom.push((n, v)),
                                        None => bad = Some(name.clone()),
                                    }
                                } else if !matches!(
                                    name.as_str(),
                                    "__metadata" | "userId" | "username" | "email" | "status"
                                ) {
                                    bad = Some(name.clone());
                                }
                            }
                            match bad {
                                Some(name) => Err(RecordError(
                                    format!("[COE0021]Invalid property names: User/{name}"),
                                    400,
                                )),
                                None => Ok(Write::User {
                                    person: p,
                                    employment: e,
                                    username: text(record.get("username")),
                                    email: text(record.get("email")),
                                    custom,
                                }),
                            }
                        }
                    },
                };
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
                (entity.clone(), key, Err(RecordError(message, 400)))
            }
        }
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
                    400,
                )
            })?;
        let primary = match record.get("isPrimary") {
            None => None,
            Some(v) => flag(v).ok_or_else(|| RecordError(format!("isPrimary {BAD_FLAG}"), 400))?,
        };
        let delete = record
            .get("operation")
            .and_then(Value::as_str)
            .is_some_and(|o| o.eq_ignore_ascii_case("DELETE"));
        if delete {
            if primary.is_none() {
                return Err(RecordError(format!("isPrimary {BAD_FLAG}"), 400));
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
                    400,
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
                    400,
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
                None => Err(RecordError("emailAddress is required".into(), 400)),
            }
        } else {
            let number = text(record.get("phoneNumber"));
            let existing = p.phones.iter().find(|ph| ph.phone_type == ty);
            let number = number
                .or_else(|| existing.map(|e| e.number.clone()))
                .ok_or_else(|| RecordError("phoneNumber is required".into(), 400))?;
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
