//! The inbound flow's source: SuccessFactors `PerPerson` records.
//!
//! Everything SuccessFactors-specific the engine needs lives here: the
//! query shapes (Entra's full-sync and delta filters, the pre-hire
//! re-read as of the start date, reads by id), `$expand`/`$select` and the
//! parse-time projection, and the lifecycle reading of a record
//! ([`crate::lifecycle`]). The generic cycle sees only [`Source`].

use std::sync::Arc;

use async_trait::async_trait;
use hrsync_source_sf::wire::Projection;
use hrsync_source_sf::{Filter, PersonQuery, SfClient, filter};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde_json::Value;

use crate::cycle::ceil_second;
use crate::flow::CompiledFlow;
use crate::lifecycle::{self, Stage};
use crate::source::{PageSink, Read, Source, SourceError, SourceView};

/// How many person ids one `personIdExternal in (...)` query carries (URL
/// length stays well under what SuccessFactors' front end accepts).
const IDS_PER_QUERY: usize = 50;

/// Settings of the SuccessFactors source.
#[derive(Debug, Clone)]
pub struct SfOptions {
    /// Server page size (`customPageSize`).
    pub page_size: u32,
    /// Send `$select` with the paths the flow reads (else Entra's
    /// everything-expanded records); parsing keeps only those either way.
    pub select: bool,
    /// The company's time zone: "today" and HR dates are days there.
    pub time_zone: TimeZone,
    /// Read Onboarding 2.0 pre-hires (user status `e`) again as of their
    /// start date.
    pub onboarding_prehires: bool,
}

/// SuccessFactors as a flow's source.
pub struct SfSource {
    client: SfClient,
    expand: Vec<String>,
    /// `$select` when [`SfOptions::select`] is on (empty: everything).
    select: Vec<String>,
    /// The same paths applied while parsing, whether or not `$select` is
    /// sent (`None` when a mapped path cannot be bounded).
    keep: Option<Arc<Projection>>,
    options: SfOptions,
}

impl SfSource {
    pub fn new(client: SfClient, flow: &CompiledFlow, options: SfOptions) -> Self {
        let paths = select_paths(flow).unwrap_or_default();
        let keep = (!paths.is_empty()).then(|| Arc::new(Projection::from_paths(&paths)));
        SfSource {
            client,
            expand: expand_paths(flow),
            select: if options.select { paths } else { Vec::new() },
            keep,
            options,
        }
    }

    pub fn client(&self) -> &SfClient {
        &self.client
    }

    fn query(&self, filter: Filter, now: Timestamp) -> PersonQuery {
        PersonQuery {
            filter: Some(filter),
            expand: self.expand.clone(),
            select: self.select.clone(),
            keep: self.keep.clone(),
            // Slices as of the company's today, not SuccessFactors' UTC today.
            as_of: Some(now.to_zoned_datetime(self.options.time_zone.clone()).date()),
            page_size: self.options.page_size,
            snapshot: true,
        }
    }

    /// The queries one read sends, in order.
    fn queries(&self, read: &Read, now: Timestamp) -> Vec<PersonQuery> {
        let ids = |persons: &[String]| -> Vec<Vec<String>> {
            persons.chunks(IDS_PER_QUERY).map(<[String]>::to_vec).collect()
        };
        match read {
            Read::All => {
                let start = ceil_second(now);
                vec![
                    self.query(filter::full_sync(start), now),
                    self.query(filter::missing_termination_info(start), now),
                ]
            }
            Read::Changed { from, to } => vec![self.query(filter::delta(*from, *to), now)],
            Read::Person(id) => vec![self.query(filter::person(id), now)],
            Read::Persons(persons) => ids(persons)
                .into_iter()
                .map(|chunk| {
                    self.query(
                        Filter::is_in("personIdExternal", chunk.iter().map(String::as_str)),
                        now,
                    )
                })
                .collect(),
            Read::PersonsAsOf { persons, date } => ids(persons)
                .into_iter()
                .map(|chunk| {
                    let chunk: Vec<&str> = chunk.iter().map(String::as_str).collect();
                    let f = filter::prehire(&chunk);
                    let mut q = self.query(f, now);
                    q.as_of = Some(*date);
                    q
                })
                .collect(),
        }
    }
}

#[async_trait]
impl Source for SfSource {
    async fn count(
        &self,
        read: &Read,
        now: Timestamp,
        sink: &mut dyn PageSink,
    ) -> Result<Option<u64>, SourceError> {
        let Read::Changed { .. } = read else { return Ok(None) };
        let Some(query) = self.queries(read, now).pop() else { return Ok(None) };
        sink.request(query.count_url());
        Ok(Some(self.client.count(&query).await?))
    }

    async fn read(
        &self,
        read: &Read,
        now: Timestamp,
        sink: &mut dyn PageSink,
    ) -> Result<(), SourceError> {
        for query in self.queries(read, now) {
            sink.request(query.relative_url());
            let mut pages = self.client.persons(&query)?;
            while let Some(page) = pages.next_page().await? {
                if !sink.page(with_rejected(page)).await {
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    fn mark_time(&self) {
        self.client.mark_server_time();
    }

    fn server_time(&self) -> Option<Timestamp> {
        self.client.server_time()
    }

    fn import(&self, record: &mut Value, now: Timestamp) -> SourceView {
        if let Some(why) = record.get(UNREADABLE).and_then(Value::as_str) {
            let person_id = Err(why.to_owned());
            return SourceView {
                person_id,
                starts: None,
                wakeups: Vec::new(),
                detail: String::new(),
                excluded: None,
            };
        }
        let tz = &self.options.time_zone;
        let person_id = match record.get("personIdExternal") {
            _ if !record.is_object() => {
                let text: String = record.to_string().chars().take(80).collect();
                Err(format!("the record is not an object: {text}"))
            }
            Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.clone()),
            Some(Value::String(s)) => Err(format!("personIdExternal is blank ({s:?})")),
            None | Some(Value::Null) => Err("the record has no personIdExternal".to_owned()),
            Some(other) => {
                // Cut by characters: a byte cut could split one and panic.
                let text: String = other.to_string().chars().take(80).collect();
                Err(format!("personIdExternal is not a string: {text}"))
            }
        };
        let notes = lifecycle::normalize(record, now, tz);
        let life = lifecycle::decide(record, now, tz);
        let notes = if notes.is_empty() {
            String::new()
        } else {
            format!("; {}", notes.iter().map(|n| n.0.as_str()).collect::<Vec<_>>().join("; "))
        };
        let starts = match life.stage {
            Stage::PreHire { start } => Some(start),
            _ => None,
        };
        let excluded = (!self.options.onboarding_prehires && onboarding_prehire(record))
            .then(|| ONBOARDING_EXCLUDED.to_owned());
        SourceView {
            person_id,
            starts,
            wakeups: life.wakeups,
            detail: format!("stage {:?}{notes}", life.stage),
            excluded,
        }
    }
}

/// Why an Onboarding 2.0 pre-hire is skipped when the flow excludes them.
const ONBOARDING_EXCLUDED: &str =
    "Onboarding 2.0 pre-hire (user status e) excluded by onboarding_prehires = false";

/// Whether the record is an Onboarding 2.0 pre-hire: its primary employment
/// (first, once [`lifecycle::normalize`] has ordered them) has a user whose
/// status is `active_external_suite` (`e` in filters and on write).
fn onboarding_prehire(record: &Value) -> bool {
    let employments = record.get("employmentNav");
    let first = employments
        .and_then(|e| e.get("results"))
        .and_then(Value::as_array)
        .and_then(|r| r.first())
        .or(employments.filter(|e| e.is_object() && e.get("results").is_none()));
    first
        .and_then(|e| e.get("userNav"))
        .and_then(|u| u.get("status"))
        .and_then(Value::as_str)
        .is_some_and(|s| s.eq_ignore_ascii_case("active_external_suite") || s == "e")
}

/// The `$select` list: what the mapped attributes read plus what the
/// lifecycle rule reads; `None` when a mapped path cannot be bounded (then
/// everything is read).
pub fn select_paths(flow: &CompiledFlow) -> Option<Vec<String>> {
    let mut s = flow.source.select()?;
    for extra in [
        "personIdExternal",
        "employmentNav/startDate",
        "employmentNav/endDate",
        "employmentNav/assignmentClass",
        "employmentNav/userId",
        "employmentNav/userNav/status",
        "employmentNav/jobInfoNav/startDate",
        "employmentNav/jobInfoNav/emplStatusNav/externalCode",
        "personEmpTerminationInfoNav/activeEmploymentsCount",
        "personEmpTerminationInfoNav/latestTerminationDate",
    ] {
        s.push(extra.to_owned());
    }
    s.sort();
    s.dedup();
    Some(s)
}

/// The `$expand` list: what the mapped attributes need plus what the
/// lifecycle rule reads (employment status codes, users, termination info).
pub fn expand_paths(flow: &CompiledFlow) -> Vec<String> {
    let mut e: Vec<String> = flow.source.expand().to_vec();
    for extra in [
        "employmentNav",
        "employmentNav/userNav",
        "employmentNav/jobInfoNav",
        "employmentNav/jobInfoNav/emplStatusNav",
        "personEmpTerminationInfoNav",
    ] {
        if !e.iter().any(|x| x == extra) {
            e.push(extra.to_owned());
        }
    }
    e
}

/// The key of the stand-in for a record the source could not read. OData
/// property names never start with `__hrsync`; only this file writes it and
/// reads it back.
const UNREADABLE: &str = "__hrsync_unreadable";

/// The page's records, each record the source could not read (a byte that
/// is not text) kept in its place as a stand-in naming it. Import turns the
/// stand-in into a worker without a usable person id, so the cycle counts it
/// as failed, names it in its message and keeps the watermark where it is:
/// the next cycle reads the worker again instead of losing it (issue 13,
/// item 8).
fn with_rejected(page: hrsync_source_sf::Page) -> Vec<Value> {
    let mut records = page.records;
    for r in page.rejected {
        tracing::warn!(message = "A PerPerson record is not valid text.", record = %r);
        let mut stand_in = serde_json::Map::new();
        stand_in.insert(UNREADABLE.to_owned(), Value::String(r.to_string()));
        let stand_in = Value::Object(stand_in);
        records.insert(r.index.min(records.len()), stand_in);
    }
    records
}
