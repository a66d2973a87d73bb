//! sf-odata's integration tests, one binary: each file below was its own test
//! binary; one link instead of 7 saves build time and disk.

mod common;
mod edm;
mod errors;
mod filter;
mod fuzz;
mod query;
mod render;
mod values;
