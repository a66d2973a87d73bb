//! SuccessFactors authentication for hrsync.
//!
//! Three methods, chosen by the source's `auth` block ([`AuthConfig`]):
//! `basic` (retired by SAP on 2026-11-20; sandboxes and the emulator),
//! `saml-bearer` (SuccessFactors' OAuth 2.0 with a SAML 2.0 assertion hrsync
//! signs, [`saml`]) and `workload-identity` (a JWT, federated or self-signed,
//! exchanged at SAP Cloud Identity Service, [`jwt`]).
//!
//! [`TokenProvider`] caches tokens, refreshes them ahead of expiry with one
//! refresher at a time, and drops a token SuccessFactors rejected so the next
//! request refreshes once. [`check()`] runs the whole flow for Test
//! Connection. [`keys`] makes the key pair, certificate and JWKS
//! (`hrsync keys generate`).
//!
//! Secrets (passwords, keys, assertions, tokens) are [`secrecy::SecretString`]
//! or stay private; no error, log event or `Debug` output contains one.

pub mod check;
pub mod config;
pub mod error;
pub mod jwt;
pub mod keys;
pub mod provider;
pub mod saml;

pub use check::{Step, check};
pub use config::{AssertionSource, AuthConfig};
pub use error::{AuthError, Diagnosis};
pub use provider::{ProviderOptions, Token, TokenProvider, error_chain};
