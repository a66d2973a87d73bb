//! Email and phone types: picklist options of `ecEmailType` and
//! `ecPhoneType`, whose ids are per tenant (8448 business email, 10605
//! business phone, 10606 cell in Microsoft's examples).
//!
//! [`SfClient::contact_types`] reads both picklists once
//! (`Picklist('ecEmailType')?$expand=picklistOptions/picklistLabels`) into a
//! [`ContactTypes`] cache; [`Picklist::resolve`] turns a name from the
//! configuration (`business`, `Business`, the external code `B`, or the id
//! itself `8448`) into the option id to send. An unknown name is a
//! [`PicklistError`] naming it and listing the known options, meant to be
//! reported when the configuration is loaded or checked.

use serde_json::Value;

use crate::client::{SfClient, SourceError, Unusable, describe_body, looks_like_json_object};
use crate::query::encode_value;

/// The email type picklist.
pub const EMAIL_TYPE_PICKLIST: &str = "ecEmailType";
/// The phone type picklist.
pub const PHONE_TYPE_PICKLIST: &str = "ecPhoneType";

/// One option of a picklist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PicklistEntry {
    /// `PicklistOption.id` (Int64, sent as a string in `emailType`/`phoneType`).
    pub id: String,
    /// `externalCode` (`B`, `P`, `C`, ...).
    pub external_code: String,
    /// The option's labels (`localeLabel`, each `picklistLabels` label).
    pub labels: Vec<String>,
}

/// A picklist's options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Picklist {
    pub picklist_id: String,
    pub options: Vec<PicklistEntry>,
}

/// A name that no option of a picklist has.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown {picklist} option `{}`; known: {}",
    hrsync_display::escape(.name),
    .known.join(", ")
)]
pub struct PicklistError {
    pub picklist: String,
    pub name: String,
    /// Each option as `label (code, id)`.
    pub known: Vec<String>,
}

fn norm(s: &str) -> String {
    s.trim().to_lowercase()
}

impl Picklist {
    /// The option id for `name`: matched case-insensitively against each
    /// option's labels, then its external code, then its id.
    pub fn resolve(&self, name: &str) -> Result<&str, PicklistError> {
        let n = norm(name);
        let by = |f: &dyn Fn(&PicklistEntry) -> bool| self.options.iter().find(|o| f(o));
        by(&|o| o.labels.iter().any(|l| norm(l) == n))
            .or_else(|| by(&|o| norm(&o.external_code) == n))
            .or_else(|| by(&|o| o.id == name.trim()))
            .map(|o| o.id.as_str())
            .ok_or_else(|| PicklistError {
                picklist: self.picklist_id.clone(),
                name: name.to_owned(),
                known: self
                    .options
                    .iter()
                    .map(|o| {
                        let label = o.labels.first().map(|l| norm(l)).unwrap_or_default();
                        format!("{label} ({}, {})", o.external_code, o.id)
                    })
                    .collect(),
            })
    }

    /// Whether `id` is one of this picklist's option ids.
    pub fn has_id(&self, id: &str) -> bool {
        self.options.iter().any(|o| o.id == id)
    }

    /// The option with this id.
    pub fn by_id(&self, id: &str) -> Option<&PicklistEntry> {
        self.options.iter().find(|o| o.id == id)
    }
}

/// The email and phone type picklists, read once at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactTypes {
    pub email: Picklist,
    pub phone: Picklist,
}

impl ContactTypes {
    /// The `emailType` option id for a name (`business`, `personal`, `B`, `8448`).
    pub fn email_type(&self, name: &str) -> Result<&str, PicklistError> {
        self.email.resolve(name)
    }

    /// The `phoneType` option id for a name (`business`, `cell`, `C`, `10606`).
    pub fn phone_type(&self, name: &str) -> Result<&str, PicklistError> {
        self.phone.resolve(name)
    }
}

fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The items of an OData v2 collection value: `{"results":[...]}` or a bare array.
pub(crate) fn results(v: Option<&Value>) -> &[Value] {
    match v {
        Some(Value::Array(items)) => items,
        Some(Value::Object(o)) => match o.get("results") {
            Some(Value::Array(items)) => items,
            _ => &[],
        },
        _ => &[],
    }
}

/// Reads `GET Picklist('<id>')?$expand=picklistOptions/picklistLabels`'s
/// answer (`{"d":{...}}`). Options without an id are left out.
pub fn parse_picklist(picklist_id: &str, body: &Value) -> Option<Picklist> {
    let d = body.get("d")?;
    let options = results(d.get("picklistOptions"))
        .iter()
        .filter_map(|o| {
            let id = text(o.get("id"))?;
            let mut labels: Vec<String> = text(o.get("localeLabel")).into_iter().collect();
            for l in results(o.get("picklistLabels")) {
                if let Some(label) = text(l.get("label"))
                    && !labels.contains(&label)
                {
                    labels.push(label);
                }
            }
            Some(PicklistEntry {
                id,
                external_code: text(o.get("externalCode")).unwrap_or_default(),
                labels,
            })
        })
        .collect();
    Some(Picklist { picklist_id: picklist_id.to_owned(), options })
}

impl SfClient {
    /// Reads one picklist with its options and their labels (one request).
    pub async fn picklist(&self, picklist_id: &str) -> Result<Picklist, SourceError> {
        let key = format!("'{}'", picklist_id.replace('\'', "''"));
        let url = self.resolve(&format!(
            "Picklist({})?$format=json&$expand={}",
            encode_value(&key),
            encode_value("picklistOptions,picklistOptions/picklistLabels")
        ))?;
        self.request_with_retries(&url, None, |body, content_type| {
            let unexpected = || {
                Unusable::Unexpected(format!(
                    "not a Picklist entity: {}",
                    describe_body(content_type, body)
                ))
            };
            if !looks_like_json_object(body) {
                return Err(unexpected());
            }
            let v: Value = serde_json::from_slice(body).map_err(|_| unexpected())?;
            parse_picklist(picklist_id, &v).ok_or_else(unexpected)
        })
        .await
    }

    /// Reads `ecEmailType` and `ecPhoneType` (two requests): the cache the
    /// writeback resolves type names with.
    pub async fn contact_types(&self) -> Result<ContactTypes, SourceError> {
        Ok(ContactTypes {
            email: self.picklist(EMAIL_TYPE_PICKLIST).await?,
            phone: self.picklist(PHONE_TYPE_PICKLIST).await?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn emails() -> Picklist {
        let body = json!({"d": {"picklistId": "ecEmailType", "picklistOptions": {"results": [
            {"id": "8448", "externalCode": "B", "localeLabel": "Business",
             "picklistLabels": {"results": [{"label": "Business", "locale": "en_US"}, {"label": "Geschäftlich", "locale": "de_DE"}]}},
            {"id": 8449, "externalCode": "P", "picklistLabels": [{"label": "Personal"}]},
            {"externalCode": "X"}
        ]}}});
        parse_picklist("ecEmailType", &body).unwrap()
    }

    #[test]
    fn names_codes_and_ids_resolve() {
        let p = emails();
        assert_eq!(p.options.len(), 2);
        assert_eq!(p.options[0].labels, vec!["Business", "Geschäftlich"]);
        for name in ["business", "Business ", "B", "b", "8448", "geschäftlich"] {
            assert_eq!(p.resolve(name), Ok("8448"), "{name}");
        }
        assert_eq!(p.resolve("personal"), Ok("8449"));
        assert!(p.has_id("8449") && !p.has_id("1"));
    }

    #[test]
    fn an_unknown_name_names_it_and_lists_the_known_ones() {
        let e = emails().resolve("work").unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown ecEmailType option `work`; known: business (B, 8448), personal (P, 8449)"
        );
    }
}
