//! `export_schema`: each built-in mapping exports to a synchronizationSchema
//! of the documented shape (key structure asserted), the import reads it
//! back to the same mapping with no warning, and what Entra cannot express
//! is warned with its hrsync config path.

use hrsync_import::{
    BUILTINS, ExportActions, ExportInput, ExportTarget, builtin, export_schema, import_schema,
};
use hrsync_mapping::MappingConfig;
use serde_json::Value;

fn keys(v: &Value) -> Vec<&str> {
    let mut k: Vec<&str> = v.as_object().expect("object").keys().map(String::as_str).collect();
    k.sort_unstable();
    k
}

fn export(m: &MappingConfig, target: ExportTarget) -> (Value, Vec<String>) {
    let input = ExportInput {
        mapping: m,
        origin: "test.toml",
        target,
        actions: ExportActions::default(),
        not_expressible: vec![],
    };
    let e = export_schema(&input).expect("exports");
    (serde_json::from_str(&e.json).expect("valid JSON"), e.warnings)
}

/// Every node of a source tree: expression text that parses and matches
/// its children, a name, a type of the three Entra writes.
fn check_source(s: &Value, at: &str) {
    let t = s["type"].as_str().expect("type");
    let text = s["expression"].as_str().expect("expression");
    assert!(hrsync_expr::parse(text).is_ok(), "{at}: {text}");
    assert!(s["name"].is_string(), "{at}: name");
    match t {
        "Attribute" => {
            assert_eq!(keys(s), ["expression", "name", "parameters", "type"], "{at}");
            assert_eq!(text, format!("[{}]", s["name"].as_str().unwrap_or_default()), "{at}");
        }
        "Constant" => assert_eq!(keys(s), ["expression", "name", "type"], "{at}"),
        "Function" => {
            assert_eq!(keys(s), ["expression", "name", "parameters", "type"], "{at}");
            assert!(text.starts_with(s["name"].as_str().unwrap_or_default()), "{at}: {text}");
            for (i, p) in s["parameters"].as_array().expect("parameters").iter().enumerate() {
                assert_eq!(keys(p), ["key", "value"], "{at}");
                let sub = p["value"]["expression"].as_str().unwrap_or_default();
                assert!(text.contains(sub), "{at}: {sub:?} not in {text:?}");
                check_source(&p["value"], &format!("{at}.parameters[{i}]"));
            }
        }
        other => panic!("{at}: type {other}"),
    }
}

#[test]
fn every_builtin_exports_to_the_documented_shape() {
    for (name, _, target) in BUILTINS {
        let (m, t) = builtin(name).expect("built-in loads");
        assert_eq!(t, target);
        let (v, warnings) = export(&m, t);
        assert!(warnings.is_empty(), "{name}: {warnings:?}");
        assert_eq!(keys(&v), ["directories", "synchronizationRules", "version"], "{name}");
        let dirs = v["directories"].as_array().expect("directories");
        assert_eq!(dirs.len(), 2, "{name}");
        for d in dirs {
            assert_eq!(keys(d), ["name", "objects"], "{name}");
            for o in d["objects"].as_array().expect("objects") {
                assert_eq!(keys(o), ["attributes", "name"], "{name}");
                for a in o["attributes"].as_array().expect("attributes") {
                    assert_eq!(
                        keys(a),
                        [
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
                            "type"
                        ],
                        "{name}"
                    );
                }
            }
        }
        assert_eq!(dirs[0]["name"], "SuccessFactors");
        assert_eq!(dirs[1]["name"], t.directory().0, "{name}");
        let src: Vec<&Value> = dirs[0]["objects"][0]["attributes"]
            .as_array()
            .expect("source attributes")
            .iter()
            .collect();
        for a in &src {
            let e = &a["apiExpressions"];
            assert_eq!(e.as_array().map(Vec::len), Some(1), "{name}: {a}");
            assert_eq!(e[0]["key"], "Get");
            assert!(e[0]["value"].as_str().is_some_and(|p| p.starts_with("$.")), "{name}: {a}");
            assert!(
                ["String", "Integer", "Boolean", "DateTime", "Reference"]
                    .contains(&a["type"].as_str().unwrap_or_default()),
                "{name}: {a}"
            );
        }
        let src_names: Vec<&str> = src.iter().filter_map(|a| a["name"].as_str()).collect();
        let rules = v["synchronizationRules"].as_array().expect("rules");
        assert_eq!(rules.len(), 1);
        let r = &rules[0];
        assert_eq!(
            keys(r),
            [
                "editable",
                "id",
                "metadata",
                "name",
                "objectMappings",
                "priority",
                "sourceDirectoryName",
                "targetDirectoryName"
            ],
            "{name}"
        );
        assert_eq!(r["sourceDirectoryName"], "SuccessFactors");
        assert_eq!(r["targetDirectoryName"], t.directory().0);
        let om = &r["objectMappings"][0];
        assert_eq!(
            keys(om),
            [
                "attributeMappings",
                "enabled",
                "flowTypes",
                "metadata",
                "name",
                "scope",
                "sourceObjectName",
                "targetObjectName"
            ],
            "{name}"
        );
        assert_eq!(om["flowTypes"], "Add, Update, Delete");
        assert_eq!(om["scope"], Value::Null, "{name}: the built-ins have no scoping filter");
        let ams = om["attributeMappings"].as_array().expect("attributeMappings");
        assert_eq!(ams.len(), m.mappings.len(), "{name}");
        let targets = dirs[1]["objects"][0]["attributes"].as_array().expect("target attributes");
        for (i, (am, hm)) in ams.iter().zip(&m.mappings).enumerate() {
            let at = format!("{name} attributeMappings[{i}]");
            assert_eq!(
                keys(am),
                [
                    "defaultValue",
                    "exportMissingReferences",
                    "flowBehavior",
                    "flowType",
                    "matchingPriority",
                    "source",
                    "targetAttributeName"
                ],
                "{at}"
            );
            assert_eq!(am["targetAttributeName"], hm.target.as_str(), "{at}");
            assert_eq!(am["matchingPriority"], hm.matching.unwrap_or(0), "{at}");
            assert!(["Always", "ObjectAddOnly"].contains(&am["flowType"].as_str().unwrap_or("")));
            assert!(
                ["FlowWhenChanged", "FlowAlways"]
                    .contains(&am["flowBehavior"].as_str().unwrap_or(""))
            );
            match &hm.expression {
                None => assert_eq!(am["source"], Value::Null, "{at}"),
                Some(e) => {
                    assert_eq!(am["source"]["expression"], e.as_str(), "{at}");
                    check_source(&am["source"], &at);
                    for r in hrsync_expr::parse(e).expect("parses").attribute_refs() {
                        assert!(src_names.contains(&r), "{at}: {r} not in the source directory");
                    }
                }
            }
            let td = targets
                .iter()
                .find(|a| a["name"] == hm.target.as_str())
                .expect("target attribute defined");
            assert_eq!(td["required"], hm.required, "{at}");
        }
        // Functions with parameters are written as trees, not text only.
        assert!(ams.iter().any(|a| a["source"]["type"] == "Function"), "{name}");
    }
}

/// The fields an imported mapping must keep.
fn same_mapping(a: &MappingConfig, b: &MappingConfig, what: &str) {
    assert_eq!(a.mappings.len(), b.mappings.len(), "{what}");
    for (x, y) in a.mappings.iter().zip(&b.mappings) {
        assert_eq!(x, y, "{what}");
    }
    assert_eq!(a.scope, b.scope, "{what}");
}

#[test]
fn every_builtin_imports_back_to_itself_without_warning() {
    for (name, _, _) in BUILTINS {
        let (m, t) = builtin(name).expect("built-in");
        let (v, _) = export(&m, t);
        let imported = import_schema(&v.to_string()).expect("imports");
        assert!(imported.warnings.is_empty(), "{name}: {:?}", imported.warnings);
        let back = MappingConfig::from_toml(&imported.mapping_toml).expect("loads");
        same_mapping(&back, &m, name);
        assert_eq!(back.name, m.name, "{name}: the mapping's name comes back");
        // Catalog attributes at the catalog's path: no override written.
        assert!(back.source_attributes.is_empty(), "{name}: {:?}", back.source_attributes);
    }
}

#[test]
fn scope_source_attributes_and_what_entra_cannot_express() {
    let m = MappingConfig::from_toml(
        r#"
[[source_attribute]]
name = "empJobNavCustomString35"
jsonpath = "$.employmentNav.results[0].jobInfoNav.results[0].customString35"
[[source_attribute]]
name = "userStatus"
jsonpath = "$.employmentNav.results[-1:].userNav.status"
expand = ["employmentNav/userNav"]
[scope]
[[scope.groups]]
name = "Onboarding"
clauses = [{ attribute = "userStatus", operator = "NOT EQUALS", values = ["active_external_suite"] }]
[[scope.groups]]
clauses = [
  { attribute = "emplStatus", operator = "EQUALS", values = ["A", "U"] },
  { attribute = "personIdExternal", operator = "IS NOT NULL", values = [] },
]
[[mapping]]
target = "employeeID"
expression = "[personIdExternal]"
matching = 1
[[mapping]]
target = "extensionAttribute1"
expression = 'IIF([empJobNavCustomString35]="x", "X", [empJobNavCustomString35])'
default = "none"
flow = "always"
apply = "on-create"
[[mapping]]
target = "pager"
expression = "[personIdExternal]"
secret = true
[[mapping]]
target = "parentDistinguishedName"
default = "OU=Users,DC=contoso,DC=com"
"#,
    )
    .expect("mapping");
    let input = ExportInput {
        mapping: &m,
        origin: "mapping.toml",
        target: ExportTarget::ActiveDirectory,
        actions: ExportActions { create: true, update: false, disable: false, delete: true },
        not_expressible: vec![("flow.time_zone".into(), "Europe/Paris".into())],
    };
    let e = export_schema(&input).expect("exports");
    let v: Value = serde_json::from_str(&e.json).expect("JSON");
    let om = &v["synchronizationRules"][0]["objectMappings"][0];
    assert_eq!(om["flowTypes"], "Add, Delete");
    let g = &om["scope"]["groups"];
    assert_eq!(g[0]["name"], "Onboarding");
    assert_eq!(g[0]["clauses"][0]["operatorName"], "NOT EQUALS");
    assert_eq!(g[1]["clauses"][0]["targetOperand"]["values"], serde_json::json!(["A", "U"]));
    assert_eq!(g[1]["clauses"][1]["operatorName"], "IS NOT NULL");
    let am = &om["attributeMappings"];
    assert_eq!(am[1]["defaultValue"], "none");
    assert_eq!(am[1]["flowBehavior"], "FlowAlways");
    assert_eq!(am[1]["flowType"], "ObjectAddOnly");
    assert_eq!(am[3]["source"], Value::Null);
    let src = &v["directories"][0]["objects"][0]["attributes"];
    let custom = src
        .as_array()
        .and_then(|a| a.iter().find(|a| a["name"] == "empJobNavCustomString35"))
        .expect("custom attribute");
    assert_eq!(
        custom["apiExpressions"][0]["value"],
        "$.employmentNav.results[0].jobInfoNav.results[0].customString35"
    );
    for want in [
        "flow.time_zone: Europe/Paris",
        "mapping.toml: mapping[1] (target \"extensionAttribute1\").expression: the comparison",
        "mapping.toml: mapping[2] (target \"pager\").secret:",
        "mapping.toml: source_attribute[1] (\"userStatus\").expand:",
        "mapping.toml: flow.actions \"delete\"",
    ] {
        assert!(e.warnings.iter().any(|w| w.starts_with(want)), "{want}: {:#?}", e.warnings);
    }
    assert_eq!(e.warnings.len(), 5, "{:#?}", e.warnings);
    // Read back: the same mappings except `secret`, the same scope and paths.
    let imported = import_schema(&e.json).expect("imports");
    let back = MappingConfig::from_toml(&imported.mapping_toml).expect("loads");
    let mut want = m.clone();
    want.mappings[2].secret = false;
    same_mapping(&back, &want, "custom");
    let paths: Vec<(&str, Option<&str>)> =
        back.source_attributes.iter().map(|a| (a.name.as_str(), a.jsonpath.as_deref())).collect();
    assert_eq!(
        paths,
        [
            (
                "empJobNavCustomString35",
                Some("$.employmentNav.results[0].jobInfoNav.results[0].customString35")
            ),
            ("userStatus", Some("$.employmentNav.results[-1:].userNav.status")),
        ]
    );
    assert!(imported.config_toml.contains("actions = [\"create\", \"disable\"]"));
}
