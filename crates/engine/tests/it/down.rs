//! A target out of reach (connection refused, refused credentials) fails
//! the cycle as a whole: the cycle ends failed with a message naming the
//! target and the cause, the watermark stays, no worker is escrowed or
//! flagged for it, and once the target is back the next cycle does what
//! the failed one could not. The embedded target is put out of reach by a
//! forwarding decorator answering every call with `Unreachable`.

use crate::common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use async_trait::async_trait;
use common::{Harness, attr, sf_client};
use hrsync_engine::Action;
use hrsync_engine::cycle::{Engine, EngineError};
use hrsync_store::{CycleKind, CycleStatus, LogQuery, Store};
use hrsync_store_sqlite::SqliteStore;
use hrsync_target::testing::{Call, Forward, Hooks};
use hrsync_target::{Target, TargetError};
use hrsync_target_embedded::EmbeddedTarget;
use sf_emulator::events::HrEvent;
use sf_emulator::model::Scenario;

/// Out of reach while `down` is set, or once `creates_left` creates have
/// gone through (a directory that dies in the middle of a cycle).
struct Switch {
    down: Arc<AtomicBool>,
    creates_left: Arc<AtomicUsize>,
}

#[async_trait]
impl Hooks for Switch {
    fn kind(&self) -> Option<&'static str> {
        Some("switched")
    }
    async fn before(&self, call: &Call<'_>) -> Result<(), TargetError> {
        if matches!(call, Call::Create { .. })
            && self
                .creates_left
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_err()
        {
            self.down.store(true, Ordering::SeqCst);
        }
        // A flush is local to the embedded target (an LDAP or SCIM target
        // has none): refused, it would keep the creates that went through
        // out of the store, which the next cycle then joins by matching.
        if self.down.load(Ordering::SeqCst) && !matches!(call, Call::Flush) {
            return Err(TargetError::Unreachable {
                operation: call.operation(),
                message: "cannot connect to ldap://dc.example.test: Connection refused".into(),
            });
        }
        Ok(())
    }
}

type Switched = Forward<EmbeddedTarget, Switch>;

struct Setup {
    engine: Engine<SqliteStore, Switched>,
    down: Arc<AtomicBool>,
    creates_left: Arc<AtomicUsize>,
}

fn setup(h: &Harness, creates: usize) -> Setup {
    let down = Arc::new(AtomicBool::new(false));
    let creates_left = Arc::new(AtomicUsize::new(creates));
    let target = Forward::new(
        EmbeddedTarget::in_memory(common::UNIQUE).expect("target"),
        Switch { down: down.clone(), creates_left: creates_left.clone() },
    );
    let store = SqliteStore::open(&h.dir.0.join("state.sqlite"), hrsync_store::INBOUND)
        .expect("store opens");
    let engine = Engine::new(
        sf_client(&h.emu),
        h.flow.clone(),
        store,
        target,
        h.clock.clone(),
        h.settings.clone(),
    );
    Setup { engine, down, creates_left }
}

fn assert_failed_unreachable(result: Result<hrsync_engine::cycle::CycleReport, EngineError>) {
    match result {
        Err(e @ EngineError::TargetUnreachable { target: "switched", .. }) => {
            let text = e.to_string();
            assert!(text.contains("Connection refused"), "the cause is named: {text}");
        }
        other => panic!("the cycle must fail as a whole: {other:?}"),
    }
}

/// The store's record of the newest cycle, and its log entries.
fn last_cycle(
    engine: &Engine<SqliteStore, Switched>,
) -> (hrsync_store::Cycle, Vec<hrsync_store::LogEntry>) {
    let cycle = engine.store().cycles(1).expect("cycles").remove(0);
    let query = LogQuery { cycle_id: Some(cycle.id), ..LogQuery::default() };
    (cycle, engine.store().log(&query).expect("log"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_target_fails_the_incremental_cycle_and_moves_nothing() {
    let h = Harness::start(60, 31).await;
    let Setup { mut engine, down, .. } = setup(&h, usize::MAX);
    let scope = engine.settings().watermark_scope.clone();
    let full = engine.run_cycle(CycleKind::Full).await.expect("full");
    assert_eq!(full.status, CycleStatus::Completed, "{full:?}");
    let watermark = engine.store().watermark(&scope).expect("watermark");
    assert!(watermark.is_some());

    let renamed = h.emu.scenarios()[&Scenario::Active][0].clone();
    h.advance_ms(60_000);
    h.emu
        .apply(&HrEvent::NameChange {
            person_id_external: renamed.clone(),
            effective: None,
            first_name: None,
            last_name: Some("Unreachable-Renamed".into()),
            preferred_name: None,
        })
        .expect("name change");
    h.advance_ms(60_000);
    down.store(true, Ordering::SeqCst);
    assert_failed_unreachable(engine.run_cycle(CycleKind::Incremental).await);
    assert_eq!(engine.store().watermark(&scope).expect("watermark"), watermark, "not advanced");
    assert!(engine.store().escrows().expect("escrows").is_empty(), "no worker escrowed");
    let (cycle, logged) = last_cycle(&engine);
    assert_eq!(cycle.status, CycleStatus::Failed, "{cycle:?}");
    let message = cycle.message.unwrap_or_default();
    assert!(message.contains("switched") && message.contains("Connection refused"), "{message}");
    assert!(logged.is_empty(), "no worker is logged as failed for the target's fault: {logged:?}");

    // A full sync while it is down fails the same way, escrowing no one.
    h.advance_ms(60_000);
    assert_failed_unreachable(engine.run_cycle(CycleKind::Full).await);
    assert!(engine.store().escrows().expect("escrows").is_empty());
    assert_eq!(engine.store().watermark(&scope).expect("watermark"), watermark);

    // Back: the next incremental cycle still sees the change (the window
    // starts at the old watermark) and applies it.
    down.store(false, Ordering::SeqCst);
    h.advance_ms(60_000);
    let r = engine.run_cycle(CycleKind::Incremental).await.expect("incremental");
    assert_eq!(r.status, CycleStatus::Completed, "{r:?}");
    assert_eq!(r.count(Action::Update), 1, "{r:?}");
    let found = engine.target().inner.find("employeeID", &renamed).await.expect("find");
    assert_eq!(found.len(), 1);
    assert_eq!(attr(&found[0], "sn"), Some("Unreachable-Renamed"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_lost_mid_cycle_stops_it_and_the_next_cycle_finishes_without_duplicates() {
    let h = Harness::start(120, 32).await;
    // Up for the first 25 creates, then out of reach.
    let Setup { mut engine, down, creates_left } = setup(&h, 25);
    let scope = engine.settings().watermark_scope.clone();
    assert_failed_unreachable(engine.run_cycle(CycleKind::Full).await);
    assert_eq!(engine.store().watermark(&scope).expect("watermark"), None);
    assert!(engine.store().escrows().expect("escrows").is_empty(), "no worker escrowed");
    let created = engine.target().inner.all().expect("list").len();
    assert_eq!(created, 25, "the creates that went through");
    // What the target did before it went is recorded: those are joined.
    assert_eq!(engine.store().account_counts().expect("counts").active, 25);
    let (cycle, logged) = last_cycle(&engine);
    assert_eq!(cycle.status, CycleStatus::Failed);
    // The creates that went through are logged; no worker is logged as
    // failed (some may be logged as skipped before the target went).
    let creates = logged.iter().filter(|e| e.action == Action::Create).count();
    assert_eq!(creates, 25, "{logged:?}");
    assert!(logged.iter().all(|e| e.status != hrsync_store::LogStatus::Failure), "{logged:?}");

    creates_left.store(usize::MAX, Ordering::SeqCst);
    down.store(false, Ordering::SeqCst);
    h.advance_ms(60_000);
    let r = engine.run_cycle(CycleKind::Full).await.expect("full");
    assert_eq!(r.status, CycleStatus::Completed, "{r:?}");
    assert!(engine.store().watermark(&scope).expect("watermark").is_some());
    let objects = engine.target().inner.all().expect("list");
    let mut ids: Vec<String> =
        objects.iter().filter_map(|o| attr(o, "employeeID").map(str::to_owned)).collect();
    let n = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), n, "no worker has two accounts");
    assert_eq!(r.count(Action::Create) as usize + created, objects.len(), "{r:?}");
    assert!(objects.len() > 25, "the rest were created: {}", objects.len());
}
