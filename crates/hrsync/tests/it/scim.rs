//! The SCIM target through the real binary, against a real scim2-server (a
//! tenant per test) and the emulator: full and incremental sync of the
//! seeded scenarios with `builtin:sf-to-scim`, read back through the SCIM
//! server's own API, and the provisioning log.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;
use sf_emulator::Emulator;
use sf_emulator::events::HrEvent;
use sf_emulator::model::Scenario;

use crate::common::{self, TempDir, hrsync, text};

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const TOKEN_VAR: &str = "HRSYNC_TEST_SCIM_TOKEN";

/// The shared scim2-server, or a failure saying why it is missing.
pub(crate) fn server() -> &'static hrsync_testkit::ScimServer {
    hrsync_testkit::ScimServer::shared()
        .unwrap_or_else(|e| panic!("scim2-server is required (scripts/test.sh installs it): {e}"))
}

/// A config: the emulator as source, the SCIM tenant at `scim_url` as
/// target, `mapping` as the flow's mapping, `extra` appended to
/// `[target.connection]`.
pub(crate) fn write_scim_config(
    dir: &Path,
    emulator: &str,
    scim_url: &str,
    mapping: &str,
    extra: &str,
) -> PathBuf {
    let text = format!(
        r#"{source}
[target]
kind = "scim"
[target.connection]
url = "{scim_url}"
method = "bearer"
token_env = "{TOKEN_VAR}"
{extra}

[flow]
mapping = "{mapping}"
time_zone = "UTC"
actions = ["create", "update", "disable"]

[state]
path = "state.sqlite"
"#,
        source = common::source_toml(emulator, 50),
    );
    let path = dir.join("hrsync.toml");
    std::fs::write(&path, text).expect("write config");
    path
}

/// `hrsync ARGS --config CONFIG` with the SCIM token in its environment.
pub(crate) async fn run(config: &Path, args: &[&str]) -> std::process::Output {
    let config = config.to_owned();
    let args: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
    let token = server().token().to_owned();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        hrsync(&config, &args, &[(TOKEN_VAR, token)])
    })
    .await
    .expect("task")
}

/// Every user of the tenant, as the server returns them: externalId -> users.
pub(crate) async fn users(scim_url: &str) -> BTreeMap<String, Vec<Value>> {
    let client = reqwest::Client::new();
    let mut out: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    let mut start = 1;
    loop {
        let page: Value = client
            .get(format!("{scim_url}/Users?startIndex={start}&count=200"))
            .bearer_auth(server().token())
            .send()
            .await
            .expect("GET /Users")
            .json()
            .await
            .expect("a ListResponse");
        let resources = page["Resources"].as_array().cloned().unwrap_or_default();
        let total = page["totalResults"].as_u64().expect("totalResults") as usize;
        start += resources.len();
        for r in resources {
            let key = r["externalId"].as_str().unwrap_or_default().to_owned();
            out.entry(key).or_default().push(r);
        }
        if start > total || start == 1 {
            return out;
        }
    }
}

/// The one user of `person`.
fn one<'a>(users: &'a BTreeMap<String, Vec<Value>>, person: &str) -> &'a Value {
    match users.get(person).map(Vec::as_slice) {
        Some([u]) => u,
        other => panic!("{person}: expected one SCIM user, found {other:?}"),
    }
}

fn work_email(user: &Value) -> Option<&str> {
    user["emails"].as_array()?.iter().find(|e| e["type"] == "work")?["value"].as_str()
}

/// The provisioning log of `person`, newest first.
async fn log_of(config: &Path, person: &str) -> Vec<Value> {
    let out = run(config, &["logs", "--person", person, "--json"]).await;
    assert!(out.status.success(), "{}", text(&out));
    let v: Value = serde_json::from_slice(&out.stdout).expect("logs JSON");
    v.as_array().cloned().unwrap_or_default()
}

/// The names of the attributes a log entry says were modified.
fn modified(entry: &Value) -> Vec<String> {
    entry["modified"]
        .as_array()
        .map(|m| m.iter().filter_map(|c| c["attribute"].as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

/// The emulator's yesterday, as an OData date (`YYYY-MM-DD`).
fn yesterday(emu: &sf_emulator::RunningEmulator) -> String {
    let ts = jiff::Timestamp::from_millisecond(emu.now_ms() - 86_400_000).expect("time");
    ts.to_string()[..10].to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scim_full_and_incremental_sync_of_the_seeded_scenarios() {
    let emu = Emulator::builder().workers(150).seed(14).start().await.expect("emulator");
    let scim_url = server().tenant_url("e2e-scenarios");
    let dir = TempDir::new("scim-e2e");
    let config = write_scim_config(&dir.0, &emu.base_url(), &scim_url, "builtin:sf-to-scim", "");
    let scenarios = emu.scenarios();

    let out = run(&config, &["sync", "--full"]).await;
    assert!(out.status.success(), "{}", text(&out));
    let all = users(&scim_url).await;
    for (externals, list) in &all {
        assert_eq!(list.len(), 1, "externalId {externals:?} has {} users", list.len());
    }
    let mut checked = BTreeMap::new();
    for (scenario, persons) in &scenarios {
        for person in persons.iter().take(6) {
            let want_active = match scenario {
                Scenario::Terminated | Scenario::TerminationInfoNull => false,
                // Pre-hires depend on the lead time; events are checked below.
                Scenario::PreHireActive
                | Scenario::PreHireInactive
                | Scenario::PreHireOnboarding
                | Scenario::CreatedByEvent
                | Scenario::FutureDatedChange => continue,
                _ => true,
            };
            let u = one(&all, person);
            assert_eq!(u["active"], Value::Bool(want_active), "{person} ({scenario:?}): {u}");
            assert_eq!(u[ENTERPRISE]["employeeNumber"], person.as_str(), "{u}");
            assert!(u["userName"].as_str().is_some_and(|n| n.contains('@')), "{u}");
            *checked.entry(format!("{scenario:?}")).or_insert(0) += 1;
        }
    }
    for s in ["Active", "Manager", "Terminated", "Rehire", "Conversion", "GlobalAssignment"] {
        assert!(checked.get(s).copied().unwrap_or(0) > 0, "population has {s}: {checked:?}");
    }
    // Manager references are SCIM ids of users this sync created.
    let ids: BTreeMap<&str, &str> = all
        .values()
        .flatten()
        .filter_map(|u| Some((u["id"].as_str()?, u["externalId"].as_str()?)))
        .collect();
    let managed: Vec<&str> =
        all.values().flatten().filter_map(|u| u[ENTERPRISE]["manager"]["value"].as_str()).collect();
    assert!(managed.len() > 20, "most workers have a manager: {}", managed.len());
    for m in &managed {
        assert!(ids.contains_key(m), "manager.value {m} is a provisioned user's id");
    }
    let created = log_of(&config, &scenarios[&Scenario::Active][0]).await;
    assert_eq!(created.first().map(|e| e["action"].clone()), Some("create".into()), "{created:?}");

    // HR events, then an incremental cycle.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let active = &scenarios[&Scenario::Active];
    let terminated = scenarios[&Scenario::Terminated][0].clone();
    let manager = scenarios[&Scenario::Manager][0].clone();
    let manager_user = emu.worker(&manager).expect("manager").employments[0].user_id.clone();
    let ev = |e: HrEvent| emu.apply(&e).expect("event");
    ev(HrEvent::Transfer {
        person_id_external: active[0].clone(),
        effective: None,
        department: None,
        location: None,
        company: None,
        manager_id: None,
        job_title: Some("Chief SCIM Tester".into()),
    });
    ev(HrEvent::Terminate {
        person_id_external: active[1].clone(),
        last_day: yesterday(&emu),
        user_id: None,
    });
    ev(HrEvent::Rehire { person_id_external: terminated.clone(), start_date: None });
    ev(HrEvent::Convert { person_id_external: active[2].clone(), start_date: None });
    ev(HrEvent::EmailChange {
        person_id_external: active[3].clone(),
        email_type: "B".into(),
        address: Some("moved.on@example.com".into()),
        is_primary: Some(true),
    });
    ev(HrEvent::Hire {
        person_id_external: Some("914001".into()),
        first_name: Some("Zoë".into()),
        last_name: Some("O'Brien \"Quote\"".into()),
        start_date: None,
        company: None,
        manager_id: Some(manager_user),
    });
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let out = run(&config, &["sync"]).await;
    assert!(out.status.success(), "{}", text(&out));
    let after = users(&scim_url).await;

    let transferred = one(&after, &active[0]);
    assert_eq!(transferred["title"], "Chief SCIM Tester");
    assert_eq!(transferred["id"], one(&all, &active[0])["id"], "updated in place");
    let log = log_of(&config, &active[0]).await;
    assert_eq!(log[0]["action"], "update", "{log:?}");
    assert_eq!(modified(&log[0]), ["title"], "only the changed attribute is sent: {log:?}");

    assert_eq!(one(&after, &active[1])["active"], false, "disabled on termination");
    let rehired = one(&after, &terminated);
    assert_eq!(rehired["active"], true, "re-enabled on rehire");
    assert_eq!(rehired["id"], one(&all, &terminated)["id"], "the same account, not a new one");
    let converted = one(&after, &active[2]);
    assert_eq!(converted["active"], true, "conversion keeps the account active");
    assert_eq!(converted["id"], one(&all, &active[2])["id"]);
    assert_eq!(work_email(one(&after, &active[3])), Some("moved.on@example.com"));

    let hired = one(&after, "914001");
    assert_eq!(hired["active"], true);
    assert_eq!(hired["name"]["familyName"], "O'Brien \"Quote\"");
    assert_eq!(
        hired[ENTERPRISE]["manager"]["value"],
        one(&after, &manager)["id"],
        "the new hire's manager is the manager's SCIM id: {hired}"
    );
    assert_eq!(after.len(), all.len() + 1, "one user more: the new hire");

    // A second incremental cycle sends nothing new.
    let out = run(&config, &["sync"]).await;
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(users(&scim_url).await, after);
    emu.shutdown().await;
}
