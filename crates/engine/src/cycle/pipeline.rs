//! The page pipeline: a page's workers are matched, checked for unique
//! values and decided, and their creates and updates sent at once, at most
//! [`Settings::concurrency`](super::Settings::concurrency) in flight across
//! pages; a page is flushed and committed once all its writes are back and
//! every older page is committed.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::Arc;

use futures_util::FutureExt;
use futures_util::stream::{FuturesUnordered, StreamExt};
use hrsync_store::{
    AccountStatus, Change, CycleKind, Join, LogStatus, Outcome as StoreOutcome, Store,
};
use hrsync_target::{AttributeUpdate, Target, TargetError};
use jiff::Timestamp;
use serde_json::Value;

use super::decide::{Ready, Slot};
use super::import::{Imported, Prepared};
use super::unique::PageUnique;
use super::{CrashHook, Cycle, Engine, EngineError, step};
use crate::Action;
use crate::outcome::{Decision, WorkerError};
use crate::plan::Plan;
use crate::source::Read;

/// A write that came back: its page (sequence number), its place in the
/// page, the worker and the outcome.
struct Written {
    page: u64,
    index: usize,
    worker: Box<Ready>,
    result: Result<Decision, WorkerError>,
}

type WriteFuture = std::pin::Pin<Box<dyn std::future::Future<Output = Written> + Send>>;

/// Pages not committed yet, oldest first, and their writes in flight. A
/// page is committed once all its writes are back and every older page is
/// committed, so the store never records a write that has not happened and
/// a crash loses at most uncommitted pages (whose writes the next cycle
/// finds by the matching attributes).
#[derive(Default)]
pub(super) struct Pipeline {
    pub pages: VecDeque<InFlight>,
    /// The sequence number of `pages[0]`.
    first: u64,
    writes: FuturesUnordered<WriteFuture>,
    /// Every worker read by the cycle's main read (not the retries).
    pub seen: HashSet<String>,
}

/// A page in the pipeline, and what a later page must not assume before
/// its writes are back.
pub(super) struct InFlight {
    /// Page order; `None` while the worker's write is out.
    slots: Vec<Option<Slot>>,
    outstanding: usize,
    pub person_ids: HashSet<String>,
    /// Attribute -> `SelectUniqueValue` values its workers picked (lower case).
    picked: HashMap<String, HashSet<String>>,
    /// (attribute, value) in lower case: matching values its writes set or change.
    pub matching: HashSet<(String, String)>,
}

impl Pipeline {
    fn land(&mut self, page: u64, i: usize, slot: Slot) {
        let Some(p) = page.checked_sub(self.first).and_then(|k| self.pages.get_mut(k as usize))
        else {
            return;
        };
        if let Some(place) = p.slots.get_mut(i) {
            *place = Some(slot);
            p.outstanding = p.outstanding.saturating_sub(1);
        }
    }

    /// The oldest page, when all its writes are back.
    fn pop_landed(&mut self) -> Option<InFlight> {
        if self.pages.front()?.outstanding > 0 {
            return None;
        }
        self.first += 1;
        self.pages.pop_front()
    }

    /// The values picked by the pages not committed yet: the next page's
    /// uniqueness answers may predate their writes.
    fn picked(&self) -> HashMap<String, HashSet<String>> {
        let mut out: HashMap<String, HashSet<String>> = HashMap::new();
        for p in &self.pages {
            for (attribute, values) in &p.picked {
                out.entry(attribute.clone()).or_default().extend(values.iter().cloned());
            }
        }
        out
    }
}

impl<S: Store, T: Target + 'static> Engine<S, T> {
    /// Put one page of records through its steps; its outcomes are
    /// committed (in one transaction) once all its writes are back. The
    /// target is asked once per page, not once per worker: the pure import
    /// (done on the read-ahead task) and what needs the store
    /// ([`Engine::prepare`]); matching, one `find_many` per matching
    /// attribute; the page's `SelectUniqueValue` candidates, one `taken`
    /// per attribute; mapping and planning in page order (a value picked
    /// by an earlier worker of the page, or of a page whose writes are
    /// still in flight, counts as taken, so the picks are exactly those of
    /// one-worker-at-a-time processing); the creates and updates, sent as
    /// they are decided; one flush and one store commit per page.
    pub(super) async fn feed(
        &mut self,
        c: &mut Cycle,
        records: Vec<Imported>,
        prehire_view: bool,
    ) -> Result<(), EngineError> {
        self.stop_if_down()?;
        // A worker read again, or a matching value a write in flight sets or
        // changes, must see those writes: the earlier pages land first.
        if self.depends_on_writes(&c.pipe, &records) {
            self.commit_landed(c, true).await?;
        }
        self.crash_point("page-read");
        // A record whose person or matching value an earlier record of the
        // page has waits for that one's writes: it goes through as a page
        // of its own right after this one (two creates for one person
        // otherwise).
        let (records, collided) = self.split_collisions(records);
        let ids: Vec<&str> = records.iter().filter_map(|r| r.person_id.as_deref().ok()).collect();
        let mut states = self.store.load(&ids)?;
        let mut slots = Vec::with_capacity(records.len());
        let mut person_ids = HashSet::with_capacity(records.len());
        let mut later: BTreeMap<jiff::civil::Date, Vec<String>> = BTreeMap::new();
        for record in records {
            // A pre-hire's second read is the same worker again.
            if !prehire_view {
                c.report.workers += 1;
            }
            let person_id = match &record.person_id {
                Ok(id) => id.clone(),
                Err(why) => {
                    tracing::warn!(message = "A record cannot be processed; the watermark stays where it is.", %why);
                    c.unreadable.push(why.clone());
                    // Its outcome in the provisioning log too (every record
                    // read has one), under no person id: it has no usable
                    // one; the error names the value.
                    let log = super::decide::log_entry(
                        c.now,
                        Action::Failed,
                        LogStatus::Failure,
                        None,
                        vec![step("import", LogStatus::Failure, why.clone())],
                        vec![],
                        Some(why.clone()),
                    );
                    slots.push(Slot::Done(
                        Box::new(StoreOutcome {
                            person_id: String::new(),
                            join: Change::Keep,
                            escrow: Change::Keep,
                            wakeups: Change::Keep,
                            log: Some(log),
                        }),
                        Some(Action::Failed),
                    ));
                    continue;
                }
            };
            let state = states.remove(&person_id).unwrap_or_default();
            match self.prepare(c, record, person_id.clone(), state, prehire_view) {
                Prepared::Slot(s) => {
                    person_ids.insert(person_id);
                    slots.push(s);
                }
                // Read again below, as of the start date: not part of this page.
                Prepared::Requery(start, id) => later.entry(start).or_default().push(id),
            }
        }
        let carried = c.pipe.picked();
        // A full or on-demand cycle checks that joined objects still exist
        // (an incremental one trusts the join: it reads only changes).
        let verify = matches!(c.report.kind, CycleKind::Full | CycleKind::OnDemand);
        let this = &*self;
        let unique = this
            .alongside(&mut c.pipe, c.now, async {
                if verify {
                    this.verify_joins(&mut slots).await;
                }
                this.match_page(&mut slots).await;
                this.page_candidates(&slots, carried).await
            })
            .await;
        self.decide_and_write(c, slots, person_ids, unique).await;
        self.commit_landed(c, false).await?;
        self.stop_if_down()?;
        if !collided.is_empty() {
            Box::pin(self.feed(c, collided, prehire_view)).await?;
        }
        // Workers who start later: their values as of the start date.
        for (date, persons) in later {
            self.read(c, Read::PersonsAsOf { persons, date }, false).await?;
        }
        Ok(())
    }

    /// The page's records in order, less those whose person id or a
    /// matching value an earlier record of the page has (compared trimmed
    /// and case-insensitively, as directories compare them), which come
    /// second.
    fn split_collisions(&self, records: Vec<Imported>) -> (Vec<Imported>, Vec<Imported>) {
        let mut seen: HashSet<(usize, String)> = HashSet::with_capacity(records.len() * 2);
        let (mut first, mut second) = (Vec::with_capacity(records.len()), Vec::new());
        for r in records {
            let mut keys: Vec<(usize, String)> = Vec::with_capacity(1 + r.matching.len());
            if let Ok(id) = &r.person_id {
                keys.push((0, id.trim().to_lowercase()));
            }
            for (k, v) in r.matching.iter().enumerate() {
                if let Ok(Some(v)) = v {
                    keys.push((k + 1, v.trim().to_lowercase()));
                }
            }
            if keys.iter().any(|k| seen.contains(k)) {
                second.push(r);
            } else {
                seen.extend(keys);
                first.push(r);
            }
        }
        (first, second)
    }

    /// Run `work` while concluding the writes in flight as they come back.
    async fn alongside<F: std::future::Future>(
        &self,
        pipe: &mut Pipeline,
        now: Timestamp,
        work: F,
    ) -> F::Output {
        let mut work = std::pin::pin!(work);
        std::future::poll_fn(|cx| {
            while let std::task::Poll::Ready(Some(w)) = pipe.writes.poll_next_unpin(cx) {
                self.land(pipe, w, now);
            }
            work.as_mut().poll(cx)
        })
        .await
    }

    /// Conclude a write that came back into its page.
    fn land(&self, pipe: &mut Pipeline, w: Written, now: Timestamp) {
        let result = w.result.map(|d| self.redacted(d));
        let slot = self.conclude(*w.worker, result, now);
        pipe.land(w.page, w.index, slot);
    }

    /// What the store and the log may keep of a decision: secrets replaced
    /// by the marker that they were set.
    fn redacted(&self, mut d: Decision) -> Decision {
        if let Some(join) = &mut d.join {
            for (name, value) in join.exported.iter_mut() {
                *value = self.redact(name, std::mem::take(value));
            }
        }
        for m in &mut d.modified {
            m.old = self.redact(&m.attribute, std::mem::take(&mut m.old));
            m.new = self.redact(&m.attribute, std::mem::take(&mut m.new));
        }
        d
    }

    /// Commit, in order, the pages at the head of the pipeline whose writes
    /// are all back; with `all`, wait for every write first.
    pub(super) async fn commit_landed(
        &mut self,
        c: &mut Cycle,
        all: bool,
    ) -> Result<(), EngineError> {
        if all {
            while let Some(w) = c.pipe.writes.next().await {
                self.land(&mut c.pipe, w, c.now);
            }
        }
        while let Some(page) = c.pipe.pop_landed() {
            let mut outcomes = Vec::with_capacity(page.slots.len());
            for slot in page.slots.into_iter().flatten() {
                if let Slot::Done(outcome, action) = slot {
                    if let Some(a) = action {
                        c.report.add(a);
                    }
                    outcomes.push(*outcome);
                }
            }
            self.record(c, outcomes).await?;
        }
        Ok(())
    }

    /// Decide each worker in page order and send its create or update at
    /// once, at most [`Settings::concurrency`](super::Settings::concurrency)
    /// in flight (across pages), so the target works while the next
    /// workers are mapped. The page joins the pipeline; its outcomes are
    /// concluded as its writes come back.
    async fn decide_and_write(
        &self,
        c: &mut Cycle,
        slots: Vec<Slot>,
        person_ids: HashSet<String>,
        unique: PageUnique,
    ) {
        let limit = self.settings.concurrency.max(1);
        let seq = c.pipe.first + c.pipe.pages.len() as u64;
        c.pipe.pages.push_back(InFlight {
            slots: Vec::with_capacity(slots.len()),
            outstanding: 0,
            person_ids,
            picked: HashMap::new(),
            matching: HashSet::new(),
        });
        // Pages leave the pipeline only in `commit_landed`: this one stays last.
        let last = c.pipe.pages.len() - 1;
        let matching_names: Arc<[String]> =
            self.flow.mapping.matching().iter().map(|m| m.config.target.clone()).collect();
        for (i, slot) in slots.into_iter().enumerate() {
            let slot = match slot {
                // Out of reach (said by a write of this page): nothing
                // more is sent, the rest of the page is left as it is.
                Slot::Ready(r) if self.target_down().is_some() => {
                    super::down::untouched(r.person_id)
                }
                Slot::Ready(r) => self.decide(c.mode, r, &unique, c.now, &mut c.held),
                other => other,
            };
            let Slot::Write(r, plan) = slot else {
                c.pipe.pages[last].slots.push(Some(slot));
                continue;
            };
            let matching = self.matching_values(&plan);
            let page = &mut c.pipe.pages[last];
            page.slots.push(None);
            page.outstanding += 1;
            page.matching.extend(matching);
            c.pipe.writes.push(Box::pin(write(
                Arc::clone(&self.target),
                self.crash.clone(),
                (seq, i),
                r,
                plan,
                Arc::clone(&matching_names),
                c.now,
            )));
            // One poll sends the request; completed writes are concluded.
            while let Some(Some(w)) = c.pipe.writes.next().now_or_never() {
                self.land(&mut c.pipe, w, c.now);
            }
            while c.pipe.writes.len() >= limit {
                if let Some(w) = c.pipe.writes.next().await {
                    self.land(&mut c.pipe, w, c.now);
                }
            }
        }
        c.pipe.pages[last].picked = unique.picked.into_inner();
    }

    /// Commit outcomes (apply mode) and keep their log entries for the report
    /// when detail is on.
    pub(super) async fn record(
        &mut self,
        c: &mut Cycle,
        mut outcomes: Vec<StoreOutcome>,
    ) -> Result<(), EngineError> {
        if c.detail {
            for o in &outcomes {
                if let Some(log) = &o.log {
                    c.report.details.push(hrsync_store::LogEntry {
                        person_id: o.person_id.clone(),
                        cycle_id: c.id,
                        ..log.clone()
                    });
                }
            }
        }
        if c.apply() {
            // The target's writes must be durable before the store says
            // they happened.
            self.target.flush().await?;
            forget_unapplied(&mut outcomes, self.target.unapplied());
            self.crash_point("before-commit");
            self.store.commit(c.id, &outcomes)?;
            self.crash_point("after-commit");
        }
        if let Some(p) = &self.progress {
            p(&c.report);
        }
        Ok(())
    }
}

/// A value the target accepted but has not applied (see
/// [`Target::unapplied`]) is recorded as not exported: the next cycle sees
/// it differ from the mapped value and sends it again.
fn forget_unapplied(outcomes: &mut [StoreOutcome], unapplied: Vec<(String, String)>) {
    if unapplied.is_empty() {
        return;
    }
    let mut by_object: HashMap<String, Vec<String>> = HashMap::new();
    for (id, attribute) in unapplied {
        by_object.entry(id.to_lowercase()).or_default().push(attribute);
    }
    for o in outcomes {
        let Change::Set(account) = &mut o.join else { continue };
        let Some(attributes) = by_object.get(&account.target_id.to_lowercase()) else { continue };
        for (name, value) in account.exported.iter_mut() {
            if attributes.iter().any(|a| a.eq_ignore_ascii_case(name)) {
                tracing::debug!(person = %o.person_id, attribute = %name, "not applied by the target yet; sent again next cycle");
                *value = Value::Null;
            }
        }
    }
}

/// Apply one create or update to the target. Owns what it needs: a write
/// may still be out when its page's engine call has returned.
async fn write<T: Target + ?Sized>(
    target: Arc<T>,
    crash: Option<CrashHook>,
    (page, index): (u64, usize),
    mut r: Box<Ready>,
    plan: Plan,
    matching: Arc<[String]>,
    now: Timestamp,
) -> Written {
    let crash_point = |name| {
        if let Some(f) = &crash {
            f(name);
        }
    };
    let result = async {
        let person_id = r.person_id.as_str();
        let mut exported = r.state.join.as_ref().map(|a| a.exported.clone()).unwrap_or_default();
        match plan {
            Plan::Create { attributes } => {
                let obj = match target.create(&attributes).await {
                    Ok(obj) => obj,
                    // The target holds the account already (a create lost in
                    // a crash, a race with another writer): join it if it is
                    // this worker's by the matching rules.
                    Err(TargetError::AlreadyExists { attribute, value, .. }) => {
                        let taken = Taken { attribute, value };
                        return join_existing(&*target, &matching, attributes, taken, &mut r, now)
                            .await;
                    }
                    Err(e) => return Err(e.into()),
                };
                crash_point("after-create");
                r.steps.push(step("export", LogStatus::Success, format!("created {}", obj.id)));
                let modified = attributes
                    .iter()
                    .map(|(k, v)| hrsync_store::AttributeChange {
                        attribute: k.clone(),
                        old: Value::Null,
                        new: v.clone(),
                    })
                    .collect();
                exported.extend(attributes);
                let join = Join {
                    person_id: person_id.to_owned(),
                    target_id: obj.id.clone(),
                    status: AccountStatus::Active,
                    exported,
                    created_at: now,
                    updated_at: now,
                };
                Ok(Decision {
                    action: Action::Create,
                    join: Some(join),
                    target_id: Some(obj.id),
                    modified,
                })
            }
            Plan::Update { target_id, changes, join } => {
                if !changes.is_empty() {
                    let updates = super::updates(&changes);
                    target.update(&target_id, &updates).await?;
                    crash_point("after-update");
                }
                r.steps.push(step(
                    "export",
                    LogStatus::Success,
                    format!(
                        "updated {} attributes{}",
                        changes.len(),
                        if join { ", joined" } else { "" }
                    ),
                ));
                if join && let Some(m) = &r.matched {
                    for (k, v) in &m.attributes {
                        exported.entry(k.clone()).or_insert_with(|| v.clone());
                    }
                }
                let written: Vec<(String, Value)> =
                    changes.iter().map(|c| (c.attribute.clone(), c.new.clone())).collect();
                let modified = changes
                    .into_iter()
                    .map(|c| {
                        exported.insert(c.attribute.clone(), c.new.clone());
                        hrsync_store::AttributeChange {
                            attribute: c.attribute,
                            old: c.old,
                            new: c.new,
                        }
                    })
                    .collect();
                let (created_at, mut status) = r
                    .state
                    .join
                    .as_ref()
                    .map_or((now, AccountStatus::Active), |a| (a.created_at, a.status));
                status = status_after(status, &written);
                let account = Join {
                    person_id: person_id.to_owned(),
                    target_id: target_id.clone(),
                    status,
                    exported,
                    created_at,
                    updated_at: now,
                };
                Ok(Decision {
                    action: Action::Update,
                    join: Some(account),
                    target_id: Some(target_id),
                    modified,
                })
            }
            // Only creates and updates are sent from a page; disables and
            // deletes are held for the guard.
            Plan::Disable { .. } | Plan::Delete { .. } | Plan::Skip { .. } => {
                Err(WorkerError::NoJoin)
            }
        }
    }
    .await;
    Written { page, index, worker: r, result }
}

/// What a create was refused for: `attribute = value` exists.
struct Taken {
    attribute: String,
    value: String,
}

/// A create the target refused because the account exists: the object
/// found by this worker's matching values is joined and brought up to date
/// (one object only: the matching rules decide, not the conflicting
/// attribute); otherwise the value is someone else's and the worker fails
/// with an error naming it.
async fn join_existing<T: Target + ?Sized>(
    target: &T,
    matching: &[String],
    attributes: BTreeMap<String, Value>,
    taken: Taken,
    r: &mut Ready,
    now: Timestamp,
) -> Result<Decision, WorkerError> {
    let Taken { attribute, value } = taken;
    for name in matching {
        let Some(mine) = attributes.get(name).and_then(Value::as_str) else { continue };
        let found = target.find(name, mine).await?;
        let [object] = found.as_slice() else { continue };
        let changes: Vec<AttributeUpdate> = attributes
            .iter()
            .filter(|(k, v)| !v.is_null() && object.attributes.get(*k) != Some(*v))
            .map(|(k, v)| AttributeUpdate { name: k.clone(), value: v.clone() })
            .collect();
        if !changes.is_empty() {
            target.update(&object.id, &changes).await?;
        }
        r.steps.push(step(
            "export",
            LogStatus::Success,
            format!(
                "the target answered that {attribute} = {value:?} exists; the account found by {name} = {mine:?} is this worker's: joined {} and updated {} attributes",
                object.id,
                changes.len()
            ),
        ));
        let modified = changes
            .iter()
            .map(|c| hrsync_store::AttributeChange {
                attribute: c.name.clone(),
                old: object.attributes.get(&c.name).cloned().unwrap_or(Value::Null),
                new: c.value.clone(),
            })
            .collect();
        let mut exported: serde_json::Map<String, Value> =
            object.attributes.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        exported.extend(attributes);
        let join = Join {
            person_id: r.person_id.clone(),
            target_id: object.id.clone(),
            status: if object.enabled == Some(false) {
                AccountStatus::Disabled
            } else {
                AccountStatus::Active
            },
            exported,
            created_at: now,
            updated_at: now,
        };
        return Ok(Decision {
            action: Action::Update,
            join: Some(join),
            target_id: Some(object.id.clone()),
            modified,
        });
    }
    Err(WorkerError::Target(TargetError::Rejected {
        operation: "create",
        message: format!(
            "{attribute} = {value:?} is already used by another account, which does not match this worker by {}: not joined; give this worker another value or correct the other account",
            matching.join(", ")
        ),
    }))
}

/// The account's status after an update wrote `written`: re-enabled (a
/// rehire) or disabled by a disabling attribute, else as it was.
fn status_after(mut status: AccountStatus, written: &[(String, Value)]) -> AccountStatus {
    for (attribute, value) in written {
        match hrsync_target::attr::disabling(attribute, value) {
            Some(true) => status = AccountStatus::Disabled,
            Some(false) if status == AccountStatus::Disabled => status = AccountStatus::Active,
            _ => {}
        }
    }
    status
}
