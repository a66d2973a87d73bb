//! End to end: the emulator's seeded population and HR events, synced by
//! the engine into the embedded target, with the SQLite store. Assertions
//! read the target's objects, the store's log and the emulator's request log.

use crate::common;

use hrsync_engine::Action;
use hrsync_store::CycleStatus;
use std::collections::{BTreeMap, HashSet};

use common::{DAY_MS, Harness, attr, by_employee, one};
use hrsync_mapping::{MappingConfig, SourceSchema};
use hrsync_store::{CycleKind, LogQuery, LogStatus, Store};
use sf_emulator::events::HrEvent;
use sf_emulator::model::{Scenario, UserStatus};

fn expected_user(h: &Harness, person: &str) -> String {
    let p = h.emu.worker(person).expect("person exists");
    let i = p.current_employment().expect("an employment");
    p.employments[i].user_id.clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_sync_provisions_every_seeded_scenario() {
    let h = Harness::start(600, 11).await;
    let mut engine = h.engine();
    let report = engine.run_cycle(CycleKind::Full).await.expect("cycle runs");
    assert_eq!(report.status, CycleStatus::Completed, "{report:?}");
    let scenarios = h.emu.scenarios();

    let objects = engine.target().all().expect("list");
    let ids: Vec<&str> = objects.iter().filter_map(|o| attr(o, "employeeID")).collect();
    let unique: HashSet<&str> = ids.iter().copied().collect();
    assert_eq!(unique.len(), ids.len(), "no worker has two accounts");
    let sams: HashSet<&str> = objects.iter().filter_map(|o| attr(o, "sAMAccountName")).collect();
    assert_eq!(sams.len(), objects.len(), "sAMAccountName unique");

    let mut checked = BTreeMap::new();
    for (scenario, persons) in &scenarios {
        for person in persons.iter().take(8) {
            let found = by_employee(&engine, person).await;
            match scenario {
                // Seeded pre-hires start 5..60 days out; the default lead time
                // is 14 days, so some are created and some wait.
                Scenario::PreHireActive
                | Scenario::PreHireInactive
                | Scenario::PreHireOnboarding => {
                    let p = h.emu.worker(person).expect("person");
                    let start = p.employments[0].start as i64 * DAY_MS;
                    if start - h.clock.ms() > 15 * DAY_MS {
                        assert!(
                            found.is_empty(),
                            "{person} ({scenario:?}) starts later than the lead time: {found:?}"
                        );
                    } else if start - h.clock.ms() < 13 * DAY_MS {
                        assert_eq!(
                            found.len(),
                            1,
                            "{person} ({scenario:?}) starts within the lead time"
                        );
                        assert_eq!(
                            attr(&found[0], "employeeNumber"),
                            Some(p.employments[0].user_id.as_str())
                        );
                    }
                }
                Scenario::Terminated | Scenario::TerminationInfoNull => {
                    assert_eq!(found.len(), 1, "{person} ({scenario:?})");
                    assert_eq!(
                        attr(&found[0], "accountDisabled"),
                        Some("True"),
                        "{person} ({scenario:?}) is disabled"
                    );
                }
                _ => {
                    assert_eq!(found.len(), 1, "{person} ({scenario:?})");
                    let o = &found[0];
                    assert_eq!(
                        attr(o, "accountDisabled"),
                        Some("False"),
                        "{person} ({scenario:?}) is enabled"
                    );
                    // Rehire, conversion, global assignment, concurrent jobs:
                    // the active home employment, not the first in the array.
                    assert_eq!(
                        attr(o, "employeeNumber"),
                        Some(expected_user(&h, person).as_str()),
                        "{person} ({scenario:?}) userId"
                    );
                    if matches!(scenario, Scenario::PaidLeave | Scenario::UnpaidLeave) {
                        let want = if *scenario == Scenario::PaidLeave { "P" } else { "U" };
                        assert_eq!(
                            attr(o, "extensionAttribute2"),
                            Some(want),
                            "{person} leave status"
                        );
                    }
                }
            }
            *checked.entry(format!("{scenario:?}")).or_insert(0) += 1;
        }
    }
    for s in [
        "Active",
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

    // Every worker was logged in this cycle.
    let log = engine
        .store()
        .log(&LogQuery { cycle_id: Some(report.cycle_id), ..Default::default() })
        .expect("log");
    assert_eq!(log.len() as u64, report.workers);
    assert!(log.iter().any(|e| e.action == hrsync_store::Action::Create && !e.modified.is_empty()));

    // A second full cycle changes nothing.
    h.advance_ms(60_000);
    let again = engine.run_cycle(CycleKind::Full).await.expect("second cycle");
    assert_eq!(again.counts.get(&Action::Create), None, "{again:?}");
    assert_eq!(again.counts.get(&Action::Update), None, "{again:?}");
    assert_eq!(engine.target().all().expect("list").len(), objects.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incremental_cycle_applies_hr_events_with_a_handful_of_requests() {
    let h = Harness::start(300, 5).await;
    let mut engine = h.engine();
    engine.run_cycle(CycleKind::Full).await.expect("full");
    let scenarios = h.emu.scenarios();
    let active: Vec<String> = scenarios[&Scenario::Active].clone();
    let terminated = scenarios[&Scenario::Terminated][0].clone();

    h.advance_ms(60_000);
    let hire = h
        .emu
        .apply(&HrEvent::Hire {
            person_id_external: Some("900001".into()),
            first_name: Some("Zoë".into()),
            last_name: Some("O'Brien".into()),
            start_date: None,
            company: None,
            manager_id: None,
        })
        .expect("hire");
    h.emu
        .apply(&HrEvent::Transfer {
            person_id_external: active[0].clone(),
            effective: None,
            department: None,
            location: None,
            company: None,
            manager_id: None,
            job_title: Some("Chief Tester".into()),
        })
        .expect("transfer");
    h.emu
        .apply(&HrEvent::NameChange {
            person_id_external: active[1].clone(),
            effective: None,
            first_name: None,
            last_name: Some("Renamed-Müller".into()),
            preferred_name: None,
        })
        .expect("name change");
    h.emu
        .apply(&HrEvent::Leave {
            person_id_external: active[2].clone(),
            paid: false,
            from: h.day(0),
            to: None,
        })
        .expect("leave");
    h.emu
        .apply(&HrEvent::Terminate {
            person_id_external: active[3].clone(),
            last_day: h.day(-1),
            user_id: None,
        })
        .expect("terminate");
    let rehire = h
        .emu
        .apply(&HrEvent::Rehire { person_id_external: terminated.clone(), start_date: None })
        .expect("rehire");
    let conversion = h
        .emu
        .apply(&HrEvent::Convert { person_id_external: active[4].clone(), start_date: None })
        .expect("convert");
    h.emu
        .apply(&HrEvent::EmailChange {
            person_id_external: active[5].clone(),
            email_type: "B".into(),
            address: Some("new.address@example.com".into()),
            is_primary: Some(true),
        })
        .expect("email");
    let sam_before = attr(&one(&engine, &active[1]).await, "sAMAccountName").map(str::to_owned);

    h.advance_ms(60_000);
    h.emu.clear_requests();
    let report = engine.run_cycle(CycleKind::Incremental).await.expect("incremental");
    assert_eq!(report.kind, CycleKind::Incremental);
    assert_eq!(report.status, CycleStatus::Completed, "{report:?}");
    let requests = h.emu.requests();
    assert!(
        requests.len() <= 4,
        "a $count probe and a page or two, not a full read: {:?}",
        requests.iter().map(|r| &r.url).collect::<Vec<_>>()
    );
    assert!(
        report.workers >= 8 && report.workers < 40,
        "only changed workers were read: {report:?}"
    );

    let new = one(&engine, &hire.person_id_external).await;
    assert_eq!(attr(&new, "givenName"), Some("Zoë"));
    assert_eq!(attr(&new, "sn"), Some("O'Brien"));
    assert_eq!(attr(&new, "accountDisabled"), Some("False"));
    assert_eq!(attr(&one(&engine, &active[0]).await, "title"), Some("Chief Tester"));
    let renamed = one(&engine, &active[1]).await;
    assert_eq!(attr(&renamed, "sn"), Some("Renamed-Müller"));
    assert_eq!(
        attr(&renamed, "sAMAccountName").map(str::to_owned),
        sam_before,
        "create-only attributes keep their value"
    );
    let on_leave = one(&engine, &active[2]).await;
    assert_eq!(
        attr(&on_leave, "accountDisabled"),
        Some("False"),
        "leave keeps the account enabled"
    );
    assert_eq!(attr(&on_leave, "extensionAttribute2"), Some("U"));
    assert_eq!(
        attr(&one(&engine, &active[3]).await, "accountDisabled"),
        Some("True"),
        "terminated yesterday"
    );
    let rehired = one(&engine, &terminated).await;
    assert_eq!(
        attr(&rehired, "accountDisabled"),
        Some("False"),
        "rehire re-enables the same account"
    );
    assert_eq!(attr(&rehired, "employeeNumber"), rehire.user_id.as_deref());
    let converted = one(&engine, &active[4]).await;
    assert_eq!(
        attr(&converted, "employeeNumber"),
        conversion.user_id.as_deref(),
        "conversion: the new employment's user"
    );
    assert_eq!(attr(&converted, "accountDisabled"), Some("False"));
    assert_eq!(attr(&one(&engine, &active[5]).await, "mail"), Some("new.address@example.com"));

    // The log says what changed, old -> new.
    let log = engine
        .store()
        .log(&LogQuery { person_id: Some(active[0].clone()), ..Default::default() })
        .expect("log");
    let update =
        log.iter().find(|e| e.action == hrsync_store::Action::Update).expect("an update entry");
    assert!(
        update.modified.iter().any(|c| c.attribute == "title" && c.new == "Chief Tester"),
        "{update:?}"
    );

    // Nothing changed since: the next cycle is the $count probe alone.
    h.advance_ms(60_000);
    h.emu.clear_requests();
    let idle = engine.run_cycle(CycleKind::Incremental).await.expect("idle cycle");
    assert_eq!(idle.workers, 0, "{idle:?}");
    let requests = h.emu.requests();
    assert_eq!(requests.len(), 1, "{:?}", requests.iter().map(|r| &r.url).collect::<Vec<_>>());
    assert!(requests[0].url.contains("$count"), "{}", requests[0].url);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn termination_disables_at_the_end_of_the_last_day_in_the_company_time_zone() {
    let mut h = Harness::start(60, 3).await;
    h.settings.time_zone = jiff::tz::TimeZone::get("America/Los_Angeles").expect("tz");
    let mut engine = h.engine();
    // 2026-11-24T10:00Z is 02:00 in Los Angeles, still 2026-11-24 there.
    engine.run_cycle(CycleKind::Full).await.expect("full");
    let person = h.emu.scenarios()[&Scenario::Active][0].clone();
    h.advance_ms(60_000);
    h.emu
        .apply(&HrEvent::Terminate {
            person_id_external: person.clone(),
            last_day: "2026-11-24".into(),
            user_id: None,
        })
        .expect("terminate");

    // 23:30 in Los Angeles on the last day (07:30Z next day): still working.
    h.set_ms(common::T0_MS + 21 * 3_600_000 + 30 * 60_000);
    engine.run_cycle(CycleKind::Incremental).await.expect("incremental");
    assert_eq!(
        attr(&one(&engine, &person).await, "accountDisabled"),
        Some("False"),
        "not a day early"
    );
    assert!(
        engine.store().next_wakeup().expect("wakeup").is_some(),
        "a wake-up is scheduled for the end of the day"
    );

    // 00:30 the next day in Los Angeles: no SuccessFactors change since, the
    // wake-up alone brings the worker back.
    h.set_ms(common::T0_MS + 22 * 3_600_000 + 30 * 60_000);
    let report = engine.run_cycle(CycleKind::Incremental).await.expect("wake-up cycle");
    assert_eq!(attr(&one(&engine, &person).await, "accountDisabled"), Some("True"), "{report:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn future_dated_change_is_applied_when_it_becomes_effective() {
    let h = Harness::start(60, 4).await;
    let mut engine = h.engine();
    engine.run_cycle(CycleKind::Full).await.expect("full");
    let person = h.emu.scenarios()[&Scenario::Active][1].clone();
    let before = attr(&one(&engine, &person).await, "title").map(str::to_owned);
    h.advance_ms(60_000);
    let mut set = serde_json::Map::new();
    set.insert("jobTitle".into(), "Future Title".into());
    h.emu
        .apply(&HrEvent::FutureDatedChange {
            person_id_external: person.clone(),
            effective: h.day(3),
            entity: "EmpJob".into(),
            set,
        })
        .expect("future change");
    h.advance_ms(60_000);
    engine.run_cycle(CycleKind::Incremental).await.expect("incremental");
    assert_eq!(
        attr(&one(&engine, &person).await, "title").map(str::to_owned),
        before,
        "not yet effective"
    );

    h.advance_ms(3 * DAY_MS);
    engine.run_cycle(CycleKind::Incremental).await.expect("on the day");
    assert_eq!(attr(&one(&engine, &person).await, "title"), Some("Future Title"));
}

/// Three pre-hires: one starting within the lead time, one an Onboarding 2.0
/// pre-hire (user status `e`), one starting after the lead time.
fn add_prehires(h: &Harness) {
    for (id, days, status) in [
        ("800001", 5, UserStatus::Active),
        ("800002", 5, UserStatus::ActiveExternalSuite),
        ("800003", 20, UserStatus::Inactive),
    ] {
        h.emu
            .apply(&HrEvent::PreHire {
                person_id_external: Some(id.into()),
                first_name: Some("Pre".into()),
                last_name: Some(format!("Hire{id}")),
                start_date: h.day(days),
                status,
                company: None,
            })
            .expect("pre-hire");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prehires_are_provisioned_within_the_lead_time_and_onboarding_can_be_scoped_out() {
    let mut h = Harness::start(40, 6).await;
    h.settings.onboarding_prehires = false;
    h.settings.prehire_lead_days = 10;
    let mut engine = h.engine();
    engine.run_cycle(CycleKind::Full).await.expect("full");
    h.advance_ms(60_000);
    add_prehires(&h);
    h.advance_ms(60_000);
    let report = engine.run_cycle(CycleKind::Incremental).await.expect("incremental");
    let soon = one(&engine, "800001").await;
    assert_eq!(attr(&soon, "sn"), Some("Hire800001"), "read as of the start date");
    assert!(
        by_employee(&engine, "800002").await.is_empty(),
        "Onboarding pre-hire scoped out: {report:?}"
    );
    // Not silently dropped: skipped, saying which setting excluded it.
    let log = engine
        .store()
        .log(&LogQuery { person_id: Some("800002".into()), ..Default::default() })
        .expect("log");
    let entry = log.first().expect("a log entry for the excluded Onboarding pre-hire");
    assert_eq!(entry.status, LogStatus::Skipped, "{entry:?}");
    let export = entry.steps.iter().find(|s| s.name == "export").expect("an export step");
    assert!(export.detail.contains("onboarding_prehires = false"), "{entry:?}");
    assert!(by_employee(&engine, "800003").await.is_empty(), "starts after the lead time");

    // Ten days before the start date the wake-up provisions it, with no HR change.
    h.advance_ms(11 * DAY_MS);
    engine.run_cycle(CycleKind::Incremental).await.expect("lead-time wake-up");
    assert_eq!(by_employee(&engine, "800003").await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn onboarding_prehires_are_provisioned_by_default() {
    let h = Harness::start(30, 61).await;
    assert!(h.settings.onboarding_prehires, "the default");
    let mut engine = h.engine();
    engine.run_cycle(CycleKind::Full).await.expect("full");
    h.advance_ms(60_000);
    add_prehires(&h);
    h.advance_ms(60_000);
    engine.run_cycle(CycleKind::Incremental).await.expect("incremental");
    assert_eq!(attr(&one(&engine, "800002").await, "sn"), Some("Hire800002"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_out_of_scope_skip_names_the_clause_that_failed() {
    let mut h = Harness::start(20, 62).await;
    let schema = SourceSchema::builtin().expect("schema");
    let mut config = MappingConfig::sf_to_ad().expect("mapping");
    let scope: MappingConfig = toml::from_str(
        "[[scope.groups]]\nname = \"Germany\"\n[[scope.groups.clauses]]\n\
         attribute = \"personIdExternal\"\noperator = \"EQUALS\"\nvalues = [\"nobody\"]\n",
    )
    .expect("scope toml");
    config.scope = scope.scope;
    h.flow = common::flow_from(&schema, &config);
    let mut engine = h.engine();
    let report = engine.run_cycle(CycleKind::Full).await.expect("full");
    let log = engine
        .store()
        .log(&LogQuery { cycle_id: Some(report.cycle_id), ..Default::default() })
        .expect("log");
    // Every worker reaching the scoping filter (pre-hires before their lead
    // time are skipped earlier, for that reason).
    let scoped: Vec<_> = log.iter().filter(|e| e.steps.iter().any(|s| s.name == "scope")).collect();
    assert!(scoped.len() >= 10, "{log:?}");
    for entry in scoped {
        assert_eq!(entry.status, LogStatus::Skipped, "{entry:?}");
        let export = entry
            .steps
            .iter()
            .find(|s| s.name == "export")
            .unwrap_or_else(|| panic!("an export step: {entry:?}"));
        assert!(
            export.detail.starts_with("out of scope: group \"Germany\": personIdExternal EQUALS"),
            "{}",
            export.detail
        );
        assert!(export.detail.contains("failed"), "{}", export.detail);
        assert!(!export.detail.contains("()"), "{}", export.detail);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_shows_the_changes_and_writes_nothing() {
    let h = Harness::start(50, 8).await;
    let mut engine = h.engine();
    let plan = engine.plan(CycleKind::Full, None).await.expect("plan");
    assert!(plan.counts.get(&Action::Create).copied().unwrap_or(0) > 20, "{:?}", plan.counts);
    let create =
        plan.details.iter().find(|d| d.action == hrsync_store::Action::Create).expect("a create");
    assert!(
        create
            .modified
            .iter()
            .any(|c| c.attribute == "employeeID" && c.new == create.person_id.as_str()),
        "{create:?}"
    );
    assert!(engine.target().all().expect("list").is_empty(), "plan created nothing");
    assert!(engine.store().cycles(10).expect("cycles").is_empty(), "plan recorded no cycle");
    assert_eq!(engine.store().watermark("successfactors:PerPerson").expect("wm"), None);

    engine.run_cycle(CycleKind::Full).await.expect("full");
    let person = h.emu.scenarios()[&Scenario::Active][0].clone();
    h.advance_ms(60_000);
    h.emu
        .apply(&HrEvent::Transfer {
            person_id_external: person.clone(),
            effective: None,
            department: None,
            location: None,
            company: None,
            manager_id: None,
            job_title: Some("Planned Title".into()),
        })
        .expect("transfer");
    h.advance_ms(60_000);
    let one_plan = engine.plan(CycleKind::Incremental, Some(&person)).await.expect("plan one");
    assert_eq!(one_plan.details.len(), 1);
    let d = &one_plan.details[0];
    assert_eq!(d.action, hrsync_store::Action::Update);
    assert!(
        d.modified
            .iter()
            .any(|c| c.attribute == "title" && c.new == "Planned Title" && c.old != c.new),
        "{d:?}"
    );
    assert_ne!(
        attr(&one(&engine, &person).await, "title"),
        Some("Planned Title"),
        "still not applied"
    );

    // On demand applies it, and says each step.
    let od = engine.on_demand(&person).await.expect("on demand");
    assert_eq!(od.details.len(), 1);
    let names: Vec<&str> = od.details[0].steps.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["import", "scope", "match", "export"], "{:?}", od.details[0].steps);
    assert_eq!(attr(&one(&engine, &person).await, "title"), Some("Planned Title"));
    assert!(od.queries[0].contains("personIdExternal"), "{:?}", od.queries);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_engine_keeps_its_joins_and_creates_no_duplicates() {
    let h = Harness::start(80, 9).await;
    {
        let mut engine = h.engine();
        engine.run_cycle(CycleKind::Full).await.expect("full");
    }
    let mut engine = h.engine();
    let before = engine.target().all().expect("list").len();
    h.advance_ms(60_000);
    let report = engine.run_cycle(CycleKind::Full).await.expect("full after restart");
    assert_eq!(report.counts.get(&Action::Create), None, "{report:?}");
    assert_eq!(engine.target().all().expect("list").len(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_under_faults_reaches_the_same_state() {
    let clean = Harness::start(250, 12).await;
    let mut engine = clean.engine();
    engine.run_cycle(CycleKind::Full).await.expect("clean");
    let want = snapshot(&engine);

    let spec = "latency=20ms@0.2,429@0.15,503@0.15,drop@0.1".parse().expect("fault spec");
    let mut faulty = Harness::start_with(
        sf_emulator::Emulator::builder().workers(250).seed(12).faults(spec).retry_after_secs(1),
    )
    .await;
    faulty.settings.page_size = 20;
    let mut engine = faulty.engine();
    let report = engine.run_cycle(CycleKind::Full).await.expect("completes under faults");
    assert_eq!(report.status, CycleStatus::Completed, "{report:?}");
    assert_eq!(snapshot(&engine), want);
    let faults: Vec<&str> = faulty.emu.requests().iter().filter_map(|r| r.fault).collect();
    let kinds: HashSet<&str> = faults.iter().copied().collect();
    assert!(kinds.len() >= 3, "several kinds of fault were injected: {faults:?}");
}

/// employeeID -> the synced attributes (ids are the target's and differ).
fn snapshot(engine: &common::TestEngine) -> BTreeMap<String, BTreeMap<String, serde_json::Value>> {
    engine
        .target()
        .all()
        .expect("list")
        .into_iter()
        .map(|o| (attr(&o, "employeeID").unwrap_or_default().to_owned(), o.attributes))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reading_only_the_selected_properties_changes_no_value() {
    async fn run(
        select: bool,
    ) -> (BTreeMap<String, BTreeMap<String, serde_json::Value>>, Vec<String>) {
        let mut h = Harness::start(600, 31).await;
        h.settings.select = select;
        let mut engine = h.engine();
        engine.run_cycle(CycleKind::Full).await.expect("full");
        h.advance_ms(60_000);
        let active = h.emu.scenarios()[&Scenario::Active].clone();
        let terminated = h.emu.scenarios()[&Scenario::Terminated][0].clone();
        h.emu
            .apply(&HrEvent::Transfer {
                person_id_external: active[0].clone(),
                effective: None,
                department: Some("D104".into()),
                location: None,
                company: None,
                manager_id: None,
                job_title: Some("Selected".into()),
            })
            .expect("transfer");
        h.emu
            .apply(&HrEvent::Rehire { person_id_external: terminated, start_date: None })
            .expect("rehire");
        h.emu
            .apply(&HrEvent::Convert { person_id_external: active[1].clone(), start_date: None })
            .expect("convert");
        h.emu
            .apply(&HrEvent::Terminate {
                person_id_external: active[2].clone(),
                last_day: h.day(-1),
                user_id: None,
            })
            .expect("terminate");
        h.emu
            .apply(&HrEvent::PhoneChange {
                person_id_external: active[3].clone(),
                phone_type: "B".into(),
                number: Some("+49 30 1234".into()),
                is_primary: Some(true),
            })
            .expect("phone");
        h.advance_ms(60_000);
        engine.run_cycle(CycleKind::Incremental).await.expect("incremental");
        let urls = h.emu.requests().into_iter().map(|r| r.url).collect();
        (snapshot(&engine), urls)
    }
    let (everything, _) = run(false).await;
    let (selected, urls) = run(true).await;
    assert!(urls.iter().any(|u| u.contains("$select=")), "{urls:?}");
    assert_eq!(everything.len(), selected.len());
    for (id, attrs) in &everything {
        assert_eq!(Some(attrs), selected.get(id), "worker {id}: same values with $select");
    }
}

/// Namesakes hired together land in one page: each gets its own
/// sAMAccountName and UPN, picked in page order from the page's single
/// uniqueness answer plus the picks of the workers before it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namesakes_in_one_page_get_distinct_unique_values() {
    let h = Harness::start(50, 3).await;
    let mut engine = h.engine();
    engine.run_cycle(CycleKind::Full).await.expect("full");
    h.advance_ms(60_000);
    let ids = ["910001", "910002", "910003", "910004"];
    for id in ids {
        h.emu
            .apply(&HrEvent::Hire {
                person_id_external: Some(id.into()),
                first_name: Some("Quintus".into()),
                last_name: Some("Zebulon".into()),
                start_date: None,
                company: None,
                manager_id: None,
            })
            .expect("hire");
    }
    h.advance_ms(60_000);
    let report = engine.run_cycle(CycleKind::Incremental).await.expect("incremental");
    assert_eq!(report.status, CycleStatus::Completed, "{report:?}");
    assert_eq!(report.counts.get(&Action::Create), Some(&4), "{report:?}");
    let mut sams = Vec::new();
    let mut upns = HashSet::new();
    for id in ids {
        let o = one(&engine, id).await;
        sams.push(attr(&o, "sAMAccountName").expect("sAMAccountName").to_lowercase());
        upns.insert(attr(&o, "userPrincipalName").expect("userPrincipalName").to_lowercase());
    }
    // Three name candidates, then the one with personIdExternal.
    let fourth = sams.iter().find(|s| s.starts_with("zebulon.")).cloned().unwrap_or_default();
    assert!(ids.iter().any(|id| fourth == format!("zebulon.{id}")), "{sams:?}");
    sams.sort();
    assert_eq!(
        sams,
        vec!["q.zebulon".to_owned(), "qu.zebulon".to_owned(), "quintus.zebulon".to_owned(), fourth],
        "{sams:?}"
    );
    assert_eq!(upns.len(), 4, "{upns:?}");
}

/// The engine parses only the paths the flow reads (`CompiledFlow::select`, applied
/// on our side even when no `$select` is sent). For every worker of the
/// seeded population, under both built-in mappings, that gives the same
/// source values and the same lifecycle as parsing the whole record.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parsing_only_the_mapped_paths_changes_no_value() {
    use hrsync_engine::lifecycle;
    use hrsync_source_sf::wire::Projection;
    use hrsync_source_sf::{PersonQuery, filter};

    let h = Harness::start(600, 17).await;
    let sf = common::sf_client(&h.emu);
    let schema = hrsync_mapping::SourceSchema::builtin().expect("schema");
    let now = jiff::Timestamp::from_millisecond(h.clock.ms()).expect("now");
    let tz = jiff::tz::TimeZone::UTC;
    for (name, config) in [
        ("sf-to-ad", hrsync_mapping::MappingConfig::sf_to_ad()),
        ("sf-to-openldap", hrsync_mapping::MappingConfig::sf_to_openldap()),
    ] {
        let flow = common::flow_from(&schema, &config.expect("mapping"));
        let select = hrsync_engine::inbound::select_paths(&flow)
            .expect("the built-in mappings' paths are bounded");
        let query = PersonQuery {
            filter: Some(filter::full_sync(now)),
            expand: hrsync_engine::inbound::expand_paths(&flow),
            page_size: 200,
            snapshot: true,
            ..Default::default()
        };
        let read = |q: PersonQuery| {
            let sf = &sf;
            async move {
                let mut out = Vec::new();
                let mut pages = sf.persons(&q).expect("query");
                while let Some(page) = pages.next_page().await.expect("page") {
                    out.extend(page.records);
                }
                out
            }
        };
        let whole = read(query.clone()).await;
        let kept = read(PersonQuery {
            keep: Some(std::sync::Arc::new(Projection::from_paths(&select))),
            ..query
        })
        .await;
        assert_eq!(whole.len(), kept.len());
        assert!(whole.len() > 500, "{}", whole.len());
        let names: Vec<String> = flow.source.attribute_names().map(str::to_owned).collect();
        for (mut w, mut k) in whole.into_iter().zip(kept) {
            let person = w["personIdExternal"].clone();
            lifecycle::normalize(&mut w, now, &tz);
            lifecycle::normalize(&mut k, now, &tz);
            assert_eq!(
                format!("{:?}", lifecycle::decide(&w, now, &tz)),
                format!("{:?}", lifecycle::decide(&k, now, &tz)),
                "{name}: lifecycle of {person}"
            );
            let (sw, sk) = (flow.source.extract(&w), flow.source.extract(&k));
            for n in &names {
                use hrsync_expr::Attributes;
                assert_eq!(sw.get(n), sk.get(n), "{name}: {n} of {person}");
            }
        }
    }
}

/// A `SelectUniqueValue` mapping that flows on every update: a worker's own
/// current value is not "taken" by itself, so a second full cycle keeps every
/// value instead of moving each worker to its next candidate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_always_flowing_unique_value_is_not_taken_by_its_own_worker() {
    let mut h = Harness::start(200, 9).await;
    let mut config = hrsync_mapping::MappingConfig::sf_to_ad().expect("mapping");
    for m in &mut config.mappings {
        if m.target == "cn" {
            m.apply = hrsync_mapping::Apply::Always;
        }
    }
    h.flow = common::flow_from(&hrsync_mapping::SourceSchema::builtin().expect("schema"), &config);
    let mut engine = h.engine();
    let first = engine.run_cycle(CycleKind::Full).await.expect("full");
    assert!(first.counts.get(&Action::Create).copied().unwrap_or(0) > 150, "{first:?}");
    let cns: BTreeMap<String, String> = engine
        .target()
        .all()
        .expect("list")
        .iter()
        .filter_map(|o| Some((attr(o, "employeeID")?.to_owned(), attr(o, "cn")?.to_owned())))
        .collect();
    h.advance_ms(60_000);
    let again = engine.run_cycle(CycleKind::Full).await.expect("second full");
    assert_eq!(again.counts.get(&Action::Update), None, "{again:?}");
    for o in engine.target().all().expect("list") {
        let id = attr(&o, "employeeID").expect("employeeID");
        assert_eq!(attr(&o, "cn"), cns.get(id).map(String::as_str), "{id}");
    }
}

/// Every byte of the files in `dir` (state store, its WAL, the target).
fn bytes_of(dir: &std::path::Path) -> Vec<u8> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("dir").flatten() {
        if entry.file_name().to_string_lossy().starts_with("state") {
            out.extend(std::fs::read(entry.path()).unwrap_or_default());
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mapped_secrets_reach_the_target_but_never_the_state_log_or_plan() {
    let mut h = Harness::start(40, 31).await;
    let schema = hrsync_mapping::SourceSchema::builtin().expect("schema");
    let mut config = hrsync_mapping::MappingConfig::sf_to_ad().expect("mapping");
    let mapping = |target: &str, expression: &str, secret: bool| hrsync_mapping::AttributeMapping {
        target: target.into(),
        expression: Some(expression.into()),
        default: None,
        matching: None,
        apply: hrsync_mapping::Apply::OnCreate,
        flow: Default::default(),
        required: false,
        secret,
    };
    // A well-known password attribute, and one the mapping marks secret.
    config.mappings.push(mapping(
        "unicodePwd",
        r#"Join("", "Pw-unicode-", [personIdExternal])"#,
        false,
    ));
    config.mappings.push(mapping(
        "hrsyncSecretNote",
        r#"Join("", "Pw-marked-", [personIdExternal])"#,
        true,
    ));
    h.flow = common::flow_from(&schema, &config);

    // The dry run prints no secret.
    let mut engine = h.engine();
    let plan = engine.plan(CycleKind::Full, None).await.expect("plan");
    let printed = serde_json::to_string(&plan).expect("json");
    assert!(plan.count(Action::Create) > 10, "{plan:?}");
    assert!(!printed.contains("Pw-"), "the plan shows a secret: {printed}");
    assert!(printed.contains("(secret, set by hrsync)"), "the plan says the secret is set");

    let report = engine.run_cycle(CycleKind::Full).await.expect("full");
    assert_eq!(report.status, CycleStatus::Completed, "{report:?}");
    // Written to the target.
    let person = h.emu.scenarios()[&Scenario::Active][0].clone();
    let o = one(&engine, &person).await;
    assert_eq!(attr(&o, "unicodePwd"), Some(format!("Pw-unicode-{person}").as_str()));
    assert_eq!(attr(&o, "hrsyncSecretNote"), Some(format!("Pw-marked-{person}").as_str()));
    // Never in the log or the state file.
    let log = engine
        .store()
        .log(&LogQuery { person_id: Some(person.clone()), ..Default::default() })
        .expect("log");
    assert!(!log.is_empty());
    assert!(!format!("{log:?}").contains("Pw-"), "{log:?}");
    // On-demand detail: nothing to change (a set secret is not sent again), nothing shown.
    let od = engine.on_demand(&person).await.expect("on-demand");
    assert!(!format!("{od:?}").contains("Pw-"), "{od:?}");
    assert_eq!(od.count(Action::Skip), 1, "a set secret is not sent again: {od:?}");
    drop(engine);
    let state = bytes_of(&h.dir.0);
    assert!(!state.is_empty());
    assert!(
        !contains(&state, "Pw-unicode-") && !contains(&state, "Pw-marked-"),
        "a secret is in the state store"
    );
}

/// Issue 13, item 5: over the 100,000-worker population, every worker read
/// gets exactly one outcome, in the cycle report and in the provisioning
/// log, and no seeded person the full read returns goes missing: the
/// Onboarding pre-hires inside the lead time (re-read with `asOfDate`)
/// once vanished here, 273 of them, without a word.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_worker_read_of_100000_gets_exactly_one_outcome() {
    let h = Harness::start(100_000, 13).await;
    let mut engine = h.engine();
    let report = engine.run_cycle(CycleKind::Full).await.expect("cycle runs");
    assert_eq!(report.counts.values().sum::<u64>(), report.workers, "{report:?}");
    let log = engine
        .store()
        .log(&LogQuery { cycle_id: Some(report.cycle_id), ..LogQuery::default() })
        .expect("log");
    assert_eq!(log.len() as u64, report.workers, "one log entry per worker read");
    let logged: HashSet<&str> = log.iter().map(|e| e.person_id.as_str()).collect();
    let scenarios = h.emu.scenarios();
    for scenario in [
        Scenario::Active,
        Scenario::Manager,
        Scenario::PreHireActive,
        Scenario::PreHireInactive,
        Scenario::PreHireOnboarding,
        Scenario::PaidLeave,
        Scenario::UnpaidLeave,
        Scenario::Rehire,
        Scenario::Conversion,
    ] {
        let persons = &scenarios[&scenario];
        let missing: Vec<&String> =
            persons.iter().filter(|p| !logged.contains(p.as_str())).collect();
        assert!(
            missing.is_empty(),
            "{scenario:?}: {} of {} without an outcome: {:?}",
            missing.len(),
            persons.len(),
            &missing[..missing.len().min(5)]
        );
    }
}
