//! hrsync's SuccessFactors writeback target: the writeback flow's target.
//!
//! The writeback flow runs the engine's pipeline with the directory as its
//! source and SuccessFactors as its target. This crate is that target: a
//! person's email addresses and phone numbers (`PerEmail`, `PerPhone`)
//! behind the [`hrsync_target::Target`] seam, over
//! [`hrsync_source_sf::SfClient`] and the pure planner of
//! [`hrsync_source_sf::writeback`].
//!
//! - An object is a person; its id is `personIdExternal`.
//! - Its attributes are the SuccessFactors Writeback app's names
//!   (`email`, `emailType`, `isPrimaryEmail`, `businessPhone`,
//!   `businessPhoneType`, `isBusinessPhonePrimary`, `cellPhone`,
//!   `cellPhoneType`, `isCellPhonePrimary`, `personIdExternal`, and
//!   `userId` when found by it), read from the person's current records of
//!   the configured types ([`SfWritebackConfig`]): what
//!   [`hrsync_source_sf::Desired::from_writeback`] reads. Types are given by
//!   their label (`Business`), flags as `"true"`/`"false"`.
//! - [`Target::find`] by `personIdExternal` or `userId` (the active
//!   employment's user after a rehire or conversion), batched in
//!   [`Target::find_many`].
//! - [`Target::update`] merges the changes over the person's current values,
//!   plans with the configured [`hrsync_source_sf::PrimaryPolicy`] (nothing
//!   changed: no request; never two primaries; an HR-set primary kept under
//!   `keep`) and writes with [`hrsync_source_sf::SfClient::write_plans`]. A
//!   record SuccessFactors refuses, or one the planner skips for a conflict,
//!   makes the update fail with [`hrsync_target::TargetError::Rejected`]
//!   quoting SuccessFactors' message or the conflict: the engine escrows
//!   the worker. The other records of the person are written.
//! - `create`, `disable` and `delete` are refused: writeback never creates or
//!   deletes persons in SuccessFactors.
//! - The email and phone type picklists are read once, on first use, and
//!   cached for the life of the target.
//!
//! One upsert request per updated person (plus one for demotions when the
//! primary moves); batching several persons' records into one request is
//! left for later.
//!
//! [`Target`]: hrsync_target::Target
//! [`Target::find`]: hrsync_target::Target::find
//! [`Target::find_many`]: hrsync_target::Target::find_many
//! [`Target::update`]: hrsync_target::Target::update

mod config;
mod service;
mod target;
pub mod values;

pub use config::SfWritebackConfig;
pub use service::SfWritebackTarget;
