//! Batched lookups (`find_many`, `taken`), the manager DN cache and
//! concurrent writes, against a real slapd (one shared server for this
//! binary, each test in its own OU). Entries are read back over the test's
//! own view where it matters (`get`, plain attribute values).

use std::collections::{HashMap, HashSet};

use futures_util::StreamExt;
use hrsync_target::{AttributeUpdate, Attributes, Target};
use hrsync_target_ldap::batch::FILTER_CHUNK;
use hrsync_target_ldap::{DisableStrategy, LdapConfig, LdapTarget, Profile};
use hrsync_testkit::Slapd;
use secrecy::SecretString;
use serde_json::{Value, json};

fn test_ou(s: &Slapd, name: &str) -> String {
    let dn = format!("ou={name},{}", s.suffix());
    s.add_ldif(&format!("dn: {dn}\nobjectClass: organizationalUnit\nou: {name}\n\ndn: ou=moved,{dn}\nobjectClass: organizationalUnit\nou: moved\n"))
        .expect("test OU");
    dn
}

fn target(s: &Slapd, container: &str, pool_size: usize) -> LdapTarget {
    // Searches stay inside the test's OU: other tests' entries share the server.
    let mut c = LdapConfig::new(
        s.url(),
        s.service_dn(),
        SecretString::from(s.service_password()),
        container,
        Profile::InetOrgPerson,
    );
    c.default_container = Some(container.to_owned());
    c.disable = Some(DisableStrategy::Attribute {
        attribute: "employeeType".into(),
        value: "disabled".into(),
    });
    c.pool_size = pool_size;
    LdapTarget::new(c).expect("config")
}

fn person(cn: &str, number: &str, uid: &str, manager: Option<&str>) -> Attributes {
    let mut a = Attributes::new();
    for (k, v) in [("cn", cn), ("sn", "Person"), ("employeeNumber", number), ("uid", uid)] {
        a.insert(k.into(), json!(v));
    }
    if let Some(m) = manager {
        a.insert("manager".into(), json!(m));
    }
    a
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

async fn manager_of(t: &LdapTarget, id: &str) -> Option<String> {
    let o = t.get(id).await.expect("get").expect("exists");
    o.attributes.get("manager").and_then(Value::as_str).map(str::to_lowercase)
}

#[tokio::test]
async fn find_many_maps_entries_back_to_the_values_as_given() {
    let s = Slapd::shared().expect("slapd");
    let ou = test_ou(s, "find-many");
    let t = target(s, &ou, 2);
    // Values with every filter special, NUL excepted (slapd refuses it in a
    // directory string; it is still asked for below), and non-ASCII.
    let odd = ["a*b", "(paren)", r"back\slash", "Zoë*()\\"];
    let mut ids: HashMap<String, String> = HashMap::new();
    for (i, n) in odd.iter().enumerate() {
        let o = t
            .create(&person(&format!("Odd {i}"), n, &format!("odd{i}"), None))
            .await
            .expect("create");
        ids.insert((*n).to_owned(), o.id);
    }
    // More values than one OR filter holds: every chunk is searched.
    let many = FILTER_CHUNK * 2 + 17;
    let ldif: String = (0..many)
        .map(|i| format!("dn: cn=Bulk {i},{ou}\nobjectClass: inetOrgPerson\ncn: Bulk {i}\nsn: Bulk\nemployeeNumber: B-{i}\nuid: bulk{i}\n\n"))
        .collect();
    s.add_ldif(&ldif).expect("bulk entries");
    // Two entries with one value: both come back for it.
    s.add_ldif(&format!(
        "dn: cn=Twin A,{ou}\nobjectClass: inetOrgPerson\ncn: Twin A\nsn: T\nemployeeNumber: twin\n\ndn: cn=Twin B,{ou}\nobjectClass: inetOrgPerson\ncn: Twin B\nsn: T\nemployeeNumber: TWIN\n"
    ))
    .expect("twins");

    let mut asked: Vec<String> = (0..many).map(|i| format!("b-{i}")).collect(); // case variants
    asked.extend(strings(&odd));
    asked.extend(strings(&["A*B", "twin", "nul\0byte", "*", "absent", "B-0"]));
    let found = t.find_many("employeeNumber", &asked).await.expect("find_many");

    for i in 0..many {
        let got = &found[&format!("b-{i}")];
        assert_eq!(got.len(), 1, "b-{i}");
        assert_eq!(got[0].attributes["employeeNumber"], json!(format!("B-{i}")));
    }
    for n in odd {
        let got = found.get(n).unwrap_or_else(|| panic!("{n:?} found"));
        assert_eq!(
            got.iter().map(|o| o.id.as_str()).collect::<Vec<_>>(),
            [ids[n].as_str()],
            "{n:?} is its entry only"
        );
    }
    assert_eq!(found["A*B"][0].id, ids["a*b"], "case variant of a value with a star");
    assert_eq!(
        found["B-0"][0].attributes["cn"],
        json!("Bulk 0"),
        "the same value twice, in two spellings"
    );
    let twins: HashSet<&str> = found["twin"].iter().filter_map(|o| o.name.as_deref()).collect();
    assert_eq!(twins.len(), 2, "{twins:?}");
    for absent in ["nul\0byte", "*", "absent"] {
        assert!(!found.contains_key(absent), "{absent:?} matches nothing (a star is a literal)");
    }
    assert_eq!(found.len(), many + odd.len() + 3);
    // Agrees with find, value by value.
    for v in ["a*b", "(paren)", "twin", "b-7", "*"] {
        let one: HashSet<String> =
            t.find("employeeNumber", v).await.expect("find").into_iter().map(|o| o.id).collect();
        let batch: HashSet<String> =
            found.get(v).into_iter().flatten().map(|o| o.id.clone()).collect();
        assert_eq!(one, batch, "{v:?}");
    }
    // The id attribute: entryUUIDs, a malformed one matching nothing.
    let uuids = vec![ids["a*b"].to_uppercase(), "not-a-uuid)(cn=*".to_owned()];
    let by_id = t.find_many("entryUUID", &uuids).await.expect("by id");
    assert_eq!(by_id.len(), 1);
    assert_eq!(by_id[&uuids[0]][0].id, ids["a*b"]);
    assert!(
        t.find_many("cn)(uid=*", &strings(&["x"])).await.is_err(),
        "an attribute name cannot inject a filter"
    );
    assert!(t.find_many("employeeNumber", &[]).await.expect("nothing asked").is_empty());
}

#[tokio::test]
async fn taken_answers_like_is_taken_for_many_candidates() {
    let s = Slapd::shared().expect("slapd");
    let ou = test_ou(s, "taken-many");
    let t = target(s, &ou, 2);
    let many = FILTER_CHUNK + 30;
    let ldif: String = (0..many)
        .filter(|i| i % 3 == 0)
        .map(|i| format!("dn: cn=Taken {i},{ou}\nobjectClass: inetOrgPerson\ncn: Taken {i}\nsn: T\nuid: user{i}\n\n"))
        .collect();
    s.add_ldif(&ldif).expect("entries");
    s.add_ldif(&format!(
        "dn: cn=Star,{ou}\nobjectClass: inetOrgPerson\ncn: Star\nsn: T\nuid: a*b(c)\\d\n"
    ))
    .expect("star");
    let mut candidates: Vec<String> = (0..many)
        .map(|i| if i % 2 == 0 { format!("USER{i}") } else { format!("user{i}") })
        .collect();
    candidates.extend(strings(&["A*B(C)\\D", "a*", "nul\0", "*"]));
    let taken = t.taken("uid", &candidates).await.expect("taken");
    let mut want: HashSet<String> =
        (0..many).filter(|i| i % 3 == 0).map(|i| candidates[i].clone()).collect();
    want.insert("A*B(C)\\D".into());
    assert_eq!(taken, want);
    for c in &candidates {
        assert_eq!(t.is_taken("uid", c, None).await.expect("is_taken"), want.contains(c), "{c:?}");
    }
    // Remembered: deleted behind our back, still taken (never handed out twice).
    s.modify_ldif(&format!("dn: cn=Taken 0,{ou}\nchangetype: delete\n")).expect("delete");
    assert!(t.taken("uid", &strings(&["user0"])).await.expect("cached").contains("user0"));
    // Values this target creates are taken from then on, in any spelling.
    t.create(&person("Fresh", "F-1", "fresh.one", None)).await.expect("create");
    assert_eq!(
        t.taken("uid", &strings(&["Fresh.One", "fresh.two"])).await.expect("taken"),
        HashSet::from(["Fresh.One".to_owned()])
    );
}

/// A page's creates issued together, managers and their reports mixed (the
/// reports first, so most of them find no manager yet): every link ends up
/// resolved and nothing is left waiting, over a few rounds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_creates_link_every_report_to_its_manager() {
    let s = Slapd::shared().expect("slapd");
    let ou = test_ou(s, "concurrent");
    let t = target(s, &ou, 4);
    for round in 0..6 {
        // 4 managers, 28 reports; manager 3 reports to manager 0.
        let mut batch: Vec<(String, Attributes)> = Vec::new();
        for r in 0..28 {
            let m = r % 4;
            let n = format!("r{round}-{r}");
            batch.push((
                n.clone(),
                person(&format!("Report {n}"), &n, &n, Some(&format!("M{round}-{m}"))),
            ));
        }
        for m in 0..4 {
            let n = format!("m{round}-{m}");
            let boss = (m == 3).then(|| format!("m{round}-0"));
            let at = (round * 4 + m * 5) % (batch.len() + 1);
            batch.insert(at, (n.clone(), person(&format!("Manager {n}"), &n, &n, boss.as_deref())));
        }
        let created: Vec<(String, String, String)> =
            futures_util::stream::iter(batch.iter().map(|(n, a)| {
                let t = &t;
                async move {
                    let o = t.create(a).await.unwrap_or_else(|e| panic!("create {n}: {e}"));
                    (n.to_lowercase(), o.id, o.name.unwrap_or_default().to_lowercase())
                }
            }))
            .buffered(32)
            .collect()
            .await;
        let dn_of: HashMap<&str, &str> =
            created.iter().map(|(n, _, dn)| (n.as_str(), dn.as_str())).collect();
        for (n, id, _) in &created {
            let want = if let Some(r) = n.strip_prefix(&format!("r{round}-")) {
                let m = r.parse::<usize>().expect("report number") % 4;
                Some(dn_of[format!("m{round}-{m}").as_str()].to_owned())
            } else if *n == format!("m{round}-3") {
                Some(dn_of[format!("m{round}-0").as_str()].to_owned())
            } else {
                None
            };
            assert_eq!(manager_of(&t, id).await, want, "round {round}: {n}");
        }
        assert_eq!(
            t.pending_manager_references(),
            Vec::<(String, String)>::new(),
            "round {round}: nobody left waiting"
        );
    }
}

/// Cached manager DNs follow moves, renames and deletes made through the
/// target: a report written afterwards links to where the manager is now.
#[tokio::test]
async fn cached_manager_dns_follow_moves_and_deletes() {
    let s = Slapd::shared().expect("slapd");
    let ou = test_ou(s, "manager-cache");
    let moved_ou = format!("ou=moved,{ou}");
    let t = target(s, &ou, 2);
    let set = |name: &str, value: Value| AttributeUpdate { name: name.into(), value };

    let boss = t.create(&person("Boss", "C-1", "boss", None)).await.expect("boss");
    let first = t.create(&person("First", "C-2", "first", Some("c-1"))).await.expect("first");
    assert_eq!(manager_of(&t, &first.id).await, boss.name.as_deref().map(str::to_lowercase));

    // Moved and renamed: the next report links to the new DN.
    t.update(
        &boss.id,
        &[set("parentDistinguishedName", json!(moved_ou)), set("cn", json!("Big Boss"))],
    )
    .await
    .expect("move");
    let boss_dn =
        t.get(&boss.id).await.expect("get").expect("boss").name.expect("dn").to_lowercase();
    assert_eq!(boss_dn, format!("cn=big boss,{moved_ou}").to_lowercase());
    let second = t.create(&person("Second", "C-3", "second", Some("C-1"))).await.expect("second");
    assert_eq!(manager_of(&t, &second.id).await.as_deref(), Some(boss_dn.as_str()));
    assert_eq!(
        manager_of(&t, &first.id).await.as_deref(),
        Some(boss_dn.as_str()),
        "existing reports follow the move"
    );

    // Its match value changed: the old one no longer leads to it.
    t.update(&boss.id, &[set("employeeNumber", json!("C-1-NEW"))]).await.expect("renumber");
    let orphan = t.create(&person("Orphan", "C-4", "orphan", Some("C-1"))).await.expect("orphan");
    assert_eq!(manager_of(&t, &orphan.id).await, None);
    let third = t.create(&person("Third", "C-5", "third", Some("c-1-new"))).await.expect("third");
    assert_eq!(manager_of(&t, &third.id).await.as_deref(), Some(boss_dn.as_str()));

    // Deleted, and a successor takes the value: reports link to the successor.
    t.delete(&boss.id).await.expect("delete");
    let heir = t.create(&person("Heir", "C-1-NEW", "heir", None)).await.expect("heir");
    let fourth =
        t.create(&person("Fourth", "C-6", "fourth", Some("C-1-NEW"))).await.expect("fourth");
    assert_eq!(manager_of(&t, &fourth.id).await, heir.name.as_deref().map(str::to_lowercase));

    // Found by find_many (a manager this target did not create): resolved
    // from it, written in the server's spelling (non-ASCII case kept).
    let other = target(s, &ou, 1);
    other.create(&person("Ölaf Öutside", "C-9", "outside", None)).await.expect("outside");
    let found = t.find_many("employeeNumber", &strings(&["c-9"])).await.expect("find_many");
    let outside = found["c-9"][0].name.clone().expect("dn");
    assert!(outside.starts_with("cn=Ölaf Öutside,"), "{outside}");
    let fifth = t.create(&person("Fifth", "C-7", "fifth", Some("C-9"))).await.expect("fifth");
    let got =
        t.get(&fifth.id).await.expect("get").expect("fifth").attributes.get("manager").cloned();
    assert_eq!(got, Some(json!(outside)));
}
