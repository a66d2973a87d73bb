//! mapping's integration tests, one binary: each file below was its own test
//! binary; one link instead of 8 saves build time and disk.

mod ad_defaults;
mod catalog_expand;
mod common;
mod entra_default;
mod hostile_names;
mod hr_scenarios;
mod jsonpath_dialect;
mod mapping_config;
mod openldap_default;
mod scoping;
mod source_values;
