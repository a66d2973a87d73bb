//! hrsync's integration tests, one binary: each file below was its own test
//! binary; one link instead of 7 saves build time and disk.

mod api_run;
mod auth_cli;
mod cli;
mod common;
mod crash;
mod crash_ldap;
mod emulator_cli;
mod emulator_graph_cli;
mod entra_auth;
mod entra_mapping;
mod flows;
mod graph;
mod graph_budget;
mod hardening;
mod hostile_values;
mod import_cli;
mod import_export;
mod import_plan;
mod ldap_config;
mod run_stop;
mod safety;
mod scim;
mod scim_responses;
mod target_down;
mod writeback;
