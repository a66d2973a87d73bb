//! The SCIM target against a real scim2-server, in one test binary.
//! `conformance`: the target conformance suite; `requests`: what the
//! server holds after the target's requests, read through its own API.

#[path = "integration/conformance.rs"]
mod conformance;
