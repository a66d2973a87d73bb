//! The LDAP target against real servers, in one test binary with a module
//! per topic. Run one topic with e.g.
//! `cargo test -p hrsync-target-ldap --test integration openldap::`.
//!
//! - `openldap`, `batched`, `taken_cache`: the target against a private
//!   slapd (one shared server, each test in its own OU; tests that restart
//!   the server or need a small size limit start their own);
//! - `active_directory`: against a Samba AD DC (one shared DC, each test in
//!   its own OU);
//! - `conformance`: the target conformance suite against slapd and Samba AD;
//! - `e2e_openldap`, `e2e_ad`, `late_manager`: the engine end to end from
//!   the SuccessFactors emulator, each on a server of its own (their
//!   populations would collide with the other tests' names domain-wide).

mod common;

#[path = "integration/active_directory.rs"]
mod active_directory;
#[path = "integration/batched.rs"]
mod batched;
#[path = "integration/conformance.rs"]
mod conformance;
#[path = "integration/e2e_ad.rs"]
mod e2e_ad;
#[path = "integration/e2e_openldap.rs"]
mod e2e_openldap;
#[path = "integration/late_manager.rs"]
mod late_manager;
#[path = "integration/openldap.rs"]
mod openldap;
#[path = "integration/taken_cache.rs"]
mod taken_cache;
