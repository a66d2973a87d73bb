//! Helpers the test modules share: a double on a free port and a target
//! pointed at it.

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
