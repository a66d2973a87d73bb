//! engine's integration tests, one binary: each file below was its own test
//! binary; one link instead of 3 saves build time and disk.

mod common;
mod down;
mod e2e;
mod failures;
mod gone;
mod pipeline;
mod skew;
