//! Reading: the cycle's reads (the main one, then retries and wake-ups by
//! id), each on its own read-ahead task that also imports the records, so
//! the next page is fetched, parsed and imported while this one is
//! processed.

use std::sync::Arc;

use async_trait::async_trait;
use hrsync_store::Store;
use hrsync_target::Target;
use jiff::Timestamp;
use serde_json::Value;
use tokio::sync::mpsc;

use super::import::{Imported, import};
use super::{Cycle, Engine, EngineError};
use crate::flow::CompiledFlow;
use crate::source::{PageSink, Read, Source, SourceError};

/// Workers due for a retry or a wake-up read in one cycle, at most.
const DUE_PER_CYCLE: usize = 10_000;

/// What the read-ahead task hands over, in order.
struct Batch {
    /// Requests sent since the previous batch (for the report).
    requests: Vec<String>,
    body: Body,
}

enum Body {
    /// One page of imported records.
    Page(Vec<Imported>),
    /// The read ended; with the source's error if it failed.
    End(Option<SourceError>),
}

/// The read-ahead task's side: imports each page and hands it over.
struct Sink {
    tx: mpsc::Sender<Batch>,
    source: Arc<dyn Source>,
    flow: Arc<CompiledFlow>,
    now: Timestamp,
    requests: Vec<String>,
}

#[async_trait]
impl PageSink for Sink {
    fn request(&mut self, description: String) {
        self.requests.push(description);
    }

    async fn page(&mut self, records: Vec<Value>) -> bool {
        let page =
            records.into_iter().map(|r| import(&self.flow, &*self.source, r, self.now)).collect();
        let requests = std::mem::take(&mut self.requests);
        self.tx.send(Batch { requests, body: Body::Page(page) }).await.is_ok()
    }
}

/// Collects the requests of a call made on the engine's own task.
struct Requests(Vec<String>);

#[async_trait]
impl PageSink for Requests {
    fn request(&mut self, description: String) {
        self.0.push(description);
    }
    async fn page(&mut self, _records: Vec<Value>) -> bool {
        false
    }
}

impl<S: Store, T: Target + 'static> Engine<S, T> {
    /// The cycle's reads: the main one (a count probe first for a window),
    /// then the workers due for a retry or a wake-up that it did not read.
    pub(super) async fn read_cycle(
        &mut self,
        c: &mut Cycle,
        main: Read,
    ) -> Result<(), EngineError> {
        // A target that could not even say what it demands is not read for.
        self.stop_if_down()?;
        // Workers due for a retry or a wake-up are read by id whatever the window.
        let mut due: Vec<String> = Vec::new();
        if c.person.is_none() {
            due.extend(
                self.store.due_escrows(c.now, DUE_PER_CYCLE)?.into_iter().map(|e| e.person_id),
            );
            due.extend(self.store.due_wakeups(c.now)?.into_iter().map(|w| w.person_id));
        }
        due.sort();
        due.dedup();

        let mut probe = Requests(Vec::new());
        let count = self.source.count(&main, c.now, &mut probe).await;
        c.report.requests += probe.0.len() as u64;
        c.report.queries.extend(probe.0);
        if count.map_err(EngineError::Source)? != Some(0) {
            self.read(c, main, true).await?;
        }
        let due: Vec<String> = due.into_iter().filter(|id| !c.pipe.seen.contains(id)).collect();
        if !due.is_empty() {
            self.read(c, Read::Persons(due), false).await?;
        }
        Ok(())
    }

    /// One read, page by page through [`Engine::feed`]. `main`: the
    /// cycle's main read, whose workers' wake-ups are cleared at the end.
    pub(super) async fn read(
        &mut self,
        c: &mut Cycle,
        read: Read,
        main: bool,
    ) -> Result<(), EngineError> {
        let prehire_view = matches!(read, Read::PersonsAsOf { .. });
        let asked = asked_ids(&read);
        let mut pages = self.spawn_read(read, c.now);
        while let Some(batch) = pages.recv().await {
            c.report.queries.extend(batch.requests);
            match batch.body {
                Body::Page(mut records) => {
                    c.report.requests += 1;
                    if let Some(asked) = &asked {
                        only_asked(&mut records, asked);
                    }
                    if main {
                        c.pipe.seen.extend(records.iter().filter_map(|r| r.person_id.clone().ok()));
                    }
                    Box::pin(self.feed(c, records, prehire_view)).await?;
                }
                Body::End(None) => break,
                Body::End(Some(e)) => return Err(EngineError::Source(e)),
            }
        }
        Ok(())
    }

    /// Pages of a read, read ahead by one on their own task, which also
    /// imports each record ([`import`]: pure, so it runs beside the
    /// processing of the previous page on the other core). Dropping the
    /// receiver stops the reader.
    fn spawn_read(&self, read: Read, now: Timestamp) -> mpsc::Receiver<Batch> {
        let (tx, rx) = mpsc::channel(1);
        let source = Arc::clone(&self.source);
        let mut sink = Sink {
            tx: tx.clone(),
            source: Arc::clone(&source),
            flow: Arc::clone(&self.flow),
            now,
            requests: Vec::new(),
        };
        tokio::spawn(async move {
            let result = source.read(&read, now, &mut sink).await;
            let requests = std::mem::take(&mut sink.requests);
            let _ = tx.send(Batch { requests, body: Body::End(result.err()) }).await;
        });
        rx
    }

    /// After the reading (`read`, whatever stopped it): the writes already
    /// sent are awaited and recorded, so nothing the target did goes
    /// unrecorded; then the wake-ups of the workers read are cleared.
    pub(super) async fn settle(
        &mut self,
        c: &mut Cycle,
        read: Result<(), EngineError>,
    ) -> Result<(), EngineError> {
        let settled = self.commit_landed(c, true).await;
        read?;
        settled?;
        // Workers left untouched for an out-of-reach target keep their wake-ups.
        self.stop_if_down()?;
        if c.apply() && c.person.is_none() {
            let seen: Vec<&str> = c.pipe.seen.iter().map(String::as_str).collect();
            self.store.clear_wakeups(&seen, c.now)?;
        }
        Ok(())
    }
}

/// The person ids a by-id read asks for (`None`: the read is not by id).
fn asked_ids(read: &Read) -> Option<std::collections::HashSet<String>> {
    match read {
        Read::Person(id) => Some(std::iter::once(id.clone()).collect()),
        Read::Persons(ids) | Read::PersonsAsOf { persons: ids, .. } => {
            Some(ids.iter().cloned().collect())
        }
        Read::All | Read::Changed { .. } => None,
    }
}

/// A by-id read processes exactly the persons it asked for. A source may
/// answer `personIdExternal eq 'a1'` with more than that person (a tenant
/// comparing ids without regard to case or trailing blanks, a proxy or a
/// search that matches prefixes): provisioning those would act on workers
/// nobody asked about, and on-demand would report only the first. A record
/// whose id could not be read at all is kept: it fails as unprocessable,
/// which is said, rather than vanishing.
fn only_asked(records: &mut Vec<Imported>, asked: &std::collections::HashSet<String>) {
    records.retain(|r| match &r.person_id {
        Ok(id) if asked.contains(id) => true,
        Ok(id) => {
            tracing::warn!(
                message = "SuccessFactors returned a person that was not asked for; ignored.",
                person = %id.escape_debug(),
            );
            false
        }
        Err(_) => true,
    });
}
