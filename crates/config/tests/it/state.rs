//! The `[state]` section: the state file, the lease's lifetime and the
//! provisioning log's retention, with their defaults and errors at
//! `file:line:col`.

use crate::common;

use std::time::Duration;

use common::*;

fn with_state(lines: &str) -> String {
    // BASE has 26 lines: `[state]` is line 27, the first key line 28.
    format!("{BASE}[state]\n{lines}\n")
}

#[test]
fn defaults_keep_the_log_30_days_and_lease_for_30_seconds() {
    let config = parse(BASE).expect("loads");
    assert_eq!(config.state.lease_ttl, Duration::from_secs(30));
    assert_eq!(config.state.log_retention_days, 30);
    assert_eq!(config.state.log_retention_cycles, None);
}

#[test]
fn retention_and_lease_ttl_are_read() {
    let text = with_state(
        "path = \"s.sqlite\"\nlease_ttl = \"3s\"\nlog_retention_days = 0\nlog_retention_cycles = 500",
    );
    let config = parse(&text).expect("loads");
    assert_eq!(config.state.lease_ttl, Duration::from_secs(3));
    assert_eq!(config.state.log_retention_days, 0, "0 keeps the log forever");
    assert_eq!(config.state.log_retention_cycles, Some(500));
    assert_eq!(config.state.path, std::path::PathBuf::from("/etc/hrsync/s.sqlite"));
}

#[test]
fn bad_values_name_line_column_and_field() {
    let cases = [
        ("lease_ttl = \"500ms\"", "28:13", "state.lease_ttl", "must be at least 1s"),
        ("lease_ttl = \"soon\"", "28:13", "state.lease_ttl", "invalid duration `soon`"),
        ("lease_ttl = \"-5s\"", "28:13", "state.lease_ttl", "must be positive"),
        ("log_retention_days = -1", "28:22", "state.log_retention_days", "out of range 0..=36500"),
        ("log_retention_cycles = 0", "28:24", "state.log_retention_cycles", "out of range 1..="),
    ];
    for (line, at, field, cause) in cases {
        assert_error_at(&with_state(line), at, field, cause);
    }
}

#[test]
fn an_unknown_state_key_is_an_error() {
    let errs = errors(&with_state("log_retention = 7"));
    let msg = errs.to_string();
    assert!(msg.contains("/etc/hrsync/hrsync.toml:28:") && msg.contains("log_retention"), "{msg}");
}
