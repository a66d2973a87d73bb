//! The OData v2 protocol as SuccessFactors speaks it. No I/O, no HR data:
//! data is reached only through [`entity::EntityNode`].

pub mod entity;
pub mod value;
