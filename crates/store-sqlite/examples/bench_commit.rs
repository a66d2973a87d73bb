//! Times the store's hot path in a first full sync, without the rest of
//! hrsync: per page of 200 workers, one `load` and one `commit` of creates
//! (account with ~40 exported values, log with steps and ~40 modified
//! attributes, a wake-up for some). Run:
//!
//!   cargo run --release -p hrsync-store-sqlite --example bench_commit [WORKERS]

use std::time::Instant;

use hrsync_store::*;
use hrsync_store_sqlite::SqliteStore;
use jiff::Timestamp;
use serde_json::{Map, Value, json};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let workers: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let dir = std::env::temp_dir().join(format!("hrsync-bench-commit-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let now: Timestamp = "2026-11-24T12:00:00Z".parse()?;
    let started = Instant::now();
    {
        let mut store = SqliteStore::open(&dir.join("state.sqlite"), INBOUND)?;
        let cycle = store.begin_cycle(CycleKind::Full, None, now)?;
        // As a full sync reads them: in personIdExternal order.
        let ids: Vec<String> = (0..workers).map(|i| format!("{}", 100_000 + i)).collect();
        for (page_no, page) in ids.chunks(200).enumerate() {
            let refs: Vec<&str> = page.iter().map(String::as_str).collect();
            let states = store.load(&refs)?;
            assert!(states.is_empty());
            let outcomes: Vec<Outcome> = page
                .iter()
                .enumerate()
                .map(|(i, person)| outcome(person, page_no * 200 + i, now))
                .collect();
            store.commit(cycle, &outcomes)?;
        }
        store.finish_cycle(
            cycle,
            CycleStatus::Completed,
            &json!({}),
            None,
            now,
            Some(("sf", now)),
        )?;
    }
    let secs = started.elapsed().as_secs_f64();
    println!("{workers} workers: {secs:.2} s, {:.0} workers/s", workers as f64 / secs);
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

fn outcome(person: &str, n: usize, now: Timestamp) -> Outcome {
    let mut exported = Map::new();
    for a in 0..40 {
        exported.insert(format!("attribute{a}"), json!(format!("value {a} of worker {n}")));
    }
    let modified = exported
        .iter()
        .map(|(k, v)| AttributeChange { attribute: k.clone(), old: Value::Null, new: v.clone() })
        .collect();
    let step =
        |name: &str, detail: String| Step { name: name.into(), status: LogStatus::Success, detail };
    let steps = vec![
        step("import", format!("PerPerson {person}: 1 employment, 3 job slices")),
        step("scope", "in scope: no scoping filter".into()),
        step("match", format!("employeeID = {person:?}: no object")),
        step("lifecycle", "active: employment started 2020-01-01".into()),
        step("export", format!("created {:032x}", n)),
    ];
    // Random ids, as a directory's GUIDs are, unless TARGET_IDS=ordered
    // (time-ordered ids like the embedded target's).
    let target_id = if std::env::var("TARGET_IDS").as_deref() == Ok("ordered") {
        format!("{n:012x}{:020x}", n.wrapping_mul(0x9E37_79B9_7F4A_7C15) as u128)
    } else {
        format!("{:032x}", n.wrapping_mul(0x9E37_79B9_7F4A_7C15))
    };
    Outcome {
        person_id: person.into(),
        join: Change::Set(Join {
            person_id: person.into(),
            target_id: target_id.clone(),
            status: AccountStatus::Active,
            exported,
            created_at: now,
            updated_at: now,
        }),
        escrow: Change::Clear,
        wakeups: if n.is_multiple_of(30) {
            Change::Set(vec![(now, "pre-hire lead time".into())])
        } else {
            Change::Clear
        },
        log: Some(LogEntry {
            id: 0,
            cycle_id: 0,
            person_id: person.into(),
            at: now,
            action: Action::Create,
            status: LogStatus::Success,
            target_id: Some(target_id),
            steps,
            modified,
            error: None,
        }),
    }
}
