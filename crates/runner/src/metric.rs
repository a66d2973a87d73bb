//! The metrics the runner emits, through the `metrics` facade: nothing is
//! recorded unless the process installed a recorder (`hrsync run` with an
//! `[api]` section installs the Prometheus one). Names follow Prometheus'
//! conventions: `hrsync_` prefix, counters end in `_total`, labels bounded
//! (flow names come from the config; kinds, statuses and actions are enums).

use hrsync_engine::cycle::CycleReport;
use hrsync_store::{Action, CycleKind, CycleStatus};

use crate::driver::DriverError;
use crate::runner::Job;

/// Cycles that ended, by `flow`, `kind` and `status` (a cycle that failed
/// before it had a report counts as `failed`).
pub const CYCLES_TOTAL: &str = "hrsync_cycles_total";
/// Workers processed by cycles that wrote, by `flow`, `action` and
/// `outcome` (`success`, or `failure` for action `failed`).
pub const WORKERS_TOTAL: &str = "hrsync_workers_total";

/// The statuses a finished cycle can have (pre-created at zero).
pub const CYCLE_STATUSES: [CycleStatus; 4] = [
    CycleStatus::Completed,
    CycleStatus::CompletedWithErrors,
    CycleStatus::Guarded,
    CycleStatus::Failed,
];
/// The kinds of cycles that write.
pub const CYCLE_KINDS: [CycleKind; 3] =
    [CycleKind::Full, CycleKind::Incremental, CycleKind::OnDemand];

/// Describe the runner's metrics and create `flow`'s series at zero, so a
/// scrape shows them before the first cycle ends.
pub fn describe(flows: &[&str]) {
    metrics::describe_counter!(CYCLES_TOTAL, "Sync cycles that ended, by flow, kind and status.");
    metrics::describe_counter!(
        WORKERS_TOTAL,
        "Workers processed by sync cycles, by flow, action and outcome."
    );
    for flow in flows {
        for kind in CYCLE_KINDS {
            for status in CYCLE_STATUSES {
                metrics::counter!(CYCLES_TOTAL, "flow" => flow.to_string(), "kind" => kind.as_str(), "status" => status.as_str())
                    .increment(0);
            }
        }
        for action in Action::ALL {
            let (action, outcome) = labels(action);
            metrics::counter!(WORKERS_TOTAL, "flow" => flow.to_string(), "action" => action, "outcome" => outcome)
                .increment(0);
        }
    }
}

fn labels(action: Action) -> (&'static str, &'static str) {
    match action {
        Action::Failed => ("failed", "failure"),
        other => (other.as_str(), "success"),
    }
}

/// Count a finished job: cycles and on-demand runs (plans write nothing).
pub(crate) fn record_job(flow: &str, job: &Job, result: &Result<CycleReport, DriverError>) {
    let kind = match job {
        Job::Cycle(kind) => *kind,
        Job::OnDemand { .. } => CycleKind::OnDemand,
        Job::Plan { .. } => return,
    };
    // The engine's own kind (an incremental cycle without a watermark runs
    // in full).
    let (kind, status) = match result {
        Ok(report) => (report.kind, report.status),
        Err(_) => (kind, CycleStatus::Failed),
    };
    metrics::counter!(CYCLES_TOTAL, "flow" => flow.to_owned(), "kind" => kind.as_str(), "status" => status.as_str())
        .increment(1);
    if let Ok(report) = result {
        for (action, n) in &report.counts {
            let (action, outcome) = labels(*action);
            metrics::counter!(WORKERS_TOTAL, "flow" => flow.to_owned(), "action" => action, "outcome" => outcome)
                .increment(*n);
        }
    }
}
