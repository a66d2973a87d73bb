//! Test support for targets and for code that drives them (feature
//! `testing`): the [`conformance`] suite every target must pass, and
//! [`Forward`], a decorator that passes every call to an inner target and
//! lets a test look at or refuse calls through [`Hooks`] (slow writes,
//! refused creates, timings) without writing out the whole trait, and
//! [`sabotage`], targets broken on purpose to prove the suite catches it.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use crate::{
    AttributeUpdate, Attributes, CheckStep, Comparison, Target, TargetError, TargetObject,
};

pub mod conformance;
pub mod sabotage;

/// One call on a [`Forward`], with its arguments.
#[derive(Debug, Clone, Copy)]
pub enum Call<'a> {
    Check,
    Find { attribute: &'a str, value: &'a str },
    FindMany { attribute: &'a str, values: &'a [String] },
    Get { id: &'a str },
    Create { attributes: &'a Attributes },
    Update { id: &'a str, changes: &'a [AttributeUpdate] },
    Disable { id: &'a str },
    Delete { id: &'a str },
    IsTaken { attribute: &'a str, value: &'a str, except_id: Option<&'a str> },
    Taken { attribute: &'a str, candidates: &'a [String] },
    Flush,
}

impl Call<'_> {
    /// The trait method's name (`create`, `find_many`, ...).
    pub fn operation(&self) -> &'static str {
        match self {
            Call::Check => "check",
            Call::Find { .. } => "find",
            Call::FindMany { .. } => "find_many",
            Call::Get { .. } => "get",
            Call::Create { .. } => "create",
            Call::Update { .. } => "update",
            Call::Disable { .. } => "disable",
            Call::Delete { .. } => "delete",
            Call::IsTaken { .. } => "is_taken",
            Call::Taken { .. } => "taken",
            Call::Flush => "flush",
        }
    }

    /// Whether the call writes (create, update, disable, delete).
    pub fn is_write(&self) -> bool {
        matches!(
            self,
            Call::Create { .. } | Call::Update { .. } | Call::Disable { .. } | Call::Delete { .. }
        )
    }
}

/// How a forwarded call ended, for [`Hooks::after`].
#[derive(Debug, Clone, Copy)]
pub struct Outcome<'a> {
    /// `Ok(Some(object))` for a successful create, `Ok(None)` for any other
    /// success, the error otherwise.
    pub result: Result<Option<&'a TargetObject>, &'a TargetError>,
    /// Wall time of the inner call.
    pub elapsed: Duration,
}

/// What a [`Forward`] does around each call. Every method has a default
/// that changes nothing.
#[async_trait]
pub trait Hooks: Send + Sync {
    /// The name the decorated target reports (default: the inner target's).
    fn kind(&self) -> Option<&'static str> {
        None
    }
    /// Runs before the inner call; an error is returned instead of making
    /// it (and [`Hooks::after`] is not called).
    async fn before(&self, _call: &Call<'_>) -> Result<(), TargetError> {
        Ok(())
    }
    /// Runs after the inner call, with its outcome.
    async fn after(&self, _call: &Call<'_>, _outcome: Outcome<'_>) {}
}

/// No hooks: a plain forward.
impl Hooks for () {}

/// A target that forwards every call to `inner`, running `hooks` around it.
pub struct Forward<T, H = ()> {
    pub inner: T,
    pub hooks: H,
}

impl<T: Target, H: Hooks> Forward<T, H> {
    pub fn new(inner: T, hooks: H) -> Self {
        Forward { inner, hooks }
    }

    /// `before`, the inner call, `after`.
    async fn around<'c, R>(
        &self,
        call: Call<'c>,
        inner: impl Future<Output = Result<R, TargetError>>,
        object: impl FnOnce(&R) -> Option<&TargetObject>,
    ) -> Result<R, TargetError> {
        self.hooks.before(&call).await?;
        let started = Instant::now();
        let r = inner.await;
        let elapsed = started.elapsed();
        let result = match &r {
            Ok(v) => Ok(object(v)),
            Err(e) => Err(e),
        };
        self.hooks.after(&call, Outcome { result, elapsed }).await;
        r
    }
}

fn none<R>(_: &R) -> Option<&TargetObject> {
    None
}

fn created(object: &TargetObject) -> Option<&TargetObject> {
    Some(object)
}

#[async_trait]
impl<T: Target, H: Hooks> Target for Forward<T, H> {
    fn kind(&self) -> &'static str {
        self.hooks.kind().unwrap_or_else(|| self.inner.kind())
    }
    fn comparison(&self) -> Comparison {
        self.inner.comparison()
    }
    fn secret_attributes(&self) -> &[&'static str] {
        self.inner.secret_attributes()
    }
    async fn check(&self) -> Vec<CheckStep> {
        let call = Call::Check;
        if let Err(e) = self.hooks.before(&call).await {
            return vec![CheckStep { name: "check".into(), ok: false, detail: e.to_string() }];
        }
        let started = Instant::now();
        let steps = self.inner.check().await;
        let outcome = Outcome { result: Ok(None), elapsed: started.elapsed() };
        self.hooks.after(&call, outcome).await;
        steps
    }
    async fn find(&self, attribute: &str, value: &str) -> Result<Vec<TargetObject>, TargetError> {
        self.around(Call::Find { attribute, value }, self.inner.find(attribute, value), none).await
    }
    async fn find_many(
        &self,
        attribute: &str,
        values: &[String],
    ) -> Result<HashMap<String, Vec<TargetObject>>, TargetError> {
        let call = Call::FindMany { attribute, values };
        self.around(call, self.inner.find_many(attribute, values), none).await
    }
    async fn get(&self, id: &str) -> Result<Option<TargetObject>, TargetError> {
        self.around(Call::Get { id }, self.inner.get(id), none).await
    }
    async fn create(&self, attributes: &Attributes) -> Result<TargetObject, TargetError> {
        self.around(Call::Create { attributes }, self.inner.create(attributes), created).await
    }
    async fn update(&self, id: &str, changes: &[AttributeUpdate]) -> Result<(), TargetError> {
        self.around(Call::Update { id, changes }, self.inner.update(id, changes), none).await
    }
    async fn disable(&self, id: &str) -> Result<(), TargetError> {
        self.around(Call::Disable { id }, self.inner.disable(id), none).await
    }
    async fn delete(&self, id: &str) -> Result<(), TargetError> {
        self.around(Call::Delete { id }, self.inner.delete(id), none).await
    }
    async fn is_taken(
        &self,
        attribute: &str,
        value: &str,
        except_id: Option<&str>,
    ) -> Result<bool, TargetError> {
        let call = Call::IsTaken { attribute, value, except_id };
        self.around(call, self.inner.is_taken(attribute, value, except_id), none).await
    }
    async fn taken(
        &self,
        attribute: &str,
        candidates: &[String],
    ) -> Result<HashSet<String>, TargetError> {
        let call = Call::Taken { attribute, candidates };
        self.around(call, self.inner.taken(attribute, candidates), none).await
    }
    async fn requirements(&self) -> Result<Vec<crate::requirements::Requirement>, TargetError> {
        self.inner.requirements().await
    }
    async fn flush(&self) -> Result<(), TargetError> {
        self.around(Call::Flush, self.inner.flush(), none).await
    }
    fn unapplied(&self) -> Vec<(String, String)> {
        self.inner.unapplied()
    }
    fn preview(&self, write: crate::Preview<'_>) -> Vec<String> {
        self.inner.preview(write)
    }
    fn record_exchanges(&self, on: bool) {
        self.inner.record_exchanges(on)
    }
    fn take_exchanges(&self) -> Vec<String> {
        self.inner.take_exchanges()
    }
    async fn begin_cycle(&self, scope: crate::CycleScope) {
        self.inner.begin_cycle(scope).await
    }
}
