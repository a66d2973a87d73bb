//! Mapping errors point at the entry's line and, where the string's text
//! allows, inside the expression; they name the target attribute and the
//! expression. Needs the expression parser.

use crate::common;

use common::*;
use hrsync_config::{Config, MappingOrigin};
use hrsync_mapping::MappingConfig;

/// (case, replacement for line 22, expected `line:col`, field, cause fragment)
const CASES: &[(&str, &str, &str, &str, &str)] = &[
    (
        "parse error",
        r#"expression = 'Join(".", [firstName]'"#,
        "22:36",
        "flow.mapping[0].expression",
        "mapping for `employeeID`: expression `Join(\".\", [firstName]`",
    ),
    (
        "unknown source attribute",
        r#"expression = 'Join(" ", [firstName], [noSuchAttribute])'"#,
        "22:38",
        "flow.mapping[0].expression",
        "noSuchAttribute",
    ),
    (
        // Escapes make file and expression offsets differ: point at the string.
        "unknown attribute in an escaped basic string",
        r#"expression = "Join(\"x\", [noSuchAttribute])""#,
        "22:14",
        "flow.mapping[0].expression",
        "noSuchAttribute",
    ),
    (
        "unknown function",
        r#"expression = 'Frobnicate([firstName])'"#,
        "22:15",
        "flow.mapping[0].expression",
        "Frobnicate",
    ),
];

#[test]
fn inline_mapping_errors_point_into_the_expression() {
    let mut failures = Vec::new();
    for (name, line, at, field, cause) in CASES {
        let errs = errors(&with_lines(&[(22, line)]));
        let prefix = format!("/etc/hrsync/hrsync.toml:{at}: field `{field}`: ");
        if !errs
            .errors()
            .iter()
            .map(ToString::to_string)
            .any(|m| m.starts_with(&prefix) && m.contains(cause))
        {
            failures.push(format!("{name}: expected `{prefix}...{cause}...`, got:\n{errs}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn every_bad_entry_is_reported() {
    let text = with_lines(&[(
        22,
        "expression = '[nope1]'\n\n[[flow.mapping]]\ntarget = \"mail\"\nexpresion = '[x]'\n\n[[flow.mapping]]\ntarget = \"sn\"\nexpression = 'Mid([lastName], 1'\n\n[[flow.mapping]]\ntarget = \"employeeID\"\ndefault = \"dup\"",
    )]);
    let errs = errors(&text);
    let fields: Vec<_> = errs
        .errors()
        .iter()
        .map(|e| (e.position.map(|p| p.line), e.field.clone().unwrap_or_default()))
        .collect();
    assert_eq!(
        fields,
        vec![
            (Some(22), "flow.mapping[0].expression".into()),
            (Some(26), "flow.mapping[1].expresion".into()),
            (Some(30), "flow.mapping[2].expression".into()),
            (Some(33), "flow.mapping[3].target".into()),
        ],
        "{errs}"
    );
    assert!(errs.to_string().contains("target attribute `employeeID` is mapped twice"), "{errs}");
}

#[test]
fn mapping_file_errors_name_the_mapping_file_and_its_line() {
    let dir = temp_dir("mapping-file");
    let mapping = "name = \"custom\"\n\n[[mapping]]\ntarget = \"employeeID\"\nexpression = '[personIdExternal]'\nmatching = 1\n\n[[mapping]]\ntarget = \"displayName\"\nexpression = '''Join(\" \",\n  [firstName], [lastNam])'''\n";
    std::fs::write(dir.join("map.toml"), mapping).expect("write mapping");
    let config =
        with_lines(&[(18, "mapping = \"map.toml\""), (20, ""), (21, ""), (22, ""), (23, "")]);
    std::fs::write(dir.join("hrsync.toml"), &config).expect("write config");
    let errs = common::load(dir.join("hrsync.toml")).expect_err("bad mapping");
    let msg = errs.to_string();
    // `[lastNam]` is on line 11, column 16 of the mapping file.
    let expected = format!(
        "{}:11:16: field `mapping[1].expression`: mapping for `displayName`",
        dir.join("map.toml").display()
    );
    assert!(msg.starts_with(&expected), "expected {expected}\ngot {msg}");
    assert!(msg.contains("lastNam"), "{msg}");

    std::fs::write(dir.join("map.toml"), mapping.replace("[lastNam]", "[lastName]"))
        .expect("fix mapping");
    let loaded = common::load(dir.join("hrsync.toml")).expect("fixed mapping loads");
    assert_eq!(loaded.flow.origin, MappingOrigin::File(dir.join("map.toml")));
    assert_eq!(loaded.flow.mapping.name.as_deref(), Some("custom"));
    assert_eq!(loaded.flow.compiled.matching().len(), 1);
}

#[test]
fn mapping_file_syntax_and_unknown_keys_are_located_in_that_file() {
    let dir = temp_dir("mapping-file-syntax");
    let config =
        with_lines(&[(18, "mapping = \"map.toml\""), (20, ""), (21, ""), (22, ""), (23, "")]);
    std::fs::write(dir.join("hrsync.toml"), &config).expect("write config");
    let map = dir.join("map.toml").display().to_string();
    for (text, expected) in [
        (
            "[[mapping]]\ntarget = \"a\"\ndefault = \"x\"\nflow = \"sometimes\"\n",
            format!("{map}:4:8: field `mapping[0].flow`: unknown variant `sometimes`"),
        ),
        ("titel = \"x\"\n", format!("{map}:1:1: field `titel`: unknown field `titel`")),
        ("[[mapping]\n", format!("{map}:1:11: field `mapping`: TOML syntax")),
    ] {
        std::fs::write(dir.join("map.toml"), text).expect("write mapping");
        let msg = common::load(dir.join("hrsync.toml")).expect_err("bad mapping").to_string();
        assert!(msg.starts_with(&expected), "expected {expected}\ngot {msg}");
    }
}

#[test]
fn builtin_mapping_and_account_status() {
    let builtin_lines =
        [(18, "mapping = \"builtin:sf-to-ad\""), (20, ""), (21, ""), (22, ""), (23, "")];
    let config = parse(&with_lines(&builtin_lines)).expect("builtin loads");
    assert_eq!(config.flow.origin, MappingOrigin::Builtin("builtin:sf-to-ad".into()));
    let shipped = MappingConfig::sf_to_ad().expect("shipped mapping");
    assert_eq!(config.flow.mapping, shipped);
    let disabled = |c: &Config| {
        c.flow
            .compiled
            .mappings()
            .iter()
            .find(|m| m.config.target == "accountDisabled")
            .and_then(|m| m.config.expression.clone())
    };
    assert_eq!(
        disabled(&config).as_deref(),
        Some(r#"Switch([activeEmploymentsCount], "False", "0", "True")"#)
    );

    let mut lines = builtin_lines.to_vec();
    lines[1] = (20, "account_status = \"emplStatus\"");
    let config = parse(&with_lines(&lines)).expect("builtin with emplStatus loads");
    assert_eq!(
        disabled(&config).as_deref(),
        Some(r#"Switch([emplStatus], "True", "A", "False", "U", "False", "P", "False")"#)
    );
    assert!(config.flow.compiled.referenced_attributes().contains(&"emplStatus"));

    // [flow.scope] scopes the built-in mapping.
    lines[1] = (
        20,
        "scope = { groups = [{ clauses = [{ attribute = \"twoCharCountryCode\", operator = \"EQUALS\", values = [\"DE\"] }] }] }",
    );
    let config = parse(&with_lines(&lines)).expect("builtin with scope loads");
    assert!(!config.flow.scope.is_empty());
    assert!(config.flow.mapping.scope.is_some());
}

#[test]
fn scope_may_not_be_given_twice() {
    let dir = temp_dir("scope-twice");
    std::fs::write(
        dir.join("map.toml"),
        "[[mapping]]\ntarget = \"a\"\ndefault = \"x\"\n[[scope.groups]]\nclauses = [{ attribute = \"country\", operator = \"IS NOT NULL\" }]\n",
    )
    .expect("write mapping");
    let config = with_lines(&[
        (18, "mapping = \"map.toml\""),
        (
            20,
            "scope = { groups = [{ clauses = [{ attribute = \"country\", operator = \"IS NULL\" }] }] }",
        ),
        (21, ""),
        (22, ""),
        (23, ""),
    ]);
    std::fs::write(dir.join("hrsync.toml"), &config).expect("write config");
    let msg = common::load(dir.join("hrsync.toml")).expect_err("scope twice").to_string();
    let expected = format!(
        "{}:20:9: field `flow.scope`: `scope` is also given in the mapping file",
        dir.join("hrsync.toml").display()
    );
    assert!(msg.starts_with(&expected), "expected {expected}\ngot {msg}");
}
