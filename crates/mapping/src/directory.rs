//! The source schema of a flow that reads directory records (writeback):
//! every attribute a mapping or scoping filter names is the record's own
//! key of that name, so `[mail]` reads `{"mail": ...}`.
//!
//! A directory has no catalog: [`directory_schema`] builds one from the
//! names the mapping uses, each read with the path `$['name']` as a
//! string; the mapping file's `[[source_attribute]]` entries still
//! override or add paths and types (a multi-valued `proxyAddresses`, a
//! SCIM `$.emails[?(@.type == 'work')].value`).

use std::collections::BTreeSet;

use crate::catalog::{AttrType, AttributeDef, Catalog, SchemaError, SourceSchema};
use crate::mapping::MappingConfig;

/// The path reading a record's own key `name`.
pub fn own_key_path(name: &str) -> String {
    format!("$['{}']", name.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// Every source attribute `config` references: in its expressions (an
/// expression that does not parse contributes nothing; compiling the
/// mapping reports it) and in its scoping filter.
pub fn referenced_names(config: &MappingConfig) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for m in &config.mappings {
        if let Some(src) = &m.expression
            && let Ok(expr) = hrsync_expr::parse(src)
        {
            names.extend(expr.attribute_refs().into_iter().map(str::to_owned));
        }
    }
    if let Some(scope) = &config.scope {
        names.extend(
            scope.groups.iter().flat_map(|g| g.clauses.iter().map(|c| c.attribute.clone())),
        );
    }
    names
}

/// The schema of directory records for `config` (see the module docs).
pub fn directory_schema(config: &MappingConfig) -> Result<SourceSchema, SchemaError> {
    let attribute = referenced_names(config)
        .into_iter()
        .map(|name| AttributeDef {
            jsonpath: own_key_path(&name),
            name,
            ty: AttrType::String,
            multivalued: false,
            expand: Vec::new(),
            entity: None,
        })
        .collect();
    let catalog = Catalog { always_expand: Vec::new(), navigation: Vec::new(), attribute };
    SourceSchema::new(catalog, &config.source_attributes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::MappingConfig;
    use serde_json::json;

    #[test]
    fn a_mapped_name_reads_the_records_own_key() {
        let config = MappingConfig::from_toml(
            r#"
            [[mapping]]
            target = "email"
            expression = '[mail]'
            [[mapping]]
            target = "businessPhone"
            expression = 'IIF(IsPresent([mobile]), [mobile], [telephoneNumber])'
            [[mapping]]
            target = "personIdExternal"
            expression = '[personIdExternal]'
            matching = 1
            "#,
        )
        .unwrap();
        let schema = directory_schema(&config).unwrap();
        for n in ["mail", "mobile", "telephoneNumber", "personIdExternal"] {
            assert!(schema.contains(n), "{n}");
        }
        let source = schema.compile(["mail", "mobile", "personIdExternal"]).unwrap();
        let rec = source.extract(&json!({"mail": "a@x.com", "personIdExternal": "p1"}));
        assert_eq!(rec.value("mail").and_then(|v| v.as_str_lossy()).as_deref(), Some("a@x.com"));
        assert!(matches!(rec.value("mobile"), None | Some(hrsync_expr::Value::Null)));
        assert!(source.expand().is_empty());
    }

    #[test]
    fn odd_names_are_quoted() {
        let p = own_key_path("it's\\x");
        assert_eq!(p, r"$['it\'s\\x']");
        crate::path::SourcePath::parse(&p).unwrap();
    }
}
