//! expr's integration tests, one binary: each file below was its own test
//! binary; one link instead of 4 saves build time and disk.

mod corpus;
mod functions;
mod fuzz;
mod parse_errors;
