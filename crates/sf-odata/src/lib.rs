//! The SuccessFactors OData v2 protocol, server side, for the emulator.
//!
//! The `SFOData` schema of a tenant ([`edm`]), query options ([`query`]), the
//! `$filter` language ([`filter`]), JSON rendering ([`render`]), Atom XML rendering ([`atom`]) and
//! SuccessFactors-shaped errors ([`error`]). Pure: no I/O and no HR data; data
//! is reached only through [`entity::EntityNode`].
//!
//! Architecture invariant: only the emulator depends on this crate. The hrsync
//! connector has its own client-side code, so the two cannot agree by sharing
//! a bug.

pub mod atom;
pub mod edm;
pub mod entity;
pub mod error;
pub mod filter;
pub mod query;
pub mod render;
pub mod value;

pub use edm::{EdmType, EntityType, Schema, TenantFields, schema, schema_for};
pub use entity::{EntityNode, NavView};
pub use error::ODataError;
pub use filter::Filter;
pub use query::{ExpandTree, QueryOptions, Selection};
pub use render::RenderContext;
pub use value::ODataValue;
