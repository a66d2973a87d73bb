//! End to end into Active Directory: emulated SuccessFactors workers (every
//! seeded scenario) plus namesakes, synced by the engine with the default
//! SuccessFactors-to-AD mapping (domain and OUs rewritten for the shared
//! Samba AD DC; see `common::ad_mapping` for what else changes) into an OU
//! of its own; read back over LDAPS.

use hrsync_engine::Action;
use hrsync_store::CycleStatus;
use std::collections::{BTreeMap, HashMap, HashSet};

use crate::common::{
    Entry, Harness, Reader, ad_mapping, ad_target, failures, flow, hire, manager_of,
};
use hrsync_store::CycleKind;
use hrsync_target_ldap::dn::Dn;
use hrsync_testkit::SambaDc;
use sf_emulator::Emulator;
use sf_emulator::model::Scenario;

/// The seeded population the issue asks for. Samba writes about 30 users
/// a second with passwords, so this is the longest test of the crate.
const WORKERS: usize = 2_000;
const UAC_ACCOUNTDISABLE: u32 = 2;

fn uac(e: &Entry) -> u32 {
    e.first("userAccountControl")
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{} has no userAccountControl", e.dn))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sf_population_into_samba_ad() {
    // A DC of its own: the population's names (John Smith and friends) are
    // unique domain-wide and would collide with the other AD tests' users.
    let dc = SambaDc::start()
        .unwrap_or_else(|e| panic!("the Samba AD DC is required for this test: {e}"));
    let dc = &dc;
    let (ldap, root) = ad_target(dc, "e2e");
    let users = format!("OU=Users,{root}");
    let realm = dc.realm().to_lowercase();
    let reader = Reader {
        url: dc.ldaps_url(),
        bind_dn: dc.admin_upn(),
        password: dc.admin_password().into(),
        ca_file: Some(dc.ca_file()),
    };

    let h = Harness::start(
        Emulator::builder().workers(WORKERS).seed(7),
        flow(&ad_mapping(&root, &realm)),
        ldap,
    )
    .await;
    // Namesakes in one OU: sAMAccountName, UPN and cn collide.
    for ev in [
        hire("900001", "John", "Smith", "ACE_DE", None),
        hire("900002", "John", "Smith", "ACE_DE", None),
        hire("900003", "Jöhn", "Smith", "ACE_DE", None),
    ] {
        h.emu.apply(&ev).expect("hire");
    }
    h.advance_ms(60_000);

    let mut engine = h.engine();
    let report = engine.run_cycle(CycleKind::Full).await.expect("full cycle runs");
    assert_eq!(
        failures(&engine, report.cycle_id),
        Vec::<(String, String)>::new(),
        "no worker failed"
    );
    assert_eq!(report.status, CycleStatus::Completed, "{report:?}");
    let created = report.counts.get(&Action::Create).copied().unwrap_or(0);
    assert!(created as usize > WORKERS * 8 / 10, "{report:?}");

    let all = reader.search(&root, "(&(objectClass=user)(employeeID=*))", &["*"]).await;
    assert_eq!(all.len() as u64, created, "one user per created worker");
    let by_id: BTreeMap<&str, &Entry> =
        all.iter().map(|e| (e.first("employeeID").unwrap_or_default(), e)).collect();
    assert_eq!(by_id.len(), all.len(), "no worker has two users");

    // Domain-wide uniqueness of sAMAccountName and userPrincipalName.
    let domain = reader
        .search(dc.base_dn(), "(objectClass=user)", &["sAMAccountName", "userPrincipalName"])
        .await;
    let mut sams = HashSet::new();
    let mut upns = HashSet::new();
    for e in &domain {
        assert!(
            sams.insert(e.first("sAMAccountName").unwrap_or_default().to_lowercase()),
            "{} sAMAccountName is unique",
            e.dn
        );
        if let Some(upn) = e.first("userPrincipalName") {
            assert!(upns.insert(upn.to_lowercase()), "{} userPrincipalName is unique", e.dn);
        }
    }
    let smiths: Vec<&Entry> = ["900001", "900002", "900003"].iter().map(|p| by_id[p]).collect();
    let sam: HashSet<&str> = smiths.iter().filter_map(|e| e.first("sAMAccountName")).collect();
    assert_eq!(sam.len(), 3, "namesakes get distinct sAMAccountNames: {sam:?}");
    let cns: HashSet<String> =
        smiths.iter().filter_map(|e| e.first("cn")).map(str::to_lowercase).collect();
    assert_eq!(cns.len(), 3, "namesakes get distinct cns: {cns:?}");
    // The population has Smiths too: once John.Smith, J.Smith and Jo.Smith
    // are taken, the last candidate is Smith.<personIdExternal>.
    for (pid, e) in ["900001", "900002", "900003"].iter().zip(&smiths) {
        let s = e.first("sAMAccountName").unwrap_or_default().to_lowercase();
        assert!(
            s.len() <= 20 && (s.ends_with(".smith") || s == format!("smith.{pid}")),
            "{pid}: {s}"
        );
        assert!(e.first("userPrincipalName").is_some_and(|u| u.ends_with(&format!("@{realm}"))));
    }

    // Placement by country, from the entry's own country code.
    for e in &all {
        let ou = match e.first("c") {
            Some("DE") => format!("OU=Germany,{users}"),
            Some("US") => format!("OU=United States,{users}"),
            Some("FR") => format!("OU=France,{users}"),
            _ => users.clone(),
        };
        let parent = Dn::parse(&e.dn).expect("DN parses").parent();
        assert_eq!(
            parent,
            Dn::parse(&ou).expect("OU parses"),
            "{} placed by country {:?}",
            e.dn,
            e.first("c")
        );
    }

    // Leavers disabled (the ACCOUNTDISABLE bit), active workers enabled.
    let scenarios = h.emu.scenarios();
    let mut checked: BTreeMap<String, usize> = BTreeMap::new();
    for (scenario, persons) in &scenarios {
        for person in persons {
            let Some(e) = by_id.get(person.as_str()) else { continue };
            let inactive = matches!(
                scenario,
                Scenario::Terminated
                    | Scenario::TerminationInfoNull
                    | Scenario::PreHireActive
                    | Scenario::PreHireInactive
                    | Scenario::PreHireOnboarding
            );
            assert_eq!(
                uac(e) & UAC_ACCOUNTDISABLE != 0,
                inactive,
                "{person} ({scenario:?}) disabled: UAC {}",
                uac(e)
            );
            *checked.entry(format!("{scenario:?}")).or_default() += 1;
        }
    }
    for s in ["Active", "Manager", "Terminated", "PaidLeave"] {
        assert!(checked.get(s).copied().unwrap_or(0) > 0, "population has {s}: {checked:?}");
    }

    // Manager links, for every user whose manager has a user: the mapping
    // sends the manager's personIdExternal, resolved against employeeID,
    // also for managers who were rehired or converted (a new userId).
    let dn_of: HashMap<&str, &str> = by_id.iter().map(|(k, e)| (*k, e.dn.as_str())).collect();
    let (mut linked, mut via_new_user_id) = (0, 0);
    for (person, e) in &by_id {
        let Some((manager, manager_user)) = manager_of(&h.emu, person) else { continue };
        let want = dn_of.get(manager.as_str()).map(|dn| dn.to_lowercase());
        assert_eq!(
            e.first("manager").map(str::to_lowercase),
            want,
            "{person}'s manager {manager} (userId {manager_user})"
        );
        if want.is_some() {
            linked += 1;
            via_new_user_id += usize::from(manager_user != manager);
        }
    }
    eprintln!("manager links: {linked} ({via_new_user_id} to a rehired/converted manager)");
    assert!(linked > WORKERS / 2, "{linked} manager links");
    assert!(via_new_user_id > 0, "some manager was rehired or converted");

    // A manager moves to another country's OU in an incremental cycle: the
    // user is moved, not re-created, and AD itself points the reports' manager
    // (a linked attribute) at the new DN.
    let managed: HashSet<String> =
        all.iter().filter_map(|e| e.first("manager")).map(str::to_lowercase).collect();
    let mover = scenarios[&Scenario::Active]
        .iter()
        .find(|p| by_id.get(p.as_str()).is_some_and(|e| managed.contains(&e.dn.to_lowercase())))
        .expect("an active manager")
        .clone();
    let (company, ou) = if by_id[mover.as_str()].first("c") == Some("US") {
        ("ACE_DE", "Germany")
    } else {
        ("ACE_US", "United States")
    };
    let old_dn = by_id[mover.as_str()].dn.to_lowercase();
    let reports: Vec<String> = all
        .iter()
        .filter(|e| e.first("manager").map(str::to_lowercase) == Some(old_dn.clone()))
        .map(|e| e.first("employeeID").unwrap_or_default().to_owned())
        .collect();
    h.advance_ms(60_000);
    h.emu
        .apply(&sf_emulator::events::HrEvent::Transfer {
            person_id_external: mover.clone(),
            effective: None,
            department: None,
            location: None,
            company: Some(company.into()),
            manager_id: None,
            job_title: None,
        })
        .expect("transfer");
    h.advance_ms(60_000);
    let inc = engine.run_cycle(CycleKind::Incremental).await.expect("incremental");
    assert_eq!(failures(&engine, inc.cycle_id), Vec::<(String, String)>::new());
    let now = reader.search(&root, "(&(objectClass=user)(employeeID=*))", &["*"]).await;
    let now: BTreeMap<&str, &Entry> =
        now.iter().map(|e| (e.first("employeeID").unwrap_or_default(), e)).collect();
    let moved = now[mover.as_str()];
    assert!(moved.first("whenCreated").is_some());
    assert_eq!(
        moved.first("whenCreated"),
        by_id[mover.as_str()].first("whenCreated"),
        "moved, not re-created"
    );
    assert_eq!(
        Dn::parse(&moved.dn).expect("DN").parent(),
        Dn::parse(&format!("OU={ou},{users}")).expect("OU"),
        "{} moved",
        moved.dn
    );
    assert!(!reports.is_empty(), "the mover has reports");
    for r in &reports {
        assert_eq!(
            now[r.as_str()].first("manager").map(str::to_lowercase),
            Some(moved.dn.to_lowercase()),
            "report {r} follows the move"
        );
    }

    // A second full cycle changes nothing.
    h.advance_ms(60_000);
    let again = engine.run_cycle(CycleKind::Full).await.expect("second full cycle");
    assert_eq!(again.counts.get(&Action::Create), None, "{again:?}");
    assert_eq!(again.counts.get(&Action::Update), None, "{again:?}");
}
