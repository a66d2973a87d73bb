//! The reverse of the import: an hrsync mapping (and the config's target
//! kind and actions) as an Entra `synchronizationSchema`, in the shape the
//! import reads (shared notes `entra-mapping.md` §2.2,
//! `events-graph-postgres-import.md` §4.1). Pure: the caller loads the
//! config and writes the JSON.
//!
//! Written: a source directory "SuccessFactors" whose `User` object lists
//! every source attribute the mapping reads (expressions and scoping
//! filter) and every `[[source_attribute]]`, each with its type and its
//! JSONPath as the `Get` API expression; a target directory named after the
//! target kind listing every mapped target attribute (`required` as the
//! mapping says); one synchronization rule with one object mapping: its
//! `flowTypes` from the actions, its scoping filter groups, and one
//! attribute mapping per `[[mapping]]` with both the `expression` text and
//! the `source` tree (Attribute / Constant / Function, parameters keyed by
//! parameter name), `defaultValue`, `matchingPriority`, `flowType` and
//! `flowBehavior`.
//!
//! What Entra cannot express is reported in [`Exported::warnings`], each
//! starting with the hrsync config path of the construct: a `secret`
//! mapping, a source attribute's `expand`, the `delete` action (Entra's
//! Delete disables HR-driven accounts), and the flow settings the caller
//! passes in [`ExportInput::not_expressible`].

use hrsync_expr::SourceNode;
use hrsync_mapping::{Apply, Catalog, FlowBehavior, MappingConfig, SourceSchema};
use serde_json::{Value, json};

use crate::config::TargetKind;

/// A mapping that cannot be exported at all.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The mapping does not load (an expression that does not parse, an
    /// unknown source attribute): `path` is its hrsync config path.
    #[error("{path}: {why}")]
    At { path: String, why: String },
}

/// The target an exported schema is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportTarget {
    /// Active Directory (hrsync's ldap target with the AD profile).
    ActiveDirectory,
    /// An LDAP directory other than AD (Entra reaches one only through the
    /// ECMA host's generic LDAP connector).
    Ldap,
    /// Microsoft Entra ID (hrsync's graph target).
    EntraId,
    /// A SCIM 2.0 app (non-gallery: Entra's `customappsso` directory).
    Scim,
    /// Salesforce over SCIM (gallery app, directory `salesforce.com`).
    Salesforce,
}

impl ExportTarget {
    /// Entra's target directory name and object name.
    pub fn directory(self) -> (&'static str, &'static str) {
        match self {
            ExportTarget::ActiveDirectory => ("Active Directory", "user"),
            ExportTarget::Ldap => ("Generic LDAP", "inetOrgPerson"),
            ExportTarget::EntraId => ("Azure Active Directory", "User"),
            ExportTarget::Scim => ("customappsso", "User"),
            ExportTarget::Salesforce => ("salesforce.com", "User"),
        }
    }

    /// The kind the import gives this directory back.
    pub fn imported_kind(self) -> TargetKind {
        crate::config::target_kind(self.directory().0)
    }

    fn rule_id(self) -> &'static str {
        match self {
            ExportTarget::ActiveDirectory => "SuccessFactors2AD",
            ExportTarget::Ldap => "SuccessFactors2GenericLdap",
            ExportTarget::EntraId => "SuccessFactors2AAD",
            ExportTarget::Scim => "SuccessFactors2CustomAppSso",
            ExportTarget::Salesforce => "SuccessFactors2Salesforce",
        }
    }
}

/// hrsync's target object actions (`flow.actions`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExportActions {
    pub create: bool,
    pub update: bool,
    pub disable: bool,
    pub delete: bool,
}

impl Default for ExportActions {
    /// hrsync's default: create, update, disable.
    fn default() -> Self {
        ExportActions { create: true, update: true, disable: true, delete: false }
    }
}

/// What is exported.
#[derive(Debug, Clone)]
pub struct ExportInput<'a> {
    /// The mapping (as the config resolved it).
    pub mapping: &'a MappingConfig,
    /// Where it came from, for warnings (`mapping.toml`, `builtin:sf-to-ad`,
    /// `hrsync.toml [flow.mapping]`).
    pub origin: &'a str,
    pub target: ExportTarget,
    pub actions: ExportActions,
    /// Settings of the config Entra has no place for, each as
    /// (hrsync config path, why), reported as warnings.
    pub not_expressible: Vec<(String, String)>,
}

/// The schema JSON (pretty-printed) and what Entra cannot express.
#[derive(Debug, Default)]
pub struct Exported {
    pub json: String,
    /// Each starts with the hrsync config path of the construct.
    pub warnings: Vec<String>,
}

/// Builtin mappings by name: (`builtin:NAME`, TOML text, target).
pub const BUILTINS: [(&str, &str, ExportTarget); 5] = [
    ("builtin:sf-to-ad", hrsync_mapping::mapping::SF_TO_AD_TOML, ExportTarget::ActiveDirectory),
    ("builtin:sf-to-openldap", hrsync_mapping::mapping::SF_TO_OPENLDAP_TOML, ExportTarget::Ldap),
    ("builtin:sf-to-scim", hrsync_mapping::mapping::SF_TO_SCIM_TOML, ExportTarget::Scim),
    (
        "builtin:sf-to-salesforce",
        hrsync_mapping::mapping::SF_TO_SALESFORCE_TOML,
        ExportTarget::Salesforce,
    ),
    ("builtin:sf-to-entra", hrsync_mapping::mapping::SF_TO_ENTRA_TOML, ExportTarget::EntraId),
];

/// The built-in mapping `name` (`builtin:sf-to-ad`, ...) and its target.
pub fn builtin(name: &str) -> Option<(MappingConfig, ExportTarget)> {
    let (_, text, target) = BUILTINS.iter().find(|(n, _, _)| *n == name)?;
    MappingConfig::from_toml(text).ok().map(|m| (m, *target))
}

fn err(path: String, why: impl Into<String>) -> ExportError {
    ExportError::At { path, why: why.into() }
}

/// A source tree node as Entra's `attributeMappingSource`.
fn source_json(node: &SourceNode, at: &str, warnings: &mut Vec<String>) -> Value {
    match node {
        SourceNode::Attribute { name, text } => {
            json!({"expression": text, "name": name, "type": "Attribute", "parameters": []})
        }
        SourceNode::Constant { value, text } => {
            json!({"expression": text, "name": value, "type": "Constant"})
        }
        SourceNode::Identifier { name, text } => {
            json!({"expression": text, "name": name, "type": "Constant"})
        }
        SourceNode::Function { name, text, parameters } => {
            let params: Vec<Value> = parameters
                .iter()
                .map(|(k, v)| json!({"key": k, "value": source_json(v, at, warnings)}))
                .collect();
            json!({"expression": text, "name": name, "type": "Function", "parameters": params})
        }
        SourceNode::Comparison { op, text, left, right } => {
            // Graph documents no tree node for a comparison: the text is
            // what Entra evaluates; the node is written as a Function named
            // after the operator so the tree stays complete.
            warnings.push(format!(
                "{at}: the comparison {text:?} has no documented source-tree node; written as a Function {op:?} (its expression text is exact)"
            ));
            json!({"expression": text, "name": op, "type": "Function", "parameters": [
                {"key": "left", "value": source_json(left, at, warnings)},
                {"key": "right", "value": source_json(right, at, warnings)},
            ]})
        }
    }
}

fn type_name(t: hrsync_mapping::AttrType) -> &'static str {
    use hrsync_mapping::AttrType;
    match t {
        AttrType::String => "String",
        AttrType::Integer => "Integer",
        AttrType::Boolean => "Boolean",
        AttrType::DateTime => "DateTime",
        AttrType::Reference => "Reference",
    }
}

fn attribute_definition(name: &str, ty: &str, multivalued: bool, required: bool) -> Value {
    json!({
        "anchor": false, "caseExact": false, "defaultValue": null, "flowNullValues": false,
        "multivalued": multivalued, "mutability": "ReadWrite", "name": name,
        "required": required, "type": ty, "apiExpressions": [], "metadata": [],
        "referencedObjects": [],
    })
}

/// Converts the mapping to a `synchronizationSchema`.
pub fn export_schema(input: &ExportInput<'_>) -> Result<Exported, ExportError> {
    let m = input.mapping;
    let origin = input.origin;
    let mut warnings = Vec::new();
    for (path, why) in &input.not_expressible {
        warnings.push(format!("{path}: {why}; not expressible in Entra, not exported"));
    }
    let catalog = Catalog::builtin();
    let schema = SourceSchema::new(catalog.clone(), &m.source_attributes)
        .map_err(|e| err(format!("{origin}: source_attribute"), e.to_string()))?;

    // Source attributes the mapping reads, in first-use order.
    let mut used: Vec<String> = Vec::new();
    let add = |n: &str, used: &mut Vec<String>| {
        if !used.iter().any(|u| u == n) {
            used.push(n.to_string());
        }
    };
    for a in &m.source_attributes {
        add(&a.name, &mut used);
    }
    let mut mappings = Vec::new();
    for (i, am) in m.mappings.iter().enumerate() {
        let at = format!("{origin}: mapping[{i}] (target {:?})", am.target);
        let source = match &am.expression {
            None => Value::Null,
            Some(text) => {
                let e = hrsync_expr::parse(text)
                    .map_err(|e| err(format!("{at}.expression"), e.to_string()))?;
                for r in e.attribute_refs() {
                    add(r, &mut used);
                }
                source_json(&e.tree(), &format!("{at}.expression"), &mut warnings)
            }
        };
        if am.secret {
            warnings.push(format!(
                "{at}.secret: Entra has no secret flag (values are not redacted in its logs); exported as a plain mapping"
            ));
        }
        mappings.push(json!({
            "defaultValue": am.default.clone().unwrap_or_default(),
            "exportMissingReferences": false,
            "flowBehavior": match am.flow {
                FlowBehavior::WhenChanged => "FlowWhenChanged",
                FlowBehavior::Always => "FlowAlways",
            },
            "flowType": match am.apply {
                Apply::Always => "Always",
                Apply::OnCreate => "ObjectAddOnly",
            },
            "matchingPriority": am.matching.unwrap_or(0),
            "targetAttributeName": am.target,
            "source": source,
        }));
    }
    let scope = match &m.scope {
        None => Value::Null,
        Some(f) if f.groups.is_empty() => Value::Null,
        Some(f) => {
            let groups: Vec<Value> = f
                .groups
                .iter()
                .map(|g| {
                    let clauses: Vec<Value> = g
                        .clauses
                        .iter()
                        .map(|c| {
                            add(&c.attribute, &mut used);
                            json!({
                                "sourceOperandName": c.attribute,
                                "operatorName": c.operator.entra_name(),
                                "targetOperand": {"values": c.values},
                            })
                        })
                        .collect();
                    let mut group = json!({"clauses": clauses});
                    if let (Some(n), Some(obj)) = (&g.name, group.as_object_mut()) {
                        obj.insert("name".into(), json!(n));
                    }
                    group
                })
                .collect();
            json!({"groups": groups})
        }
    };

    let mut source_attrs = Vec::new();
    for name in &used {
        let def = schema
            .get(name)
            .ok_or_else(|| err(format!("{origin}: {name}"), "unknown source attribute"))?;
        let mut a = attribute_definition(name, type_name(def.ty), def.multivalued, false);
        if let Some(obj) = a.as_object_mut() {
            obj.insert("apiExpressions".into(), json!([{"key": "Get", "value": def.jsonpath}]));
            if name == "personIdExternal" {
                obj.insert("anchor".into(), json!(true));
            }
        }
        source_attrs.push(a);
    }
    for (i, a) in m.source_attributes.iter().enumerate() {
        if catalog.get(&a.name).is_some() && (a.ty.is_some() || a.multivalued.is_some()) {
            warnings.push(format!(
                "{origin}: source_attribute[{i}] ({:?}): a type or multivalued override of a catalog attribute is exported, but hrsync's import keeps the catalog's",
                a.name
            ));
        }
        if a.expand.as_ref().is_some_and(|e| !e.is_empty()) {
            warnings.push(format!(
                "{origin}: source_attribute[{i}] ({:?}).expand: Entra's attribute definitions have no $expand list (it expands what the API expressions navigate); not exported",
                a.name
            ));
        }
    }

    let target_attrs: Vec<Value> = m
        .mappings
        .iter()
        .map(|am| attribute_definition(&am.target, "String", false, am.required))
        .collect();

    let a = input.actions;
    let mut flow_types = Vec::new();
    if a.create {
        flow_types.push("Add");
    }
    if a.update {
        flow_types.push("Update");
    }
    if a.delete {
        warnings.push(format!(
            "{origin}: flow.actions \"delete\": Entra's Delete action disables HR-driven accounts (the import reads it back as \"disable\"); exported as Delete"
        ));
    }
    if a.disable || a.delete {
        flow_types.push("Delete");
    }
    if flow_types.is_empty() {
        warnings.push(format!(
            "{origin}: flow.actions is empty: Entra's object mapping needs at least one action; exported as \"Update\""
        ));
        flow_types.push("Update");
    }

    let (target_dir, target_obj) = input.target.directory();
    let name = m.name.clone().unwrap_or_else(|| format!("SuccessFactors to {target_dir}"));
    let root = json!({
        "directories": [
            {"name": "SuccessFactors", "objects": [{"name": "User", "attributes": source_attrs}]},
            {"name": target_dir, "objects": [{"name": target_obj, "attributes": target_attrs}]},
        ],
        "synchronizationRules": [{
            "id": input.target.rule_id(),
            "name": name,
            "editable": true,
            "priority": 1,
            "sourceDirectoryName": "SuccessFactors",
            "targetDirectoryName": target_dir,
            "metadata": [],
            "objectMappings": [{
                "enabled": true,
                "flowTypes": flow_types.join(", "),
                "name": "Provision SuccessFactors Users",
                "sourceObjectName": "User",
                "targetObjectName": target_obj,
                "metadata": [],
                "scope": scope,
                "attributeMappings": mappings,
            }],
        }],
        "version": "hrsync-export-1",
    });
    let json =
        serde_json::to_string_pretty(&root).map_err(|e| err(origin.to_string(), e.to_string()))?;
    Ok(Exported { json: json + "\n", warnings })
}
