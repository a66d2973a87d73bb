//! When things go wrong: a worker the target refuses is escrowed and retried
//! with backoff while the others proceed, then flagged for a human; a
//! required attribute that maps to nothing stops that worker only; a cycle
//! that would disable too many accounts stops before acting; a scoped-out
//! worker is disabled; an incremental cycle over 100,000 workers costs a
//! handful of requests; a record that is not text fails alone and is read
//! again.

use crate::common;

use hrsync_engine::Action;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use common::{Harness, attr, one, sf_client};
use hrsync_engine::cycle::{CompiledFlow, Engine, EscrowPolicy};
use hrsync_expr::Clock;
use hrsync_mapping::{MappingConfig, ScopingFilter, SourceSchema};
use hrsync_store::{CycleKind, CycleStatus, LogQuery, Store};
use hrsync_store_sqlite::SqliteStore;
use hrsync_target::testing::{Call, Forward, Hooks};
use hrsync_target::{Target, TargetError};
use hrsync_target_embedded::EmbeddedTarget;
use sf_emulator::events::HrEvent;
use sf_emulator::model::Scenario;

/// The embedded target, refusing to create the workers listed in `refuse`.
type Refusing = Forward<EmbeddedTarget, Refuse>;

/// Refuses creates of the listed employeeIDs: as unavailable (worth
/// retrying) or, with `permanent`, as a constraint violation (the values
/// themselves are refused).
struct Refuse {
    refuse: Arc<Mutex<HashSet<String>>>,
    permanent: bool,
}

#[async_trait]
impl Hooks for Refuse {
    fn kind(&self) -> Option<&'static str> {
        Some("refusing")
    }
    async fn before(&self, call: &Call<'_>) -> Result<(), TargetError> {
        let Call::Create { attributes } = call else { return Ok(()) };
        let id = attributes.get("employeeID").and_then(|v| v.as_str()).unwrap_or_default();
        if self.refuse.lock().expect("lock").contains(id) {
            let message = format!("constraint violation for {id}");
            return Err(if self.permanent {
                TargetError::Rejected { operation: "create", message }
            } else {
                TargetError::Unavailable { operation: "create", message }
            });
        }
        Ok(())
    }
}

fn store(h: &Harness) -> SqliteStore {
    SqliteStore::open(&h.dir.0.join("state.sqlite"), hrsync_store::INBOUND).expect("store")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_worker_is_escrowed_retried_with_backoff_then_flagged_and_never_blocks_others() {
    let mut h = Harness::start(60, 21).await;
    h.settings.escrow = EscrowPolicy {
        first_retry: Duration::from_secs(60),
        max_retry: Duration::from_secs(3600),
        flag_after: 3,
    };
    let bad = h.emu.scenarios()[&Scenario::Active][0].clone();
    let refuse = Arc::new(Mutex::new(HashSet::from([bad.clone()])));
    let target: Refusing = Forward::new(
        EmbeddedTarget::in_memory(common::UNIQUE).expect("target"),
        Refuse { refuse: refuse.clone(), permanent: false },
    );
    let mut engine = Engine::new(
        sf_client(&h.emu),
        h.flow.clone(),
        store(&h),
        target,
        h.clock.clone(),
        h.settings.clone(),
    );

    let first = engine.run_cycle(CycleKind::Full).await.expect("full");
    assert_eq!(first.status, CycleStatus::CompletedWithErrors, "{first:?}");
    assert_eq!(first.counts.get(&Action::Failed), Some(&1));
    assert!(
        first.counts.get(&Action::Create).copied().unwrap_or(0) > 30,
        "the others were created: {first:?}"
    );
    let escrow = |e: &Engine<SqliteStore, Refusing>| {
        e.store().escrows().expect("escrows").into_iter().find(|x| x.person_id == bad)
    };
    let e1 = escrow(&engine).expect("escrowed");
    assert_eq!(e1.attempts, 1);
    assert!(e1.last_error.contains("constraint violation"), "{}", e1.last_error);
    assert!(!e1.flagged);

    // Not yet due: an idle cycle leaves it alone.
    h.advance_ms(30_000);
    engine.run_cycle(CycleKind::Incremental).await.expect("idle");
    assert_eq!(escrow(&engine).expect("still escrowed").attempts, 1);

    // Due after 60 s, then 120 s (doubling), flagged at the third failure.
    h.advance_ms(31_000);
    engine.run_cycle(CycleKind::Incremental).await.expect("retry 1");
    let e2 = escrow(&engine).expect("escrowed");
    assert_eq!(e2.attempts, 2);
    assert_eq!(e2.next_attempt_at.duration_since(e2.last_failed_at).as_secs(), 120);
    h.advance_ms(121_000);
    engine.run_cycle(CycleKind::Incremental).await.expect("retry 2");
    let e3 = escrow(&engine).expect("escrowed");
    assert_eq!(e3.attempts, 3);
    assert!(e3.flagged, "flagged for a human after 3 failures");

    // Fixed in the target: the next due retry provisions it and clears the escrow.
    refuse.lock().expect("lock").clear();
    h.advance_ms(241_000);
    let r = engine.run_cycle(CycleKind::Incremental).await.expect("retry 3");
    assert_eq!(r.counts.get(&Action::Create), Some(&1), "{r:?}");
    assert!(escrow(&engine).is_none());
    assert_eq!(engine.target().inner.find("employeeID", &bad).await.expect("find").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permanent_refusal_is_flagged_at_once_and_not_retried_before_max_retry() {
    let mut h = Harness::start(40, 24).await;
    h.settings.escrow = EscrowPolicy {
        first_retry: Duration::from_secs(60),
        max_retry: Duration::from_secs(3600),
        flag_after: 10,
    };
    let bad = h.emu.scenarios()[&Scenario::Active][0].clone();
    let target: Refusing = Forward::new(
        EmbeddedTarget::in_memory(common::UNIQUE).expect("target"),
        Refuse { refuse: Arc::new(Mutex::new(HashSet::from([bad.clone()]))), permanent: true },
    );
    let mut engine = Engine::new(
        sf_client(&h.emu),
        h.flow.clone(),
        store(&h),
        target,
        h.clock.clone(),
        h.settings.clone(),
    );
    let first = engine.run_cycle(CycleKind::Full).await.expect("full");
    assert_eq!(first.counts.get(&Action::Failed), Some(&1), "{first:?}");
    let escrow = engine.store().escrows().expect("escrows");
    let e = escrow.iter().find(|e| e.person_id == bad).expect("escrowed");
    assert_eq!(e.attempts, 1);
    assert!(e.flagged, "a constraint violation is flagged for a human at once: {e:?}");
    assert_eq!(e.next_attempt_at.duration_since(e.last_failed_at).as_secs(), 3600);
    // Not retried at the transient schedule (60 s): still one attempt.
    h.advance_ms(61_000);
    engine.run_cycle(CycleKind::Incremental).await.expect("incremental");
    let e = engine.store().escrows().expect("escrows");
    assert_eq!(e.iter().find(|e| e.person_id == bad).expect("escrowed").attempts, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_required_attribute_without_a_value_fails_that_worker_only() {
    let mut h = Harness::start(30, 22).await;
    let schema = SourceSchema::builtin().expect("schema");
    let mut config = MappingConfig::sf_to_ad().expect("mapping");
    for m in config.mappings.iter_mut().filter(|m| m.target == "mail") {
        m.required = true;
    }
    h.flow = CompiledFlow::compile(&schema, &config).expect("flow");
    let person = h.emu.scenarios()[&Scenario::Active][0].clone();
    for t in ["B", "P"] {
        // Remove every email: the worker has no mail to map.
        let _ = h.emu.apply(&HrEvent::EmailChange {
            person_id_external: person.clone(),
            email_type: t.into(),
            address: None,
            is_primary: None,
        });
    }
    let mut engine = h.engine();
    let r = engine.run_cycle(CycleKind::Full).await.expect("full");
    // The seeded population also has workers without any email.
    let escrows = engine.store().escrows().expect("escrows");
    assert_eq!(r.counts.get(&Action::Failed).copied(), Some(escrows.len() as u64), "{r:?}");
    assert!(escrows.iter().all(|e| e.last_error.contains("mail: required")), "{escrows:?}");
    assert!(escrows.iter().any(|e| e.person_id == person), "{escrows:?}");
    assert!(r.counts.get(&Action::Create).copied().unwrap_or(0) > 20, "{r:?}");
    assert!(common::by_employee(&engine, &person).await.is_empty());
}

fn scoped(h: &Harness, excluded: &[&str]) -> CompiledFlow {
    let schema = SourceSchema::builtin().expect("schema");
    let mut config = MappingConfig::sf_to_ad().expect("mapping");
    let clauses = excluded
        .iter()
        .map(|id| format!("[[scope.groups.clauses]]\nattribute = \"personIdExternal\"\noperator = \"NOT EQUALS\"\nvalues = [\"{id}\"]\n"))
        .collect::<String>();
    let scope: MappingConfig =
        toml::from_str(&format!("[[scope.groups]]\nname = \"all but some\"\n{clauses}"))
            .expect("scope toml");
    config.scope = scope.scope.or_else(|| Some(ScopingFilter::default()));
    let _ = h;
    CompiledFlow::compile(&schema, &config).expect("flow")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scoped_out_workers_are_disabled_unless_the_deletion_guard_trips() {
    let mut h = Harness::start(80, 23).await;
    h.settings.guard.max_count = 3;
    h.settings.guard.max_share = 0.5;
    {
        let mut engine = h.engine();
        engine.run_cycle(CycleKind::Full).await.expect("full");
    }
    let active = h.emu.scenarios()[&Scenario::Active].clone();

    // Two workers leave the scope: disabled, with a log entry each.
    h.flow = scoped(&h, &[&active[0], &active[1]]);
    h.advance_ms(60_000);
    let mut engine = h.engine();
    let r = engine.run_cycle(CycleKind::Full).await.expect("scoped cycle");
    assert_eq!(r.status, CycleStatus::Completed, "{r:?}");
    assert_eq!(r.counts.get(&Action::Disable), Some(&2), "{r:?}");
    for p in &active[..2] {
        assert_eq!(attr(&one(&engine, p).await, "accountDisabled"), Some("True"), "{p} scoped out");
    }
    drop(engine);

    // Six more would go: over max_count = 3, so nothing is disabled.
    let ids: Vec<&str> = active[..8].iter().map(String::as_str).collect();
    h.flow = scoped(&h, &ids);
    h.advance_ms(60_000);
    let mut engine = h.engine();
    let r = engine.run_cycle(CycleKind::Full).await.expect("guarded cycle");
    assert_eq!(r.status, CycleStatus::Guarded, "{r:?}");
    assert!(
        r.message.as_deref().unwrap_or_default().contains("accidental-deletion guard"),
        "{r:?}"
    );
    for p in &active[2..8] {
        assert_eq!(
            attr(&one(&engine, p).await, "accountDisabled"),
            Some("False"),
            "{p} left alone"
        );
    }
    let last = engine.store().cycles(1).expect("cycles");
    assert_eq!(last[0].status, CycleStatus::Guarded);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incremental_cycle_over_100000_workers_with_100_changes_sends_a_handful_of_requests() {
    let h = Harness::start(100_000, 24).await;
    // The watermark of an earlier full sync (not re-run here: the claim is
    // about the incremental cycle's cost).
    {
        let mut s = store(&h);
        let at = h.clock.now();
        let c = s.begin_cycle(CycleKind::Full, None, at).expect("begin");
        s.finish_cycle(
            c,
            CycleStatus::Completed,
            &serde_json::json!({}),
            None,
            at,
            Some(("successfactors:PerPerson", at)),
        )
        .expect("finish");
    }
    h.advance_ms(60_000);
    let active = h.emu.scenarios()[&Scenario::Active].clone();
    for (i, p) in active.iter().take(100).enumerate() {
        h.emu
            .apply(&HrEvent::Transfer {
                person_id_external: p.clone(),
                effective: None,
                department: None,
                location: None,
                company: None,
                manager_id: None,
                job_title: Some(format!("T{i}")),
            })
            .expect("transfer");
    }
    h.advance_ms(60_000);
    h.emu.clear_requests();
    let mut engine = h.engine();
    let r = engine.run_cycle(CycleKind::Incremental).await.expect("incremental");
    assert_eq!(r.workers, 100, "{r:?}");
    let requests = h.emu.requests();
    assert!(
        requests.len() <= 3,
        "count probe + one page of 200: {:?}",
        requests.iter().map(|q| &q.url).collect::<Vec<_>>()
    );
    assert!(requests[0].url.contains("$count"));
}

/// A scoped-out worker is not mapped: a required attribute it lacks does
/// not fail it, it is skipped (and never created).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scoped_out_worker_is_skipped_not_failed_on_a_required_attribute() {
    let mut h = Harness::start(30, 22).await;
    let person = h.emu.scenarios()[&Scenario::Active][0].clone();
    for t in ["B", "P"] {
        let _ = h.emu.apply(&HrEvent::EmailChange {
            person_id_external: person.clone(),
            email_type: t.into(),
            address: None,
            is_primary: None,
        });
    }
    let schema = SourceSchema::builtin().expect("schema");
    let mut config = MappingConfig::sf_to_ad().expect("mapping");
    for m in config.mappings.iter_mut().filter(|m| m.target == "mail") {
        m.required = true;
    }
    let scope: MappingConfig = toml::from_str(&format!(
        "[[scope.groups]]\nname = \"all but one\"\n[[scope.groups.clauses]]\nattribute = \"personIdExternal\"\noperator = \"NOT EQUALS\"\nvalues = [\"{person}\"]\n"
    ))
    .expect("scope toml");
    config.scope = scope.scope;
    h.flow = CompiledFlow::compile(&schema, &config).expect("flow");
    let mut engine = h.engine();
    let r = engine.run_cycle(CycleKind::Full).await.expect("full");
    let escrows = engine.store().escrows().expect("escrows");
    assert!(escrows.iter().all(|e| e.person_id != person), "{escrows:?}");
    let log = engine
        .store()
        .log(&LogQuery { person_id: Some(person.clone()), ..Default::default() })
        .expect("log");
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!((log[0].action.as_str(), log[0].status.as_str()), ("skip", "skipped"), "{log:?}");
    assert!(common::by_employee(&engine, &person).await.is_empty());
    assert!(r.counts.get(&Action::Create).copied().unwrap_or(0) > 20, "{r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mass_termination_disabling_by_attribute_trips_the_guard_with_the_default_limits() {
    // Default limits: 500 accounts or 20 %.
    let h = Harness::start(300, 25).await;
    assert_eq!(h.settings.guard.max_share, 0.2);
    let mut engine = h.engine();
    let r = engine.run_cycle(CycleKind::Full).await.expect("full");
    let managed = engine.store().account_counts().expect("counts").active;
    assert!(managed > 150, "{r:?}");
    let active = h.emu.scenarios()[&Scenario::Active].clone();
    let leavers: Vec<&String> = active.iter().take((managed as usize) / 4).collect();
    assert!(leavers.len() as u64 * 5 > managed, "more than 20 % leave");
    for p in &leavers {
        h.emu
            .apply(&HrEvent::Terminate {
                person_id_external: (*p).clone(),
                last_day: h.day(-1),
                user_id: None,
            })
            .expect("terminate");
    }
    h.advance_ms(60_000);
    // The built-in mapping disables by updating accountDisabled: the guard
    // counts those updates like disables.
    let r = engine.run_cycle(CycleKind::Incremental).await.expect("incremental");
    assert_eq!(r.status, CycleStatus::Guarded, "{r:?}");
    assert!(
        r.message.as_deref().unwrap_or_default().contains("accidental-deletion guard"),
        "{r:?}"
    );
    let still_enabled = {
        let mut n = 0;
        for p in &leavers {
            if attr(&one(&engine, p).await, "accountDisabled") != Some("True") {
                n += 1;
            }
        }
        n
    };
    assert_eq!(still_enabled, leavers.len(), "nothing was disabled");
    assert_eq!(engine.store().account_counts().expect("counts").disabled, 0);

    // Under the limit, an attribute disable is applied and counted as one.
    // The first engine closes its target first: the embedded target file
    // takes one writer at a time (its lock).
    drop(engine);
    let mut few = h.settings.clone();
    few.guard.max_share = 1.0;
    let mut engine = Engine::new(
        sf_client(&h.emu),
        h.flow.clone(),
        store(&h),
        EmbeddedTarget::open_indexed(
            &h.dir.0.join("target.sqlite"),
            common::UNIQUE,
            &h.flow.lookup_attributes(),
        )
        .expect("target"),
        h.clock.clone(),
        few,
    );
    h.advance_ms(60_000);
    let r = engine.run_cycle(CycleKind::Full).await.expect("full, guard lifted");
    assert_eq!(r.count(Action::Disable), leavers.len() as u64, "{r:?}");
    for p in &leavers {
        assert_eq!(attr(&one(&engine, p).await, "accountDisabled"), Some("True"), "{p}");
    }
    assert_eq!(engine.store().account_counts().expect("counts").disabled, leavers.len() as u64);
}

/// A responder in front of the emulator whose `edit` rewrites the JSON of
/// PerPerson pages while `on` is set: records the emulator (like a real
/// tenant's API) cannot be made to hold.
fn editing_source(
    h: &Harness,
    on: Arc<std::sync::atomic::AtomicBool>,
    edit: impl Fn(String) -> String + Send + Sync + 'static,
) -> (hrsync_testkit::proxy::Responder, hrsync_source_sf::SfClient) {
    use hrsync_testkit::proxy::{Responder, Verdict};
    let edit: hrsync_testkit::proxy::Edit = Arc::new(move |body| {
        edit(String::from_utf8(body).expect("emulator JSON is text")).into_bytes()
    });
    let responder = Responder::start(&h.emu.base_url(), move |r| {
        if r.target.contains("/PerPerson") && on.load(std::sync::atomic::Ordering::SeqCst) {
            Verdict::Edit(edit.clone())
        } else {
            Verdict::Forward
        }
    })
    .expect("responder");
    let mut source = hrsync_source_sf::SourceConfig::new(
        responder.url(),
        hrsync_source_sf::Credentials::Basic {
            username: sf_emulator::DEFAULT_USERNAME.into(),
            company_id: sf_emulator::DEFAULT_COMPANY_ID.into(),
            password: secrecy::SecretString::from(sf_emulator::DEFAULT_PASSWORD.to_owned()),
        },
    );
    source.retry.base_delay = Duration::from_millis(5);
    let client = hrsync_source_sf::SfClient::new(&source).expect("client");
    (responder, client)
}

fn editing_engine(h: &Harness, client: hrsync_source_sf::SfClient) -> common::TestEngine {
    let target = EmbeddedTarget::open_indexed(
        &h.dir.0.join("target.sqlite"),
        common::UNIQUE,
        &h.flow.lookup_attributes(),
    )
    .expect("target");
    Engine::new(client, h.flow.clone(), store(h), target, h.clock.clone(), h.settings.clone())
}

#[tokio::test]
async fn a_record_that_is_not_text_fails_alone_and_is_read_again_next_cycle() {
    // Issue 13, item 8: such a record was left out with a log line and the
    // watermark advanced past it, so the worker was never provisioned.
    let h = Harness::start(30, 8).await;
    let corrupt = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let hit: Arc<Mutex<Option<String>>> = Arc::new(Mutex::new(None));
    let seen = hit.clone();
    // The first lastName passed on (once) gets a lone UTF-16 surrogate
    // escape (`\ud800`): valid JSON, not text.
    let (_responder, client) = editing_source(&h, corrupt.clone(), move |text| {
        let mut seen = seen.lock().expect("hit");
        let Some(at) = text.find(r#""lastName":""#).filter(|_| seen.is_none()) else { return text };
        let key = r#""personIdExternal":""#;
        *seen = text[..at].rfind(key).map(|p| {
            let rest = &text[p + key.len()..];
            rest[..rest.find('"').expect("id ends")].to_owned()
        });
        let len = r#""lastName":""#.len();
        format!("{}{}{}", &text[..at], r#""lastName":"\ud800"#, &text[at + len..])
    });
    let mut engine = editing_engine(&h, client);

    let first = engine.run_cycle(CycleKind::Full).await.expect("full");
    let bad = hit.lock().expect("hit").clone().expect("the proxy corrupted a record");
    assert_eq!(first.count(Action::Failed), 1, "{first:?}");
    assert_eq!(first.status, CycleStatus::CompletedWithErrors, "{first:?}");
    let message = first.message.clone().unwrap_or_default();
    assert!(message.contains(&bad) && message.contains("lastName"), "{message}");
    let created = first.count(Action::Create);
    assert!(created > 0, "the other workers went ahead: {first:?}");
    assert!(common::by_employee(&engine, &bad).await.is_empty(), "{bad} was not provisioned");

    // The source is fixed; the next incremental cycle reads from where the
    // watermark stayed and provisions the worker.
    corrupt.store(false, std::sync::atomic::Ordering::SeqCst);
    let second = engine.run_cycle(CycleKind::Incremental).await.expect("incremental");
    assert_eq!(second.count(Action::Failed), 0, "{second:?}");
    assert_eq!(common::by_employee(&engine, &bad).await.len(), 1, "{second:?}");
}

/// Issue 13, item 5, through the real source: a record whose
/// personIdExternal is a JSON number, one that is not an object and one
/// with a blank id each get a failed outcome naming the value, the others
/// go ahead, every record read has exactly one outcome, and the watermark
/// holds so the next cycle reads them again.
#[tokio::test]
async fn unusable_records_fail_named_and_keep_the_window_open() {
    let h = Harness::start(30, 5).await;
    let on = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let spoiled: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen = spoiled.clone();
    let (_responder, client) = editing_source(&h, on.clone(), move |text| {
        let mut page: serde_json::Value = serde_json::from_str(&text).expect("page JSON");
        let Some(results) = page["d"]["results"].as_array_mut().filter(|r| r.len() >= 3) else {
            return text;
        };
        let mut seen = seen.lock().expect("spoiled");
        for r in results.iter().take(3) {
            seen.push(r["personIdExternal"].as_str().expect("id").to_owned());
        }
        results[0]["personIdExternal"] = serde_json::json!(4711);
        results[1] = serde_json::json!("\u{e9}".repeat(100));
        results[2]["personIdExternal"] = serde_json::json!("   ");
        page.to_string()
    });
    let mut engine = editing_engine(&h, client);

    let first = engine.run_cycle(CycleKind::Full).await.expect("full");
    let spoiled = spoiled.lock().expect("spoiled").clone();
    assert_eq!(spoiled.len(), 3, "the responder spoiled one page: {first:?}");
    assert_eq!(first.count(Action::Failed), 3, "{first:?}");
    assert_eq!(first.counts.values().sum::<u64>(), first.workers, "one outcome each: {first:?}");
    assert_eq!(first.status, CycleStatus::CompletedWithErrors, "{first:?}");
    let message = first.message.clone().unwrap_or_default();
    assert!(message.contains("not a string: 4711"), "{message}");
    assert!(message.contains("not an object"), "{message}");
    assert!(message.contains("blank"), "{message}");
    for p in &spoiled {
        assert!(common::by_employee(&engine, p).await.is_empty(), "{p} not provisioned yet");
    }
    assert!(first.count(Action::Create) > 0, "the others went ahead: {first:?}");
    let log = engine
        .store()
        .log(&LogQuery { cycle_id: Some(first.cycle_id), ..LogQuery::default() })
        .expect("log");
    assert_eq!(log.len() as u64, first.workers, "one log entry per record read");

    on.store(false, std::sync::atomic::Ordering::SeqCst);
    let second = engine.run_cycle(CycleKind::Incremental).await.expect("incremental");
    assert_eq!(second.count(Action::Failed), 0, "{second:?}");
    for p in &spoiled {
        assert_eq!(common::by_employee(&engine, p).await.len(), 1, "{p}: {second:?}");
    }
}
