//! The directory as a flow's source: the writeback flow reads the accounts
//! another flow (the inbound one) manages in its target.
//!
//! [`DirectorySource`] answers a [`Read`] with one JSON record per joined
//! account: the account's attributes as [`Target::get`] reports them (secrets
//! left out), plus `personIdExternal` from the join. A mapping reads them by
//! their directory names (`[mail]`, `[telephoneNumber]`; see
//! [`hrsync_mapping::directory_schema`]). Accounts are read with at most
//! [`DirectoryOptions::concurrency`] `get`s in flight, and sent to the sink
//! in pages of [`DirectoryOptions::page_size`], ordered by person id.
//!
//! [`Read::Changed`] reads every joined account, as [`Read::All`] does: the
//! engine's exported-state diff then sends only what changed since the last
//! writeback, so an idle cycle writes nothing, but it still reads every
//! account. Reading only the accounts changed since the watermark (LDAP
//! `modifyTimestamp`, AD `whenChanged`/`uSNChanged`, SCIM
//! `meta.lastModified`, the embedded target's change time) needs a
//! "changed since" question on [`Target`] and is left for later.
//!
//! An account the directory no longer has is left out (the inbound flow
//! deals with it); an account whose read is refused is left out with a
//! warning; a directory out of reach fails the read (the cycle stops and
//! the watermark stays).

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use futures_util::StreamExt;
use hrsync_store::Store;
use hrsync_target::{Target, TargetError, attr};
use jiff::Timestamp;
use serde_json::{Map, Value};

use crate::source::{PageSink, Read, Source, SourceError, SourceView};

/// The record key holding the person id (from the join).
pub const PERSON_ID_KEY: &str = "personIdExternal";

/// Where the joins come from: the inbound flow's state, as `(person id,
/// target id)`.
pub trait JoinReader: Send + Sync + 'static {
    fn joins(&self) -> Result<Vec<(String, String)>, SourceError>;
}

/// A store handle of the inbound flow (a store handle is not `Sync`; reads
/// take the lock for the one query).
impl<S: Store + 'static> JoinReader for Mutex<S> {
    fn joins(&self) -> Result<Vec<(String, String)>, SourceError> {
        let store = self.lock().map_err(|_| "the inbound flow's state store lock is poisoned")?;
        Ok(store.joins()?)
    }
}

/// A fixed list of joins (tests).
impl JoinReader for Vec<(String, String)> {
    fn joins(&self) -> Result<Vec<(String, String)>, SourceError> {
        Ok(self.clone())
    }
}

/// How the directory is read.
#[derive(Debug, Clone, Copy)]
pub struct DirectoryOptions {
    /// Records per page handed to the engine.
    pub page_size: usize,
    /// `get`s in flight at once.
    pub concurrency: usize,
}

impl Default for DirectoryOptions {
    fn default() -> Self {
        DirectoryOptions { page_size: 500, concurrency: 16 }
    }
}

/// The directory of the inbound flow, read through its joins.
pub struct DirectorySource {
    target: Arc<dyn Target>,
    joins: Arc<dyn JoinReader>,
    options: DirectoryOptions,
}

impl DirectorySource {
    pub fn new(
        target: Arc<dyn Target>,
        joins: Arc<dyn JoinReader>,
        options: DirectoryOptions,
    ) -> Self {
        let options = DirectoryOptions {
            page_size: options.page_size.max(1),
            concurrency: options.concurrency.max(1),
        };
        DirectorySource { target, joins, options }
    }

    /// The joins `read` asks for.
    fn selected(&self, read: &Read) -> Result<Vec<(String, String)>, SourceError> {
        let all = self.joins.joins()?;
        let wanted: Option<Vec<&str>> = match read {
            Read::All | Read::Changed { .. } => None,
            Read::Person(p) => Some(vec![p.as_str()]),
            Read::Persons(ps) | Read::PersonsAsOf { persons: ps, .. } => {
                Some(ps.iter().map(String::as_str).collect())
            }
        };
        Ok(match wanted {
            None => all,
            Some(w) => all.into_iter().filter(|(p, _)| w.contains(&p.as_str())).collect(),
        })
    }

    /// One account as a record, `None` when it is gone or its read refused.
    async fn record(&self, person_id: &str, target_id: &str) -> Result<Option<Value>, TargetError> {
        let object = match self.target.get(target_id).await {
            Ok(Some(o)) => o,
            Ok(None) => {
                tracing::debug!(
                    message = "A joined account is no longer in the directory; not written back.",
                    person_id,
                    target_id,
                );
                return Ok(None);
            }
            Err(e) if e.retryable() || e.unreachable() => return Err(e),
            Err(e) => {
                tracing::warn!(
                    message = "The directory refused to read a joined account; not written back.",
                    person_id,
                    target_id,
                    error = %e,
                );
                return Ok(None);
            }
        };
        let secrets = self.target.secret_attributes();
        let mut record: Map<String, Value> = object
            .attributes
            .into_iter()
            .filter(|(name, _)| {
                !attr::is_secret(name) && !secrets.iter().any(|s| s.eq_ignore_ascii_case(name))
            })
            .collect();
        record.insert(PERSON_ID_KEY.into(), Value::String(person_id.to_owned()));
        Ok(Some(Value::Object(record)))
    }
}

#[async_trait]
impl Source for DirectorySource {
    async fn count(
        &self,
        read: &Read,
        _now: Timestamp,
        _sink: &mut dyn PageSink,
    ) -> Result<Option<u64>, SourceError> {
        Ok(Some(self.selected(read)?.len() as u64))
    }

    async fn read(
        &self,
        read: &Read,
        _now: Timestamp,
        sink: &mut dyn PageSink,
    ) -> Result<(), SourceError> {
        let joins = self.selected(read)?;
        sink.request(format!(
            "{} directory: {} joined account(s) of the inbound flow",
            self.target.kind(),
            joins.len()
        ));
        for chunk in joins.chunks(self.options.page_size) {
            let results: Vec<Result<Option<Value>, TargetError>> =
                futures_util::stream::iter(chunk.iter().cloned())
                    .map(|(p, t)| async move { self.record(&p, &t).await })
                    .buffered(self.options.concurrency)
                    .collect()
                    .await;
            let mut page = Vec::with_capacity(results.len());
            for r in results {
                if let Some(record) = r? {
                    page.push(record);
                }
            }
            if !page.is_empty() && !sink.page(page).await {
                break;
            }
        }
        Ok(())
    }

    fn import(&self, record: &mut Value, _now: Timestamp) -> SourceView {
        let person_id = match record.get(PERSON_ID_KEY) {
            Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.clone()),
            Some(other) => Err(format!("{PERSON_ID_KEY} is not a usable id: {other}")),
            None => Err(format!("the record has no {PERSON_ID_KEY}")),
        };
        SourceView {
            person_id,
            starts: None,
            wakeups: Vec::new(),
            detail: format!("read from the {} directory", self.target.kind()),
            excluded: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hrsync_target::Attributes;
    use serde_json::json;

    struct Pages(Vec<Vec<Value>>, Vec<String>);

    #[async_trait]
    impl PageSink for Pages {
        fn request(&mut self, d: String) {
            self.1.push(d);
        }
        async fn page(&mut self, records: Vec<Value>) -> bool {
            self.0.push(records);
            true
        }
    }

    async fn directory() -> (Arc<dyn Target>, Vec<(String, String)>) {
        let dir = std::env::temp_dir().join(format!(
            "hrsync-directory-source-{}-{}",
            std::process::id(),
            Timestamp::now().as_nanosecond()
        ));
        let target = {
            std::fs::create_dir_all(&dir).unwrap();
            hrsync_target_embedded::EmbeddedTarget::open(&dir.join("t.db"), &[]).unwrap()
        };
        let mut joins = Vec::new();
        for (p, mail) in [("p1", "a@x.com"), ("p2", "b@x.com"), ("p3", "c@x.com")] {
            let mut a = Attributes::new();
            a.insert("mail".into(), json!(mail));
            a.insert("employeeID".into(), json!(p));
            a.insert("unicodePwd".into(), json!("secret"));
            let o = target.create(&a).await.unwrap();
            joins.push((p.to_owned(), o.id));
        }
        target.flush().await.unwrap();
        (Arc::new(target), joins)
    }

    #[tokio::test]
    async fn reads_joined_accounts_with_the_person_id_and_without_secrets() {
        let (target, joins) = directory().await;
        let src = DirectorySource::new(
            target,
            Arc::new(joins),
            DirectoryOptions { page_size: 2, concurrency: 2 },
        );
        let mut sink = Pages(Vec::new(), Vec::new());
        src.read(&Read::All, Timestamp::now(), &mut sink).await.unwrap();
        assert_eq!(sink.0.len(), 2, "pages of two");
        let all: Vec<&Value> = sink.0.iter().flatten().collect();
        assert_eq!(all.len(), 3);
        assert_eq!(all[0]["personIdExternal"], "p1");
        assert_eq!(all[0]["mail"], "a@x.com");
        assert!(all[0].get("unicodePwd").is_none());
        let mut r = all[1].clone();
        assert_eq!(src.import(&mut r, Timestamp::now()).person_id, Ok("p2".into()));

        let mut one = Pages(Vec::new(), Vec::new());
        src.read(&Read::Person("p3".into()), Timestamp::now(), &mut one).await.unwrap();
        let got: Vec<&Value> = one.0.iter().flatten().collect();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0]["mail"], "c@x.com");
    }

    #[tokio::test]
    async fn a_join_to_a_gone_account_is_left_out() {
        let (target, mut joins) = directory().await;
        joins.push(("p4".into(), "no-such-id".into()));
        let src = DirectorySource::new(target, Arc::new(joins), DirectoryOptions::default());
        let mut sink = Pages(Vec::new(), Vec::new());
        src.read(&Read::All, Timestamp::now(), &mut sink).await.unwrap();
        assert_eq!(sink.0.iter().flatten().count(), 3);
    }
}
