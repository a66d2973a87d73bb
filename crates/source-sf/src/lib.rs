//! The SAP SuccessFactors OData v2 connector: the source side of hrsync.
//!
//! - [`filter`]: `$filter` expressions from typed parts (every literal escaped
//!   once, here), and the full-sync, delta, pre-hire and single-person filters.
//! - [`query`]: `PerPerson` request URLs (`$expand`, `asOfDate`, snapshot paging).
//! - [`client`]: authentication, retries honouring `Retry-After`, page-by-page
//!   reading that follows `__next` verbatim and only to the same server.
//! - [`wire`]: pages, `/Date(..)/` values and SuccessFactors error bodies.
//! - [`upsert`]: `POST upsert` in requests of at most 1,000 records, one
//!   [`RecordStatus`] per record.
//! - [`picklist`]: email/phone type picklists, names resolved to option ids.
//! - [`contact`]: a person's current `PerEmail`/`PerPhone` records.
//! - [`writeback`]: pure planning of the upserts a writeback needs.
//!
//! Architecture invariant: this crate shares no code with the emulator
//! (`sf-emulator`, `sf-odata`); tests run it against the emulator so that the
//! two agree only by both being right.

pub mod client;
pub mod contact;
pub mod filter;
pub mod picklist;
pub mod query;
pub mod upsert;
pub mod wire;
pub mod writeback;

pub use client::{Credentials, PageStream, RetryPolicy, SfClient, SourceConfig, SourceError};
pub use contact::{ContactRecords, EmailRecord, PhoneRecord};
pub use filter::{CmpOp, Filter, Literal};
pub use picklist::{ContactTypes, Picklist, PicklistEntry, PicklistError};
pub use query::PersonQuery;
pub use upsert::{MAX_UPSERT_RECORDS, PlannedStatus, RecordStatus, UpsertOutcome};
pub use wire::{Page, parse_sf_date};
pub use writeback::{Desired, PersonKey, Plan, PrimaryPolicy, Want};
