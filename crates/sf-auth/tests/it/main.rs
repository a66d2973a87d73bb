//! sf-auth's integration tests, one binary: each file below was its own test
//! binary; one link instead of 2 saves build time and disk.

mod emulator;
mod entra;
mod signing;
