//! Pages overlap: a page is matched, checked for unique values and written
//! while the previous page's writes are still out. These tests slow the
//! target's writes down (each by its own delay, so they come back out of
//! order) and check what must hold anyway: a value picked by a page in
//! flight is not picked again, and the store records a worker only after
//! its write came back, every worker exactly once.

use crate::common;

use hrsync_engine::Action;
use hrsync_store::CycleStatus;
use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use common::{Harness, UNIQUE, attr, sf_client};
use hrsync_engine::cycle::{CompiledFlow, Engine};
use hrsync_mapping::{MappingConfig, SourceSchema};
use hrsync_store::{CycleKind, Store};
use hrsync_store_sqlite::SqliteStore;
use hrsync_target::testing::{Call, Forward, Hooks, Outcome};
use hrsync_target::{Target, TargetError};
use hrsync_target_embedded::EmbeddedTarget;
use sf_emulator::events::HrEvent;

/// The embedded target with every create and update held back for a
/// while: 1 to 4 times `unit`, by the worker's employeeID, so later writes
/// often come back first. Records which objects' creates came back and how
/// many writes are out.
type Slow = Forward<EmbeddedTarget, Hold>;

struct Hold {
    unit: Duration,
    created: Created,
    out: Arc<AtomicUsize>,
}

impl Hold {
    async fn hold(&self, key: &str) {
        let n =
            key.bytes().fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b))) % 4 + 1;
        tokio::time::sleep(self.unit * n).await;
    }
}

#[async_trait]
impl Hooks for Hold {
    fn kind(&self) -> Option<&'static str> {
        Some("slow")
    }
    async fn before(&self, call: &Call<'_>) -> Result<(), TargetError> {
        let key = match call {
            Call::Create { attributes } => {
                attributes.get("employeeID").and_then(|v| v.as_str()).unwrap_or_default()
            }
            Call::Update { id, .. } => id,
            _ => return Ok(()),
        };
        self.out.fetch_add(1, Ordering::SeqCst);
        self.hold(key).await;
        Ok(())
    }
    async fn after(&self, call: &Call<'_>, outcome: Outcome<'_>) {
        match (call, outcome.result) {
            (Call::Create { .. }, Ok(Some(o))) => {
                self.created.lock().expect("lock").insert(o.id.clone());
            }
            (Call::Create { .. } | Call::Update { .. }, _) => {}
            _ => return,
        }
        self.out.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Ids of the objects whose creates came back.
type Created = Arc<Mutex<HashSet<String>>>;

fn slow_engine(
    h: &Harness,
    unit: Duration,
) -> (Engine<SqliteStore, Slow>, Created, Arc<AtomicUsize>) {
    let store = SqliteStore::open(&h.dir.0.join("state.sqlite"), hrsync_store::INBOUND)
        .expect("store opens");
    let inner = EmbeddedTarget::open_indexed(
        &h.dir.0.join("target.sqlite"),
        UNIQUE,
        &h.flow.lookup_attributes(),
    )
    .expect("target opens");
    let created = Arc::new(Mutex::new(HashSet::new()));
    let out = Arc::new(AtomicUsize::new(0));
    let target: Slow =
        Forward::new(inner, Hold { unit, created: created.clone(), out: out.clone() });
    (
        Engine::new(
            sf_client(&h.emu),
            h.flow.clone(),
            store,
            target,
            h.clock.clone(),
            h.settings.clone(),
        ),
        created,
        out,
    )
}

/// Six namesakes, two per page: each page asks the target about its
/// candidates while the earlier namesakes' creates are still held back, so
/// only the picks carried over from the pages in flight keep the values
/// apart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namesakes_across_pages_in_flight_get_distinct_unique_values() {
    let mut h = Harness::start(0, 4).await;
    h.settings.page_size = 2;
    let ids = ["920001", "920002", "920003", "920004", "920005", "920006"];
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
    let (mut engine, _, _) = slow_engine(&h, Duration::from_millis(150));
    let report = engine.run_cycle(CycleKind::Full).await.expect("full");
    assert_eq!(report.status, CycleStatus::Completed, "{report:?}");
    assert_eq!(report.counts.get(&Action::Create), Some(&6), "{report:?}");
    let objects = engine.target().inner.all().expect("list");
    let sams: HashSet<String> =
        objects.iter().filter_map(|o| attr(o, "sAMAccountName")).map(str::to_lowercase).collect();
    let upns: HashSet<String> = objects
        .iter()
        .filter_map(|o| attr(o, "userPrincipalName"))
        .map(str::to_lowercase)
        .collect();
    assert_eq!((objects.len(), sams.len(), upns.len()), (6, 6, 6), "{sams:?} {upns:?}");
    // The same picks as one worker at a time: three name candidates first.
    for name in ["quintus.zebulon", "q.zebulon", "qu.zebulon"] {
        assert!(sams.contains(name), "{name} in {sams:?}");
    }
}

/// Every store commit (checked at each one, from a second connection) holds
/// only workers whose writes came back; at least one commit happened with
/// writes of a later page still out; in the end every worker is recorded
/// once, with the object it was created with.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_is_committed_only_after_its_own_writes_came_back() {
    let mut h = Harness::start(120, 8).await;
    h.settings.page_size = 10;
    h.settings.concurrency = 8;
    let persons: Vec<String> =
        h.emu.scenarios().into_values().flatten().collect::<HashSet<_>>().into_iter().collect();
    let (mut engine, created, out) = slow_engine(&h, Duration::from_millis(15));
    let reader = Arc::new(Mutex::new(
        SqliteStore::open(&h.dir.0.join("state.sqlite"), hrsync_store::INBOUND).expect("reader"),
    ));
    let checked = Arc::new(Mutex::new((0usize, 0usize, Vec::<String>::new())));
    {
        let (reader, checked, created, out) =
            (reader.clone(), checked.clone(), created.clone(), out.clone());
        engine.on_crash_point(Arc::new(move |point| {
            if point != "after-commit" {
                return;
            }
            let ids: Vec<&str> = persons.iter().map(String::as_str).collect();
            let states = reader.lock().expect("lock").load(&ids).expect("load");
            let created = created.lock().expect("lock");
            let mut c = checked.lock().expect("lock");
            c.0 += 1;
            if out.load(Ordering::SeqCst) > 0 {
                c.1 += 1;
            }
            for (person, s) in states {
                if let Some(a) = s.join.filter(|a| !created.contains(&a.target_id)) {
                    c.2.push(format!(
                        "{person} recorded with {} before its create came back",
                        a.target_id
                    ));
                }
            }
        }));
    }
    let report = engine.run_cycle(CycleKind::Full).await.expect("full");
    assert_eq!(report.counts.get(&Action::Failed), None, "{report:?}");
    let (commits, overlapped, wrong) = checked.lock().expect("lock").clone();
    assert!(wrong.is_empty(), "{wrong:?}");
    assert!(commits >= 10, "a commit per page: {commits}");
    assert!(overlapped > 0, "some commit happened while later writes were out ({commits} commits)");

    let objects = engine.target().inner.all().expect("list");
    let created = report.counts.get(&Action::Create).copied().unwrap_or_default();
    assert_eq!(objects.len() as u64, created, "{report:?}");
    for o in &objects {
        let person = attr(o, "employeeID").expect("employeeID");
        let state = engine.store().load(&[person]).expect("load");
        let account = state.get(person).and_then(|s| s.join.as_ref());
        assert_eq!(account.map(|a| a.target_id.as_str()), Some(o.id.as_str()), "{person}");
    }
    // A second full cycle finds everything in place.
    h.advance_ms(60_000);
    let again = engine.run_cycle(CycleKind::Full).await.expect("second full");
    assert_eq!(
        (again.counts.get(&Action::Create), again.counts.get(&Action::Failed)),
        (None, None),
        "{again:?}"
    );
}

/// With a matching attribute two workers share (here employeeID from the
/// last name), the second worker's page waits for the first one's create,
/// still out when the page is read: it then finds that object, which is
/// joined to the first worker, and fails alone, instead of missing it and
/// creating a second object with the same matching value.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_matching_a_value_a_write_in_flight_sets_waits_for_that_write() {
    let mut h = Harness::start(0, 5).await;
    h.settings.page_size = 1;
    let mut config = MappingConfig::sf_to_ad().expect("mapping");
    for m in config.mappings.iter_mut().filter(|m| m.target == "employeeID") {
        m.expression = Some("[lastName]".into());
    }
    h.flow =
        CompiledFlow::compile(&SourceSchema::builtin().expect("schema"), &config).expect("flow");
    for (id, first) in [("930001", "Quintus"), ("930002", "Septima")] {
        h.emu
            .apply(&HrEvent::Hire {
                person_id_external: Some(id.into()),
                first_name: Some(first.into()),
                last_name: Some("Yarrow".into()),
                start_date: None,
                company: None,
                manager_id: None,
            })
            .expect("hire");
    }
    h.advance_ms(60_000);
    let (mut engine, _, _) = slow_engine(&h, Duration::from_millis(200));
    let report = engine.run_cycle(CycleKind::Full).await.expect("full");
    assert_eq!(
        (report.counts.get(&Action::Create), report.counts.get(&Action::Failed)),
        (Some(&1), Some(&1)),
        "{report:?}"
    );
    let yarrows = engine.target().inner.find("employeeID", "Yarrow").await.expect("find");
    assert_eq!(yarrows.len(), 1, "{yarrows:?}");
    let escrows = engine.store().escrows().expect("escrows");
    assert_eq!(escrows.len(), 1, "{escrows:?}");
    assert!(escrows[0].last_error.contains("joined to worker 930001"), "{escrows:?}");
}

/// A source that serves scripted pages of raw records (a hostile or broken
/// SuccessFactors, without the emulator): the engine sees only the
/// `Source` seam.
struct Scripted {
    pages: Vec<Vec<serde_json::Value>>,
}

#[async_trait]
impl hrsync_engine::source::Source for Scripted {
    async fn count(
        &self,
        _read: &hrsync_engine::source::Read,
        _now: jiff::Timestamp,
        _sink: &mut dyn hrsync_engine::source::PageSink,
    ) -> Result<Option<u64>, hrsync_engine::source::SourceError> {
        Ok(None)
    }
    async fn read(
        &self,
        read: &hrsync_engine::source::Read,
        _now: jiff::Timestamp,
        sink: &mut dyn hrsync_engine::source::PageSink,
    ) -> Result<(), hrsync_engine::source::SourceError> {
        if *read != hrsync_engine::source::Read::All {
            return Ok(());
        }
        sink.request("scripted".into());
        for p in &self.pages {
            if !sink.page(p.clone()).await {
                break;
            }
        }
        Ok(())
    }
    fn import(
        &self,
        record: &mut serde_json::Value,
        _now: jiff::Timestamp,
    ) -> hrsync_engine::source::SourceView {
        let person_id = match record.get("personIdExternal") {
            Some(serde_json::Value::String(s)) if !s.trim().is_empty() => Ok(s.clone()),
            other => Err(format!("unusable personIdExternal {other:?}")),
        };
        hrsync_engine::source::SourceView {
            person_id,
            starts: None,
            wakeups: vec![],
            detail: "scripted".into(),
            excluded: None,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_twice_in_one_page_gets_one_account_and_every_record_one_outcome() {
    let dir = hrsync_testkit::TempDir::new("scripted");
    let schema = SourceSchema::builtin().expect("schema");
    let config: MappingConfig = toml::from_str(
        "[[mapping]]\ntarget = \"employeeID\"\nexpression = '[personIdExternal]'\nmatching = 1\n\
         [[mapping]]\ntarget = \"cn\"\nexpression = '[personIdExternal]'\n",
    )
    .expect("mapping");
    let flow = CompiledFlow::compile(&schema, &config).expect("flow");
    let records = serde_json::json!([
        {"personIdExternal": "p1"},
        {"personIdExternal": "p2"},
        {"personIdExternal": "p1"},
        {"personIdExternal": 42},
        {"personIdExternal": "   "},
        {"personIdExternal": "p1"},
    ]);
    let source = Scripted { pages: vec![records.as_array().expect("array").clone()] };
    let store =
        SqliteStore::open(&dir.0.join("state.sqlite"), hrsync_store::INBOUND).expect("store");
    let target = EmbeddedTarget::in_memory(&[]).expect("target");
    let clock = hrsync_testkit::TestClock::new(common::T0_MS);
    let mut engine = Engine::with_source(
        Arc::new(source),
        flow,
        store,
        target,
        clock,
        hrsync_engine::cycle::Settings::default(),
    );
    let report = engine.run_cycle(CycleKind::Full).await.expect("cycle");
    let objects = engine.target().all().expect("all");
    let p1 = objects.iter().filter(|o| attr(o, "employeeID") == Some("p1")).count();
    assert_eq!(p1, 1, "one account for p1, however often it is listed: {objects:?}");
    assert_eq!(objects.len(), 2, "{objects:?}");
    // Every record read has exactly one outcome.
    assert_eq!(report.workers, 6, "{report:?}");
    assert_eq!(report.counts.values().sum::<u64>(), 6, "{report:?}");
    assert_eq!(report.count(Action::Create), 2, "{report:?}");
    assert_eq!(report.count(Action::Failed), 2, "{report:?}");
    // The unprocessable ones keep the window open and are named.
    assert_eq!(report.status, CycleStatus::CompletedWithErrors, "{report:?}");
    let message = report.message.clone().unwrap_or_default();
    assert!(message.contains("42") && message.contains("2 record(s)"), "{message}");
    assert_eq!(engine.store().watermark("successfactors:PerPerson").expect("watermark"), None);
}
