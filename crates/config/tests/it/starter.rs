//! The starter config `hrsync init` writes loads cleanly, both with the
//! built-in mapping and with the mapping copy written beside it, once the
//! key pair it names exists (`hrsync keys generate --out keys`): it leads
//! with OAuth (SAML bearer), SAP having retired basic authentication.

use crate::common;

use common::*;
use hrsync_config::{
    InitError, MAPPING_FILE_NAME, MappingOrigin, STARTER, TargetConfig, write_starter,
};
use hrsync_mapping::MappingConfig;

/// What `hrsync keys generate --out DIR/keys` writes.
fn generate_keys(dir: &std::path::Path) {
    let validity = hrsync_sf_auth::keys::Validity::years_from_today(2);
    let keys = hrsync_sf_auth::keys::generate("hrsync", validity).expect("generate keys");
    hrsync_sf_auth::keys::write(&dir.join("keys"), &keys).expect("write keys");
}

#[test]
fn starter_loads_with_the_builtin_mapping() {
    let dir = temp_dir("starter-builtin");
    generate_keys(&dir);
    let config = common::parse_at(STARTER, dir.join("hrsync.toml"))
        .unwrap_or_else(|e| panic!("starter does not load:\n{e}"));
    assert_eq!(config.source.auth.method(), "saml-bearer");
    assert!(config.source.client.token_provider.is_some(), "requests carry OAuth tokens");
    assert_eq!(config.flow.origin, MappingOrigin::Builtin("builtin:sf-to-ad".into()));
    assert_eq!(config.flow.mapping, MappingConfig::sf_to_ad().expect("shipped mapping"));
    assert!(matches!(config.target, TargetConfig::Embedded(ref e) if e.unique.len() == 2));
    assert!(!config.source.client.danger_accept_invalid_certs);
    assert!(!format!("{config:?}").contains(PASSWORD));
}

#[test]
fn starter_keeps_secrets_out_and_explains_every_section() {
    assert!(STARTER.contains("\nmethod = \"saml-bearer\"\n"), "OAuth leads");
    assert!(
        STARTER.contains("\n# method = \"basic\"\n"),
        "basic only as a commented sandbox option"
    );
    assert!(STARTER.contains("# password_env = \"HRSYNC_SF_PASSWORD\""));
    assert!(
        !STARTER.lines().any(|l| l.trim_start().starts_with("password =")),
        "no inline password, even commented"
    );
    // Each section header is introduced by a comment.
    let lines: Vec<&str> = STARTER.lines().collect();
    for (i, line) in lines.iter().enumerate().filter(|(_, l)| l.starts_with('[')) {
        let above = lines[..i].iter().rev().find(|l| !l.trim().is_empty()).copied().unwrap_or("");
        assert!(above.starts_with('#'), "section `{line}` has no comment above it");
    }
}

#[test]
fn init_writes_config_and_mapping_copy_and_refuses_to_overwrite() {
    let dir = temp_dir("init");
    let config_path = dir.join("hrsync.toml");
    generate_keys(&dir);
    let written = write_starter(&config_path, false).expect("first write");
    assert_eq!(written, vec![config_path.clone(), dir.join(MAPPING_FILE_NAME)]);
    assert_eq!(std::fs::read_to_string(&config_path).expect("config written"), STARTER);

    // The starter loads as written, and pointed at the mapping copy.
    let builtin = common::load(&config_path).unwrap_or_else(|e| panic!("{e}"));
    let switched =
        STARTER.replace("mapping = \"builtin:sf-to-ad\"", "mapping = \"hrsync-mapping.toml\"");
    assert_ne!(switched, STARTER);
    std::fs::write(&config_path, &switched).expect("switch mapping");
    let copy = common::load(&config_path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(copy.flow.origin, MappingOrigin::File(dir.join(MAPPING_FILE_NAME)));
    assert_eq!(copy.flow.mapping, builtin.flow.mapping);

    // Without --force nothing is touched, whichever file exists.
    match write_starter(&config_path, false) {
        Err(InitError::Exists(p)) => assert_eq!(p, config_path),
        other => panic!("expected Exists, got {other:?}"),
    }
    assert_eq!(std::fs::read_to_string(&config_path).expect("kept"), switched);
    std::fs::remove_file(&config_path).expect("remove config");
    match write_starter(&config_path, false) {
        Err(InitError::Exists(p)) => assert_eq!(p, dir.join(MAPPING_FILE_NAME)),
        other => panic!("expected Exists, got {other:?}"),
    }
    assert!(!config_path.exists(), "config must not be written when the mapping copy exists");

    std::fs::write(&config_path, "garbage").expect("garbage");
    write_starter(&config_path, true).expect("force overwrites");
    assert_eq!(std::fs::read_to_string(&config_path).expect("rewritten"), STARTER);
}

#[test]
fn init_force_keeps_a_customised_mapping_file() {
    let dir = temp_dir("init-force");
    let mapping = dir.join(MAPPING_FILE_NAME);
    write_starter(&dir.join("hrsync.toml"), false).expect("first write");
    let customised = std::fs::read_to_string(&mapping)
        .expect("mapping copy")
        .replace("contoso.com", "acme.example");
    std::fs::write(&mapping, &customised).expect("customise");
    // A second config in the same directory, forced: the mapping is not its own.
    let other = dir.join("other.toml");
    let written = write_starter(&other, true).expect("force");
    assert_eq!(written, vec![other.clone()]);
    assert_eq!(std::fs::read_to_string(&mapping).expect("kept"), customised);
    assert_eq!(std::fs::read_to_string(&other).expect("written"), STARTER);
    // An unchanged copy is hrsync's own and is written again.
    std::fs::remove_file(&mapping).expect("remove");
    let written = write_starter(&other, true).expect("force");
    assert_eq!(written, vec![other, mapping]);
}

/// The starter with the active `[source.auth]` settings swapped for the
/// commented lines from the one reading `# method = "{method}"` up to the
/// first that is not a `key = value` line; `assertion` picks one of the
/// commented assertion lines. `saml-bearer`, the active one, is the starter.
fn starter_with(method: &str, assertion: Option<&str>) -> String {
    if method == "saml-bearer" {
        return STARTER.to_owned();
    }
    let mut out = Vec::new();
    let mut in_auth = false;
    let mut in_block = false;
    let start = format!("# method = \"{method}\"");
    for line in STARTER.lines() {
        if line.starts_with('[') {
            in_auth = line == "[source.auth]";
            out.push(line.to_owned());
            continue;
        }
        let active_setting = !line.starts_with('#') && line.contains(" = ");
        if in_auth && active_setting {
            continue;
        }
        if line == start {
            in_block = true;
        }
        let body = line.strip_prefix("# ").unwrap_or(line);
        let is_setting = body.split_once(" = ").is_some_and(|(k, _)| !k.contains(' '));
        if in_block && !is_setting {
            in_block = false;
        }
        let wanted = match (body.starts_with("assertion = "), assertion) {
            (true, Some(kind)) => body.contains(&format!("type = \"{kind}\"")),
            (true, None) => false,
            (false, _) => in_block,
        };
        out.push(if wanted { body } else { line }.to_owned());
    }
    out.join("\n")
}

#[test]
fn starter_oauth_examples_use_the_real_fields() {
    // The example files do not exist under /etc/hrsync: the only errors must be about reading them.
    let cases: &[(&str, Option<&str>, &[&str])] = &[
        ("saml-bearer", None, &["source.auth.private_key_file", "source.auth.certificate_file"]),
        ("workload-identity", Some("self-signed"), &["source.auth.assertion.private_key_file"]),
        ("workload-identity", Some("federated-file"), &[]),
        ("workload-identity", Some("entra"), &["source.auth.assertion.certificate_file"]),
        // The sandbox option: HRSYNC_SF_PASSWORD is set in common::env.
        ("basic", None, &[]),
    ];
    for (method, assertion, fields) in cases {
        let text = starter_with(method, *assertion);
        assert!(
            text.contains(&format!("\nmethod = \"{method}\"")),
            "{method} uncommented:\n{text}"
        );
        for other in ["basic", "saml-bearer", "workload-identity"].iter().filter(|m| *m != method) {
            assert!(
                !text.contains(&format!("\nmethod = \"{other}\"")),
                "{method}: {other} still active"
            );
        }
        let got: Vec<String> = match common::parse_at(&text, "/etc/hrsync/hrsync.toml") {
            Ok(c) => {
                assert_eq!(c.source.auth.method(), *method);
                Vec::new()
            }
            Err(errs) => errs
                .errors()
                .iter()
                .map(|e| {
                    assert!(e.cause.starts_with("cannot read"), "{method} {assertion:?}: {e}");
                    e.field.clone().unwrap_or_default()
                })
                .collect(),
        };
        assert_eq!(got, *fields, "{method} {assertion:?}");
    }
}

#[test]
fn the_starters_further_flow_loads_when_uncommented() {
    let dir = temp_dir("starter-flows");
    generate_keys(&dir);
    let at = STARTER.find("# [[flows]]").expect("the starter shows a [[flows]] entry");
    let (head, tail) = STARTER.split_at(at);
    let uncommented: String =
        tail.lines().map(|l| l.strip_prefix("# ").unwrap_or(l)).collect::<Vec<_>>().join("\n");
    let text = format!("{head}{uncommented}\n");
    let env = |name: &str| match name {
        "HRSYNC_LAB_LDAP_PASSWORD" => Ok("lab-secret".to_owned()),
        other => common::env(other),
    };
    let config = hrsync_config::Config::parse_with_env(&text, dir.join("hrsync.toml"), &env)
        .unwrap_or_else(|e| panic!("the uncommented [[flows]] entry does not load:\n{e}\n{text}"));
    let lab = config.flow_named("lab").expect("flow lab");
    assert!(matches!(lab.target, TargetConfig::Ldap(_)), "{:?}", lab.target);
    assert_eq!(lab.flow.origin, MappingOrigin::Builtin("builtin:sf-to-openldap".into()));
    assert!(!format!("{config:?}").contains("lab-secret"));
}
