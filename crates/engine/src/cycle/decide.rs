//! Deciding: map and plan one worker (in page order), and conclude each
//! worker into its store outcome and log entry.

use std::collections::BTreeMap;

use hrsync_expr::{EvalContext, Outcome};
use hrsync_mapping::{Phase, SourceRecord};
use hrsync_store::{
    AccountStatus, AttributeChange, Change, Escrow, LogEntry, LogStatus, Outcome as StoreOutcome,
    Step, Store, WorkerState,
};
use hrsync_target::{Preview, Target, TargetObject};
use jiff::Timestamp;
use serde_json::Value;

use super::deprovision::Held;
use super::import::Matching;
use super::unique::{PageUnique, PageUniqueness, TargetUniqueness};
use super::{Engine, Mode, step};
use crate::Action;
use crate::outcome::{Decision, WorkerError};
use crate::plan::{self, Desired, Existing, FlowRule, MappedWorker, Plan};
use hrsync_target::attr::disabling;

/// What the state store keeps in place of a secret value it must not
/// hold: that hrsync set it. A joined worker's secret is not sent again
/// (a password is set on create) unless its mapping flows always.
pub(crate) const SECRET_SET: &str = "(secret, set by hrsync)";

/// A worker on its way through a page.
pub(crate) enum Slot {
    /// Concluded: the store outcome and the action counted in the report
    /// (`None`: a disable or delete held for the guard, counted when
    /// applied).
    Done(Box<StoreOutcome>, Option<Action>),
    /// Waiting to be matched and mapped.
    Ready(Box<Ready>),
    /// Decided; the create or update is being written.
    Write(Box<Ready>, Plan),
}

/// A worker ready for matching and mapping.
pub(crate) struct Ready {
    pub person_id: String,
    pub state: WorkerState,
    pub source: SourceRecord,
    pub in_scope: bool,
    pub steps: Vec<Step>,
    pub wakeups: Vec<(Timestamp, String)>,
    pub matching: Matching,
    /// Found by a matching attribute (no join yet).
    pub matched: Option<TargetObject>,
    /// The target id of the join this worker had, whose object is gone
    /// from the target (found by a full or on-demand cycle's check): the
    /// worker was matched again as if unjoined, and the stale join is
    /// cleared unless a new one replaces it.
    pub gone: Option<String>,
    /// Matching failed: the worker is escrowed with this error.
    pub error: Option<WorkerError>,
}

impl Ready {
    pub fn phase(&self) -> Phase {
        if self.state.join.is_some() || self.matched.is_some() {
            Phase::Update
        } else {
            Phase::Create
        }
    }
}

impl<S: Store, T: Target + 'static> Engine<S, T> {
    /// Map and plan one worker (page order). Creates and updates come back
    /// as [`Slot::Write`]; everything else is concluded here.
    pub(super) fn decide(
        &self,
        mode: Mode,
        mut r: Box<Ready>,
        unique: &PageUnique,
        now: Timestamp,
        held: &mut Vec<Held>,
    ) -> Slot {
        if let Some(error) = r.error.take() {
            return self.conclude(*r, Err(error), now);
        }
        let desired = match self.map(&r, unique) {
            Ok(d) => d,
            Err(e) => return self.conclude(*r, Err(e), now),
        };
        let worker = MappedWorker {
            person_id: r.person_id.clone(),
            in_scope: r.in_scope,
            scope_detail: r
                .steps
                .iter()
                .find(|s| s.name == "scope")
                .map(|s| s.detail.clone())
                .unwrap_or_default(),
            desired,
        };
        let existing = match (&r.state.join, &r.matched) {
            (Some(a), _) => Existing::Joined {
                target_id: &a.target_id,
                exported: &a.exported,
                disabled: a.status != AccountStatus::Active,
            },
            (None, Some(o)) => Existing::Matched { target_id: &o.id, attributes: &o.attributes },
            (None, None) => Existing::Absent,
        };
        let plan = plan::plan(&worker, &existing, self.settings.actions);
        // Values the target would refuse are not sent (plan says so too).
        let refused = self.demands.refuse(&r.person_id, &plan);
        if !refused.is_empty() {
            return self.conclude(*r, Err(WorkerError::Refused(refused)), now);
        }
        // An update that disables the account (`accountDisabled`,
        // `userAccountControl`) is a deprovisioning like a disable: held
        // for the guard, whatever carries it.
        if disables(&plan, &r.state)
            && let Some(account) = r.state.join.clone()
        {
            held.push(Held {
                person_id: r.person_id.clone(),
                plan,
                join: account,
                steps: r.steps.clone(),
            });
            return self.conclude_held(*r);
        }
        if mode == Mode::DryRun {
            let result = self.dry_run(&r.person_id, plan, &r.state, &mut r.steps, held);
            return self.conclude(*r, Ok(result), now);
        }
        match plan {
            p @ (Plan::Create { .. } | Plan::Update { .. }) => Slot::Write(r, p),
            p @ (Plan::Disable { .. } | Plan::Delete { .. }) => {
                let result = match r.state.join.clone() {
                    Some(account) => {
                        held.push(Held {
                            person_id: r.person_id.clone(),
                            plan: p,
                            join: account,
                            steps: r.steps.clone(),
                        });
                        return self.conclude_held(*r);
                    }
                    None => Err(WorkerError::NoJoin),
                };
                self.conclude(*r, result, now)
            }
            Plan::Skip { reason, target_id } => {
                r.steps.push(step("export", LogStatus::Skipped, reason));
                self.conclude(*r, Ok(Decision::skip(target_id)), now)
            }
        }
    }

    /// The worker's desired target values. A scoped-out worker's plan needs
    /// none (skip, disable or delete): mapping it would only ask the target
    /// about unique values it will never use (and reserve them in the page)
    /// or fail it on a required attribute.
    fn map(
        &self,
        r: &Ready,
        unique: &PageUnique,
    ) -> Result<BTreeMap<String, Desired>, WorkerError> {
        let mut desired = BTreeMap::new();
        if !r.in_scope {
            return Ok(desired);
        }
        let phase = r.phase();
        let mut errors = Vec::new();
        // Disjoint borrows: the mappings are read while the random source is
        // advanced and the target is asked about uniqueness.
        let mut random = self.random.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let (flow, target, clock, random) = (&self.flow, &self.target, &self.clock, &mut *random);
        for (i, m) in flow.mapping.mappings().iter().enumerate() {
            let attribute = m.config.target.as_str();
            // On update, the worker's own value does not make a candidate taken.
            let own = match &r.state.join {
                Some(a) if flow.is_unique(i) => {
                    a.exported.get(attribute).and_then(Value::as_str).map(str::to_lowercase)
                }
                _ => None,
            };
            let uniq = PageUniqueness {
                page: unique,
                attribute,
                own,
                fallback: TargetUniqueness { target: &**target, attribute },
            };
            let mut ctx = EvalContext::new(&**clock, random, Some(&uniq));
            let Some(value) = m.evaluate(&r.source, &mut ctx, phase) else { continue };
            match value.outcome {
                Ok(Outcome::IgnoreFlow) => {}
                Ok(Outcome::Value(v)) => {
                    let rule = FlowRule {
                        always: m.config.flow == hrsync_mapping::FlowBehavior::Always,
                        on_create_only: m.config.apply == hrsync_mapping::Apply::OnCreate,
                    };
                    // A secret already set stays as it is unless it flows always.
                    let kept_secret = flow.is_secret(attribute)
                        && !rule.always
                        && r.state.join.as_ref().is_some_and(|a| {
                            a.exported.get(attribute).and_then(Value::as_str) == Some(SECRET_SET)
                        });
                    if !kept_secret {
                        desired.insert(attribute.to_owned(), Desired { value: v.to_json(), rule });
                    }
                }
                Err(e) => errors.push(format!("{attribute}: {e}")),
            }
        }
        if phase == Phase::Create {
            for m in flow.mapping.mappings().iter().filter(|m| m.config.required) {
                let empty = desired.get(&m.config.target).is_none_or(|d| match &d.value {
                    Value::Null => true,
                    Value::String(s) => s.is_empty(),
                    Value::Array(a) => a.is_empty(),
                    _ => false,
                });
                if empty {
                    errors.push(format!(
                        "{}: required, but the mapping gives no value",
                        m.config.target
                    ));
                }
            }
        }
        if errors.is_empty() { Ok(desired) } else { Err(WorkerError::Mapping(errors)) }
    }

    /// The value as it may be kept or shown: a secret becomes
    /// [`SECRET_SET`].
    pub(super) fn redact(&self, attribute: &str, value: Value) -> Value {
        if !value.is_null() && self.flow.is_secret(attribute) {
            Value::String(SECRET_SET.into())
        } else {
            value
        }
    }

    /// Attribute changes as logged and printed (secrets redacted).
    pub(super) fn changes(
        &self,
        changes: impl IntoIterator<Item = (String, Value, Value)>,
    ) -> Vec<AttributeChange> {
        changes
            .into_iter()
            .map(|(attribute, old, new)| AttributeChange {
                old: self.redact(&attribute, old),
                new: self.redact(&attribute, new),
                attribute,
            })
            .collect()
    }

    /// What `plan` reports for a decided worker, without touching anything.
    fn dry_run(
        &self,
        person_id: &str,
        plan: Plan,
        state: &WorkerState,
        steps: &mut Vec<Step>,
        held: &mut Vec<Held>,
    ) -> Decision {
        let action = plan.action();
        match plan {
            Plan::Create { attributes } => {
                steps.push(step(
                    "export",
                    LogStatus::Planned,
                    format!("would create with {} attributes", attributes.len()),
                ));
                if self.show_requests {
                    for text in self.target.preview(Preview::Create(&attributes)) {
                        steps.push(step("request", LogStatus::Planned, text));
                    }
                }
                let modified =
                    self.changes(attributes.into_iter().map(|(k, v)| (k, Value::Null, v)));
                Decision { action, join: None, target_id: None, modified }
            }
            Plan::Update { target_id, changes, join } => {
                steps.push(step(
                    "export",
                    LogStatus::Planned,
                    format!(
                        "would update {} attributes{}",
                        changes.len(),
                        if join { " and join" } else { "" }
                    ),
                ));
                if self.show_requests {
                    let updates = super::updates(&changes);
                    let write = Preview::Update { id: &target_id, changes: &updates };
                    for text in self.target.preview(write) {
                        steps.push(step("request", LogStatus::Planned, text));
                    }
                }
                let modified =
                    self.changes(changes.into_iter().map(|c| (c.attribute, c.old, c.new)));
                Decision { action, join: None, target_id: Some(target_id), modified }
            }
            p @ (Plan::Disable { .. } | Plan::Delete { .. }) => {
                if let Some(account) = state.join.clone() {
                    let target_id = account.target_id.clone();
                    held.push(Held {
                        person_id: person_id.to_owned(),
                        plan: p,
                        join: account,
                        steps: steps.clone(),
                    });
                    // Counted and logged with the held deprovisionings.
                    return Decision {
                        action,
                        join: None,
                        target_id: Some(target_id),
                        modified: vec![],
                    };
                }
                Decision::skip(None)
            }
            Plan::Skip { reason, target_id } => {
                steps.push(step("export", LogStatus::Skipped, reason));
                Decision::skip(target_id)
            }
        }
    }

    /// A disable or delete held for the guard: its wake-ups are kept and
    /// its escrow cleared now; it is logged and counted when applied.
    fn conclude_held(&self, r: Ready) -> Slot {
        Slot::Done(
            Box::new(StoreOutcome {
                person_id: r.person_id,
                join: Change::Keep,
                escrow: Change::Clear,
                wakeups: Change::Set(r.wakeups),
                log: None,
            }),
            None,
        )
    }

    /// The store outcome and log entry of a worker.
    pub(super) fn conclude(
        &self,
        r: Ready,
        result: Result<Decision, WorkerError>,
        now: Timestamp,
    ) -> Slot {
        // A dry run's disable or delete is reported with the held ones.
        if matches!(&result, Ok(d) if d.action.deprovisions()) {
            return self.conclude_held(r);
        }
        let Ready { person_id, state, mut steps, wakeups, gone, .. } = r;
        // A join whose object is gone is dropped unless replaced.
        let unchanged = if gone.is_some() { Change::Clear } else { Change::Keep };
        match result {
            Ok(Decision { action, join, target_id, modified }) => {
                let status =
                    if action == Action::Skip { LogStatus::Skipped } else { LogStatus::Success };
                let log = log_entry(now, action, status, target_id, steps, modified, None);
                Slot::Done(
                    Box::new(StoreOutcome {
                        person_id,
                        join: join.map_or(unchanged, Change::Set),
                        escrow: Change::Clear,
                        wakeups: Change::Set(wakeups),
                        log: Some(log),
                    }),
                    Some(action),
                )
            }
            // Not this worker's fault: nothing is recorded for it.
            Err(error) if self.dropped_for_down(&error) => super::down::untouched(person_id),
            Err(error) => {
                let escrow = self.escrow_after(&person_id, state.escrow.as_ref(), &error, now);
                tracing::warn!(
                    message = if escrow.flagged { "Worker failed; flagged for a human." } else { "Worker failed; escrowed for retry." },
                    person = %person_id,
                    %error,
                    attempts = escrow.attempts,
                    retryable = error.retryable()
                );
                let text = error.to_string();
                steps.push(step("export", LogStatus::Failure, text.clone()));
                let log = log_entry(
                    now,
                    Action::Failed,
                    LogStatus::Failure,
                    state.join.as_ref().map(|a| a.target_id.clone()),
                    steps,
                    vec![],
                    Some(text),
                );
                Slot::Done(
                    Box::new(StoreOutcome {
                        person_id,
                        join: unchanged,
                        escrow: Change::Set(escrow),
                        wakeups: Change::Keep,
                        log: Some(log),
                    }),
                    Some(Action::Failed),
                )
            }
        }
    }

    /// The worker's escrow after `error`.
    pub(super) fn escrow_after(
        &self,
        person_id: &str,
        previous: Option<&Escrow>,
        error: &WorkerError,
        now: Timestamp,
    ) -> Escrow {
        let retry = self.settings.escrow.after_failure(
            previous.map_or(0, |e| e.attempts),
            now,
            error.retryable(),
        );
        Escrow {
            person_id: person_id.to_owned(),
            attempts: retry.attempts,
            first_failed_at: previous.map_or(now, |e| e.first_failed_at),
            last_failed_at: now,
            next_attempt_at: retry.next_attempt_at,
            last_error: error.to_string(),
            flagged: retry.flagged,
        }
    }
}

/// Whether `plan` updates a joined, active account so that it is disabled.
fn disables(plan: &Plan, state: &WorkerState) -> bool {
    let active = state.join.as_ref().is_some_and(|a| a.status == AccountStatus::Active);
    let Plan::Update { changes, join: false, .. } = plan else { return false };
    active
        && changes.iter().any(|c| {
            disabling(&c.attribute, &c.new) == Some(true)
                && disabling(&c.attribute, &c.old) != Some(true)
        })
}

/// A provisioning-log entry (its ids are filled in by the store).
pub(crate) fn log_entry(
    at: Timestamp,
    action: Action,
    status: LogStatus,
    target_id: Option<String>,
    steps: Vec<Step>,
    modified: Vec<AttributeChange>,
    error: Option<String>,
) -> LogEntry {
    LogEntry {
        id: 0,
        cycle_id: 0,
        person_id: String::new(),
        at,
        action,
        status,
        target_id,
        steps,
        modified,
        error,
    }
}
