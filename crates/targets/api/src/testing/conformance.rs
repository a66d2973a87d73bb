//! The target conformance suite: the semantics the engine relies on,
//! checked against a real target. Every target runs it in its integration
//! tests against the real system (the embedded file, slapd, Samba AD):
//!
//! - `find_many` answers exactly the values as given: each case variant its
//!   own key, answered as `find` answers it; values without accounts absent;
//!   no other keys, no empty lists;
//! - `taken` follows the target's stated [`Comparison`] (a case variant of a
//!   taken value is taken exactly when the target compares
//!   case-insensitively), answers the candidates as given and agrees with
//!   `is_taken` and `find`; `is_taken` ignores the `except_id` account;
//! - `delete`, `update` and `disable` of an id that no longer exists fail
//!   with `NotFound`, and `get` answers `None`;
//! - after `flush`, another handle on the same directory sees the writes;
//! - `update` writes only the given attributes, and `null` removes one;
//! - `disable` and [`attr::ACCOUNT_DISABLED`] show in `get().enabled`;
//! - `unapplied` lists a reference the target could not apply yet (an LDAP
//!   manager not provisioned so far) and stops listing it once applied;
//!   targets that store references as written never list anything;
//! - a secret written on create is never handed back by `create` or `get`.
//!
//! The suite writes accounts whose names and values carry a random tag, so
//! it can run against a shared server, and deletes them at the end.

use std::collections::HashSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use serde_json::Value;

use super::sabotage::{Flaw, Sabotaged};
use crate::{AttributeUpdate, Attributes, Comparison, Target, TargetError, TargetObject, attr};

/// How a target treats [`attr::MANAGER`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Manager {
    /// Stored and read back as written; nothing is ever unapplied.
    AsWritten,
    /// A value that is not a reference (DN) is looked up as the matching
    /// attribute of another account; until that account exists the value is
    /// listed by `unapplied`, and once it is, `get` shows the manager's name.
    ResolvedByMatching,
}

/// What the suite needs to know about the target under test.
#[async_trait]
pub trait Fixture: Send + Sync {
    /// The handle the checks run on.
    async fn open(&self) -> Box<dyn Target>;
    /// A second handle on the same directory, opened while the first is
    /// still open, with its own connections and no caches: what another
    /// process would see. It is only read from.
    async fn open_another(&self) -> Box<dyn Target>;
    /// The attributes of a new account the target accepts: `name` (at most
    /// 16 ASCII letters, digits and `-`, unique within a run) for whatever
    /// names the account (cn, sAMAccountName), `value` in
    /// [`Fixture::matching_attribute`]. Single-valued text only.
    fn account(&self, name: &str, value: &str) -> Attributes;
    /// The attribute the lookups are checked on: single-valued text that
    /// [`Fixture::account`] sets (for [`Manager::ResolvedByMatching`], the
    /// one manager values are looked up by).
    fn matching_attribute(&self) -> &str;
    /// Two single-valued text attributes [`Fixture::account`] does not set.
    fn text_attributes(&self) -> [&str; 2];
    /// How the target treats [`attr::MANAGER`].
    fn manager(&self) -> Manager;
    /// A secret attribute the target accepts on create, with a value.
    fn secret(&self) -> Option<(&str, Value)> {
        None
    }
}

/// One failed check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub check: &'static str,
    pub message: String,
}

/// What [`run`] found.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub passed: Vec<&'static str>,
    pub failures: Vec<Failure>,
}

impl Report {
    /// Panic with every failure unless all checks passed.
    pub fn assert_ok(&self) {
        if self.failures.is_empty() {
            return;
        }
        let lines: Vec<String> =
            self.failures.iter().map(|f| format!("- {}: {}", f.check, f.message)).collect();
        panic!(
            "the target fails {} of {} conformance checks:\n{}",
            self.failures.len(),
            self.failures.len() + self.passed.len(),
            lines.join("\n")
        );
    }

    /// Whether `check` failed.
    pub fn failed(&self, check: &str) -> bool {
        self.failures.iter().any(|f| f.check == check)
    }
}

/// The checks, by name (as in [`Failure::check`]).
pub const CHECKS: [&str; 8] = [
    "find_many as given",
    "taken case rule",
    "missing id",
    "flush durability",
    "update only given",
    "disable",
    "unapplied",
    "secrets",
];

/// Run every check against the fixture's target.
pub async fn run(fixture: &dyn Fixture) -> Report {
    let target = fixture.open().await;
    let run = Run { target: target.as_ref(), fixture, tag: tag(), created: Mutex::new(Vec::new()) };
    let mut report = Report::default();
    let mut record = |check: &'static str, r: Result<(), String>| match r {
        Ok(()) => report.passed.push(check),
        Err(message) => report.failures.push(Failure { check, message }),
    };
    match run.population().await {
        Ok(pop) => {
            record(CHECKS[0], run.find_many_as_given(&pop).await);
            record(CHECKS[1], run.taken_case_rule(&pop).await);
        }
        Err(e) => {
            record(CHECKS[0], Err(e.clone()));
            record(CHECKS[1], Err(e));
        }
    }
    record(CHECKS[2], run.missing_id().await);
    record(CHECKS[3], run.flush_durability().await);
    record(CHECKS[4], run.update_only_given().await);
    record(CHECKS[5], run.disable().await);
    record(CHECKS[6], run.unapplied().await);
    record(CHECKS[7], run.secrets().await);
    if let Err(e) = run.clean_up().await {
        record("clean-up", Err(e));
    }
    report
}

/// The fixture's target with one [`Flaw`]; the other handle stays sound.
struct SabotagedFixture<'a> {
    inner: &'a dyn Fixture,
    flaw: Flaw,
}

#[async_trait]
impl Fixture for SabotagedFixture<'_> {
    async fn open(&self) -> Box<dyn Target> {
        Box::new(Sabotaged::new(self.inner.open().await, self.flaw))
    }
    async fn open_another(&self) -> Box<dyn Target> {
        self.inner.open_another().await
    }
    fn account(&self, name: &str, value: &str) -> Attributes {
        self.inner.account(name, value)
    }
    fn matching_attribute(&self) -> &str {
        self.inner.matching_attribute()
    }
    fn text_attributes(&self) -> [&str; 2] {
        self.inner.text_attributes()
    }
    fn manager(&self) -> Manager {
        self.inner.manager()
    }
    fn secret(&self) -> Option<(&str, Value)> {
        self.inner.secret()
    }
}

/// Run the suite once per [`Flaw`] against the fixture's real target with
/// that flaw added, and panic unless each run fails the check meant for the
/// flaw: proof that every check looks at what the target does, on this
/// target. A flaw whose check needs something the fixture does not offer
/// (a secret attribute) is skipped only when listed in `not_applicable`,
/// with the reason; every other flaw must be caught.
pub async fn assert_each_check_can_fail(fixture: &dyn Fixture, not_applicable: &[(Flaw, &str)]) {
    let mut missed = Vec::new();
    let mut covered = HashSet::new();
    for flaw in Flaw::ALL {
        if not_applicable.iter().any(|(f, _)| *f == flaw) {
            continue;
        }
        let report = run(&SabotagedFixture { inner: fixture, flaw }).await;
        if report.failed(flaw.check()) {
            covered.insert(flaw.check());
        } else {
            missed.push(format!("{flaw:?} passes `{}`: {report:?}", flaw.check()));
        }
    }
    assert!(missed.is_empty(), "the suite misses deliberate flaws:\n{}", missed.join("\n"));
    let uncovered: Vec<&&str> = CHECKS.iter().filter(|c| !covered.contains(*c)).collect();
    let reasons: Vec<String> =
        not_applicable.iter().map(|(f, why)| format!("{f:?} ({}): {why}", f.check())).collect();
    assert!(
        uncovered.iter().all(|c| not_applicable.iter().any(|(f, _)| f.check() == **c)),
        "checks no flaw was shown to fail: {uncovered:?} (not applicable: {reasons:?})"
    );
}

/// A short random tag, so that runs against one server do not collide.
fn tag() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mixed =
        nanos ^ std::process::id().rotate_left(16) ^ n.wrapping_mul(0x9e37_79b9).rotate_left(7);
    format!("{mixed:08x}")
}

/// Two accounts the lookup checks share.
struct Population {
    a: TargetObject,
    a_value: String,
    b: TargetObject,
    b_value: String,
}

struct Run<'a> {
    target: &'a dyn Target,
    fixture: &'a dyn Fixture,
    tag: String,
    created: Mutex<Vec<String>>,
}

fn set(name: &str, value: Value) -> AttributeUpdate {
    AttributeUpdate { name: name.to_owned(), value }
}

fn text(value: &str) -> Value {
    Value::String(value.to_owned())
}

/// An attribute of an object, its name compared case-insensitively (LDAP
/// servers spell names their own way).
fn value_of<'o>(object: &'o TargetObject, name: &str) -> Option<&'o Value> {
    object.attributes.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v)
}

fn ids(objects: &[TargetObject]) -> Vec<&str> {
    let mut out: Vec<&str> = objects.iter().map(|o| o.id.as_str()).collect();
    out.sort_unstable();
    out
}

fn op(what: &str) -> impl Fn(TargetError) -> String + '_ {
    move |e| format!("{what}: {e}")
}

macro_rules! ensure {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(format!($($msg)+));
        }
    };
}

impl Run<'_> {
    fn value(&self, word: &str) -> String {
        format!("Cf{}{word}", self.tag)
    }

    fn name(&self, suffix: &str) -> String {
        format!("cf{}{suffix}", self.tag)
    }

    fn ci(&self) -> bool {
        self.target.comparison() == Comparison::CaseInsensitive
    }

    /// Create an account (remembered for the clean-up).
    async fn create(
        &self,
        name: &str,
        value: &str,
        extra: &[(&str, Value)],
    ) -> Result<TargetObject, String> {
        let mut a = self.fixture.account(&self.name(name), value);
        for (k, v) in extra {
            a.insert((*k).to_owned(), v.clone());
        }
        let o = self.target.create(&a).await.map_err(op("create"))?;
        self.created.lock().unwrap_or_else(|p| p.into_inner()).push(o.id.clone());
        Ok(o)
    }

    async fn get(&self, id: &str) -> Result<TargetObject, String> {
        self.target
            .get(id)
            .await
            .map_err(op("get"))?
            .ok_or_else(|| format!("get({id:?}): no object"))
    }

    async fn population(&self) -> Result<Population, String> {
        let a_value = self.value("Ana");
        let b_value = self.value("Bo");
        let a = self.create("a", &a_value, &[]).await?;
        let b = self.create("b", &b_value, &[]).await?;
        Ok(Population { a, a_value, b, b_value })
    }

    /// The ids `value` must find: by the stated comparison.
    fn expected<'p>(&self, pop: &'p Population, value: &str) -> Vec<&'p str> {
        let matches = |held: &str| value == held || (self.ci() && value.eq_ignore_ascii_case(held));
        let mut out = Vec::new();
        if matches(&pop.a_value) {
            out.push(pop.a.id.as_str());
        }
        if matches(&pop.b_value) {
            out.push(pop.b.id.as_str());
        }
        out.sort_unstable();
        out
    }

    async fn find_many_as_given(&self, pop: &Population) -> Result<(), String> {
        let m = self.fixture.matching_attribute();
        let rule = self.target.comparison();
        let asked = vec![
            pop.a_value.clone(),
            pop.a_value.to_uppercase(),
            pop.a_value.to_lowercase(),
            self.value("Nobody"),
            pop.b_value.clone(),
            pop.a_value.clone(),
        ];
        let found = self.target.find_many(m, &asked).await.map_err(op("find_many"))?;
        for v in &asked {
            let want = self.expected(pop, v);
            let one = self.target.find(m, v).await.map_err(op("find"))?;
            ensure!(
                ids(&one) == want,
                "find({m}, {v:?}) gave {:?}, expected {want:?} (the target compares {rule:?})",
                ids(&one)
            );
            match found.get(v) {
                None => ensure!(
                    want.is_empty(),
                    "find_many({m}) has no entry for {v:?}, expected {want:?} (the target compares {rule:?})"
                ),
                Some(objects) => {
                    ensure!(
                        !want.is_empty(),
                        "find_many({m}) has an entry for {v:?}, which no account holds (the target compares {rule:?})"
                    );
                    ensure!(
                        ids(objects) == want,
                        "find_many({m})[{v:?}] gave {:?}, expected {want:?}",
                        ids(objects)
                    );
                }
            }
        }
        let extra: Vec<&String> = found.keys().filter(|k| !asked.contains(k)).collect();
        ensure!(
            extra.is_empty(),
            "find_many({m}) answers values it was not asked, {extra:?}: keys must be the values as given"
        );
        ensure!(
            found.values().all(|v| !v.is_empty()),
            "find_many({m}) maps a value to an empty list: values without accounts must be absent"
        );
        let empty = self.target.find_many(m, &[]).await.map_err(op("find_many of nothing"))?;
        ensure!(empty.is_empty(), "find_many({m}, []) is not empty: {empty:?}");
        Ok(())
    }

    async fn taken_case_rule(&self, pop: &Population) -> Result<(), String> {
        let m = self.fixture.matching_attribute();
        let rule = self.target.comparison();
        let candidates = vec![
            pop.a_value.clone(),
            pop.a_value.to_uppercase(),
            self.value("Free"),
            pop.b_value.to_lowercase(),
        ];
        let taken = self.target.taken(m, &candidates).await.map_err(op("taken"))?;
        let foreign: Vec<&String> = taken.iter().filter(|t| !candidates.contains(t)).collect();
        ensure!(
            foreign.is_empty(),
            "taken({m}) answers {foreign:?}, which are not among the candidates as given"
        );
        for c in &candidates {
            let want = !self.expected(pop, c).is_empty();
            ensure!(
                taken.contains(c) == want,
                "taken({m}): {c:?} is {}taken, expected {}taken (the target compares {rule:?})",
                if taken.contains(c) { "" } else { "not " },
                if want { "" } else { "not " }
            );
            let one = self.target.is_taken(m, c, None).await.map_err(op("is_taken"))?;
            ensure!(one == want, "is_taken({m}, {c:?}) = {one}, but taken says {want}");
            let found = !self.target.find(m, c).await.map_err(op("find"))?.is_empty();
            ensure!(
                found == want,
                "find({m}, {c:?}) finds {}, but taken says {want}",
                if found { "an account" } else { "nothing" }
            );
        }
        let own =
            self.target.is_taken(m, &pop.a_value, Some(&pop.a.id)).await.map_err(op("is_taken"))?;
        ensure!(
            !own,
            "is_taken({m}, {:?}, except the account holding it) = true: an account's own value is not taken for it",
            pop.a_value
        );
        let other =
            self.target.is_taken(m, &pop.a_value, Some(&pop.b.id)).await.map_err(op("is_taken"))?;
        ensure!(other, "is_taken({m}, {:?}, except another account) = false", pop.a_value);
        let none = self.target.taken(m, &[]).await.map_err(op("taken of nothing"))?;
        ensure!(none.is_empty(), "taken({m}, []) is not empty: {none:?}");
        Ok(())
    }

    async fn missing_id(&self) -> Result<(), String> {
        let m = self.fixture.matching_attribute();
        let value = self.value("Cy");
        let c = self.create("c", &value, &[]).await?;
        self.target.delete(&c.id).await.map_err(op("delete"))?;
        let gone = self.target.get(&c.id).await.map_err(op("get after delete"))?;
        ensure!(gone.is_none(), "get({:?}) after delete still returns the object", c.id);
        let found = self.target.find(m, &value).await.map_err(op("find after delete"))?;
        ensure!(
            found.is_empty(),
            "find({m}, {value:?}) after delete still finds {:?}",
            ids(&found)
        );
        let [t1, _] = self.fixture.text_attributes();
        let results = [
            ("delete", self.target.delete(&c.id).await),
            ("update", self.target.update(&c.id, &[set(t1, text("x"))]).await),
            ("disable", self.target.disable(&c.id).await),
        ];
        for (what, r) in results {
            ensure!(
                matches!(r, Err(TargetError::NotFound { .. })),
                "{what} of a deleted id gave {r:?}, expected NotFound"
            );
        }
        Ok(())
    }

    async fn flush_durability(&self) -> Result<(), String> {
        let m = self.fixture.matching_attribute();
        let [t1, _] = self.fixture.text_attributes();
        let value = self.value("Dee");
        let d = self.create("d", &value, &[(t1, text("before"))]).await?;
        self.target.update(&d.id, &[set(t1, text("after"))]).await.map_err(op("update"))?;
        self.target.flush().await.map_err(op("flush"))?;
        let other = self.fixture.open_another().await;
        let seen = other.get(&d.id).await.map_err(op("get on another handle"))?;
        let Some(seen) = seen else {
            return Err(format!(
                "after flush, another handle does not see the created object {:?}",
                d.id
            ));
        };
        ensure!(
            value_of(&seen, t1) == Some(&text("after")),
            "after flush, another handle sees {t1} = {:?}, expected \"after\"",
            value_of(&seen, t1)
        );
        let found = other.find(m, &value).await.map_err(op("find on another handle"))?;
        ensure!(
            ids(&found) == [d.id.as_str()],
            "after flush, another handle's find({m}, {value:?}) gives {:?}",
            ids(&found)
        );
        Ok(())
    }

    async fn update_only_given(&self) -> Result<(), String> {
        let m = self.fixture.matching_attribute();
        let [t1, t2] = self.fixture.text_attributes();
        let value = self.value("Eve");
        let e = self.create("e", &value, &[(t1, text("one")), (t2, text("two"))]).await?;
        let given = self.fixture.account(&self.name("e"), &value);
        self.target.update(&e.id, &[set(t1, text("uno"))]).await.map_err(op("update"))?;
        let after = self.get(&e.id).await?;
        ensure!(
            value_of(&after, t1) == Some(&text("uno")),
            "after update, {t1} = {:?}, expected \"uno\"",
            value_of(&after, t1)
        );
        ensure!(
            value_of(&after, t2) == Some(&text("two")),
            "update of {t1} changed {t2} to {:?}",
            value_of(&after, t2)
        );
        for (k, v) in &given {
            if attr::is_secret(k)
                || self.target.secret_attributes().iter().any(|s| s.eq_ignore_ascii_case(k))
            {
                continue;
            }
            ensure!(
                value_of(&after, k) == Some(v),
                "update of {t1} changed {k} from {v} to {:?}",
                value_of(&after, k)
            );
        }
        ensure!(value_of(&after, m) == Some(&text(&value)), "update of {t1} changed {m}");
        self.target
            .update(&e.id, &[set(t2, Value::Null)])
            .await
            .map_err(op("update removing an attribute"))?;
        let after = self.get(&e.id).await?;
        ensure!(
            value_of(&after, t2).is_none(),
            "{t2} = null did not remove it: {:?}",
            value_of(&after, t2)
        );
        ensure!(
            value_of(&after, t1) == Some(&text("uno")),
            "removing {t2} changed {t1} to {:?}",
            value_of(&after, t1)
        );
        Ok(())
    }

    async fn disable(&self) -> Result<(), String> {
        let g = self.create("g", &self.value("Gus"), &[]).await?;
        let status = |o: &TargetObject| -> Result<Option<bool>, String> {
            // Where the target reports the convention too, it must agree.
            if let (Some(v), Some(enabled)) = (value_of(o, attr::ACCOUNT_DISABLED), o.enabled) {
                ensure!(
                    attr::flag(v) == Some(!enabled),
                    "{} = {v} but enabled = {enabled}",
                    attr::ACCOUNT_DISABLED
                );
            }
            Ok(o.enabled)
        };
        let new = status(&self.get(&g.id).await?)?;
        ensure!(new == Some(true), "a new account's get().enabled is {new:?}, expected Some(true)");
        self.target.disable(&g.id).await.map_err(op("disable"))?;
        let disabled = status(&self.get(&g.id).await?)?;
        ensure!(
            disabled == Some(false),
            "after disable, get().enabled is {disabled:?}, expected Some(false)"
        );
        for (flag, want) in [(false, true), (true, false)] {
            let change = [set(attr::ACCOUNT_DISABLED, attr::flag_value(flag))];
            self.target.update(&g.id, &change).await.map_err(op("update accountDisabled"))?;
            let got = status(&self.get(&g.id).await?)?;
            ensure!(
                got == Some(want),
                "after {} = {:?}, get().enabled is {got:?}, expected Some({want})",
                attr::ACCOUNT_DISABLED,
                attr::flag_value(flag)
            );
        }
        Ok(())
    }

    fn waiting(&self, id: &str) -> bool {
        self.target
            .unapplied()
            .iter()
            .any(|(o, a)| o.eq_ignore_ascii_case(id) && a.eq_ignore_ascii_case(attr::MANAGER))
    }

    async fn unapplied(&self) -> Result<(), String> {
        let boss_value = self.value("Boss");
        let r = self.create("r", &self.value("Rae"), &[(attr::MANAGER, text(&boss_value))]).await?;
        match self.fixture.manager() {
            Manager::AsWritten => {
                let listed = self.target.unapplied();
                ensure!(
                    listed.is_empty(),
                    "a target that stores references as written lists unapplied values {listed:?}"
                );
                let got = self.get(&r.id).await?;
                ensure!(
                    value_of(&got, attr::MANAGER) == Some(&text(&boss_value)),
                    "{} reads back as {:?}, expected {boss_value:?} as written",
                    attr::MANAGER,
                    value_of(&got, attr::MANAGER)
                );
            }
            Manager::ResolvedByMatching => {
                ensure!(
                    self.waiting(&r.id),
                    "a report whose manager does not exist yet is not listed by unapplied(): {:?}",
                    self.target.unapplied()
                );
                let got = self.get(&r.id).await?;
                ensure!(
                    value_of(&got, attr::MANAGER).is_none(),
                    "the unresolved manager was written anyway: {:?}",
                    value_of(&got, attr::MANAGER)
                );
                let boss = self.create("m", &boss_value, &[]).await?;
                ensure!(
                    !self.waiting(&r.id),
                    "the report is still listed by unapplied() after its manager was created"
                );
                let Some(boss_name) = boss.name.as_deref() else {
                    return Err(
                        "a target resolving managers must name its objects (TargetObject::name)"
                            .into(),
                    );
                };
                let got = self.get(&r.id).await?;
                let linked = value_of(&got, attr::MANAGER).and_then(Value::as_str);
                ensure!(
                    linked.is_some_and(|l| l.eq_ignore_ascii_case(boss_name)),
                    "after the manager was created the report's {} is {linked:?}, expected {boss_name:?}",
                    attr::MANAGER
                );
                let ghost = [set(attr::MANAGER, text(&self.value("Ghost")))];
                self.target
                    .update(&r.id, &ghost)
                    .await
                    .map_err(op("update to a missing manager"))?;
                ensure!(
                    self.waiting(&r.id),
                    "an update to a manager that does not exist is not listed by unapplied()"
                );
                self.target
                    .update(&r.id, &[set(attr::MANAGER, Value::Null)])
                    .await
                    .map_err(op("update clearing the manager"))?;
                ensure!(!self.waiting(&r.id), "a cleared manager is still listed by unapplied()");
                let got = self.get(&r.id).await?;
                ensure!(
                    value_of(&got, attr::MANAGER).is_none(),
                    "manager = null did not clear it: {:?}",
                    value_of(&got, attr::MANAGER)
                );
            }
        }
        Ok(())
    }

    async fn secrets(&self) -> Result<(), String> {
        let Some((name, value)) = self.fixture.secret() else { return Ok(()) };
        let declared = attr::is_secret(name)
            || self.target.secret_attributes().iter().any(|s| s.eq_ignore_ascii_case(name));
        ensure!(
            declared,
            "{name} is accepted as a secret but neither well-known nor in secret_attributes()"
        );
        let s = self.create("s", &self.value("Sec"), &[(name, value)]).await?;
        ensure!(
            value_of(&s, name).is_none(),
            "create hands the secret {name} back on the created object"
        );
        let got = self.get(&s.id).await?;
        ensure!(value_of(&got, name).is_none(), "get hands the secret {name} back");
        Ok(())
    }

    async fn clean_up(&self) -> Result<(), String> {
        let created = std::mem::take(&mut *self.created.lock().unwrap_or_else(|p| p.into_inner()));
        let mut problems = Vec::new();
        let mut seen = HashSet::new();
        for id in created.iter().filter(|id| seen.insert(id.as_str())) {
            match self.target.delete(id).await {
                Ok(()) | Err(TargetError::NotFound { .. }) => {}
                Err(e) => problems.push(format!("delete {id}: {e}")),
            }
        }
        self.target.flush().await.map_err(op("flush"))?;
        if problems.is_empty() { Ok(()) } else { Err(problems.join("; ")) }
    }
}
