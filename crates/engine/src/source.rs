//! The seam between the engine and where a flow's records come from.
//!
//! A [`Source`] answers [`Read`]s with pages of raw JSON records, and gives
//! its own, pure reading of each record ([`Source::import`]: the person id,
//! whether the worker starts later, the instants at which the record must
//! be looked at again). The engine knows nothing else about the system
//! behind it: SuccessFactors query shapes, effective dating and lifecycle
//! rules live in [`crate::inbound`]; a directory read for writeback will be
//! another implementation.

use async_trait::async_trait;
use jiff::Timestamp;
use jiff::civil::Date;
use serde_json::Value;

/// A source's failure, as the engine carries it (the binary prints it).
pub type SourceError = Box<dyn std::error::Error + Send + Sync>;

/// What one read asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Read {
    /// Every record (a full cycle), as of the cycle's start.
    All,
    /// Records changed in the window `from..=to`.
    Changed { from: Timestamp, to: Timestamp },
    /// One person (on-demand, `plan --person`).
    Person(String),
    /// These persons (retries, wake-ups).
    Persons(Vec<String>),
    /// These persons with their values as of a later day (a pre-hire's
    /// values on its start date).
    PersonsAsOf { persons: Vec<String>, date: Date },
}

/// The source's own reading of one record, before any mapping.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceView {
    /// The person id (`personIdExternal`), or why the record has no usable
    /// one (missing, blank, not a string: quoted with its value).
    pub person_id: Result<String, String>,
    /// The worker starts on this (future) day: provisioned from the flow's
    /// lead time before it, with values read as of that day
    /// ([`Read::PersonsAsOf`]).
    pub starts: Option<Date>,
    /// Instants at which the worker must be processed again without any
    /// change in the source (the end of a future last day, ...).
    pub wakeups: Vec<(Timestamp, String)>,
    /// The import step's text for the provisioning log.
    pub detail: String,
    /// The source's own reason to leave the worker out of the flow (an
    /// Onboarding 2.0 pre-hire with `onboarding_prehires = false`): the
    /// worker is out of scope, and the skip says why.
    pub excluded: Option<String>,
}

/// Receives what a read produces, in order.
#[async_trait]
pub trait PageSink: Send {
    /// A request is about to be sent (its description goes to the report).
    fn request(&mut self, description: String);
    /// One page of records. `false`: stop reading.
    async fn page(&mut self, records: Vec<Value>) -> bool;
}

/// Where a flow's records come from.
#[async_trait]
pub trait Source: Send + Sync + 'static {
    /// How many records `read` would return, when the source can say with
    /// one cheap request (`None`: it cannot; the engine then reads).
    async fn count(
        &self,
        read: &Read,
        now: Timestamp,
        sink: &mut dyn PageSink,
    ) -> Result<Option<u64>, SourceError>;

    /// Send the records of `read` to `sink`, page by page, until the read
    /// ends or the sink says stop.
    async fn read(
        &self,
        read: &Read,
        now: Timestamp,
        sink: &mut dyn PageSink,
    ) -> Result<(), SourceError>;

    /// The source's reading of a record; may normalize it in place (before
    /// any source attribute is extracted). Pure; runs on the reading task.
    fn import(&self, record: &mut Value, now: Timestamp) -> SourceView;

    /// A cycle starts: forget the source time seen so far (see
    /// [`Source::server_time`]).
    fn mark_time(&self) {}

    /// The source's own clock, as its first answer since
    /// [`Source::mark_time`] gave it (`None`: it cannot tell). The source
    /// stamps its changes by this clock, not by hrsync's, so the watermark
    /// follows it.
    fn server_time(&self) -> Option<Timestamp> {
        None
    }
}
