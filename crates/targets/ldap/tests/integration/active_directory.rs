//! The LDAP target against a real Samba AD DC (hrsync-testkit), provisioned
//! once for this binary; each test works in its own OU. If the DC cannot run
//! here (not root, packages missing), every test fails with the reason.

use std::collections::{HashMap, HashSet};

use hrsync_target::{AttributeUpdate, Attributes, Target, TargetError};
use hrsync_target_ldap::{LdapConfig, LdapTarget, Profile};
use hrsync_testkit::SambaDc;
use secrecy::SecretString;
use serde_json::{Value, json};

fn dc() -> &'static SambaDc {
    SambaDc::shared().unwrap_or_else(|e| panic!("the Samba AD DC is required for these tests: {e}"))
}

fn config(dc: &SambaDc, container: &str) -> LdapConfig {
    let mut c = LdapConfig::new(
        dc.ldaps_url(),
        dc.admin_upn(),
        SecretString::from(dc.admin_password()),
        dc.base_dn(),
        Profile::ActiveDirectory,
    );
    c.ca_file = Some(dc.ca_file());
    c.default_container = Some(container.to_owned());
    c.pool_size = 2;
    c
}

fn set(name: &str, value: Value) -> AttributeUpdate {
    AttributeUpdate { name: name.into(), value }
}

/// A user as Entra's AD mapping would send it.
fn user(cn: &str, sam: &str, employee_id: &str) -> Attributes {
    let mut a = Attributes::new();
    for (k, v) in [
        ("cn", json!(cn)),
        ("sAMAccountName", json!(sam)),
        ("userPrincipalName", json!(format!("{sam}@hrsync.test"))),
        ("givenName", json!(cn.split(' ').next().unwrap_or(cn))),
        ("sn", json!("Tester")),
        ("employeeID", json!(employee_id)),
    ] {
        a.insert(k.into(), v);
    }
    a
}

fn uac(o: &hrsync_target::TargetObject) -> u32 {
    o.attributes["userAccountControl"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no UAC in {o:?}"))
}

/// Whether `upn` can bind with `password`: the connect-and-bind check step.
async fn can_bind(dc: &SambaDc, container: &str, upn: &str, password: &str) -> (bool, String) {
    let mut c = config(dc, container);
    c.bind_dn = upn.into();
    c.password = SecretString::from(password);
    let steps = LdapTarget::new(c).unwrap().check().await;
    (steps[0].ok, steps[0].detail.clone())
}

#[tokio::test]
async fn ad_user_lifecycle_with_all_mapped_attributes() {
    let dc = dc();
    let ou = dc.create_ou("lifecycle").unwrap();
    let moved = dc.create_ou("lifecycle-moved").unwrap();
    let t = LdapTarget::new(config(dc, &ou)).unwrap();
    let mut a = user("Jane Doe", "jdoe", "2001");
    let extra = [
        ("mail", json!("jane.doe@hrsync.test")),
        ("telephoneNumber", json!("+1 555 0100")),
        ("department", json!("Engineering")),
        ("title", json!("Engineer")),
        ("company", json!("hrsync")),
        ("physicalDeliveryOfficeName", json!("Berlin")),
        // NumFromDate("2030-01-01T00:00:00Z"): 100 ns ticks since 1601.
        ("accountExpires", json!("135379296000000000")),
        ("accountDisabled", json!("False")),
    ];
    for (k, v) in extra.clone() {
        a.insert(k.into(), v);
    }
    let created = t.create(&a).await.unwrap();
    assert_eq!(created.id.len(), 36, "objectGUID in text form: {}", created.id);
    assert_eq!(created.name.as_deref(), Some(format!("CN=Jane Doe,{ou}").as_str()));
    assert_eq!(uac(&created), 512);
    assert_eq!(created.enabled, Some(true));
    for (k, v) in extra.iter().filter(|(k, _)| *k != "accountDisabled") {
        assert_eq!(&created.attributes[*k], v, "{k}");
    }
    let pwd_last_set = created.attributes["pwdLastSet"].as_str().unwrap();
    assert_ne!(pwd_last_set, "0", "a generated password was set");
    assert!(created.attributes.contains_key("whenChanged"), "writeback reads need whenChanged");

    assert_eq!(t.find("employeeID", "2001").await.unwrap()[0].id, created.id);
    assert_eq!(t.find("objectGUID", &created.id).await.unwrap().len(), 1);
    assert_eq!(t.get(&created.id.to_uppercase()).await.unwrap().unwrap().id, created.id);

    // Move and rename in one update; the GUID stays.
    t.update(
        &created.id,
        &[
            set("parentDistinguishedName", json!(moved)),
            set("cn", json!("Jane Roe")),
            set("title", json!("Lead")),
        ],
    )
    .await
    .unwrap();
    let got = t.get(&created.id).await.unwrap().unwrap();
    assert_eq!(got.name.as_deref(), Some(format!("CN=Jane Roe,{moved}").as_str()));
    assert_eq!(got.attributes["title"], json!("Lead"));
    assert_eq!(got.attributes["parentDistinguishedName"], json!(moved));

    // accountDisabled flips only ACCOUNTDISABLE; DONT_EXPIRE_PASSWORD (0x10000) survives.
    t.update(&created.id, &[set("userAccountControl", json!("66048"))]).await.unwrap();
    t.disable(&created.id).await.unwrap();
    let got = t.get(&created.id).await.unwrap().unwrap();
    assert_eq!((uac(&got), got.enabled), (66050, Some(false)));
    assert_eq!(got.attributes["accountDisabled"], json!("True"));
    t.update(&created.id, &[set("accountDisabled", json!("False"))]).await.unwrap();
    assert_eq!(uac(&t.get(&created.id).await.unwrap().unwrap()), 66048);

    // null removes.
    t.update(&created.id, &[set("physicalDeliveryOfficeName", json!(null))]).await.unwrap();
    assert!(
        !t.get(&created.id)
            .await
            .unwrap()
            .unwrap()
            .attributes
            .contains_key("physicalDeliveryOfficeName")
    );
    // extensionAttribute1-15 come with the Exchange schema, which Samba does
    // not have: writing one is the server's clear refusal, naming it.
    let e = t.update(&created.id, &[set("extensionAttribute1", json!("ext-1"))]).await.unwrap_err();
    assert!(
        e.to_string().contains("extensionAttribute1") && e.to_string().contains("schema"),
        "{e}"
    );

    t.delete(&created.id).await.unwrap();
    assert!(t.get(&created.id).await.unwrap().is_none());
    assert!(matches!(t.delete(&created.id).await, Err(TargetError::NotFound { .. })));
}

#[tokio::test]
async fn passwords_are_set_over_tls_only_and_the_user_can_bind() {
    let dc = dc();
    let ou = dc.create_ou("passwords").unwrap();
    let t = LdapTarget::new(config(dc, &ou)).unwrap();
    let mut a = user("Pat Password", "ppassword", "3001");
    a.insert("unicodePwd".into(), json!("Str0ng!Pass-1"));
    let created = t.create(&a).await.unwrap();
    assert_eq!(uac(&created), 512);
    assert!(!created.attributes.contains_key("unicodePwd"), "passwords are never read back");
    assert!(can_bind(dc, &ou, "ppassword@hrsync.test", "Str0ng!Pass-1").await.0);
    let (ok, detail) = can_bind(dc, &ou, "ppassword@hrsync.test", "wrong").await;
    assert!(!ok && detail.contains("invalidCredentials (49)"), "{detail}");
    // A new password through update.
    t.update(&created.id, &[set("unicodePwd", json!("An0ther!Pass-2"))]).await.unwrap();
    assert!(can_bind(dc, &ou, "ppassword@hrsync.test", "An0ther!Pass-2").await.0);
    // A disabled account cannot bind (AD's data 533).
    t.disable(&created.id).await.unwrap();
    let (ok, detail) = can_bind(dc, &ou, "ppassword@hrsync.test", "An0ther!Pass-2").await;
    assert!(!ok && detail.contains("533"), "{detail}");
    // The domain policy's refusal comes back as a clear, non-retryable error.
    let e = t.update(&created.id, &[set("unicodePwd", json!("short"))]).await.unwrap_err();
    assert!(!e.retryable() && e.to_string().contains("constraintViolation (19)"), "{e}");

    // StartTLS on 389 carries passwords too.
    let mut c = config(dc, &ou);
    c.url = dc.ldap_url();
    c.starttls = true;
    let st = LdapTarget::new(c.clone()).unwrap();
    let mut b = user("Stella Starttls", "sstarttls", "3002");
    b.insert("unicodePwd".into(), json!("Str0ng!Pass-3"));
    st.create(&b).await.unwrap();
    assert!(can_bind(dc, &ou, "sstarttls@hrsync.test", "Str0ng!Pass-3").await.0);
    // Plain LDAP is refused before anything is sent.
    c.starttls = false;
    let e =
        LdapTarget::new(c).unwrap().create(&user("Plain Paul", "ppaul", "3003")).await.unwrap_err();
    assert!(
        matches!(e, TargetError::Rejected { .. }) && e.to_string().contains("LDAPS or StartTLS"),
        "{e}"
    );
}

#[tokio::test]
async fn uniqueness_is_domain_wide_and_duplicates_name_the_attribute() {
    let dc = dc();
    let first_ou = dc.create_ou("unique-a").unwrap();
    let second_ou = dc.create_ou("unique-b").unwrap();
    let a = LdapTarget::new(config(dc, &first_ou)).unwrap();
    // This target searches only its own OU, yet uniqueness covers the domain.
    let mut c = config(dc, &second_ou);
    c.base_dn = second_ou.clone();
    let b = LdapTarget::new(c).unwrap();

    let first = a.create(&user("John Smith", "jsmith", "4001")).await.unwrap();
    // SelectUniqueValue for the second John Smith: first free candidate wins.
    let candidates = ["jsmith", "john.smith", "jsmith2"];
    let mut chosen = None;
    for cand in candidates {
        let sam_taken = b.is_taken("sAMAccountName", cand, None).await.unwrap();
        let upn_taken =
            b.is_taken("userPrincipalName", &format!("{cand}@hrsync.test"), None).await.unwrap();
        if !sam_taken && !upn_taken {
            chosen = Some(cand);
            break;
        }
    }
    assert_eq!(chosen, Some("john.smith"));
    let second = b.create(&user("John Smith", "john.smith", "4002")).await.unwrap();
    assert_ne!(first.id, second.id);
    assert!(b.find("employeeID", "4001").await.unwrap().is_empty(), "b's searches stay in its OU");
    assert!(b.is_taken("sAMAccountName", "JSMITH", None).await.unwrap());
    assert!(!a.is_taken("sAMAccountName", "jsmith", Some(&first.id)).await.unwrap());

    // The server's own refusals name the attribute.
    let mut dup = user("Other Smith", "jsmith", "4003");
    dup.insert("userPrincipalName".into(), json!("other.smith@hrsync.test"));
    match b.create(&dup).await {
        Err(TargetError::AlreadyExists { attribute, value, .. }) => {
            assert_eq!((attribute.as_str(), value.as_str()), ("sAMAccountName", "jsmith"))
        }
        other => panic!("{other:?}"),
    }
    let mut dup = user("Third Smith", "tsmith", "4004");
    dup.insert("userPrincipalName".into(), json!("jsmith@hrsync.test"));
    match b.create(&dup).await {
        Err(TargetError::AlreadyExists { attribute, .. }) => {
            assert_eq!(attribute, "userPrincipalName")
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn ad_managers_resolve_through_employee_id() {
    let dc = dc();
    let ou = dc.create_ou("managers").unwrap();
    let t = LdapTarget::new(config(dc, &ou)).unwrap();
    let mut report = user("Rita Report", "rreport", "5002");
    report.insert("manager".into(), json!("5001"));
    let report = t.create(&report).await.unwrap();
    assert!(!report.attributes.contains_key("manager"));
    let boss = t.create(&user("Bob Boss", "bboss", "5001")).await.unwrap();
    assert_eq!(
        t.get(&report.id).await.unwrap().unwrap().attributes["manager"],
        json!(boss.name.unwrap())
    );
}

#[tokio::test]
async fn check_and_errors_against_ad() {
    let dc = dc();
    let ou = dc.create_ou("check").unwrap();
    let steps = LdapTarget::new(config(dc, &ou)).unwrap().check().await;
    assert!(steps.iter().all(|s| s.ok), "{steps:#?}");
    assert!(
        steps
            .iter()
            .any(|s| s.name.contains("write permission") && s.detail.contains("may create user")),
        "{steps:#?}"
    );
    // A plain bind is refused by the DC: the check says so.
    let mut c = config(dc, &ou);
    c.url = dc.ldap_url();
    let steps = LdapTarget::new(c).unwrap().check().await;
    assert!(!steps[0].ok && steps[0].detail.contains("strongerAuthRequired (8)"), "{steps:#?}");
    // A missing parent OU.
    let t = LdapTarget::new(config(dc, &ou)).unwrap();
    let mut a = user("Lost User", "lost", "6001");
    a.insert("parentDistinguishedName".into(), json!(format!("OU=Nowhere,{ou}")));
    let e = t.create(&a).await.unwrap_err();
    assert!(
        matches!(e, TargetError::Rejected { .. }) && e.to_string().contains("noSuchObject (32)"),
        "{e}"
    );
}

#[tokio::test]
async fn ad_names_with_special_characters_round_trip() {
    let dc = dc();
    let ou = dc.create_ou("escaping").unwrap();
    let t = LdapTarget::new(config(dc, &ou)).unwrap();
    let names = [
        "Smith, John",
        "O'Brien + Sons",
        "Say \"Hi\" <x>",
        r"Back\Slash;",
        " Leading",
        "Trailing ",
        "#Hash",
        "Zoë Ångström-山田",
    ];
    for (i, name) in names.iter().enumerate() {
        let created = t
            .create(&user(name, &format!("esc{i}"), &format!("e{i}")))
            .await
            .unwrap_or_else(|e| panic!("create {name:?}: {e}"));
        let dn = hrsync_target_ldap::dn::Dn::parse(created.name.as_deref().unwrap()).unwrap();
        assert_eq!(dn.rdn_value("cn"), Some(*name), "DN of {name:?}");
        assert_eq!(t.find("cn", name).await.unwrap().len(), 1, "find {name:?}");
        t.update(&created.id, &[set("cn", json!(format!("{name}, moved")))])
            .await
            .unwrap_or_else(|e| panic!("rename {name:?}: {e}"));
    }
}

/// Batched uniqueness answers cover the whole domain (the target's base is
/// one OU, the other user lives in another) and AD's case-insensitive names;
/// find_many by employeeID maps users back to the values as given.
#[tokio::test]
async fn batched_lookups_against_ad() {
    let dc = dc();
    let elsewhere = dc.create_ou("batched-elsewhere").unwrap();
    let ou = dc.create_ou("batched").unwrap();
    let other = LdapTarget::new(config(dc, &elsewhere)).unwrap();
    let existing = other.create(&user("Batch Elsewhere", "bElsewhere", "b-100")).await.unwrap();
    let mut c = config(dc, &ou);
    c.base_dn = ou.clone();
    let t = LdapTarget::new(c).unwrap();
    let mine = t.create(&user("Batch Mine", "bmine", "b-101")).await.unwrap();
    let sams: Vec<String> =
        ["BELSEWHERE", "bMine", "bfree", "b*"].iter().map(|s| (*s).to_owned()).collect();
    let taken = t.taken("sAMAccountName", &sams).await.unwrap();
    assert_eq!(
        taken,
        ["BELSEWHERE", "bMine"].iter().map(|s| (*s).to_owned()).collect::<HashSet<_>>(),
        "domain-wide, case-insensitive"
    );
    let upns: Vec<String> =
        ["belsewhere@HRSYNC.TEST", "bfree@hrsync.test"].iter().map(|s| (*s).to_owned()).collect();
    assert_eq!(
        t.taken("userPrincipalName", &upns).await.unwrap(),
        HashSet::from([upns[0].clone()])
    );
    // Matching is within the target's base: the other OU's user is not found.
    let ids: Vec<String> = ["B-101", "b-100", "b-999"].iter().map(|s| (*s).to_owned()).collect();
    let found = t.find_many("employeeID", &ids).await.unwrap();
    assert_eq!(found.keys().collect::<Vec<_>>(), ["B-101"]);
    assert_eq!(found["B-101"][0].id, mine.id);
    let by_guid = other
        .find_many("objectGUID", &[existing.id.to_uppercase(), "{not-a-guid}".into()])
        .await
        .unwrap();
    assert_eq!(by_guid.len(), 1);
    assert_eq!(by_guid[&existing.id.to_uppercase()][0].id, existing.id);
}

/// The engine issues a page's creates together: against Samba, managers and
/// reports created 8 at a time all end up linked. Prints the add rate one at
/// a time and 8 at a time (whether Samba's password adds scale; no timing
/// is asserted).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_creates_against_ad_link_managers() {
    use futures_util::StreamExt;
    let dc = dc();
    let ou = dc.create_ou("concurrent").unwrap();
    let mut c = config(dc, &ou);
    c.pool_size = 4;
    let t = LdapTarget::new(c).unwrap();
    const N: usize = 48;
    let batch = |tag: &str| -> Vec<(String, Attributes)> {
        (0..N)
            .map(|i| {
                let id = format!("{tag}-{i}");
                let mut a = user(&format!("Conc {tag} {i}"), &format!("c{tag}{i}"), &id);
                if i % 8 != 0 {
                    // Reports of the manager 8 positions on (created later in the batch).
                    a.insert("manager".into(), json!(format!("{tag}-{}", (i / 8 * 8 + 8) % N)));
                }
                (id, a)
            })
            .collect()
    };
    let mut rates = Vec::new();
    for (tag, in_flight) in [("s", 1), ("p", 8)] {
        let items = batch(tag);
        let started = std::time::Instant::now();
        let created: Vec<(String, String, String)> =
            futures_util::stream::iter(items.iter().map(|(id, a)| {
                let t = &t;
                async move {
                    let o = t.create(a).await.unwrap_or_else(|e| panic!("create {id}: {e}"));
                    (id.clone(), o.id, o.name.unwrap_or_default().to_lowercase())
                }
            }))
            .buffered(in_flight)
            .collect()
            .await;
        rates.push((in_flight, N as f64 / started.elapsed().as_secs_f64()));
        let dn_of: HashMap<&str, &str> =
            created.iter().map(|(id, _, dn)| (id.as_str(), dn.as_str())).collect();
        for ((id, guid, _), (_, a)) in created.iter().zip(&items) {
            let want = a.get("manager").and_then(Value::as_str).map(|m| dn_of[m].to_owned());
            let got = t
                .get(guid)
                .await
                .unwrap()
                .unwrap()
                .attributes
                .get("manager")
                .and_then(Value::as_str)
                .map(str::to_lowercase);
            assert_eq!(got, want, "{id}");
        }
    }
    assert!(t.pending_manager_references().is_empty(), "{:?}", t.pending_manager_references());
    eprintln!(
        "samba adds with passwords: {}",
        rates
            .iter()
            .map(|(n, r)| format!("{r:.1}/s with {n} in flight"))
            .collect::<Vec<_>>()
            .join(", ")
    );
}
