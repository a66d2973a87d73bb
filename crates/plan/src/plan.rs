//! Deciding what a worker needs in the target: a pure function of what the
//! mapping produced, what the store remembers and what the target holds.
//! `hrsync plan`, `on-demand` and the sync executor all print or apply the
//! same [`Plan`].

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::Action;

/// How a desired value flows (mirrors the mapping's `flow` and `apply`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct FlowRule {
    /// Export even when unchanged (Entra `FlowAlways`).
    pub always: bool,
    /// Only on create (Entra `ObjectAddOnly`).
    pub on_create_only: bool,
}

/// One target attribute the mapping wants.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Desired {
    pub value: Value,
    pub rule: FlowRule,
}

/// The mapped worker, ready for planning.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MappedWorker {
    pub person_id: String,
    pub in_scope: bool,
    /// Why the worker is (not) in scope, for logs.
    pub scope_detail: String,
    /// Target attribute -> desired value. Attributes an expression chose not
    /// to flow (`IgnoreFlowIfNullOrEmpty`) are absent.
    pub desired: BTreeMap<String, Desired>,
}

/// Which object actions the flow may take (Entra's target object actions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Actions {
    pub create: bool,
    pub update: bool,
    pub disable: bool,
    pub delete: bool,
}

impl Default for Actions {
    fn default() -> Self {
        Actions { create: true, update: true, disable: true, delete: false }
    }
}

/// What the target holds for the worker, as far as planning needs it.
#[derive(Debug, Clone, PartialEq)]
pub enum Existing<'a> {
    /// Joined in the store: compare with the values last exported.
    Joined { target_id: &'a str, exported: &'a serde_json::Map<String, Value>, disabled: bool },
    /// Not joined, but found in the target by a matching attribute: compare
    /// with the object's actual values (this is also how a crash between a
    /// create and its store commit is healed without a duplicate).
    Matched { target_id: &'a str, attributes: &'a BTreeMap<String, Value> },
    /// Nothing in the target.
    Absent,
}

/// An attribute change: old value (as far as known) and new value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    pub attribute: String,
    pub old: Value,
    pub new: Value,
}

/// What to do for one worker.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum Plan {
    Create {
        attributes: BTreeMap<String, Value>,
    },
    Update {
        target_id: String,
        changes: Vec<Change>,
        join: bool,
    },
    Disable {
        target_id: String,
    },
    Delete {
        target_id: String,
    },
    /// Nothing to do; `reason` says why.
    Skip {
        reason: String,
        target_id: Option<String>,
    },
}

impl Plan {
    /// The action this plan takes.
    pub fn action(&self) -> Action {
        match self {
            Plan::Create { .. } => Action::Create,
            Plan::Update { .. } => Action::Update,
            Plan::Disable { .. } => Action::Disable,
            Plan::Delete { .. } => Action::Delete,
            Plan::Skip { .. } => Action::Skip,
        }
    }
}

/// Why a worker is out of scope, naming what excluded it: the scoping
/// filter's failing clauses (`out of scope: emplStatus EQUALS ["A"] (was "T")
/// failed`) or the source's own exclusion. Never an empty "out of scope ()".
fn out_of_scope(worker: &MappedWorker) -> String {
    let detail = worker.scope_detail.trim();
    if detail.starts_with("out of scope") {
        detail.to_owned()
    } else if detail.is_empty() {
        "out of scope (no reason recorded)".to_owned()
    } else {
        format!("out of scope: {detail}")
    }
}

/// Decide what a worker needs.
pub fn plan(worker: &MappedWorker, existing: &Existing<'_>, actions: Actions) -> Plan {
    if !worker.in_scope {
        return match existing {
            Existing::Joined { target_id, .. } if actions.delete => {
                Plan::Delete { target_id: (*target_id).to_owned() }
            }
            Existing::Joined { target_id, disabled: false, .. } if actions.disable => {
                Plan::Disable { target_id: (*target_id).to_owned() }
            }
            Existing::Joined { target_id, .. } => Plan::Skip {
                reason: format!("{}; account already handled", out_of_scope(worker)),
                target_id: Some((*target_id).to_owned()),
            },
            _ => Plan::Skip { reason: out_of_scope(worker), target_id: None },
        };
    }
    match existing {
        Existing::Absent => {
            if !actions.create {
                return Plan::Skip {
                    reason: "not in the target and creating is not allowed".into(),
                    target_id: None,
                };
            }
            let attributes = worker
                .desired
                .iter()
                .filter(|(_, d)| !d.value.is_null())
                .map(|(k, d)| (k.clone(), d.value.clone()))
                .collect();
            Plan::Create { attributes }
        }
        Existing::Joined { target_id, exported, .. } => {
            let changes = diff(worker, |attr| exported.get(attr));
            update_or_skip(target_id, changes, false, actions)
        }
        Existing::Matched { target_id, attributes } => {
            let changes = diff(worker, |attr| attributes.get(attr));
            update_or_skip(target_id, changes, true, actions)
        }
    }
}

fn update_or_skip(target_id: &str, changes: Vec<Change>, join: bool, actions: Actions) -> Plan {
    if changes.is_empty() && !join {
        return Plan::Skip {
            reason: "nothing to change".into(),
            target_id: Some(target_id.to_owned()),
        };
    }
    if !actions.update && !changes.is_empty() {
        return Plan::Skip {
            reason: "updating is not allowed".into(),
            target_id: Some(target_id.to_owned()),
        };
    }
    Plan::Update { target_id: target_id.to_owned(), changes, join }
}

/// Changes needed for every attribute that applies on update. A null desired
/// value is never exported (Entra's default: nulls do not flow).
fn diff<'a>(worker: &MappedWorker, current: impl Fn(&str) -> Option<&'a Value>) -> Vec<Change> {
    let mut out = Vec::new();
    for (attr, d) in &worker.desired {
        if d.rule.on_create_only || d.value.is_null() {
            continue;
        }
        let old = current(attr).cloned().unwrap_or(Value::Null);
        if d.rule.always || !same(&old, &d.value) {
            out.push(Change { attribute: attr.clone(), old, new: d.value.clone() });
        }
    }
    out
}

/// Values are compared by their text: a directory read back may differ from
/// what was written only in representation (`"1"` vs `1`, `"True"` vs
/// `true`). A case-only change is a change: it must reach the target.
fn same(old: &Value, new: &Value) -> bool {
    if old == new {
        return true;
    }
    let text = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(if *b { "True".to_owned() } else { "False".to_owned() }),
        _ => None,
    };
    matches!((text(old), text(new)), (Some(a), Some(b)) if a == b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn worker(pairs: &[(&str, Value, bool, bool)]) -> MappedWorker {
        MappedWorker {
            person_id: "p1".into(),
            in_scope: true,
            scope_detail: "no scoping filter".into(),
            desired: pairs
                .iter()
                .map(|(k, v, always, create_only)| {
                    (
                        (*k).to_owned(),
                        Desired {
                            value: v.clone(),
                            rule: FlowRule { always: *always, on_create_only: *create_only },
                        },
                    )
                })
                .collect(),
        }
    }

    #[test]
    fn create_when_absent_without_nulls() {
        let w = worker(&[
            ("employeeID", json!("1"), false, false),
            ("mobile", Value::Null, false, false),
            ("upn", json!("a@x"), false, true),
        ]);
        let p = plan(&w, &Existing::Absent, Actions::default());
        assert_eq!(
            p,
            Plan::Create {
                attributes: [
                    ("employeeID".to_owned(), json!("1")),
                    ("upn".to_owned(), json!("a@x"))
                ]
                .into()
            }
        );
        let p = plan(&w, &Existing::Absent, Actions { create: false, ..Actions::default() });
        assert_eq!(p.action(), Action::Skip);
    }

    #[test]
    fn update_only_what_changed_and_respect_flow_rules() {
        let w = worker(&[
            ("title", json!("Engineer II"), false, false),
            ("department", json!("IT"), false, false),
            ("userId", json!("u1"), true, false),
            ("upn", json!("new@x"), false, true),
        ]);
        let exported =
            json!({"title": "Engineer", "department": "IT", "userId": "u1", "upn": "old@x"});
        let exported = exported.as_object().unwrap();
        let p = plan(
            &w,
            &Existing::Joined { target_id: "t1", exported, disabled: false },
            Actions::default(),
        );
        let Plan::Update { changes, join, .. } = p else { panic!("{p:?}") };
        assert!(!join);
        assert_eq!(
            changes,
            vec![
                Change {
                    attribute: "title".into(),
                    old: json!("Engineer"),
                    new: json!("Engineer II")
                },
                Change { attribute: "userId".into(), old: json!("u1"), new: json!("u1") },
            ]
        );
        let unchanged = worker(&[("title", json!("Engineer"), false, false)]);
        assert_eq!(
            plan(
                &unchanged,
                &Existing::Joined { target_id: "t1", exported, disabled: false },
                Actions::default()
            )
            .action(),
            Action::Skip
        );
    }

    #[test]
    fn matched_object_is_joined_even_without_changes() {
        let w = worker(&[
            ("employeeID", json!("1"), false, false),
            ("employeeNumber", json!(7), false, false),
        ]);
        let attrs: BTreeMap<String, Value> =
            [("employeeID".to_owned(), json!("1")), ("employeeNumber".to_owned(), json!("7"))]
                .into();
        let p = plan(
            &w,
            &Existing::Matched { target_id: "t9", attributes: &attrs },
            Actions::default(),
        );
        assert_eq!(p, Plan::Update { target_id: "t9".into(), changes: vec![], join: true });
    }

    #[test]
    fn out_of_scope_disables_or_deletes_joined_accounts_only() {
        let mut w = worker(&[]);
        w.in_scope = false;
        w.scope_detail = "userStatus NOT EQUALS e".into();
        let exported = serde_json::Map::new();
        let joined = Existing::Joined { target_id: "t1", exported: &exported, disabled: false };
        assert_eq!(plan(&w, &joined, Actions::default()), Plan::Disable { target_id: "t1".into() });
        assert_eq!(
            plan(&w, &joined, Actions { delete: true, ..Actions::default() }),
            Plan::Delete { target_id: "t1".into() }
        );
        let disabled = Existing::Joined { target_id: "t1", exported: &exported, disabled: true };
        assert_eq!(plan(&w, &disabled, Actions::default()).action(), Action::Skip);
        assert_eq!(plan(&w, &Existing::Absent, Actions::default()).action(), Action::Skip);
    }

    #[test]
    fn an_out_of_scope_skip_names_what_excluded_the_worker() {
        let mut w = worker(&[]);
        w.in_scope = false;
        w.scope_detail = "out of scope: emplStatus EQUALS [\"A\"] (was \"T\") failed".into();
        let reason = |w: &MappedWorker| match plan(w, &Existing::Absent, Actions::default()) {
            Plan::Skip { reason, .. } => reason,
            other => panic!("a skip, not {other:?}"),
        };
        assert_eq!(reason(&w), "out of scope: emplStatus EQUALS [\"A\"] (was \"T\") failed");
        w.scope_detail = "Onboarding 2.0 pre-hire excluded (onboarding_prehires = false)".into();
        assert_eq!(
            reason(&w),
            "out of scope: Onboarding 2.0 pre-hire excluded (onboarding_prehires = false)"
        );
        w.scope_detail = String::new();
        assert!(!reason(&w).contains("()"), "{}", reason(&w));
    }
}
