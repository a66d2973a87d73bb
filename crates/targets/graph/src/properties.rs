//! Pure translation between the mapping's flat attributes and Graph user
//! properties (no I/O).
//!
//! A mapping names Graph properties as Entra's attribute list does:
//! `displayName`, `employeeOrgData.costCenter`,
//! `onPremisesExtensionAttributes.extensionAttribute1`. Dotted names become
//! nested objects on the wire and are flattened again when read, so the
//! engine compares like with like. Values are typed as Graph's schema types
//! them (`accountEnabled` a boolean, `businessPhones` a collection,
//! `employeeHireDate` a DateTimeOffset), because expressions yield text.
//! The shared conventions of [`hrsync_target::attr`] are honoured:
//! `accountDisabled` is written as `accountEnabled` (inverted), `manager`
//! is a reference resolved by the target, never a property.

use serde_json::{Map, Value};

use hrsync_target::{Attributes, attr};

/// Graph's `accountEnabled`, the status property.
pub const ACCOUNT_ENABLED: &str = attr::ACCOUNT_ENABLED;

/// Properties of type `Edm.Boolean` a mapping may write.
const BOOLEANS: &[&str] = &[ACCOUNT_ENABLED, "showInAddressList"];
/// Properties of type `Collection(Edm.String)` a mapping may write.
const COLLECTIONS: &[&str] = &[
    "businessPhones",
    "otherMails",
    "interests",
    "pastProjects",
    "responsibilities",
    "schools",
    "skills",
];
/// Properties of type `Edm.DateTimeOffset` a mapping may write.
const DATES: &[&str] = &["employeeHireDate", "employeeLeaveDateTime", "birthday", "hireDate"];

/// Properties read back for every user, so a comparison sees what the
/// built-in mapping manages. Graph returns only a default handful without
/// `$select`; attributes a custom mapping writes are added by the target.
pub const BASE_SELECT: &[&str] = &[
    "id",
    ACCOUNT_ENABLED,
    "displayName",
    "givenName",
    "surname",
    "mailNickname",
    "userPrincipalName",
    "mail",
    "employeeId",
    "employeeHireDate",
    "employeeLeaveDateTime",
    "employeeType",
    "employeeOrgData",
    "jobTitle",
    "department",
    "companyName",
    "officeLocation",
    "usageLocation",
    "city",
    "country",
    "state",
    "streetAddress",
    "postalCode",
    "mobilePhone",
    "businessPhones",
    "preferredLanguage",
    "onPremisesExtensionAttributes",
];

/// A value the mapping produced that Graph's type for the property cannot
/// take.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{property}: {cause}")]
pub struct ValueError {
    pub property: String,
    pub cause: String,
}

fn bad(property: &str, cause: impl Into<String>) -> ValueError {
    ValueError { property: property.to_owned(), cause: cause.into() }
}

/// The top-level property a mapping attribute writes (`employeeOrgData`
/// for `employeeOrgData.costCenter`).
pub fn top_level(name: &str) -> &str {
    name.split_once('.').map_or(name, |(top, _)| top)
}

/// Whether the attribute is a reference the target resolves, not a property.
pub fn is_manager(name: &str) -> bool {
    name.eq_ignore_ascii_case(attr::MANAGER)
}

/// The property and value to write for one mapping attribute: the status
/// convention translated, the value typed as Graph types the property.
/// `None` for attributes that are not properties (the manager, secrets).
pub fn property(name: &str, value: &Value) -> Result<Option<(String, Value)>, ValueError> {
    if is_manager(name) || attr::is_secret(name) {
        return Ok(None);
    }
    if name.eq_ignore_ascii_case(attr::ACCOUNT_DISABLED) {
        return match value {
            Value::Null => Ok(None),
            v => match attr::flag(v) {
                Some(disabled) => Ok(Some((ACCOUNT_ENABLED.into(), Value::Bool(!disabled)))),
                None => Err(bad(name, format!("{v} is not a true/false value"))),
            },
        };
    }
    Ok(Some((name.to_owned(), typed(name, value)?)))
}

fn typed(name: &str, value: &Value) -> Result<Value, ValueError> {
    if value.is_null() {
        return Ok(Value::Null);
    }
    if BOOLEANS.contains(&name) {
        return match attr::flag(value) {
            Some(b) if !matches!(value, Value::String(s) if s.is_empty()) => Ok(Value::Bool(b)),
            _ => Err(bad(name, format!("{value} is not a true/false value (Edm.Boolean)"))),
        };
    }
    if COLLECTIONS.contains(&name) {
        let items: Vec<Value> = match value {
            Value::Array(a) => a.clone(),
            v => vec![v.clone()],
        };
        let items: Vec<Value> = items
            .into_iter()
            .filter(|v| !v.is_null() && v.as_str().is_none_or(|s| !s.is_empty()))
            .map(|v| match v {
                Value::String(_) => v,
                other => Value::String(other.to_string()),
            })
            .collect();
        return Ok(Value::Array(items));
    }
    if DATES.contains(&name) {
        return match value {
            Value::String(s) if s.is_empty() => Ok(Value::Null),
            Value::String(s) => date_time(s)
                .map(Value::String)
                .ok_or_else(|| bad(name, format!("{s:?} is not a date (Edm.DateTimeOffset)"))),
            v => Err(bad(name, format!("{v} is not a date (Edm.DateTimeOffset)"))),
        };
    }
    Ok(match value {
        Value::Number(n) => Value::String(n.to_string()),
        Value::Bool(b) => Value::String(b.to_string()),
        Value::Array(a) if a.len() == 1 => a[0].clone(),
        v => v.clone(),
    })
}

/// A date or date-time as Graph's DateTimeOffset (`2026-03-01T00:00:00Z`):
/// an RFC 3339 instant is kept as UTC, a date alone or a date-time without
/// offset is taken as UTC, SuccessFactors' `/Date(ms)/` is converted.
pub fn date_time(text: &str) -> Option<String> {
    let text = text.trim();
    if let Some(ms) = text.strip_prefix("/Date(").and_then(|t| t.strip_suffix(")/")) {
        let ms: i64 = ms.split(['+', '-']).next()?.parse().ok()?;
        let ts = jiff::Timestamp::from_millisecond(ms).ok()?;
        return Some(ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string());
    }
    if let Ok(ts) = text.parse::<jiff::Timestamp>() {
        return Some(ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string());
    }
    if let Ok(dt) = text.parse::<jiff::civil::DateTime>() {
        return Some(dt.strftime("%Y-%m-%dT%H:%M:%SZ").to_string());
    }
    if let Ok(d) = text.parse::<jiff::civil::Date>() {
        return Some(d.strftime("%Y-%m-%dT00:00:00Z").to_string());
    }
    None
}

/// The nested Graph object for flat attributes: `a.b = v` becomes
/// `{"a": {"b": v}}`. Attributes that are not properties are left out.
pub fn nest<'a>(
    attributes: impl IntoIterator<Item = (&'a String, &'a Value)>,
) -> Result<Map<String, Value>, ValueError> {
    let mut out = Map::new();
    for (name, value) in attributes {
        let Some((name, value)) = property(name, value)? else { continue };
        match name.split_once('.') {
            None => {
                out.insert(name, value);
            }
            Some((top, rest)) => {
                let slot = out.entry(top.to_owned()).or_insert_with(|| Value::Object(Map::new()));
                match slot {
                    Value::Object(m) => {
                        m.insert(rest.to_owned(), value);
                    }
                    _ => return Err(bad(&name, format!("{top} is also written as a whole"))),
                }
            }
        }
    }
    Ok(out)
}

/// The flat attributes of a Graph user as the mapping names them: nested
/// objects become dotted names (nulls dropped), `accountEnabled` is
/// reported as `accountDisabled` too, so a mapping in either convention
/// compares with what Graph holds. OData annotations are dropped.
pub fn flatten(user: &Map<String, Value>) -> Attributes {
    let mut out = Attributes::new();
    for (name, value) in user {
        if name.starts_with('@') || name.contains("@odata") || value.is_null() {
            continue;
        }
        match value {
            Value::Object(m) => {
                for (k, v) in m {
                    if !v.is_null() && !k.starts_with('@') {
                        out.insert(format!("{name}.{k}"), v.clone());
                    }
                }
            }
            v => {
                out.insert(name.clone(), v.clone());
            }
        }
    }
    if let Some(enabled) = user.get(ACCOUNT_ENABLED).and_then(Value::as_bool) {
        out.insert(attr::ACCOUNT_DISABLED.into(), attr::flag_value(!enabled));
    }
    out
}

/// Writes of mapping attributes as one PATCH body: dotted names nested,
/// and `employeeOrgData` sent whole (Graph replaces the complex value:
/// a field left out would be cleared), completed from `current`.
pub fn patch(
    changes: &[(String, Value)],
    current: Option<&Map<String, Value>>,
) -> Result<Map<String, Value>, ValueError> {
    let mut body = nest(changes.iter().map(|(n, v)| (n, v)))?;
    if let Some(Value::Object(org)) = body.get_mut("employeeOrgData") {
        let have = current.and_then(|c| c.get("employeeOrgData")).and_then(Value::as_object);
        for field in ["costCenter", "division"] {
            if !org.contains_key(field) {
                let v = have.and_then(|h| h.get(field)).cloned().unwrap_or(Value::Null);
                org.insert(field.into(), v);
            }
        }
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn attrs(v: Value) -> Attributes {
        v.as_object().unwrap().clone().into_iter().collect()
    }

    #[test]
    fn dotted_names_nest_and_types_follow_graph() {
        let a = attrs(json!({
            "displayName": "Ana Ruiz",
            "accountDisabled": "False",
            "employeeOrgData.costCenter": "CC1",
            "employeeOrgData.division": "Sales",
            "businessPhones": "+1 555",
            "employeeHireDate": "2024-03-01",
            "employeeId": 1042,
            "manager": "m1",
            "password": "x",
        }));
        let body = nest(&a).unwrap();
        assert_eq!(
            Value::Object(body),
            json!({
                "displayName": "Ana Ruiz",
                "accountEnabled": true,
                "employeeOrgData": {"costCenter": "CC1", "division": "Sales"},
                "businessPhones": ["+1 555"],
                "employeeHireDate": "2024-03-01T00:00:00Z",
                "employeeId": "1042",
            })
        );
    }

    #[test]
    fn bad_values_name_the_property() {
        let e = property("accountEnabled", &json!("maybe")).unwrap_err();
        assert_eq!(e.property, "accountEnabled");
        let e = property("employeeLeaveDateTime", &json!("next week")).unwrap_err();
        assert!(e.cause.contains("DateTimeOffset"), "{e}");
    }

    #[test]
    fn dates_in_every_shape_sf_sends() {
        assert_eq!(date_time("/Date(1700000000000)/").as_deref(), Some("2023-11-14T22:13:20Z"));
        assert_eq!(date_time("2024-01-02T03:04:05Z").as_deref(), Some("2024-01-02T03:04:05Z"));
        assert_eq!(date_time("2024-01-02T03:04:05+02:00").as_deref(), Some("2024-01-02T01:04:05Z"));
        assert_eq!(date_time("2024-01-02T03:04:05").as_deref(), Some("2024-01-02T03:04:05Z"));
        assert_eq!(date_time("2024-01-02").as_deref(), Some("2024-01-02T00:00:00Z"));
        assert_eq!(date_time("02.01.2024"), None);
    }

    #[test]
    fn flatten_reports_status_both_ways() {
        let user = json!({
            "@odata.context": "x",
            "id": "1",
            "accountEnabled": false,
            "employeeOrgData": {"costCenter": "CC1", "division": null},
            "jobTitle": null,
        });
        let flat = flatten(user.as_object().unwrap());
        assert_eq!(flat.get("accountDisabled"), Some(&json!("True")));
        assert_eq!(flat.get("accountEnabled"), Some(&json!(false)));
        assert_eq!(flat.get("employeeOrgData.costCenter"), Some(&json!("CC1")));
        assert!(!flat.contains_key("employeeOrgData.division"));
        assert!(!flat.contains_key("jobTitle"));
        assert!(!flat.contains_key("@odata.context"));
    }

    #[test]
    fn org_data_is_sent_whole() {
        let current = json!({"employeeOrgData": {"costCenter": "CC1", "division": "Sales"}});
        let body =
            patch(&[("employeeOrgData.costCenter".into(), json!("CC2"))], current.as_object())
                .unwrap();
        assert_eq!(
            Value::Object(body),
            json!({"employeeOrgData": {"costCenter": "CC2", "division": "Sales"}})
        );
    }

    proptest! {
        // What is written, read back as Graph would return it, flattens to
        // the same values: the engine sees no change after a write.
        #[test]
        fn nest_then_flatten_round_trips(
            name in "[a-z]{1,8}",
            sub in "[a-z]{1,8}",
            value in "[ -~]{1,20}",
        ) {
            prop_assume!(!BOOLEANS.contains(&name.as_str()) && !COLLECTIONS.contains(&name.as_str())
                && !DATES.contains(&name.as_str()) && !is_manager(&name) && !attr::is_secret(&name));
            let flat_name = format!("{name}.{sub}");
            let a = attrs(json!({ flat_name.clone(): value.clone() }));
            let body = nest(&a).unwrap();
            let back = flatten(&body);
            prop_assert_eq!(back.get(&flat_name), Some(&Value::String(value)));
        }
    }
}
