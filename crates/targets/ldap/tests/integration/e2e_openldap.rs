//! End to end into OpenLDAP: 2,000 emulated SuccessFactors workers (every
//! seeded scenario) plus injected hires, synced by the engine with the
//! built-in OpenLDAP mapping into a private slapd; the directory is then
//! read back over a separate connection.

use hrsync_engine::Action;
use hrsync_store::CycleStatus;
use std::collections::{BTreeMap, HashMap, HashSet};

use crate::common::{
    COMPANIES, Entry, Harness, Reader, failures, flow, hire, manager_of, openldap_mapping,
    openldap_target,
};
use hrsync_store::CycleKind;
use hrsync_target_ldap::dn::Dn;
use hrsync_testkit::Slapd;
use sf_emulator::Emulator;
use sf_emulator::events::HrEvent;
use sf_emulator::model::Scenario;

const WORKERS: usize = 2_000;
/// Names with every RFC 4514 special, a leading space and non-ASCII letters.
const ODD_FIRST: &str = " #Zoë";
const ODD_LAST: &str = "O'Brien, Jr.+\"\\<>;=";

/// Entries below `people`, by employeeNumber.
async fn entries(reader: &Reader, people: &str) -> BTreeMap<String, Entry> {
    let all = reader
        .search(
            people,
            "(objectClass=inetOrgPerson)",
            &["*", "entryUUID", "entryCSN", "modifyTimestamp"],
        )
        .await;
    let mut by_number = BTreeMap::new();
    for e in all {
        let n = e
            .first("employeeNumber")
            .unwrap_or_else(|| panic!("{} has no employeeNumber", e.dn))
            .to_owned();
        if let Some(dup) = by_number.insert(n.clone(), e) {
            panic!("employeeNumber {n} is on two entries (one is {})", dup.dn);
        }
    }
    by_number
}

fn parent(dn: &str) -> String {
    Dn::parse(dn).unwrap_or_else(|e| panic!("{dn:?} does not parse: {e}")).parent().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sf_population_into_openldap() {
    let slapd = Slapd::start().expect("slapd starts (needs the slapd package)");
    let (ldap, people) = openldap_target(&slapd);
    let reader = Reader {
        url: slapd.url(),
        bind_dn: slapd.root_dn().into(),
        password: slapd.root_password().into(),
        ca_file: None,
    };

    let h = Harness::start(
        Emulator::builder().workers(WORKERS).seed(42),
        flow(&openldap_mapping(&people)),
        ldap,
    )
    .await;
    let scenarios = h.emu.scenarios();
    let boss = scenarios[&Scenario::Manager][0].clone();
    // Two namesakes in one company (uid and cn collide), and awkward names.
    for ev in [
        hire("900001", "John", "Smith", "ACE_DE", Some(boss.clone())),
        hire("900002", "John", "Smith", "ACE_DE", Some(boss.clone())),
        hire("900003", ODD_FIRST, ODD_LAST, "ACE_FR", None),
        hire("900004", "Łukasz", "Żółć-Núñez", "ACE_BR", None),
        hire("900005", "太郎", "山田", "ACE_JP", None),
    ] {
        h.emu.apply(&ev).expect("hire");
    }
    // A full cycle reads what changed up to its start.
    h.advance_ms(60_000);

    let mut engine = h.engine();
    let report = engine.run_cycle(CycleKind::Full).await.expect("full cycle runs");
    assert_eq!(report.status, CycleStatus::Completed, "{report:?}");
    assert_eq!(
        failures(&engine, report.cycle_id),
        Vec::<(String, String)>::new(),
        "no worker failed"
    );
    let created = report.counts.get(&Action::Create).copied().unwrap_or(0);
    assert!(created as usize > WORKERS * 8 / 10, "most workers are created: {report:?}");

    let by_number = entries(&reader, &people).await;
    assert_eq!(by_number.len() as u64, created, "one entry per created worker");

    // Unique names: uid and cn (the RDN) are unique over the tree, case-insensitively.
    let mut uids = HashSet::new();
    let mut cns = HashSet::new();
    for e in by_number.values() {
        assert_eq!(e.all("uid").len(), 1, "{}: one uid", e.dn);
        assert!(
            uids.insert(e.first("uid").unwrap_or_default().to_lowercase()),
            "uid of {} is unique",
            e.dn
        );
        assert!(
            cns.insert(e.first("cn").unwrap_or_default().to_lowercase()),
            "cn of {} is unique",
            e.dn
        );
    }
    let (a, b) = (&by_number["900001"], &by_number["900002"]);
    assert_ne!(a.first("uid"), b.first("uid"));
    assert_ne!(a.dn.to_lowercase(), b.dn.to_lowercase());
    // The population may already have a John Smith: one entry holds the plain
    // name, namesakes after it carry personIdExternal.
    assert_eq!(by_number.values().filter(|e| e.first("cn") == Some("John Smith")).count(), 1);
    assert!(
        matches!(a.first("cn"), Some("John Smith" | "John Smith (900001)")),
        "{:?}",
        a.first("cn")
    );
    assert_eq!(
        b.first("cn"),
        Some("John Smith (900002)"),
        "the second namesake's cn carries personIdExternal"
    );
    for e in [a, b] {
        assert_eq!((e.first("givenName"), e.first("sn")), (Some("John"), Some("Smith")));
    }

    // Placement: ou=<department>,ou=<company>,people, from the entry's own
    // department and the model's company.
    let companies: HashSet<&str> = COMPANIES.into_iter().collect();
    for e in by_number.values() {
        let dept =
            e.first("departmentNumber").unwrap_or_else(|| panic!("{} has a department", e.dn));
        let p = parent(&e.dn);
        let company = p
            .strip_prefix(&format!("ou={dept},ou="))
            .and_then(|r| r.strip_suffix(&format!(",{people}")));
        assert!(
            company.is_some_and(|c| companies.contains(c)),
            "{} is placed by department {dept} and a company",
            e.dn
        );
    }
    for pid in ["900001", "900002", "900003", "900004", "900005"] {
        let (company, dept) = h.org_of(pid).expect("hire has a job");
        assert_eq!(
            parent(&by_number[pid].dn),
            format!("ou={dept},ou={company},{people}"),
            "{pid} placement"
        );
    }

    // Awkward names round-trip: the attribute values as written, the DN escaped.
    let odd = &by_number["900003"];
    let odd_cn = format!("{ODD_FIRST} {ODD_LAST}");
    assert_eq!(odd.first("givenName"), Some(ODD_FIRST));
    assert_eq!(odd.first("sn"), Some(ODD_LAST));
    assert_eq!(odd.first("cn"), Some(odd_cn.as_str()));
    let odd_dn = Dn::parse(&odd.dn).expect("escaped DN parses");
    assert_eq!(
        odd_dn.rdn_value("cn"),
        Some(odd_cn.as_str()),
        "the RDN value unescapes to the cn: {}",
        odd.dn
    );
    let again = reader.search(&odd.dn, "(objectClass=*)", &["cn"]).await;
    assert_eq!(again.len(), 1, "the entry is found by its escaped DN {}", odd.dn);
    assert_eq!(by_number["900004"].first("sn"), Some("Żółć-Núñez"));
    assert_eq!(by_number["900004"].first("uid"), Some("lukasz.zolc-nunez"));
    assert_eq!(by_number["900005"].first("cn"), Some("太郎 山田"));
    assert_eq!(
        by_number["900005"].first("uid"),
        Some("900005"),
        "no ASCII letter: uid from personIdExternal"
    );

    // Account status per scenario: leavers and pre-hires disabled, everyone else enabled.
    let mut checked: BTreeMap<String, usize> = BTreeMap::new();
    for (scenario, persons) in &scenarios {
        for person in persons {
            let Some(e) = by_number.get(person) else {
                assert!(
                    matches!(
                        scenario,
                        Scenario::PreHireActive
                            | Scenario::PreHireInactive
                            | Scenario::PreHireOnboarding
                    ),
                    "{person} ({scenario:?}) has an entry"
                );
                continue;
            };
            let disabled = e.first("employeeType") == Some("disabled");
            // Pre-hires within the lead time are created, disabled until they start.
            let inactive = matches!(
                scenario,
                Scenario::Terminated
                    | Scenario::TerminationInfoNull
                    | Scenario::PreHireActive
                    | Scenario::PreHireInactive
                    | Scenario::PreHireOnboarding
            );
            assert_eq!(disabled, inactive, "{person} ({scenario:?}) disabled");
            *checked.entry(format!("{scenario:?}")).or_default() += 1;
        }
    }
    for s in [
        "Active",
        "Manager",
        "Terminated",
        "TerminationInfoNull",
        "Rehire",
        "Conversion",
        "GlobalAssignment",
        "ConcurrentJobs",
        "PaidLeave",
        "UnpaidLeave",
    ] {
        assert!(checked.get(s).copied().unwrap_or(0) > 0, "population has {s}: {checked:?}");
    }

    // Manager links, for every worker with an entry: the mapping sends the
    // manager's personIdExternal (through userNav/manager/empInfo), the
    // target resolves it against employeeNumber. SuccessFactors' managerId
    // is a userId, and a manager who was rehired or converted has a new one
    // (pid_R1, pid_C1): those links resolve too.
    let dn_of: HashMap<&str, &str> =
        by_number.iter().map(|(n, e)| (n.as_str(), e.dn.as_str())).collect();
    let (mut linked, mut unprovisioned, mut via_new_user_id) = (0, 0, 0);
    let mut unresolved = Vec::new();
    for (person, e) in &by_number {
        let Some((manager, manager_user)) = manager_of(&h.emu, person) else { continue };
        match dn_of.get(manager.as_str()) {
            Some(dn) if e.first("manager").map(str::to_lowercase) == Some(dn.to_lowercase()) => {
                linked += 1;
                if manager_user != manager {
                    via_new_user_id += 1;
                }
            }
            Some(_) => unresolved.push(format!(
                "{person}: manager {manager} (userId {manager_user}), has {:?}",
                e.first("manager")
            )),
            None => {
                assert_eq!(
                    e.first("manager"),
                    None,
                    "{person}'s manager {manager} has no entry, so no link"
                );
                unprovisioned += 1;
            }
        }
    }
    eprintln!(
        "manager links: {linked} linked ({via_new_user_id} to a rehired/converted manager), {} unresolved, {unprovisioned} manager without entry",
        unresolved.len()
    );
    assert_eq!(
        unresolved,
        Vec::<String>::new(),
        "every worker whose manager has an entry links to it"
    );
    assert!(linked > 1_000, "manager links: {linked}");
    assert!(
        via_new_user_id > 0,
        "some manager was rehired or converted (userId != personIdExternal)"
    );
    assert_eq!(
        by_number["900001"].first("manager").map(str::to_lowercase),
        Some(dn_of[boss.as_str()].to_lowercase())
    );

    // Incremental: a transfer moves the entry (same entryUUID), a leaver is disabled.
    let active = &scenarios[&Scenario::Active];
    // The mover is a manager: their reports must follow the move.
    let managed: HashSet<String> =
        by_number.values().filter_map(|e| e.first("manager")).map(str::to_lowercase).collect();
    let mover = active
        .iter()
        .find(|p| by_number.get(*p).is_some_and(|e| managed.contains(&e.dn.to_lowercase())))
        .expect("an active manager")
        .clone();
    let leaver = active.iter().find(|p| **p != mover).expect("another active worker").clone();
    let (old_company, old_dept) = h.org_of(&mover).expect("org");
    let new_company = COMPANIES.into_iter().find(|c| *c != old_company).expect("another company");
    let new_dept = if old_dept == "D105" { "D106" } else { "D105" };
    h.advance_ms(60_000);
    h.emu
        .apply(&HrEvent::Transfer {
            person_id_external: mover.clone(),
            effective: None,
            department: Some(new_dept.into()),
            location: None,
            company: Some(new_company.into()),
            manager_id: None,
            job_title: Some("Relocated Tester".into()),
        })
        .expect("transfer");
    h.emu
        .apply(&HrEvent::Terminate {
            person_id_external: leaver.clone(),
            last_day: h.day(-1),
            user_id: None,
        })
        .expect("terminate");
    h.advance_ms(60_000);
    let inc = engine.run_cycle(CycleKind::Incremental).await.expect("incremental");
    assert_eq!(inc.status, CycleStatus::Completed, "{inc:?}");
    assert_eq!(failures(&engine, inc.cycle_id), Vec::<(String, String)>::new());
    let after = entries(&reader, &people).await;
    let moved = &after[&mover];
    assert_eq!(
        moved.first("entryUUID"),
        by_number[&mover].first("entryUUID"),
        "moved, not re-created"
    );
    assert_eq!(parent(&moved.dn), format!("ou={new_dept},ou={new_company},{people}"));
    assert_eq!(moved.first("title"), Some("Relocated Tester"));
    assert_eq!(moved.first("departmentNumber"), Some(new_dept));
    assert_eq!(after[&leaver].first("employeeType"), Some("disabled"));
    // The mover's reports follow the move (slapd has no refint overlay here).
    let old_dn = by_number[&mover].dn.to_lowercase();
    let reports: Vec<&Entry> = after
        .values()
        .filter(|e| {
            by_number[e.first("employeeNumber").unwrap_or_default()]
                .first("manager")
                .map(str::to_lowercase)
                == Some(old_dn.clone())
        })
        .collect();
    assert!(!reports.is_empty(), "the mover has reports");
    for r in &reports {
        assert_eq!(
            r.first("manager").map(str::to_lowercase),
            Some(moved.dn.to_lowercase()),
            "{} follows its manager's move",
            r.dn
        );
    }
    assert_eq!(after.len(), by_number.len());

    // A second full cycle writes nothing: no create or update, and no
    // entry's modifyTimestamp moves.
    h.advance_ms(60_000);
    let again = engine.run_cycle(CycleKind::Full).await.expect("second full cycle");
    assert_eq!(again.status, CycleStatus::Completed, "{again:?}");
    assert_eq!(again.counts.get(&Action::Create), None, "{again:?}");
    assert_eq!(again.counts.get(&Action::Update), None, "{again:?}");
    assert_eq!(entries(&reader, &people).await, after, "the directory is unchanged");

    // State lost (or a directory populated before hrsync): a fresh store
    // matches every entry by employeeNumber and joins it. Compared with what
    // the directory holds, only manager differs (the directory has the DN,
    // the mapping the manager's id; the target resolves it to the same DN),
    // so no attribute name or value representation causes a change.
    h.advance_ms(60_000);
    let mut fresh = h.engine_with_store("fresh.sqlite");
    let rejoin = fresh.run_cycle(CycleKind::Full).await.expect("rejoin cycle");
    assert_eq!(rejoin.counts.get(&Action::Create), None, "{rejoin:?}");
    let log = hrsync_store::Store::log(
        fresh.store(),
        &hrsync_store::LogQuery { cycle_id: Some(rejoin.cycle_id), ..Default::default() },
    )
    .expect("log");
    let mut modified: BTreeMap<String, usize> = BTreeMap::new();
    for e in &log {
        for m in &e.modified {
            *modified.entry(m.attribute.clone()).or_default() += 1;
        }
    }
    assert_eq!(
        modified.keys().map(String::as_str).collect::<Vec<_>>(),
        ["manager"],
        "{modified:?}"
    );
    let volatile = |m: BTreeMap<String, Entry>| -> BTreeMap<String, Entry> {
        m.into_iter()
            .map(|(k, mut e)| {
                e.attrs.retain(|k, _| k != "entrycsn" && k != "modifytimestamp");
                e.attrs.values_mut().for_each(|v| v.sort());
                (k, e)
            })
            .collect()
    };
    let (now, before) = (volatile(entries(&reader, &people).await), volatile(after));
    let changed: Vec<(&Entry, Option<&Entry>)> = now
        .iter()
        .filter(|(k, e)| before.get(*k) != Some(*e))
        .map(|(k, e)| (e, before.get(k)))
        .take(3)
        .collect();
    assert!(
        changed.is_empty() && now.len() == before.len(),
        "rejoining changes no value: {changed:?}"
    );
}
