//! [`LdapTarget`]: the [`Target`] operations over the pool.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use async_trait::async_trait;
use hrsync_target::{
    AttributeUpdate, Attributes, CheckStep, Comparison, Target, TargetError, TargetObject,
};
use ldap3::adapters::{Adapter, EntriesOnly, PagedResults};
use ldap3::controls::{ControlType, PostRead, PostReadResp};
use ldap3::{Mod, Scope, SearchEntry};
use serde_json::Value;

use crate::batch::{FILTER_CHUNK, group_by_key, is_attribute_description, or_filter};
use crate::cache::{Managers, TakenCache, fold};
use crate::config::{ConfigError, DisableStrategy, LdapConfig, Profile};
use crate::dn::{Dn, escape_filter_bytes, escape_filter_value};
use crate::request_builder::{
    AttrList, CreateRequest, MANAGER, UNICODE_PWD, USER_PASSWORD, add_attribute, classify_create,
    classify_update, dn_change, entry_id, guid_from_string, guid_to_string, id_attribute, is_uuid,
    no_strategy, raw_values, status_change, to_object,
};
use crate::service::{Context, OpError, Pool, map_error, success};

/// An LDAP directory or Active Directory domain as a provisioning target.
///
/// Attribute conventions (beyond plain LDAP attributes, which are written
/// as given: arrays are multi-valued, `null`/`""` removes the attribute):
/// - `parentDistinguishedName`: the container of the object. On create it
///   picks where the object goes (default: `default_container`); a changed
///   value moves the object (modDN with a new superior).
/// - the naming attribute (`cn` by default): the RDN value; a change renames.
/// - `accountDisabled`: `"True"`/`"False"`. AD: sets or clears the
///   ACCOUNTDISABLE bit of `userAccountControl` (512/514 for a normal
///   account), keeping every other bit. OpenLDAP: the configured
///   [`DisableStrategy`].
/// - `manager`: a DN is written as is; any other value is looked up as the
///   `manager_match_attribute` (`employeeID` on AD, `employeeNumber` on
///   OpenLDAP) of another object and replaced by its DN. DNs learned from
///   creates, finds and lookups are kept in a bounded in-memory cache
///   (size and age), dropped when the object is moved, renamed or deleted
///   through this target; a miss searches. A manager not found yet is left
///   unset and remembered (in memory: a restart forgets it): when an
///   object with that value is created later (the same cycle, usually,
///   possibly concurrently with the report), the reports are fixed up.
///   When an OpenLDAP entry is moved or renamed, reports holding its old DN
///   get the new one (AD does this itself).
/// - `unicodePwd` (AD only): a plain-text password, encoded as AD wants.
///   On create without one, a random 24-character password is set. AD
///   writes are refused unless the connection is LDAPS or StartTLS.
///
/// Ids are `objectGUID` in its usual text form (AD) or `entryUUID`.
///
/// Every operation takes `&self` and may run concurrently with any other
/// (the engine issues a page's writes together); the caches sit behind
/// short, never-awaited locks.
pub struct LdapTarget {
    pub(crate) config: Arc<LdapConfig>,
    pub(crate) pool: Pool,
    /// Manager DNs and reports waiting for their manager, see [`Managers`].
    managers: std::sync::Mutex<Managers>,
    /// Values known to be taken, see [`TakenCache`].
    taken: std::sync::Mutex<TakenCache>,
}

/// An entry's DN and the attributes an update needs.
struct Loaded {
    dn: String,
    entry: SearchEntry,
}

fn rejected(operation: &'static str, message: String) -> TargetError {
    TargetError::Rejected { operation, message }
}

fn construct(re: ldap3::ResultEntry) -> Result<SearchEntry, OpError> {
    // ldap3 panics on a malformed entry; a bad server answer must not take
    // the engine down.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| SearchEntry::construct(re)))
        .map_err(|_| OpError::Transport("the server sent a malformed search entry".into()))
}

impl LdapTarget {
    /// Validate the configuration and prepare the pool. No connection is
    /// made until the first operation (see [`Target::check`]).
    pub fn new(config: LdapConfig) -> Result<LdapTarget, ConfigError> {
        let config = Arc::new(config);
        let pool = Pool::new(config.clone())?;
        Ok(LdapTarget { config, pool, managers: Default::default(), taken: Default::default() })
    }

    pub fn config(&self) -> &LdapConfig {
        &self.config
    }

    /// Managers referenced by a report but not found yet: `(value of the
    /// manager match attribute, lower case; id of the report)`.
    pub fn pending_manager_references(&self) -> Vec<(String, String)> {
        self.managers().waiting()
    }

    fn managers(&self) -> std::sync::MutexGuard<'_, Managers> {
        self.managers.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn taken_cache(&self) -> std::sync::MutexGuard<'_, TakenCache> {
        self.taken.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn read_attributes(&self) -> Vec<String> {
        let mut a = vec!["*".to_owned(), id_attribute(self.config.profile).to_owned()];
        if self.config.profile == Profile::InetOrgPerson {
            a.push("modifyTimestamp".into());
        }
        a
    }

    /// Where uniqueness and manager lookups search: the domain root for AD
    /// (covers every OU; forest-wide UPN uniqueness needs the global catalog
    /// only when the forest has several domains), `base_dn` otherwise.
    fn uniqueness_base(&self) -> String {
        let base = Dn::parse(&self.config.base_dn).unwrap_or_default();
        match self.config.profile {
            Profile::ActiveDirectory if !base.domain_root().is_empty() => {
                base.domain_root().to_string()
            }
            _ => self.config.base_dn.clone(),
        }
    }

    /// A paged search; referrals (Samba and AD send them from the domain
    /// root) are skipped, never chased.
    pub(crate) async fn search(
        &self,
        operation: &'static str,
        base: &str,
        scope: Scope,
        filter: &str,
        attrs: &[String],
    ) -> Result<Vec<SearchEntry>, TargetError> {
        let page = self.config.page_size;
        self.pool
            .run(true, |mut l| {
                let attrs = attrs.to_vec();
                async move {
                    let adapters: Vec<Box<dyn Adapter<'_, String, Vec<String>>>> =
                        vec![Box::new(EntriesOnly::new()), Box::new(PagedResults::new(page))];
                    let mut stream =
                        l.streaming_search_with(adapters, base, scope, filter, attrs).await?;
                    let mut out = Vec::new();
                    while let Some(re) = stream.next().await? {
                        out.push(construct(re)?);
                    }
                    success(stream.finish().await)?;
                    Ok(out)
                }
            })
            .await
            .map_err(|e| map_error(&Context { operation, dn: base, id: None }, e))
    }

    /// The entry at `dn`, if it exists.
    pub(crate) async fn read_dn(
        &self,
        operation: &'static str,
        dn: &str,
    ) -> Result<Option<SearchEntry>, TargetError> {
        match self
            .search(operation, dn, Scope::Base, "(objectClass=*)", &self.read_attributes())
            .await
        {
            Ok(mut v) => Ok(v.pop()),
            Err(TargetError::Rejected { message, .. }) if message.starts_with("noSuchObject") => {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    fn id_filter(&self, id: &str) -> Option<String> {
        match self.config.profile {
            Profile::ActiveDirectory => {
                guid_from_string(id).map(|b| format!("(objectGUID={})", escape_filter_bytes(&b)))
            }
            Profile::InetOrgPerson => {
                is_uuid(id).then(|| format!("(entryUUID={})", escape_filter_value(id)))
            }
        }
    }

    async fn find_by_id(
        &self,
        operation: &'static str,
        id: &str,
    ) -> Result<Option<SearchEntry>, TargetError> {
        let Some(filter) = self.id_filter(id) else { return Ok(None) };
        let mut found = self
            .search(
                operation,
                &self.config.base_dn,
                Scope::Subtree,
                &filter,
                &self.read_attributes(),
            )
            .await?;
        Ok(found.pop())
    }

    async fn load(&self, operation: &'static str, id: &str) -> Result<Loaded, TargetError> {
        let entry = self
            .find_by_id(operation, id)
            .await?
            .ok_or_else(|| TargetError::NotFound { operation, id: id.to_owned() })?;
        Ok(Loaded { dn: entry.dn.clone(), entry })
    }

    /// `manager` as a DN: a DN as given, anything else from the cache or
    /// looked up (and then cached).
    async fn resolve_manager(
        &self,
        operation: &'static str,
        value: &str,
    ) -> Result<Option<String>, TargetError> {
        if Dn::parse(value).is_ok_and(|d| !d.is_empty()) {
            return Ok(Some(value.to_owned()));
        }
        if let Some(dn) = self.managers().dn(value) {
            return Ok(Some(dn));
        }
        let attr = self.config.manager_attribute();
        let filter = format!("({attr}={})", escape_filter_value(value));
        let found = self
            .search(operation, &self.config.base_dn, Scope::Subtree, &filter, &["1.1".to_owned()])
            .await?;
        match found.as_slice() {
            [] => Ok(None),
            [one] => {
                self.managers().learn(value, &one.dn);
                Ok(Some(one.dn.clone()))
            }
            many => Err(rejected(
                operation,
                format!("manager {attr}={value:?} is ambiguous: {} objects have it", many.len()),
            )),
        }
    }

    /// Cache the DNs of entries found by their manager match attribute
    /// (only then is every holder of a value in the answer, so a value two
    /// entries hold is known to be ambiguous).
    fn learn_managers<'a>(
        &self,
        attribute: &str,
        entries: impl IntoIterator<Item = &'a SearchEntry>,
    ) {
        let attr = self.config.manager_attribute();
        if !attribute.eq_ignore_ascii_case(attr) {
            return;
        }
        // Folded value -> (value, lower-case DN -> the server's spelling).
        let mut holders: HashMap<String, (String, HashMap<String, &str>)> = HashMap::new();
        for e in entries {
            for v in raw_values(e, attr) {
                let v = String::from_utf8_lossy(v);
                holders
                    .entry(fold(&v))
                    .or_insert_with(|| (v.into_owned(), HashMap::new()))
                    .1
                    .insert(e.dn.to_lowercase(), &e.dn);
            }
        }
        let mut managers = self.managers();
        for (value, dns) in holders.into_values() {
            match dns.values().next() {
                Some(dn) if dns.len() == 1 => managers.learn(&value, dn),
                _ => managers.forget_value(&value),
            }
        }
    }

    /// After a create: its values of the attributes uniqueness is checked on
    /// are taken now.
    fn remember_taken(&self, list: &AttrList) {
        let mut cache = self.taken_cache();
        for (name, vals) in list {
            let name = String::from_utf8_lossy(name);
            if !cache.watches(&name) {
                continue;
            }
            for v in vals {
                cache.insert(&name, &String::from_utf8_lossy(v));
            }
        }
    }

    /// After `dn` was created (or its match value set): remember it as the
    /// manager with that value and point the reports waiting for it at it.
    /// Failures are logged and kept for a later try.
    async fn fix_up_reports(&self, match_value: &str, dn: &str) {
        let ids = self.managers().created(match_value, dn);
        for id in ids {
            let change =
                [AttributeUpdate { name: MANAGER.into(), value: Value::String(dn.to_owned()) }];
            if let Err(e) = self.update(&id, &change).await {
                tracing::warn!(report = %id, manager = %dn, error = %e, "could not set the manager of a report; will retry");
                self.managers().keep_waiting(match_value, &id);
            }
        }
    }

    /// A report at `dn` was written without its manager `value`, which a
    /// lookup did not find: wait for it, unless it was created meanwhile
    /// (concurrently with the report) and is linked now.
    async fn await_manager(&self, operation: &'static str, value: &str, id: &str, dn: &str) {
        let Some(manager) = self.managers().wait_for(value, id) else { return };
        let change = [Mod::Replace(
            MANAGER.as_bytes().to_vec(),
            HashSet::from([manager.clone().into_bytes()]),
        )];
        if let Err(e) = self.modify(operation, dn, id, &change).await {
            tracing::warn!(report = %dn, %manager, error = %e, "could not set the manager of a report; will retry");
            self.managers().keep_waiting(value, id);
        }
    }

    /// After a move or rename: reports whose `manager` still holds the old
    /// DN get the new one. Active Directory keeps `manager` itself (a linked
    /// attribute); OpenLDAP only with the refint overlay, and without it the
    /// engine never sees the stale value (what it exported, the manager's id,
    /// did not change). Failures are logged: the move itself succeeded.
    async fn repoint_reports(&self, old_dn: &str, new_dn: &str) {
        if self.config.profile == Profile::ActiveDirectory {
            return;
        }
        let filter = format!("({MANAGER}={})", escape_filter_value(old_dn));
        let reports = match self
            .search(
                "manager fix-up",
                &self.config.base_dn,
                Scope::Subtree,
                &filter,
                &["1.1".to_owned()],
            )
            .await
        {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(old = %old_dn, new = %new_dn, error = %e, "could not look for reports of a moved manager");
                return;
            }
        };
        for report in reports {
            let change = [Mod::Replace(
                MANAGER.as_bytes().to_vec(),
                HashSet::from([new_dn.as_bytes().to_vec()]),
            )];
            if let Err(e) = self.modify("manager fix-up", &report.dn, "", &change).await {
                tracing::warn!(report = %report.dn, manager = %new_dn, error = %e, "could not point a report at its moved manager");
            }
        }
    }

    fn strategy(&self) -> Option<&DisableStrategy> {
        self.config.disable.as_ref()
    }

    async fn add(
        &self,
        operation: &'static str,
        dn: &str,
        attrs: &AttrList,
    ) -> Result<(), TargetError> {
        self.pool
            .run(false, |mut l| {
                let attrs = attrs.clone();
                async move { success(l.add(dn, attrs).await?).map(|_| ()) }
            })
            .await
            .map_err(|e| map_error(&Context { operation, dn, id: None }, e))
    }

    /// An add that asks for what the server assigned in the response
    /// (Post-Read, RFC 4527: OpenLDAP has it, AD does not), which saves the
    /// read-back round trip: the id, `modifyTimestamp` and the disabling
    /// attribute; the attributes written are added as written. Asking for
    /// the whole entry cost the server and us ~5 % more CPU per add.
    /// `None` when the server sent no entry back.
    async fn add_post_read(
        &self,
        operation: &'static str,
        dn: &str,
        attrs: &AttrList,
    ) -> Result<Option<SearchEntry>, TargetError> {
        let mut read =
            vec![id_attribute(self.config.profile).to_owned(), "modifyTimestamp".to_owned()];
        if let Some(DisableStrategy::Attribute { attribute, .. }) = self.strategy() {
            read.push(attribute.clone());
        }
        let entry = self
            .pool
            .run(false, |mut l| {
                let attrs = attrs.clone();
                let read = read.clone();
                async move {
                    let r = success(l.with_controls(PostRead::new(read)).add(dn, attrs).await?)?;
                    let Some(ctrl) =
                        r.ctrls.iter().find(|c| matches!(c.0, Some(ControlType::PostReadResp)))
                    else {
                        return Ok(None);
                    };
                    // ldap3 panics on a malformed control value; a bad server
                    // answer must not take the engine down.
                    let resp = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        ctrl.1.parse::<PostReadResp>()
                    }))
                    .map_err(|_| {
                        OpError::Transport("the server sent a malformed Post-Read control".into())
                    })?;
                    Ok(Some(SearchEntry {
                        dn: dn.to_owned(),
                        attrs: resp.attrs,
                        bin_attrs: resp.bin_attrs,
                    }))
                }
            })
            .await
            .map_err(|e| map_error(&Context { operation, dn, id: None }, e))?;
        Ok(entry.map(|mut e| {
            for (name, vals) in attrs {
                let name = String::from_utf8_lossy(name).into_owned();
                // A password is never handed back (the server hides it too).
                let secret = name.eq_ignore_ascii_case(USER_PASSWORD)
                    || name.eq_ignore_ascii_case(UNICODE_PWD);
                if secret || e.attrs.keys().any(|k| k.eq_ignore_ascii_case(&name)) {
                    continue;
                }
                // Text only, as a search would return it (binary values go
                // to `bin_attrs` there, and the engine does not read them).
                if let Ok(v) =
                    vals.iter().map(|b| String::from_utf8(b.clone())).collect::<Result<Vec<_>, _>>()
                {
                    e.attrs.insert(name, v);
                }
            }
            e
        }))
    }

    async fn modify(
        &self,
        operation: &'static str,
        dn: &str,
        id: &str,
        mods: &[Mod<Vec<u8>>],
    ) -> Result<(), TargetError> {
        self.pool
            .run(false, |mut l| {
                let mods = mods.to_vec();
                async move { success(l.modify(dn, mods).await?).map(|_| ()) }
            })
            .await
            .map_err(|e| map_error(&Context { operation, dn, id: Some(id) }, e))
    }

    async fn modify_dn(
        &self,
        operation: &'static str,
        dn: &str,
        id: &str,
        rdn: &str,
        new_parent: Option<&str>,
    ) -> Result<(), TargetError> {
        self.pool
            .run(false, |mut l| async move {
                success(l.modifydn(dn, rdn, true, new_parent).await?).map(|_| ())
            })
            .await
            .map_err(|e| map_error(&Context { operation, dn, id: Some(id) }, e))
    }

    /// An update: the entry is read (its DN, status and account control),
    /// the changes sorted into requests ([`classify_update`]), the manager
    /// resolved, then one modDN (rename and move) before one modify.
    async fn do_update(
        &self,
        operation: &'static str,
        id: &str,
        changes: &[AttributeUpdate],
    ) -> Result<(), TargetError> {
        let loaded = self.load(operation, id).await?;
        let mut dn = loaded.dn.clone();
        let request = classify_update(&self.config, operation, changes)?;
        let mut mods = request.mods;
        let mut pending_manager: Option<String> = None;
        match &request.manager {
            None => {}
            Some(None) => mods.push(Mod::Replace(MANAGER.as_bytes().to_vec(), HashSet::new())),
            Some(Some(m)) => match self.resolve_manager(operation, m).await? {
                Some(mdn) => mods.push(Mod::Replace(
                    MANAGER.as_bytes().to_vec(),
                    HashSet::from([mdn.into_bytes()]),
                )),
                None => pending_manager = Some(m.clone()),
            },
        }
        let (status, target_parent) = status_change(
            &self.config,
            operation,
            &loaded.entry,
            request.disabled,
            request.new_parent,
        )?;
        mods.extend(status);
        // Rename and move in one modDN, before the attribute writes.
        if let Some(m) =
            dn_change(&self.config, operation, &dn, request.new_rdn_value, target_parent)?
        {
            self.modify_dn(operation, &dn, id, &m.rdn, m.new_superior.as_deref()).await?;
            let old = std::mem::replace(&mut dn, m.new_dn);
            self.managers().forget_dn(&old);
            self.repoint_reports(&old, &dn).await;
        }
        if !mods.is_empty() {
            self.modify(operation, &dn, id, &mods).await?;
        }
        if let Some(m) = pending_manager {
            self.await_manager(operation, &m, id, &dn).await;
        } else if request.manager.is_some() {
            self.managers().forget_report(id);
        }
        if let Some(v) = request.new_match_value {
            // Its old match value no longer leads here.
            self.managers().forget_dn(&dn);
            self.fix_up_reports(&v, &dn).await;
        }
        Ok(())
    }

    fn is_id_attribute(&self, attribute: &str) -> bool {
        attribute.eq_ignore_ascii_case(id_attribute(self.config.profile))
    }

    /// How a value of `attribute` compares (see [`fold`]); `None`: it can
    /// match nothing (not an id, for the id attribute).
    fn match_key(&self, attribute: &str, value: &str) -> Option<String> {
        if !self.is_id_attribute(attribute) {
            return Some(fold(value));
        }
        match self.config.profile {
            Profile::ActiveDirectory => guid_from_string(value).and_then(|b| guid_to_string(&b)),
            Profile::InetOrgPerson => is_uuid(value).then(|| fold(value)),
        }
    }

    /// The equality filter of one value.
    fn value_filter(&self, attribute: &str, value: &str) -> Option<String> {
        if self.is_id_attribute(attribute) {
            self.id_filter(value)
        } else {
            Some(format!("({attribute}={})", escape_filter_value(value)))
        }
    }

    /// The comparison keys of an entry's values of `attribute`.
    fn entry_keys(&self, entry: &SearchEntry, attribute: &str) -> Vec<String> {
        if self.is_id_attribute(attribute) {
            return entry_id(entry, self.config.profile).map(|id| fold(&id)).into_iter().collect();
        }
        raw_values(entry, attribute)
            .into_iter()
            .map(|v| fold(&String::from_utf8_lossy(v)))
            .collect()
    }

    /// For each of `values` (as given) that some entry below `base` holds in
    /// `attribute`: those entries (with `attrs`, which must include
    /// `attribute`). See `find_many`.
    async fn search_many(
        &self,
        operation: &'static str,
        base: &str,
        attribute: &str,
        values: &[String],
        attrs: &[String],
    ) -> Result<HashMap<String, Vec<SearchEntry>>, TargetError> {
        if !is_attribute_description(attribute) {
            return Err(rejected(operation, format!("{attribute:?} is not an attribute name")));
        }
        // (key, filter term) per distinct key, in the order given.
        let mut terms: Vec<(String, String)> = Vec::new();
        let mut seen = HashSet::new();
        for v in values {
            if let Some(key) = self.match_key(attribute, v)
                && seen.insert(key.clone())
                && let Some(term) = self.value_filter(attribute, v)
            {
                terms.push((key, term));
            }
        }
        let chunks = terms
            .chunks(FILTER_CHUNK)
            .map(|chunk| self.search_chunk(operation, base, attribute, chunk, attrs));
        let mut by_key: HashMap<String, Vec<SearchEntry>> = HashMap::new();
        for part in futures_util::future::try_join_all(chunks).await? {
            by_key.extend(part);
        }
        let mut out = HashMap::new();
        for v in values {
            if let Some(found) = self.match_key(attribute, v).and_then(|k| by_key.get(&k)) {
                out.insert(v.clone(), found.clone());
            }
        }
        Ok(out)
    }

    /// One OR-filter search of a chunk of `(key, term)`, grouped by key.
    async fn search_chunk(
        &self,
        operation: &'static str,
        base: &str,
        attribute: &str,
        chunk: &[(String, String)],
        attrs: &[String],
    ) -> Result<HashMap<String, Vec<SearchEntry>>, TargetError> {
        let filter = or_filter(chunk.iter().map(|(_, t)| t.as_str()));
        let entries = self.search(operation, base, Scope::Subtree, &filter, attrs).await?;
        let wanted: HashSet<String> = chunk.iter().map(|(k, _)| k.clone()).collect();
        let (mut by_key, unmatched) =
            group_by_key(entries, &wanted, |e| self.entry_keys(e, attribute));
        if unmatched {
            // The server matched some value by more than case (spaces, a
            // telephone number rule): ask for the unassigned values alone.
            let unassigned: Vec<&(String, String)> =
                chunk.iter().filter(|(k, _)| !by_key.contains_key(k)).collect();
            for (key, term) in unassigned {
                let found = self.search(operation, base, Scope::Subtree, term, attrs).await?;
                if !found.is_empty() {
                    by_key.insert(key.clone(), found);
                }
            }
        }
        Ok(by_key)
    }
}

#[async_trait]
impl Target for LdapTarget {
    fn kind(&self) -> &'static str {
        "ldap"
    }

    /// Directory attribute names compare case-insensitively, and the
    /// attributes hrsync matches on (employeeID, uid, mail,
    /// sAMAccountName, ...) use case-ignoring matching rules.
    fn comparison(&self) -> Comparison {
        Comparison::CaseInsensitive
    }

    /// Passwords are write-only: AD's `unicodePwd` cannot be read at all,
    /// and `userPassword` is never handed back by this target.
    fn secret_attributes(&self) -> &[&'static str] {
        &[UNICODE_PWD, USER_PASSWORD]
    }

    /// Reports whose manager is not provisioned yet: the fix-up waiting for
    /// it lives in this process only.
    fn unapplied(&self) -> Vec<(String, String)> {
        self.managers()
            .waiting()
            .into_iter()
            .map(|(_, report)| (report, MANAGER.to_owned()))
            .collect()
    }

    /// Steps: connect and bind; (AD) whether the connection can carry
    /// passwords; the base DN and the default container exist; the account
    /// may create objects in the default container. Nothing is changed.
    async fn check(&self) -> Vec<CheckStep> {
        self.run_check().await
    }

    async fn find(&self, attribute: &str, value: &str) -> Result<Vec<TargetObject>, TargetError> {
        let filter = match self.config.profile {
            Profile::ActiveDirectory if attribute.eq_ignore_ascii_case("objectGUID") => {
                match self.id_filter(value) {
                    Some(f) => f,
                    None => return Ok(Vec::new()),
                }
            }
            _ => format!("({attribute}={})", escape_filter_value(value)),
        };
        let entries = self
            .search("find", &self.config.base_dn, Scope::Subtree, &filter, &self.read_attributes())
            .await?;
        self.learn_managers(attribute, &entries);
        Ok(entries
            .iter()
            .filter_map(|e| to_object(e, self.config.profile, self.strategy()))
            .collect())
    }

    /// One paged search per [`FILTER_CHUNK`] distinct values, with an OR
    /// filter, the chunks concurrently; entries are mapped back to the
    /// values as given by the attribute's matching rule (case-insensitive;
    /// `objectGUID`/`entryUUID` as ids). Fills the manager DN cache when
    /// `attribute` is the manager match attribute.
    async fn find_many(
        &self,
        attribute: &str,
        values: &[String],
    ) -> Result<HashMap<String, Vec<TargetObject>>, TargetError> {
        let found = self
            .search_many("find", &self.config.base_dn, attribute, values, &self.read_attributes())
            .await?;
        // An entry found for two spellings of a value counts once.
        self.learn_managers(attribute, found.values().flatten());
        Ok(found
            .into_iter()
            .map(|(v, es)| {
                (
                    v,
                    es.iter()
                        .filter_map(|e| to_object(e, self.config.profile, self.strategy()))
                        .collect::<Vec<_>>(),
                )
            })
            .filter(|(_, objects)| !objects.is_empty())
            .collect())
    }

    /// [`Target::is_taken`] without `except_id` for many candidates: values
    /// this target knows are taken are answered from memory, the rest by
    /// OR-filter searches under the same base as `is_taken` (AD: the domain
    /// root, so sAMAccountName and userPrincipalName are checked across the
    /// domain). Taken values are remembered.
    async fn taken(
        &self,
        attribute: &str,
        candidates: &[String],
    ) -> Result<HashSet<String>, TargetError> {
        let mut out = HashSet::new();
        let mut ask = Vec::new();
        {
            let mut cache = self.taken_cache();
            cache.watch(attribute);
            for c in candidates {
                if cache.contains(attribute, c) {
                    out.insert(c.clone());
                } else {
                    ask.push(c.clone());
                }
            }
        }
        if ask.is_empty() {
            return Ok(out);
        }
        let attrs = [attribute.to_owned(), id_attribute(self.config.profile).to_owned()];
        let found = self
            .search_many("uniqueness check", &self.uniqueness_base(), attribute, &ask, &attrs)
            .await?;
        let mut cache = self.taken_cache();
        for value in found.into_keys() {
            cache.insert(attribute, &value);
            out.insert(value);
        }
        Ok(out)
    }

    async fn get(&self, id: &str) -> Result<Option<TargetObject>, TargetError> {
        Ok(self
            .find_by_id("get", id)
            .await?
            .and_then(|e| to_object(&e, self.config.profile, self.strategy())))
    }

    async fn create(&self, attributes: &Attributes) -> Result<TargetObject, TargetError> {
        const OP: &str = "create";
        let c = &self.config;
        let CreateRequest { dn, attributes: mut list, manager, match_value } =
            classify_create(c, attributes)?;
        let mut pending_manager: Option<String> = None;
        if let Some(m) = manager {
            match self.resolve_manager(OP, &m).await? {
                Some(mdn) => list.push(add_attribute(MANAGER, [mdn.into_bytes()])),
                None => pending_manager = Some(m),
            }
        }
        let read_back = match c.profile {
            Profile::InetOrgPerson => self.add_post_read(OP, &dn, &list).await?,
            Profile::ActiveDirectory => {
                self.add(OP, &dn, &list).await?;
                None
            }
        };
        tracing::debug!(%dn, "created");
        self.remember_taken(&list);
        let entry = match read_back {
            Some(e) => e,
            None => self.read_dn(OP, &dn).await?.ok_or_else(|| TargetError::Unavailable {
                operation: OP,
                message: format!("{dn:?} was created but cannot be read back"),
            })?,
        };
        let object = to_object(&entry, c.profile, self.strategy()).ok_or_else(|| {
            TargetError::Unavailable {
                operation: OP,
                message: format!("{dn:?} has no {}", id_attribute(c.profile)),
            }
        })?;
        // Its own manager link first: a report created concurrently with its
        // manager is linked by one of the two (see `Managers`).
        if let Some(m) = pending_manager {
            self.await_manager(OP, &m, &object.id, &entry.dn).await;
        }
        if let Some(v) = match_value {
            self.fix_up_reports(&v, &entry.dn).await;
        }
        Ok(object)
    }

    async fn update(&self, id: &str, changes: &[AttributeUpdate]) -> Result<(), TargetError> {
        self.do_update("update", id, changes).await
    }

    async fn disable(&self, id: &str) -> Result<(), TargetError> {
        if self.config.profile == Profile::InetOrgPerson && self.strategy().is_none() {
            return Err(no_strategy("disable"));
        }
        self.do_update(
            "disable",
            id,
            &[AttributeUpdate {
                name: hrsync_target::attr::ACCOUNT_DISABLED.into(),
                value: hrsync_target::attr::flag_value(true),
            }],
        )
        .await
    }

    async fn delete(&self, id: &str) -> Result<(), TargetError> {
        const OP: &str = "delete";
        let loaded = self.load(OP, id).await?;
        let dn = loaded.dn.as_str();
        self.pool
            .run(false, |mut l| async move { success(l.delete(dn).await?).map(|_| ()) })
            .await
            .map_err(|e| map_error(&Context { operation: OP, dn, id: Some(id) }, e))?;
        let mut managers = self.managers();
        managers.forget_dn(dn);
        managers.forget_report(id);
        Ok(())
    }

    /// Searched under the domain root (AD) or `base_dn`; the answer counts
    /// every object but `except_id`, disabled ones included. Without
    /// `except_id`, a value this target already saw taken is answered from
    /// memory (see `TakenCache`).
    async fn is_taken(
        &self,
        attribute: &str,
        value: &str,
        except_id: Option<&str>,
    ) -> Result<bool, TargetError> {
        {
            let mut cache = self.taken_cache();
            cache.watch(attribute);
            if except_id.is_none() && cache.contains(attribute, value) {
                return Ok(true);
            }
        }
        let filter = format!("({attribute}={})", escape_filter_value(value));
        let base = self.uniqueness_base();
        let id_attr = id_attribute(self.config.profile).to_owned();
        let found =
            self.search("uniqueness check", &base, Scope::Subtree, &filter, &[id_attr]).await?;
        if !found.is_empty() {
            self.taken_cache().insert(attribute, value);
        }
        Ok(found.iter().any(|e| match except_id {
            None => true,
            Some(except) => {
                entry_id(e, self.config.profile).is_none_or(|id| !id.eq_ignore_ascii_case(except))
            }
        }))
    }
}
