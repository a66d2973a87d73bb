//! The schema's `directories[]`: which is the source (SuccessFactors) and
//! which the target, and the source's attribute definitions with their API
//! expressions (the SuccessFactors JSONPath) as hrsync source attributes.

use hrsync_mapping::{AttrType, Catalog, SourceAttributeConfig, SourcePath};
use serde_json::Value;

use crate::{ImportError, at, one_line, toml_str, unknown_keys};

/// The two directories the first synchronization rule connects.
pub(crate) struct Directories<'a> {
    /// The source directory and its JSON path (`directories[i]`).
    pub source: (&'a Value, String),
    /// The target directory's name (`targetDirectoryName`, else the first
    /// directory that is not the source), if any.
    pub target_name: Option<String>,
    /// The target directory, when the schema lists it.
    pub target: Option<&'a Value>,
}

fn name_of(v: &Value) -> Option<&str> {
    v.get("name").and_then(Value::as_str)
}

/// Finds the source directory named by the first rule's
/// `sourceDirectoryName` (refused when missing: the API expressions, and so
/// the meaning of every `[attribute]`, live there).
pub(crate) fn find<'a>(root: &'a Value, rule: &Value) -> Result<Directories<'a>, ImportError> {
    let dirs = match root.get("directories") {
        Some(Value::Array(d)) if !d.is_empty() => d,
        _ => {
            return Err(at(
                "directories",
                "no directories: the schema has no source directory (its attribute definitions hold the SuccessFactors JSONPaths)",
            ));
        }
    };
    let rpath = "synchronizationRules[0]";
    let source_name = rule.get("sourceDirectoryName").and_then(Value::as_str).ok_or_else(|| {
        at(&format!("{rpath}.sourceDirectoryName"), "missing: no source directory named")
    })?;
    let (si, source) =
        dirs.iter().enumerate().find(|(_, d)| name_of(d) == Some(source_name)).ok_or_else(
            || {
                at(
                    "directories",
                    format!(
                        "no source directory: none is named {source_name:?} ({rpath}.sourceDirectoryName)"
                    ),
                )
            },
        )?;
    let target_name =
        rule.get("targetDirectoryName").and_then(Value::as_str).map(str::to_string).or_else(|| {
            dirs.iter().filter_map(name_of).find(|n| *n != source_name).map(str::to_string)
        });
    let target = target_name.as_deref().and_then(|t| dirs.iter().find(|d| name_of(d) == Some(t)));
    Ok(Directories { source: (source, format!("directories[{si}]")), target_name, target })
}

/// Names (lowercase) of the target directory's attributes marked
/// `required` (in `object`, the object mapping's `targetObjectName`, or in
/// every object when none matches): their mappings become `required = true`
/// (no account while the value would be empty).
pub(crate) fn required_targets(
    dirs: &Directories<'_>,
    object: Option<&str>,
) -> std::collections::HashSet<String> {
    let mut out = std::collections::HashSet::new();
    let Some(t) = dirs.target else { return out };
    let objs: Vec<&Value> =
        t.get("objects").and_then(Value::as_array).into_iter().flatten().collect();
    let matching: Vec<&Value> = objs
        .iter()
        .copied()
        .filter(|o| object.is_some_and(|n| name_of(o).is_some_and(|m| m.eq_ignore_ascii_case(n))))
        .collect();
    let chosen = if matching.is_empty() { objs } else { matching };
    for o in chosen {
        for a in o.get("attributes").and_then(Value::as_array).into_iter().flatten() {
            if a.get("required").and_then(Value::as_bool) == Some(true)
                && let Some(n) = name_of(a)
            {
                out.insert(n.to_ascii_lowercase());
            }
        }
    }
    out
}

/// One imported source attribute: its config entry and the TOML written.
pub(crate) struct SourceAttr {
    pub config: SourceAttributeConfig,
    pub toml: String,
}

fn attr_type(t: &str) -> Option<AttrType> {
    match t.to_ascii_lowercase().as_str() {
        "string" => Some(AttrType::String),
        "integer" => Some(AttrType::Integer),
        "boolean" => Some(AttrType::Boolean),
        "datetime" => Some(AttrType::DateTime),
        "reference" => Some(AttrType::Reference),
        _ => None,
    }
}

fn type_name(t: AttrType) -> &'static str {
    match t {
        AttrType::String => "String",
        AttrType::Integer => "Integer",
        AttrType::Boolean => "Boolean",
        AttrType::DateTime => "DateTime",
        AttrType::Reference => "Reference",
    }
}

const ATTRIBUTE_KEYS: [&str; 12] = [
    "anchor",
    "apiExpressions",
    "caseExact",
    "defaultValue",
    "flowNullValues",
    "metadata",
    "multivalued",
    "mutability",
    "name",
    "referencedObjects",
    "required",
    "type",
];

/// Picks the API expression: the one keyed `Get` (any case), else the only
/// one. Several candidates are ambiguous: the first is used, with a warning.
fn pick_expression(
    exprs: &[Value],
    path: &str,
    warnings: &mut Vec<String>,
) -> Result<Option<(String, String)>, ImportError> {
    let mut all = Vec::new();
    for (i, e) in exprs.iter().enumerate() {
        let epath = format!("{path}[{i}]");
        unknown_keys(e, &["key", "value"], &epath, warnings);
        let key = e.get("key").and_then(Value::as_str).unwrap_or("");
        let value = e
            .get("value")
            .and_then(Value::as_str)
            .ok_or_else(|| at(&format!("{epath}.value"), "missing or not a string"))?;
        all.push((key.to_string(), value.to_string(), epath));
    }
    let gets: Vec<_> = all.iter().filter(|(k, _, _)| k.eq_ignore_ascii_case("get")).collect();
    let candidates: Vec<_> = if gets.is_empty() { all.iter().collect() } else { gets };
    let Some(first) = candidates.first() else { return Ok(None) };
    if candidates.len() > 1 {
        let shown: Vec<String> =
            candidates.iter().map(|(k, v, _)| format!("{k:?} = {v:?}")).collect();
        warnings.push(format!(
            "{path}: ambiguous API expression ({}); the first ({}) is used",
            shown.join(", "),
            first.2
        ));
    }
    Ok(Some((first.1.clone(), first.2.clone())))
}

/// The source directory's attribute definitions of `object` (the object
/// mapping's `sourceObjectName`; every object when none matches) as hrsync
/// source attributes: attributes the catalog lacks become new attributes
/// (with type and multivalued), catalog attributes whose JSONPath differs
/// become path overrides (the catalog's type is kept), and those equal to
/// the catalog are noted in a comment only.
pub(crate) fn source_attributes(
    dirs: &Directories<'_>,
    object: Option<&str>,
    warnings: &mut Vec<String>,
) -> Result<Vec<SourceAttr>, ImportError> {
    let (dir, dpath) = (&dirs.source.0, &dirs.source.1);
    let catalog = Catalog::builtin();
    let objs = dir.get("objects").and_then(Value::as_array);
    let objs: Vec<(usize, &Value)> = objs.into_iter().flatten().enumerate().collect();
    let chosen: Vec<(usize, &Value)> = match object {
        Some(o) => {
            let m: Vec<_> = objs
                .iter()
                .copied()
                .filter(|(_, v)| name_of(v).is_some_and(|n| n.eq_ignore_ascii_case(o)))
                .collect();
            if m.is_empty() { objs.clone() } else { m }
        }
        None => objs.clone(),
    };
    let mut out: Vec<SourceAttr> = Vec::new();
    let mut seen = std::collections::HashMap::new();
    for (oi, o) in chosen {
        let attrs = o.get("attributes").and_then(Value::as_array);
        for (ai, a) in attrs.into_iter().flatten().enumerate() {
            let apath = format!("{dpath}.objects[{oi}].attributes[{ai}]");
            unknown_keys(a, &ATTRIBUTE_KEYS, &apath, warnings);
            let name = name_of(a)
                .filter(|n| !n.is_empty())
                .ok_or_else(|| at(&format!("{apath}.name"), "missing"))?;
            if let Some(first) = seen.insert(name.to_string(), apath.clone()) {
                return Err(at(
                    &format!("{apath}.name"),
                    format!("source attribute {name:?} is defined twice (first at {first})"),
                ));
            }
            let exprs = match a.get("apiExpressions") {
                None | Some(Value::Null) => &[][..],
                Some(Value::Array(e)) => e.as_slice(),
                Some(_) => return Err(at(&format!("{apath}.apiExpressions"), "not an array")),
            };
            let picked = pick_expression(exprs, &format!("{apath}.apiExpressions"), warnings)?;
            let in_catalog = catalog.get(name);
            let Some((jsonpath, epath)) = picked else {
                if in_catalog.is_none() {
                    warnings.push(format!(
                        "{apath}: source attribute {name:?} has no API expression and is not in hrsync's catalog; not carried (a mapping using it is left out)"
                    ));
                }
                continue;
            };
            if let Err(e) = SourcePath::parse(&jsonpath) {
                return Err(at(
                    &format!("{epath}.value"),
                    format!("JSONPath {jsonpath:?} of {name:?} does not parse: {e}"),
                ));
            }
            if a.get("flowNullValues").and_then(Value::as_bool) == Some(true) {
                warnings.push(format!(
                    "{apath}.flowNullValues: true not carried: hrsync has no \"flow null values\" setting"
                ));
            }
            let multivalued = a.get("multivalued").and_then(Value::as_bool).unwrap_or(false);
            let ty_text = a.get("type").and_then(Value::as_str);
            let mut toml = String::new();
            match in_catalog {
                Some(def) if def.jsonpath == jsonpath => {
                    out.push(SourceAttr {
                        config: SourceAttributeConfig { name: name.into(), ..Default::default() },
                        toml: one_line(&format!(
                            "# {epath}: {name} = {jsonpath} (as in hrsync's catalog)"
                        )) + "\n",
                    });
                    continue;
                }
                Some(def) => {
                    toml.push_str(&format!(
                        "\n# from {epath} (hrsync's catalog reads {}; its type {} is kept)\n",
                        one_line(&def.jsonpath),
                        type_name(def.ty)
                    ));
                    toml.push_str("[[source_attribute]]\n");
                    toml.push_str(&format!("name = {}\n", toml_str(name)));
                    toml.push_str(&format!("jsonpath = {}\n", toml_str(&jsonpath)));
                    out.push(SourceAttr {
                        config: SourceAttributeConfig {
                            name: name.into(),
                            jsonpath: Some(jsonpath),
                            ..Default::default()
                        },
                        toml,
                    });
                }
                None => {
                    let ty = match ty_text {
                        None => AttrType::String,
                        Some(t) => attr_type(t).unwrap_or_else(|| {
                            warnings.push(format!(
                                "{apath}.type: {t:?} has no hrsync equivalent (String, Integer, Boolean, DateTime, Reference); read as String"
                            ));
                            AttrType::String
                        }),
                    };
                    toml.push_str(&format!("\n# from {epath} (not in hrsync's catalog)\n"));
                    toml.push_str("[[source_attribute]]\n");
                    toml.push_str(&format!("name = {}\n", toml_str(name)));
                    toml.push_str(&format!("jsonpath = {}\n", toml_str(&jsonpath)));
                    toml.push_str(&format!("type = {}\n", toml_str(type_name(ty))));
                    if multivalued {
                        toml.push_str("multivalued = true\n");
                    }
                    out.push(SourceAttr {
                        config: SourceAttributeConfig {
                            name: name.into(),
                            jsonpath: Some(jsonpath),
                            ty: Some(ty),
                            multivalued: Some(multivalued),
                            expand: None,
                        },
                        toml,
                    });
                }
            }
        }
    }
    Ok(out)
}
