//! Deprovisioning: disables and deletes are held until the end of the
//! cycle, then applied only if they stay under the accidental-deletion
//! guard (or, in a dry run, reported).

use hrsync_store::{
    AccountStatus, Change, Join, LogEntry, LogStatus, Outcome as StoreOutcome, Step, Store,
};
use hrsync_target::{Target, TargetError};

use super::decide::log_entry;
use super::{Cycle, Engine, EngineError, Mode, step};
use crate::Action;
use crate::outcome::WorkerError;
use crate::plan::Plan;

/// A disable or delete held until the end of the cycle.
pub(crate) struct Held {
    pub person_id: String,
    pub plan: Plan,
    pub join: Join,
    pub steps: Vec<Step>,
}

impl<S: Store, T: Target + 'static> Engine<S, T> {
    /// Apply the held disables and deletes unless they exceed the guard;
    /// returns the guard's message when it stopped them.
    pub(super) async fn apply_held(
        &mut self,
        c: &mut Cycle,
    ) -> Result<Option<String>, EngineError> {
        let held = std::mem::take(&mut c.held);
        if held.is_empty() {
            return Ok(None);
        }
        let managed = self.store.account_counts()?.active;
        if let Err(tripped) = self.settings.guard.check(held.len() as u64, managed) {
            let msg = tripped.to_string();
            tracing::error!(message = "Deletion guard stopped the cycle.", %msg);
            return Ok(Some(msg));
        }
        let now = c.now;
        if c.mode == Mode::DryRun {
            for h in held {
                let (action, detail, modified) = match &h.plan {
                    Plan::Disable { .. } => (Action::Disable, "would disable".to_owned(), vec![]),
                    Plan::Update { changes, .. } => (
                        Action::Disable,
                        format!("would disable (update of {} attributes)", changes.len()),
                        self.changes(
                            changes
                                .iter()
                                .map(|c| (c.attribute.clone(), c.old.clone(), c.new.clone())),
                        ),
                    ),
                    _ => (Action::Delete, "would delete".to_owned(), vec![]),
                };
                let mut steps = h.steps;
                steps.push(step("export", LogStatus::Planned, detail));
                c.report.add(action);
                let log = log_entry(
                    now,
                    action,
                    LogStatus::Planned,
                    Some(h.join.target_id.clone()),
                    steps,
                    modified,
                    None,
                );
                c.report.details.push(LogEntry { person_id: h.person_id, ..log });
            }
            return Ok(None);
        }
        let mut outcomes = Vec::new();
        for h in held {
            let (result, action) = match &h.plan {
                Plan::Disable { target_id } => {
                    (self.target.disable(target_id).await, Action::Disable)
                }
                Plan::Delete { target_id } => (self.target.delete(target_id).await, Action::Delete),
                Plan::Update { target_id, changes, .. } => {
                    let updates = super::updates(changes);
                    (self.target.update(target_id, &updates).await, Action::Disable)
                }
                Plan::Create { .. } | Plan::Skip { .. } => continue,
            };
            // Out of reach: this one and the rest stay held as they are
            // (their workers are decided again next cycle).
            if let Err(e) = &result
                && self.note_down(e)
            {
                break;
            }
            // A disable carried by an update records what it wrote.
            let (mut exported, modified) = match &h.plan {
                Plan::Update { changes, .. } => {
                    let mut exported = h.join.exported.clone();
                    for ch in changes {
                        let value = self.redact(&ch.attribute, ch.new.clone());
                        exported.insert(ch.attribute.clone(), value);
                    }
                    let modified = self.changes(
                        changes.iter().map(|c| (c.attribute.clone(), c.old.clone(), c.new.clone())),
                    );
                    (Some(exported), modified)
                }
                _ => (None, vec![]),
            };
            let mut steps = h.steps;
            let target_id = Some(h.join.target_id.clone());
            let outcome = match result {
                // Deleting what is already gone is done.
                Ok(()) | Err(TargetError::NotFound { .. }) if action == Action::Delete => {
                    steps.push(step("export", LogStatus::Success, "deleted".into()));
                    StoreOutcome {
                        person_id: h.person_id.clone(),
                        join: Change::Clear,
                        escrow: Change::Clear,
                        wakeups: Change::Clear,
                        log: Some(log_entry(
                            now,
                            action,
                            LogStatus::Success,
                            target_id,
                            steps,
                            vec![],
                            None,
                        )),
                    }
                }
                Ok(()) => {
                    steps.push(step("export", LogStatus::Success, "disabled".into()));
                    let mut account = h.join.clone();
                    account.status = AccountStatus::Disabled;
                    account.updated_at = now;
                    if let Some(e) = exported.take() {
                        account.exported = e;
                    }
                    StoreOutcome {
                        person_id: h.person_id.clone(),
                        join: Change::Set(account),
                        escrow: Change::Clear,
                        wakeups: Change::Keep,
                        log: Some(log_entry(
                            now,
                            action,
                            LogStatus::Success,
                            target_id,
                            steps,
                            modified,
                            None,
                        )),
                    }
                }
                Err(e) => {
                    let error = WorkerError::Target(e);
                    let escrow = self.escrow_after(&h.person_id, None, &error, now);
                    StoreOutcome {
                        person_id: h.person_id.clone(),
                        join: Change::Keep,
                        escrow: Change::Set(escrow),
                        wakeups: Change::Keep,
                        log: Some(log_entry(
                            now,
                            action,
                            LogStatus::Failure,
                            target_id,
                            steps,
                            vec![],
                            Some(error.to_string()),
                        )),
                    }
                }
            };
            c.report.add(if outcome.escrow == Change::Clear { action } else { Action::Failed });
            outcomes.push(outcome);
        }
        self.record(c, outcomes).await?;
        self.stop_if_down()?;
        Ok(None)
    }
}
