//! Convert a Microsoft Entra `synchronizationSchema` (portal download or
//! Graph response) into hrsync mapping TOML. Pure: the caller reads the file
//! and writes the result. Carried: attribute mappings (expression,
//! `defaultValue`, `matchingPriority`, `flowType`, `flowBehavior`) and the
//! objectMapping scoping filter. Not carried yet: directories (source
//! attributes and their API expressions) and the config TOML; everything not
//! carried is reported in [`Imported::warnings`] with its JSON path.
//!
//! Shapes follow Graph's `synchronizationSchema` resources (shared notes
//! `entra-mapping.md` §2.1/§2.2, `events-graph-postgres-import.md` §4.1).

use hrsync_mapping::ScopeOperator;
use serde_json::Value;

/// A refusal of the whole input, naming where in the JSON it went wrong.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("{path}: {why}")]
    At { path: String, why: String },
}

/// The produced mapping TOML and what was not carried over.
#[derive(Debug, Default)]
pub struct Imported {
    pub mapping_toml: String,
    pub warnings: Vec<String>,
}

fn at(path: &str, why: impl Into<String>) -> ImportError {
    ImportError::At { path: path.to_string(), why: why.into() }
}

/// TOML basic string, escaped by hand so the crate needs no TOML writer.
fn toml_str(s: &str) -> String {
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
const SOURCE_KEYS: [&str; 4] = ["expression", "name", "type", "parameters"];

/// Warns about each key of `obj` not in `known`, with its JSON path and value.
fn unknown_keys(obj: &Value, known: &[&str], path: &str, warnings: &mut Vec<String>) {
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

/// Warns about directory attributes whose API expression (the SF JSONPath)
/// is not carried: source attributes are not imported yet.
fn directories_warnings(root: &Value, warnings: &mut Vec<String>) {
    let dirs = root.get("directories").and_then(Value::as_array);
    for (di, d) in dirs.into_iter().flatten().enumerate() {
        let objs = d.get("objects").and_then(Value::as_array);
        for (oi, o) in objs.into_iter().flatten().enumerate() {
            let attrs = o.get("attributes").and_then(Value::as_array);
            for (ai, a) in attrs.into_iter().flatten().enumerate() {
                let exprs = a.get("apiExpressions").and_then(Value::as_array);
                if let Some(exprs) = exprs.filter(|e| !e.is_empty()) {
                    let name = a.get("name").and_then(Value::as_str).unwrap_or("?");
                    let shown: Vec<String> = exprs.iter().map(Value::to_string).collect();
                    warnings.push(format!(
                        "directories[{di}].objects[{oi}].attributes[{ai}].apiExpressions: source attribute {name:?} ({}) not carried: source attributes are not imported yet; declare it as a [[source_attribute]] if the catalog lacks it",
                        shown.join(", ")
                    ));
                }
            }
        }
    }
}

/// Parses the schema text and converts its attribute mappings and scoping.
pub fn import_schema(text: &str) -> Result<Imported, ImportError> {
    let root: Value = serde_json::from_str(text)?;
    let rules = root
        .get("synchronizationRules")
        .and_then(Value::as_array)
        .ok_or_else(|| at("$", "no synchronizationRules array"))?;
    let mut out = Imported::default();
    let mut scope_text = String::new();
    let mut scope_from: Option<String> = None;
    let mut body = String::new();
    let mut seen = std::collections::HashSet::new();
    for (ri, rule) in rules.iter().enumerate() {
        let oms = rule.get("objectMappings").and_then(Value::as_array);
        for (oi, om) in oms.into_iter().flatten().enumerate() {
            let ompath = format!("synchronizationRules[{ri}].objectMappings[{oi}]");
            if let Some(scope) = om.get("scope").filter(|s| !s.is_null()) {
                let spath = format!("{ompath}.scope");
                match &scope_from {
                    None => {
                        scope_text = scope_toml(scope, &spath, &mut out.warnings)?;
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
                body.push_str(&mapping_toml(am, &path, &mut seen, &mut out.warnings)?);
            }
        }
    }
    directories_warnings(&root, &mut out.warnings);
    out.mapping_toml.push_str(
        "# Imported from an Entra synchronizationSchema by hrsync import entra-schema.\n",
    );
    out.mapping_toml.push_str("name = \"Imported from Entra\"\n");
    out.mapping_toml.push_str(&scope_text);
    out.mapping_toml.push_str(&body);
    Ok(out)
}

/// One attributeMapping as a `[[mapping]]` table.
fn mapping_toml(
    am: &Value,
    path: &str,
    seen: &mut std::collections::HashSet<String>,
    warnings: &mut Vec<String>,
) -> Result<String, ImportError> {
    let mut t = format!("\n# from {path}\n");
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
                Ok(p) => t.push_str(&format!("matching = {p}\n")),
                Err(_) => warnings.push(format!(
                    "{path}.matchingPriority: {p} out of range, not a matching attribute"
                )),
            },
            None => warnings.push(format!(
                "{path}.matchingPriority: not an integer ({v}), not a matching attribute"
            )),
        },
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
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
