//! The trait operations over [`Service`]: finding users by `$filter`,
//! creating them with a generated password, PATCHing only what changed,
//! disabling with a leave date, manager references, all writes through
//! the `$batch` collector.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use async_trait::async_trait;
use futures_util::future::join_all;
use reqwest::Method;
use serde_json::{Map, Value};

use hrsync_target::{AttributeUpdate, Attributes, CheckStep, Target, TargetError, TargetObject};

use crate::GraphConfig;
use crate::properties::{self, ACCOUNT_ENABLED, BASE_SELECT};
use crate::request_builder::{
    self as rb, IN_CHUNK, InitialPassword, ItemFailure, ItemOutcome, Write, eq_filter, in_filter,
    segment,
};
use crate::service::{Bearer, Service, ServiceError, Stats, failure};
use crate::token::TokenClient;

/// The property a manager's matching value is looked up by: the mapping's
/// `manager` holds the manager's personIdExternal, which is their employeeId.
const MANAGER_KEY: &str = "employeeId";

/// How long a manager's object id is trusted without asking again.
const MANAGER_CACHE: std::time::Duration = std::time::Duration::from_secs(60);

fn rejected(operation: &'static str, message: impl Into<String>) -> TargetError {
    TargetError::Rejected { operation, message: message.into() }
}

/// Microsoft Entra ID users through Microsoft Graph v1.0.
///
/// Attribute names are Graph user properties (`displayName`,
/// `employeeOrgData.costCenter`), plus the shared conventions:
/// `accountDisabled` is written as `accountEnabled` (inverted), and
/// `manager` holds the manager's matching value (their employeeId), which
/// the target resolves to an object id and writes as the `manager`
/// reference, in the same `$batch` as a create (by the new user's
/// userPrincipalName, after the create) or an update. A manager not
/// provisioned yet is listed by [`Target::unapplied`] and linked as soon as
/// this target creates them.
///
/// Graph compares filter values ignoring case, so [`Target::comparison`]
/// is the default, case-insensitive.
pub struct GraphTarget {
    service: Service,
    /// Report id -> their manager's matching value, for managers not there yet.
    waiting: Mutex<HashMap<String, String>>,
    /// Manager matching value -> (object id, when found).
    managers: Mutex<HashMap<String, (String, Instant)>>,
    /// Top-level properties read back with `$select`: the built-in set plus
    /// those a write was accepted with.
    select: Mutex<BTreeSet<String>>,
    /// Graph refused an `in` filter: look values up one `eq` at a time.
    no_in: AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Why a Graph target could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("{0}")]
    Service(#[from] ServiceError),
    #[error("target.connection.{field}: {reason}")]
    Config { field: &'static str, reason: String },
    #[error("{0}")]
    Token(String),
}

/// The token client as the HTTP side's token source.
#[async_trait]
impl Bearer for TokenClient {
    async fn token(&self) -> Result<secrecy::SecretString, String> {
        TokenClient::token(self).await.map_err(|e| e.explanation())
    }
    fn invalidate(&self, token: &secrecy::SecretString) {
        TokenClient::invalidate(self, token)
    }
}

impl GraphTarget {
    /// A target authenticating as the config says (certificate, federated
    /// token or client secret); the key files are read now, nothing is
    /// sent yet.
    pub fn new(config: GraphConfig) -> Result<Self, BuildError> {
        if let Some(p) = config.problems().into_iter().next() {
            return Err(BuildError::Config { field: p.field, reason: p.message });
        }
        let http = Service::http_client(&config)?;
        let tokens =
            TokenClient::new(&config, http).map_err(|e| BuildError::Token(e.explanation()))?;
        Self::with_bearer(config, Box::new(tokens))
    }

    /// A target sending with `bearer`'s tokens; nothing is sent yet.
    pub fn with_bearer(config: GraphConfig, bearer: Box<dyn Bearer>) -> Result<Self, BuildError> {
        if let Some(p) = config.problems().into_iter().next() {
            return Err(BuildError::Config { field: p.field, reason: p.message });
        }
        let client = Service::http_client(&config)?;
        Ok(GraphTarget {
            service: Service::new(config, bearer, client)?,
            waiting: Mutex::new(HashMap::new()),
            managers: Mutex::new(HashMap::new()),
            select: Mutex::new(BASE_SELECT.iter().map(|s| (*s).to_owned()).collect()),
            no_in: AtomicBool::new(false),
        })
    }

    /// Request counters (requests, batches, items, throttling waits).
    pub fn stats(&self) -> Stats {
        self.service.stats()
    }

    fn select(&self) -> String {
        lock(&self.select).iter().cloned().collect::<Vec<_>>().join(",")
    }

    fn learn(&self, attributes: impl IntoIterator<Item = String>) {
        let mut select = lock(&self.select);
        for a in attributes {
            let top = properties::top_level(&a).to_owned();
            if !properties::is_manager(&top)
                && !hrsync_target::attr::is_secret(&top)
                && !top.eq_ignore_ascii_case(hrsync_target::attr::ACCOUNT_DISABLED)
            {
                select.insert(top);
            }
        }
    }

    fn user_path(id: &str) -> String {
        format!("/users/{}", segment(id))
    }

    fn object(user: &Map<String, Value>) -> Option<TargetObject> {
        let id = user.get("id")?.as_str()?.to_owned();
        let attributes = properties::flatten(user);
        let enabled = user.get(ACCOUNT_ENABLED).and_then(Value::as_bool).or(Some(true));
        let name = user.get("userPrincipalName").and_then(Value::as_str).map(str::to_owned);
        Some(TargetObject { id, name, attributes, enabled })
    }

    fn objects(operation: &'static str, page: &Value) -> Result<Vec<TargetObject>, TargetError> {
        page.get("value")
            .and_then(Value::as_array)
            .ok_or_else(|| rejected(operation, "a user list without `value`"))?
            .iter()
            .map(|u| {
                u.as_object()
                    .and_then(Self::object)
                    .ok_or_else(|| rejected(operation, "a user without an id"))
            })
            .collect()
    }

    /// [`Target::find_many`] with `in` filters of [`IN_CHUNK`] values, up
    /// to 20 of them in one `$batch`: a page of 100 lookups is one request
    /// instead of five, and one item per 15 values instead of one per value.
    /// Each value gets the users whose attribute equals it ignoring case,
    /// as Graph's `eq` compares.
    async fn find_in(
        &self,
        attribute: &str,
        values: &[&String],
    ) -> Result<HashMap<String, Vec<TargetObject>>, TargetError> {
        let filters: Vec<&[&String]> = values.chunks(IN_CHUNK).collect();
        let per_batch: Vec<&[&[&String]]> = filters.chunks(rb::MAX_BATCH).collect();
        let answers = join_all(per_batch.iter().map(|batch| async move {
            let paths: Vec<String> = batch
                .iter()
                .map(|chunk| {
                    format!(
                        "/users?$filter={}&$select={}&$top=999",
                        in_filter(attribute, chunk),
                        self.select()
                    )
                })
                .collect();
            let outcomes = self.service.read_batch("find", &paths).await?;
            let mut found = Vec::new();
            for outcome in outcomes {
                let page = page_or_error("find", outcome)?;
                found.extend(self.rest_of_pages("find", page).await?);
            }
            Ok::<_, TargetError>(found)
        }))
        .await;
        let mut by_value: HashMap<String, Vec<TargetObject>> = HashMap::new();
        for found in answers {
            for object in found? {
                if let Some(text) = object.attributes.get(attribute).and_then(text_of) {
                    by_value.entry(text.to_lowercase()).or_default().push(object);
                }
            }
        }
        let mut out = HashMap::new();
        for v in values {
            if let Some(objects) = by_value.get(&v.to_lowercase()) {
                let mut objects = objects.clone();
                objects.dedup_by(|a, b| a.id == b.id);
                out.insert((*v).clone(), objects);
            }
        }
        Ok(out)
    }

    fn find_path(&self, attribute: &str, value: &str) -> String {
        format!("/users?$filter={}&$select={}", eq_filter(attribute, value), self.select())
    }

    /// Users on a page and the pages after it (`@odata.nextLink`).
    async fn rest_of_pages(
        &self,
        operation: &'static str,
        mut page: Value,
    ) -> Result<Vec<TargetObject>, TargetError> {
        let mut out = Self::objects(operation, &page)?;
        while let Some(next) = page.get("@odata.nextLink").and_then(Value::as_str) {
            let prefix = self.service.url("");
            let path = next.strip_prefix(&prefix).unwrap_or(next).to_owned();
            let answer = self.service.send(operation, Method::GET, &path, None).await?;
            if !answer.status.is_success() {
                return Err(failure(operation, &answer));
            }
            page = answer.json().ok_or_else(|| rejected(operation, "a page that is not JSON"))?;
            out.extend(Self::objects(operation, &page)?);
        }
        Ok(out)
    }

    /// The object id of the manager whose employeeId is `value`.
    async fn resolve_manager(
        &self,
        operation: &'static str,
        value: &str,
    ) -> Result<Option<String>, TargetError> {
        if let Some((id, at)) = lock(&self.managers).get(value)
            && at.elapsed() < MANAGER_CACHE
        {
            return Ok(Some(id.clone()));
        }
        let found = self.find(MANAGER_KEY, value).await?;
        match found.as_slice() {
            [one] => {
                lock(&self.managers).insert(value.to_owned(), (one.id.clone(), Instant::now()));
                Ok(Some(one.id.clone()))
            }
            [] => Ok(None),
            many => {
                tracing::warn!(
                    operation,
                    manager = value,
                    count = many.len(),
                    "more than one Entra user holds the manager's employeeId; the manager is not set"
                );
                Ok(None)
            }
        }
    }

    fn manager_put(&self, key: &str, user: &str, manager_id: &str, after: Option<&str>) -> Write {
        Write {
            key: key.into(),
            method: rb::Method::Put,
            url: rb::manager_ref_path(user),
            body: Some(rb::manager_ref_body(&self.service.config().graph_url, manager_id)),
            after: after.map(str::to_owned),
        }
    }

    /// A report was put on the waiting list: their manager may have been
    /// created meanwhile (by a create in flight together with this one,
    /// which found nobody waiting yet), so look once more and link.
    async fn look_again(&self, report: &str) {
        let Some(value) = lock(&self.waiting).get(report).cloned() else { return };
        match self.resolve_manager("update", &value).await {
            Ok(Some(mid)) => self.link(report, &value, &mid).await,
            Ok(None) => {}
            Err(e) => tracing::debug!(report, error = %e, "looking for a manager again failed"),
        }
    }

    /// Link a waiting report to their manager. The report leaves the
    /// waiting list before the PUT, so a report is linked once even when
    /// the manager's create and the report's second look race; a failed
    /// link puts them back.
    async fn link(&self, report: &str, manager_value: &str, manager_id: &str) {
        if lock(&self.waiting).remove(report).is_none() {
            return;
        }
        let w = self.manager_put("manager", report, manager_id, None);
        let failed = match self.service.write("update", vec![w]).await {
            Ok(o) if matches!(o.first(), Some((_, ItemOutcome::Ok(_)))) => None,
            Ok(o) => Some(format!("{:?}", o.first().map(|(_, o)| o))),
            Err(e) => Some(e.to_string()),
        };
        if let Some(why) = failed {
            tracing::warn!(
                report,
                why,
                "linking a report to their manager failed; tried again next cycle"
            );
            lock(&self.waiting)
                .entry(report.to_owned())
                .or_insert_with(|| manager_value.to_owned());
        }
    }

    /// Link reports that waited for the manager whose employeeId is `own`.
    async fn link_waiting_reports(&self, own: &str, manager_id: &str) {
        let reports: Vec<(String, String)> = lock(&self.waiting)
            .iter()
            .filter(|(_, m)| m.eq_ignore_ascii_case(own))
            .map(|(r, m)| (r.clone(), m.clone()))
            .collect();
        join_all(reports.iter().map(|(report, value)| self.link(report, value, manager_id))).await;
    }

    /// The error for a failed item, with Graph's code, message and request id.
    fn item_error(operation: &'static str, f: &ItemFailure, upn: Option<&str>) -> TargetError {
        let message = f.to_string();
        let text = f.message.as_deref().unwrap_or_default();
        if text.contains("already exists")
            || f.code.as_deref() == Some("Request_MultipleObjectsWithSameKeyValue")
        {
            let attribute =
                ["userPrincipalName", "mailNickname", "employeeId", "mail", "proxyAddresses"]
                    .into_iter()
                    .find(|a| text.contains(a))
                    .unwrap_or("userPrincipalName");
            return TargetError::AlreadyExists {
                operation,
                attribute: attribute.into(),
                value: if attribute == "userPrincipalName" {
                    upn.unwrap_or_default().into()
                } else {
                    String::new()
                },
            };
        }
        match f.status {
            404 if f.code.as_deref() == Some("Request_ResourceNotFound") => {
                TargetError::NotFound { operation, id: String::new() }
            }
            401 | 403 => TargetError::Unreachable {
                operation,
                message: format!(
                    "Microsoft Graph refused hrsync ({message}): check the app's User.ReadWrite.All permission and admin consent"
                ),
            },
            s if s >= 500 => TargetError::Unavailable { operation, message },
            _ => TargetError::Rejected { operation, message },
        }
    }

    async fn read_user(
        &self,
        operation: &'static str,
        id: &str,
    ) -> Result<Option<Map<String, Value>>, TargetError> {
        let path = format!("{}?$select={}", Self::user_path(id), self.select());
        let answer = self.service.send(operation, Method::GET, &path, None).await?;
        match answer.status.as_u16() {
            404 => Ok(None),
            s if (200..300).contains(&s) => Ok(answer.json().and_then(|v| v.as_object().cloned())),
            _ => Err(failure(operation, &answer)),
        }
    }
}

fn text_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn page_or_error(operation: &'static str, outcome: ItemOutcome) -> Result<Value, TargetError> {
    match outcome {
        ItemOutcome::Ok(Some(v)) => Ok(v),
        ItemOutcome::Ok(None) => Err(rejected(operation, "an empty answer to a user search")),
        ItemOutcome::Failed(f) => Err(GraphTarget::item_error(operation, &f, None)),
        ItemOutcome::Retry { .. } => {
            Err(TargetError::Unavailable { operation, message: "throttled".into() })
        }
    }
}

#[async_trait]
impl Target for GraphTarget {
    fn kind(&self) -> &'static str {
        "graph"
    }

    fn secret_attributes(&self) -> &[&'static str] {
        &["passwordProfile", "passwordProfile.password"]
    }

    async fn check(&self) -> Vec<CheckStep> {
        crate::health::check(&self.service).await
    }

    async fn find(&self, attribute: &str, value: &str) -> Result<Vec<TargetObject>, TargetError> {
        let answer =
            self.service.send("find", Method::GET, &self.find_path(attribute, value), None).await?;
        if !answer.status.is_success() {
            return Err(failure("find", &answer));
        }
        let page = answer.json().ok_or_else(|| rejected("find", "an answer that is not JSON"))?;
        self.rest_of_pages("find", page).await
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
        if !self.no_in.load(Ordering::Relaxed) && unique.len() > 1 {
            match self.find_in(attribute, &unique).await {
                Ok(found) => return Ok(found),
                Err(TargetError::Rejected { message, .. })
                    if message.contains("Request_UnsupportedQuery")
                        || message.contains("HTTP 400") =>
                {
                    tracing::info!(%message, attribute, "Graph refuses `in` filters here; looking values up one by one");
                    self.no_in.store(true, Ordering::Relaxed);
                }
                Err(e) => return Err(e),
            }
        }
        // One `$batch` of up to 20 filters per request, the chunks in flight
        // together (bounded by `concurrency`).
        let chunks: Vec<&[&String]> = unique.chunks(rb::MAX_BATCH).collect();
        let answers = join_all(chunks.iter().map(|chunk| async move {
            let paths: Vec<String> = chunk.iter().map(|v| self.find_path(attribute, v)).collect();
            let outcomes = self.service.read_batch("find", &paths).await?;
            let mut out = Vec::new();
            for (v, outcome) in chunk.iter().zip(outcomes) {
                let page = page_or_error("find", outcome)?;
                out.push(((*v).clone(), self.rest_of_pages("find", page).await?));
            }
            Ok::<_, TargetError>(out)
        }))
        .await;
        let mut out = HashMap::new();
        for chunk in answers {
            for (v, found) in chunk? {
                if !found.is_empty() {
                    out.insert(v, found);
                }
            }
        }
        Ok(out)
    }

    async fn get(&self, id: &str) -> Result<Option<TargetObject>, TargetError> {
        // The user and their manager in one request.
        let paths = [
            format!("{}?$select={}", Self::user_path(id), self.select()),
            format!("{}/manager", Self::user_path(id)),
        ];
        let mut outcomes = self.service.read_batch("get", &paths).await?.into_iter();
        let (user, manager) = (outcomes.next(), outcomes.next());
        let user = match user {
            Some(ItemOutcome::Ok(Some(Value::Object(u)))) => u,
            Some(ItemOutcome::Failed(f)) if f.status == 404 => return Ok(None),
            Some(ItemOutcome::Failed(f)) => return Err(Self::item_error("get", &f, None)),
            _ => return Err(rejected("get", "an unreadable answer for a user")),
        };
        let mut object =
            Self::object(&user).ok_or_else(|| rejected("get", "a user without an id"))?;
        // Graph holds a reference: report the manager by name (their
        // userPrincipalName), as every target resolving managers does.
        if let Some(ItemOutcome::Ok(Some(m))) = manager {
            let name = m
                .get("userPrincipalName")
                .and_then(text_of)
                .or_else(|| m.get("id").and_then(text_of));
            if let Some(name) = name {
                object.attributes.insert(hrsync_target::attr::MANAGER.into(), Value::String(name));
            }
        }
        Ok(Some(object))
    }

    async fn create(&self, attributes: &Attributes) -> Result<TargetObject, TargetError> {
        let props = properties::nest(attributes).map_err(|e| rejected("create", e.to_string()))?;
        let password = InitialPassword::generate().map_err(|e| TargetError::Unavailable {
            operation: "create",
            message: e.to_string(),
        })?;
        let body =
            rb::create_body(&props, &password).map_err(|e| rejected("create", e.to_string()))?;
        let upn =
            props.get("userPrincipalName").and_then(Value::as_str).unwrap_or_default().to_owned();
        let manager = attributes
            .iter()
            .find(|(k, _)| properties::is_manager(k))
            .and_then(|(_, v)| text_of(v));
        let manager_id = match &manager {
            Some(m) => self.resolve_manager("create", m).await?,
            None => None,
        };
        let mut writes = vec![Write {
            key: "create".into(),
            method: rb::Method::Post,
            url: "/users".into(),
            body: Some(body),
            after: None,
        }];
        if let Some(mid) = &manager_id {
            // Graph addresses a user by userPrincipalName too: the link
            // needs no id, so it rides in the same batch, after the create.
            writes.push(self.manager_put("manager", &upn, mid, Some("create")));
        }
        let outcomes = self.service.write("create", writes).await?;
        let mut object = None;
        let mut linked = false;
        for (key, outcome) in outcomes {
            match (key.as_str(), outcome) {
                ("create", ItemOutcome::Ok(Some(Value::Object(u)))) => object = Self::object(&u),
                ("create", ItemOutcome::Failed(f)) => {
                    return Err(Self::item_error("create", &f, Some(&upn)));
                }
                ("manager", ItemOutcome::Ok(_)) => linked = true,
                ("manager", other) => {
                    tracing::warn!(user = %upn, outcome = ?other, "the new user's manager link failed; tried again next cycle");
                }
                _ => {}
            }
        }
        let object = object.ok_or_else(|| rejected("create", "the created user has no id"))?;
        self.learn(attributes.keys().cloned());
        if let Some(m) = &manager
            && !linked
        {
            lock(&self.waiting).insert(object.id.clone(), m.clone());
            self.look_again(&object.id).await;
        }
        // A manager created after their reports: link the reports now.
        if let Some(own) = props.get(MANAGER_KEY).and_then(text_of) {
            lock(&self.managers).insert(own.clone(), (object.id.clone(), Instant::now()));
            self.link_waiting_reports(&own, &object.id).await;
        }
        Ok(object)
    }

    async fn update(&self, id: &str, changes: &[AttributeUpdate]) -> Result<(), TargetError> {
        let manager = changes.iter().find(|c| properties::is_manager(&c.name));
        let rest: Vec<(String, Value)> = changes
            .iter()
            .filter(|c| !properties::is_manager(&c.name))
            .map(|c| (c.name.clone(), c.value.clone()))
            .collect();
        // `employeeOrgData` is sent whole: a field not changed comes from
        // what Graph holds.
        let partial_org = {
            let org: Vec<&str> = rest
                .iter()
                .filter(|(n, _)| n.starts_with("employeeOrgData."))
                .map(|(n, _)| n.as_str())
                .collect();
            org.len() == 1
        };
        let current = if partial_org { self.read_user("update", id).await? } else { None };
        let body = properties::patch(&rest, current.as_ref())
            .map_err(|e| rejected("update", e.to_string()))?;
        let mut writes = Vec::new();
        if !body.is_empty() {
            writes.push(Write {
                key: "patch".into(),
                method: rb::Method::Patch,
                url: Self::user_path(id),
                body: Some(Value::Object(body)),
                after: None,
            });
        }
        let after = (!writes.is_empty()).then_some("patch");
        let mut waits_for = None;
        if let Some(m) = manager {
            match text_of(&m.value) {
                None => {
                    lock(&self.waiting).remove(id);
                    writes.push(Write {
                        key: "manager".into(),
                        method: rb::Method::Delete,
                        url: rb::manager_ref_path(id),
                        body: None,
                        after: after.map(str::to_owned),
                    });
                }
                Some(v) => match self.resolve_manager("update", &v).await? {
                    Some(mid) => {
                        lock(&self.waiting).remove(id);
                        writes.push(self.manager_put("manager", id, &mid, after));
                    }
                    None => {
                        // The old link is wrong now: remove it, and wait.
                        waits_for = Some(v);
                        writes.push(Write {
                            key: "manager".into(),
                            method: rb::Method::Delete,
                            url: rb::manager_ref_path(id),
                            body: None,
                            after: after.map(str::to_owned),
                        });
                    }
                },
            }
        }
        if writes.is_empty() {
            // Nothing to send, but a missing account is still reported.
            return match self.read_user("update", id).await? {
                Some(_) => Ok(()),
                None => Err(TargetError::NotFound { operation: "update", id: id.to_owned() }),
            };
        }
        let outcomes = self.service.write("update", writes).await?;
        for (key, outcome) in outcomes {
            match (key.as_str(), outcome) {
                (_, ItemOutcome::Ok(_)) => {}
                ("manager", ItemOutcome::Failed(f)) if f.status == 404 && waits_for.is_some() => {}
                // Removing a manager that is not set: nothing to remove.
                ("manager", ItemOutcome::Failed(f))
                    if f.status == 404 && manager.is_some_and(|m| text_of(&m.value).is_none()) => {}
                (_, ItemOutcome::Failed(f)) if f.status == 404 && key == "patch" => {
                    return Err(TargetError::NotFound { operation: "update", id: id.to_owned() });
                }
                (_, ItemOutcome::Failed(f)) => return Err(Self::item_error("update", &f, None)),
                (_, ItemOutcome::Retry { .. }) => {
                    return Err(TargetError::Unavailable {
                        operation: "update",
                        message: "throttled".into(),
                    });
                }
            }
        }
        self.learn(rest.into_iter().map(|(n, _)| n));
        if let Some(v) = waits_for {
            lock(&self.waiting).insert(id.to_owned(), v);
            self.look_again(id).await;
        }
        Ok(())
    }

    async fn disable(&self, id: &str) -> Result<(), TargetError> {
        // Lifecycle Workflows' leaver triggers read employeeLeaveDateTime:
        // a disabled account without one gets today's.
        let Some(current) = self.read_user("disable", id).await? else {
            return Err(TargetError::NotFound { operation: "disable", id: id.to_owned() });
        };
        let has_leave = current.get("employeeLeaveDateTime").is_some_and(|v| !v.is_null());
        let body = if has_leave {
            rb::disable_body()
        } else {
            rb::termination_body(jiff::Timestamp::now())
        };
        let w = Write {
            key: "patch".into(),
            method: rb::Method::Patch,
            url: Self::user_path(id),
            body: Some(body),
            after: None,
        };
        match self.service.write("disable", vec![w]).await?.into_iter().next() {
            Some((_, ItemOutcome::Ok(_))) => Ok(()),
            Some((_, ItemOutcome::Failed(f))) if f.status == 404 => {
                Err(TargetError::NotFound { operation: "disable", id: id.to_owned() })
            }
            Some((_, ItemOutcome::Failed(f))) => Err(Self::item_error("disable", &f, None)),
            _ => {
                Err(TargetError::Unavailable { operation: "disable", message: "no answer".into() })
            }
        }
    }

    async fn delete(&self, id: &str) -> Result<(), TargetError> {
        let w = Write {
            key: "delete".into(),
            method: rb::Method::Delete,
            url: Self::user_path(id),
            body: None,
            after: None,
        };
        match self.service.write("delete", vec![w]).await?.into_iter().next() {
            Some((_, ItemOutcome::Ok(_))) => {
                lock(&self.waiting).remove(id);
                lock(&self.managers).retain(|_, (m, _)| m != id);
                Ok(())
            }
            Some((_, ItemOutcome::Failed(f))) if f.status == 404 => {
                Err(TargetError::NotFound { operation: "delete", id: id.to_owned() })
            }
            Some((_, ItemOutcome::Failed(f))) => Err(Self::item_error("delete", &f, None)),
            _ => Err(TargetError::Unavailable { operation: "delete", message: "no answer".into() }),
        }
    }

    async fn is_taken(
        &self,
        attribute: &str,
        value: &str,
        except_id: Option<&str>,
    ) -> Result<bool, TargetError> {
        let found = self.find(attribute, value).await?;
        Ok(found.iter().any(|o| Some(o.id.as_str()) != except_id))
    }

    async fn taken(
        &self,
        attribute: &str,
        candidates: &[String],
    ) -> Result<HashSet<String>, TargetError> {
        Ok(self.find_many(attribute, candidates).await?.into_keys().collect())
    }

    async fn requirements(
        &self,
    ) -> Result<Vec<hrsync_target::requirements::Requirement>, TargetError> {
        // The configured domain is the verified one user principal names
        // are made in; without it the domain is not checked.
        let domains: Vec<String> = self.service.config().domain.iter().cloned().collect();
        Ok(crate::rules::requirements(&domains))
    }

    fn preview(&self, write: hrsync_target::Preview<'_>) -> Vec<String> {
        let base = self.service.url("");
        match write {
            hrsync_target::Preview::Create(attributes) => {
                let props = match properties::nest(attributes) {
                    Ok(p) => p,
                    Err(e) => return vec![e.to_string()],
                };
                let mut body = props.clone();
                body.entry(ACCOUNT_ENABLED).or_insert(Value::Bool(true));
                body.insert(
                    "passwordProfile".into(),
                    serde_json::json!({"password": "<generated, never stored>", "forceChangePasswordNextSignIn": true}),
                );
                let mut out = vec![format!("POST {base}/users {}", Value::Object(body))];
                if attributes.keys().any(|k| properties::is_manager(k)) {
                    out.push(format!("PUT {base}/users/{{userPrincipalName}}/manager/$ref (the manager's object id, looked up when sent; same $batch, after the create)"));
                }
                out
            }
            hrsync_target::Preview::Update { id, changes } => {
                let rest: Vec<(String, Value)> = changes
                    .iter()
                    .filter(|c| !properties::is_manager(&c.name))
                    .map(|c| (c.name.clone(), c.value.clone()))
                    .collect();
                let mut out = Vec::new();
                match properties::patch(&rest, None) {
                    Ok(b) if b.is_empty() => {}
                    Ok(b) => out.push(format!(
                        "PATCH {base}{} {}",
                        Self::user_path(id),
                        Value::Object(b)
                    )),
                    Err(e) => out.push(e.to_string()),
                }
                if let Some(m) = changes.iter().find(|c| properties::is_manager(&c.name)) {
                    out.push(match text_of(&m.value) {
                        Some(_) => format!(
                            "PUT {base}{} (the manager's object id, looked up when sent)",
                            rb::manager_ref_path(id)
                        ),
                        None => format!("DELETE {base}{}", rb::manager_ref_path(id)),
                    });
                }
                out
            }
        }
    }

    fn record_exchanges(&self, on: bool) {
        self.service.record(on);
    }

    fn take_exchanges(&self) -> Vec<String> {
        self.service.take_exchanges()
    }

    fn unapplied(&self) -> Vec<(String, String)> {
        lock(&self.waiting)
            .keys()
            .map(|id| (id.clone(), hrsync_target::attr::MANAGER.to_owned()))
            .collect()
    }
}
