//! The contract of [`Store`] as tests that every backend must pass.
//!
//! A backend's test file calls [`run`] (or the [`store_conformance!`]
//! macro, which makes one `#[test]` per case) with a function that sets up
//! a new, empty storage and returns a function opening handles on it, one
//! per flow. Opening twice with the same flow gives two handles on the same
//! rows (a second process, or a restart).
//!
//! ```ignore
//! hrsync_store::store_conformance!(|| {
//!     let dir = TempDir::new();
//!     move |flow: &str| SqliteStore::open(&dir.join("state.sqlite"), flow).unwrap()
//! });
//! ```
//!
//! [`store_conformance!`]: crate::store_conformance

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use jiff::Timestamp;
use serde_json::json;

use crate::*;

/// Every case, in order, each on fresh storage; panics naming the first
/// case that fails.
pub fn run<S: Store, M: Fn(&str) -> S>(fresh: impl Fn() -> M) {
    for (name, case) in cases::<S, M>() {
        let open = fresh();
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| case(&open)));
        if let Err(panic) = outcome {
            eprintln!("store conformance case `{name}` failed");
            std::panic::resume_unwind(panic);
        }
    }
}

/// The cases by name.
#[allow(clippy::type_complexity)]
pub fn cases<S: Store, M: Fn(&str) -> S>() -> Vec<(&'static str, fn(&M))> {
    vec![
        ("commit_is_atomic_and_durable", commit_is_atomic_and_durable::<S, M>),
        ("watermark_moves_only_with_finish_cycle", watermark_moves_only_with_finish_cycle::<S, M>),
        ("flows_are_isolated", flows_are_isolated::<S, M>),
        ("escrow_comes_due_oldest_first", escrow_comes_due_oldest_first::<S, M>),
        (
            "wakeups_are_replaced_cleared_and_come_due",
            wakeups_are_replaced_cleared_and_come_due::<S, M>,
        ),
        ("account_counts_by_status", account_counts_by_status::<S, M>),
        ("joins_list_live_accounts_of_the_flow", joins_list_live_accounts_of_the_flow::<S, M>),
        ("log_queries_filter_newest_first", log_queries_filter_newest_first::<S, M>),
        ("batched_reads_equal_single_reads", batched_reads_equal_single_reads::<S, M>),
        (
            "lease_is_refused_while_held_and_taken_after_expiry",
            lease_is_refused_while_held_and_taken_after_expiry::<S, M>,
        ),
        (
            "lease_epochs_grow_and_release_lets_the_next_in",
            lease_epochs_grow_and_release_lets_the_next_in::<S, M>,
        ),
        ("a_taken_over_lease_fences_every_write", a_taken_over_lease_fences_every_write::<S, M>),
        ("prune_log_keeps_what_retention_keeps", prune_log_keeps_what_retention_keeps::<S, M>),
    ]
}

/// One `#[test]` per conformance case, each on fresh storage from `$fresh`
/// (a closure returning a `Fn(&str) -> impl Store`).
#[macro_export]
macro_rules! store_conformance {
    ($fresh:expr) => {
        $crate::store_conformance!(@cases $fresh;
            commit_is_atomic_and_durable,
            watermark_moves_only_with_finish_cycle,
            flows_are_isolated,
            escrow_comes_due_oldest_first,
            wakeups_are_replaced_cleared_and_come_due,
            account_counts_by_status,
            joins_list_live_accounts_of_the_flow,
            log_queries_filter_newest_first,
            batched_reads_equal_single_reads,
            lease_is_refused_while_held_and_taken_after_expiry,
            lease_epochs_grow_and_release_lets_the_next_in,
            a_taken_over_lease_fences_every_write,
            prune_log_keeps_what_retention_keeps
        );
    };
    (@cases $fresh:expr; $($case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                let open = ($fresh)();
                $crate::conformance::$case(&open);
            }
        )*
    };
}

const WRITEBACK: &str = "writeback";

fn t(s: &str) -> Timestamp {
    s.parse().expect("test timestamp")
}

fn t0() -> Timestamp {
    t("2026-01-02T00:00:00Z")
}

fn plus(at: Timestamp, secs: i64) -> Timestamp {
    Timestamp::from_second(at.as_second() + secs).expect("in range")
}

const DAY: i64 = 86_400;

fn join(person: &str, target: &str, status: AccountStatus) -> Join {
    let mut exported = serde_json::Map::new();
    exported.insert("mail".into(), json!(format!("{person}@example.com")));
    exported.insert("memberOf".into(), json!(["a", "b"]));
    Join {
        person_id: person.into(),
        target_id: target.into(),
        status,
        exported,
        created_at: t0(),
        updated_at: plus(t0(), 60),
    }
}

fn escrow(person: &str, next: Timestamp, error: &str) -> Escrow {
    Escrow {
        person_id: person.into(),
        attempts: 2,
        first_failed_at: t0(),
        last_failed_at: plus(t0(), 60),
        next_attempt_at: next,
        last_error: error.into(),
        flagged: false,
    }
}

fn entry(person: &str, action: Action, status: LogStatus) -> LogEntry {
    LogEntry {
        id: 0,
        cycle_id: 0,
        person_id: person.into(),
        at: plus(t0(), 5),
        action,
        status,
        target_id: Some(format!("t-{person}")),
        steps: vec![Step {
            name: "import".into(),
            status: LogStatus::Success,
            detail: "ok".into(),
        }],
        modified: vec![AttributeChange {
            attribute: "title".into(),
            old: serde_json::Value::Null,
            new: json!("Engineer"),
        }],
        error: (status == LogStatus::Failure).then(|| "refused".to_owned()),
    }
}

fn keep(person: &str) -> Outcome {
    Outcome {
        person_id: person.into(),
        join: Change::Keep,
        escrow: Change::Keep,
        wakeups: Change::Keep,
        log: None,
    }
}

fn joined(person: &str, target: &str) -> Outcome {
    Outcome {
        join: Change::Set(join(person, target, AccountStatus::Active)),
        log: Some(entry(person, Action::Create, LogStatus::Success)),
        ..keep(person)
    }
}

fn ids<T>(v: &[T], f: impl Fn(&T) -> &str) -> Vec<String> {
    v.iter().map(|x| f(x).to_owned()).collect()
}

fn finish<S: Store>(s: &mut S, c: CycleId, at: Timestamp, advance: Option<(&str, Timestamp)>) {
    s.finish_cycle(c, CycleStatus::Completed, &json!({"create": 1}), None, at, advance)
        .expect("finish_cycle");
}

/// A batch that fails part-way leaves none of its changes; what was
/// committed reads back from a new handle.
pub fn commit_is_atomic_and_durable<S: Store, M: Fn(&str) -> S>(open: &M) {
    let mut s = open(INBOUND);
    let c = s.begin_cycle(CycleKind::Full, None, t0()).expect("begin");
    s.commit(c, &[joined("p1", "t1")]).expect("first batch");
    let p2 = Outcome {
        escrow: Change::Set(escrow("p2", plus(t0(), 60), "refused")),
        wakeups: Change::Set(vec![(plus(t0(), DAY), "last day".into())]),
        ..joined("p2", "t2")
    };
    // p3 joins the object p1 holds: the whole batch is refused.
    let err = s.commit(c, &[p2, joined("p3", "t1")]).expect_err("a second join to t1");
    assert!(
        matches!(&err, StoreError::Conflict { person_id, target_id, .. } if person_id == "p3" && target_id == "t1"),
        "a join to an object joined to another worker is a Conflict naming both: {err}"
    );
    assert!(s.load(&["p2", "p3"]).expect("load").is_empty(), "nothing of the failed batch");
    assert_eq!(s.account_by_target("t2").expect("by target"), None);
    assert!(s.escrows().expect("escrows").is_empty());
    assert_eq!(s.next_wakeup().expect("wake-up"), None);
    assert!(
        s.log(&LogQuery { person_id: Some("p2".into()), ..Default::default() })
            .expect("log")
            .is_empty()
    );
    drop(s);

    let s = open(INBOUND);
    let state = s.load(&["p1", "nobody"]).expect("load");
    assert_eq!(state.len(), 1, "missing workers are absent: {state:?}");
    assert_eq!(state["p1"].join, Some(join("p1", "t1", AccountStatus::Active)));
    assert_eq!(state["p1"].escrow, None);
    assert_eq!(
        s.account_by_target("t1").expect("by target").map(|a| a.person_id),
        Some("p1".into())
    );
    // Clearing removes the join.
    let mut s = s;
    s.commit(c, &[Outcome { join: Change::Clear, ..keep("p1") }]).expect("clear");
    assert!(s.load(&["p1"]).expect("load").is_empty());
}

/// Committed work alone never moves a watermark; `finish_cycle` does, per scope.
pub fn watermark_moves_only_with_finish_cycle<S: Store, M: Fn(&str) -> S>(open: &M) {
    let mut s = open(INBOUND);
    assert_eq!(s.watermark("sf").expect("watermark"), None);
    let c1 = s.begin_cycle(CycleKind::Full, None, t0()).expect("begin");
    s.commit(c1, &[joined("p1", "t1")]).expect("commit");
    assert_eq!(s.watermark("sf").expect("watermark"), None, "no watermark before the cycle ends");
    assert_eq!(s.cycles(10).expect("cycles")[0].status, CycleStatus::Running);
    finish(&mut s, c1, plus(t0(), 60), Some(("sf", t0())));
    assert_eq!(s.watermark("sf").expect("watermark"), Some(t0()));
    assert_eq!(s.watermark("other").expect("watermark"), None);
    let window = (t0(), plus(t0(), 300));
    let c2 = s.begin_cycle(CycleKind::Incremental, Some(window), plus(t0(), 300)).expect("begin");
    s.finish_cycle(c2, CycleStatus::Failed, &json!({}), Some("source down"), plus(t0(), 301), None)
        .expect("finish");
    assert_eq!(s.watermark("sf").expect("watermark"), Some(t0()), "a cycle without advance");
    let cycles = s.cycles(10).expect("cycles");
    assert_eq!(cycles.iter().map(|c| c.id).collect::<Vec<_>>(), [c2, c1], "newest first");
    assert_eq!(cycles[0].kind, CycleKind::Incremental);
    assert_eq!(cycles[0].status, CycleStatus::Failed);
    assert_eq!(cycles[0].window, Some(window));
    assert_eq!(cycles[0].message.as_deref(), Some("source down"));
    assert_eq!(cycles[0].finished_at, Some(plus(t0(), 301)));
    assert_eq!(cycles[1].summary, json!({"create": 1}));
    assert_eq!(s.cycles(1).expect("cycles").len(), 1);
    drop(s);
    assert_eq!(open(INBOUND).watermark("sf").expect("watermark"), Some(t0()), "durable");
}

/// Two flows on one storage share nothing: joins (even to the same object),
/// escrow, wake-ups, watermarks, cycles, log, counts, running cycles, leases.
pub fn flows_are_isolated<S: Store, M: Fn(&str) -> S>(open: &M) {
    let mut a = open(INBOUND);
    let mut b = open(WRITEBACK);
    let ca = a.begin_cycle(CycleKind::Full, None, t0()).expect("begin a");
    let cb = b.begin_cycle(CycleKind::Full, None, t0()).expect("begin b");
    a.commit(
        ca,
        &[
            joined("p1", "t1"),
            Outcome {
                escrow: Change::Set(escrow("p2", plus(t0(), 60), "inbound failure")),
                wakeups: Change::Set(vec![(plus(t0(), DAY), "inbound wake-up".into())]),
                log: Some(entry("p2", Action::Failed, LogStatus::Failure)),
                ..keep("p2")
            },
        ],
    )
    .expect("commit a");
    // The same worker and the same target object in the other flow.
    b.commit(
        cb,
        &[
            Outcome { join: Change::Set(join("p1", "t1", AccountStatus::Disabled)), ..keep("p1") },
            Outcome {
                escrow: Change::Set(escrow("p2", plus(t0(), 120), "writeback failure")),
                wakeups: Change::Set(vec![(plus(t0(), 2 * DAY), "writeback wake-up".into())]),
                ..keep("p2")
            },
        ],
    )
    .expect("commit b: the same person and object in another flow");
    finish(&mut a, ca, plus(t0(), 10), Some(("sf", t0())));

    let la = a.load(&["p1", "p2"]).expect("load a");
    let lb = b.load(&["p1", "p2"]).expect("load b");
    assert_eq!(la["p1"].join.as_ref().map(|j| j.status), Some(AccountStatus::Active));
    assert_eq!(lb["p1"].join.as_ref().map(|j| j.status), Some(AccountStatus::Disabled));
    assert_eq!(la["p2"].escrow.as_ref().map(|e| e.last_error.as_str()), Some("inbound failure"));
    assert_eq!(lb["p2"].escrow.as_ref().map(|e| e.last_error.as_str()), Some("writeback failure"));
    assert_eq!(
        a.account_by_target("t1").expect("a by target").map(|j| j.status),
        Some(AccountStatus::Active)
    );
    assert_eq!(
        b.accounts_by_target(&["t1"]).expect("b by target")["t1"].status,
        AccountStatus::Disabled
    );
    assert_eq!(a.next_wakeup().expect("a"), Some(plus(t0(), DAY)));
    assert_eq!(b.next_wakeup().expect("b"), Some(plus(t0(), 2 * DAY)));
    let due = b.due_wakeups(plus(t0(), 3 * DAY)).expect("due b");
    assert_eq!(ids(&due, |w| &w.reason), ["writeback wake-up"]);
    assert_eq!(
        ids(&a.due_escrows(plus(t0(), DAY), 10).expect("due a"), |e| &e.last_error),
        ["inbound failure"]
    );
    assert_eq!(a.watermark("sf").expect("a"), Some(t0()));
    assert_eq!(b.watermark("sf").expect("b"), None, "the other flow's watermark");
    assert_eq!(a.cycles(10).expect("a").len(), 1);
    assert_eq!(a.cycles(10).expect("a")[0].id, ca);
    assert_eq!(b.cycles(10).expect("b")[0].id, cb);
    assert_eq!(b.cycles(10).expect("b").len(), 1);
    assert_eq!(a.log(&LogQuery::default()).expect("a").len(), 2);
    assert!(b.log(&LogQuery::default()).expect("b").is_empty());
    assert!(b.log(&LogQuery { cycle_id: Some(ca), ..Default::default() }).expect("b").is_empty());
    assert_eq!(
        a.account_counts().expect("a"),
        AccountCounts { active: 1, disabled: 0, deleted: 0 }
    );
    assert_eq!(
        b.account_counts().expect("b"),
        AccountCounts { active: 0, disabled: 1, deleted: 0 }
    );

    // Failing or clearing in one flow leaves the other's rows for the worker.
    b.commit(cb, &[Outcome { escrow: Change::Clear, wakeups: Change::Clear, ..keep("p2") }])
        .expect("clear b");
    b.clear_wakeups(&["p2"], plus(t0(), 10 * DAY)).expect("clear wake-ups b");
    assert_eq!(a.load(&["p2"]).expect("a")["p2"].escrow.as_ref().map(|e| e.attempts), Some(2));
    assert_eq!(a.next_wakeup().expect("a"), Some(plus(t0(), DAY)));
    // A crash found at b's next start aborts b's running cycle only.
    let ca2 = a.begin_cycle(CycleKind::Incremental, None, plus(t0(), 20)).expect("begin a2");
    assert_eq!(b.abort_running_cycles(plus(t0(), 30)).expect("abort b"), 1);
    let a_cycles = a.cycles(1).expect("a");
    assert_eq!((a_cycles[0].id, a_cycles[0].status), (ca2, CycleStatus::Running));
    // Each flow has its own lease.
    a.try_lease("host-a:1:x", Duration::from_secs(30), t0()).expect("lease a");
    b.try_lease("host-b:2:y", Duration::from_secs(30), t0()).expect("lease b, other flow");
}

/// Due escrows come oldest-due first, limited; not-yet-due ones wait.
pub fn escrow_comes_due_oldest_first<S: Store, M: Fn(&str) -> S>(open: &M) {
    let mut s = open(INBOUND);
    let c = s.begin_cycle(CycleKind::Full, None, t0()).expect("begin");
    let at = |h: i64| plus(t0(), h * 3600);
    s.commit(
        c,
        &[
            Outcome { escrow: Change::Set(escrow("late", at(10), "e")), ..keep("late") },
            Outcome { escrow: Change::Set(escrow("second", at(2), "e")), ..keep("second") },
            Outcome { escrow: Change::Set(escrow("first", at(1), "e")), ..keep("first") },
            Outcome { escrow: Change::Set(escrow("third", at(3), "e")), ..keep("third") },
        ],
    )
    .expect("commit");
    let due = s.due_escrows(at(5), 10).expect("due");
    assert_eq!(ids(&due, |e| &e.person_id), ["first", "second", "third"]);
    assert_eq!(ids(&s.due_escrows(at(5), 2).expect("due"), |e| &e.person_id), ["first", "second"]);
    assert_eq!(
        ids(&s.due_escrows(at(2), 10).expect("due"), |e| &e.person_id),
        ["first", "second"],
        "due at the instant"
    );
    assert!(s.due_escrows(at(0), 10).expect("due").is_empty());
    let all: BTreeSet<String> =
        ids(&s.escrows().expect("all"), |e| &e.person_id).into_iter().collect();
    assert_eq!(all.len(), 4);
    assert_eq!(due[0], escrow("first", at(1), "e"), "reads back whole");
    // Replaced, then cleared.
    let mut flagged = escrow("first", at(20), "again");
    flagged.flagged = true;
    flagged.attempts = 5;
    s.commit(c, &[Outcome { escrow: Change::Set(flagged.clone()), ..keep("first") }])
        .expect("replace");
    assert_eq!(s.load(&["first"]).expect("load")["first"].escrow, Some(flagged));
    s.commit(c, &[Outcome { escrow: Change::Clear, ..keep("second") }]).expect("clear");
    assert_eq!(ids(&s.due_escrows(at(5), 10).expect("due"), |e| &e.person_id), ["third"]);
    // Dropped by an operator: gone, once; another flow's is untouched.
    assert!(!open("other").drop_escrow("third").expect("other flow"));
    assert!(s.drop_escrow("third").expect("drop"));
    assert!(!s.drop_escrow("third").expect("drop again"), "nothing left to drop");
    assert!(s.due_escrows(at(5), 10).expect("due").is_empty());
}

/// A `Set` list replaces a worker's wake-ups, `clear_wakeups` removes the
/// processed ones, `Clear` removes all.
pub fn wakeups_are_replaced_cleared_and_come_due<S: Store, M: Fn(&str) -> S>(open: &M) {
    let mut s = open(INBOUND);
    let c = s.begin_cycle(CycleKind::Full, None, t0()).expect("begin");
    let day = |n: i64| plus(t0(), n * DAY);
    s.commit(
        c,
        &[
            Outcome {
                wakeups: Change::Set(vec![
                    (day(3), "job change".into()),
                    (day(1), "last day".into()),
                ]),
                ..keep("p1")
            },
            Outcome { wakeups: Change::Set(vec![(day(2), "start".into())]), ..keep("p2") },
        ],
    )
    .expect("commit");
    assert_eq!(s.next_wakeup().expect("next"), Some(day(1)));
    let due = s.due_wakeups(day(2)).expect("due");
    assert_eq!(
        due.iter().map(|w| (w.person_id.as_str(), w.reason.as_str())).collect::<Vec<_>>(),
        [("p1", "last day"), ("p2", "start")],
        "due ones, earliest first"
    );
    assert_eq!(due[0], Wakeup { person_id: "p1".into(), at: day(1), reason: "last day".into() });
    s.clear_wakeups(&["p1"], day(2)).expect("clear");
    assert_eq!(ids(&s.due_wakeups(day(5)).expect("due"), |w| &w.reason), ["start", "job change"]);
    s.commit(c, &[Outcome { wakeups: Change::Set(vec![(day(9), "new".into())]), ..keep("p1") }])
        .expect("replace");
    assert_eq!(ids(&s.due_wakeups(day(10)).expect("due"), |w| &w.reason), ["start", "new"]);
    s.commit(
        c,
        &[
            Outcome { wakeups: Change::Clear, ..keep("p1") },
            Outcome { wakeups: Change::Set(vec![]), ..keep("p2") },
        ],
    )
    .expect("clear all");
    assert_eq!(s.next_wakeup().expect("next"), None);
}

/// Joins counted per status.
pub fn account_counts_by_status<S: Store, M: Fn(&str) -> S>(open: &M) {
    let mut s = open(INBOUND);
    assert_eq!(s.account_counts().expect("empty"), AccountCounts::default());
    let c = s.begin_cycle(CycleKind::Full, None, t0()).expect("begin");
    let set =
        |p: &str, st| Outcome { join: Change::Set(join(p, &format!("t-{p}"), st)), ..keep(p) };
    s.commit(
        c,
        &[
            set("a1", AccountStatus::Active),
            set("a2", AccountStatus::Active),
            set("a3", AccountStatus::Active),
            set("d1", AccountStatus::Disabled),
            set("x1", AccountStatus::Deleted),
        ],
    )
    .expect("commit");
    assert_eq!(
        s.account_counts().expect("counts"),
        AccountCounts { active: 3, disabled: 1, deleted: 1 }
    );
    s.commit(c, &[set("a1", AccountStatus::Disabled)]).expect("disable");
    assert_eq!(
        s.account_counts().expect("counts"),
        AccountCounts { active: 2, disabled: 2, deleted: 1 }
    );
}

/// `joins` lists the flow's accounts that are not deleted, as (person id,
/// target id) ordered by person id, and nothing of another flow: what the
/// writeback flow's directory source reads of the inbound flow.
pub fn joins_list_live_accounts_of_the_flow<S: Store, M: Fn(&str) -> S>(open: &M) {
    let mut s = open(INBOUND);
    assert!(s.joins().expect("empty").is_empty());
    let c = s.begin_cycle(CycleKind::Full, None, t0()).expect("begin");
    let set =
        |p: &str, st| Outcome { join: Change::Set(join(p, &format!("t-{p}"), st)), ..keep(p) };
    s.commit(
        c,
        &[
            set("p3", AccountStatus::Active),
            set("p1", AccountStatus::Disabled),
            set("p2", AccountStatus::Deleted),
            set("p4", AccountStatus::Active),
        ],
    )
    .expect("commit");
    let pairs = |v: &[(&str, &str)]| -> Vec<(String, String)> {
        v.iter().map(|(a, b)| ((*a).to_owned(), (*b).to_owned())).collect()
    };
    assert_eq!(s.joins().expect("joins"), pairs(&[("p1", "t-p1"), ("p3", "t-p3"), ("p4", "t-p4")]));
    s.commit(c, &[set("p3", AccountStatus::Deleted)]).expect("delete");
    assert_eq!(s.joins().expect("joins"), pairs(&[("p1", "t-p1"), ("p4", "t-p4")]));
    let other = open(WRITEBACK);
    assert!(other.joins().expect("other flow").is_empty(), "joins are the flow's own");
}

/// The log reads back as written, filtered by person, cycle and status,
/// newest first, limited.
pub fn log_queries_filter_newest_first<S: Store, M: Fn(&str) -> S>(open: &M) {
    let mut s = open(INBOUND);
    let c1 = s.begin_cycle(CycleKind::Full, None, t0()).expect("begin");
    let failed =
        Outcome { log: Some(entry("p2", Action::Create, LogStatus::Failure)), ..keep("p2") };
    s.commit(c1, &[joined("p1", "t1"), failed]).expect("commit 1");
    let c2 = s.begin_cycle(CycleKind::Incremental, None, plus(t0(), 60)).expect("begin");
    let mut change = entry("p1", Action::Disable, LogStatus::Success);
    change.at = plus(t0(), 65);
    change.modified.push(AttributeChange {
        attribute: "memberOf".into(),
        old: json!(["a"]),
        new: serde_json::Value::Null,
    });
    s.commit(c2, &[Outcome { log: Some(change.clone()), ..keep("p1") }]).expect("commit 2");

    let all = s.log(&LogQuery::default()).expect("all");
    assert_eq!(all.len(), 3);
    assert!(all.windows(2).all(|w| w[0].id > w[1].id), "newest first: {all:?}");
    let mut want = change;
    want.id = all[0].id;
    want.cycle_id = c2;
    assert_eq!(all[0], want, "an entry reads back as written");
    let p1 = s.log(&LogQuery { person_id: Some("p1".into()), ..Default::default() }).expect("p1");
    assert_eq!(ids(&p1, |l| l.action.as_str()), ["disable", "create"]);
    let failures = s
        .log(&LogQuery { status: Some(LogStatus::Failure), ..Default::default() })
        .expect("failures");
    assert_eq!(ids(&failures, |l| &l.person_id), ["p2"]);
    assert_eq!(failures[0].error.as_deref(), Some("refused"));
    assert_eq!(s.log(&LogQuery { cycle_id: Some(c1), ..Default::default() }).expect("c1").len(), 2);
    assert_eq!(s.log(&LogQuery { limit: 2, ..Default::default() }).expect("limit").len(), 2);
    assert_eq!(
        s.log(&LogQuery { limit: usize::MAX, ..Default::default() }).expect("huge").len(),
        3
    );
    assert_eq!(
        s.log(&LogQuery { person_id: Some("p1".into()), cycle_id: Some(c1), ..Default::default() })
            .expect("both")
            .len(),
        1
    );
    // By action, time range, text and the paging cursor.
    let creates =
        s.log(&LogQuery { action: Some(Action::Create), ..Default::default() }).expect("action");
    assert_eq!(creates.len(), 2);
    let at = all[0].at;
    let later = s.log(&LogQuery { from: Some(at), ..Default::default() }).expect("from");
    assert_eq!(ids(&later, |l| l.action.as_str()), ["disable"]);
    let before = s.log(&LogQuery { to: Some(at), ..Default::default() }).expect("to");
    assert_eq!(before.len(), 2, "{before:?}");
    let text = s.log(&LogQuery { text: Some("REFUSED".into()), ..Default::default() }).expect("q");
    assert_eq!(ids(&text, |l| &l.person_id), ["p2"], "text matches the error, any case");
    let wild = s.log(&LogQuery { text: Some("%".into()), ..Default::default() }).expect("q %");
    assert!(wild.is_empty(), "a wildcard is matched as written: {wild:?}");
    let page1 = s.log(&LogQuery { limit: 2, ..Default::default() }).expect("page 1");
    let page2 = s
        .log(&LogQuery { limit: 2, before_id: page1.last().map(|l| l.id), ..Default::default() })
        .expect("page 2");
    let mut paged: Vec<i64> = page1.iter().chain(&page2).map(|l| l.id).collect();
    paged.dedup();
    assert_eq!(paged, all.iter().map(|l| l.id).collect::<Vec<_>>(), "pages cover all once");
    // One cycle by id; another flow's cycle or an unknown id is absent.
    assert_eq!(s.cycle(c1).expect("cycle").map(|c| c.id), Some(c1));
    assert_eq!(s.cycle(c2 + 1000).expect("unknown"), None);
    assert_eq!(open("other").cycle(c1).expect("other flow"), None);
}

/// `accounts_by_target` answers exactly what `account_by_target` answers,
/// for many ids at once (more than any one query's chunk), with missing and
/// repeated ids.
pub fn batched_reads_equal_single_reads<S: Store, M: Fn(&str) -> S>(open: &M) {
    let mut s = open(INBOUND);
    let c = s.begin_cycle(CycleKind::Full, None, t0()).expect("begin");
    let outcomes: Vec<Outcome> =
        (0..700).map(|i| joined(&format!("p{i}"), &format!("t{i}"))).collect();
    for page in outcomes.chunks(200) {
        s.commit(c, page).expect("commit");
    }
    let asked: Vec<String> = (0..900)
        .map(|i| format!("t{}", if i % 10 == 0 { i / 2 } else { i }))
        .chain(["t5".to_owned(), "t5".to_owned(), "nope".to_owned()])
        .collect();
    let refs: Vec<&str> = asked.iter().map(String::as_str).collect();
    let batched = s.accounts_by_target(&refs).expect("batched");
    let mut single = HashMap::new();
    for id in &refs {
        if let Some(j) = s.account_by_target(id).expect("single") {
            single.insert((*id).to_owned(), j);
        }
    }
    assert_eq!(batched.len(), single.len());
    assert_eq!(batched, single);
    assert!(batched.len() > 600, "{}", batched.len());
    assert_eq!(batched["t5"], join("p5", "t5", AccountStatus::Active));
    assert!(!batched.contains_key("nope") && !batched.contains_key("t899"));
    assert!(s.accounts_by_target(&[]).expect("none").is_empty());
}

/// Another holder's unexpired lease refuses, naming holder and expiry
/// (the same holder too); once expired, the next holder gets it.
pub fn lease_is_refused_while_held_and_taken_after_expiry<S: Store, M: Fn(&str) -> S>(open: &M) {
    let ttl = Duration::from_secs(30);
    let mut a = open(INBOUND);
    let mut b = open(INBOUND);
    assert_eq!(a.current_lease().expect("none"), None);
    let first = a.try_lease("host:1:a", ttl, t0()).expect("free lease");
    assert_eq!(first.holder, "host:1:a");
    assert_eq!(first.flow, INBOUND);
    assert_eq!(first.expires_at, plus(t0(), 30));
    for (who, at) in [("host:2:b", plus(t0(), 10)), ("host:1:a", plus(t0(), 29))] {
        match b.try_lease(who, ttl, at) {
            Err(StoreError::LeaseHeld { holder, expires_at, flow, .. }) => {
                assert_eq!(
                    (holder.as_str(), expires_at, flow.as_str()),
                    ("host:1:a", plus(t0(), 30), INBOUND)
                );
            }
            other => panic!("{who} at {at}: want LeaseHeld, got {other:?}"),
        }
    }
    assert_eq!(b.current_lease().expect("current"), Some(first.clone()));
    let second = b.try_lease("host:2:b", ttl, plus(t0(), 30)).expect("expired lease");
    assert!(second.epoch > first.epoch);
    assert_eq!(a.current_lease().expect("current").map(|l| l.holder), Some("host:2:b".into()));
}

/// Every acquisition takes a larger epoch; a release lets the next holder
/// in at once; releasing a lease that moved on changes nothing; renewal
/// extends.
pub fn lease_epochs_grow_and_release_lets_the_next_in<S: Store, M: Fn(&str) -> S>(open: &M) {
    let ttl = Duration::from_secs(30);
    let mut a = open(INBOUND);
    let mut b = open(INBOUND);
    let l1 = a.try_lease("a", ttl, t0()).expect("l1");
    a.release_lease(&l1).expect("release");
    assert_eq!(a.current_lease().expect("released"), None);
    let l2 = b.try_lease("b", ttl, plus(t0(), 1)).expect("l2 right after the release");
    assert!(l2.epoch > l1.epoch);
    a.release_lease(&l1).expect("stale release");
    assert_eq!(
        a.current_lease().expect("unchanged"),
        Some(l2.clone()),
        "a stale release is a no-op"
    );
    let renewed = b.renew_lease(&l2, ttl, plus(t0(), 20)).expect("renew");
    assert_eq!(renewed.epoch, l2.epoch);
    assert_eq!(renewed.expires_at, plus(t0(), 50));
    assert!(
        matches!(a.try_lease("a", ttl, plus(t0(), 40)), Err(StoreError::LeaseHeld { .. })),
        "a renewed lease holds past its first expiry"
    );
    b.release_lease(&renewed).expect("release");
    let l3 = a.try_lease("a", ttl, plus(t0(), 41)).expect("l3");
    assert!(l3.epoch > l2.epoch);
    drop(a);
    drop(b);
    let mut c = open(INBOUND);
    assert_eq!(c.current_lease().expect("durable"), Some(l3.clone()));
    let l4 = c.try_lease("c", ttl, plus(t0(), 100)).expect("l4");
    assert!(l4.epoch > l3.epoch, "epochs survive reopening");
}

/// A handle whose lease another holder took writes nothing more: commit,
/// finish_cycle (no watermark), begin_cycle, renewal all fail with Fenced.
pub fn a_taken_over_lease_fences_every_write<S: Store, M: Fn(&str) -> S>(open: &M) {
    let ttl = Duration::from_secs(30);
    let mut a = open(INBOUND);
    let la = a.try_lease("holder-a", ttl, t0()).expect("lease a");
    let c = a.begin_cycle(CycleKind::Full, None, t0()).expect("begin");
    a.commit(c, &[joined("p1", "t1")]).expect("commit while leased");
    // a stalls past its expiry; b takes over.
    let mut b = open(INBOUND);
    let lb = b.try_lease("holder-b", ttl, plus(t0(), 31)).expect("lease b");
    assert!(lb.epoch > la.epoch);
    let fenced = |r: Result<(), StoreError>, what: &str| match r {
        Err(StoreError::Fenced { epoch, current, .. }) => {
            assert_eq!(epoch, la.epoch, "{what}: names the lost epoch");
            assert!(current.contains("holder-b"), "{what}: names the new holder: {current}");
        }
        other => panic!("{what}: want Fenced, got {other:?}"),
    };
    fenced(a.commit(c, &[joined("p2", "t2")]), "commit");
    fenced(
        a.finish_cycle(
            c,
            CycleStatus::Completed,
            &json!({}),
            None,
            plus(t0(), 32),
            Some(("sf", t0())),
        ),
        "finish_cycle",
    );
    fenced(a.begin_cycle(CycleKind::Incremental, None, plus(t0(), 33)).map(|_| ()), "begin_cycle");
    fenced(a.renew_lease(&la, ttl, plus(t0(), 34)).map(|_| ()), "renew_lease");
    assert!(b.load(&["p2"]).expect("load").is_empty(), "the fenced commit wrote nothing");
    assert_eq!(b.watermark("sf").expect("watermark"), None, "the fenced finish moved nothing");
    assert_eq!(b.cycles(10).expect("cycles")[0].status, CycleStatus::Running);
    // The new holder goes on.
    assert_eq!(b.abort_running_cycles(plus(t0(), 35)).expect("abort"), 1);
    let cb = b.begin_cycle(CycleKind::Full, None, plus(t0(), 36)).expect("begin b");
    b.commit(cb, &[joined("p2", "t2")]).expect("commit b");
    finish(&mut b, cb, plus(t0(), 37), Some(("sf", plus(t0(), 36))));
    assert_eq!(a.watermark("sf").expect("reads still work"), Some(plus(t0(), 36)));
}

/// Pruning drops the log of cycles older than `max_age` or beyond the newest
/// `keep_cycles`, of this flow only, at most `max_rows`; cycles stay.
pub fn prune_log_keeps_what_retention_keeps<S: Store, M: Fn(&str) -> S>(open: &M) {
    let mut s = open(INBOUND);
    let mut other = open(WRITEBACK);
    let day = |n: i64| plus(t0(), n * DAY);
    let mut cycles = Vec::new();
    for (n, at) in [0, 20, 40].into_iter().enumerate() {
        let c = s.begin_cycle(CycleKind::Full, None, day(at)).expect("begin");
        let page: Vec<Outcome> = (0..30)
            .map(|i| Outcome {
                log: Some(entry(&format!("p{n}-{i}"), Action::Update, LogStatus::Success)),
                ..keep("x")
            })
            .collect();
        // Not finished: a backend may prune by its own policy there.
        s.commit(c, &page).expect("commit");
        cycles.push(c);
    }
    let o = other.begin_cycle(CycleKind::Full, None, day(0)).expect("begin other");
    other
        .commit(
            o,
            &[Outcome { log: Some(entry("w", Action::Update, LogStatus::Success)), ..keep("w") }],
        )
        .expect("commit other");
    let count = |s: &S, c: CycleId| {
        s.log(&LogQuery { cycle_id: Some(c), ..Default::default() }).expect("log").len()
    };
    assert_eq!(count(&s, cycles[0]), 30);

    let thirty_days =
        Retention { max_age: Some(Duration::from_secs(30 * 86_400)), keep_cycles: None };
    assert_eq!(s.prune_log(&thirty_days, day(45), 10).expect("prune"), 10, "at most max_rows");
    assert_eq!(s.prune_log(&thirty_days, day(45), 1_000).expect("prune"), 20);
    assert_eq!(s.prune_log(&thirty_days, day(45), 1_000).expect("prune"), 0, "nothing more");
    assert_eq!([count(&s, cycles[0]), count(&s, cycles[1]), count(&s, cycles[2])], [0, 30, 30]);
    assert_eq!(s.cycles(10).expect("cycles").len(), 3, "cycle rows are kept");
    assert_eq!(other.log(&LogQuery::default()).expect("other").len(), 1, "other flows untouched");

    let newest = Retention { max_age: None, keep_cycles: Some(1) };
    assert_eq!(s.prune_log(&newest, day(45), 1_000).expect("prune"), 30);
    assert_eq!(count(&s, cycles[2]), 30, "the newest cycle's log is kept");
    assert_eq!(s.prune_log(&Retention::FOREVER, day(1_000), 1_000).expect("forever"), 0);
    // Ids keep growing after pruning.
    let before = s.log(&LogQuery { limit: 1, ..Default::default() }).expect("log")[0].id;
    s.commit(
        cycles[2],
        &[Outcome { log: Some(entry("late", Action::Update, LogStatus::Success)), ..keep("late") }],
    )
    .expect("commit");
    assert!(s.log(&LogQuery { limit: 1, ..Default::default() }).expect("log")[0].id > before);
}
