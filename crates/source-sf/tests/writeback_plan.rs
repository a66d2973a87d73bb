//! Properties of the writeback planner: at most one primary per kind after a
//! plan lands, a primary HR set is demoted only under `primary = "take"`,
//! and planning again against the result sends nothing.

use hrsync_source_sf::writeback::{Kind, apply, plan};
use hrsync_source_sf::{ContactRecords, Desired, EmailRecord, PhoneRecord, PrimaryPolicy, Want};
use proptest::prelude::*;

const EMAIL_TYPES: [&str; 3] = ["8448", "8449", "9000"];
const PHONE_TYPES: [&str; 3] = ["10605", "10606", "10607"];
const VALUES: [&str; 3] = ["a", "b", "c"];

/// Current records: each type at most once, any flags.
fn held(
    types: &'static [&'static str; 3],
) -> impl Strategy<Value = Vec<(&'static str, &'static str, bool)>> {
    prop::collection::vec(prop::option::of((0..3usize, any::<bool>())), 3).prop_map(move |slots| {
        slots
            .into_iter()
            .enumerate()
            .filter_map(|(i, slot)| slot.map(|(v, p)| (types[i], VALUES[v], p)))
            .collect()
    })
}

/// Wants: types may repeat (a mapping error the planner must survive).
fn wants(types: &'static [&'static str; 3]) -> impl Strategy<Value = Vec<Want>> {
    prop::collection::vec((0..3usize, 0..3usize, prop::option::of(any::<bool>())), 0..4).prop_map(
        move |ws| {
            ws.into_iter()
                .map(|(t, v, p)| Want {
                    type_id: types[t].into(),
                    value: VALUES[v].into(),
                    is_primary: p,
                })
                .collect()
        },
    )
}

fn records(emails: &[(&str, &str, bool)], phones: &[(&str, &str, bool)]) -> ContactRecords {
    ContactRecords {
        person_id_external: "p".into(),
        emails: emails
            .iter()
            .map(|&(t, a, p)| EmailRecord {
                email_type: t.into(),
                address: a.into(),
                is_primary: p,
            })
            .collect(),
        phones: phones
            .iter()
            .map(|&(t, n, p)| PhoneRecord {
                phone_type: t.into(),
                number: n.into(),
                country_code: None,
                area_code: None,
                extension: None,
                is_primary: p,
            })
            .collect(),
    }
}

fn primaries(c: &ContactRecords, kind: Kind) -> Vec<String> {
    match kind {
        Kind::Email => {
            c.emails.iter().filter(|e| e.is_primary).map(|e| e.email_type.clone()).collect()
        }
        Kind::Phone => {
            c.phones.iter().filter(|p| p.is_primary).map(|p| p.phone_type.clone()).collect()
        }
    }
}

fn wants_of(d: &Desired, kind: Kind) -> &[Want] {
    match kind {
        Kind::Email => &d.emails,
        Kind::Phone => &d.phones,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn plans_keep_one_primary_respect_hr_and_are_idempotent(
        emails in held(&EMAIL_TYPES),
        phones in held(&PHONE_TYPES),
        want_emails in wants(&EMAIL_TYPES),
        want_phones in wants(&PHONE_TYPES),
        take in any::<bool>(),
    ) {
        let policy = if take { PrimaryPolicy::Take } else { PrimaryPolicy::Keep };
        let current = records(&emails, &phones);
        let desired = Desired { emails: want_emails, phones: want_phones };
        let p = plan(&current, &desired, policy);
        let after = apply(&current, &p);

        for kind in [Kind::Email, Kind::Phone] {
            let before = primaries(&current, kind);
            let now = primaries(&after, kind);
            // Never two primaries where there were not already.
            if before.len() <= 1 {
                prop_assert!(now.len() <= 1, "{kind}: {before:?} -> {now:?} by {p:?}");
            } else {
                prop_assert!(now.len() <= before.len(), "{kind}: {before:?} -> {now:?}");
            }
            // Never left with none by the plan, where there was one.
            if !before.is_empty() {
                prop_assert!(!now.is_empty(), "{kind}: {before:?} -> none by {p:?}");
            }
            // A primary on a type the mapping does not write goes only under take.
            let mapped = |t: &str| wants_of(&desired, kind).iter().any(|w| w.type_id == t);
            for t in before.iter().filter(|t| !mapped(t)) {
                if !now.contains(t) {
                    prop_assert_eq!(policy, PrimaryPolicy::Take, "{}: HR's primary {} demoted", kind, t);
                }
            }
            // Under take, a record the mapping alone marks primary ends up
            // the one primary.
            let asked: Vec<&Want> = wants_of(&desired, kind).iter().filter(|w| w.is_primary == Some(true)).collect();
            let unique = asked.len() == 1
                && wants_of(&desired, kind).iter().filter(|w| w.type_id == asked[0].type_id).count() == 1
                && !wants_of(&desired, kind).iter().any(|w| w.is_primary.is_none() && before.contains(&w.type_id));
            if take && unique && before.len() <= 1 {
                prop_assert_eq!(now, vec![asked[0].type_id.clone()], "{:?}", p);
            }
        }
        // Only mapped types are written, except demotions under take.
        for w in p.demote.iter().chain(&p.records) {
            let mapped = wants_of(&desired, w.kind).iter().any(|x| x.type_id == w.type_id);
            prop_assert!(mapped || (take && !w.is_primary), "{w:?}");
        }
        // Idempotence: planning against the result sends nothing.
        let again = plan(&after, &desired, policy);
        prop_assert!(again.is_empty(), "{p:?} then {again:?}");
    }
}
