//! What the SCIM server (and the app behind it) demands of a user, as
//! [`Requirement`]s: read from `/Schemas` and `/ResourceTypes` (RFC 7644
//! §4), or a schema file from the config, plus a Salesforce-style
//! `/Entitlements` listing of the profiles it offers, plus the app profile's
//! own rules ([`AppProfile::Salesforce`]). The engine refuses, before
//! sending, any planned value that breaks one.
//!
//! `canonicalValues` are only suggestions in RFC 7643 (`emails.type` lists
//! `work`, `home`, `other` and allows others), so they become a closed list
//! only for `entitlements` and `roles`, whose values name objects the server
//! holds (a profile id that does not exist is refused by Salesforce).

use std::path::Path;

use reqwest::Method;
use serde_json::Value;

use hrsync_target::TargetError;
use hrsync_target::requirements::{Requirement, Rule};

use crate::config::AppProfile;
use crate::request_builder::USER_SCHEMA;
use crate::service::Service;

/// Attributes the server assigns: never demanded of hrsync.
const SERVER_SET: [&str; 3] = ["id", "meta", "schemas"];
/// Multi-valued attributes whose values name server objects.
const CLOSED: [&str; 2] = ["entitlements", "roles"];

/// The schemas of a `/Schemas` answer or a schema file: a ListResponse's
/// `Resources`, or a plain list.
fn schema_list(v: Value) -> Option<Vec<Value>> {
    match v {
        Value::Array(a) => Some(a),
        Value::Object(mut o) => match o.remove("Resources") {
            Some(Value::Array(a)) => Some(a),
            _ => None,
        },
        _ => None,
    }
}

/// Read and check a schema file (`schema_file`).
pub(crate) fn read_file(path: &Path) -> Result<Vec<Value>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let v: Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: not JSON: {e}", path.display()))?;
    let list = schema_list(v).ok_or_else(|| {
        format!("{}: expected a list of schemas or a ListResponse of them", path.display())
    })?;
    if !list.iter().any(|s| s.get("id").and_then(Value::as_str) == Some(USER_SCHEMA)) {
        return Err(format!("{}: has no schema with id {USER_SCHEMA}", path.display()));
    }
    Ok(list)
}

/// The requirements one schema puts on a user.
fn from_schema(schema: &Value, core: bool, out: &mut Vec<Requirement>) {
    let Some(id) = schema.get("id").and_then(Value::as_str) else { return };
    let by = format!("the SCIM server's schema {id}");
    let attributes = schema.get("attributes").and_then(Value::as_array);
    for a in attributes.into_iter().flatten() {
        let Some(name) = a.get("name").and_then(Value::as_str) else { continue };
        if SERVER_SET.contains(&name)
            || a.get("mutability").and_then(Value::as_str) == Some("readOnly")
        {
            continue;
        }
        let attribute = if core { name.to_owned() } else { format!("{id}:{name}") };
        if a.get("required").and_then(Value::as_bool) == Some(true) {
            out.push(Requirement {
                attribute: attribute.clone(),
                rule: Rule::Required,
                by: by.clone(),
            });
        }
        if let Some(max) = a.get("maxLength").and_then(Value::as_u64) {
            out.push(Requirement {
                attribute: attribute.clone(),
                rule: Rule::MaxLength(max as usize),
                by: by.clone(),
            });
        }
        if core && CLOSED.contains(&name) {
            let canonical = a
                .get("subAttributes")
                .and_then(Value::as_array)
                .and_then(|subs| subs.iter().find(|s| s["name"] == "value"))
                .and_then(|v| v.get("canonicalValues"))
                .and_then(Value::as_array);
            let values: Vec<String> = canonical
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect();
            if !values.is_empty() {
                out.push(Requirement { attribute, rule: Rule::OneOf(values), by: by.clone() });
            }
        }
    }
}

/// The extensions the User resource type declares required, from a
/// `/ResourceTypes` answer.
fn required_extensions(resource_types: &Value) -> Vec<String> {
    let list = resource_types
        .get("Resources")
        .and_then(Value::as_array)
        .or_else(|| resource_types.as_array())
        .cloned()
        .unwrap_or_default();
    list.iter()
        .filter(|r| r.get("schema").and_then(Value::as_str) == Some(USER_SCHEMA))
        .flat_map(|r| {
            r.get("schemaExtensions").and_then(Value::as_array).cloned().unwrap_or_default()
        })
        .filter(|e| e.get("required").and_then(Value::as_bool) == Some(true))
        .filter_map(|e| e.get("schema").and_then(Value::as_str).map(str::to_owned))
        .collect()
}

/// What Salesforce demands of every user beyond its SCIM schema, named as
/// `builtin:sf-to-salesforce` maps them.
pub(crate) fn salesforce() -> Vec<Requirement> {
    let sf = |attribute: &str, field: &str| Requirement {
        attribute: attribute.into(),
        rule: Rule::Required,
        by: format!("Salesforce (every user needs a {field})"),
    };
    vec![
        Requirement {
            attribute: "entitlements".into(),
            rule: Rule::Required,
            by: "Salesforce (every user needs a profile id: REQUIRED_FIELD_MISSING:user_must_have_one_entitlement_which_must_be_a_profileid)".into(),
        },
        sf("userName", "Username, unique across all Salesforce orgs"),
        sf("name.familyName", "LastName"),
        sf("emails", "Email"),
        sf("urn:salesforce:schemas:extension:1.0:alias", "Alias"),
        Requirement {
            attribute: "urn:salesforce:schemas:extension:1.0:alias".into(),
            rule: Rule::MaxLength(8),
            by: "Salesforce (Alias)".into(),
        },
        sf("locale", "LocaleSidKey"),
        sf("preferredLanguage", "LanguageLocaleKey"),
        sf("timezone", "TimeZoneSidKey"),
        sf("urn:salesforce:schemas:extension:1.0:emailEncodingKey", "EmailEncodingKey"),
    ]
}

/// GET a discovery endpoint: its JSON, or `None` when the server does not
/// offer it (any answer but a JSON 2xx).
async fn discover(service: &Service, path: &str) -> Result<Option<Value>, TargetError> {
    let url = service.url(path);
    let answer = service.send("schema", Method::GET, &url, &[], None).await?;
    Ok(if answer.status.is_success() { answer.json() } else { None })
}

/// Everything known of what a user must look like.
pub(crate) async fn requirements(
    service: &Service,
    profile: Option<AppProfile>,
    schema_file: Option<&Path>,
) -> Result<Vec<Requirement>, TargetError> {
    let mut out = Vec::new();
    let schemas = match schema_file {
        Some(path) => Some(
            read_file(path)
                .map_err(|message| TargetError::Rejected { operation: "schema", message })?,
        ),
        None => discover(service, "/Schemas").await?.and_then(schema_list),
    };
    if let Some(schemas) = schemas {
        let required_ext = match schema_file {
            Some(_) => Vec::new(),
            None => discover(service, "/ResourceTypes")
                .await?
                .map(|rt| required_extensions(&rt))
                .unwrap_or_default(),
        };
        for s in &schemas {
            let id = s.get("id").and_then(Value::as_str).unwrap_or_default();
            if id == USER_SCHEMA {
                from_schema(s, true, &mut out);
            } else if required_ext.iter().any(|e| e == id) {
                from_schema(s, false, &mut out);
            }
        }
    }
    // Salesforce lists the profiles (and permission sets) it offers.
    if let Some(listing) = discover(service, "/Entitlements").await? {
        let offered: Vec<String> = listing
            .get("Resources")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|e| {
                e.get("type")
                    .and_then(Value::as_str)
                    .is_none_or(|t| t.eq_ignore_ascii_case("profile"))
            })
            .filter_map(|e| {
                e.get("value").or_else(|| e.get("id")).and_then(Value::as_str).map(str::to_owned)
            })
            .collect();
        if !offered.is_empty() {
            out.push(Requirement {
                attribute: "entitlements".into(),
                rule: Rule::OneOf(offered),
                by: "the server's /Entitlements (the profiles it offers)".into(),
            });
        }
    }
    if profile == Some(AppProfile::Salesforce) {
        out.extend(salesforce());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn required_and_closed_attributes_are_read_from_a_schema() {
        let schema = json!({"id": USER_SCHEMA, "attributes": [
            {"name": "id", "required": true, "mutability": "readOnly"},
            {"name": "userName", "required": true},
            {"name": "emails", "subAttributes": [{"name": "type", "canonicalValues": ["work", "home"]}]},
            {"name": "entitlements", "required": true, "subAttributes": [
                {"name": "value", "required": true, "canonicalValues": ["00eA", "00eB"]}]},
        ]});
        let mut out = Vec::new();
        from_schema(&schema, true, &mut out);
        let names: Vec<(&str, &Rule)> =
            out.iter().map(|r| (r.attribute.as_str(), &r.rule)).collect();
        assert_eq!(
            names,
            [
                ("userName", &Rule::Required),
                ("entitlements", &Rule::Required),
                ("entitlements", &Rule::OneOf(vec!["00eA".into(), "00eB".into()])),
            ],
            "server-set attributes and suggested emails types are not demands"
        );
    }

    #[test]
    fn an_extension_required_by_the_resource_type_is_read_with_its_urn() {
        let rt = json!({"Resources": [{"schema": USER_SCHEMA, "schemaExtensions": [
            {"schema": "urn:x:enterprise", "required": false},
            {"schema": "urn:x:sf", "required": true}]}]});
        assert_eq!(required_extensions(&rt), ["urn:x:sf"]);
        let mut out = Vec::new();
        from_schema(
            &json!({"id": "urn:x:sf", "attributes": [{"name": "profileId", "required": true}]}),
            false,
            &mut out,
        );
        assert_eq!(out[0].attribute, "urn:x:sf:profileId");
    }
}
