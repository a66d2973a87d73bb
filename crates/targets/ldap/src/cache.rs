//! What the target remembers between operations: values known to be taken
//! (uniqueness checks) and manager DNs with the reports waiting for them.
//! Pure in-memory state behind the target's mutexes; no I/O here.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

/// The comparison key of a directory string value: lower case, as the
/// usual matching rules (caseIgnoreMatch, caseIgnoreIA5Match, AD's
/// case-insensitive strings) compare. Rules that fold more (spaces,
/// telephone numbers) are covered by the callers' fallback to a search of
/// the value itself.
pub(crate) fn fold(value: &str) -> String {
    value.to_lowercase()
}

/// Values of uniqueness-checked attributes known to be taken: found by an
/// earlier `is_taken`/`taken` or written by a `create` of this target. A
/// common name is asked for again and again during a first sync
/// (SelectUniqueValue tries its candidates in order); each hit saves a
/// search. Only "taken" is remembered: a value freed behind our back is at
/// worst passed over for a later candidate, never handed out twice.
#[derive(Default)]
pub(crate) struct TakenCache {
    /// Folded names of the attributes uniqueness was asked about.
    attributes: HashSet<String>,
    /// (attribute, value), both folded.
    values: HashSet<(String, String)>,
}

impl TakenCache {
    /// Bounds the memory of a very large sync; clearing only costs searches.
    const MAX_VALUES: usize = 1_000_000;

    /// Uniqueness is checked on `attribute`: creates remember its values.
    pub(crate) fn watch(&mut self, attribute: &str) {
        self.attributes.insert(fold(attribute));
    }

    pub(crate) fn watches(&self, attribute: &str) -> bool {
        self.attributes.contains(&fold(attribute))
    }

    pub(crate) fn contains(&self, attribute: &str, value: &str) -> bool {
        self.values.contains(&(fold(attribute), fold(value)))
    }

    pub(crate) fn insert(&mut self, attribute: &str, value: &str) {
        if self.values.len() >= Self::MAX_VALUES {
            self.values.clear();
        }
        self.values.insert((fold(attribute), fold(value)));
    }
}

/// Manager DNs by manager match value (`employeeID` / `employeeNumber`),
/// learned from what the target creates, finds and resolves, and the
/// reports waiting for a manager that does not exist yet.
///
/// Both live under one lock so that "the manager was just created" and
/// "this report waits for that manager" cannot pass each other: a report
/// created concurrently with its manager either finds the manager's DN
/// here ([`Managers::wait_for`] returns it) or is registered before the
/// manager's create takes its waiting reports ([`Managers::created`]).
///
/// The DN cache is bounded in size and age: entries older than
/// [`Managers::TTL`] are not used (a manager moved or deleted by someone
/// else is found again by a search), and a full cache is cleared. Moves,
/// renames and deletes through this target invalidate at once.
#[derive(Default)]
pub(crate) struct Managers {
    /// Folded match value -> (DN, when learned).
    dns: HashMap<String, (String, Instant)>,
    /// Folded match value -> ids of reports waiting for it.
    pending: HashMap<String, HashSet<String>>,
    /// Report id -> the folded match value it waits for (one at a time).
    waits_on: HashMap<String, String>,
}

impl Managers {
    pub(crate) const MAX_DNS: usize = 200_000;
    pub(crate) const TTL: Duration = Duration::from_secs(600);

    /// The DN of the object with this match value, if known and fresh.
    pub(crate) fn dn(&self, value: &str) -> Option<String> {
        self.dns
            .get(&fold(value))
            .filter(|(_, at)| at.elapsed() < Self::TTL)
            .map(|(dn, _)| dn.clone())
    }

    /// Remember that `dn` holds match value `value`.
    pub(crate) fn learn(&mut self, value: &str, dn: &str) {
        if self.dns.len() >= Self::MAX_DNS {
            self.dns.clear();
        }
        self.dns.insert(fold(value), (dn.to_owned(), Instant::now()));
    }

    /// Several objects hold `value`: a lookup must search (and report the
    /// ambiguity), not pick one.
    pub(crate) fn forget_value(&mut self, value: &str) {
        self.dns.remove(&fold(value));
    }

    /// `dn` was moved, renamed or deleted: nothing points at it any more.
    pub(crate) fn forget_dn(&mut self, dn: &str) {
        let lower = dn.to_lowercase();
        let parsed = crate::dn::Dn::parse(dn).ok();
        self.dns.retain(|_, (d, _)| {
            if d.to_lowercase() == lower {
                return false;
            }
            // The same DN spelt differently (escapes, spaces).
            !matches!((&parsed, crate::dn::Dn::parse(d)), (Some(p), Ok(q)) if *p == q)
        });
    }

    /// An object holding `value` now exists at `dn` (created, or its match
    /// value set): remember it and take the reports waiting for it.
    pub(crate) fn created(&mut self, value: &str, dn: &str) -> HashSet<String> {
        self.learn(value, dn);
        self.take_waiting(value)
    }

    /// Report `report` wants the manager with match value `value`, which a
    /// lookup did not find: the manager's DN if it is known by now (created
    /// meanwhile), else the report is registered as waiting.
    pub(crate) fn wait_for(&mut self, value: &str, report: &str) -> Option<String> {
        self.forget_report(report);
        if let Some(dn) = self.dn(value) {
            return Some(dn);
        }
        self.keep_waiting(value, report);
        None
    }

    /// Register `report` as waiting without looking (a failed fix-up).
    pub(crate) fn keep_waiting(&mut self, value: &str, report: &str) {
        self.forget_report(report);
        let key = fold(value);
        self.pending.entry(key.clone()).or_default().insert(report.to_owned());
        self.waits_on.insert(report.to_owned(), key);
    }

    /// The reports waiting for `value`, taken out.
    pub(crate) fn take_waiting(&mut self, value: &str) -> HashSet<String> {
        let ids = self.pending.remove(&fold(value)).unwrap_or_default();
        for id in &ids {
            self.waits_on.remove(id);
        }
        ids
    }

    /// `report` no longer waits (its manager was set, cleared or it is gone).
    pub(crate) fn forget_report(&mut self, report: &str) {
        let Some(key) = self.waits_on.remove(report) else { return };
        if let Some(ids) = self.pending.get_mut(&key) {
            ids.remove(report);
            if ids.is_empty() {
                self.pending.remove(&key);
            }
        }
    }

    /// `(match value, report id)` of every waiting report, sorted.
    pub(crate) fn waiting(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = self
            .pending
            .iter()
            .flat_map(|(k, ids)| ids.iter().map(move |i| (k.clone(), i.clone())))
            .collect();
        out.sort();
        out
    }
}
