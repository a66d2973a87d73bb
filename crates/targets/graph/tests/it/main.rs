//! The Graph target against `graph-emulator`, the Graph test double (it
//! shares no code with this crate), one test binary (modules by area).

mod common;
mod conformance;
mod token;
mod writes;
