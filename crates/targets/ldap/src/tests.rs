//! Unit tests of the pure parts: escaping, DN parsing, value conversion,
//! account status bits, passwords, GUIDs, error mapping and config checks.

use hrsync_target::{AttributeUpdate, TargetError};
use ldap3::LdapResult;
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

use crate::config::{ConfigError, DisableStrategy, LdapConfig, Profile};
use crate::dn::{Dn, escape_dn_value, escape_filter_value};
use crate::request_builder::*;
use crate::service::{Context, OpError, map_error};

#[test]
fn dn_values_are_escaped_per_rfc_4514_and_parse_back() {
    // (value, escaped form)
    let cases = [
        ("Smith, John", r"Smith\2c John"),
        ("a+b", r"a\2bb"),
        ("say \"hi\"", r#"say \22hi\22"#),
        (r"back\slash", r"back\5cslash"),
        (" leading", r"\20leading"),
        ("trailing ", r"trailing\20"),
        ("#hash", r"\23hash"),
        ("mid#hash", "mid#hash"),
        ("nul\0byte", r"nul\00byte"),
        ("semi;colon<>=", r"semi\3bcolon\3c\3e\3d"),
        ("Zoë Ångström 山田", "Zoë Ångström 山田"),
        ("plain", "plain"),
    ];
    for (value, escaped) in cases {
        assert_eq!(escape_dn_value(value), escaped, "escaping {value:?}");
        let dn = format!("cn={escaped},ou=people,dc=hrsync,dc=test");
        let parsed = Dn::parse(&dn).unwrap_or_else(|e| panic!("{dn}: {e}"));
        assert_eq!(parsed.rdn_value("CN"), Some(value), "round trip of {value:?}");
        assert_eq!(Dn::raw_parent(&dn), "ou=people,dc=hrsync,dc=test");
        assert_eq!(Dn::parse(&parsed.to_string()).unwrap(), parsed);
    }
}

#[test]
fn dns_compare_as_servers_do() {
    let a = Dn::parse(r"CN=Smith\, John,OU=Sales,DC=hrsync,DC=test").unwrap();
    let b = Dn::parse(r"cn=smith\2C john, ou=SALES,dc=hrsync,dc=test").unwrap();
    assert_eq!(a, b);
    assert_ne!(a, a.parent());
    assert_eq!(a.parent().to_string(), "OU=Sales,DC=hrsync,DC=test");
    assert_eq!(a.domain_root().to_string(), "DC=hrsync,DC=test");
    assert!(a.is_within(&Dn::parse("dc=HRSYNC,dc=test").unwrap()));
    assert_eq!(Dn::parse(r#"cn="Smith, John",o=x"#).unwrap().rdn_value("cn"), Some("Smith, John"));
    assert_eq!(Dn::parse("cn=a+uid=b,o=x").unwrap().rdns[0].len(), 2);
    assert_eq!(Dn::raw_parent(r#"cn="a,b",o=x"#), "o=x");
    for bad in ["cn", "=x", r"cn=a\", r"cn=a\4", "cn=\"open"] {
        assert!(Dn::parse(bad).is_err(), "{bad:?} must not parse");
    }
    // Escaped UTF-8 bytes decode to text; broken UTF-8 is an error, not a panic.
    assert_eq!(Dn::parse(r"cn=Zo\c3\ab").unwrap().rdn_value("cn"), Some("Zoë"));
    assert!(Dn::parse(r"cn=\ff").is_err());
}

#[test]
fn filter_values_are_escaped_per_rfc_4515() {
    let cases = [
        ("a*b", r"a\2ab"),
        ("(x)", r"\28x\29"),
        (r"c:\dir", r"c:\5cdir"),
        ("nul\0", r"nul\00"),
        ("Zoë", "Zoë"),
        ("a,b+c", "a,b+c"),
    ];
    for (value, escaped) in cases {
        assert_eq!(escape_filter_value(value), escaped);
        // ldap3 must accept what we build.
        let filter = format!("(cn={escaped})");
        assert!(ldap3::parse_filter(&filter).is_ok(), "{filter}");
    }
}

#[test]
fn json_values_become_ldap_values() {
    assert_eq!(values("a", &json!("x")).unwrap(), vec!["x"]);
    assert_eq!(values("a", &json!(["x", "y"])).unwrap(), vec!["x", "y"]);
    assert_eq!(values("a", &json!(42)).unwrap(), vec!["42"]);
    assert_eq!(values("a", &json!(true)).unwrap(), vec!["TRUE"]);
    assert!(values("a", &json!(null)).unwrap().is_empty());
    assert!(values("a", &json!("")).unwrap().is_empty());
    assert!(matches!(values("a", &json!({"k": 1})), Err(TargetError::Rejected { .. })));
    assert!(matches!(values("a", &json!([["x"]])), Err(TargetError::Rejected { .. })));
    assert!(single("a", &json!(["x", "y"])).is_err());
}

#[test]
fn account_disabled_toggles_only_its_bit() {
    let cases = [
        (512, true, 514),
        (514, false, 512),
        (512, false, 512),
        (0, false, 512),
        // DONT_EXPIRE_PASSWORD | NORMAL_ACCOUNT stays as it is.
        (0x10200, true, 0x10202),
        (0x10202, false, 0x10200),
    ];
    for (uac, disabled, want) in cases {
        assert_eq!(apply_disabled(uac, disabled), want, "{uac:#x} disabled={disabled}");
    }
    for (v, want) in [
        (json!("True"), true),
        (json!("false"), false),
        (json!(true), true),
        (json!("1"), true),
        (json!(0), false),
        (json!(null), false),
    ] {
        assert_eq!(parse_disabled(&v).unwrap(), want, "{v}");
    }
    assert!(parse_disabled(&json!("maybe")).is_err());
}

#[test]
fn ad_passwords_are_quoted_utf16le() {
    // The value real-servers.md verified against Samba: base64 IgBTAHQAcgAwAG4AZwAhAFAAYQBzAHMALQAxACIA
    let want: Vec<u8> = "\"Str0ng!Pass-1\"".encode_utf16().flat_map(u16::to_le_bytes).collect();
    assert_eq!(ad_password_bytes("Str0ng!Pass-1"), want);
    assert_eq!(&ad_password_bytes("é")[..], &[0x22, 0, 0xe9, 0, 0x22, 0]);
}

#[test]
fn generated_passwords_meet_complexity_and_differ() {
    let a = generate_password().unwrap();
    let b = generate_password().unwrap();
    assert_ne!(a, b);
    for p in [&a, &b] {
        assert_eq!(p.chars().count(), 24);
        assert!(p.chars().any(|c| c.is_ascii_uppercase()), "{p}");
        assert!(p.chars().any(|c| c.is_ascii_lowercase()), "{p}");
        assert!(p.chars().any(|c| c.is_ascii_digit()), "{p}");
        assert!(p.chars().any(|c| !c.is_ascii_alphanumeric()), "{p}");
    }
}

#[test]
fn guids_use_the_microsoft_byte_order() {
    let bytes: Vec<u8> = (0u8..16).collect();
    let s = guid_to_string(&bytes).unwrap();
    assert_eq!(s, "03020100-0504-0706-0809-0a0b0c0d0e0f");
    assert_eq!(guid_from_string(&s).unwrap().to_vec(), bytes);
    assert_eq!(guid_from_string(&format!("{{{}}}", s.to_uppercase())).unwrap().to_vec(), bytes);
    assert!(guid_to_string(&bytes[..15]).is_none());
    for bad in [
        "",
        "03020100-0504-0706-0809-0a0b0c0d0e0",
        "030201000504070608090a0b0c0d0e0f",
        "zz020100-0504-0706-0809-0a0b0c0d0e0f",
    ] {
        assert!(guid_from_string(bad).is_none(), "{bad:?}");
    }
    assert!(is_uuid("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"));
    assert!(!is_uuid("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0)(cn=*"));
}

fn server(rc: u32, text: &str) -> OpError {
    OpError::Server(LdapResult {
        rc,
        matched: String::new(),
        text: text.into(),
        refs: vec![],
        ctrls: vec![],
    })
}

#[test]
fn ldap_results_map_to_target_errors_with_code_text_and_dn() {
    let ctx = Context { operation: "create", dn: "CN=Jane,OU=X,DC=hrsync,DC=test", id: None };
    let with_id =
        Context { operation: "update", dn: "CN=Jane,OU=X,DC=hrsync,DC=test", id: Some("abc") };
    match map_error(&ctx, server(68, "00002071: samldb: samAccountName 'jdoe' already in use!")) {
        TargetError::AlreadyExists { attribute, value, .. } => {
            assert_eq!((attribute.as_str(), value.as_str()), ("sAMAccountName", "jdoe"))
        }
        other => panic!("{other:?}"),
    }
    match map_error(
        &ctx,
        server(19, "0000202F: samldb: userPrincipalName 'j@hrsync.test' is already in use"),
    ) {
        TargetError::AlreadyExists { attribute, value, .. } => {
            assert_eq!((attribute.as_str(), value.as_str()), ("userPrincipalName", "j@hrsync.test"))
        }
        other => panic!("{other:?}"),
    }
    match map_error(&ctx, server(68, "")) {
        TargetError::AlreadyExists { attribute, value, .. } => {
            assert_eq!((attribute.as_str(), value.as_str()), ("distinguishedName", ctx.dn))
        }
        other => panic!("{other:?}"),
    }
    assert!(
        matches!(map_error(&with_id, server(32, "")), TargetError::NotFound { ref id, .. } if id == "abc")
    );
    // A missing parent on create is the mapping's problem, not a vanished object.
    let e = map_error(&ctx, server(32, "no such parent"));
    assert!(
        matches!(e, TargetError::Rejected { .. })
            && e.to_string().contains("noSuchObject (32)")
            && e.to_string().contains("OU=X"),
        "{e}"
    );
    let e = map_error(
        &ctx,
        server(19, "0000052D: check_password_restrictions: the password is too short"),
    );
    assert!(
        matches!(e, TargetError::Rejected { .. })
            && e.to_string().contains("too short")
            && !e.retryable(),
        "{e}"
    );
    let e = map_error(&ctx, server(50, "no write access to parent"));
    assert!(
        e.to_string().contains("insufficientAccessRights (50)")
            && e.to_string().contains("no write access"),
        "{e}"
    );
    assert!(map_error(&ctx, server(4, "")).to_string().contains("sizeLimitExceeded"));
    for transient in [3, 51, 52, 49] {
        assert!(map_error(&ctx, server(transient, "")).retryable(), "{transient}");
    }
    let reset = map_error(&ctx, OpError::Transport("I/O error: connection reset".into()));
    assert!(reset.retryable() && !reset.unreachable(), "{reset:?}");
    // No connection, or a refused bind: the directory is out of reach and
    // the engine stops the cycle, whatever the operation.
    for e in [
        OpError::Connect("cannot connect to ldap://127.0.0.1:1: Connection refused".into()),
        OpError::Bind("ldap://x refused the bind as \"cn=svc\": invalidCredentials (49)".into()),
        server(49, ""),
    ] {
        let e = map_error(&ctx, e);
        assert!(matches!(e, TargetError::Unreachable { operation: "create", .. }), "{e:?}");
    }
    assert!(!map_error(&ctx, server(51, "")).unreachable());
}

#[test]
fn config_is_checked_before_connecting() {
    let ok = LdapConfig::new(
        "ldaps://dc.example.test",
        "CN=svc,DC=example,DC=test",
        SecretString::from("pw"),
        "DC=example,DC=test",
        Profile::ActiveDirectory,
    );
    assert!(ok.validate().is_ok());
    assert!(ok.is_protected());
    let mut c = ok.clone();
    c.url = "http://x".into();
    assert!(c.validate().is_err());
    let mut c = ok.clone();
    c.starttls = true;
    assert!(c.validate().is_err(), "starttls on ldaps:// makes no sense");
    let mut c = ok.clone();
    c.base_dn = "not a dn".into();
    assert!(c.validate().unwrap_err().to_string().contains("base_dn"));
    let mut c = ok.clone();
    c.page_size = 5000;
    assert!(c.validate().is_err(), "AD's MaxPageSize is 1000");
    let mut c = ok.clone();
    c.disable =
        Some(DisableStrategy::MoveTo { container: "OU=Disabled,DC=example,DC=test".into() });
    assert!(c.validate().is_err(), "AD disables through userAccountControl only");
    let mut c = ok;
    c.url = "ldap://dc.example.test".into();
    assert!(!c.is_protected());
    // The config file shape. The password is never part of it (the loader
    // sets it from password_env / password_file).
    let mut parsed: LdapConfig = serde_json::from_value(json!({
        "url": "ldap://127.0.0.1:389", "starttls": true, "bind_dn": "cn=svc,dc=x",
        "base_dn": "dc=x", "profile": "inet-org-person",
        "disable": {"strategy": "attribute", "attribute": "employeeType", "value": "disabled"}
    }))
    .unwrap();
    assert_eq!(
        parsed.validate().map_err(|e| e.field()),
        Err("password_env"),
        "a simple bind without a password would be anonymous"
    );
    parsed.password = SecretString::from("pw");
    assert!(parsed.validate().is_ok());
    assert!(parsed.tls_verify, "verification is on unless turned off");
    assert_eq!(parsed.naming_attribute, "cn");
    assert!(parsed.warnings().is_empty(), "{:?}", parsed.warnings());
}

fn shape(extra: serde_json::Value) -> Result<LdapConfig, serde_json::Error> {
    let mut v = json!({
        "url": "ldaps://dc.example.test", "bind_dn": "CN=svc,DC=example,DC=test",
        "base_dn": "DC=example,DC=test", "profile": "active-directory",
    });
    for (k, x) in extra.as_object().cloned().unwrap_or_default() {
        v[k] = x;
    }
    let mut c: LdapConfig = serde_json::from_value(v)?;
    c.password = SecretString::from("pw");
    Ok(c)
}

/// The type ignores unknown keys (and never takes the password from the
/// file): the config loader finds all of them with serde_ignored and refuses
/// each at its line (tested in hrsync-targets and hrsync-config).
#[test]
fn unknown_keys_are_ignored_by_the_type_and_change_nothing() {
    let plain = shape(json!({})).expect("parses");
    for typo in ["start_tls", "tls_verfy", "pool_sise", "password", "password_env"] {
        let c = shape(json!({ typo: true })).unwrap_or_else(|e| panic!("{typo}: {e}"));
        assert_eq!(
            (c.starttls, c.tls_verify, c.pool_size),
            (plain.starttls, plain.tls_verify, plain.pool_size),
            "{typo}"
        );
        assert_eq!(c.password.expose_secret(), "pw", "{typo}: the file never sets the password");
    }
}

#[test]
fn every_problem_is_listed_with_its_field() {
    let c = shape(json!({
        "base_dn": "not a dn", "pool_size": 0, "in_flight_per_connection": 0, "page_size": 0,
        "connect_timeout_secs": 0, "default_container": "also not", "naming_attribute": "",
        "disable": {"strategy": "move-to", "container": "OU=x,DC=y"},
    }))
    .expect("parses");
    let fields: Vec<&str> = c.problems().iter().map(ConfigError::field).collect();
    assert_eq!(
        fields,
        [
            "base_dn",
            "default_container",
            "connect_timeout_secs",
            "pool_size",
            "in_flight_per_connection",
            "page_size",
            "naming_attribute",
            "disable"
        ]
    );
    assert_eq!(c.validate().unwrap_err().field(), "base_dn", "validate gives the first");
    let empty = shape(json!({"base_dn": ""})).expect("parses");
    assert_eq!(empty.problems()[0].field(), "base_dn");
    let inet = shape(json!({"profile": "inet-org-person", "disable": {"strategy": "move-to", "container": "nope"}}))
        .expect("parses");
    assert_eq!(
        inet.problems().iter().map(ConfigError::field).collect::<Vec<_>>(),
        ["disable.container"]
    );
    let sasl = shape(json!({"bind": "sasl-external", "bind_dn": ""})).expect("parses");
    assert!(sasl.problems().is_empty(), "no bind DN needed for SASL EXTERNAL");
    let simple = shape(json!({"bind_dn": ""})).expect("parses");
    assert_eq!(simple.problems().iter().map(ConfigError::field).collect::<Vec<_>>(), ["bind_dn"]);
    let missing_ca = shape(json!({"ca_file": "/nonexistent/ca.pem"})).expect("parses");
    assert_eq!(
        missing_ca.problems().iter().map(ConfigError::field).collect::<Vec<_>>(),
        ["ca_file"]
    );
}

#[test]
fn a_simple_bind_in_clear_to_a_remote_host_is_refused_unless_allowed() {
    let plain = |url: &str, extra: serde_json::Value| {
        let mut e = json!({ "url": url });
        for (k, x) in extra.as_object().cloned().unwrap_or_default() {
            e[k] = x;
        }
        shape(e).expect("parses")
    };
    for url in ["ldap://dc.example.test", "ldap://10.0.0.5:389", "LDAP://dc.example.test/"] {
        // The bind password would cross the network in clear: refused at the url.
        let c = plain(url, json!({}));
        let p = c.problems();
        assert!(
            p.len() == 1
                && p[0].field() == "url"
                && p[0].to_string().contains("sends the bind password across the network in clear")
                && p[0].to_string().contains("allow_plaintext_bind = true"),
            "{url}: {p:?}"
        );
        assert!(c.validate().is_err(), "{url}: the target is not built either");
        // Accepted when asked for, and then warned about.
        let allowed = plain(url, json!({"allow_plaintext_bind": true}));
        assert!(allowed.problems().is_empty(), "{url}: {:?}", allowed.problems());
        let w = allowed.warnings();
        assert!(
            w.len() == 1
                && w[0].field == "url"
                && w[0].message.contains("crosses the network in clear")
                && w[0].message.contains("allow_plaintext_bind"),
            "{url}: {w:?}"
        );
        // Protected: no warning.
        assert!(plain(url, json!({"starttls": true})).problems().is_empty(), "{url} with StartTLS");
        assert!(plain(url, json!({"starttls": true})).warnings().is_empty());
    }
    for url in ["ldap://127.0.0.1:3890", "ldap://localhost", "ldap://[::1]:389", "ldap://127.0.0.2"]
    {
        let c = plain(url, json!({}));
        assert!(c.problems().is_empty(), "{url}: {:?}", c.problems());
        assert!(
            c.warnings().iter().any(|w| w.field == "url" && w.message.contains("loopback")),
            "{url}"
        );
    }
    // No password is sent by SASL EXTERNAL or over ldapi://.
    assert!(
        plain("ldap://dc.example.test", json!({"bind": "sasl-external"})).problems().is_empty()
    );
    assert!(plain("ldapi:///run/slapd/ldapi", json!({})).warnings().is_empty());
    let unverified = plain("ldaps://dc.example.test", json!({"tls_verify": false}));
    assert!(unverified.problems().is_empty());
    assert_eq!(unverified.warnings().iter().map(|w| w.field).collect::<Vec<_>>(), ["tls_verify"]);
}

fn set(name: &str, value: serde_json::Value) -> AttributeUpdate {
    AttributeUpdate { name: name.into(), value }
}

fn ad() -> LdapConfig {
    shape(json!({"default_container": "OU=Users,DC=example,DC=test"})).expect("ad")
}

fn inet(disable: serde_json::Value) -> LdapConfig {
    shape(json!({
        "url": "ldap://127.0.0.1", "profile": "inet-org-person", "base_dn": "dc=x",
        "default_container": "ou=people,dc=x", "disable": disable,
    }))
    .expect("inet")
}

#[test]
fn creates_are_sorted_into_an_add_before_any_io() {
    let c = ad();
    let attrs: hrsync_target::Attributes = [
        ("cn".to_owned(), json!("Smith, Jane")),
        ("parentDistinguishedName".to_owned(), json!("OU=Sales,DC=example,DC=test")),
        ("accountDisabled".to_owned(), json!("True")),
        ("manager".to_owned(), json!("E-1")),
        ("employeeID".to_owned(), json!("E-2")),
        ("title".to_owned(), json!("")),
        ("unicodePwd".to_owned(), json!("Str0ng!Pass-1")),
    ]
    .into();
    let r = classify_create(&c, &attrs).expect("create");
    assert_eq!(r.dn, r"cn=Smith\2c Jane,OU=Sales,DC=example,DC=test");
    assert_eq!(r.manager.as_deref(), Some("E-1"), "resolved later, by the driver");
    assert_eq!(r.match_value.as_deref(), Some("E-2"));
    let names: Vec<String> =
        r.attributes.iter().map(|(n, _)| String::from_utf8_lossy(n).into_owned()).collect();
    assert_eq!(names, ["cn", "employeeID", "objectClass", "userAccountControl", "unicodePwd"]);
    let uac = &r.attributes[3].1;
    assert!(uac.contains(b"514".as_slice()), "disabled normal account");
    assert!(r.attributes[4].1.contains(&ad_password_bytes("Str0ng!Pass-1")));
    // No password mapped: a generated one; no TLS: refused.
    let mut plain = attrs.clone();
    plain.remove("unicodePwd");
    assert_eq!(classify_create(&c, &plain).expect("create").attributes.len(), 5);
    let mut unprotected = c.clone();
    unprotected.url = "ldap://127.0.0.1".into();
    assert!(classify_create(&unprotected, &plain).unwrap_err().to_string().contains("LDAPS"));
    let mut nameless = plain.clone();
    nameless.remove("cn");
    assert!(classify_create(&c, &nameless).unwrap_err().to_string().contains("naming attribute"));

    // inetOrgPerson: disabled by attribute, or parked by a move.
    let a: hrsync_target::Attributes =
        [("cn".to_owned(), json!("Al")), ("accountDisabled".to_owned(), json!(true))].into();
    let by_attr = classify_create(
        &inet(json!({"strategy": "attribute", "attribute": "employeeType", "value": "disabled"})),
        &a,
    )
    .expect("create");
    assert_eq!(by_attr.dn, "cn=Al,ou=people,dc=x");
    assert!(
        by_attr
            .attributes
            .iter()
            .any(|(n, v)| n == b"employeeType" && v.contains(b"disabled".as_slice()))
    );
    let parked =
        classify_create(&inet(json!({"strategy": "move-to", "container": "ou=gone,dc=x"})), &a)
            .expect("create");
    assert_eq!(parked.dn, "cn=Al,ou=gone,dc=x");
    let mut none = inet(json!(null));
    none.disable = None;
    assert!(classify_create(&none, &a).unwrap_err().to_string().contains("disable strategy"));
    let mut pw = a.clone();
    pw.insert("unicodePwd".into(), json!("x"));
    assert!(classify_create(&none, &pw).unwrap_err().to_string().contains("use userPassword"));
}

#[test]
fn updates_are_sorted_into_modifies_renames_and_status() {
    let c = ad();
    let r = classify_update(
        &c,
        "update",
        &[
            set("title", json!("Boss")),
            set("CN", json!("New Name")),
            set("parentDistinguishedName", json!("OU=Sales,DC=example,DC=test")),
            set("accountDisabled", json!("False")),
            set("manager", json!(null)),
            set("employeeID", json!("E-9")),
            set("unicodePwd", json!("Str0ng!Pass-1")),
            set("mail", json!(null)),
        ],
    )
    .expect("update");
    assert_eq!(r.new_rdn_value.as_deref(), Some("New Name"));
    assert_eq!(r.new_parent.as_deref(), Some("OU=Sales,DC=example,DC=test"));
    assert_eq!(r.disabled, Some(false));
    assert_eq!(r.manager, Some(None), "cleared");
    assert_eq!(r.new_match_value.as_deref(), Some("E-9"));
    let names: Vec<String> = r
        .mods
        .iter()
        .map(|m| match m {
            ldap3::Mod::Replace(n, _) => String::from_utf8_lossy(n).into_owned(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(names, ["title", "employeeID", "unicodePwd", "mail"]);
    assert!(
        classify_update(&c, "update", &[set("cn", json!(null))])
            .unwrap_err()
            .to_string()
            .contains("cannot be removed")
    );
    assert!(
        classify_update(&c, "update", &[set("parentDistinguishedName", json!("nope"))]).is_err()
    );
    let mut unprotected = c.clone();
    unprotected.url = "ldap://127.0.0.1".into();
    assert!(classify_update(&unprotected, "update", &[set("unicodePwd", json!("x"))]).is_err());

    // Status: AD flips only its bit, and writes nothing when it is already so.
    let entry = |dn: &str, uac: &str| ldap3::SearchEntry {
        dn: dn.into(),
        attrs: [("userAccountControl".to_owned(), vec![uac.to_owned()])].into(),
        bin_attrs: Default::default(),
    };
    let e = entry("CN=A,OU=Users,DC=example,DC=test", "66048");
    let (mods, parent) = status_change(&c, "update", &e, Some(true), None).expect("status");
    assert_eq!(
        mods,
        [ldap3::Mod::Replace(b"userAccountControl".to_vec(), [b"66050".to_vec()].into())]
    );
    assert_eq!(parent, None);
    assert!(status_change(&c, "update", &e, Some(false), None).expect("status").0.is_empty());

    // Move-to: park on disable, come back on enable, stay parked otherwise.
    let m = inet(json!({"strategy": "move-to", "container": "ou=gone,dc=x"}));
    let active = entry("cn=A,ou=people,dc=x", "");
    let parked = entry("cn=A,ou=gone,dc=x", "");
    let to = |e: &ldap3::SearchEntry, d: Option<bool>, p: Option<&str>| {
        status_change(&m, "update", e, d, p.map(str::to_owned)).expect("status").1
    };
    assert_eq!(to(&active, Some(true), None).as_deref(), Some("ou=gone,dc=x"));
    assert_eq!(to(&parked, Some(false), None).as_deref(), Some("ou=people,dc=x"));
    assert_eq!(to(&parked, Some(false), Some("ou=sales,dc=x")).as_deref(), Some("ou=sales,dc=x"));
    assert_eq!(
        to(&parked, None, Some("ou=sales,dc=x")),
        None,
        "a new parent alone does not unpark"
    );
    assert_eq!(to(&active, None, Some("ou=sales,dc=x")).as_deref(), Some("ou=sales,dc=x"));
}

#[test]
fn renames_and_moves_become_one_mod_dn_only_when_something_changes() {
    let c = ad();
    let dn = r"CN=Smith\, Jane,OU=Users,DC=example,DC=test";
    assert_eq!(dn_change(&c, "update", dn, None, None).expect("none"), None);
    assert_eq!(
        dn_change(
            &c,
            "update",
            dn,
            Some("Smith, Jane".into()),
            Some("ou=users,dc=EXAMPLE,dc=test".into())
        )
        .expect("same"),
        None,
        "same RDN value, same parent spelt differently"
    );
    let m = dn_change(&c, "update", dn, Some("Doe, Jane".into()), None)
        .expect("rename")
        .expect("modDN");
    assert_eq!(m.rdn, r"CN=Doe\2c Jane");
    assert_eq!(m.new_superior, None);
    assert_eq!(m.new_dn, r"CN=Doe\2c Jane,OU=Users,DC=example,DC=test");
    let m = dn_change(&c, "update", dn, None, Some("OU=Sales,DC=example,DC=test".into()))
        .expect("move")
        .expect("modDN");
    assert_eq!(
        (m.rdn.as_str(), m.new_superior.as_deref()),
        (r"CN=Smith\2c Jane", Some("OU=Sales,DC=example,DC=test"))
    );
    assert_eq!(m.new_dn, r"CN=Smith\2c Jane,OU=Sales,DC=example,DC=test");
    assert!(dn_change(&c, "update", "garbage", None, None).is_err());
}

fn entry(dn: &str, attr: &str, vals: &[&str]) -> ldap3::SearchEntry {
    let attrs = std::collections::HashMap::from([(
        attr.to_owned(),
        vals.iter().map(|v| (*v).to_owned()).collect(),
    )]);
    ldap3::SearchEntry { dn: dn.into(), attrs, bin_attrs: Default::default() }
}

#[test]
fn batched_lookups_build_or_filters_that_keep_every_value_intact() {
    use crate::batch::{is_attribute_description, or_filter};
    let values = ["plain", "a*b", "(x)", r"back\slash", "nul\0byte", "Zoë", "*", ""];
    let terms: Vec<String> =
        values.iter().map(|v| format!("(uid={})", escape_filter_value(v))).collect();
    let filter = or_filter(terms.iter().map(String::as_str));
    assert!(filter.starts_with("(|(uid=plain)(uid=a\\2ab)"), "{filter}");
    assert!(ldap3::parse_filter(&filter).is_ok(), "{filter}");
    // Each escaped value decodes back to itself (the server sees exactly it).
    for (v, t) in values.iter().zip(&terms) {
        let inner = t.strip_prefix("(uid=").and_then(|r| r.strip_suffix(')')).unwrap();
        let mut decoded = Vec::new();
        let mut bytes = inner.bytes();
        while let Some(b) = bytes.next() {
            if b == b'\\' {
                let hex: String = [bytes.next().unwrap(), bytes.next().unwrap()]
                    .iter()
                    .map(|b| *b as char)
                    .collect();
                decoded.push(u8::from_str_radix(&hex, 16).unwrap());
            } else {
                assert!(!b"*()\\\0".contains(&b), "{v:?}: {inner:?} has a raw special");
                decoded.push(b);
            }
        }
        assert_eq!(decoded, v.as_bytes(), "{v:?}");
    }
    assert_eq!(or_filter(["(uid=a)"]), "(uid=a)", "one value needs no OR");
    for (name, ok) in [
        ("employeeNumber", true),
        ("userCertificate;binary", true),
        ("2.5.4.3", true),
        ("cn)(uid=*", false),
        ("", false),
        ("a b", false),
    ] {
        assert_eq!(is_attribute_description(name), ok, "{name:?}");
    }
}

#[test]
fn search_answers_are_mapped_back_to_the_values_case_insensitively() {
    use crate::batch::group_by_key;
    use crate::cache::fold;
    use std::collections::HashSet;
    let wanted: HashSet<String> =
        ["jdoe", "asmith", "both"].into_iter().map(String::from).collect();
    let entries = vec![
        entry("cn=J,o=x", "uid", &["JDoe"]),
        // Multi-valued: holds two wanted values.
        entry("cn=B,o=x", "uid", &["ASmith", "both"]),
        entry("cn=C,o=x", "UID", &["both"]),
    ];
    let keys = |e: &ldap3::SearchEntry| {
        raw_values(e, "uid").into_iter().map(|v| fold(&String::from_utf8_lossy(v))).collect()
    };
    let (by_key, unmatched) = group_by_key(entries, &wanted, keys);
    assert!(!unmatched);
    let dns = |k: &str| {
        by_key
            .get(k)
            .map(|es| es.iter().map(|e| e.dn.as_str()).collect::<Vec<_>>())
            .unwrap_or_default()
    };
    assert_eq!(dns("jdoe"), ["cn=J,o=x"]);
    assert_eq!(dns("asmith"), ["cn=B,o=x"]);
    assert_eq!(dns("both"), ["cn=B,o=x", "cn=C,o=x"]);
    // An entry the keys cannot explain (the server folded spaces) is flagged.
    let (by_key, unmatched) =
        group_by_key(vec![entry("cn=S,o=x", "uid", &["j  doe"])], &wanted, keys);
    assert!(unmatched && by_key.is_empty());
}

#[test]
fn taken_cache_folds_case_and_only_watches_checked_attributes() {
    use crate::cache::TakenCache;
    let mut c = TakenCache::default();
    assert!(!c.watches("uid"));
    c.watch("UID");
    assert!(c.watches("uid"));
    c.insert("uid", "J.Doe");
    assert!(c.contains("Uid", "j.doe"));
    assert!(!c.contains("cn", "j.doe"));
}

#[test]
fn manager_cache_links_waiting_reports_and_forgets_moved_managers() {
    use crate::cache::Managers;
    let mut m = Managers::default();
    // A report waits for a manager nobody created yet.
    assert_eq!(m.wait_for("E-1", "report-a"), None);
    assert_eq!(m.waiting(), [("e-1".to_owned(), "report-a".to_owned())]);
    // The manager is created: the waiting reports are handed over once.
    let taken = m.created("e-1", "cn=Boss,ou=a,o=x");
    assert_eq!(taken.into_iter().collect::<Vec<_>>(), ["report-a"]);
    assert!(m.waiting().is_empty());
    assert!(m.created("e-1", "cn=Boss,ou=a,o=x").is_empty());
    // A report that lost the race (looked before the create, registers after
    // it) gets the DN instead of waiting forever.
    assert_eq!(m.wait_for("E-1", "report-b").as_deref(), Some("cn=Boss,ou=a,o=x"));
    assert!(m.waiting().is_empty());
    // Moved (spelt differently by the server): forgotten, so a lookup searches.
    m.forget_dn(r"CN=Boss, OU=A,O=X");
    assert_eq!(m.dn("e-1"), None);
    m.learn("e-2", "cn=Other,o=x");
    m.forget_value("E-2");
    assert_eq!(m.dn("e-2"), None);
    // A report waits for one manager at a time; forgetting it is O(1) and total.
    m.keep_waiting("e-3", "report-c");
    m.keep_waiting("e-4", "report-c");
    assert_eq!(m.waiting(), [("e-4".to_owned(), "report-c".to_owned())]);
    m.forget_report("report-c");
    assert!(m.waiting().is_empty() && m.take_waiting("e-4").is_empty());
}
