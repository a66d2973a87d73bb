//! `hrsync import entra-schema` through the binary: a good export writes a
//! config and mapping that hrsync loads; a bad one names the JSON path,
//! exits 2 and writes nothing.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::{BIN, TempDir, text};

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../import/tests/fixtures").join(name)
}

pub fn import(file: &Path, out: &Path) -> Output {
    Command::new(BIN)
        .args(["import", "entra-schema"])
        .arg(file)
        .arg("--out")
        .arg(out)
        .output()
        .expect("run hrsync")
}

fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("read out dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn the_sf_to_ad_fixture_imports_into_a_config_that_loads() {
    let dir = TempDir::new("import-ok");
    let o = import(&fixture("sf-to-ad-edited.json"), &dir.0);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(listing(&dir.0), ["hrsync.toml", "mapping.toml"], "no temp file left");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("mappingType: unknown key"), "{}", text(&o));
    // Loads as hrsync's config without a server or secrets.
    let config = match hrsync_config::Config::load_local(dir.0.join("hrsync.toml")) {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    };
    assert!(matches!(config.target, hrsync_config::TargetConfig::Ldap(_)));
    let a = config.flow.actions;
    assert!(a.create && a.update && !a.disable && !a.delete, "{a:?}");
    assert_eq!(
        config.flow.mapping.mappings.iter().find(|m| m.matching.is_some()).map(|m| &m.target[..]),
        Some("employeeID")
    );
    assert!(config.flow.schema.contains("empJobNavCustomString35"));
}

#[test]
fn the_sf_to_entra_fixture_imports_into_a_graph_config_that_loads() {
    let dir = TempDir::new("import-entra");
    let o = import(&fixture("sf-to-entra-odd.json"), &dir.0);
    assert!(o.status.success(), "{}", text(&o));
    let config = match hrsync_config::Config::load_local(dir.0.join("hrsync.toml")) {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    };
    assert!(matches!(config.target, hrsync_config::TargetConfig::Graph(_)));
    let a = config.flow.actions;
    assert!(a.create && a.update && a.disable && !a.delete, "{a:?}");
    let m = &config.flow.mapping.mappings;
    let get = |t: &str| m.iter().find(|x| x.target == t).and_then(|x| x.expression.as_deref());
    // O4: the Function tree with no expression text, rebuilt.
    assert_eq!(
        get("accountEnabled"),
        Some("CBool(Switch([activeEmploymentsCount], \"True\", \"0\", \"False\"))")
    );
    // O1-O3: Attribute sources with an empty or missing expression.
    assert_eq!(get("jobTitle"), Some("[jobTitle]"));
    assert_eq!(get("department"), Some("[department]"));
    assert_eq!(get("companyName"), Some("[company]"));
}

/// The fixture with one change, as JSON text.
fn edited(f: impl FnOnce(&mut serde_json::Value)) -> String {
    let text = std::fs::read_to_string(fixture("sf-to-ad-edited.json")).expect("fixture");
    let mut v: serde_json::Value = serde_json::from_str(&text).expect("fixture JSON");
    f(&mut v);
    v.to_string()
}

#[test]
fn bad_input_names_the_json_path_exits_2_and_writes_nothing() {
    let good = std::fs::read_to_string(fixture("sf-to-ad-edited.json")).expect("fixture");
    let am = "synchronizationRules[0].objectMappings[0].attributeMappings";
    let cases: Vec<(&str, String, String)> = vec![
        ("truncated", good[..good.len() / 2].to_string(), "not valid JSON".into()),
        (
            "no source directory",
            edited(|v| {
                v["directories"] = serde_json::json!([]);
            }),
            "directories: no directories: the schema has no source directory".into(),
        ),
        (
            "source directory misnamed",
            edited(|v| {
                v["synchronizationRules"][0]["sourceDirectoryName"] = "Workday".into();
            }),
            "directories: no source directory: none is named \"Workday\"".into(),
        ),
        (
            "duplicate target",
            edited(|v| {
                v["synchronizationRules"][0]["objectMappings"][0]["attributeMappings"][5]["targetAttributeName"] =
                    "EmployeeID".into();
            }),
            format!("{am}[5]: duplicate target attribute EmployeeID"),
        ),
        (
            "expression does not parse",
            edited(|v| {
                v["synchronizationRules"][0]["objectMappings"][0]["attributeMappings"][3]["source"]
                    ["expression"] = "Join(\".\", [firstName]".into();
            }),
            format!("{am}[3].source.expression:"),
        ),
        (
            "JSONPath does not parse",
            edited(|v| {
                v["directories"][0]["objects"][0]["attributes"][2]["apiExpressions"][0]["value"] =
                    "$.personalInfoNav.results[?(@.x ==".into();
            }),
            "directories[0].objects[0].attributes[2].apiExpressions[0].value:".into(),
        ),
    ];
    for (what, json, want) in cases {
        let dir = TempDir::new("import-bad");
        let file = dir.0.join("schema.json");
        std::fs::write(&file, json).expect("write schema");
        let out = dir.0.join("out");
        std::fs::create_dir(&out).expect("out dir");
        let o = import(&file, &out);
        assert_eq!(o.status.code(), Some(2), "{what}: {}", text(&o));
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(stderr.contains(&want), "{what}: want {want:?}\n{}", text(&o));
        assert!(stderr.starts_with("error: "), "{what}: {}", text(&o));
        assert!(listing(&out).is_empty(), "{what}: wrote {:?}", listing(&out));
    }
    // An --out that is not a directory: nothing written, exit 2.
    let dir = TempDir::new("import-bad-out");
    let o = import(&fixture("sf-to-ad-edited.json"), &dir.0.join("missing"));
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(listing(&dir.0).is_empty());
}
