//! Convert a Microsoft Entra `synchronizationSchema` (portal download or
//! Graph response) into an hrsync config and mapping (TOML), and an hrsync
//! mapping back into one. Pure: the caller reads and writes the files.
//!
//! Carried into the mapping: the first rule's `name` as its name; the
//! source directory's attribute definitions
//! with their API expressions (SuccessFactors JSONPath; any
//! `apiExpressions` key, `Get` preferred case-insensitively, ambiguity
//! warned) as `[[source_attribute]]` entries (new attributes, and catalog
//! attributes whose path was edited); attribute mappings (expression text,
//! rebuilt from the `source` tree when the text is missing or empty,
//! `defaultValue`, `matchingPriority`, `flowType`, `flowBehavior`); the
//! first objectMapping's scoping filter. Carried into the config: the
//! target directory's kind (Active Directory -> `ldap` with the AD profile,
//! a name with LDAP in it -> `ldap` with the inetOrgPerson profile,
//! Entra ID -> `graph`, any other app -> `scim`), the objectMapping's
//! `flowTypes` as `flow.actions` (Delete -> disable), and the matching order
//! as a comment.
//!
//! Refused (an [`ImportError`] naming the JSON path): JSON that does not
//! parse, no `synchronizationRules`, no source directory, a target mapped
//! twice, an expression or JSONPath that does not parse, a scoping filter
//! that would widen to everyone or names an unknown attribute. Everything
//! else that is not carried is reported in [`Imported::warnings`] with its
//! JSON path, and an attribute mapping hrsync cannot check (unknown
//! function or attribute) is left out as a `# not carried:` comment.
//!
//! The reverse, [`export_schema`] (`hrsync export entra-schema`), writes an
//! hrsync mapping with its target kind and actions as a
//! `synchronizationSchema` the import reads back to the same mappings; what
//! Entra cannot express is listed in [`Exported::warnings`] with its hrsync
//! config path (see the `export` module).
//!
//! Shapes follow Graph's `synchronizationSchema` resources (shared notes
//! `entra-mapping.md` §2.1/§2.2, `events-graph-postgres-import.md` §4.1).

mod config;
mod directory;
mod export;

pub use export::{
    BUILTINS, ExportActions, ExportError, ExportInput, ExportTarget, Exported, builtin,
    export_schema,
};

use hrsync_mapping::{
    Catalog, CompiledMapping, MappingConfig, ScopeOperator, SourceAttributeConfig, SourceSchema,
};
use serde_json::Value;

/// A refusal of the whole input, naming where in the JSON it went wrong.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("{path}: {why}")]
    At { path: String, why: String },
}

/// The produced config and mapping TOML and what was not carried over.
#[derive(Debug, Default)]
pub struct Imported {
    /// `mapping.toml`: source attributes, scoping filter, attribute mappings.
    pub mapping_toml: String,
    /// `hrsync.toml`: source placeholder, target, flow (refers to
    /// `mapping.toml` beside it).
    pub config_toml: String,
    /// What was not carried, each starting with its JSON path.
    pub warnings: Vec<String>,
}

/// File name the config refers to the mapping by.
pub const MAPPING_FILE: &str = "mapping.toml";
/// File name of the written config.
pub const CONFIG_FILE: &str = "hrsync.toml";

pub(crate) fn at(path: &str, why: impl Into<String>) -> ImportError {
    ImportError::At { path: path.to_string(), why: why.into() }
}

/// Text for a TOML comment: line breaks become spaces.
pub(crate) fn one_line(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

/// TOML basic string, escaped by hand so the crate needs no TOML writer.
pub(crate) fn toml_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Rebuilds expression text from a `source` tree, used when `expression`
/// is empty or missing (seen in the wild). A Constant's text is its `name`
/// (Graph `attributeMappingSource.name`).
fn rebuild(src: &Value, path: &str) -> Result<String, ImportError> {
    let name = src.get("name").and_then(Value::as_str).unwrap_or("");
    let kind = src.get("type").and_then(Value::as_str).unwrap_or("");
    match kind.to_ascii_lowercase().as_str() {
        "attribute" => Ok(format!("[{name}]")),
        "constant" => Ok(format!("\"{}\"", name.replace('"', "\"\""))),
        "function" => {
            let mut args = Vec::new();
            if let Some(params) = src.get("parameters").and_then(Value::as_array) {
                for (i, p) in params.iter().enumerate() {
                    let ppath = format!("{path}.parameters[{i}]");
                    let v = p.get("value").ok_or_else(|| at(&ppath, "parameter has no value"))?;
                    args.push(source_expression(v, &format!("{ppath}.value"))?);
                }
            }
            Ok(format!("{name}({})", args.join(", ")))
        }
        other => Err(at(path, format!("unknown source type {other:?}"))),
    }
}

/// A source's expression: its `expression` text when non-empty, else rebuilt.
fn source_expression(src: &Value, path: &str) -> Result<String, ImportError> {
    match src.get("expression").and_then(Value::as_str) {
        Some(e) if !e.trim().is_empty() => Ok(e.to_string()),
        _ => rebuild(src, path),
    }
}

const MAPPING_KEYS: [&str; 7] = [
    "targetAttributeName",
    "source",
    "defaultValue",
    "exportMissingReferences",
    "flowBehavior",
    "flowType",
    "matchingPriority",
];
const RULE_KEYS: [&str; 8] = [
    "id",
    "name",
    "editable",
    "priority",
    "sourceDirectoryName",
    "targetDirectoryName",
    "metadata",
    "objectMappings",
];
const OBJECT_MAPPING_KEYS: [&str; 8] = [
    "enabled",
    "flowTypes",
    "name",
    "sourceObjectName",
    "targetObjectName",
    "metadata",
    "scope",
    "attributeMappings",
];

/// Warns about a non-empty `metadata` list (Entra's `Disposition`,
/// `EscrowBehavior`, ...): hrsync has no equivalent for any entry.
fn non_empty_metadata(obj: &Value, path: &str, warnings: &mut Vec<String>) {
    if let Some(m) = obj.get("metadata").and_then(Value::as_array).filter(|m| !m.is_empty()) {
        warnings.push(format!("{path}.metadata: not carried ({})", Value::Array(m.clone())));
    }
}
const SOURCE_KEYS: [&str; 4] = ["expression", "name", "type", "parameters"];

/// Warns about each key of `obj` not in `known`, with its JSON path and value.
pub(crate) fn unknown_keys(obj: &Value, known: &[&str], path: &str, warnings: &mut Vec<String>) {
    if let Some(map) = obj.as_object() {
        for (k, v) in map {
            if !known.contains(&k.as_str()) {
                warnings.push(format!("{path}.{k}: unknown key (value {v}) not carried"));
            }
        }
    }
}

/// A scope value as text: strings as is, numbers and booleans printed.
fn operand_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Converts one clause to TOML, or says why it cannot be carried.
fn clause_toml(c: &Value, path: &str, warnings: &mut Vec<String>) -> Result<String, String> {
    unknown_keys(c, &["sourceOperandName", "operatorName", "targetOperand"], path, warnings);
    let attr = c
        .get("sourceOperandName")
        .and_then(Value::as_str)
        .filter(|a| !a.is_empty())
        .ok_or_else(|| format!("{path}.sourceOperandName: missing"))?;
    let op_name = c
        .get("operatorName")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("{path}.operatorName: missing"))?;
    let op: ScopeOperator = op_name.parse().map_err(|_| {
        format!("{path}.operatorName: operator {op_name:?} is not supported by hrsync")
    })?;
    let mut values = Vec::new();
    match c.get("targetOperand") {
        None | Some(Value::Null) => {}
        Some(t) => {
            unknown_keys(t, &["values"], &format!("{path}.targetOperand"), warnings);
            match t.get("values") {
                None | Some(Value::Null) => {}
                Some(Value::Array(vs)) => {
                    for (vi, v) in vs.iter().enumerate() {
                        values.push(operand_text(v).ok_or_else(|| {
                            format!("{path}.targetOperand.values[{vi}]: not a text value ({v})")
                        })?);
                    }
                }
                Some(other) => {
                    return Err(format!("{path}.targetOperand.values: not an array ({other})"));
                }
            }
        }
    }
    let vals: Vec<String> = values.iter().map(|v| toml_str(v)).collect();
    Ok(format!(
        "[[scope.groups.clauses]]\nattribute = {}\noperator = {}\nvalues = [{}]\n",
        toml_str(attr),
        toml_str(op.entra_name()),
        vals.join(", ")
    ))
}

/// Converts an objectMapping's `scope` to the mapping TOML's `[scope]`:
/// groups ORed, clauses ANDed. A group with a clause hrsync cannot carry is
/// dropped with a warning (fewer workers in scope, never more); if every
/// group is dropped the import is refused, since an empty filter would put
/// everyone in scope.
fn scope_toml(
    scope: &Value,
    path: &str,
    warnings: &mut Vec<String>,
) -> Result<String, ImportError> {
    unknown_keys(scope, &["groups", "inputFilterGroups", "categoryFilterGroups"], path, warnings);
    for k in ["inputFilterGroups", "categoryFilterGroups"] {
        if let Some(v) = scope.get(k)
            && v.as_array().is_some_and(|a| !a.is_empty())
        {
            warnings.push(format!("{path}.{k}: not supported by hrsync, not carried ({v})"));
        }
    }
    let groups = match scope.get("groups") {
        None | Some(Value::Null) => return Ok(String::new()),
        Some(Value::Array(g)) => g,
        Some(_) => return Err(at(&format!("{path}.groups"), "not an array")),
    };
    let mut out = String::new();
    let mut kept = 0;
    for (gi, g) in groups.iter().enumerate() {
        let gpath = format!("{path}.groups[{gi}]");
        unknown_keys(g, &["name", "clauses"], &gpath, warnings);
        let name = g.get("name").and_then(Value::as_str);
        let label = name.map(|n| format!(" ({n:?})")).unwrap_or_default();
        let clauses = g.get("clauses").and_then(Value::as_array);
        let Some(clauses) = clauses.filter(|c| !c.is_empty()) else {
            warnings.push(format!(
                "{gpath}: group{label} has no clauses; group dropped (workers only it admitted are out of scope)"
            ));
            continue;
        };
        let mut text = String::from("[[scope.groups]]\n");
        if let Some(n) = name {
            text.push_str(&format!("name = {}\n", toml_str(n)));
        }
        let mut failed = None;
        for (ci, c) in clauses.iter().enumerate() {
            match clause_toml(c, &format!("{gpath}.clauses[{ci}]"), warnings) {
                Ok(t) => text.push_str(&t),
                Err(why) => {
                    failed = Some(why);
                    break;
                }
            }
        }
        match failed {
            Some(why) => warnings.push(format!(
                "{why}; scoping group {gpath}{label} dropped (workers only it admitted are out of scope)"
            )),
            None => {
                out.push_str(&text);
                kept += 1;
            }
        }
    }
    if kept == 0 && !groups.is_empty() {
        return Err(at(
            &format!("{path}.groups"),
            "no scoping group could be carried; an empty filter would put everyone in scope",
        ));
    }
    if kept == 0 {
        return Ok(String::new());
    }
    Ok(format!("\n# scoping filter from {path}\n[scope]\n{out}"))
}

pub use config::{TargetKind, target_kind};

/// Parses the schema text and converts it: source attributes, attribute
/// mappings and scoping into the mapping, source, target and flow into the
/// config.
pub fn import_schema(text: &str) -> Result<Imported, ImportError> {
    let root: Value = serde_json::from_str(text)?;
    let rules = root
        .get("synchronizationRules")
        .and_then(Value::as_array)
        .ok_or_else(|| at("$", "no synchronizationRules array"))?;
    let first_rule = rules.first().ok_or_else(|| at("synchronizationRules", "no rule"))?;
    let dirs = directory::find(&root, first_rule)?;
    let first_om =
        first_rule.get("objectMappings").and_then(Value::as_array).and_then(|o| o.first());
    let mut out = Imported::default();
    let source_object = first_om.and_then(|o| o.get("sourceObjectName")).and_then(Value::as_str);
    let attrs = directory::source_attributes(&dirs, source_object, &mut out.warnings)?;
    let configs: Vec<SourceAttributeConfig> =
        attrs.iter().filter(|a| a.config.jsonpath.is_some()).map(|a| a.config.clone()).collect();
    let schema = SourceSchema::new(Catalog::builtin().clone(), &configs)
        .map_err(|e| at(&dirs.source.1, e.to_string()))?;

    let mut scope_text = String::new();
    let mut scope_from: Option<String> = None;
    let mut body = String::new();
    let mut seen = std::collections::HashSet::new();
    let mut matching = Vec::new();
    let target_object = first_om.and_then(|o| o.get("targetObjectName")).and_then(Value::as_str);
    let required = directory::required_targets(&dirs, target_object);
    for (ri, rule) in rules.iter().enumerate() {
        if ri > 0 {
            out.warnings.push(format!(
                "synchronizationRules[{ri}]: a further rule; its object mappings are merged into the one mapping file, its directories are not read"
            ));
        }
        let rpath = format!("synchronizationRules[{ri}]");
        unknown_keys(rule, &RULE_KEYS, &rpath, &mut out.warnings);
        non_empty_metadata(rule, &rpath, &mut out.warnings);
        let oms = rule.get("objectMappings").and_then(Value::as_array);
        for (oi, om) in oms.into_iter().flatten().enumerate() {
            let ompath = format!("synchronizationRules[{ri}].objectMappings[{oi}]");
            unknown_keys(om, &OBJECT_MAPPING_KEYS, &ompath, &mut out.warnings);
            non_empty_metadata(om, &ompath, &mut out.warnings);
            if om.get("enabled").and_then(Value::as_bool) == Some(false) {
                out.warnings.push(format!(
                    "{ompath}.enabled: false; imported anyway (hrsync has no disabled object mapping)"
                ));
            }
            if let Some(scope) = om.get("scope").filter(|s| !s.is_null()) {
                let spath = format!("{ompath}.scope");
                match &scope_from {
                    None => {
                        scope_text = scope_toml(scope, &spath, &mut out.warnings)?;
                        if !scope_text.is_empty() {
                            let parsed = MappingConfig::from_toml(&scope_text)
                                .map_err(|e| at(&spath, e.to_string()))?;
                            if let Some(f) = parsed.scope {
                                f.compile(&schema).map_err(|e| at(&spath, e.to_string()))?;
                            }
                        }
                        scope_from = Some(spath);
                    }
                    Some(first) => out.warnings.push(format!(
                        "{spath}: not carried: a mapping file has one scoping filter, {first} was used"
                    )),
                }
            }
            let ams = om.get("attributeMappings").and_then(Value::as_array);
            for (ai, am) in ams.into_iter().flatten().enumerate() {
                let path = format!("{ompath}.attributeMappings[{ai}]");
                let m = mapping_toml(am, &path, &mut seen, &required, &mut out.warnings)?;
                // Checked against the schema one by one, so a mapping hrsync
                // cannot evaluate (unknown function or attribute) is left out
                // by itself, named by its JSON path.
                let parsed =
                    MappingConfig::from_toml(&m.toml).map_err(|e| at(&path, e.to_string()))?;
                match CompiledMapping::compile(&parsed.mappings, &schema) {
                    Ok(_) => {
                        if let Some(p) = m.matching {
                            matching.push((p, m.target.clone(), path.clone()));
                        }
                        body.push_str(&m.toml);
                    }
                    Err(errs) => {
                        let why: Vec<String> = errs.iter().map(ToString::to_string).collect();
                        out.warnings.push(format!(
                            "{path}: not carried: {} (left in mapping.toml as a comment)",
                            why.join("; ")
                        ));
                        body.push_str(&format!(
                            "\n# not carried ({path}): {}\n",
                            one_line(&why.join("; "))
                        ));
                        for line in m.toml.lines().filter(|l| !l.is_empty()) {
                            let line = if line.starts_with('#') {
                                line.to_string()
                            } else {
                                format!("# {line}")
                            };
                            body.push_str(&line);
                            body.push('\n');
                        }
                    }
                }
            }
        }
    }
    let rule_label = match first_rule.get("name").and_then(Value::as_str) {
        Some(n) => format!("synchronizationRules[0] {n:?}"),
        None => "synchronizationRules[0]".to_string(),
    };
    let source_name = dirs.source.0.get("name").and_then(Value::as_str).unwrap_or("?");
    if !source_name.to_ascii_lowercase().contains("successfactors") {
        out.warnings.push(format!(
            "{}.name: source directory {source_name:?} is not SuccessFactors; hrsync reads SuccessFactors only, its API expressions are taken as SuccessFactors JSONPaths",
            dirs.source.1
        ));
    }
    let input = config::ConfigInput {
        rule_label,
        source_name,
        target_name: dirs.target_name.as_deref(),
        flow_types: first_om
            .and_then(|o| o.get("flowTypes"))
            .map(|v| (v, "synchronizationRules[0].objectMappings[0].flowTypes".to_string())),
        matching,
    };
    out.config_toml = config::config_toml(&input, &mut out.warnings);
    out.mapping_toml.push_str(
        "# Imported from an Entra synchronizationSchema by hrsync import entra-schema.\n",
    );
    // The mapping's name: the first rule's `name` (an exported hrsync
    // mapping's own name comes back), else a fixed one.
    let mapping_name = first_rule
        .get("name")
        .and_then(Value::as_str)
        .filter(|n| !n.trim().is_empty())
        .unwrap_or("Imported from Entra");
    out.mapping_toml.push_str(&format!("name = {}\n", toml_str(mapping_name)));
    if !attrs.is_empty() {
        out.mapping_toml.push_str(&format!(
            "\n# --- source attributes: {}'s attribute definitions ---\n",
            dirs.source.1
        ));
        for a in &attrs {
            out.mapping_toml.push_str(&a.toml);
        }
    }
    out.mapping_toml.push_str(&scope_text);
    out.mapping_toml.push_str(&body);
    // The whole file must load as hrsync's mapping: a failure here is a
    // defect of the importer, reported rather than written.
    MappingConfig::from_toml(&out.mapping_toml).map_err(|e| at("$", e.to_string()))?;
    Ok(out)
}

/// One converted attribute mapping.
struct MappingOut {
    toml: String,
    target: String,
    matching: Option<u32>,
}

/// One attributeMapping as a `[[mapping]]` table.
fn mapping_toml(
    am: &Value,
    path: &str,
    seen: &mut std::collections::HashSet<String>,
    required: &std::collections::HashSet<String>,
    warnings: &mut Vec<String>,
) -> Result<MappingOut, ImportError> {
    let mut t = format!("\n# from {path}\n");
    let mut matching = None;
    let target = am
        .get("targetAttributeName")
        .and_then(Value::as_str)
        .ok_or_else(|| at(path, "no targetAttributeName"))?;
    // hrsync writes every object mapping into one file, so a target may
    // appear once across all of them.
    if !seen.insert(target.to_ascii_lowercase()) {
        return Err(at(path, format!("duplicate target attribute {target}")));
    }
    unknown_keys(am, &MAPPING_KEYS, path, warnings);
    if let Some(map) = am.as_object() {
        for (k, v) in map.iter().filter(|(k, _)| !MAPPING_KEYS.contains(&k.as_str())) {
            t.push_str(&format!("# not carried: {k} = {}\n", v.to_string().replace('\n', " ")));
        }
    }
    let default = match am.get("defaultValue") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => {
            warnings.push(format!("{path}.defaultValue: not a string ({other}), not carried"));
            None
        }
    };
    // "None" mapping: `source: null` with only a default.
    let expr = match am.get("source") {
        None | Some(Value::Null) => None,
        Some(src) => {
            let spath = format!("{path}.source");
            unknown_keys(src, &SOURCE_KEYS, &spath, warnings);
            let e = source_expression(src, &spath)?;
            hrsync_expr::parse(&e)
                .map_err(|err| at(&format!("{spath}.expression"), format!("{err}")))?;
            Some(e)
        }
    };
    if expr.is_none() && default.is_none() {
        return Err(at(path, "no source and no defaultValue"));
    }
    t.push_str("[[mapping]]\n");
    t.push_str(&format!("target = {}\n", toml_str(target)));
    if let Some(e) = &expr {
        t.push_str(&format!("expression = {}\n", toml_str(e)));
    }
    if let Some(d) = &default {
        t.push_str(&format!("default = {}\n", toml_str(d)));
    }
    match am.get("matchingPriority") {
        None | Some(Value::Null) => {}
        Some(v) => match v.as_i64() {
            Some(p) if p <= 0 => {}
            Some(p) => match u32::try_from(p) {
                Ok(p) => {
                    t.push_str(&format!("matching = {p}\n"));
                    matching = Some(p);
                }
                Err(_) => warnings.push(format!(
                    "{path}.matchingPriority: {p} out of range, not a matching attribute"
                )),
            },
            None => warnings.push(format!(
                "{path}.matchingPriority: not an integer ({v}), not a matching attribute"
            )),
        },
    }
    if required.contains(&target.to_ascii_lowercase()) {
        t.push_str("# required: the target directory marks it required\n");
        t.push_str("required = true\n");
    }
    match am.get("flowType").and_then(Value::as_str) {
        Some("ObjectAddOnly") => t.push_str("apply = \"on-create\"\n"),
        Some("Always") | None => {}
        Some(other) => warnings.push(format!(
            "{path}.flowType: {other:?} is not a flowType hrsync supports (Always, ObjectAddOnly); treated as Always"
        )),
    }
    match am.get("flowBehavior").and_then(Value::as_str) {
        Some("FlowAlways") => t.push_str("flow = \"always\"\n"),
        Some("FlowWhenChanged") | None => {}
        Some(other) => warnings.push(format!(
            "{path}.flowBehavior: {other:?} unknown (FlowWhenChanged, FlowAlways); treated as FlowWhenChanged"
        )),
    }
    match am.get("exportMissingReferences") {
        None | Some(Value::Null) | Some(Value::Bool(false)) => {}
        Some(v) => warnings.push(format!(
            "{path}.exportMissingReferences: {v} not carried: hrsync has no such setting"
        )),
    }
    Ok(MappingOut { toml: t, target: target.to_string(), matching })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The unit tests' schemas hold only rules: give them a source and a
    /// target directory, with the attributes the tests use that hrsync's
    /// catalog lacks.
    fn with_dirs(text: &str) -> String {
        let attrs: Vec<String> = ["x", "y", "n", "payGrade"]
            .iter()
            .map(|n| format!(r#"{{"name":"{n}","type":"String","apiExpressions":[{{"key":"Get","value":"$.{n}"}}]}}"#))
            .collect();
        text.replacen(
            r#"{"synchronizationRules":[{"#,
            &format!(
                r#"{{"directories":[{{"name":"SuccessFactors","objects":[{{"name":"User","attributes":[{}]}}]}},{{"name":"Active Directory","objects":[]}}],"synchronizationRules":[{{"sourceDirectoryName":"SuccessFactors","targetDirectoryName":"Active Directory","#,
                attrs.join(",")
            ),
            1,
        )
    }

    fn import_schema(text: &str) -> Result<Imported, ImportError> {
        super::import_schema(&with_dirs(text))
    }

    #[test]
    fn imports_and_names_path() {
        let ok = r#"{"synchronizationRules":[{"objectMappings":[{"attributeMappings":[
            {"targetAttributeName":"employeeID","matchingPriority":1,"flowType":"Always",
             "source":{"type":"Attribute","name":"personIdExternal","expression":"[personIdExternal]"}},
            {"targetAttributeName":"c","flowType":"ObjectAddOnly",
             "source":{"type":"Constant","name":"FR","expression":""}}]}]}]}"#;
        let r = import_schema(ok).unwrap();
        assert!(r.mapping_toml.contains("matching = 1"));
        assert!(r.mapping_toml.contains("expression = \"\\\"FR\\\"\""));
        assert!(r.mapping_toml.contains("apply = \"on-create\""));
        let bad = ok.replace("[personIdExternal]\"", "Foo(\"");
        let e = import_schema(&bad).unwrap_err().to_string();
        assert!(e.contains("attributeMappings[0].source.expression"), "{e}");
        assert!(import_schema("{").is_err());
    }

    fn with_scope(scope: &str) -> String {
        format!(
            r#"{{"synchronizationRules":[{{"objectMappings":[{{"scope":{scope},"attributeMappings":[
            {{"targetAttributeName":"employeeID","source":{{"type":"Attribute","name":"personIdExternal"}}}}]}}]}}]}}"#
        )
    }

    fn clause(attr: &str, op: &str, values: &str) -> String {
        format!(
            r#"{{"sourceOperandName":"{attr}","operatorName":"{op}","targetOperand":{{"values":{values}}}}}"#
        )
    }

    fn load(r: &Imported) -> hrsync_mapping::MappingConfig {
        match hrsync_mapping::MappingConfig::from_toml(&r.mapping_toml) {
            Ok(m) => m,
            Err(e) => panic!("{e}\n{}", r.mapping_toml),
        }
    }

    #[test]
    fn every_hrsync_operator_is_carried_in_both_spellings() {
        for op in hrsync_mapping::ScopeOperator::ALL {
            let unary =
                matches!(op.entra_name(), "IS TRUE" | "IS FALSE" | "IS NULL" | "IS NOT NULL");
            let vals = if unary { "[]" } else { r#"["5"]"# };
            for spelling in [op.entra_name().to_string(), op.entra_name().replace(' ', "_")] {
                let json = with_scope(&format!(
                    r#"{{"groups":[{{"name":"g","clauses":[{}]}}]}}"#,
                    clause("emplStatus", &spelling, vals)
                ));
                let r = import_schema(&json).unwrap();
                assert!(r.warnings.is_empty(), "{spelling}: {:?}", r.warnings);
                let scope = load(&r).scope.unwrap();
                assert_eq!(scope.groups[0].clauses[0].operator, op, "{spelling}");
                assert_eq!(scope.groups[0].clauses[0].values.len(), usize::from(!unary));
            }
        }
    }

    #[test]
    fn groups_or_clauses_and_unsupported_operator_drops_its_group_loudly() {
        let json = with_scope(&format!(
            r#"{{"groups":[
                {{"name":"A","clauses":[{},{}]}},
                {{"name":"B","clauses":[{},{}]}},
                {{"name":"C","clauses":[{}]}}]}}"#,
            clause("emplStatus", "EQUALS", r#"["A","U"]"#),
            clause("company", "REGEX MATCH", r#"["^ACME"]"#),
            clause("emplStatus", "EQUALS", r#"["P"]"#),
            clause("payGrade", "Less_Than", r#"["3"]"#),
            clause("userId", "IS NOT NULL", "[]"),
        ));
        let r = import_schema(&json).unwrap();
        let scope = load(&r).scope.unwrap();
        let names: Vec<_> = scope.groups.iter().map(|g| g.name.as_deref()).collect();
        assert_eq!(names, [Some("A"), Some("C")]);
        assert_eq!(scope.groups[0].clauses.len(), 2);
        assert_eq!(scope.groups[0].clauses[0].values, ["A", "U"]);
        assert_eq!(r.warnings.len(), 1, "{:?}", r.warnings);
        let w = &r.warnings[0];
        assert!(
            w.contains(
                "synchronizationRules[0].objectMappings[0].scope.groups[1].clauses[1].operatorName"
            ),
            "{w}"
        );
        assert!(w.contains("Less_Than") && w.contains("dropped") && w.contains("\"B\""), "{w}");
    }

    #[test]
    fn operators_hrsync_lacks_are_warned() {
        for op in ["Less_Than", "Less_Than_OR_EQUALS", "Include", "Exclude", "STARTS_WITH"] {
            let json = with_scope(&format!(
                r#"{{"groups":[{{"clauses":[{}]}},{{"clauses":[{}]}}]}}"#,
                clause("x", op, r#"["1"]"#),
                clause("y", "IS TRUE", "[]")
            ));
            let r = import_schema(&json).unwrap();
            assert_eq!(load(&r).scope.unwrap().groups.len(), 1);
            assert!(
                r.warnings.iter().any(|w| w.contains(op) && w.contains("groups[0].clauses[0]")),
                "{op}: {:?}",
                r.warnings
            );
        }
        // Every group dropped would widen scope to everyone: refused.
        let json = with_scope(&format!(
            r#"{{"groups":[{{"clauses":[{}]}}]}}"#,
            clause("x", "Less_Than", r#"["1"]"#)
        ));
        let e = import_schema(&json).unwrap_err().to_string();
        assert!(e.contains("scope.groups") && e.contains("everyone"), "{e}");
        // No scope, or an empty one: no [scope] table.
        for s in ["null", r#"{"groups":[]}"#] {
            let r = import_schema(&with_scope(s)).unwrap();
            assert!(load(&r).scope.is_none(), "{s}");
        }
    }

    #[test]
    fn mapping_fields_and_unknown_keys() {
        let json = r#"{"synchronizationRules":[{"objectMappings":[{"attributeMappings":[
            {"targetAttributeName":"a","flowBehavior":"FlowSometimes","flowType":"MultiValueAddOnly",
             "exportMissingReferences":true,"defaultValue":"d","matchingPriority":"x","extra":1,
             "source":{"type":"Attribute","name":"n","expression":"[n]","weird":2}},
            {"targetAttributeName":"b","source":null}]}]}]}"#;
        let e = import_schema(json).unwrap_err().to_string();
        assert!(e.contains("attributeMappings[1]") && e.contains("no source"), "{e}");
        let json = json.replace(r#""source":null"#, r#""source":null,"defaultValue":"z""#);
        let r = import_schema(&json).unwrap();
        let m = load(&r);
        assert_eq!(m.mappings[0].default.as_deref(), Some("d"));
        assert_eq!(m.mappings[0].matching, None);
        assert_eq!(m.mappings[1].expression, None);
        let p = "synchronizationRules[0].objectMappings[0].attributeMappings[0]";
        for k in
            ["flowBehavior", "flowType", "exportMissingReferences", "matchingPriority", "extra"]
        {
            assert!(
                r.warnings.iter().any(|w| w.starts_with(&format!("{p}.{k}:"))),
                "{k}: {:?}",
                r.warnings
            );
        }
        assert!(r.warnings.iter().any(|w| w.starts_with(&format!("{p}.source.weird:"))));
        assert_eq!(r.warnings.len(), 6, "{:?}", r.warnings);
    }

    fn with_attr(exprs: &str) -> String {
        format!(
            r#"{{"directories":[{{"name":"SuccessFactors","objects":[{{"name":"User","attributes":[
              {{"name":"custom35","type":"String","apiExpressions":{exprs}}}]}}]}}],
              "synchronizationRules":[{{"sourceDirectoryName":"SuccessFactors","objectMappings":[{{"attributeMappings":[
              {{"targetAttributeName":"extensionAttribute1","source":{{"type":"Attribute","name":"custom35","expression":"[custom35]"}}}}]}}]}}]}}"#
        )
    }

    #[test]
    fn api_expressions_any_key_get_preferred_ambiguity_warned() {
        let cases = [
            // Any key is accepted when it is the only one.
            (r#"[{"key":"Read","value":"$.userNav.custom35"}]"#, "$.userNav.custom35", false),
            // `Get` (any case) wins over other keys.
            (
                r#"[{"key":"Set","value":"$.a"},{"key":"get","value":"$.userNav.custom35"}]"#,
                "$.userNav.custom35",
                false,
            ),
            // Two Gets: the first is used, with a warning naming the path.
            (
                r#"[{"key":"Get","value":"$.userNav.custom35"},{"key":"GET","value":"$.b"}]"#,
                "$.userNav.custom35",
                true,
            ),
            // No Get, two others: ambiguous too.
            (
                r#"[{"key":"A","value":"$.userNav.custom35"},{"key":"B","value":"$.b"}]"#,
                "$.userNav.custom35",
                true,
            ),
        ];
        for (exprs, want, ambiguous) in cases {
            let r = super::import_schema(&with_attr(exprs)).unwrap();
            let m = load(&r);
            assert_eq!(m.source_attributes[0].jsonpath.as_deref(), Some(want), "{exprs}");
            let warned = r.warnings.iter().any(|w| {
                w.starts_with("directories[0].objects[0].attributes[0].apiExpressions:")
                    && w.contains("ambiguous")
            });
            assert_eq!(warned, ambiguous, "{exprs}: {:?}", r.warnings);
        }
        let e = super::import_schema(&with_attr(r#"[{"key":"Get","value":"$.a[?(@.x =="}]"#))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("directories[0].objects[0].attributes[0].apiExpressions[0].value:"),
            "{e}"
        );
        // No API expression and not in the catalog: the mapping using it is
        // left out, loudly.
        let r = super::import_schema(&with_attr("[]")).unwrap();
        assert!(load(&r).mappings.is_empty());
        assert!(
            r.warnings.iter().any(|w| w.contains("attributeMappings[0]: not carried")),
            "{:?}",
            r.warnings
        );
    }

    #[test]
    fn no_source_directory_and_unknown_function() {
        let base = r#"{"synchronizationRules":[{"objectMappings":[{"attributeMappings":[
            {"targetAttributeName":"a","source":{"type":"Function","name":"Frobnicate","expression":"Frobnicate([firstName])"}}]}]}]}"#;
        let e = super::import_schema(base).unwrap_err().to_string();
        assert!(e.starts_with("directories:") && e.contains("no source directory"), "{e}");
        let r = import_schema(base).unwrap();
        assert!(load(&r).mappings.is_empty());
        assert!(
            r.warnings.iter().any(|w| w.starts_with(
                "synchronizationRules[0].objectMappings[0].attributeMappings[0]: not carried"
            ) && w.contains("Frobnicate")),
            "{:?}",
            r.warnings
        );
        assert!(r.mapping_toml.contains("# target = \"a\""), "{}", r.mapping_toml);
    }

    #[test]
    fn rule_object_mapping_and_attribute_extras_are_warned() {
        let json = r#"{"directories":[{"name":"SuccessFactors","objects":[{"name":"User","attributes":[
              {"name":"x","flowNullValues":true,"apiExpressions":[{"key":"Get","value":"$.x"}]}]}]}],
            "synchronizationRules":[{"sourceDirectoryName":"SuccessFactors","containerFilter":{"a":1},
              "objectMappings":[{"metadata":[{"key":"Disposition","value":"Discard"}],"weird":1,
                "attributeMappings":[{"targetAttributeName":"a","source":{"type":"Attribute","name":"x"}}]}]}]}"#;
        let r = super::import_schema(json).unwrap();
        for w in [
            "directories[0].objects[0].attributes[0].flowNullValues:",
            "synchronizationRules[0].containerFilter:",
            "synchronizationRules[0].objectMappings[0].metadata:",
            "synchronizationRules[0].objectMappings[0].weird:",
        ] {
            assert!(r.warnings.iter().any(|x| x.starts_with(w)), "{w}: {:?}", r.warnings);
        }
        assert_eq!(r.warnings.len(), 4, "{:?}", r.warnings);
    }
}
