//! Property tests of planning: applying a plan and planning again leaves
//! nothing to do (except the attributes that flow on every cycle), and a
//! plan never writes a null or an on-create-only attribute on update.

use std::collections::BTreeMap;

use hrsync_plan::Action;
use hrsync_plan::plan::{Actions, Desired, Existing, FlowRule, MappedWorker, Plan, plan};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        "[a-cA-C]{0,3}".prop_map(Value::String),
        (0i64..4).prop_map(|n| json!(n)),
        any::<bool>().prop_map(Value::Bool),
        Just(json!("True")),
        Just(json!("1")),
    ]
}

fn attrs() -> impl Strategy<Value = BTreeMap<String, Value>> {
    prop::collection::btree_map("[a-e]", value(), 0..5)
}

fn worker() -> impl Strategy<Value = MappedWorker> {
    let desired = prop::collection::btree_map(
        "[a-e]",
        (value(), any::<bool>(), any::<bool>()).prop_map(|(value, always, on_create_only)| {
            Desired { value, rule: FlowRule { always, on_create_only } }
        }),
        0..5,
    );
    (desired, prop::bool::weighted(0.85)).prop_map(|(desired, in_scope)| MappedWorker {
        person_id: "p".into(),
        in_scope,
        scope_detail: String::new(),
        desired,
    })
}

fn actions() -> impl Strategy<Value = Actions> {
    (any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>())
        .prop_map(|(create, update, disable, delete)| Actions { create, update, disable, delete })
}

/// What the target and the store hold for the worker.
#[derive(Debug, Clone)]
enum State {
    Joined(Map<String, Value>, bool),
    /// Not joined; the target has an object with these attributes.
    Matched(BTreeMap<String, Value>),
    Absent,
}

/// The state after a plan was applied.
fn apply(p: &Plan, before: State) -> State {
    match (p, before) {
        (Plan::Create { attributes }, _) => {
            State::Joined(attributes.iter().map(|(k, v)| (k.clone(), v.clone())).collect(), false)
        }
        (Plan::Update { changes, .. }, before) => {
            let (mut exported, disabled) = match before {
                State::Joined(e, d) => (e, d),
                // A join starts from the object's actual values.
                State::Matched(m) => (m.into_iter().collect(), false),
                State::Absent => (Map::new(), false),
            };
            for c in changes {
                exported.insert(c.attribute.clone(), c.new.clone());
            }
            State::Joined(exported, disabled)
        }
        (Plan::Disable { .. }, State::Joined(e, _)) => State::Joined(e, true),
        (Plan::Delete { .. }, _) => State::Absent,
        (_, before) => before,
    }
}

fn plan_for(w: &MappedWorker, state: &State, actions: Actions) -> Plan {
    match state {
        State::Joined(exported, disabled) => {
            plan(w, &Existing::Joined { target_id: "t", exported, disabled: *disabled }, actions)
        }
        State::Matched(attributes) => {
            plan(w, &Existing::Matched { target_id: "t", attributes }, actions)
        }
        State::Absent => plan(w, &Existing::Absent, actions),
    }
}

/// Nothing left to do: a skip, or an update of flow-always attributes only.
fn settled(p: &Plan, w: &MappedWorker) -> bool {
    match p {
        Plan::Skip { .. } => true,
        Plan::Update { changes, join: false, .. } => {
            changes.iter().all(|c| w.desired.get(&c.attribute).is_some_and(|d| d.rule.always))
        }
        _ => false,
    }
}

proptest! {
    #[test]
    fn applying_a_plan_then_planning_again_leaves_nothing_to_do(
        w in worker(),
        exported in attrs(),
        matched in attrs(),
        disabled in any::<bool>(),
        which in 0u8..3,
        actions in actions(),
    ) {
        let before = match which {
            0 => State::Absent,
            1 => State::Joined(exported.into_iter().collect(), disabled),
            _ => State::Matched(matched),
        };
        let first = plan_for(&w, &before, actions);
        let after = apply(&first, before.clone());
        let second = plan_for(&w, &after, actions);
        match (&first, &after) {
            // Deleted: what is left is planning for a worker with no account.
            (Plan::Delete { .. }, State::Absent) => {
                prop_assert!(matches!(second.action(), Action::Create | Action::Skip), "{:?}", second)
            }
            // Nothing was applied (a refusal): planning again decides the same.
            (Plan::Skip { .. }, State::Absent | State::Matched(_)) => prop_assert_eq!(&second, &first),
            _ => prop_assert!(settled(&second, &w), "before {:?}\nfirst {:?}\nsecond {:?}", before, first, second),
        }
    }

    #[test]
    fn updates_never_write_nulls_or_create_only_attributes(
        w in worker(),
        exported in attrs(),
        actions in actions(),
    ) {
        let exported: Map<String, Value> = exported.into_iter().collect();
        let p = plan(&w, &Existing::Joined { target_id: "t", exported: &exported, disabled: false }, actions);
        if let Plan::Update { changes, .. } = &p {
            for c in changes {
                prop_assert!(!c.new.is_null());
                prop_assert!(!w.desired[&c.attribute].rule.on_create_only);
            }
        }
        if let Plan::Create { attributes } = plan(&w, &Existing::Absent, actions) {
            prop_assert!(attributes.values().all(|v| !v.is_null()));
            prop_assert!(actions.create && w.in_scope);
        }
        prop_assert!(p.action() != Action::Delete || actions.delete);
    }
}
