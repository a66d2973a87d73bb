//! Matching: the page's unjoined workers looked up in the target by the
//! matching attributes in precedence order, one `find_many` per attribute;
//! in full and on-demand cycles, first a check that joined objects still
//! exist; and which pages must wait for writes still in flight before they
//! match.

use std::collections::{HashMap, HashSet};

use futures_util::stream::{self, StreamExt};

use hrsync_store::{LogStatus, Store};
use hrsync_target::Target;
use serde_json::Value;

use super::decide::Slot;
use super::import::Imported;
use super::pipeline::Pipeline;
use super::{Engine, step};
use crate::outcome::WorkerError;
use crate::plan::Plan;

impl<S: Store, T: Target + 'static> Engine<S, T> {
    /// Check that the objects the page's joined workers are joined to still
    /// exist. One `find_many` by the first matching attribute confirms most
    /// (the object found has the joined id); the rest are read by id
    /// (`Target::get`, up to `concurrency` at once), which also covers a
    /// matching value that changed since the join. A worker whose object is
    /// gone is matched again as if unjoined (and so re-joined or re-created)
    /// and the log says so; a target error fails that worker.
    pub(super) async fn verify_joins(&self, slots: &mut [Slot]) {
        let joined: Vec<usize> = slots
            .iter()
            .enumerate()
            .filter(
                |(_, s)| matches!(s, Slot::Ready(r) if r.state.join.is_some() && r.error.is_none()),
            )
            .map(|(i, _)| i)
            .collect();
        if joined.is_empty() {
            return;
        }
        let target = &self.target;
        let mut confirmed: HashSet<usize> = HashSet::new();
        let first = self.flow.mapping.matching().into_iter().position(|m| m.expr().is_some());
        if let Some(k) = first {
            let attribute = self.flow.mapping.matching()[k].config.target.clone();
            let mut values: Vec<String> = joined
                .iter()
                .filter_map(|&i| match &slots[i] {
                    Slot::Ready(r) => r.matching.get(k).cloned().and_then(|v| v.ok().flatten()),
                    _ => None,
                })
                .collect();
            values.sort_unstable();
            values.dedup();
            // A failed lookup only means every joined worker is read by id.
            if let Ok(found) = target.find_many(&attribute, &values).await {
                for &i in &joined {
                    let Slot::Ready(r) = &slots[i] else { continue };
                    let (Some(join), Some(Ok(Some(v)))) = (&r.state.join, r.matching.get(k)) else {
                        continue;
                    };
                    if found.get(v).is_some_and(|os| os.iter().any(|o| o.id == join.target_id)) {
                        confirmed.insert(i);
                    }
                }
            }
        }
        let unconfirmed: Vec<(usize, String)> = joined
            .iter()
            .filter(|i| !confirmed.contains(i))
            .filter_map(|&i| match &slots[i] {
                Slot::Ready(r) => r.state.join.as_ref().map(|j| (i, j.target_id.clone())),
                _ => None,
            })
            .collect();
        let reads: Vec<(usize, String, Result<bool, hrsync_target::TargetError>)> =
            stream::iter(unconfirmed)
                .map(|(i, id)| async move {
                    let exists = target.get(&id).await.map(|o| o.is_some());
                    (i, id, exists)
                })
                .buffer_unordered(self.settings.concurrency.max(1))
                .collect()
                .await;
        for (i, id, exists) in reads {
            let Some(Slot::Ready(r)) = slots.get_mut(i) else { continue };
            match exists {
                Ok(true) => {}
                Ok(false) => {
                    r.steps.push(step(
                        "match",
                        LogStatus::Warning,
                        format!("joined object {id} is gone from the target; matching again"),
                    ));
                    r.state.join = None;
                    r.gone = Some(id);
                }
                Err(e) => r.error = Some(WorkerError::Target(e)),
            }
        }
    }

    /// Look the page's unjoined workers up by the matching attributes in
    /// precedence order, one `find_many` per attribute.
    pub(super) async fn match_page(&self, slots: &mut [Slot]) {
        let mut waiting: Vec<usize> = slots
            .iter()
            .enumerate()
            .filter(|(_, s)| matches!(s, Slot::Ready(r) if r.state.join.is_none()))
            .map(|(i, _)| i)
            .collect();
        let (flow, target) = (&self.flow, &self.target);
        // Target id -> the worker of this page it was matched to.
        let mut claimed: HashMap<String, String> = HashMap::new();
        for (k, m) in flow.mapping.matching().into_iter().enumerate() {
            if waiting.is_empty() {
                break;
            }
            if m.expr().is_none() {
                continue;
            }
            let attribute = m.config.target.as_str();
            let mut asked: Vec<(usize, String)> = Vec::new();
            let mut next = Vec::new();
            for &i in &waiting {
                let Some(Slot::Ready(r)) = slots.get_mut(i) else { continue };
                match r.matching.get(k).cloned().unwrap_or(Ok(None)) {
                    Ok(Some(v)) => asked.push((i, v)),
                    Ok(None) => next.push(i),
                    Err(cause) => {
                        r.error = Some(WorkerError::Matching { attribute: attribute.into(), cause })
                    }
                }
            }
            let mut values: Vec<String> = asked.iter().map(|(_, v)| v.clone()).collect();
            values.sort_unstable();
            values.dedup();
            let found = if values.is_empty() {
                Ok(Default::default())
            } else {
                target.find_many(attribute, &values).await
            };
            // Who holds the objects found, in one store read.
            let ids: Vec<&str> = match &found {
                Ok(f) => f.values().filter(|o| o.len() == 1).map(|o| o[0].id.as_str()).collect(),
                Err(_) => Vec::new(),
            };
            let holders = self.store.accounts_by_target(&ids);
            for (i, value) in asked {
                let Some(Slot::Ready(r)) = slots.get_mut(i) else { continue };
                let objects = match &found {
                    Ok(f) => f.get(&value).map(Vec::as_slice).unwrap_or_default(),
                    Err(e) => {
                        r.error = Some(WorkerError::Target(e.clone()));
                        continue;
                    }
                };
                match objects {
                    [] => {
                        r.steps.push(step(
                            "match",
                            LogStatus::Success,
                            format!("{attribute} = {value:?}: no object"),
                        ));
                        next.push(i);
                    }
                    [one] => {
                        // An object joins one worker: another worker that
                        // matches it (a matching attribute that is not
                        // unique) fails alone instead of the page's commit.
                        let holder = match claimed.get(&one.id) {
                            Some(person) => Ok(Some(person.clone())),
                            None => match &holders {
                                Ok(h) => Ok(h
                                    .get(&one.id)
                                    .map(|a| a.person_id.clone())
                                    .filter(|p| *p != r.person_id)),
                                Err(e) => Err(e.to_string()),
                            },
                        };
                        match holder {
                            Ok(None) => {
                                r.steps.push(step(
                                    "match",
                                    LogStatus::Success,
                                    format!("{attribute} = {value:?}: object {}", one.id),
                                ));
                                claimed.insert(one.id.clone(), r.person_id.clone());
                                r.matched = Some(one.clone());
                            }
                            Ok(Some(other)) => {
                                r.error = Some(WorkerError::JoinedElsewhere {
                                    attribute: attribute.into(),
                                    value,
                                    target_id: one.id.clone(),
                                    other,
                                })
                            }
                            Err(cause) => {
                                r.error = Some(WorkerError::Lookup {
                                    attribute: attribute.into(),
                                    value,
                                    target_id: one.id.clone(),
                                    cause,
                                })
                            }
                        }
                    }
                    many => {
                        r.error = Some(WorkerError::Duplicate {
                            attribute: attribute.into(),
                            value,
                            count: many.len(),
                        });
                    }
                }
            }
            next.sort_unstable();
            waiting = next;
        }
    }

    /// Whether a page must wait for the writes in flight: it holds a worker
    /// of a page not committed yet, or a matching value that a write in
    /// flight sets or changes (its `find_many` could miss the object being
    /// created and create a second one).
    pub(super) fn depends_on_writes(&self, pipe: &Pipeline, records: &[Imported]) -> bool {
        if pipe.pages.is_empty() {
            return false;
        }
        if records.iter().any(|r| {
            r.person_id
                .as_ref()
                .is_ok_and(|p| pipe.pages.iter().any(|page| page.person_ids.contains(p)))
        }) {
            return true;
        }
        if pipe.pages.iter().all(|p| p.matching.is_empty()) {
            return false;
        }
        let attributes: Vec<String> =
            self.flow.mapping.matching().iter().map(|m| m.config.target.to_lowercase()).collect();
        records.iter().any(|r| {
            r.matching.iter().zip(&attributes).any(|(value, attribute)| {
                let Ok(Some(v)) = value else { return false };
                let key = (attribute.clone(), v.to_lowercase());
                pipe.pages.iter().any(|p| p.matching.contains(&key))
            })
        })
    }

    /// The matching-attribute values a create or update sets or changes
    /// (attribute and value in lower case).
    pub(super) fn matching_values(&self, plan: &Plan) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for m in self.flow.mapping.matching() {
            let name = m.config.target.as_str();
            let mut add = |v: &Value| {
                if let Some(s) = v.as_str().filter(|s| !s.is_empty()) {
                    out.push((name.to_lowercase(), s.to_lowercase()));
                }
            };
            match plan {
                Plan::Create { attributes } => {
                    if let Some(v) = attributes.get(name) {
                        add(v);
                    }
                }
                Plan::Update { changes, .. } => {
                    for c in changes.iter().filter(|c| c.attribute.eq_ignore_ascii_case(name)) {
                        add(&c.old);
                        add(&c.new);
                    }
                }
                _ => {}
            }
        }
        out
    }
}
