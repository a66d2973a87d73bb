//! Importing a record: the source's reading of it, the mapped source
//! values, scoping and matching values (pure, on the read-ahead task), then
//! what needs the store: a worker who starts later is held until the
//! flow's lead time and read again as of the start date.

use hrsync_expr::{Clock, EvalContext, Outcome, SplitMix64};
use hrsync_mapping::SourceRecord;
use hrsync_store::{Change, LogStatus, Outcome as StoreOutcome, Step, WorkerState};
use hrsync_target::Target;
use jiff::Timestamp;
use serde_json::Value;

use super::decide::{Ready, Slot};
use super::{Cycle, Engine, step};
use crate::Action;
use crate::flow::CompiledFlow;
use crate::source::Source;
use hrsync_store::Store;

/// A record as read: the source's view, source values, scoping and
/// matching values. The record itself is dropped once its values are
/// extracted.
pub(crate) struct Imported {
    /// The person id, or why the record has none it can be processed by.
    pub person_id: Result<String, String>,
    /// Starts on this future day (see [`crate::source::SourceView::starts`]).
    pub starts: Option<jiff::civil::Date>,
    pub wakeups: Vec<(Timestamp, String)>,
    /// The `import` step of the provisioning log.
    pub import: Step,
    pub source: SourceRecord,
    /// In scope, and the `scope` step.
    pub scope: (bool, Step),
    /// Its value of each matching attribute, in precedence order.
    pub matching: Matching,
}

/// A worker's value of each matching attribute, in precedence order (`None`:
/// no value, the next attribute is tried; `Err`: the expression failed).
/// Evaluated once, at import: the page's `find_many` and the check against
/// the writes in flight both read it.
pub(crate) type Matching = Vec<Result<Option<String>, String>>;

/// What becomes of an imported record before matching.
pub(crate) enum Prepared {
    Slot(Slot),
    /// A worker who starts later, to read again as of the start date.
    Requery(jiff::civil::Date, String),
}

/// The source's reading, extraction of the mapped values, the scoping
/// filter and the matching values: everything about a record that needs
/// neither the store nor the target.
pub(crate) fn import(
    flow: &CompiledFlow,
    source: &dyn Source,
    mut record: Value,
    now: Timestamp,
) -> Imported {
    let view = source.import(&mut record, now);
    let import = step("import", LogStatus::Success, view.detail);
    let values = flow.source.extract(&record);
    let scope = match (&view.excluded, &flow.scope) {
        // The source's own exclusion decides before the scoping filter, and
        // the skip names it.
        (Some(why), _) => (false, step("scope", LogStatus::Skipped, why.clone())),
        (None, Some(scope)) => {
            let r = scope.evaluate(&values);
            (
                r.in_scope,
                step(
                    "scope",
                    if r.in_scope { LogStatus::Success } else { LogStatus::Skipped },
                    r.to_string(),
                ),
            )
        }
        (None, None) => (true, step("scope", LogStatus::Success, "no scoping filter".into())),
    };
    // As of the cycle's start, like the rest of the import; a matching
    // value drawn at random would never match anything anyway.
    let (clock, mut random) =
        (hrsync_expr::FixedClock(now), SplitMix64(now.as_nanosecond() as u64));
    let matching = flow
        .mapping
        .matching()
        .into_iter()
        .map(|m| match m.expr() {
            Some(expr) => {
                matching_value(expr, &values, &clock, &mut random).map_err(|e| e.to_string())
            }
            None => Ok(None),
        })
        .collect();
    Imported {
        person_id: view.person_id,
        starts: view.starts,
        wakeups: view.wakeups,
        import,
        source: values,
        scope,
        matching,
    }
}

/// A worker's value of a matching attribute; `None` when it has none (the
/// next matching attribute is tried).
fn matching_value(
    expr: &hrsync_expr::Expr,
    source: &SourceRecord,
    clock: &dyn Clock,
    random: &mut SplitMix64,
) -> Result<Option<String>, hrsync_expr::EvalError> {
    let mut ctx = EvalContext::new(clock, random, None);
    Ok(match hrsync_expr::eval(expr, source, &mut ctx)? {
        Outcome::Value(v) => {
            v.as_str_lossy().filter(|s| !s.is_empty()).map(std::borrow::Cow::into_owned)
        }
        Outcome::IgnoreFlow => None,
    })
}

impl<S: Store, T: Target + 'static> Engine<S, T> {
    /// What needs the store on top of the pure import: a worker who starts
    /// later is skipped (with a wake-up) until the lead time before the
    /// start date unless already joined, and otherwise read again as of
    /// the start date (SuccessFactors returns little before it).
    pub(super) fn prepare(
        &self,
        c: &Cycle,
        imported: Imported,
        person_id: String,
        state: WorkerState,
        prehire_view: bool,
    ) -> Prepared {
        let tz = &self.settings.time_zone;
        let Imported { starts, mut wakeups, import, source, scope, matching, .. } = imported;
        let mut steps = vec![import];
        if let Some(start) = starts {
            let lead_start = start
                .checked_sub(jiff::Span::new().days(self.settings.prehire_lead_days))
                .unwrap_or(start);
            let today = c.now.to_zoned_datetime(tz.clone()).date();
            if lead_start > today && state.join.is_none() {
                if let Ok(at) = lead_start.to_zoned_datetime(tz.clone()) {
                    wakeups.push((at.timestamp(), format!("pre-hire lead time before {start}")));
                }
                let log = super::decide::log_entry(
                    c.now,
                    Action::Skip,
                    LogStatus::Skipped,
                    None,
                    steps,
                    vec![],
                    Some(format!("pre-hire starting {start}: provisioned from {lead_start}")),
                );
                return Prepared::Slot(Slot::Done(
                    Box::new(StoreOutcome {
                        person_id,
                        join: Change::Keep,
                        escrow: Change::Clear,
                        wakeups: Change::Set(wakeups),
                        log: Some(log),
                    }),
                    Some(Action::Skip),
                ));
            }
            if !prehire_view {
                return Prepared::Requery(start, person_id);
            }
        }
        let (in_scope, scope_step) = scope;
        steps.push(scope_step);
        if let Some(a) = &state.join {
            steps.push(step("match", LogStatus::Success, format!("joined to {}", a.target_id)));
        }
        Prepared::Slot(Slot::Ready(Box::new(Ready {
            person_id,
            state,
            source,
            in_scope,
            steps,
            wakeups,
            matching,
            matched: None,
            gone: None,
            error: None,
        })))
    }
}
