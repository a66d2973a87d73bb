//! The seam between the engine and the systems it provisions into.
//!
//! A [`Target`] is a small set of operations every directory or app offers:
//! find objects by a matching attribute, create, update changed attributes,
//! disable, delete, read attributes (for writeback) and answer uniqueness
//! questions (for `SelectUniqueValue`). Each target lives in its own crate
//! under `crates/targets/` with the same inner layout; this crate holds only
//! the seam: the trait, its value types, the attribute conventions every
//! target shares ([`attr`]) and, behind the `testing` feature, the
//! conformance suite every target must pass and a forwarding decorator
//! ([`testing`]). It carries no implementation and no I/O.
//!
//! Attribute values are JSON: a string, number or boolean for single-valued
//! attributes, an array for multi-valued ones, `null` to remove a value.

use std::collections::{BTreeMap, HashMap, HashSet};

use async_trait::async_trait;

pub mod attr;
pub mod requirements;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

#[cfg(test)]
mod tests;

/// Target attribute name -> value.
pub type Attributes = BTreeMap<String, serde_json::Value>;

/// An object as the target reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetObject {
    /// The target's stable id (entryUUID, objectGUID, SCIM id): unchanged by
    /// renames and moves, so joins survive them.
    pub id: String,
    /// The human-facing name, where the target has one (an LDAP DN).
    pub name: Option<String>,
    pub attributes: Attributes,
    /// `Some(false)` when the target says the account is disabled.
    pub enabled: Option<bool>,
}

/// One attribute write. `null` removes the attribute.
#[derive(Debug, Clone, PartialEq)]
pub struct AttributeUpdate {
    pub name: String,
    pub value: serde_json::Value,
}

/// A result line of a connection check (`hrsync check`).
#[derive(Debug, Clone, PartialEq)]
pub struct CheckStep {
    pub name: String,
    pub ok: bool,
    pub detail: String,
}

/// Why a target operation failed. `retryable` tells the engine whether the
/// worker should be escrowed for a later attempt or flagged straight away.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TargetError {
    #[error("{operation} failed: the target refused it: {message}")]
    Rejected { operation: &'static str, message: String },
    #[error("{operation} failed: an object with {attribute} = {value:?} already exists")]
    AlreadyExists { operation: &'static str, attribute: String, value: String },
    #[error("{operation} failed: no object with id {id}")]
    NotFound { operation: &'static str, id: String },
    #[error("{operation} failed: the target is unavailable: {message}")]
    Unavailable { operation: &'static str, message: String },
    /// The target cannot be reached or refuses hrsync itself, whatever the
    /// worker: connection refused, a name that does not resolve, a failed
    /// TLS handshake, a refused bind or credentials (LDAP
    /// invalidCredentials, HTTP 401/403). The engine stops the whole cycle
    /// on it instead of failing workers one by one: no worker is at fault.
    #[error("{operation} failed: the target cannot be reached: {message}")]
    Unreachable { operation: &'static str, message: String },
}

impl TargetError {
    /// Worth retrying later without any change on our side.
    pub fn retryable(&self) -> bool {
        matches!(self, TargetError::Unavailable { .. } | TargetError::Unreachable { .. })
    }

    /// The target as a whole is out of reach (see
    /// [`TargetError::Unreachable`]): the cycle stops, no worker is blamed.
    pub fn unreachable(&self) -> bool {
        matches!(self, TargetError::Unreachable { .. })
    }
}

/// How a target compares attribute values in [`Target::find`],
/// [`Target::find_many`], [`Target::is_taken`] and [`Target::taken`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    /// `Ana` and `ANA` are the same value (Active Directory, LDAP's
    /// caseIgnoreMatch, the embedded target). The engine's own bookkeeping of
    /// values in flight folds case, so this is what it expects.
    CaseInsensitive,
    /// Values match only as written (a SCIM attribute with `caseExact`).
    Exact,
}

/// What the engine needs from a target.
///
/// Every target passes [`testing::conformance::run`] (feature `testing`),
/// which checks the semantics below against the real system.
#[async_trait]
pub trait Target: Send + Sync {
    /// A short name for logs (`embedded`, `ldap`, `scim`).
    fn kind(&self) -> &'static str;
    /// How this target compares values when finding and checking
    /// uniqueness. The conformance suite checks the answer against what the
    /// target does.
    fn comparison(&self) -> Comparison {
        Comparison::CaseInsensitive
    }
    /// Attributes this target treats as secrets (passwords): written, never
    /// read back, and never to be kept in hrsync's state, logs or output.
    /// The well-known names of [`attr::is_secret`] are secrets whatever a
    /// target says; this adds the target's own.
    fn secret_attributes(&self) -> &[&'static str] {
        &[]
    }
    /// Verify connectivity and permissions without changing anything.
    async fn check(&self) -> Vec<CheckStep>;
    /// Objects whose `attribute` equals `value` (matching).
    async fn find(&self, attribute: &str, value: &str) -> Result<Vec<TargetObject>, TargetError>;
    /// The object with this id, if it still exists.
    async fn get(&self, id: &str) -> Result<Option<TargetObject>, TargetError>;
    /// Create an object; returns it with its new id.
    async fn create(&self, attributes: &Attributes) -> Result<TargetObject, TargetError>;
    /// Write only the given attributes (`null` removes one); every other
    /// attribute keeps its value. `NotFound` when no object has this id.
    async fn update(&self, id: &str, changes: &[AttributeUpdate]) -> Result<(), TargetError>;
    /// Disable the account (deprovisioning without delete): `get` then
    /// reports `enabled == Some(false)`. `NotFound` when no object has this id.
    async fn disable(&self, id: &str) -> Result<(), TargetError>;
    /// Delete the object; `NotFound` when no object has this id.
    async fn delete(&self, id: &str) -> Result<(), TargetError>;
    /// Whether `value` is already used for `attribute` by an object other than
    /// `except_id` (uniqueness for `SelectUniqueValue`).
    async fn is_taken(
        &self,
        attribute: &str,
        value: &str,
        except_id: Option<&str>,
    ) -> Result<bool, TargetError>;
    /// [`Target::find`] for many values of one attribute at once (matching a
    /// page of workers). The map is keyed by the values exactly as given
    /// (each case variant its own key, answered as [`Target::find`] answers
    /// it); values without objects are absent, never mapped to an empty
    /// list. Targets that can ask for many
    /// values in one request (an LDAP OR filter, an SQL `IN`) override this.
    async fn find_many(
        &self,
        attribute: &str,
        values: &[String],
    ) -> Result<HashMap<String, Vec<TargetObject>>, TargetError> {
        let mut out = HashMap::new();
        for v in values {
            let found = self.find(attribute, v).await?;
            if !found.is_empty() {
                out.insert(v.clone(), found);
            }
        }
        Ok(out)
    }
    /// [`Target::is_taken`] for many candidates of one attribute at once
    /// (the `SelectUniqueValue` candidates of a page): the candidates, as
    /// given, that some object already uses. The target compares as its
    /// matching rules do (case-insensitively for Active Directory).
    async fn taken(
        &self,
        attribute: &str,
        candidates: &[String],
    ) -> Result<HashSet<String>, TargetError> {
        let mut out = HashSet::new();
        for c in candidates {
            if self.is_taken(attribute, c, None).await? {
                out.insert(c.clone());
            }
        }
        Ok(out)
    }
    /// Make every write so far durable: once it returns, another handle on
    /// the same directory (another process) sees them. Targets that group
    /// writes (the embedded one) commit here; the engine calls it before
    /// recording a page's outcomes in its store.
    async fn flush(&self) -> Result<(), TargetError> {
        Ok(())
    }
    /// `(object id, attribute)` of values a create or update accepted but
    /// could not apply yet: an LDAP `manager` whose account does not exist
    /// so far, set by the target when that account is created. The engine
    /// records such values as not exported, so that a later cycle (in this
    /// process or another) sends them again instead of trusting a link the
    /// target may never make.
    fn unapplied(&self) -> Vec<(String, String)> {
        Vec::new()
    }
    /// What the target's schema demands of the attributes sent to it
    /// ([`requirements`]), as far as the target can tell: read from the
    /// system (a SCIM server's `/Schemas`) or known of it (a Salesforce
    /// profile). The engine asks once a cycle and refuses, before sending,
    /// any planned value that breaks one. Empty when nothing is known.
    async fn requirements(&self) -> Result<Vec<requirements::Requirement>, TargetError> {
        Ok(Vec::new())
    }
    /// The requests a write would send, as text for people (method, path,
    /// body; secrets redacted), without sending anything: what `hrsync
    /// plan --person` shows. Empty when the target cannot say.
    fn preview(&self, _write: Preview<'_>) -> Vec<String> {
        Vec::new()
    }
    /// Keep (or stop keeping) every request sent and the answer to it, for
    /// [`Target::take_exchanges`]: what `hrsync on-demand` shows. Off by
    /// default, so a large sync keeps nothing.
    fn record_exchanges(&self, _on: bool) {}
    /// The requests sent and their answers since the last call, as text for
    /// people (secrets redacted).
    fn take_exchanges(&self) -> Vec<String> {
        Vec::new()
    }
    /// A cycle starts: called before its first lookup, with what it reads.
    /// A target may prepare for it (the SCIM target answers the lookups of
    /// a full cycle into an empty app from what it created itself); the
    /// default does nothing.
    async fn begin_cycle(&self, _scope: CycleScope) {}
}

/// Which workers a starting cycle reads ([`Target::begin_cycle`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CycleScope {
    /// Every worker in scope: a full sync, or a plan of one.
    All,
    /// Some of them: an incremental cycle, or one person on demand.
    Some,
}

/// A write [`Target::preview`] describes.
#[derive(Debug, Clone, Copy)]
pub enum Preview<'a> {
    Create(&'a Attributes),
    Update { id: &'a str, changes: &'a [AttributeUpdate] },
}

/// A target chosen at run time (from the config's `kind`).
#[async_trait]
impl Target for Box<dyn Target> {
    fn kind(&self) -> &'static str {
        (**self).kind()
    }
    fn comparison(&self) -> Comparison {
        (**self).comparison()
    }
    fn secret_attributes(&self) -> &[&'static str] {
        (**self).secret_attributes()
    }
    async fn check(&self) -> Vec<CheckStep> {
        (**self).check().await
    }
    async fn find(&self, attribute: &str, value: &str) -> Result<Vec<TargetObject>, TargetError> {
        (**self).find(attribute, value).await
    }
    async fn get(&self, id: &str) -> Result<Option<TargetObject>, TargetError> {
        (**self).get(id).await
    }
    async fn create(&self, attributes: &Attributes) -> Result<TargetObject, TargetError> {
        (**self).create(attributes).await
    }
    async fn update(&self, id: &str, changes: &[AttributeUpdate]) -> Result<(), TargetError> {
        (**self).update(id, changes).await
    }
    async fn disable(&self, id: &str) -> Result<(), TargetError> {
        (**self).disable(id).await
    }
    async fn delete(&self, id: &str) -> Result<(), TargetError> {
        (**self).delete(id).await
    }
    async fn is_taken(
        &self,
        attribute: &str,
        value: &str,
        except_id: Option<&str>,
    ) -> Result<bool, TargetError> {
        (**self).is_taken(attribute, value, except_id).await
    }
    async fn find_many(
        &self,
        attribute: &str,
        values: &[String],
    ) -> Result<HashMap<String, Vec<TargetObject>>, TargetError> {
        (**self).find_many(attribute, values).await
    }
    async fn taken(
        &self,
        attribute: &str,
        candidates: &[String],
    ) -> Result<HashSet<String>, TargetError> {
        (**self).taken(attribute, candidates).await
    }
    async fn flush(&self) -> Result<(), TargetError> {
        (**self).flush().await
    }
    fn unapplied(&self) -> Vec<(String, String)> {
        (**self).unapplied()
    }
    async fn requirements(&self) -> Result<Vec<requirements::Requirement>, TargetError> {
        (**self).requirements().await
    }
    fn preview(&self, write: Preview<'_>) -> Vec<String> {
        (**self).preview(write)
    }
    fn record_exchanges(&self, on: bool) {
        (**self).record_exchanges(on)
    }
    fn take_exchanges(&self) -> Vec<String> {
        (**self).take_exchanges()
    }
    async fn begin_cycle(&self, scope: CycleScope) {
        (**self).begin_cycle(scope).await
    }
}
