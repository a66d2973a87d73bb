//! The registry: kinds, connection tables into typed configs, findings by
//! field, and building targets.

use hrsync_target::Target;
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

use crate::*;

#[test]
fn kinds_parse_as_written_and_all_are_implemented() {
    for (name, kind) in [
        ("embedded", Kind::Embedded),
        ("ldap", Kind::Ldap),
        ("scim", Kind::Scim),
        ("graph", Kind::Graph),
    ] {
        let parsed: Kind = serde_json::from_value(json!(name)).expect("kind");
        assert_eq!((parsed, parsed.name()), (kind, name));
    }
    assert!(Kind::Scim.implemented() && Kind::Ldap.implemented() && Kind::Graph.implemented());
    assert_eq!(Kind::implemented_names(), ["embedded", "ldap", "scim", "graph"]);
    assert!(serde_json::from_value::<Kind>(json!("ftp")).is_err());
}

fn ldap(connection: serde_json::Value) -> Result<TargetConfig, serde_json::Error> {
    let read = TargetConfig::from_connection(Kind::Ldap, connection)?;
    assert!(read.unknown.is_empty(), "unknown keys: {:?}", read.unknown);
    Ok(read.config)
}

#[test]
fn ldap_connections_return_typos_and_report_problems_by_field() {
    let base = json!({
        "url": "ldaps://dc1.example.com", "bind_dn": "CN=svc,DC=example,DC=com",
        "base_dn": "DC=example,DC=com", "profile": "active-directory",
    });
    let mut config = ldap(base.clone()).expect("valid");
    let fields: Vec<String> = config.problems().into_iter().map(|f| f.field).collect();
    assert_eq!(fields, ["password_env"], "the password is set by the loader, not the table");
    config.set_secret(SecretString::from("pw"));
    assert!(config.problems().is_empty(), "{:?}", config.problems());
    // Typos do not stop the read: all are returned, also inside the
    // disable strategy, for the loader to refuse at their lines.
    for typo in ["start_tls", "tls_verfy", "pool_sise", "password"] {
        let mut c = base.clone();
        c[typo] = json!(true);
        let read = TargetConfig::from_connection(Kind::Ldap, c).expect(typo);
        assert_eq!(read.unknown, [typo]);
        let TargetConfig::Ldap(l) = read.config else { panic!("ldap") };
        assert!(!l.starttls && l.tls_verify && l.pool_size == 8, "{typo} changes nothing");
    }
    let mut strategy = base.clone();
    strategy["profile"] = json!("inet-org-person");
    strategy["disable"] =
        json!({"strategy": "attribute", "attribute": "a", "value": "v", "vaule": "x"});
    let read = TargetConfig::from_connection(Kind::Ldap, strategy).expect("parses");
    assert_eq!(read.unknown, ["disable.vaule"]);
    let mut bad = base.clone();
    bad["base_dn"] = json!("not a dn");
    bad["pool_size"] = json!(0);
    let mut bad = ldap(bad).expect("parses");
    bad.set_secret(SecretString::from("pw"));
    let findings = bad.problems();
    let fields: Vec<&str> = findings.iter().map(|f| f.field.as_str()).collect();
    assert_eq!(fields, ["base_dn", "pool_size"], "{findings:?}");

    config.resolve_paths(std::path::Path::new("/etc/hrsync"));
    let TargetConfig::Ldap(l) = &config else { panic!("ldap") };
    assert_eq!(l.password.expose_secret(), "pw");
    assert!(!format!("{config:?}").contains("\"pw\""), "Debug redacts the secret");
}

/// The keys suggested for a typo come from the types' own serde fields,
/// so a new setting is suggested without a list to keep in step.
#[test]
fn typos_get_the_key_they_were_probably_meant_to_be() {
    let keys = Kind::Ldap.known_keys("");
    for k in ["url", "starttls", "tls_verify", "pool_size", "allow_plaintext_bind", "password_env"]
    {
        assert!(keys.contains(&k), "{k} in {keys:?}");
    }
    assert!(!keys.contains(&"password"), "the inline password is never a key to suggest");
    assert_eq!(Kind::Ldap.known_keys("disable"), ["strategy", "attribute", "value", "container"]);
    for (typo, meant) in [
        ("start_tls", Some("starttls")),
        ("StartTLS", Some("starttls")),
        ("tls_verfy", Some("tls_verify")),
        ("pool_sise", Some("pool_size")),
        ("pasword_env", Some("password_env")),
        ("allow_plain_text_bind", Some("allow_plaintext_bind")),
        ("disable.vaule", Some("value")),
        ("colour", None),
        ("tls", None),
    ] {
        assert_eq!(Kind::Ldap.suggest(typo), meant, "{typo}");
    }
    assert_eq!(Kind::Scim.suggest("concurency"), Some("concurrency"));
    assert_eq!(Kind::Scim.suggest("quirks.string_boolean"), Some("string_booleans"));
    assert!(Kind::Ldap.refuses_unknown_keys() && Kind::Scim.refuses_unknown_keys());
}

#[test]
fn connection_paths_resolve_against_the_config_directory() {
    let mut c = ldap(json!({
        "url": "ldaps://dc1.example.com", "bind_dn": "CN=svc,DC=x", "base_dn": "DC=x",
        "profile": "active-directory", "ca_file": "ca.pem",
    }))
    .expect("valid");
    c.resolve_paths(std::path::Path::new("/etc/hrsync"));
    let TargetConfig::Ldap(l) = &c else { panic!("ldap") };
    assert_eq!(l.ca_file.as_deref(), Some(std::path::Path::new("/etc/hrsync/ca.pem")));
    let findings = c.problems();
    assert!(
        findings.iter().any(|f| f.field == "ca_file" && f.message.contains("/etc/hrsync/ca.pem")),
        "an unreadable CA file is a problem at ca_file: {findings:?}"
    );
}

#[tokio::test]
async fn build_turns_each_kind_into_its_target() {
    let dir = std::env::temp_dir().join(format!("hrsync-targets-build-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("target.sqlite");
    let config =
        TargetConfig::Embedded(EmbeddedConfig { path: path.clone(), unique: vec!["uid".into()] });
    let lookup = ["employeeID"];
    let t = build(&config, &BuildContext { lookup_attributes: &lookup }).expect("embedded");
    assert_eq!(t.kind(), "embedded");
    let again = build(&config, &BuildContext::default()).err().expect("the file is locked");
    assert!(again.to_string().contains(&path.display().to_string()), "{again}");
    drop(t);

    let mut l = ldap(json!({
        "url": "ldap://127.0.0.1:1", "bind_dn": "cn=svc,dc=x", "base_dn": "dc=x",
        "profile": "inet-org-person",
    }))
    .expect("valid");
    l.set_secret(SecretString::from("pw"));
    let t = build(&l, &BuildContext::default()).expect("ldap builds without connecting");
    assert_eq!(t.kind(), "ldap");
    assert!(t.secret_attributes().contains(&"unicodePwd"));
    let _ = std::fs::remove_dir_all(dir);
}
