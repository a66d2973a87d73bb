//! The target's demands ([`hrsync_target::requirements`]) applied to each
//! planned create and update before anything is sent: a worker whose values
//! the target would refuse (a required attribute empty, a profile id the
//! server does not offer, a value too long) gets an error naming the
//! attribute and no request, in `plan` as in `sync`. The cycle's message
//! sums them up per attribute with a count and the first worker ids, and
//! names a required attribute no mapping writes at all.

use std::collections::BTreeMap;
use std::sync::Mutex;

use hrsync_target::requirements::{self, Requirement, Violation};
use hrsync_target::{Target, TargetError};

use crate::plan::Plan;

/// How many worker ids the summary names per problem.
const FIRST: usize = 5;

#[derive(Default)]
pub(crate) struct Demands {
    requirements: Vec<Requirement>,
    /// `attribute: cause` -> (workers refused, the first ids).
    refused: Mutex<BTreeMap<String, (usize, Vec<String>)>>,
    /// Why the demands could not be read, if they could not.
    unknown: Option<String>,
    /// The target could not be reached at all: the cycle stops (see
    /// `down.rs`).
    down: Option<TargetError>,
}

impl Demands {
    /// Ask the target what it demands (once a cycle). A target that cannot
    /// say is not trusted blindly: the summary says its demands are unknown.
    pub async fn load<T: Target + ?Sized>(target: &T) -> Demands {
        match target.requirements().await {
            Ok(requirements) => Demands { requirements, ..Demands::default() },
            Err(e) if e.unreachable() => Demands { down: Some(e), ..Demands::default() },
            Err(e) => {
                tracing::warn!(error = %e, "the target's schema could not be read; values are not checked against it");
                Demands { unknown: Some(e.to_string()), ..Demands::default() }
            }
        }
    }

    /// The target's answer when it could not be reached at all.
    pub fn unreachable(&self) -> Option<&TargetError> {
        self.down.as_ref()
    }

    /// What the target would refuse of `plan`, counted for the summary.
    pub fn refuse(&self, person_id: &str, plan: &Plan) -> Vec<Violation> {
        if self.requirements.is_empty() {
            return Vec::new();
        }
        let found = match plan {
            Plan::Create { attributes } => {
                requirements::violations(&self.requirements, attributes, true)
            }
            Plan::Update { changes, .. } => {
                let changed =
                    changes.iter().map(|c| (c.attribute.clone(), c.new.clone())).collect();
                requirements::violations(&self.requirements, &changed, false)
            }
            _ => Vec::new(),
        };
        if !found.is_empty() {
            let mut refused = self.refused.lock().unwrap_or_else(|p| p.into_inner());
            for v in &found {
                let (n, first) = refused.entry(v.to_string()).or_default();
                *n += 1;
                if first.len() < FIRST {
                    first.push(person_id.to_owned());
                }
            }
        }
        found
    }

    /// The cycle's account of the demands: required attributes no mapping
    /// writes, then each refusal with its count and first workers.
    pub fn summary(&self, mapped: &[&str]) -> Option<String> {
        let mut lines = Vec::new();
        for r in requirements::unmapped(&self.requirements, mapped) {
            lines.push(format!(
                "{} is required by {} and no mapping writes it: no account can be created until one does",
                r.attribute, r.by
            ));
        }
        let refused = self.refused.lock().unwrap_or_else(|p| p.into_inner());
        for (what, (n, first)) in refused.iter() {
            lines.push(format!(
                "{what} ({n} worker{}, first: {}{})",
                if *n == 1 { "" } else { "s" },
                first.join(", "),
                if *n > first.len() { ", ..." } else { "" }
            ));
        }
        if let Some(e) = &self.unknown {
            lines.push(format!(
                "the target's schema could not be read, values were not checked against it: {e}"
            ));
        }
        (!lines.is_empty()).then(|| lines.join("\n"))
    }
}
