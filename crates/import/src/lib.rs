//! Convert a Microsoft Entra `synchronizationSchema` (portal download or
//! Graph response) into hrsync mapping TOML. Pure: the caller reads the file
//! and writes the result. Stage 1 only: attribute mappings; scoping,
//! directories and the config TOML are not carried over yet.

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
/// is empty or missing (seen in the wild).
fn rebuild(src: &Value, path: &str) -> Result<String, ImportError> {
    let name = src.get("name").and_then(Value::as_str).unwrap_or("");
    let kind = src.get("type").and_then(Value::as_str).unwrap_or("");
    match kind.to_ascii_lowercase().as_str() {
        "attribute" => Ok(format!("[{name}]")),
        "constant" => {
            let v = src.get("value").and_then(Value::as_str).unwrap_or("");
            Ok(format!("\"{}\"", v.replace('"', "\"\"")))
        }
        "function" => {
            let mut args = Vec::new();
            if let Some(params) = src.get("parameters").and_then(Value::as_array) {
                for (i, p) in params.iter().enumerate() {
                    let v = p.get("value").unwrap_or(p);
                    args.push(rebuild(v, &format!("{path}.parameters[{i}].value"))?);
                }
            }
            Ok(format!("{name}({})", args.join(", ")))
        }
        other => Err(at(path, format!("unknown source type {other:?}"))),
    }
}

/// Parses the schema text and converts its attribute mappings.
pub fn import_schema(text: &str) -> Result<Imported, ImportError> {
    let root: Value = serde_json::from_str(text)?;
    let rules = root
        .get("synchronizationRules")
        .and_then(Value::as_array)
        .ok_or_else(|| at("$", "no synchronizationRules array"))?;
    let mut out = Imported::default();
    out.mapping_toml.push_str(
        "# Imported from an Entra synchronizationSchema by hrsync import entra-schema.\n",
    );
    out.mapping_toml.push_str("name = \"Imported from Entra\"\n");
    let mut seen = std::collections::HashSet::new();
    for (ri, rule) in rules.iter().enumerate() {
        let oms = rule.get("objectMappings").and_then(Value::as_array);
        for (oi, om) in oms.into_iter().flatten().enumerate() {
            let ams = om.get("attributeMappings").and_then(Value::as_array);
            for (ai, am) in ams.into_iter().flatten().enumerate() {
                let path = format!(
                    "synchronizationRules[{ri}].objectMappings[{oi}].attributeMappings[{ai}]"
                );
                let target = am
                    .get("targetAttributeName")
                    .and_then(Value::as_str)
                    .ok_or_else(|| at(&path, "no targetAttributeName"))?;
                if !seen.insert((oi, ri, target.to_ascii_lowercase())) {
                    return Err(at(&path, format!("duplicate target attribute {target}")));
                }
                let src = am.get("source").ok_or_else(|| at(&path, "no source"))?;
                let expr = match src.get("expression").and_then(Value::as_str) {
                    Some(e) if !e.trim().is_empty() => e.to_string(),
                    _ => rebuild(src, &format!("{path}.source"))?,
                };
                hrsync_expr::parse(&expr)
                    .map_err(|e| at(&format!("{path}.source.expression"), format!("{e}")))?;
                out.mapping_toml.push_str(&format!("\n# from {path}\n[[mapping]]\n"));
                out.mapping_toml.push_str(&format!("target = {}\n", toml_str(target)));
                out.mapping_toml.push_str(&format!("expression = {}\n", toml_str(&expr)));
                if let Some(p) = am.get("matchingPriority").and_then(Value::as_i64)
                    && p > 0
                {
                    out.mapping_toml.push_str(&format!("matching = {p}\n"));
                }
                match am.get("flowType").and_then(Value::as_str) {
                    Some("ObjectAddOnly") | Some("Add") => {
                        out.mapping_toml.push_str("apply = \"on-create\"\n")
                    }
                    Some("Always") | None => {}
                    Some(other) => out.warnings.push(format!(
                        "{path}.flowType: {other:?} not supported, treated as Always"
                    )),
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imports_and_names_path() {
        let ok = r#"{"synchronizationRules":[{"objectMappings":[{"attributeMappings":[
            {"targetAttributeName":"employeeID","matchingPriority":1,"flowType":"Always",
             "source":{"type":"Attribute","name":"personIdExternal","expression":"[personIdExternal]"}},
            {"targetAttributeName":"c","flowType":"Add",
             "source":{"type":"Constant","value":"FR","expression":""}}]}]}]}"#;
        let r = import_schema(ok).unwrap();
        assert!(r.mapping_toml.contains("matching = 1"));
        assert!(r.mapping_toml.contains("expression = \"\\\"FR\\\"\""));
        assert!(r.mapping_toml.contains("apply = \"on-create\""));
        let bad = ok.replace("[personIdExternal]\"", "Foo(\"");
        let e = import_schema(&bad).unwrap_err().to_string();
        assert!(e.contains("attributeMappings[0].source.expression"), "{e}");
        assert!(import_schema("{").is_err());
    }
}
