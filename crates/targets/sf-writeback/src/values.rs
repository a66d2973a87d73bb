//! A person's records as target attributes, and an update's changes merged
//! over them (no I/O).

use std::collections::BTreeMap;

use hrsync_source_sf::writeback::WRITEBACK_ALIASES;
use hrsync_source_sf::{ContactRecords, ContactTypes, Picklist, PicklistError};
use hrsync_target::{AttributeUpdate, Attributes};
use serde_json::Value;

use crate::SfWritebackConfig;

/// The option ids of the types the attributes report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportedTypes {
    pub email: String,
    pub business_phone: String,
    pub cell_phone: String,
}

impl ReportedTypes {
    /// The configured type names resolved (an unknown name is an error that
    /// lists the tenant's options).
    pub fn resolve(
        config: &SfWritebackConfig,
        types: &ContactTypes,
    ) -> Result<ReportedTypes, PicklistError> {
        Ok(ReportedTypes {
            email: types.email_type(&config.email_type)?.to_owned(),
            business_phone: types.phone_type(&config.business_phone_type)?.to_owned(),
            cell_phone: types.phone_type(&config.cell_phone_type)?.to_owned(),
        })
    }
}

/// An option's name as a mapping writes it: its first label, else its
/// external code, else the id itself.
pub fn type_name(picklist: &Picklist, id: &str) -> String {
    match picklist.by_id(id) {
        Some(o) => o
            .labels
            .first()
            .cloned()
            .or_else(|| (!o.external_code.is_empty()).then(|| o.external_code.clone()))
            .unwrap_or_else(|| id.to_owned()),
        None => id.to_owned(),
    }
}

fn flag(b: bool) -> Value {
    Value::String(if b { "true" } else { "false" }.into())
}

/// A person's current records under the Writeback app's names: the email
/// of the reported email type, the phones of the reported phone types.
pub fn attributes(
    current: &ContactRecords,
    types: &ContactTypes,
    reported: &ReportedTypes,
) -> Attributes {
    let mut a = Attributes::new();
    a.insert("personIdExternal".into(), Value::String(current.person_id_external.clone()));
    if let Some(e) = current.emails.iter().find(|e| e.email_type == reported.email) {
        a.insert("email".into(), Value::String(e.address.clone()));
        a.insert("emailType".into(), Value::String(type_name(&types.email, &e.email_type)));
        a.insert("isPrimaryEmail".into(), flag(e.is_primary));
    }
    for (id, value, ty, primary) in [
        (&reported.business_phone, "businessPhone", "businessPhoneType", "isBusinessPhonePrimary"),
        (&reported.cell_phone, "cellPhone", "cellPhoneType", "isCellPhonePrimary"),
    ] {
        if let Some(p) = current.phones.iter().find(|p| &p.phone_type == id) {
            a.insert(value.into(), Value::String(p.number.clone()));
            a.insert(ty.into(), Value::String(type_name(&types.phone, &p.phone_type)));
            a.insert(primary.into(), flag(p.is_primary));
        }
    }
    a
}

/// A value as the planner reads it: text, `None` for null.
fn text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Array(items) => items.iter().find_map(text),
        Value::Object(_) => None,
    }
}

/// The documented name of an attribute (aliases of Microsoft's attribute
/// reference mapped to the Writeback app's names).
pub fn canonical(name: &str) -> &str {
    WRITEBACK_ALIASES.iter().find(|(alias, _)| *alias == name).map_or(name, |(_, n)| n)
}

/// `changes` over `current` (attribute names made canonical; `null`
/// removes), as the text values `Desired::from_writeback` reads.
pub fn merge(current: &Attributes, changes: &[AttributeUpdate]) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> =
        current.iter().filter_map(|(k, v)| text(v).map(|t| (canonical(k).to_owned(), t))).collect();
    for c in changes {
        let name = canonical(&c.name).to_owned();
        match text(&c.value) {
            Some(t) => {
                out.insert(name, t);
            }
            None => {
                out.remove(&name);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use hrsync_source_sf::{EmailRecord, PhoneRecord, PicklistEntry};
    use serde_json::json;

    fn types() -> ContactTypes {
        let entry = |id: &str, code: &str, label: &str| PicklistEntry {
            id: id.into(),
            external_code: code.into(),
            labels: vec![label.into()],
        };
        ContactTypes {
            email: Picklist {
                picklist_id: "ecEmailType".into(),
                options: vec![entry("8448", "B", "Business"), entry("8449", "P", "Personal")],
            },
            phone: Picklist {
                picklist_id: "ecPhoneType".into(),
                options: vec![entry("10605", "B", "Business"), entry("10606", "C", "Cell")],
            },
        }
    }

    fn current() -> ContactRecords {
        ContactRecords {
            person_id_external: "p1".into(),
            emails: vec![
                EmailRecord {
                    email_type: "8449".into(),
                    address: "me@home".into(),
                    is_primary: false,
                },
                EmailRecord {
                    email_type: "8448".into(),
                    address: "a@x.com".into(),
                    is_primary: true,
                },
            ],
            phones: vec![PhoneRecord {
                phone_type: "10606".into(),
                number: "555".into(),
                country_code: None,
                area_code: None,
                extension: None,
                is_primary: false,
            }],
        }
    }

    #[test]
    fn the_reported_records_become_writeback_attributes() {
        let t = types();
        let reported = ReportedTypes::resolve(&SfWritebackConfig::default(), &t).unwrap();
        let a = attributes(&current(), &t, &reported);
        assert_eq!(a["email"], json!("a@x.com"));
        assert_eq!(a["emailType"], json!("Business"));
        assert_eq!(a["isPrimaryEmail"], json!("true"));
        assert_eq!(a["cellPhone"], json!("555"));
        assert_eq!(a["cellPhoneType"], json!("Cell"));
        assert_eq!(a["isCellPhonePrimary"], json!("false"));
        assert!(!a.contains_key("businessPhone"));
        assert_eq!(a["personIdExternal"], json!("p1"));
    }

    #[test]
    fn changes_win_aliases_are_canonical_and_null_removes() {
        let t = types();
        let reported = ReportedTypes::resolve(&SfWritebackConfig::default(), &t).unwrap();
        let a = attributes(&current(), &t, &reported);
        let changes = [
            AttributeUpdate { name: "email".into(), value: json!("new@x.com") },
            AttributeUpdate { name: "businessPhoneNumber".into(), value: json!("123") },
            AttributeUpdate { name: "cellPhone".into(), value: Value::Null },
        ];
        let m = merge(&a, &changes);
        assert_eq!(m["email"], "new@x.com");
        assert_eq!(m["emailType"], "Business");
        assert_eq!(m["businessPhone"], "123");
        assert!(!m.contains_key("businessPhoneNumber"));
        assert!(!m.contains_key("cellPhone"));
    }

    #[test]
    fn an_unknown_configured_type_lists_the_options() {
        let config = SfWritebackConfig { email_type: "fax".into(), ..Default::default() };
        let e = ReportedTypes::resolve(&config, &types()).unwrap_err().to_string();
        assert!(e.contains("fax") && e.contains("business"), "{e}");
    }
}
