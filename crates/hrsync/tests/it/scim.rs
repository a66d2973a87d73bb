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

/// A transfer that changes only the job title.
pub(crate) fn retitle(person: String, title: &str) -> HrEvent {
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
    ev(retitle(active[0].clone(), "Chief SCIM Tester"));
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

/// A Salesforce-like scim2-server: the server's own default schemas, with
/// `entitlements` (and its `value`) required and the profile ids it offers
/// as `canonicalValues` (scim2-server enforces `required`, not the values:
/// that check is hrsync's), and the Salesforce user extension
/// (`alias`, `emailEncodingKey`) declared on the User resource type.
async fn salesforce_like_server() -> hrsync_testkit::ScimServer {
    let base = server().tenant_url("salesforce-defaults");
    let client = reqwest::Client::new();
    let get = |path: &str| {
        let req = client.get(format!("{base}{path}")).bearer_auth(server().token());
        async move {
            let v: Value = req.send().await.expect("discovery").json().await.expect("JSON");
            let mut list = v["Resources"].as_array().cloned().expect("a ListResponse");
            for r in &mut list {
                if let Some(o) = r.as_object_mut() {
                    o.remove("meta");
                    o.remove("schemas");
                }
            }
            list
        }
    };
    let mut schemas = get("/Schemas").await;
    let mut types = get("/ResourceTypes").await;
    let user = schemas
        .iter_mut()
        .find(|s| s["id"] == "urn:ietf:params:scim:schemas:core:2.0:User")
        .expect("core User schema");
    let ent = user["attributes"]
        .as_array_mut()
        .and_then(|a| a.iter_mut().find(|x| x["name"] == "entitlements"))
        .expect("entitlements");
    ent["required"] = Value::Bool(true);
    let value = ent["subAttributes"]
        .as_array_mut()
        .and_then(|a| a.iter_mut().find(|x| x["name"] == "value"))
        .expect("entitlements.value");
    value["required"] = Value::Bool(true);
    value["canonicalValues"] = serde_json::json!(OFFERED);
    let text = |name: &str| {
        serde_json::json!({"name": name, "type": "string", "multiValued": false,
            "required": false, "caseExact": false, "mutability": "readWrite",
            "returned": "default", "uniqueness": "none", "description": name})
    };
    schemas.push(serde_json::json!({"id": SF_EXT, "name": "SalesforceUser",
        "description": "Salesforce user fields",
        "attributes": [text("alias"), text("emailEncodingKey")]}));
    let user_type = types.iter_mut().find(|t| t["id"] == "User").expect("User resource type");
    user_type["schemaExtensions"]
        .as_array_mut()
        .expect("schemaExtensions")
        .push(serde_json::json!({"schema": SF_EXT, "required": false}));
    hrsync_testkit::ScimServer::start_with_schemas(&Value::Array(schemas), &Value::Array(types))
        .unwrap_or_else(|e| panic!("scim2-server with a Salesforce-like schema: {e}"))
}

const SF_EXT: &str = "urn:salesforce:schemas:extension:1.0";
/// The profile ids the Salesforce-like server offers; the built-in
/// mapping's placeholder is the first.
const OFFERED: [&str; 2] = ["00e000000000000AAA", "00e000000000001AAA"];

/// `builtin:sf-to-salesforce` with its `entitlements` mapping replaced by
/// `replacement` (nothing: removed), as a mapping file in `dir`.
fn salesforce_mapping(dir: &Path, name: &str, replacement: &str) -> String {
    let builtin = hrsync_mapping::mapping::SF_TO_SALESFORCE_TOML;
    let block = "[[mapping]]\ntarget = \"entitlements\"\nexpression = '\"00e000000000000AAA\"'\n";
    assert!(builtin.contains(block), "the built-in maps entitlements as this test expects");
    let file = format!("{name}.toml");
    std::fs::write(dir.join(&file), builtin.replace(block, replacement)).expect("write mapping");
    file
}

/// The seed's failure (../shared/seeds/003): Salesforce refuses every create
/// without a profile id. hrsync names the missing attribute in `check` and
/// `plan` and sends nothing; with the built-in mapping creates succeed; a
/// profile id the server does not offer is caught by `plan`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn salesforce_profile_id_is_caught_before_anything_is_sent() {
    let emu = Emulator::builder().workers(30).seed(3).start().await.expect("emulator");
    let sf = salesforce_like_server().await;
    let dir = TempDir::new("scim-salesforce");
    let profile = "profile = \"salesforce\"";

    // 1. The mapping without its entitlement.
    let url = sf.tenant_url("no-profile");
    let mapping = salesforce_mapping(&dir.0, "no-profile", "");
    let config = write_scim_config(&dir.0, &emu.base_url(), &url, &mapping, profile);
    let out = run(&config, &["check"]).await;
    assert_eq!(out.status.code(), Some(1), "check fails: {}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    for want in [
        "FAIL target schema: entitlements is required by the SCIM server's schema",
        "FAIL target schema: entitlements is required by Salesforce (every user needs a profile id",
    ] {
        assert!(stdout.contains(want), "check says {want:?}: {stdout}");
    }
    let out = run(&config, &["plan", "--full"]).await;
    assert!(out.status.success(), "{}", text(&out));
    let plan = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        plan.contains("entitlements is required by the SCIM server's schema")
            && plan.contains("no mapping writes it"),
        "plan names the missing attribute: {plan}"
    );
    assert!(plan.contains("error: the target would refuse this account: entitlements"), "{plan}");
    let out = run(&config, &["sync", "--full"]).await;
    assert_eq!(out.status.code(), Some(3), "every create refused: {}", text(&out));
    assert!(users(&url).await.is_empty(), "nothing was sent");

    // 2. The built-in mapping: creates succeed, with the profile id.
    let url = sf.tenant_url("builtin");
    let config =
        write_scim_config(&dir.0, &emu.base_url(), &url, "builtin:sf-to-salesforce", profile);
    let out = run(&config, &["check"]).await;
    assert!(out.status.success(), "check passes: {}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("every required attribute is mapped"));
    let out = run(&config, &["sync", "--full"]).await;
    assert!(out.status.success(), "{}", text(&out));
    let created = users(&url).await;
    assert!(created.len() > 15, "{} users", created.len());
    for (person, list) in &created {
        let u = &list[0];
        assert_eq!(u["entitlements"][0]["value"], OFFERED[0], "{person}: {u}");
        let alias = u[SF_EXT]["alias"].as_str().unwrap_or_default();
        assert!(!alias.is_empty() && alias.chars().count() <= 8, "{person}: alias {alias:?}");
        assert_eq!(u[SF_EXT]["emailEncodingKey"], "UTF-8");
    }

    // 3. A profile id the server does not offer: plan says so, sync sends nothing.
    let url = sf.tenant_url("unknown-profile");
    let mapping = salesforce_mapping(
        &dir.0,
        "unknown-profile",
        "[[mapping]]\ntarget = \"entitlements\"\nexpression = '\"00eNOTOFFERED0000\"'\n",
    );
    let config = write_scim_config(&dir.0, &emu.base_url(), &url, &mapping, profile);
    let out = run(&config, &["plan", "--full"]).await;
    assert!(out.status.success(), "{}", text(&out));
    let plan = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        plan.contains(
            "entitlements: \"00eNOTOFFERED0000\" is not one of the values the SCIM server's schema"
        ) && plan.contains(OFFERED[0])
            && plan.contains("workers, first: "),
        "plan names the value, the offered ones and the workers: {plan}"
    );
    let out = run(&config, &["sync", "--full"]).await;
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(users(&url).await.is_empty(), "nothing was sent");
    emu.shutdown().await;
}

/// `hrsync on-demand` shows the SCIM requests it sent and the answers;
/// `hrsync plan --person` shows the request it would send, and sends
/// nothing. The token never appears.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_demand_and_plan_show_the_scim_requests() {
    let emu = Emulator::builder().workers(6).seed(7).start().await.expect("emulator");
    let person = emu.scenarios()[&Scenario::Active][0].clone();
    let url = server().tenant_url("requests-shown");
    let dir = TempDir::new("scim-requests");
    let config = write_scim_config(&dir.0, &emu.base_url(), &url, "builtin:sf-to-scim", "");

    let out = run(&config, &["on-demand", &person]).await;
    assert!(out.status.success(), "{}", text(&out));
    let shown = String::from_utf8_lossy(&out.stdout).to_string();
    let post = shown
        .lines()
        .find(|l| l.starts_with("request") && l.contains(&format!("POST {url}/Users ")))
        .unwrap_or_else(|| panic!("the POST is shown: {shown}"));
    assert!(post.contains(&format!("\"externalId\":\"{person}\"")), "{post}");
    assert!(post.contains("-> HTTP 201 ") && post.contains("\"id\":"), "and the answer: {post}");
    assert!(shown.contains("filter=externalId eq"), "the lookups too: {shown}");
    assert!(!shown.contains(server().token()), "no token in the output");

    std::thread::sleep(std::time::Duration::from_millis(1100));
    emu.apply(&retitle(person.clone(), "Planned Title")).expect("transfer");
    let out = run(&config, &["plan", "--person", &person]).await;
    assert!(out.status.success(), "{}", text(&out));
    let plan = String::from_utf8_lossy(&out.stdout).to_string();
    let id = one(&users(&url).await, &person)["id"].as_str().expect("id").to_owned();
    let want = format!("request (planned): PATCH {url}/Users/{id} ");
    let line = plan.lines().find(|l| l.trim_start().starts_with(&want)).unwrap_or_else(|| {
        panic!("plan shows {want:?}: {plan}");
    });
    assert!(
        line.contains(r#""op":"replace","path":"title","value":"Planned Title""#),
        "only the change: {line}"
    );
    assert_ne!(one(&users(&url).await, &person)["title"], "Planned Title", "plan sent nothing");
    emu.shutdown().await;
}

/// What a user looks like apart from server-assigned ids and times, the
/// manager named by their externalId.
fn comparable(all: &BTreeMap<String, Vec<Value>>) -> BTreeMap<String, Value> {
    let by_id: BTreeMap<&str, &str> = all
        .values()
        .flatten()
        .filter_map(|u| Some((u["id"].as_str()?, u["externalId"].as_str()?)))
        .collect();
    all.iter()
        .map(|(k, list)| {
            let mut u = list[0].clone();
            if let Some(o) = u.as_object_mut() {
                o.remove("id");
                o.remove("meta");
            }
            let manager = u[ENTERPRISE]["manager"]["value"].as_str().map(|m| by_id.get(m).copied());
            if let Some(m) = manager {
                u[ENTERPRISE]["manager"] = serde_json::json!({ "externalId": m });
            }
            (k.clone(), u)
        })
        .collect()
}

/// With 8 requests in flight and a rate limit, the end state equals a
/// sequential run's (`concurrency = 1`), manager references included; the
/// sequential run looks every page up on the server (`fast_first_load =
/// false`), the concurrent one answers them from the users it created.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_sync_ends_as_a_sequential_one() {
    let emu = Emulator::builder().workers(80).seed(88).start().await.expect("emulator");
    let mut states = Vec::new();
    for (tenant, extra) in [
        ("sequential", "concurrency = 1\nfast_first_load = false"),
        ("concurrent", "concurrency = 8\nrate_limit = 400.0"),
    ] {
        let url = server().tenant_url(&format!("concurrency-{tenant}"));
        let dir = TempDir::new(&format!("scim-{tenant}"));
        let config = write_scim_config(&dir.0, &emu.base_url(), &url, "builtin:sf-to-scim", extra);
        let out = run(&config, &["sync", "--full"]).await;
        assert!(out.status.success(), "{tenant}: {}", text(&out));
        states.push(comparable(&users(&url).await));
    }
    assert!(states[0].len() > 40, "{}", states[0].len());
    let managed = states[0].values().filter(|u| u[ENTERPRISE]["manager"].is_object()).count();
    assert!(managed > 10, "managers are part of the comparison: {managed}");
    let differ: Vec<String> = states[0]
        .iter()
        .filter(|(k, v)| states[1].get(*k) != Some(*v))
        .map(|(k, v)| {
            let other = states[1].get(k).cloned().unwrap_or_default();
            let fields: Vec<String> = v
                .as_object()
                .into_iter()
                .flatten()
                .filter(|(f, x)| other.get(f.as_str()) != Some(*x))
                .map(|(f, x)| format!("{f}: {x} vs {}", other[f.as_str()]))
                .collect();
            format!("{k}: {fields:?}")
        })
        .collect();
    assert!(differ.is_empty() && states[0].len() == states[1].len(), "{differ:#?}");
    emu.shutdown().await;
}
