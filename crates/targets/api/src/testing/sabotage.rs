//! Deliberately broken targets, to prove the [conformance](super::conformance)
//! suite catches each kind of breakage on a real target, not only on a model:
//! [`Sabotaged`] wraps a working target (the embedded file, slapd, Samba AD)
//! and breaks exactly one rule, named by a [`Flaw`]. Each target's tests run
//! the suite once per flaw through [`super::conformance::assert_each_check_can_fail`]
//! and expect the check meant for that rule to fail.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use async_trait::async_trait;
use serde_json::Value;

use crate::{
    AttributeUpdate, Attributes, CheckStep, Comparison, Target, TargetError, TargetObject, attr,
};

/// One broken rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flaw {
    /// `find_many` keys are the values lower-cased, not as given.
    FindManyFoldsKeys,
    /// `find_many` maps values without accounts to an empty list.
    FindManyEmptyLists,
    /// `taken` compares by the other case rule than the target states.
    TakenWrongCaseRule,
    /// Deleting an id that does not exist succeeds.
    DeleteMissingSucceeds,
    /// Updates are acknowledged and visible on this handle, but never
    /// written (a cache that `flush` does not write out).
    UpdatesNotWritten,
    /// An update's `null` values are not sent, so nothing is removed.
    NullNotRemoved,
    /// `disable` succeeds without disabling.
    DisableIgnored,
    /// `unapplied` lists a value that was applied, or forgets one that was not.
    UnappliedWrong,
    /// `create` hands back the secrets it was given.
    SecretsEchoed,
}

impl Flaw {
    pub const ALL: [Flaw; 9] = [
        Flaw::FindManyFoldsKeys,
        Flaw::FindManyEmptyLists,
        Flaw::TakenWrongCaseRule,
        Flaw::DeleteMissingSucceeds,
        Flaw::UpdatesNotWritten,
        Flaw::NullNotRemoved,
        Flaw::DisableIgnored,
        Flaw::UnappliedWrong,
        Flaw::SecretsEchoed,
    ];

    /// The conformance check (a name of `conformance::CHECKS`) that must fail.
    pub fn check(self) -> &'static str {
        match self {
            Flaw::FindManyFoldsKeys | Flaw::FindManyEmptyLists => "find_many as given",
            Flaw::TakenWrongCaseRule => "taken case rule",
            Flaw::DeleteMissingSucceeds => "missing id",
            Flaw::UpdatesNotWritten => "flush durability",
            Flaw::NullNotRemoved => "update only given",
            Flaw::DisableIgnored => "disable",
            Flaw::UnappliedWrong => "unapplied",
            Flaw::SecretsEchoed => "secrets",
        }
    }
}

/// `inner` with one [`Flaw`]; every other call is passed on unchanged.
pub struct Sabotaged<T> {
    pub inner: T,
    pub flaw: Flaw,
    /// String values written by create and update, by attribute name in
    /// lower case ([`Flaw::TakenWrongCaseRule`] compares against them).
    written: Mutex<HashMap<String, HashSet<String>>>,
    /// Updates kept back ([`Flaw::UpdatesNotWritten`]), by id, in order.
    held: Mutex<HashMap<String, Vec<AttributeUpdate>>>,
}

impl<T: Target> Sabotaged<T> {
    pub fn new(inner: T, flaw: Flaw) -> Self {
        Sabotaged { inner, flaw, written: Mutex::default(), held: Mutex::default() }
    }

    fn remember<'a>(&self, values: impl IntoIterator<Item = (&'a str, &'a Value)>) {
        let mut written = self.written.lock().unwrap_or_else(|p| p.into_inner());
        for (name, value) in values {
            if let Value::String(s) = value {
                written.entry(name.to_lowercase()).or_default().insert(s.clone());
            }
        }
    }

    /// Whether `candidate` is a value written to `attribute`, compared by the
    /// rule the target does *not* state.
    fn written_by_other_rule(&self, attribute: &str, candidate: &str) -> bool {
        let written = self.written.lock().unwrap_or_else(|p| p.into_inner());
        let Some(values) = written.get(&attribute.to_lowercase()) else { return false };
        match self.inner.comparison() {
            Comparison::CaseInsensitive => values.contains(candidate),
            Comparison::Exact => values.iter().any(|v| v.eq_ignore_ascii_case(candidate)),
        }
    }

    fn is_secret(&self, name: &str) -> bool {
        attr::is_secret(name)
            || self.inner.secret_attributes().iter().any(|s| s.eq_ignore_ascii_case(name))
    }
}

#[async_trait]
impl<T: Target> Target for Sabotaged<T> {
    fn kind(&self) -> &'static str {
        self.inner.kind()
    }
    fn comparison(&self) -> Comparison {
        self.inner.comparison()
    }
    fn secret_attributes(&self) -> &[&'static str] {
        self.inner.secret_attributes()
    }
    async fn check(&self) -> Vec<CheckStep> {
        self.inner.check().await
    }
    async fn find(&self, attribute: &str, value: &str) -> Result<Vec<TargetObject>, TargetError> {
        self.inner.find(attribute, value).await
    }
    async fn find_many(
        &self,
        attribute: &str,
        values: &[String],
    ) -> Result<HashMap<String, Vec<TargetObject>>, TargetError> {
        let mut found = self.inner.find_many(attribute, values).await?;
        match self.flaw {
            Flaw::FindManyFoldsKeys => {
                found = found.into_iter().map(|(k, v)| (k.to_lowercase(), v)).collect();
            }
            Flaw::FindManyEmptyLists => {
                for v in values {
                    found.entry(v.clone()).or_default();
                }
            }
            _ => {}
        }
        Ok(found)
    }
    async fn get(&self, id: &str) -> Result<Option<TargetObject>, TargetError> {
        let mut object = self.inner.get(id).await?;
        if let Some(o) = &mut object
            && let Some(changes) = self.held.lock().unwrap_or_else(|p| p.into_inner()).get(id)
        {
            for c in changes {
                if c.value.is_null() {
                    o.attributes.remove(&c.name);
                } else {
                    o.attributes.insert(c.name.clone(), c.value.clone());
                }
            }
        }
        Ok(object)
    }
    async fn create(&self, attributes: &Attributes) -> Result<TargetObject, TargetError> {
        self.remember(attributes.iter().map(|(k, v)| (k.as_str(), v)));
        let mut object = self.inner.create(attributes).await?;
        if self.flaw == Flaw::SecretsEchoed {
            for (k, v) in attributes.iter().filter(|(k, _)| self.is_secret(k)) {
                object.attributes.insert(k.clone(), v.clone());
            }
        }
        Ok(object)
    }
    async fn update(&self, id: &str, changes: &[AttributeUpdate]) -> Result<(), TargetError> {
        self.remember(changes.iter().map(|c| (c.name.as_str(), &c.value)));
        match self.flaw {
            Flaw::UpdatesNotWritten => {
                // Still NotFound for a missing id: only durability is broken.
                if self.inner.get(id).await?.is_none() {
                    return Err(TargetError::NotFound { operation: "update", id: id.to_owned() });
                }
                let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
                held.entry(id.to_owned()).or_default().extend_from_slice(changes);
                Ok(())
            }
            Flaw::NullNotRemoved => {
                let kept: Vec<AttributeUpdate> =
                    changes.iter().filter(|c| !c.value.is_null()).cloned().collect();
                if kept.is_empty() { Ok(()) } else { self.inner.update(id, &kept).await }
            }
            _ => self.inner.update(id, changes).await,
        }
    }
    async fn disable(&self, id: &str) -> Result<(), TargetError> {
        if self.flaw == Flaw::DisableIgnored {
            return match self.inner.get(id).await? {
                Some(_) => Ok(()),
                None => Err(TargetError::NotFound { operation: "disable", id: id.to_owned() }),
            };
        }
        self.inner.disable(id).await
    }
    async fn delete(&self, id: &str) -> Result<(), TargetError> {
        match self.inner.delete(id).await {
            Err(TargetError::NotFound { .. }) if self.flaw == Flaw::DeleteMissingSucceeds => Ok(()),
            r => r,
        }
    }
    async fn is_taken(
        &self,
        attribute: &str,
        value: &str,
        except_id: Option<&str>,
    ) -> Result<bool, TargetError> {
        self.inner.is_taken(attribute, value, except_id).await
    }
    async fn taken(
        &self,
        attribute: &str,
        candidates: &[String],
    ) -> Result<HashSet<String>, TargetError> {
        if self.flaw != Flaw::TakenWrongCaseRule {
            return self.inner.taken(attribute, candidates).await;
        }
        Ok(candidates
            .iter()
            .filter(|c| self.written_by_other_rule(attribute, c))
            .cloned()
            .collect())
    }
    async fn requirements(&self) -> Result<Vec<crate::requirements::Requirement>, TargetError> {
        self.inner.requirements().await
    }
    async fn flush(&self) -> Result<(), TargetError> {
        self.inner.flush().await
    }
    async fn begin_cycle(&self, scope: crate::CycleScope) {
        self.inner.begin_cycle(scope).await
    }
    fn unapplied(&self) -> Vec<(String, String)> {
        let listed = self.inner.unapplied();
        if self.flaw != Flaw::UnappliedWrong {
            return listed;
        }
        if listed.is_empty() {
            vec![("no-such-object".to_owned(), attr::MANAGER.to_owned())]
        } else {
            Vec::new()
        }
    }
}
