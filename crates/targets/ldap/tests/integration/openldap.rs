//! The LDAP target against a real OpenLDAP slapd (hrsync-testkit): one shared
//! server for this binary, each test in its own OU; tests that restart the
//! server or need a small size limit start their own.

use hrsync_target::{AttributeUpdate, Attributes, Target, TargetError};
use hrsync_target_ldap::dn::Dn;
use hrsync_target_ldap::{DisableStrategy, LdapConfig, LdapTarget, Profile};
use hrsync_testkit::{Slapd, SlapdOptions};
use secrecy::SecretString;
use serde_json::{Value, json};

fn attrs(pairs: &[(&str, Value)]) -> Attributes {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect()
}

fn set(name: &str, value: Value) -> AttributeUpdate {
    AttributeUpdate { name: name.into(), value }
}

/// `ou=<name>` under the suffix, with `ou=disabled` below it.
fn test_ou(s: &Slapd, name: &str) -> String {
    let dn = format!("ou={name},{}", s.suffix());
    s.add_ldif(&format!("dn: {dn}\nobjectClass: organizationalUnit\nou: {name}\n\ndn: ou=disabled,{dn}\nobjectClass: organizationalUnit\nou: disabled\n"))
        .unwrap();
    dn
}

fn config(s: &Slapd, container: &str) -> LdapConfig {
    let mut c = LdapConfig::new(
        s.url(),
        s.service_dn(),
        SecretString::from(s.service_password()),
        s.suffix(),
        Profile::InetOrgPerson,
    );
    c.default_container = Some(container.to_owned());
    c.disable = Some(DisableStrategy::Attribute {
        attribute: "employeeType".into(),
        value: "disabled".into(),
    });
    c.pool_size = 2;
    c
}

fn person(cn: &str, number: &str) -> Attributes {
    attrs(&[("cn", json!(cn)), ("sn", json!("Person")), ("employeeNumber", json!(number))])
}

#[tokio::test]
async fn create_find_get_update_move_rename_disable_delete() {
    let s = Slapd::shared().unwrap();
    let ou = test_ou(s, "roundtrip");
    let sales = format!("ou=sales,{ou}");
    s.add_ldif(&format!("dn: {sales}\nobjectClass: organizationalUnit\nou: sales\n")).unwrap();
    let t = LdapTarget::new(config(s, &ou)).unwrap();

    let mut a = person("Jane Doe", "1001");
    a.insert("mail".into(), json!("jane@hrsync.test"));
    a.insert("telephoneNumber".into(), json!(["+1 555 0100", "+1 555 0101"]));
    a.insert("uid".into(), json!("jdoe"));
    a.insert("userPassword".into(), json!("initial-s3cret"));
    let created = t.create(&a).await.unwrap();
    assert!(
        !created.attributes.keys().any(|k| k.eq_ignore_ascii_case("userPassword")),
        "a password is never handed back"
    );
    assert_eq!(
        created.attributes["mail"],
        json!("jane@hrsync.test"),
        "the written attributes are on the returned object"
    );
    assert_eq!(created.name.as_deref(), Some(format!("cn=Jane Doe,{ou}").as_str()));
    assert_eq!(created.attributes["parentDistinguishedName"], json!(ou));
    assert_eq!(created.enabled, Some(true));
    assert_eq!(created.attributes["accountDisabled"], json!("False"));
    assert!(
        created.attributes.contains_key("modifyTimestamp"),
        "writeback reads need modifyTimestamp"
    );

    // Matching is by attribute, case-insensitive as the schema says.
    let found = t.find("employeeNumber", "1001").await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].id, created.id);
    assert_eq!(t.find("mail", "JANE@hrsync.test").await.unwrap().len(), 1);
    assert!(t.find("employeeNumber", "9999").await.unwrap().is_empty());
    let got = t.get(&created.id).await.unwrap().unwrap();
    assert_eq!(got.attributes["telephoneNumber"].as_array().map(Vec::len), Some(2));

    // Only the given attributes change; null removes.
    t.update(&created.id, &[set("title", json!("Engineer")), set("telephoneNumber", json!(null))])
        .await
        .unwrap();
    let got = t.get(&created.id).await.unwrap().unwrap();
    assert_eq!(got.attributes["title"], json!("Engineer"));
    assert!(!got.attributes.contains_key("telephoneNumber"));
    assert_eq!(got.attributes["mail"], json!("jane@hrsync.test"));

    // A new parent moves, a new cn renames; the id survives both.
    t.update(
        &created.id,
        &[
            set("parentDistinguishedName", json!(sales)),
            set("cn", json!("Jane Roe")),
            set("sn", json!("Roe")),
        ],
    )
    .await
    .unwrap();
    let got = t.get(&created.id).await.unwrap().unwrap();
    assert_eq!(got.name.as_deref(), Some(format!("cn=Jane Roe,{sales}").as_str()));
    assert_eq!(got.attributes["cn"], json!("Jane Roe"), "the old RDN value is removed");
    // The same parent spelled differently is not a move.
    t.update(&created.id, &[set("parentDistinguishedName", json!(sales.to_uppercase()))])
        .await
        .unwrap();
    assert_eq!(t.get(&created.id).await.unwrap().unwrap().name, got.name);

    t.disable(&created.id).await.unwrap();
    let got = t.get(&created.id).await.unwrap().unwrap();
    assert_eq!(got.enabled, Some(false));
    assert_eq!(got.attributes["employeeType"], json!("disabled"));
    t.update(&created.id, &[set("accountDisabled", json!("False"))]).await.unwrap();
    let got = t.get(&created.id).await.unwrap().unwrap();
    assert_eq!(got.enabled, Some(true));
    assert!(!got.attributes.contains_key("employeeType"));

    t.delete(&created.id).await.unwrap();
    assert!(t.get(&created.id).await.unwrap().is_none());
    assert!(
        matches!(t.delete(&created.id).await, Err(TargetError::NotFound { ref id, .. }) if *id == created.id)
    );
    assert!(matches!(
        t.update(&created.id, &[set("title", json!("x"))]).await,
        Err(TargetError::NotFound { .. })
    ));
    assert!(
        t.get("not-a-uuid)(cn=*").await.unwrap().is_none(),
        "ids are validated, not pasted into filters"
    );
}

#[tokio::test]
async fn names_with_special_characters_round_trip() {
    let s = Slapd::shared().unwrap();
    let ou = test_ou(s, "escaping");
    let t = LdapTarget::new(config(s, &ou)).unwrap();
    let names = [
        "Smith, John",
        "O'Brien + Sons",
        "Say \"Hi\"",
        r"Back\Slash",
        " Leading Space",
        "Trailing Space ",
        "#Hash First",
        "Semi; <Angle> = Eq",
        "Nul\0Byte",
        "Zoë Ångström-山田",
        "(Paren) *Star*",
    ];
    for (i, name) in names.iter().enumerate() {
        let number = format!("esc-{i}");
        let created = t
            .create(&person(name, &number))
            .await
            .unwrap_or_else(|e| panic!("create {name:?}: {e}"));
        let dn = Dn::parse(created.name.as_deref().unwrap()).unwrap();
        assert_eq!(dn.rdn_value("cn"), Some(*name), "DN of {name:?}");
        assert_eq!(created.attributes["cn"], json!(name), "cn of {name:?}");
        let found = t.find("cn", name).await.unwrap();
        assert_eq!(found.len(), 1, "find cn={name:?}");
        assert_eq!(found[0].id, created.id);
        // Rename to another awkward name and back.
        let other = format!("{name}, renamed+");
        t.update(&created.id, &[set("cn", json!(other))])
            .await
            .unwrap_or_else(|e| panic!("rename {name:?}: {e}"));
        let got = t.get(&created.id).await.unwrap().unwrap();
        assert_eq!(
            Dn::parse(got.name.as_deref().unwrap()).unwrap().rdn_value("cn"),
            Some(other.as_str())
        );
        assert!(t.is_taken("cn", &other, None).await.unwrap());
    }
}

#[tokio::test]
async fn uniqueness_answers_drive_select_unique_value() {
    let s = Slapd::shared().unwrap();
    let ou = test_ou(s, "unique");
    let t = LdapTarget::new(config(s, &ou)).unwrap();
    // Two John Smiths: candidates as SelectUniqueValue would generate them.
    let candidates = ["jsmith", "john.smith", "j.smith"];
    let mut ids = Vec::new();
    for (n, cn) in ["John Smith", "John Smith 2"].iter().enumerate() {
        let mut chosen = None;
        for c in candidates {
            if !t.is_taken("uid", c, None).await.unwrap() {
                chosen = Some(c);
                break;
            }
        }
        let uid = chosen.unwrap();
        let mut a = person(cn, &format!("u-{n}"));
        a.insert("uid".into(), json!(uid));
        ids.push((t.create(&a).await.unwrap().id, uid));
    }
    assert_eq!(ids[0].1, "jsmith");
    assert_eq!(ids[1].1, "john.smith", "the second John Smith gets the next candidate");
    assert!(t.is_taken("uid", "JSMITH", None).await.unwrap(), "uid matching ignores case");
    assert!(
        !t.is_taken("uid", "jsmith", Some(&ids[0].0)).await.unwrap(),
        "an object does not collide with itself"
    );
    assert!(t.is_taken("uid", "jsmith", Some(&ids[1].0)).await.unwrap());
    assert!(!t.is_taken("uid", "j.smith", None).await.unwrap());
    assert!(!t.is_taken("uid", "*", None).await.unwrap(), "a wildcard is a literal");
}

#[tokio::test]
async fn managers_resolve_by_match_attribute_and_are_fixed_up_later() {
    let s = Slapd::shared().unwrap();
    let ou = test_ou(s, "managers");
    let t = LdapTarget::new(config(s, &ou)).unwrap();
    // The report comes first: its manager does not exist yet.
    let mut report = person("Rita Report", "m-2");
    report.insert("manager".into(), json!("m-1"));
    let report = t.create(&report).await.unwrap();
    assert!(!report.attributes.contains_key("manager"));
    assert_eq!(t.pending_manager_references(), vec![("m-1".to_owned(), report.id.clone())]);
    let boss = t.create(&person("Bob Boss", "m-1")).await.unwrap();
    let report_now = t.get(&report.id).await.unwrap().unwrap();
    assert_eq!(report_now.attributes["manager"], json!(boss.name.clone().unwrap()));
    assert!(t.pending_manager_references().is_empty());
    // Known managers resolve at once; DNs pass through; null removes.
    let mut second = person("Sam Second", "m-3");
    second.insert("manager".into(), json!("m-1"));
    let second = t.create(&second).await.unwrap();
    assert_eq!(second.attributes["manager"], json!(boss.name.clone().unwrap()));
    let report_dn = report_now.name.clone().unwrap();
    t.update(&second.id, &[set("manager", json!(report_dn))]).await.unwrap();
    assert_eq!(t.get(&second.id).await.unwrap().unwrap().attributes["manager"], json!(report_dn));
    t.update(&second.id, &[set("manager", json!(null))]).await.unwrap();
    assert!(!t.get(&second.id).await.unwrap().unwrap().attributes.contains_key("manager"));
}

#[tokio::test]
async fn move_to_disable_strategy_parks_and_restores() {
    let s = Slapd::shared().unwrap();
    let ou = test_ou(s, "parking");
    let disabled_ou = format!("ou=disabled,{ou}");
    let mut c = config(s, &ou);
    c.disable = Some(DisableStrategy::MoveTo { container: disabled_ou.clone() });
    let t = LdapTarget::new(c).unwrap();
    let p = t.create(&person("Parker", "p-1")).await.unwrap();
    t.disable(&p.id).await.unwrap();
    let got = t.get(&p.id).await.unwrap().unwrap();
    assert_eq!(got.enabled, Some(false));
    assert_eq!(got.attributes["parentDistinguishedName"], json!(disabled_ou));
    // While disabled, a parent change alone does not bring it back.
    t.update(&p.id, &[set("parentDistinguishedName", json!(ou))]).await.unwrap();
    assert_eq!(t.get(&p.id).await.unwrap().unwrap().enabled, Some(false));
    t.update(
        &p.id,
        &[set("accountDisabled", json!("False")), set("parentDistinguishedName", json!(ou))],
    )
    .await
    .unwrap();
    let got = t.get(&p.id).await.unwrap().unwrap();
    assert_eq!(got.enabled, Some(true));
    assert_eq!(got.attributes["parentDistinguishedName"], json!(ou));
    // Created disabled goes straight to the parking OU.
    let mut a = person("Parked Early", "p-2");
    a.insert("accountDisabled".into(), json!("True"));
    assert_eq!(
        t.create(&a).await.unwrap().attributes["parentDistinguishedName"],
        json!(disabled_ou)
    );
}

#[tokio::test]
async fn server_errors_become_clear_target_errors() {
    let s = Slapd::shared().unwrap();
    let ou = test_ou(s, "errors");
    let t = LdapTarget::new(config(s, &ou)).unwrap();
    t.create(&person("Dup Licate", "e-1")).await.unwrap();
    match t.create(&person("Dup Licate", "e-2")).await {
        Err(TargetError::AlreadyExists { attribute, value, .. }) => {
            assert_eq!(attribute, "distinguishedName");
            assert!(value.starts_with("cn=Dup Licate,"), "{value}");
        }
        other => panic!("{other:?}"),
    }
    let mut a = person("Lost", "e-3");
    a.insert("parentDistinguishedName".into(), json!(format!("ou=nowhere,{ou}")));
    let e = t.create(&a).await.unwrap_err();
    assert!(
        matches!(e, TargetError::Rejected { .. })
            && e.to_string().contains("noSuchObject (32)")
            && e.to_string().contains("ou=nowhere"),
        "{e}"
    );
    let mut a = person("Two Names", "e-4");
    a.insert("displayName".into(), json!(["one", "two"]));
    let e = t.create(&a).await.unwrap_err();
    assert!(
        e.to_string().contains("constraintViolation (19)") && e.to_string().contains("displayName"),
        "{e}"
    );
    let mut a = person("Odd Attr", "e-5");
    a.insert("noSuchAttributeType".into(), json!("x"));
    let e = t.create(&a).await.unwrap_err();
    assert!(e.to_string().contains("undefinedAttributeType (17)"), "{e}");
    let e = t.create(&attrs(&[("sn", json!("x"))])).await.unwrap_err();
    assert!(e.to_string().contains("naming attribute"), "{e}");
    // The reader account may not write: insufficient access, with the DN.
    let mut c = config(s, &ou);
    c.bind_dn = s.reader_dn().into();
    c.password = SecretString::from(s.reader_password());
    let e = LdapTarget::new(c).unwrap().create(&person("Nope", "e-6")).await.unwrap_err();
    assert!(
        e.to_string().contains("insufficientAccessRights (50)")
            && e.to_string().contains("cn=Nope"),
        "{e}"
    );
    // A wrong password is the target's problem, not the worker's: the
    // directory is out of reach and the engine stops the cycle.
    let mut c = config(s, &ou);
    c.password = SecretString::from("wrong");
    let e = LdapTarget::new(c).unwrap().find("cn", "x").await.unwrap_err();
    assert!(
        matches!(e, TargetError::Unreachable { .. })
            && e.to_string().contains("invalidCredentials (49)"),
        "{e}"
    );
}

#[tokio::test]
async fn paged_search_returns_more_than_the_size_limit() {
    let s = Slapd::start_with(&SlapdOptions { size_limit: 5 }).unwrap();
    let people = format!("ou=people,{}", s.suffix());
    let ldif: String = (0..12)
        .map(|i| format!("dn: cn=p{i},{people}\nobjectClass: inetOrgPerson\ncn: p{i}\nsn: p\ndepartmentNumber: paged\n\n"))
        .collect();
    s.add_ldif(&ldif).unwrap();
    let mut c = config(&s, &people);
    c.page_size = 5;
    let t = LdapTarget::new(c.clone()).unwrap();
    assert_eq!(t.find("departmentNumber", "paged").await.unwrap().len(), 12);
    // A page larger than the server allows is refused with the server's words.
    c.page_size = 50;
    let e = LdapTarget::new(c).unwrap().find("departmentNumber", "paged").await.unwrap_err();
    assert!(
        e.to_string().contains("sizeLimitExceeded") || e.to_string().contains("adminLimitExceeded"),
        "{e}"
    );
}

#[tokio::test]
async fn the_pool_recovers_after_a_server_restart() {
    let mut s = Slapd::start().unwrap();
    let people = format!("ou=people,{}", s.suffix());
    let t = LdapTarget::new(config(&s, &people)).unwrap();
    let a = t.create(&person("Before Restart", "r-1")).await.unwrap();
    s.restart().unwrap();
    // Reads retry on a fresh connection; writes find the dead one dropped.
    assert_eq!(t.get(&a.id).await.unwrap().unwrap().id, a.id);
    for i in 0..4 {
        t.create(&person(&format!("After Restart {i}"), &format!("r-{}", i + 2))).await.unwrap();
    }
    s.stop();
    let e = t.find("cn", "x").await.unwrap_err();
    assert!(e.retryable(), "a stopped server is a transient failure: {e}");
    s.restart().unwrap();
    assert_eq!(t.find("employeeNumber", "r-5").await.unwrap().len(), 1);
}

#[tokio::test]
async fn check_reports_bind_base_and_write_permission_without_writing() {
    let s = Slapd::shared().unwrap();
    let ou = test_ou(s, "check");
    // A directory that already stores people (see the next test for one
    // that does not): the No-Op probe is sent.
    s.add_ldif(&format!(
        "dn: cn=present,{ou}\nobjectClass: inetOrgPerson\ncn: present\nsn: present\n"
    ))
    .unwrap();
    // StartTLS verified against the test CA.
    let mut c = config(s, &ou);
    c.starttls = true;
    c.ca_file = Some(s.ca_file());
    let steps = LdapTarget::new(c).unwrap().check().await;
    assert!(steps.iter().all(|st| st.ok), "{steps:#?}");
    assert!(steps[0].detail.contains("StartTLS"), "{steps:#?}");
    assert!(steps.iter().any(|st| st.name.contains("write permission")));
    // LDAPS too.
    let mut c = config(s, &ou);
    c.url = s.ldaps_url();
    c.ca_file = Some(s.ca_file());
    assert!(LdapTarget::new(c).unwrap().check().await.iter().all(|st| st.ok));
    // Nothing was written.
    let t = LdapTarget::new(config(s, &ou)).unwrap();
    assert!(t.find("cn", "hrsync-check-probe").await.unwrap().is_empty());
    // The reader can bind and read but not write.
    let mut c = config(s, &ou);
    c.bind_dn = s.reader_dn().into();
    c.password = SecretString::from(s.reader_password());
    let steps = LdapTarget::new(c).unwrap().check().await;
    let write = steps.iter().find(|st| st.name.contains("write permission")).unwrap();
    assert!(steps[0].ok && !write.ok, "{steps:#?}");
    // A missing container and a bad password are named.
    let mut c = config(s, &ou);
    c.default_container = Some(format!("ou=missing,{ou}"));
    let steps = LdapTarget::new(c).unwrap().check().await;
    assert!(steps.iter().any(|st| !st.ok && st.detail.contains("ou=missing")), "{steps:#?}");
    let mut c = config(s, &ou);
    c.password = SecretString::from("wrong");
    let steps = LdapTarget::new(c).unwrap().check().await;
    assert_eq!(steps.len(), 1);
    assert!(!steps[0].ok && steps[0].detail.contains("invalidCredentials"), "{steps:#?}");
    // TLS verification is on by default: the system roots do not know the test CA.
    let mut c = config(s, &ou);
    c.url = s.ldaps_url();
    let steps = LdapTarget::new(c).unwrap().check().await;
    assert!(!steps[0].ok, "{steps:#?}");
}

/// slapd 2.5's back-mdb breaks when a No-Op add carries an attribute the
/// database never stored: later modifies of entries with it fail ("requires
/// attribute 'sn'"). On such a directory check sends no probe, says why, and
/// the directory keeps working; once a person exists the probe runs.
#[tokio::test]
async fn check_sends_no_probe_to_a_directory_that_never_stored_its_attributes() {
    let s = Slapd::start().unwrap();
    let people = format!("ou=people,{}", s.suffix());
    let t = LdapTarget::new(config(&s, &people)).unwrap();
    let steps = t.check().await;
    let write = steps.iter().find(|st| st.name.contains("write permission")).unwrap();
    assert!(
        !write.ok && write.detail.contains("not verified") && write.detail.contains("sn"),
        "{steps:#?}"
    );
    let a = t.create(&person("After Check", "c-1")).await.unwrap();
    t.update(&a.id, &[set("title", json!("Engineer"))]).await.unwrap();
    assert_eq!(t.get(&a.id).await.unwrap().unwrap().attributes["title"], json!("Engineer"));
    let steps = t.check().await;
    let write = steps.iter().find(|st| st.name.contains("write permission")).unwrap();
    assert!(write.ok && write.detail.contains("No-Op probe"), "{steps:#?}");
    let b = t.create(&person("After Probe", "c-2")).await.unwrap();
    t.update(&b.id, &[set("title", json!("Lead"))]).await.unwrap();
    assert_eq!(t.get(&b.id).await.unwrap().unwrap().attributes["title"], json!("Lead"));
}
