//! Helpers the test modules share: a double on a free port, a target
//! pointed at it, key sets on disk and configs.

use std::time::Duration;

use graph_emulator::server::{GraphEmulator, RunningGraph};
use hrsync_target::Attributes;
use hrsync_target_graph::{GraphConfig, GraphTarget, NoBearer};
use serde_json::{Value, json};

pub async fn start() -> RunningGraph {
    GraphEmulator::new("127.0.0.1:0".parse().unwrap()).start().await.unwrap()
}

pub async fn start_limited(writes: usize, window: Duration) -> RunningGraph {
    GraphEmulator::new("127.0.0.1:0".parse().unwrap())
        .write_limit(writes, window)
        .start()
        .await
        .unwrap()
}

/// A config for the double: a secret credential is named but the double
/// has no app registered, so no token is asked for ([`NoBearer`]).
pub fn config(g: &RunningGraph, extra: &str) -> GraphConfig {
    let text = format!(
        "tenant_id = \"contoso\"\nclient_id = \"hrsync\"\nfederated_token_file = \"/nonexistent\"\ngraph_url = \"{}\"\nlogin_url = \"{}\"\ndomain = \"contoso.example\"\n{extra}",
        g.base_url(),
        g.base_url()
    );
    toml::from_str(&text).unwrap()
}

pub fn target(g: &RunningGraph, extra: &str) -> GraphTarget {
    GraphTarget::with_bearer(config(g, extra), Box::new(NoBearer)).unwrap()
}

/// The attributes of a worker as `builtin:sf-to-entra` maps them.
pub fn worker(nick: &str, employee_id: &str) -> Attributes {
    let v = json!({
        "accountDisabled": "False",
        "displayName": format!("{nick} Tester"),
        "givenName": nick,
        "surname": "Tester",
        "mailNickname": nick,
        "userPrincipalName": format!("{nick}@contoso.example"),
        "employeeId": employee_id,
        "jobTitle": "Engineer",
        "employeeOrgData.costCenter": "CC-1",
        "employeeOrgData.division": "R&D",
        "employeeHireDate": "2024-03-01",
    });
    v.as_object().unwrap().clone().into_iter().collect()
}

pub async fn admin_users(g: &RunningGraph) -> Vec<Value> {
    let v: Value = reqwest::get(format!("{}/_emulator/users", g.base_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    match v {
        Value::Array(a) => a,
        other => other["value"].as_array().cloned().unwrap_or_default(),
    }
}

pub async fn stats(g: &RunningGraph) -> Value {
    reqwest::get(format!("{}/_emulator/stats", g.base_url())).await.unwrap().json().await.unwrap()
}

pub async fn fault(g: &RunningGraph, body: Value) {
    let r = reqwest::Client::new()
        .post(format!("{}/_emulator/faults", g.base_url()))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
}

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use hrsync_sf_auth::keys::{self, GeneratedKeys, Validity};

pub const CLIENT: &str = "11111111-2222-3333-4444-555555555555";
pub const TENANT: &str = "contoso-tenant";

/// A fresh directory under the system temp dir.
pub fn temp_dir(tag: &str) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "hrsync-graph-{tag}-{}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed),
        jiff::Timestamp::now().as_nanosecond()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// What `hrsync keys generate` writes, in a fresh directory.
pub struct KeySet {
    pub keys: GeneratedKeys,
    pub dir: PathBuf,
}

impl KeySet {
    pub fn new() -> KeySet {
        let keys = keys::generate("hrsync graph test", Validity::years_from_today(1)).unwrap();
        let dir = temp_dir("keys");
        keys::write(&dir, &keys).unwrap();
        KeySet { keys, dir }
    }
    pub fn certificate_file(&self) -> PathBuf {
        self.dir.join(keys::CERTIFICATE_FILE)
    }
    pub fn private_key_file(&self) -> PathBuf {
        self.dir.join(keys::PRIVATE_KEY_FILE)
    }
}

/// A config with no credential, pointed at `base` (the double's URL).
pub fn bare_config(base: &str) -> GraphConfig {
    GraphConfig {
        tenant_id: TENANT.into(),
        client_id: CLIENT.into(),
        certificate_file: None,
        private_key_file: None,
        federated_token_file: None,
        client_secret: None,
        graph_url: base.into(),
        login_url: base.into(),
        domain: None,
        concurrency: 4,
        write_budget: 2_500,
        write_window_secs: 150,
        tls_insecure: false,
    }
}

/// A certificate config for `keys`.
pub fn cert_config(base: &str, keys: &KeySet) -> GraphConfig {
    GraphConfig {
        certificate_file: Some(keys.certificate_file()),
        private_key_file: Some(keys.private_key_file()),
        ..bare_config(base)
    }
}
