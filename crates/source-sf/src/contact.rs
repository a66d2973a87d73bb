//! What SuccessFactors holds of a person's email addresses and phone
//! numbers (`PerEmail`, `PerPhone`), read before writing back.
//!
//! [`SfClient::contact_records`] reads them for many persons at once:
//! `PerPerson?$filter=personIdExternal in 'a','b',...&$expand=emailNav,phoneNav`
//! with a `$select` of the fields the writeback compares, up to
//! [`CONTACT_IDS_PER_REQUEST`] persons per request (every literal escaped by
//! [`crate::filter`]), following `__next` like any read.
//! [`parse_contacts`] is the pure part.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::client::{SfClient, SourceError};
use crate::filter::Filter;
use crate::picklist::results;
use crate::query::{PersonQuery, encode_value};

/// Persons per `in` filter: keeps the URL well below the lengths proxies
/// refuse (414) with long ids.
pub const CONTACT_IDS_PER_REQUEST: usize = 100;

/// One `PerEmail` record.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EmailRecord {
    /// `emailType`: a picklist option id (`8448`).
    pub email_type: String,
    /// `emailAddress`.
    pub address: String,
    pub is_primary: bool,
}

/// One `PerPhone` record.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PhoneRecord {
    /// `phoneType`: a picklist option id (`10605`).
    pub phone_type: String,
    /// `phoneNumber`.
    pub number: String,
    pub country_code: Option<String>,
    pub area_code: Option<String>,
    pub extension: Option<String>,
    pub is_primary: bool,
}

/// A person's email and phone records as SuccessFactors holds them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContactRecords {
    pub person_id_external: String,
    pub emails: Vec<EmailRecord>,
    pub phones: Vec<PhoneRecord>,
}

fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// SuccessFactors' flags: a JSON boolean, or one of the strings it accepts.
fn flag(v: Option<&Value>) -> bool {
    match v {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => {
            matches!(s.trim().to_ascii_lowercase().as_str(), "y" | "yes" | "t" | "true" | "1")
        }
        _ => false,
    }
}

/// A `PerPerson` record with `emailNav` and `phoneNav` expanded as
/// [`ContactRecords`]; `None` without a `personIdExternal`. Records
/// without a type are left out.
pub fn parse_contacts(person: &Value) -> Option<ContactRecords> {
    let person_id_external = text(person.get("personIdExternal"))?;
    let emails = results(person.get("emailNav"))
        .iter()
        .filter_map(|e| {
            Some(EmailRecord {
                email_type: text(e.get("emailType"))?,
                address: text(e.get("emailAddress")).unwrap_or_default(),
                is_primary: flag(e.get("isPrimary")),
            })
        })
        .collect();
    let phones = results(person.get("phoneNav"))
        .iter()
        .filter_map(|p| {
            Some(PhoneRecord {
                phone_type: text(p.get("phoneType"))?,
                number: text(p.get("phoneNumber")).unwrap_or_default(),
                country_code: text(p.get("countryCode")),
                area_code: text(p.get("areaCode")),
                extension: text(p.get("extension")),
                is_primary: flag(p.get("isPrimary")),
            })
        })
        .collect();
    Some(ContactRecords { person_id_external, emails, phones })
}

/// The query reading these persons' contact records.
pub fn contact_query(person_ids: &[&str]) -> PersonQuery {
    PersonQuery {
        filter: Some(Filter::is_in("personIdExternal", person_ids.iter().copied())),
        expand: vec!["emailNav".into(), "phoneNav".into()],
        select: [
            "personIdExternal",
            "emailNav/emailType",
            "emailNav/emailAddress",
            "emailNav/isPrimary",
            "phoneNav/phoneType",
            "phoneNav/phoneNumber",
            "phoneNav/countryCode",
            "phoneNav/areaCode",
            "phoneNav/extension",
            "phoneNav/isPrimary",
        ]
        .map(String::from)
        .to_vec(),
        page_size: 1000,
        ..Default::default()
    }
}

impl SfClient {
    /// Each person's `PerEmail` and `PerPhone` records, keyed by
    /// `personIdExternal`. A person SuccessFactors does not know is absent
    /// from the map. One request per [`CONTACT_IDS_PER_REQUEST`] persons.
    pub async fn contact_records(
        &self,
        person_ids: &[&str],
    ) -> Result<BTreeMap<String, ContactRecords>, SourceError> {
        let mut out = BTreeMap::new();
        let mut ids: Vec<&str> = person_ids.to_vec();
        ids.sort_unstable();
        ids.dedup();
        for chunk in ids.chunks(CONTACT_IDS_PER_REQUEST) {
            let query = contact_query(chunk);
            let mut pages = self.persons(&query)?;
            while let Some(page) = pages.next_page().await? {
                for rejected in &page.rejected {
                    tracing::warn!(message = "Unreadable contact record skipped.", record = %rejected);
                }
                for record in &page.records {
                    if let Some(c) = parse_contacts(record) {
                        out.insert(c.person_id_external.clone(), c);
                    }
                }
            }
        }
        Ok(out)
    }
}

/// The `EmpEmployment` request finding the persons of these users.
pub fn users_url(user_ids: &[&str]) -> String {
    let filter = Filter::is_in("userId", user_ids.iter().copied());
    format!(
        "EmpEmployment?$format=json&customPageSize=1000&$filter={}&$select=personIdExternal,userId",
        encode_value(&filter.to_string())
    )
}

impl SfClient {
    /// The `personIdExternal` of each user (`EmpEmployment` by `userId`), for
    /// writing `PerEmail`/`PerPhone` of a change set keyed by `userId`
    /// ([`crate::writeback::PersonKey::UserId`]). Unknown users are absent.
    pub async fn person_ids_of_users(
        &self,
        user_ids: &[&str],
    ) -> Result<BTreeMap<String, String>, SourceError> {
        let mut out = BTreeMap::new();
        let mut ids: Vec<&str> = user_ids.to_vec();
        ids.sort_unstable();
        ids.dedup();
        for chunk in ids.chunks(CONTACT_IDS_PER_REQUEST) {
            let mut pages = self.pages_of(&users_url(chunk))?;
            while let Some(page) = pages.next_page().await? {
                for r in &page.records {
                    if let (Some(u), Some(p)) =
                        (text(r.get("userId")), text(r.get("personIdExternal")))
                    {
                        out.insert(u, p);
                    }
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn contacts_are_read_from_an_expanded_person() {
        let p = json!({"personIdExternal": "103208",
            "emailNav": {"results": [
                {"emailType": "8448", "emailAddress": "a@x.com", "isPrimary": true},
                {"emailType": 8449, "emailAddress": "a@home", "isPrimary": "false"},
                {"emailAddress": "typeless@x"}
            ]},
            "phoneNav": {"results": [{"phoneType": "10605", "phoneNumber": "555", "countryCode": "1", "isPrimary": "Y"}]}});
        let c = parse_contacts(&p).unwrap();
        assert_eq!(c.emails.len(), 2);
        assert!(c.emails[0].is_primary && !c.emails[1].is_primary);
        assert_eq!(c.emails[1].email_type, "8449");
        assert_eq!(c.phones[0].country_code.as_deref(), Some("1"));
        assert!(c.phones[0].is_primary);
        assert_eq!(parse_contacts(&json!({"emailNav": []})), None);
    }

    #[test]
    fn the_query_escapes_ids() {
        let url = contact_query(&["O'Neil", "b"]).relative_url();
        assert!(url.contains("$filter=personIdExternal%20in%20'O''Neil','b'"), "{url}");
        assert!(url.contains("$expand=emailNav,phoneNav"), "{url}");
    }
}
