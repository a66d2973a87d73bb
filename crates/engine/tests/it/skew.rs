//! Clock skew between SuccessFactors and hrsync (issue 13, item 4): the
//! tenant stamps `lastModifiedDateTime` by its own clock, so the watermark
//! follows the tenant's `Date` header, not this machine's clock. With the
//! tenant two minutes behind, a watermark on hrsync's clock skipped every
//! change made in the two minutes after a read.

use crate::common::{DAY_MS, Harness, attr, one};
use hrsync_store::{CycleKind, Store};
use sf_emulator::Emulator;
use sf_emulator::events::HrEvent;
use sf_emulator::model::Scenario;

/// Step both clocks, keeping the emulator's offset (the harness's
/// `advance_ms` sets the emulator to hrsync's time and would erase it).
fn advance(h: &Harness, ms: i64) {
    h.clock.set(h.clock.ms() + ms);
    h.emu.advance_ms(ms);
}

async fn a_name_change_is_seen_with_the_tenant_clock_at(offset_ms: i64) {
    let h =
        Harness::start_with(Emulator::builder().workers(30).seed(91).clock_offset_ms(offset_ms))
            .await;
    let mut engine = h.engine();
    engine.run_cycle(CycleKind::Full).await.expect("full");
    let person = h.emu.scenarios()[&Scenario::Active][0].clone();
    for (round, name) in ["Skewed-One", "Skewed-Two"].into_iter().enumerate() {
        advance(&h, 30_000);
        h.emu
            .apply(&HrEvent::NameChange {
                person_id_external: person.clone(),
                effective: None,
                first_name: None,
                last_name: Some(name.into()),
                preferred_name: None,
            })
            .expect("name change");
        // Seen within the cycles of the next few minutes, whichever way
        // the clocks differ (a tenant ahead is seen once hrsync's clock
        // passes the change's stamp).
        let mut seen = false;
        for _ in 0..6 {
            advance(&h, 60_000);
            engine.run_cycle(CycleKind::Incremental).await.expect("incremental");
            if attr(&one(&engine, &person).await, "sn") == Some(name) {
                seen = true;
                break;
            }
        }
        assert!(seen, "round {round}: the change to {name} was never seen (offset {offset_ms} ms)");
    }
    let wm = engine.store().watermark("successfactors:PerPerson").expect("watermark");
    let wm = wm.expect("a watermark");
    let local = jiff::Timestamp::from_millisecond(h.clock.ms()).expect("in range");
    assert!(wm <= local, "the watermark never runs ahead of hrsync's clock: {wm} > {local}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_two_minutes_behind_loses_no_change() {
    a_name_change_is_seen_with_the_tenant_clock_at(-120_000).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_two_minutes_ahead_loses_no_change() {
    a_name_change_is_seen_with_the_tenant_clock_at(120_000).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clocks_more_than_a_day_apart_stop_the_cycle_and_keep_the_watermark() {
    let h =
        Harness::start_with(Emulator::builder().workers(10).seed(92).clock_offset_ms(-2 * DAY_MS))
            .await;
    let mut engine = h.engine();
    let err = engine.run_cycle(CycleKind::Full).await.expect_err("refused");
    assert!(err.to_string().contains("more than a day apart"), "{err}");
    assert_eq!(engine.store().watermark("successfactors:PerPerson").expect("watermark"), None);
}
