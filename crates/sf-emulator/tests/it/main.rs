//! sf-emulator's integration tests, one binary: each file below was its own test
//! binary; one link instead of 5 saves build time and disk.

mod common;
mod entra_queries;
mod fidelity;
mod golden;
mod odata_clients;
mod server;
