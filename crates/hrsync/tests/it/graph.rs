//! The Graph target through the real binary, against the Graph double
//! (`graph-emulator`, which shares no code with the target) and the
//! SuccessFactors emulator: full and incremental sync of the seeded
//! scenarios with `builtin:sf-to-entra`, certificate auth included, read
//! back through the double's own API.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use graph_emulator::server::{GraphEmulator, RunningGraph};
use hrsync_sf_auth::keys;
use serde_json::Value;
use sf_emulator::Emulator;
use sf_emulator::events::HrEvent;
use sf_emulator::model::Scenario;

use crate::common::{self, TempDir, hrsync, text};

const CLIENT: &str = "6f1e0c8a-3b2d-4e5f-9a7b-1c2d3e4f5a6b";
const DOMAIN: &str = "contoso.com";

/// The double with the app's certificate registered (so every request
/// needs a token from its token endpoint), and the key set on disk.
pub(crate) async fn graph(dir: &Path, limit: Option<(usize, Duration)>) -> RunningGraph {
    let generated =
        keys::generate("hrsync e2e", keys::Validity::years_from_today(1)).expect("keys");
    keys::write(dir, &generated).expect("write keys");
    let mut g = GraphEmulator::new("127.0.0.1:0".parse().expect("addr"))
        .domain(DOMAIN)
        .app_with_certificate(CLIENT, &generated.certificate_pem);
    if let Some((n, w)) = limit {
        g = g.write_limit(n, w);
    }
    g.start().await.expect("graph double")
}

pub(crate) fn write_graph_config(dir: &Path, emulator: &str, graph: &str, extra: &str) -> PathBuf {
    let text = format!(
        r#"{source}
[target]
kind = "graph"
[target.connection]
tenant_id = "contoso"
client_id = "{CLIENT}"
certificate_file = "{cert}"
private_key_file = "{key}"
graph_url = "{graph}"
login_url = "{graph}"
domain = "{DOMAIN}"
{extra}

[flow]
mapping = "builtin:sf-to-entra"
time_zone = "UTC"
actions = ["create", "update", "disable"]

[state]
path = "state.sqlite"
"#,
        source = common::source_toml(emulator, 50),
        cert = keys::CERTIFICATE_FILE,
        key = keys::PRIVATE_KEY_FILE,
    );
    let path = dir.join("hrsync.toml");
    std::fs::write(&path, text).expect("write config");
    path
}

pub(crate) async fn run(config: &Path, args: &[&str]) -> std::process::Output {
    let config = config.to_owned();
    let args: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        hrsync(&config, &args, &[])
    })
    .await
    .expect("task")
}

/// Every user the double holds (with `_managerId`), by employeeId.
pub(crate) async fn users(g: &RunningGraph) -> BTreeMap<String, Vec<Value>> {
    let v: Value = reqwest::get(format!("{}/_emulator/users", g.base_url()))
        .await
        .expect("GET /_emulator/users")
        .json()
        .await
        .expect("JSON");
    let list = match v {
        Value::Array(a) => a,
        other => other["value"].as_array().cloned().unwrap_or_default(),
    };
    let mut out: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for u in list {
        out.entry(u["employeeId"].as_str().unwrap_or_default().to_owned()).or_default().push(u);
    }
    out
}

pub(crate) async fn stats(g: &RunningGraph) -> Value {
    reqwest::get(format!("{}/_emulator/stats", g.base_url()))
        .await
        .expect("stats")
        .json()
        .await
        .expect("JSON")
}

fn one<'a>(users: &'a BTreeMap<String, Vec<Value>>, person: &str) -> &'a Value {
    match users.get(person).map(Vec::as_slice) {
        Some([u]) => u,
        other => panic!("{person}: expected one Entra user, found {other:?}"),
    }
}

fn yesterday(emu: &sf_emulator::RunningEmulator) -> String {
    let ts = jiff::Timestamp::from_millisecond(emu.now_ms() - 86_400_000).expect("time");
    ts.to_string()[..10].to_owned()
}

fn retitle(person: String, title: &str) -> HrEvent {
    HrEvent::Transfer {
        person_id_external: person,
        effective: None,
        department: None,
        location: None,
        company: None,
        manager_id: None,
        job_title: Some(title.into()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graph_full_and_incremental_sync_of_the_seeded_scenarios() {
    let emu = Emulator::builder().workers(150).seed(16).start().await.expect("emulator");
    let dir = TempDir::new("graph-e2e");
    let g = graph(&dir.0, None).await;
    let config = write_graph_config(&dir.0, &emu.base_url(), &g.base_url(), "");
    let scenarios = emu.scenarios();

    let out = run(&config, &["check"]).await;
    assert!(out.status.success(), "check passes: {}", text(&out));

    let out = run(&config, &["sync", "--full"]).await;
    assert!(out.status.success(), "{}", text(&out));
    let all = users(&g).await;
    for (id, list) in &all {
        assert_eq!(list.len(), 1, "employeeId {id:?} has {} users", list.len());
    }
    let mut checked = BTreeMap::new();
    for (scenario, persons) in &scenarios {
        for person in persons.iter().take(6) {
            let want_enabled = match scenario {
                Scenario::Terminated | Scenario::TerminationInfoNull => false,
                Scenario::PreHireActive
                | Scenario::PreHireInactive
                | Scenario::PreHireOnboarding
                | Scenario::CreatedByEvent
                | Scenario::FutureDatedChange => continue,
                _ => true,
            };
            let u = one(&all, person);
            assert_eq!(
                u["accountEnabled"],
                Value::Bool(want_enabled),
                "{person} ({scenario:?}): {u}"
            );
            let upn = u["userPrincipalName"].as_str().unwrap_or_default();
            assert!(upn.ends_with("@contoso.com"), "{u}");
            if !want_enabled {
                assert!(u["employeeLeaveDateTime"].as_str().is_some(), "leave date: {u}");
            }
            *checked.entry(format!("{scenario:?}")).or_insert(0) += 1;
        }
    }
    for s in ["Active", "Manager", "Terminated", "Rehire", "Conversion", "GlobalAssignment"] {
        assert!(checked.get(s).copied().unwrap_or(0) > 0, "population has {s}: {checked:?}");
    }
    let ids: BTreeMap<&str, &str> = all
        .values()
        .flatten()
        .filter_map(|u| Some((u["id"].as_str()?, u["employeeId"].as_str()?)))
        .collect();
    let managed: Vec<&str> =
        all.values().flatten().filter_map(|u| u["_managerId"].as_str()).collect();
    assert!(managed.len() > 20, "most workers have a manager: {}", managed.len());
    for m in &managed {
        assert!(ids.contains_key(m), "manager {m} is a provisioned user");
    }
    let full = stats(&g).await;
    assert!(full["batches"].as_u64().unwrap_or(0) > 0, "writes went as $batch: {full}");
    assert!(full["tokens_issued"].as_u64().unwrap_or(0) >= 1, "{full}");

    // HR events, then an incremental cycle.
    std::thread::sleep(Duration::from_millis(1100));
    let active = &scenarios[&Scenario::Active];
    let terminated = scenarios[&Scenario::Terminated][0].clone();
    let ev = |e: HrEvent| emu.apply(&e).expect("event");
    ev(retitle(active[0].clone(), "Chief Graph Tester"));
    ev(HrEvent::Terminate {
        person_id_external: active[1].clone(),
        last_day: yesterday(&emu),
        user_id: None,
    });
    ev(HrEvent::Rehire { person_id_external: terminated.clone(), start_date: None });
    ev(HrEvent::Convert { person_id_external: active[2].clone(), start_date: None });
    // A new manager and a new report of theirs, hired in the same cycle.
    ev(HrEvent::Hire {
        person_id_external: Some("916001".into()),
        first_name: Some("Maren".into()),
        last_name: Some("Lindqvist".into()),
        start_date: None,
        company: None,
        manager_id: None,
    });
    let boss_user = emu.worker("916001").expect("new manager").employments[0].user_id.clone();
    ev(HrEvent::Hire {
        person_id_external: Some("916002".into()),
        first_name: Some("Zoë".into()),
        last_name: Some("O'Brien".into()),
        start_date: None,
        company: None,
        manager_id: Some(boss_user),
    });
    std::thread::sleep(Duration::from_millis(1100));
    let before = stats(&g).await;
    let out = run(&config, &["sync"]).await;
    assert!(out.status.success(), "{}", text(&out));
    let after = users(&g).await;

    let moved = one(&after, &active[0]);
    assert_eq!(moved["jobTitle"], "Chief Graph Tester");
    assert_eq!(moved["id"], one(&all, &active[0])["id"], "updated in place");
    let left = one(&after, &active[1]);
    assert_eq!(left["accountEnabled"], false, "disabled on termination: {left}");
    assert!(left["employeeLeaveDateTime"].as_str().is_some(), "leave date set: {left}");
    let rehired = one(&after, &terminated);
    assert_eq!(rehired["accountEnabled"], true, "re-enabled on rehire: {rehired}");
    assert!(rehired["employeeLeaveDateTime"].is_null(), "leave date cleared: {rehired}");
    assert_eq!(rehired["id"], one(&all, &terminated)["id"], "the same account");
    let converted = one(&after, &active[2]);
    assert_eq!(converted["accountEnabled"], true);
    assert_eq!(converted["id"], one(&all, &active[2])["id"]);
    let boss = one(&after, "916001");
    let report = one(&after, "916002");
    assert_eq!(report["_managerId"], boss["id"], "linked to a manager created in the same cycle");
    // The quote is a UPN character: it crosses $filter and the path escaped.
    assert_eq!(report["userPrincipalName"], "Zoe.O'Brien@contoso.com", "{report}");
    assert_eq!(after.len(), all.len() + 2);
    let cycle = stats(&g).await;
    let writes = cycle["writes"].as_u64().unwrap() - before["writes"].as_u64().unwrap();
    assert!(writes <= 12, "the incremental cycle wrote only what changed: {writes} writes");

    // A second incremental cycle writes nothing.
    let out = run(&config, &["sync"]).await;
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(stats(&g).await["writes"], cycle["writes"]);
    assert_eq!(users(&g).await, after);
    emu.shutdown().await;
}

/// Graph's rules are checked per worker before anything is sent: a mapping
/// making user principal names in a domain the tenant has not verified, and
/// employee ids longer than Graph's 16 characters, is reported by `plan`
/// worker by worker, and `sync` sends none of those users.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graph_rules_are_reported_per_worker_before_sending() {
    let emu = Emulator::builder().workers(20).seed(5).start().await.expect("emulator");
    let dir = TempDir::new("graph-rules");
    let g = graph(&dir.0, None).await;
    let mapping = hrsync_mapping::mapping::SF_TO_ENTRA_TOML
        .replace("\"contoso.com\"", "\"fabrikam.com\"")
        .replace(
            "expression = '[personIdExternal]'\nmatching = 1",
            "expression = 'Join(\"-\", [personIdExternal], \"0123456789\")'\nmatching = 1",
        );
    assert!(mapping.contains("fabrikam.com") && mapping.contains("0123456789"));
    std::fs::write(dir.0.join("bad.toml"), mapping).expect("write mapping");
    let config = write_graph_config(&dir.0, &emu.base_url(), &g.base_url(), "");
    let text_of = std::fs::read_to_string(&config).expect("config");
    std::fs::write(&config, text_of.replace("builtin:sf-to-entra", "bad.toml")).expect("config");

    let out = run(&config, &["plan", "--full"]).await;
    assert!(out.status.success(), "{}", text(&out));
    let plan = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(plan.contains("the target would refuse this account"), "{plan}");
    assert!(plan.contains("userPrincipalName") && plan.contains("fabrikam.com"), "{plan}");
    assert!(plan.contains("employeeId") && plan.contains("16"), "{plan}");
    let out = run(&config, &["sync", "--full"]).await;
    assert!(!out.status.success(), "every create refused: {}", text(&out));
    assert!(users(&g).await.is_empty(), "nothing was sent");
    assert_eq!(stats(&g).await["writes"], 0);
    emu.shutdown().await;
}

/// A token Entra refuses is explained by `hrsync check` with what to fix:
/// here the config's key pair is not the certificate registered on the app.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_explains_a_certificate_the_app_does_not_have() {
    let emu = Emulator::builder().workers(5).seed(5).start().await.expect("emulator");
    let dir = TempDir::new("graph-check");
    let registered = TempDir::new("graph-check-registered");
    let g = graph(&registered.0, None).await;
    let other =
        keys::generate("not registered", keys::Validity::years_from_today(1)).expect("keys");
    keys::write(&dir.0, &other).expect("write keys");
    let config = write_graph_config(&dir.0, &emu.base_url(), &g.base_url(), "");
    let out = run(&config, &["check"]).await;
    assert!(!out.status.success(), "{}", text(&out));
    let all = text(&out);
    assert!(all.contains("AADSTS700027") || all.contains("does not know the certificate"), "{all}");
    assert!(all.contains("Upload certificate.pem"), "{all}");
    assert!(!all.contains("BEGIN PRIVATE KEY"), "{all}");
    emu.shutdown().await;
}
