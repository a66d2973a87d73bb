//! config's integration tests, one binary: each file below was its own test
//! binary; one link instead of 8 saves build time and disk.

mod builtin_entra;
mod builtin_openldap;
mod common;
mod errors;
mod flows;
mod local;
mod mapping;
mod oauth;
mod starter;
mod state;
mod typed;
mod writeback;
