//! The Graph target against `graph-emulator`, the Graph test double (it
//! shares no code with this crate).

mod common;
mod conformance;
mod writes;
