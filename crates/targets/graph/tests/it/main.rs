//! The Graph target against the Graph double (`graph-emulator`), one test
//! binary (modules by area).

mod common;
mod federation;
mod token;
