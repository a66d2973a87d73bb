//! store-sqlite's integration tests, one binary: each file below was its own test
//! binary; one link instead of 3 saves build time and disk.

mod conformance;
mod integrity;
mod migration;
mod sqlite;
