//! `builtin:sf-to-entra` over the seeded emulator population: a full sync
//! into the embedded target gives every worker Graph user properties with
//! Graph's types and sign-in names Graph accepts; terminated workers are
//! disabled with a leave date, rehired ones enabled without one; and the
//! Graph test double creates every one of them as a user.

use std::collections::BTreeMap;
use std::path::Path;

use crate::common;

use common::{TempDir, hrsync, source_toml, text};
use hrsync_target_embedded::EmbeddedTarget;
use serde_json::{Value, json};
use sf_emulator::Emulator;
use sf_emulator::events::HrEvent;
use sf_emulator::model::Scenario;

const UNIQUE: [&str; 2] = ["userPrincipalName", "mailNickname"];

fn write_entra_config(dir: &Path, base_url: &str) -> std::path::PathBuf {
    let text = format!(
        r#"{source}
[target]
kind = "embedded"
path = "target.sqlite"
unique = ["userPrincipalName", "mailNickname"]

[flow]
mapping = "builtin:sf-to-entra"
time_zone = "UTC"
actions = ["create", "update", "disable"]

[state]
path = "state.sqlite"
"#,
        source = source_toml(base_url, 50),
    );
    let path = dir.join("hrsync.toml");
    std::fs::write(&path, text).expect("write config");
    path
}

/// employeeId -> attributes of every object in the embedded target.
fn accounts(dir: &Path) -> BTreeMap<String, BTreeMap<String, Value>> {
    let t = EmbeddedTarget::open(&dir.join("target.sqlite"), &UNIQUE).expect("open target");
    let mut out = BTreeMap::new();
    for o in t.all().expect("list") {
        let id = o.attributes.get("employeeId").and_then(Value::as_str).unwrap_or_default();
        let id = id.to_owned();
        assert!(out.insert(id.clone(), o.attributes).is_none(), "two accounts for {id}");
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeded_workers_get_graph_properties() {
    let emu = Emulator::builder().workers(40).seed(16).start().await.expect("emulator");
    let scenarios = emu.scenarios();
    let known = scenarios[&Scenario::Active][0].clone();
    emu.apply(&HrEvent::NameChange {
        person_id_external: known.clone(),
        effective: None,
        first_name: Some("Zoë".into()),
        last_name: Some("O'Brien-Núñez".into()),
        preferred_name: None,
    })
    .expect("name change");
    let dir = TempDir::new("entra-mapping");
    let config = write_entra_config(&dir.0, &emu.base_url());
    let c = config.clone();
    let out = tokio::task::spawn_blocking(move || hrsync(&c, &["sync", "--full"], &[]))
        .await
        .expect("task");
    assert!(out.status.success(), "{}", text(&out));
    let all = accounts(&dir.0);
    assert!(all.len() >= 20, "{} accounts: {}", all.len(), text(&out));

    let a = &all[&known];
    assert_eq!(a["userPrincipalName"], json!("Zoe.O'Brien-Nunez@contoso.com"), "{a:?}");
    assert_eq!(a["mailNickname"], json!("Zoe.O'Brien-Nunez"));
    assert_eq!(a["givenName"], json!("Zoë"));
    assert_eq!(a["surname"], json!("O'Brien-Núñez"));
    assert_eq!(a["accountEnabled"], json!(true));
    for p in ["employeeOrgData.costCenter", "employeeOrgData.division", "employeeHireDate"] {
        assert!(a.get(p).and_then(Value::as_str).is_some_and(|v| !v.is_empty()), "{p}: {a:?}");
    }
    assert!(a.get("employeeLeaveDateTime").is_none_or(|v| v.is_null() || v == ""), "{a:?}");

    // Every account: Graph's types and a userPrincipalName Graph accepts.
    for (id, a) in &all {
        assert!(a["accountEnabled"].is_boolean(), "{id}: {a:?}");
        let upn = a["userPrincipalName"].as_str().unwrap_or_default();
        let (alias, domain) = upn.rsplit_once('@').unwrap_or_default();
        assert_eq!(domain, "contoso.com", "{id}: {upn}");
        assert!(
            !alias.is_empty()
                && alias.chars().all(|c| c.is_ascii_alphanumeric() || "'.-_!#^~".contains(c)),
            "{id}: {upn}"
        );
        if let Some(phones) = a.get("businessPhones").filter(|v| !v.is_null()) {
            assert!(phones.as_array().is_some_and(|p| p.len() == 1), "{id}: {phones}");
        }
        assert!(id.chars().count() <= 16, "employeeId {id} fits Graph");
    }

    let terminated: Vec<&String> =
        scenarios[&Scenario::Terminated].iter().filter(|p| all.contains_key(*p)).collect();
    assert!(!terminated.is_empty(), "{}", text(&out));
    for id in terminated {
        let a = &all[id];
        assert_eq!(a["accountEnabled"], json!(false), "{id}: {a:?}");
        let leave = a["employeeLeaveDateTime"].as_str().unwrap_or_default();
        assert!(leave.ends_with("T23:59:59Z") && leave.len() == 20, "{id}: {leave:?}");
    }
    for id in scenarios.get(&Scenario::Rehire).into_iter().flatten() {
        if let Some(a) = all.get(id) {
            assert_eq!(a["accountEnabled"], json!(true), "rehired {id}: {a:?}");
            assert!(
                a.get("employeeLeaveDateTime").is_none_or(|v| v.is_null() || v == ""),
                "{id}: {a:?}"
            );
        }
    }
    graph_accepts_every_account(&all).await;
    emu.shutdown().await;
}

/// The mapped values, nested as Graph nests them (`employeeOrgData.division`
/// under `employeeOrgData`), are users the Graph test double creates: its
/// property names and types come from Graph's published user metadata and
/// its rules from Graph's documentation (UPN characters and domain,
/// mailNickname, employeeId length). `manager` is a reference the target
/// sets by `$ref`, not a property.
async fn graph_accepts_every_account(all: &BTreeMap<String, BTreeMap<String, Value>>) {
    let graph = graph_emulator::server::GraphEmulator::new(([127, 0, 0, 1], 0).into())
        .domain("contoso.com")
        .start()
        .await
        .expect("graph double");
    let http = reqwest::Client::new();
    let mut refused = Vec::new();
    for (id, attrs) in all {
        let mut body = serde_json::Map::new();
        // As the Graph target sends them: no nulls, and an empty date (a
        // leave date cleared on rehire) is null, so left out of a create.
        for (name, value) in
            attrs.iter().filter(|(n, v)| *n != "manager" && !v.is_null() && *v != "")
        {
            match name.split_once('.') {
                Some((parent, child)) => {
                    let slot = body.entry(parent).or_insert_with(|| json!({}));
                    slot[child] = value.clone();
                }
                None => {
                    body.insert(name.clone(), value.clone());
                }
            }
        }
        body.insert(
            "passwordProfile".into(),
            json!({"password": "Xy7!long-enough-pass", "forceChangePasswordNextSignIn": true}),
        );
        let resp = http
            .post(format!("{}/v1.0/users", graph.base_url()))
            .json(&body)
            .send()
            .await
            .expect("POST /v1.0/users");
        if resp.status().as_u16() != 201 {
            let status = resp.status();
            refused.push(format!("{id}: {status} {}", resp.text().await.unwrap_or_default()));
        }
    }
    assert!(refused.is_empty(), "the Graph double refused:\n{}", refused.join("\n"));
    assert_eq!(graph.tenant().users.len(), all.len());
    // The control: the double does check types (a string accountEnabled,
    // as an AD-style "True"/"False" mapping would give, is refused).
    let wrong = json!({
        "accountEnabled": "True", "displayName": "X", "mailNickname": "x",
        "userPrincipalName": "x@contoso.com",
        "passwordProfile": {"password": "Xy7!long-enough-pass"},
    });
    let resp = http.post(format!("{}/v1.0/users", graph.base_url())).json(&wrong).send().await;
    assert_eq!(resp.expect("POST").status().as_u16(), 400);
    graph.shutdown().await;
}
