//! `hrsync check` on an LDAP `[target.connection]` (issue 13 item 16):
//! typos and a bind password in clear are refused with file:line:col and
//! the field, before anything is contacted; weakened but accepted settings
//! are printed as warnings at their line.

use crate::common;

use common::{TempDir, hrsync, source_toml, text};
use sf_emulator::Emulator;

/// A config with an LDAP target whose `[target.connection]` starts on
/// line `CONNECTION_LINE`; `extra` is appended to it (from line
/// `CONNECTION_LINE + 7`).
fn ldap_config(dir: &std::path::Path, source_url: &str, url: &str, extra: &str) -> String {
    let source = source_toml(source_url, 50);
    assert_eq!(source.lines().count(), SOURCE_LINES, "the line numbers below assume it");
    let text = format!(
        r#"{source}[target]
kind = "ldap"
[target.connection]
url = "{url}"
bind_dn = "CN=svc,DC=example,DC=com"
password_env = "HRSYNC_TEST_LDAP_PASSWORD"
base_dn = "DC=example,DC=com"
profile = "active-directory"
connect_timeout_secs = 2
{extra}
[flow]
mapping = "builtin:sf-to-ad"
time_zone = "UTC"

[state]
path = "state.sqlite"
"#
    );
    std::fs::write(dir.join("hrsync.toml"), &text).expect("write config");
    text
}

const SOURCE_LINES: usize = 9;
/// `url` is on this line, col 7.
const URL_LINE: usize = SOURCE_LINES + 4;
/// The first `extra` line.
const EXTRA_LINE: usize = SOURCE_LINES + 10;

fn check(dir: &std::path::Path) -> std::process::Output {
    hrsync(
        &dir.join("hrsync.toml"),
        &["check"],
        &[("HRSYNC_TEST_LDAP_PASSWORD", "ldap-secret-never-shown".to_owned())],
    )
}

#[test]
fn check_refuses_mistyped_keys_and_a_password_in_clear_at_their_lines() {
    let dir = TempDir::new("ldap-config-refused");
    // No source is contacted: the config is refused first.
    ldap_config(
        &dir.0,
        "http://127.0.0.1:1",
        "ldap://dc1.example.com",
        "start_tls = true\ntls_verfy = false\npool_size = 0",
    );
    let out = check(&dir.0);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!stdout.contains("is valid"), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    let file = dir.0.join("hrsync.toml");
    let file = file.display();
    let expected = [
        format!(
            "{file}:{URL_LINE}:7: field `target.connection.url`: \"ldap://dc1.example.com\": a simple bind over plain ldap:// without StartTLS to a host that is not loopback sends the bind password across the network in clear"
        ),
        format!(
            "{file}:{EXTRA_LINE}:1: field `target.connection.start_tls`: unknown field `start_tls`: did you mean `starttls`?"
        ),
        format!(
            "{file}:{}:1: field `target.connection.tls_verfy`: unknown field `tls_verfy`: did you mean `tls_verify`?",
            EXTRA_LINE + 1
        ),
        format!(
            "{file}:{}:13: field `target.connection.pool_size`: must be at least 1",
            EXTRA_LINE + 2
        ),
    ];
    let lines: Vec<&str> = err.lines().collect();
    for e in &expected {
        assert!(lines.iter().any(|l| l.starts_with(e.as_str())), "missing `{e}` in:\n{err}");
    }
    assert!(err.contains("4 problem(s) in the config"), "{err}");
    assert!(!err.contains("ldap-secret-never-shown"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_prints_accepted_weakened_settings_as_warnings_at_their_lines() {
    let emu = Emulator::builder().workers(3).seed(1).start().await.expect("emulator");
    let dir = TempDir::new("ldap-config-warned");
    // Nothing listens on port 1: the target step fails, after the warnings.
    for (url, extra, warning) in [
        (
            "ldaps://127.0.0.1:1",
            "tls_verify = false",
            format!(
                ":{EXTRA_LINE}:14: field `target.connection.tls_verify`: tls_verify = false: the LDAP server's certificate is not checked"
            ),
        ),
        (
            "ldap://ldap.invalid:1",
            "allow_plaintext_bind = true",
            format!(
                ":{URL_LINE}:7: field `target.connection.url`: simple bind over plain ldap:// without StartTLS to a host that is not loopback, accepted by allow_plaintext_bind = true"
            ),
        ),
    ] {
        ldap_config(&dir.0, &emu.base_url(), url, extra);
        let d = dir.0.clone();
        let out = tokio::task::spawn_blocking(move || check(&d)).await.expect("task");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(stdout.contains("is valid"), "{url}: {}", text(&out));
        let file = dir.0.join("hrsync.toml").display().to_string();
        assert!(
            err.lines().any(|l| l.contains("WARN") && l.contains(&format!("{file}{warning}"))),
            "{url}: no warning `{warning}`:\n{}",
            text(&out)
        );
        assert_eq!(out.status.code(), Some(1), "the target is unreachable: {}", text(&out));
    }
    emu.shutdown().await;
}
