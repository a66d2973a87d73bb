//! Issue 13 item 3: an account deleted in the target behind hrsync's back.
//! A full cycle and on-demand check that joined objects still exist and
//! re-create (or re-join) what is gone, saying so in the log; an incremental
//! cycle trusts the join (it reads only changes).

use crate::common;

use common::{Harness, attr, by_employee, one};
use hrsync_engine::Action;
use hrsync_store::{CycleKind, LogQuery, Store};
use hrsync_target::Target;

/// Active accounts' employeeIDs, sorted.
async fn accounts(engine: &common::TestEngine) -> Vec<String> {
    let mut ids: Vec<String> = engine
        .target()
        .all()
        .expect("all")
        .iter()
        .filter_map(|o| attr(o, "employeeID").map(str::to_owned))
        .collect();
    ids.sort();
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_cycle_re_creates_a_deleted_account_and_re_joins_a_replaced_one() {
    let h = Harness::start(40, 31).await;
    let mut engine = h.engine();
    engine.run_cycle(CycleKind::Full).await.expect("first full");
    let before = accounts(&engine).await;
    assert!(before.len() > 20, "{}", before.len());
    let (deleted, replaced) = (before[0].clone(), before[1].clone());

    // One account deleted outright; another deleted and made again by an
    // admin (same employeeID, a new id).
    let old = one(&engine, &deleted).await;
    engine.target().delete(&old.id).await.expect("delete");
    let gone = one(&engine, &replaced).await;
    engine.target().delete(&gone.id).await.expect("delete");
    let remade = engine.target().create(&gone.attributes).await.expect("re-create");
    engine.target().flush().await.expect("flush");

    // An incremental cycle reads no change: it trusts the joins.
    h.advance_ms(60_000);
    let r = engine.run_cycle(CycleKind::Incremental).await.expect("incremental");
    assert_eq!(r.workers, 0, "{r:?}");
    assert!(by_employee(&engine, &deleted).await.is_empty());

    h.advance_ms(60_000);
    let r = engine.run_cycle(CycleKind::Full).await.expect("second full");
    assert_eq!(r.count(Action::Create), 1, "the deleted account is created again: {r:?}");
    assert_eq!(r.count(Action::Failed), 0, "{r:?}");
    let new = one(&engine, &deleted).await;
    assert_ne!(new.id, old.id);
    assert_eq!(accounts(&engine).await, before, "every worker has an account again");

    // The joins point at what exists, and the log says what happened.
    let state = engine.store().load(&[deleted.as_str(), replaced.as_str()]).expect("load");
    assert_eq!(state[&deleted].join.as_ref().map(|j| j.target_id.as_str()), Some(new.id.as_str()));
    assert_eq!(
        state[&replaced].join.as_ref().map(|j| j.target_id.as_str()),
        Some(remade.id.as_str()),
        "re-joined to the object the admin made"
    );
    let log = engine
        .store()
        .log(&LogQuery {
            person_id: Some(deleted.clone()),
            cycle_id: Some(r.cycle_id),
            ..Default::default()
        })
        .expect("log");
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!(log[0].action, Action::Create);
    let gone_step = format!("joined object {} is gone from the target; matching again", old.id);
    assert!(log[0].steps.iter().any(|s| s.detail == gone_step), "{:?}", log[0].steps);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_cycle_over_an_emptied_target_provisions_everyone_again() {
    let h = Harness::start(40, 32).await;
    let mut engine = h.engine();
    engine.run_cycle(CycleKind::Full).await.expect("first full");
    let before = accounts(&engine).await;
    for o in engine.target().all().expect("all") {
        engine.target().delete(&o.id).await.expect("delete");
    }
    engine.target().flush().await.expect("flush");

    h.advance_ms(60_000);
    let r = engine.run_cycle(CycleKind::Full).await.expect("full");
    assert_eq!(r.count(Action::Create) as usize, before.len(), "not 'skip': {r:?}");
    assert_eq!(accounts(&engine).await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_demand_re_creates_a_deleted_account_and_plan_shows_it_first() {
    let h = Harness::start(30, 33).await;
    let mut engine = h.engine();
    engine.run_cycle(CycleKind::Full).await.expect("full");
    let person = accounts(&engine).await[0].clone();
    let old = one(&engine, &person).await;
    engine.target().delete(&old.id).await.expect("delete");
    engine.target().flush().await.expect("flush");

    h.advance_ms(60_000);
    let plan = engine.plan(CycleKind::Incremental, Some(&person)).await.expect("plan");
    assert_eq!(plan.details.len(), 1, "{plan:?}");
    assert_eq!(plan.details[0].action, Action::Create, "the dry run says it would re-create");
    assert!(by_employee(&engine, &person).await.is_empty(), "a plan writes nothing");

    let r = engine.on_demand(&person).await.expect("on-demand");
    assert_eq!(r.details[0].action, Action::Create, "{r:?}");
    let new = one(&engine, &person).await;
    assert_ne!(new.id, old.id);
}
