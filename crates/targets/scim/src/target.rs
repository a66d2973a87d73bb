//! The trait operations over [`Service`]: the I/O driver. Requests are
//! those a spec-compliant Entra client sends: `GET /Users?filter=...`,
//! `POST /Users`, `PATCH /Users/{id}` with only the changed attributes,
//! disable by `active: false`, `DELETE /Users/{id}`.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use async_trait::async_trait;
use futures_util::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::Value;

use hrsync_target::{
    AttributeUpdate, Attributes, CheckStep, Comparison, CycleScope, Target, TargetError,
    TargetObject,
};

use crate::config::{ConfigError, ScimConfig};
use crate::request_builder::{
    self as rb, ManagerChange, ScimPath, eq_filter, id_segment, parse_path,
};
use crate::service::{Answer, Service};

/// Reports whose manager was not provisioned yet: report id -> (the mapped
/// attribute name, the manager's matching value).
#[derive(Default)]
struct Waiting {
    reports: HashMap<String, (String, String)>,
}

/// The users this target created during a full cycle that began with the
/// app holding none ([`ScimConfig::fast_first_load`]): every user the app
/// holds is one of these, so a lookup is answered here instead of by an
/// `or` filter the server walks its whole store for.
#[derive(Default)]
struct Fresh {
    /// (attribute, its text lower-cased) -> (user id, the text as created).
    index: HashMap<(String, String), Vec<(String, String)>>,
}

impl Fresh {
    fn remember(&mut self, object: &TargetObject) {
        for (name, value) in &object.attributes {
            if let Some(text) = text_of(value) {
                self.index
                    .entry((name.clone(), text.to_lowercase()))
                    .or_default()
                    .push((object.id.clone(), text));
            }
        }
    }

    /// The ids of the users created with `attribute` equal to `value`,
    /// compared as [`ScimTarget::find_or`] compares the server's answers.
    fn holders(&self, attribute: &str, value: &str, exact: bool) -> Vec<String> {
        let Some(held) = self.index.get(&(attribute.to_owned(), value.to_lowercase())) else {
            return Vec::new();
        };
        held.iter().filter(|(_, text)| !exact || text == value).map(|(id, _)| id.clone()).collect()
    }
}

/// A SCIM 2.0 service provider's `/Users`.
///
/// Attribute names are SCIM paths as Entra names them (`userName`,
/// `name.givenName`, `emails[type eq "work"].value`,
/// `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department`,
/// `entitlements`), plus the shared conventions: `accountDisabled` is
/// written as `active` (inverted), and `manager` (or the enterprise
/// `manager`) holds the manager's matching value (their personIdExternal in
/// `externalId`), which the target resolves to the manager's SCIM id and
/// writes as `manager.value`. A manager not provisioned yet is listed by
/// [`Target::unapplied`] and linked as soon as this target creates them.
///
/// Values are compared as the server's schema says (RFC 7643
/// `caseExact`): `externalId`, the matching attribute, is case-exact, so
/// [`Target::comparison`] is [`Comparison::Exact`]; `userName` is not, and
/// the server's own answer is what `is_taken` reports for it.
pub struct ScimTarget {
    service: Service,
    waiting: Mutex<Waiting>,
    /// The server refused an `or` filter: look values up one at a time.
    no_or: AtomicBool,
    /// Manager matching value -> (SCIM id, when found): most workers share
    /// a few managers, so a page asks for each once. Found ids only, and
    /// for [`MANAGER_CACHE`]: a manager created later is looked for again,
    /// and one deleted in the app is forgotten soon.
    managers: Mutex<HashMap<String, (String, Instant)>>,
    /// Set while a full cycle into an empty app answers lookups itself.
    fresh: Mutex<Option<Fresh>>,
}

/// How long a manager's SCIM id is trusted without asking again.
const MANAGER_CACHE: std::time::Duration = std::time::Duration::from_secs(60);

/// Values per `or` filter: well below URL length limits, and the page of
/// results (`count` 100) holds them all unless values are shared.
const OR_CHUNK: usize = 50;

fn rejected(operation: &'static str, message: String) -> TargetError {
    TargetError::Rejected { operation, message }
}

fn path_err(operation: &'static str) -> impl Fn(rb::PathError) -> TargetError {
    move |e| rejected(operation, e.to_string())
}

impl ScimTarget {
    /// Validate the config and build the HTTP client; no request is sent yet.
    pub fn new(config: ScimConfig) -> Result<Self, ConfigError> {
        Ok(ScimTarget {
            service: Service::new(config)?,
            waiting: Mutex::new(Waiting::default()),
            no_or: AtomicBool::new(false),
            managers: Mutex::new(HashMap::new()),
            fresh: Mutex::new(None),
        })
    }

    fn config(&self) -> &ScimConfig {
        self.service.config()
    }

    fn managers(&self) -> std::sync::MutexGuard<'_, HashMap<String, (String, Instant)>> {
        self.managers.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn waiting(&self) -> std::sync::MutexGuard<'_, Waiting> {
        self.waiting.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn fresh(&self) -> std::sync::MutexGuard<'_, Option<Fresh>> {
        self.fresh.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Stop answering lookups from the users created: from now on the app
    /// may hold users this target did not see made (or made twice).
    fn leave_fresh(&self, why: &str) {
        if self.fresh().take().is_some() {
            tracing::info!(
                why,
                "looking SCIM users up on the server again for the rest of the cycle"
            );
        }
    }

    /// `Some(ids)` of the users created with `attribute` = `value` while
    /// the app is known to hold only those; `None`: ask the server.
    fn fresh_holders(&self, attribute: &str, value: &str) -> Option<Vec<String>> {
        let exact = parse_path(attribute).map(|p| rb::case_exact(&p)).unwrap_or(true);
        self.fresh().as_ref().map(|f| f.holders(attribute, value, exact))
    }

    /// The users with `attribute` = `value` in fresh mode, read back from
    /// the server (a hit is rare on a first load: the same person twice),
    /// so that what is returned is what the server holds now.
    async fn fresh_find(
        &self,
        attribute: &str,
        ids: Vec<String>,
        value: &str,
    ) -> Result<Vec<TargetObject>, TargetError> {
        let exact = parse_path(attribute).map(|p| rb::case_exact(&p)).unwrap_or(true);
        let mut out = Vec::new();
        for id in ids {
            if let Some(resource) = self.read("find", &id).await?
                && let Some(object) = Self::object(&resource)
                && holds(&object, attribute, value, exact)
            {
                out.push(object);
            }
        }
        Ok(out)
    }

    /// How many users the app holds (`GET /Users?count=0`), if it says.
    async fn count_users(&self) -> Result<Option<u64>, TargetError> {
        let url = self.service.url("/Users");
        let answer = self.service.send("count", Method::GET, &url, &[("count", "0")], None).await?;
        if !answer.status.is_success() {
            return Err(self.failure("count", &answer, None));
        }
        Ok(self.parse("count", &answer)?.get("totalResults").and_then(Value::as_u64))
    }

    /// The error for an answer that is not a success.
    fn failure(
        &self,
        operation: &'static str,
        answer: &Answer,
        value: Option<&str>,
    ) -> TargetError {
        let status = answer.status;
        let message = rb::error_text(status.as_u16(), &answer.body);
        let scim_type = rb::scim_type(&answer.body);
        match status {
            StatusCode::CONFLICT if scim_type.as_deref() == Some("uniqueness") => {
                self.leave_fresh("the server reported a conflict");
                TargetError::AlreadyExists {
                    operation,
                    attribute: "userName".into(),
                    value: value.unwrap_or_default().to_owned(),
                }
            }
            // Refuses hrsync itself, whatever the worker: the cycle stops.
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => TargetError::Unreachable {
                operation,
                message: format!("the SCIM server refused hrsync's credentials ({message})"),
            },
            s if s.is_server_error() || s == StatusCode::REQUEST_TIMEOUT => {
                TargetError::Unavailable { operation, message }
            }
            _ => rejected(operation, message),
        }
    }

    fn parse(&self, operation: &'static str, answer: &Answer) -> Result<Value, TargetError> {
        answer.json().ok_or_else(|| {
            rejected(
                operation,
                format!(
                    "HTTP {}: the answer is not JSON: {:?}",
                    answer.status.as_u16(),
                    answer.body.chars().take(200).collect::<String>()
                ),
            )
        })
    }

    /// Every resource a filter finds (following `startIndex` pages).
    async fn search(
        &self,
        operation: &'static str,
        filter: &str,
    ) -> Result<Vec<Value>, TargetError> {
        let url = self.service.url("/Users");
        let mut out = Vec::new();
        let mut start = 1usize;
        loop {
            let start_text = start.to_string();
            let query = [("filter", filter), ("startIndex", start_text.as_str()), ("count", "100")];
            let answer = self.service.send(operation, Method::GET, &url, &query, None).await?;
            if !answer.status.is_success() {
                return Err(self.failure(operation, &answer, None));
            }
            let v = self.parse(operation, &answer)?;
            let page: Vec<Value> =
                v.get("Resources").and_then(Value::as_array).cloned().unwrap_or_default();
            let total = v.get("totalResults").and_then(Value::as_u64).unwrap_or(0) as usize;
            let got = page.len();
            out.extend(page);
            if got == 0 || out.len() >= total {
                return Ok(out);
            }
            start += got;
        }
    }

    fn object(resource: &Value) -> Option<TargetObject> {
        let id = resource.get("id")?.as_str()?.to_owned();
        let attributes = rb::flatten(resource);
        let enabled =
            Some(attributes.get("active").and_then(hrsync_target::attr::flag).unwrap_or(true));
        let name = resource.get("userName").and_then(Value::as_str).map(str::to_owned);
        Some(TargetObject { id, name, attributes, enabled })
    }

    fn objects(
        operation: &'static str,
        resources: &[Value],
    ) -> Result<Vec<TargetObject>, TargetError> {
        resources
            .iter()
            .map(|r| {
                Self::object(r)
                    .ok_or_else(|| rejected(operation, "a resource without an id".into()))
            })
            .collect()
    }

    async fn read(&self, operation: &'static str, id: &str) -> Result<Option<Value>, TargetError> {
        let url = self.service.url(&format!("/Users/{}", id_segment(id)));
        let answer = self.service.send(operation, Method::GET, &url, &[], None).await?;
        if answer.status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !answer.status.is_success() {
            return Err(self.failure(operation, &answer, None));
        }
        self.parse(operation, &answer).map(Some)
    }

    /// The SCIM id of the manager whose matching value is `value`, if they
    /// are provisioned (exactly one account holds it).
    async fn resolve_manager(
        &self,
        operation: &'static str,
        value: &str,
    ) -> Result<Option<String>, TargetError> {
        if let Some((id, at)) = self.managers().get(value)
            && at.elapsed() < MANAGER_CACHE
        {
            return Ok(Some(id.clone()));
        }
        let attribute = &self.config().manager_match_attribute;
        if let Some(ids) = self.fresh_holders(attribute, value) {
            return Ok(match ids.as_slice() {
                [one] => Some(one.clone()),
                _ => None,
            });
        }
        let m = parse_path(attribute).map_err(path_err(operation))?;
        let found = self.search(operation, &eq_filter(&m, value)).await?;
        match found.as_slice() {
            [one] => {
                let id = one.get("id").and_then(Value::as_str).map(str::to_owned);
                if let Some(id) = &id {
                    self.managers().insert(value.to_owned(), (id.clone(), Instant::now()));
                }
                Ok(id)
            }
            [] => Ok(None),
            many => {
                tracing::warn!(
                    manager = value,
                    count = many.len(),
                    "more than one SCIM user holds the manager's matching value; the manager is not set"
                );
                Ok(None)
            }
        }
    }

    async fn patch(
        &self,
        operation: &'static str,
        id: &str,
        operations: Vec<Value>,
    ) -> Result<(), TargetError> {
        // Without a version the server has nothing to call stale.
        self.patch_at(operation, id, operations, None).await.map(|_| ())
    }

    /// PATCH, with `If-Match: version` when the operations were computed
    /// from the resource as read at that version. `Ok(true)`: 412, the
    /// resource changed since.
    async fn patch_at(
        &self,
        operation: &'static str,
        id: &str,
        operations: Vec<Value>,
        version: Option<&str>,
    ) -> Result<bool, TargetError> {
        if operations.is_empty() {
            return Ok(false);
        }
        let url = self.service.url(&format!("/Users/{}", id_segment(id)));
        let body = rb::patch_body(operations);
        let answer = self
            .service
            .send_if_match(operation, Method::PATCH, &url, &[], Some(&body), version)
            .await?;
        match answer.status {
            s if s.is_success() => Ok(false),
            StatusCode::PRECONDITION_FAILED if version.is_some() => Ok(true),
            StatusCode::NOT_FOUND => Err(TargetError::NotFound { operation, id: id.to_owned() }),
            _ => Err(self.failure(operation, &answer, None)),
        }
    }

    /// [`Target::find_many`] with `or` filters of [`OR_CHUNK`] values each,
    /// the chunks in flight together. Each value gets the objects whose
    /// attribute equals it as [`Target::find`] would compare: exactly for
    /// case-exact attributes (`externalId`, ids), ignoring case otherwise
    /// (RFC 7643 `userName`, `emails`).
    async fn find_or(
        &self,
        attribute: &str,
        values: &[&String],
    ) -> Result<HashMap<String, Vec<TargetObject>>, TargetError> {
        let path = parse_path(attribute).map_err(path_err("find"))?;
        let filters: Vec<String> = values
            .chunks(OR_CHUNK)
            .map(|chunk| chunk.iter().map(|v| eq_filter(&path, v)).collect::<Vec<_>>().join(" or "))
            .collect();
        let answers = join_all(filters.iter().map(|f| self.search("find", f))).await;
        let mut objects = Vec::new();
        for a in answers {
            objects.extend(Self::objects("find", &a?)?);
        }
        let exact = rb::case_exact(&path);
        let mut out: HashMap<String, Vec<TargetObject>> = HashMap::new();
        for v in values {
            let hits: Vec<TargetObject> =
                objects.iter().filter(|o| holds(o, attribute, v, exact)).cloned().collect();
            if !hits.is_empty() {
                out.insert((*v).clone(), hits);
            }
        }
        Ok(out)
    }

    /// Link the reports waiting for the manager just created.
    async fn link_waiting_reports(&self, manager_value: &str, manager_id: &str) {
        let reports: Vec<String> = {
            let w = self.waiting();
            w.reports
                .iter()
                .filter(|(_, (_, v))| v == manager_value)
                .map(|(id, _)| id.clone())
                .collect()
        };
        for report in reports {
            self.link_report(&report, manager_value, manager_id).await;
        }
    }

    /// Set the manager of a waiting report, and stop waiting.
    async fn link_report(&self, report: &str, manager_value: &str, manager_id: &str) {
        let ops = rb::patch_operations(
            &[],
            Some(&ManagerChange::Set(manager_id.to_owned())),
            None,
            &self.config().quirks,
        )
        .unwrap_or_default();
        match self.patch("update", report, ops).await {
            Ok(()) => {
                let mut w = self.waiting();
                if w.reports.get(report).is_some_and(|(_, v)| v == manager_value) {
                    w.reports.remove(report);
                }
            }
            // Stays listed as unapplied: the engine sends it again.
            Err(e) => {
                tracing::warn!(report, error = %e, "linking a report to its new manager failed")
            }
        }
    }

    /// A report just listed as waiting looks for its manager once more.
    /// The manager may have been created while this report's own request
    /// was in flight, and have looked for waiting reports before this one
    /// was listed: without this second look the link would wait for the
    /// next cycle (and the result would depend on timing). Either the
    /// manager's look sees this report listed, or this look sees the
    /// manager (created before it): one of the two links them.
    async fn look_again(&self, report: &str) {
        let Some((_, value)) = self.waiting().reports.get(report).cloned() else { return };
        match self.resolve_manager("update", &value).await {
            Ok(Some(manager_id)) => self.link_report(report, &value, &manager_id).await,
            Ok(None) => {}
            Err(e) => tracing::warn!(report, error = %e, "looking for a report's manager failed"),
        }
    }
}

/// The manager reference among attributes: (the name as mapped, its value).
fn manager_of<'a>(
    entries: impl Iterator<Item = (&'a String, &'a Value)>,
) -> Option<(&'a str, &'a Value)> {
    entries
        .filter(|(k, _)| parse_path(k).is_ok_and(|p| p == ScimPath::Manager))
        .map(|(k, v)| (k.as_str(), v))
        .next()
}

/// Whether `object`'s `attribute` equals `value`: exactly for case-exact
/// attributes, ignoring case otherwise.
fn holds(object: &TargetObject, attribute: &str, value: &str, exact: bool) -> bool {
    object.attributes.get(attribute).and_then(text_of).is_some_and(|have| {
        if exact { have == value } else { have.to_lowercase() == value.to_lowercase() }
    })
}

fn text_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[async_trait]
impl Target for ScimTarget {
    fn kind(&self) -> &'static str {
        "scim"
    }

    fn comparison(&self) -> Comparison {
        Comparison::Exact
    }

    async fn check(&self) -> Vec<CheckStep> {
        crate::health::check(&self.service).await
    }

    async fn find(&self, attribute: &str, value: &str) -> Result<Vec<TargetObject>, TargetError> {
        if let Some(ids) = self.fresh_holders(attribute, value) {
            return self.fresh_find(attribute, ids, value).await;
        }
        let path = parse_path(attribute).map_err(path_err("find"))?;
        let found = self.search("find", &eq_filter(&path, value)).await?;
        Self::objects("find", &found)
    }

    async fn find_many(
        &self,
        attribute: &str,
        values: &[String],
    ) -> Result<HashMap<String, Vec<TargetObject>>, TargetError> {
        let mut unique: Vec<&String> = Vec::new();
        let mut seen = HashSet::new();
        for v in values {
            if seen.insert(v) {
                unique.push(v);
            }
        }
        if self.fresh().is_some() {
            let mut out = HashMap::new();
            for v in unique {
                let found = self.find(attribute, v).await?;
                if !found.is_empty() {
                    out.insert(v.clone(), found);
                }
            }
            return Ok(out);
        }
        // `or` filters of OR_CHUNK values (a page of lookups costs a few
        // requests, not one per worker); a server that refuses `or` (Entra
        // itself sends only `eq` and `and`) is asked one value at a time
        // from then on.
        if !self.no_or.load(Ordering::Relaxed) && unique.len() > 1 {
            match self.find_or(attribute, &unique).await {
                Ok(found) => return Ok(found),
                Err(TargetError::Rejected { message, .. }) => {
                    tracing::info!(%message, "the SCIM server refuses `or` filters; looking values up one by one");
                    self.no_or.store(true, Ordering::Relaxed);
                }
                Err(e) => return Err(e),
            }
        }
        // One filter per value, in flight together (bounded by `concurrency`).
        let answers = join_all(unique.iter().map(|v| self.find(attribute, v))).await;
        let mut out = HashMap::new();
        for (v, found) in unique.into_iter().zip(answers) {
            let found = found?;
            if !found.is_empty() {
                out.insert(v.clone(), found);
            }
        }
        Ok(out)
    }

    async fn get(&self, id: &str) -> Result<Option<TargetObject>, TargetError> {
        let Some(resource) = self.read("get", id).await? else { return Ok(None) };
        let mut object = Self::object(&resource)
            .ok_or_else(|| rejected("get", "a resource without an id".into()))?;
        // The manager as the mapping wrote it would be their matching value;
        // what the server holds is an id: report the manager's name.
        if let Some(mid) = rb::manager_id(&resource) {
            let name = match self.read("get", mid).await? {
                Some(m) => m.get("userName").and_then(Value::as_str).map(str::to_owned),
                None => None,
            };
            object.attributes.insert(
                hrsync_target::attr::MANAGER.into(),
                Value::String(name.unwrap_or_else(|| mid.to_owned())),
            );
        }
        Ok(Some(object))
    }

    async fn create(&self, attributes: &Attributes) -> Result<TargetObject, TargetError> {
        let quirks = self.config().quirks;
        let manager = manager_of(attributes.iter()).and_then(|(k, v)| Some((k, text_of(v)?)));
        let manager_id = match &manager {
            Some((_, value)) => self.resolve_manager("create", value).await?,
            None => None,
        };
        let body = rb::create_body(attributes, manager_id.as_deref(), &quirks)
            .map_err(path_err("create"))?;
        let url = self.service.url("/Users");
        let answer = match self.service.send("create", Method::POST, &url, &[], Some(&body)).await {
            Ok(a) => a,
            Err(e) => {
                // The server may have made the user before the answer was lost.
                self.leave_fresh("a create got no answer");
                return Err(e);
            }
        };
        if !answer.status.is_success() {
            self.leave_fresh("a create failed");
            let user_name = attributes.get("userName").and_then(Value::as_str);
            return Err(self.failure("create", &answer, user_name));
        }
        let Some(mut object) = self.parse("create", &answer).ok().as_ref().and_then(Self::object)
        else {
            self.leave_fresh("a created user could not be read");
            return Err(rejected("create", "the created resource has no id".into()));
        };
        if let Some(fresh) = self.fresh().as_mut() {
            fresh.remember(&object);
        }
        if let (Some((name, value)), None) = (&manager, &manager_id) {
            self.waiting().reports.insert(object.id.clone(), ((*name).to_owned(), value.clone()));
            self.look_again(&object.id).await;
        }
        if manager_id.is_some() {
            object.attributes.remove(hrsync_target::attr::MANAGER);
        }
        // A manager created after their reports: link the reports now.
        let own = attributes.get(&self.config().manager_match_attribute).and_then(text_of);
        if let Some(own) = own {
            self.managers().insert(own.clone(), (object.id.clone(), Instant::now()));
            self.link_waiting_reports(&own, &object.id).await;
        }
        Ok(object)
    }

    async fn update(&self, id: &str, changes: &[AttributeUpdate]) -> Result<(), TargetError> {
        // The values looked up by may change: the server knows best now.
        self.leave_fresh("a user is updated");
        let quirks = self.config().quirks;
        let manager = manager_of(changes.iter().map(|c| (&c.name, &c.value)));
        let manager_change = match manager {
            None => None,
            Some((name, value)) => match text_of(value) {
                None => {
                    self.waiting().reports.remove(id);
                    Some(ManagerChange::Remove)
                }
                Some(v) => match self.resolve_manager("update", &v).await? {
                    Some(mid) => {
                        self.waiting().reports.remove(id);
                        Some(ManagerChange::Set(mid))
                    }
                    None => {
                        // The old link is wrong now: remove it, and wait.
                        self.waiting().reports.insert(id.to_owned(), (name.to_owned(), v));
                        Some(ManagerChange::Remove)
                    }
                },
            },
        };
        // The manager is not there yet: look again once this PATCH is done.
        let waits = manager.is_some() && self.waiting().reports.contains_key(id);
        let typed = changes.iter().any(|c| {
            matches!(parse_path(&c.name), Ok(ScimPath::Typed { .. }))
                || matches!(parse_path(&c.name), Ok(ScimPath::Extension { path, .. }) if matches!(*path, ScimPath::Typed { .. }))
        });
        if !typed {
            let ops = rb::patch_operations(changes, manager_change.as_ref(), None, &quirks)
                .map_err(path_err("update"))?;
            if ops.is_empty() {
                // Nothing to send, but a missing account is still reported.
                return match self.read("update", id).await? {
                    Some(_) => Ok(()),
                    None => Err(TargetError::NotFound { operation: "update", id: id.to_owned() }),
                };
            }
            self.patch("update", id, ops).await?;
            if waits {
                self.look_again(id).await;
            }
            return Ok(());
        }
        // Typed paths: whether an element is added or replaced depends on
        // the resource as read, so the PATCH carries that version (If-Match)
        // and a 412 (changed meanwhile) reads it again and retries once.
        for attempt in 0..2 {
            let Some(current) = self.read("update", id).await? else {
                return Err(TargetError::NotFound { operation: "update", id: id.to_owned() });
            };
            let ops =
                rb::patch_operations(changes, manager_change.as_ref(), Some(&current), &quirks)
                    .map_err(path_err("update"))?;
            let version =
                current.get("meta").and_then(|m| m.get("version")).and_then(Value::as_str);
            if !self.patch_at("update", id, ops, version).await? {
                if waits {
                    self.look_again(id).await;
                }
                return Ok(());
            }
            tracing::info!(
                id,
                attempt,
                "SCIM resource changed since it was read (412); reading it again"
            );
        }
        Err(TargetError::Unavailable {
            operation: "update",
            message: format!(
                "user {id} changed twice while hrsync updated it (HTTP 412 twice); tried again next cycle"
            ),
        })
    }

    async fn disable(&self, id: &str) -> Result<(), TargetError> {
        self.leave_fresh("a user is disabled");
        let change = [AttributeUpdate {
            name: hrsync_target::attr::ACCOUNT_DISABLED.into(),
            value: hrsync_target::attr::flag_value(true),
        }];
        let ops = rb::patch_operations(&change, None, None, &self.config().quirks)
            .map_err(path_err("disable"))?;
        self.patch("disable", id, ops).await
    }

    async fn delete(&self, id: &str) -> Result<(), TargetError> {
        self.leave_fresh("a user is deleted");
        let url = self.service.url(&format!("/Users/{}", id_segment(id)));
        let answer = self.service.send("delete", Method::DELETE, &url, &[], None).await?;
        match answer.status {
            s if s.is_success() => {
                self.waiting().reports.remove(id);
                self.managers().retain(|_, (m, _)| m != id);
                Ok(())
            }
            StatusCode::NOT_FOUND => {
                Err(TargetError::NotFound { operation: "delete", id: id.to_owned() })
            }
            _ => Err(self.failure("delete", &answer, None)),
        }
    }

    async fn is_taken(
        &self,
        attribute: &str,
        value: &str,
        except_id: Option<&str>,
    ) -> Result<bool, TargetError> {
        // In fresh mode the app holds exactly the users this cycle created
        // (any other write ends fresh mode), so the index is the answer: a
        // uniqueness check needs ids, not the resources read back.
        if let Some(ids) = self.fresh_holders(attribute, value) {
            return Ok(ids.iter().any(|id| Some(id.as_str()) != except_id));
        }
        let found = self.find(attribute, value).await?;
        Ok(found.iter().any(|o| Some(o.id.as_str()) != except_id))
    }

    async fn taken(
        &self,
        attribute: &str,
        candidates: &[String],
    ) -> Result<HashSet<String>, TargetError> {
        // As in `is_taken`: in fresh mode the index knows every holder.
        // One lock for all candidates, so fresh mode cannot end half-way.
        let exact = parse_path(attribute).map(|p| rb::case_exact(&p)).unwrap_or(true);
        if let Some(fresh) = self.fresh().as_ref() {
            return Ok(candidates
                .iter()
                .filter(|c| !fresh.holders(attribute, c, exact).is_empty())
                .cloned()
                .collect());
        }
        Ok(self.find_many(attribute, candidates).await?.into_keys().collect())
    }

    async fn requirements(
        &self,
    ) -> Result<Vec<hrsync_target::requirements::Requirement>, TargetError> {
        let c = self.config();
        crate::schema::requirements(&self.service, c.profile, c.schema_file.as_deref()).await
    }

    fn preview(&self, write: hrsync_target::Preview<'_>) -> Vec<String> {
        let quirks = self.config().quirks;
        let (method, path, body) = match write {
            hrsync_target::Preview::Create(attributes) => {
                // The manager's SCIM id is looked up when the request is sent.
                match rb::create_body(attributes, None, &quirks) {
                    Ok(b) => (Method::POST, "/Users".to_owned(), b),
                    Err(e) => return vec![e.to_string()],
                }
            }
            hrsync_target::Preview::Update { id, changes } => {
                match rb::patch_operations(changes, None, None, &quirks) {
                    Ok(ops) if ops.is_empty() => return Vec::new(),
                    Ok(ops) => {
                        (Method::PATCH, format!("/Users/{}", id_segment(id)), rb::patch_body(ops))
                    }
                    Err(e) => return vec![e.to_string()],
                }
            }
        };
        let manager = matches!(write, hrsync_target::Preview::Create(a) if manager_of(a.iter()).is_some())
            || matches!(write, hrsync_target::Preview::Update { changes, .. } if manager_of(changes.iter().map(|c| (&c.name, &c.value))).is_some());
        let mut text = format!("{method} {}{path} {}", self.config().base(), rb::redacted(&body));
        if manager {
            text.push_str(
                " (and the manager, as manager.value = their SCIM id, looked up when sent)",
            );
        }
        vec![text]
    }

    fn record_exchanges(&self, on: bool) {
        self.service.record(on);
    }

    fn take_exchanges(&self) -> Vec<String> {
        self.service.take_exchanges()
    }

    async fn begin_cycle(&self, scope: CycleScope) {
        *self.fresh() = None;
        if scope != CycleScope::All || !self.config().fast_first_load {
            return;
        }
        match self.count_users().await {
            Ok(Some(0)) => {
                tracing::info!(
                    "the SCIM app holds no user: this full cycle answers its lookups from the users it creates"
                );
                *self.fresh() = Some(Fresh::default());
            }
            Ok(_) => {}
            // The cycle's own requests will meet the same trouble and say so.
            Err(e) => tracing::debug!(error = %e, "counting the SCIM app's users failed"),
        }
    }

    fn unapplied(&self) -> Vec<(String, String)> {
        self.waiting().reports.iter().map(|(id, (name, _))| (id.clone(), name.clone())).collect()
    }
}
