//! The SuccessFactors source attribute catalog (data, not code) and the
//! schema an admin builds on it: catalog attributes plus config additions and
//! path overrides. Also the `$expand` derivation.

use std::collections::{BTreeSet, HashMap};
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::path::{PathError, SourcePath};

/// The built-in catalog file, embedded at compile time.
pub const BUILTIN_CATALOG_TOML: &str = include_str!("../catalog/successfactors.toml");

/// Type of a source attribute: decides how a JSON node becomes an expression
/// [`hrsync_expr::Value`] (see [`crate::source`]). Names as in Entra's schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AttrType {
    /// Text. JSON numbers and booleans become their JSON text.
    String,
    /// Whole number. SuccessFactors sends Int32 as numbers and Int64 as strings;
    /// both become numbers.
    Integer,
    /// `true`/`false` (also the strings `"true"`/`"false"`, any case).
    Boolean,
    /// `/Date(ms)/` or `/Date(ms±hhmm)/` (or ISO 8601) ⇒ a UTC instant.
    DateTime,
    /// Identifier of another worker (manager); text, resolved by the engine.
    Reference,
}

/// One source attribute: a name, the JSONPath that reads it and its type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttributeDef {
    /// Name used in expressions as `[name]` (case-sensitive).
    pub name: String,
    /// JSONPath over the expanded PerPerson record, in Entra's dialect.
    pub jsonpath: String,
    /// Value type.
    #[serde(rename = "type")]
    pub ty: AttrType,
    /// Keep every match (in document order) instead of the first.
    #[serde(default, skip_serializing_if = "is_false")]
    pub multivalued: bool,
    /// `$expand` entries the attribute needs beyond the always-expanded ones.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expand: Vec<String>,
    /// SuccessFactors entity the value comes from (documentation only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity: Option<String>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// A navigation segment whose presence in a path requires `$expand` entries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Navigation {
    /// Navigation property name as it appears in paths (`departmentNav`).
    pub segment: String,
    /// Entries to add to `$expand` (`employmentNav/jobInfoNav/departmentNav`).
    pub expand: Vec<String>,
}

/// The attribute catalog: attributes, always-expanded navigations, and the
/// navigation table used to infer the expand entries of a path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalog {
    /// `$expand` entries requested whatever is mapped (retrieval rules 1-9).
    pub always_expand: Vec<String>,
    /// Conditionally expanded navigations, in the order `$expand` lists them.
    #[serde(default)]
    pub navigation: Vec<Navigation>,
    /// Predefined attributes.
    #[serde(default)]
    pub attribute: Vec<AttributeDef>,
}

/// Errors building a source schema or compiling its attributes. Each names
/// the attribute.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemaError {
    /// The catalog file is not valid TOML of the catalog shape.
    #[error("attribute catalog: {0}")]
    Catalog(String),
    /// An attribute's JSONPath does not parse.
    #[error("source attribute `{attribute}`: {error}")]
    Path {
        /// Attribute name.
        attribute: String,
        /// Parse error.
        error: PathError,
    },
    /// A config attribute that is neither in the catalog nor gives a path.
    #[error("source attribute `{0}` is not in the catalog and has no jsonpath")]
    MissingPath(String),
    /// An attribute is defined twice in the catalog or twice in config.
    #[error("source attribute `{0}` is defined twice")]
    Duplicate(String),
    /// A mapping or scoping filter needs an attribute the schema lacks.
    #[error("unknown source attribute `{0}`")]
    Unknown(String),
}

impl Catalog {
    /// Parse a catalog from TOML text.
    pub fn from_toml(text: &str) -> Result<Self, SchemaError> {
        let catalog: Catalog =
            toml::from_str(text).map_err(|e| SchemaError::Catalog(e.to_string()))?;
        let mut seen = BTreeSet::new();
        for a in &catalog.attribute {
            if !seen.insert(a.name.as_str()) {
                return Err(SchemaError::Duplicate(a.name.clone()));
            }
        }
        Ok(catalog)
    }

    /// The built-in SuccessFactors catalog (parsed once per process).
    pub fn builtin() -> &'static Catalog {
        static CATALOG: OnceLock<Catalog> = OnceLock::new();
        CATALOG.get_or_init(|| match Catalog::from_toml(BUILTIN_CATALOG_TOML) {
            Ok(c) => c,
            // The file is part of the crate and tested; failing here is a build defect.
            Err(e) => panic!("built-in catalog is invalid: {e}"),
        })
    }

    /// Look up an attribute by exact name.
    pub fn get(&self, name: &str) -> Option<&AttributeDef> {
        self.attribute.iter().find(|a| a.name == name)
    }

    /// The expand entries a path needs according to the navigation table:
    /// every navigation segment named in the path (as a whole identifier,
    /// inside filters too) contributes its entries.
    pub fn infer_expand(&self, jsonpath: &str) -> Vec<String> {
        let idents: BTreeSet<&str> = jsonpath
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .filter(|s| !s.is_empty())
            .collect();
        let mut out = Vec::new();
        for nav in &self.navigation {
            if idents.contains(nav.segment.as_str()) {
                for e in &nav.expand {
                    if !out.contains(e) {
                        out.push(e.clone());
                    }
                }
            }
        }
        out
    }

    fn expand_for_defs<'a>(&self, defs: impl Iterator<Item = &'a AttributeDef>) -> Vec<String> {
        let mut wanted: BTreeSet<String> = self.always_expand.iter().cloned().collect();
        for def in defs {
            wanted.extend(def.expand.iter().cloned());
            wanted.extend(self.infer_expand(&def.jsonpath));
        }
        self.order_expand(wanted)
    }

    /// Order expand entries canonically: always-expanded first, then the
    /// navigation table's order, then anything else alphabetically.
    fn order_expand(&self, wanted: BTreeSet<String>) -> Vec<String> {
        let mut out: Vec<String> = Vec::with_capacity(wanted.len());
        let canonical =
            self.always_expand.iter().chain(self.navigation.iter().flat_map(|n| n.expand.iter()));
        for e in canonical {
            if wanted.contains(e) && !out.contains(e) {
                out.push(e.clone());
            }
        }
        for e in wanted {
            if !out.contains(&e) {
                out.push(e);
            }
        }
        out
    }
}

/// A source attribute as config writes it: a new attribute (jsonpath
/// required) or an override of a catalog attribute (any field may be given;
/// the others keep the catalog's value).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceAttributeConfig {
    /// Attribute name.
    pub name: String,
    /// JSONPath (required for attributes not in the catalog).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jsonpath: Option<String>,
    /// Type; default String for new attributes.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub ty: Option<AttrType>,
    /// Multi-valued; default false for new attributes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multivalued: Option<bool>,
    /// Explicit `$expand` entries; when absent they are inferred from the path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expand: Option<Vec<String>>,
}

/// Catalog plus config additions and overrides: every attribute a flow may
/// reference, by name. Paths are checked when the schema is built.
#[derive(Debug, Clone)]
pub struct SourceSchema {
    catalog: Catalog,
    attributes: Vec<AttributeDef>,
    paths: Vec<SourcePath>,
    by_name: HashMap<String, usize>,
}

impl SourceSchema {
    /// The built-in catalog with no config changes.
    pub fn builtin() -> Result<Self, SchemaError> {
        Self::new(Catalog::builtin().clone(), &[])
    }

    /// Build a schema from a catalog and config attributes (added or
    /// overriding). Every path is compiled here, so a bad path is a config
    /// error naming its attribute.
    pub fn new(catalog: Catalog, config: &[SourceAttributeConfig]) -> Result<Self, SchemaError> {
        let mut attributes = catalog.attribute.clone();
        let mut by_name: HashMap<String, usize> =
            attributes.iter().enumerate().map(|(i, a)| (a.name.clone(), i)).collect();
        let mut configured = BTreeSet::new();
        for c in config {
            if !configured.insert(c.name.as_str()) {
                return Err(SchemaError::Duplicate(c.name.clone()));
            }
            match by_name.get(&c.name) {
                Some(&i) => {
                    let def = &mut attributes[i];
                    if let Some(p) = &c.jsonpath {
                        def.jsonpath = p.clone();
                    }
                    if let Some(t) = c.ty {
                        def.ty = t;
                    }
                    if let Some(m) = c.multivalued {
                        def.multivalued = m;
                    }
                    if let Some(e) = &c.expand {
                        def.expand = e.clone();
                    }
                }
                None => {
                    let jsonpath = c
                        .jsonpath
                        .clone()
                        .ok_or_else(|| SchemaError::MissingPath(c.name.clone()))?;
                    by_name.insert(c.name.clone(), attributes.len());
                    attributes.push(AttributeDef {
                        name: c.name.clone(),
                        jsonpath,
                        ty: c.ty.unwrap_or(AttrType::String),
                        multivalued: c.multivalued.unwrap_or(false),
                        expand: c.expand.clone().unwrap_or_default(),
                        entity: None,
                    });
                }
            }
        }
        let paths = attributes
            .iter()
            .map(|a| {
                SourcePath::parse(&a.jsonpath)
                    .map_err(|error| SchemaError::Path { attribute: a.name.clone(), error })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { catalog, attributes, paths, by_name })
    }

    /// A copy of the schema with `find` replaced by `replace` in every
    /// attribute path: Entra's "replace all" in the schema editor, which its
    /// integration reference uses for rehire (`results[0]` ⇒ `results[-1:]`),
    /// active-employment and global-assignment setups. Changed paths are
    /// recompiled; a path that no longer parses is an error naming it.
    pub fn with_replaced_paths(&self, find: &str, replace: &str) -> Result<Self, SchemaError> {
        let mut next = self.clone();
        for (def, path) in next.attributes.iter_mut().zip(next.paths.iter_mut()) {
            if find.is_empty() || !def.jsonpath.contains(find) {
                continue;
            }
            def.jsonpath = def.jsonpath.replace(find, replace);
            *path = SourcePath::parse(&def.jsonpath)
                .map_err(|error| SchemaError::Path { attribute: def.name.clone(), error })?;
        }
        Ok(next)
    }

    /// Whether `name` is a known attribute (exact, case-sensitive match).
    pub fn contains(&self, name: &str) -> bool {
        self.by_name.contains_key(name)
    }

    /// Attribute definition by name.
    pub fn get(&self, name: &str) -> Option<&AttributeDef> {
        self.by_name.get(name).map(|&i| &self.attributes[i])
    }

    /// Every attribute, catalog order then config additions.
    pub fn attributes(&self) -> &[AttributeDef] {
        &self.attributes
    }

    /// The underlying catalog.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    pub(crate) fn compiled_path(&self, name: &str) -> Option<(&AttributeDef, &SourcePath)> {
        self.by_name.get(name).map(|&i| (&self.attributes[i], &self.paths[i]))
    }

    /// The `$expand` list for a set of mapped attributes, following the
    /// integration reference's retrieval rules: the always-expanded
    /// navigations, plus for each attribute its declared `expand` entries and
    /// whatever its (possibly overridden) path needs according to the
    /// navigation table. Unknown names are ignored (they fail elsewhere).
    /// The order is canonical and does not depend on the input order.
    pub fn expand_for<'a>(&self, attributes: impl IntoIterator<Item = &'a str>) -> Vec<String> {
        self.catalog.expand_for_defs(attributes.into_iter().filter_map(|n| self.get(n)))
    }
}

/// `$expand` list for attributes of the built-in catalog (no config
/// overrides). See [`SourceSchema::expand_for`].
pub fn expand_for<'a>(attributes: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let catalog = Catalog::builtin();
    catalog.expand_for_defs(attributes.into_iter().filter_map(|n| catalog.get(n)))
}
