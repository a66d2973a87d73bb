//! The SuccessFactors OData v2 protocol, server side, for the emulator.
//!
//! The static `SFOData` schema ([`edm`]), query options, the `$filter`
//! language, JSON rendering and SuccessFactors-shaped errors. Pure: no I/O and
//! no HR data; data is reached only through [`entity::EntityNode`].
//!
//! Architecture invariant: only the emulator depends on this crate. The hrsync
//! connector has its own client-side code, so the two cannot agree by sharing
//! a bug.

pub mod edm;
pub mod entity;
pub mod value;
