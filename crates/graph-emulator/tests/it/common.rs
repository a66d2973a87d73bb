//! Helpers the test modules share: a double on a free port and a minimal
//! valid user.

use graph_emulator::server::{GraphEmulator, RunningGraph};
use serde_json::{Value, json};

pub async fn start() -> RunningGraph {
    GraphEmulator::new("127.0.0.1:0".parse().unwrap()).start().await.unwrap()
}

/// The properties Graph requires on create, in the default verified domain.
pub fn user(nick: &str) -> Value {
    json!({
        "accountEnabled": true,
        "displayName": nick,
        "mailNickname": nick,
        "userPrincipalName": format!("{nick}@contoso.example"),
        "passwordProfile": {"forceChangePasswordNextSignIn": true, "password": "S3cret!xyz"},
    })
}

/// POST /v1.0/users of [`user`].
pub async fn post_user(g: &RunningGraph, nick: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{}/v1.0/users", g.base_url()))
        .json(&user(nick))
        .send()
        .await
        .unwrap()
}

/// Creates [`user`] and returns its object id.
pub async fn create(g: &RunningGraph, nick: &str) -> String {
    let r = post_user(g, nick).await;
    assert_eq!(r.status(), 201);
    let b: Value = r.json().await.unwrap();
    b["id"].as_str().unwrap().to_owned()
}
