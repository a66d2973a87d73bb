//! Unique values: the page's `SelectUniqueValue` candidates checked with
//! one `taken` per attribute before mapping, and the answers the mapping
//! then gets, with the picks of earlier workers (of the page, and of pages
//! whose writes are still in flight) counting as taken.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet};

use hrsync_expr::{EvalContext, SplitMix64, Uniqueness};
use hrsync_mapping::Phase;
use hrsync_store::Store;
use hrsync_target::Target;

use super::Engine;
use super::decide::Slot;

/// Uniqueness answers for one page and the values its workers picked so
/// far. Keys are lower case: a case variant of a taken or picked value
/// counts as taken, as Active Directory compares them.
#[derive(Default)]
pub(super) struct PageUnique {
    /// Attribute -> candidate -> taken in the target.
    asked: HashMap<String, HashMap<String, bool>>,
    /// Attribute -> values picked by earlier workers of the page.
    pub picked: RefCell<HashMap<String, HashSet<String>>>,
    /// Attribute -> values picked by the pages whose writes were still in
    /// flight when this page was asked about (the answers may predate them).
    carried: HashMap<String, HashSet<String>>,
}

/// The candidate lister: answers "taken" to every candidate so that
/// `SelectUniqueValue` names them all.
#[derive(Default)]
struct Recorder(RefCell<Vec<String>>);

impl Uniqueness for Recorder {
    fn is_taken(&self, candidate: &str) -> Result<bool, String> {
        self.0.borrow_mut().push(candidate.to_owned());
        Ok(true)
    }
}

/// Uniqueness answered by the target, for a candidate the page's check did
/// not list (one drawn with `RandomString`, say). Expression evaluation is
/// synchronous; the target is async, so the question is asked on the
/// current runtime without blocking its other tasks.
pub(super) struct TargetUniqueness<'a> {
    pub target: &'a dyn Target,
    pub attribute: &'a str,
}

impl Uniqueness for TargetUniqueness<'_> {
    fn is_taken(&self, candidate: &str) -> Result<bool, String> {
        let handle = tokio::runtime::Handle::try_current().map_err(|e| e.to_string())?;
        if handle.runtime_flavor() != tokio::runtime::RuntimeFlavor::MultiThread {
            return Err(
                "SelectUniqueValue needs the multi-threaded tokio runtime to ask the target".into(),
            );
        }
        tokio::task::block_in_place(|| {
            handle.block_on(self.target.is_taken(self.attribute, candidate, None))
        })
        .map_err(|e| e.to_string())
    }
}

/// The mapping's uniqueness: the picks of the page and of the pages in
/// flight, then the page's answers, then (a candidate the page's check did
/// not see) the target itself. A candidate answered "free" is picked:
/// `SelectUniqueValue` returns the first free candidate.
pub(super) struct PageUniqueness<'a> {
    pub page: &'a PageUnique,
    pub attribute: &'a str,
    /// The worker's own current value (lower case), never taken for itself.
    pub own: Option<String>,
    pub fallback: TargetUniqueness<'a>,
}

impl Uniqueness for PageUniqueness<'_> {
    fn is_taken(&self, candidate: &str) -> Result<bool, String> {
        let key = candidate.to_lowercase();
        if self.own.as_deref() == Some(key.as_str()) {
            return Ok(false);
        }
        let picked = |p: &HashMap<String, HashSet<String>>| {
            p.get(self.attribute).is_some_and(|p| p.contains(&key))
        };
        if picked(&self.page.picked.borrow()) || picked(&self.page.carried) {
            return Ok(true);
        }
        let taken = match self.page.asked.get(self.attribute).and_then(|a| a.get(&key)) {
            Some(t) => *t,
            None => self.fallback.is_taken(candidate)?,
        };
        if !taken {
            self.page.picked.borrow_mut().entry(self.attribute.to_owned()).or_default().insert(key);
        }
        Ok(taken)
    }
}

impl<S: Store, T: Target + 'static> Engine<S, T> {
    /// The `SelectUniqueValue` candidates every worker of the page may ask
    /// about, checked with one `taken` per attribute. The candidates are
    /// found by evaluating those mappings once with every candidate
    /// answered "taken" (so all are listed). A target that cannot answer
    /// leaves its attribute unasked: mapping then asks per candidate, and a
    /// failure there escrows only the worker concerned.
    pub(super) async fn page_candidates(
        &self,
        slots: &[Slot],
        carried: HashMap<String, HashSet<String>>,
    ) -> PageUnique {
        let mut wanted: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        let mut scratch = SplitMix64(0);
        for slot in slots {
            let Slot::Ready(r) = slot else { continue };
            if r.error.is_some() || !r.in_scope {
                continue;
            }
            let phase = r.phase();
            for m in self.flow.unique_mappings() {
                if phase == Phase::Update && m.config.apply == hrsync_mapping::Apply::OnCreate {
                    continue;
                }
                let Some(e) = m.expr() else { continue };
                let recorder = Recorder::default();
                let mut ctx = EvalContext::new(&*self.clock, &mut scratch, Some(&recorder));
                let _ = hrsync_expr::eval(e, &r.source, &mut ctx);
                wanted.entry(m.config.target.as_str()).or_default().extend(recorder.0.into_inner());
            }
        }
        let mut page = PageUnique { carried, ..PageUnique::default() };
        for (attribute, mut candidates) in wanted {
            candidates.sort_unstable();
            candidates.dedup();
            match self.target.taken(attribute, &candidates).await {
                Ok(taken) => {
                    let answers = page.asked.entry(attribute.to_owned()).or_default();
                    for c in candidates {
                        let t = taken.contains(&c);
                        *answers.entry(c.to_lowercase()).or_default() |= t;
                    }
                }
                // Out of reach: the page's workers are left as they are.
                Err(e) if self.note_down(&e) => {}
                Err(e) => {
                    tracing::warn!(message = "Could not check a page's unique-value candidates; checking per worker.", attribute, error = %e)
                }
            }
        }
        page
    }
}
