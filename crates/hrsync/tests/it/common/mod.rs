//! Running the real `hrsync` binary against an in-process emulator, with a
//! config file and databases in a private directory.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use hrsync_target_embedded::EmbeddedTarget;
pub use hrsync_testkit::TempDir;

pub const BIN: &str = env!("CARGO_BIN_EXE_hrsync");

/// The `[source]` section for the emulator at `base_url` (basic auth, the
/// password from `HRSYNC_TEST_SF_PASSWORD`, which [`hrsync`] sets).
pub fn source_toml(base_url: &str, page_size: u32) -> String {
    format!(
        r#"[source]
url = "{base_url}"
company_id = "{company}"
page_size = {page_size}
timeout = "30s"
[source.auth]
method = "basic"
username = "{user}"
password_env = "HRSYNC_TEST_SF_PASSWORD"
"#,
        company = sf_emulator::DEFAULT_COMPANY_ID,
        user = sf_emulator::DEFAULT_USERNAME,
    )
}

/// A config for the emulator at `base_url`, embedded target and state in `dir`.
pub fn write_config(dir: &Path, base_url: &str, page_size: u32) -> PathBuf {
    let text = format!(
        r#"{source}
[target]
kind = "embedded"
path = "target.sqlite"
unique = ["userPrincipalName", "sAMAccountName"]

[flow]
mapping = "builtin:sf-to-ad"
time_zone = "UTC"
actions = ["create", "update", "disable"]

[state]
path = "state.sqlite"
"#,
        source = source_toml(base_url, page_size),
    );
    let path = dir.join("hrsync.toml");
    std::fs::write(&path, text).expect("write config");
    path
}

pub fn hrsync(config: &Path, args: &[&str], env: &[(&str, String)]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .arg("--config")
        .arg(config)
        .env("HRSYNC_TEST_SF_PASSWORD", sf_emulator::DEFAULT_PASSWORD)
        .env_remove("HRSYNC_CRASH_AFTER");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run hrsync")
}

pub fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// employeeID -> attributes of every object in the embedded target.
pub fn snapshot(dir: &Path) -> BTreeMap<String, BTreeMap<String, serde_json::Value>> {
    let t =
        EmbeddedTarget::open(&dir.join("target.sqlite"), &["userPrincipalName", "sAMAccountName"])
            .expect("open target");
    let mut out = BTreeMap::new();
    for o in t.all().expect("list") {
        let id =
            o.attributes.get("employeeID").and_then(|v| v.as_str()).unwrap_or_default().to_owned();
        assert!(out.insert(id.clone(), o.attributes).is_none(), "two accounts for employeeID {id}");
    }
    out
}
