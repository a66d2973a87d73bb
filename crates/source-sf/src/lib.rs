//! The SAP SuccessFactors OData v2 connector: the source side of hrsync.
//!
//! - [`filter`]: `$filter` expressions from typed parts (every literal escaped
//!   once, here), and the full-sync, delta, pre-hire and single-person filters.
//! - [`query`]: `PerPerson` request URLs (`$expand`, `asOfDate`, snapshot paging).
//! - [`client`]: authentication, retries honouring `Retry-After`, page-by-page
//!   reading that follows `__next` verbatim and only to the same server.
//! - [`wire`]: pages, `/Date(..)/` values and SuccessFactors error bodies.
//!
//! Architecture invariant: this crate shares no code with the emulator
//! (`sf-emulator`, `sf-odata`); tests run it against the emulator so that the
//! two agree only by both being right.

pub mod client;
pub mod filter;
pub mod query;
pub mod wire;

pub use client::{Credentials, PageStream, RetryPolicy, SfClient, SourceConfig, SourceError};
pub use filter::{CmpOp, Filter, Literal};
pub use query::PersonQuery;
pub use wire::{Page, parse_sf_date};
