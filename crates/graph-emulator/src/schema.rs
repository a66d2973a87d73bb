//! Property names and types of the Graph v1.0 `user` type and the complex
//! types a provisioning client sends, read from `schema/graph-user-schema.xml`
//! (an excerpt of Microsoft's published CSDL, msgraph-metadata
//! `clean_v10_metadata/cleanMetadata.xml`). Parsed from the file instead of
//! typed in by hand so the double checks names and types against Microsoft's
//! metadata, not against our memory of it.

use std::collections::BTreeMap;

use quick_xml::Reader;
use quick_xml::events::Event;

/// The embedded metadata excerpt.
pub const USER_SCHEMA_XML: &str = include_str!("../schema/graph-user-schema.xml");

/// One structural property: its EDM type as written (`Edm.String`,
/// `Collection(Edm.String)`, `graph.employeeOrgData`) and nullability.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PropertyDef {
    pub edm_type: String,
    pub nullable: bool,
}

/// Properties per type name (`user`, `passwordProfile`, ...). A type's
/// inherited properties (`BaseType`) are merged into it.
#[derive(Debug, Clone, Default)]
pub struct Schema {
    pub types: BTreeMap<String, BTreeMap<String, PropertyDef>>,
}

#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error("metadata XML: {0}")]
    Xml(String),
}

impl Schema {
    /// Parses the embedded excerpt.
    pub fn embedded() -> Result<Schema, SchemaError> {
        Schema::parse(USER_SCHEMA_XML)
    }

    /// Parses `EntityType`/`ComplexType` elements and their `Property`
    /// children (navigation properties are not writable by POST/PATCH on a
    /// user and are left out).
    pub fn parse(xml: &str) -> Result<Schema, SchemaError> {
        let mut reader = Reader::from_str(xml);
        let mut types: BTreeMap<String, BTreeMap<String, PropertyDef>> = BTreeMap::new();
        let mut bases: BTreeMap<String, String> = BTreeMap::new();
        let mut current: Option<String> = None;
        loop {
            match reader.read_event().map_err(|e| SchemaError::Xml(e.to_string()))? {
                Event::Eof => break,
                Event::Start(e) | Event::Empty(e) => {
                    let attrs = attributes(&e);
                    match e.name().as_ref() {
                        "EntityType" | "ComplexType" => {
                            if let Some(name) = attrs.get("Name") {
                                types.entry(name.clone()).or_default();
                                if let Some(base) = attrs.get("BaseType") {
                                    let base = base.trim_start_matches("graph.").to_owned();
                                    bases.insert(name.clone(), base);
                                }
                                current = Some(name.clone());
                            }
                        }
                        "Property" => {
                            if let (Some(ty), Some(name), Some(edm)) =
                                (&current, attrs.get("Name"), attrs.get("Type"))
                            {
                                let nullable = attrs.get("Nullable").is_none_or(|v| v != "false");
                                types.entry(ty.clone()).or_default().insert(
                                    name.clone(),
                                    PropertyDef { edm_type: edm.clone(), nullable },
                                );
                            }
                        }
                        _ => {}
                    }
                }
                Event::End(e) => {
                    if matches!(e.name().as_ref(), "EntityType" | "ComplexType") {
                        current = None;
                    }
                }
                _ => {}
            }
        }
        // Merge inherited properties (user <- directoryObject <- entity).
        let names: Vec<String> = types.keys().cloned().collect();
        for name in names {
            let mut chain = Vec::new();
            let mut at = bases.get(&name);
            while let Some(base) = at {
                if chain.contains(base) || chain.len() > 8 {
                    break;
                }
                chain.push(base.clone());
                at = bases.get(base);
            }
            for base in chain {
                let inherited = types.get(&base).cloned().unwrap_or_default();
                if let Some(props) = types.get_mut(&name) {
                    for (k, v) in inherited {
                        props.entry(k).or_insert(v);
                    }
                }
            }
        }
        Ok(Schema { types })
    }

    /// A property of a type, if the metadata has it.
    pub fn property(&self, type_name: &str, property: &str) -> Option<&PropertyDef> {
        self.types.get(type_name)?.get(property)
    }
}

fn attributes(e: &quick_xml::events::BytesStart<'_>) -> BTreeMap<String, String> {
    e.attributes().flatten().map(|a| (a.key.as_ref().to_string(), a.value.to_string())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_type_has_the_provisioning_properties_with_their_types() {
        let s = Schema::embedded().expect("embedded schema parses");
        let p = |n| s.property("user", n).map(|d| d.edm_type.as_str());
        assert_eq!(p("accountEnabled"), Some("Edm.Boolean"));
        assert_eq!(p("employeeId"), Some("Edm.String"));
        assert_eq!(p("employeeHireDate"), Some("Edm.DateTimeOffset"));
        assert_eq!(p("businessPhones"), Some("Collection(Edm.String)"));
        assert_eq!(p("employeeOrgData"), Some("graph.employeeOrgData"));
        // Inherited from entity and directoryObject.
        assert_eq!(p("id"), Some("Edm.String"));
        assert_eq!(p("deletedDateTime"), Some("Edm.DateTimeOffset"));
        // Navigation properties and names Graph does not have are absent.
        assert_eq!(p("manager"), None);
        assert_eq!(p("employeeNumber"), None);
        assert_eq!(
            s.property("passwordProfile", "password").map(|d| d.edm_type.as_str()),
            Some("Edm.String")
        );
        assert_eq!(s.types.get("onPremisesExtensionAttributes").map(|t| t.len()), Some(15));
        assert!(!s.property("user", "businessPhones").is_some_and(|d| d.nullable));
    }
}
