//! Shared fixtures: a minimal valid config (no expressions) and helpers.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use hrsync_config::{Config, ConfigErrors};

/// The password the tests put in the environment; must never appear in output.
pub const PASSWORD: &str = "s3cr3t-Pa55word-never-shown";
pub const PASSWORD_VAR: &str = "HRSYNC_CONFIG_TEST_PASSWORD";

/// Line numbers matter: cases replace whole lines by number.
pub const BASE: &str = r#"[source]
url = "https://api4.successfactors.com"
company_id = "ACME"
page_size = 500
timeout = "120s"

[source.auth]
method = "basic"
username = "sfapi"
password_env = "HRSYNC_CONFIG_TEST_PASSWORD"

[target]
kind = "embedded"
path = "target.sqlite"

[flow]
time_zone = "Europe/Berlin"
actions = ["create", "update", "disable"]

[[flow.mapping]]
target = "employeeID"
default = "none"
matching = 1
[escrow]
first_retry = "1m"
max_retry = "6h"
"#;

/// The environment the tests load with (the process environment is never
/// changed: `set_var` is `unsafe`, and the workspace forbids unsafe code):
/// both password variables set, every other variable unset.
pub fn env(name: &str) -> Result<String, std::env::VarError> {
    match name {
        "HRSYNC_SF_PASSWORD" | PASSWORD_VAR => Ok(PASSWORD.to_owned()),
        _ => Err(std::env::VarError::NotPresent),
    }
}

/// `Config::load` in the tests' environment ([`env`]).
pub fn load(path: impl AsRef<Path>) -> Result<Config, ConfigErrors> {
    Config::load_with_env(path, &env)
}

/// `Config::parse` in the tests' environment ([`env`]).
pub fn parse_at(text: &str, origin: impl AsRef<Path>) -> Result<Config, ConfigErrors> {
    Config::parse_with_env(text, origin, &env)
}

/// `BASE` with 1-based lines replaced (a replacement may span several lines).
pub fn with_lines(replacements: &[(usize, &str)]) -> String {
    BASE.lines()
        .enumerate()
        .map(|(i, l)| replacements.iter().find(|(n, _)| *n == i + 1).map_or(l, |(_, r)| *r))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A fresh directory for files a test writes.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("hrsync-config-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

pub fn parse(text: &str) -> Result<Config, ConfigErrors> {
    parse_at(text, "/etc/hrsync/hrsync.toml")
}

pub fn errors(text: &str) -> ConfigErrors {
    match parse(text) {
        Ok(_) => panic!("expected errors for:\n{text}"),
        Err(e) => e,
    }
}

/// `text` (read as /etc/hrsync/hrsync.toml) fails with an error at `at`
/// (`line:col`) on `field` whose cause contains `cause`.
pub fn assert_error_at(text: &str, at: &str, field: &str, cause: &str) {
    let errs = errors(text);
    let want = format!("/etc/hrsync/hrsync.toml:{at}: field `{field}`: ");
    assert!(
        errs.errors()
            .iter()
            .map(ToString::to_string)
            .any(|m| m.starts_with(&want) && m.contains(cause)),
        "{text}\nwant `{want}...{cause}...`, got:\n{errs}"
    );
}
