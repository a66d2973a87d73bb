//! How the SCIM target and the engine answer what SCIM servers say: 409
//! (uniqueness -> join; Salesforce's body -> quoted with the attribute at
//! fault), 404 on PATCH (-> matched again), 412 (-> read again, retried
//! once), 429 (-> waited out as Retry-After says) and 5xx (-> escrowed and
//! retried). The real scim2-server answers where it can (404, the data);
//! where it cannot, a scripted responder in front of it (testkit
//! `proxy::Responder`, named as such in each test) gives the answer.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use hrsync_testkit::proxy::{Request, Responder, Verdict};
use serde_json::{Value, json};
use sf_emulator::Emulator;
use sf_emulator::events::HrEvent;
use sf_emulator::model::Scenario;

use crate::common::{TempDir, text};
use crate::scim::{retitle, run, server, users, write_scim_config};

fn scim_error(status: u16, scim_type: Option<&str>, detail: &str) -> Verdict {
    let mut body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
        "status": status.to_string(), "detail": detail});
    if let Some(t) = scim_type {
        body["scimType"] = json!(t);
    }
    Verdict::Respond { status, headers: vec![], body: body.to_string() }
}

/// The body's externalId, for a POST /Users.
fn posted_external_id(r: &Request) -> Option<String> {
    if r.method != "POST" || !r.target.contains("/Users") {
        return None;
    }
    let v: Value = serde_json::from_slice(&r.body).ok()?;
    v["externalId"].as_str().map(str::to_owned)
}

async fn log_of(config: &std::path::Path, person: &str) -> Vec<Value> {
    let out = run(config, &["logs", "--person", person, "--json"]).await;
    assert!(out.status.success(), "{}", text(&out));
    serde_json::from_slice::<Value>(&out.stdout).expect("logs JSON").as_array().cloned().unwrap()
}

/// 409s on create, from a scripted responder: for a worker whose account
/// exists (created behind a search index that had not caught up, so the
/// matching lookup missed it) the account is joined and brought up to
/// date, not duplicated; for a worker whose userName belongs to an account
/// that is not theirs, the error names the value; Salesforce's
/// REQUIRED_FIELD_MISSING body is quoted in the provisioning log with the
/// attribute at fault, and the refusal is flagged, not retried every cycle.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conflicts_on_create_join_the_workers_own_account_or_say_whose_value_it_is() {
    let emu = Emulator::builder().workers(12).seed(409).start().await.expect("emulator");
    let active = emu.scenarios()[&Scenario::Active].clone();
    let (own, other, salesforce) = (active[0].clone(), active[1].clone(), active[2].clone());
    let upstream = server().tenant_url("responses-409");

    // The account of `own` exists already, made by someone else.
    let client = reqwest::Client::new();
    let made: Value = client
        .post(format!("{upstream}/Users"))
        .bearer_auth(server().token())
        .header("Content-Type", "application/scim+json")
        .body(
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": "made.by.hand@contoso.com", "externalId": own, "title": "stale"})
            .to_string(),
        )
        .send()
        .await
        .expect("POST")
        .json()
        .await
        .expect("created");
    let made_id = made["id"].as_str().expect("id").to_owned();

    let lookups_of_own = Arc::new(AtomicUsize::new(0));
    let posts: Arc<Mutex<Vec<String>>> = Arc::default();
    let (l, p) = (lookups_of_own.clone(), posts.clone());
    let (own2, other2, sf2) = (own.clone(), other.clone(), salesforce.clone());
    let responder = Responder::start(&upstream, move |r| {
        // The search index has not caught up: the first lookup of `own`
        // by externalId finds nothing.
        if r.method == "GET"
            && r.target.contains("externalId")
            && r.target.contains(own2.as_str())
            && l.fetch_add(1, Ordering::SeqCst) == 0
        {
            let empty = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
                "totalResults": 0, "Resources": []});
            return Verdict::Respond { status: 200, headers: vec![], body: empty.to_string() };
        }
        let Some(id) = posted_external_id(r) else { return Verdict::Forward };
        if let Ok(mut p) = p.lock() {
            p.push(id.clone());
        }
        if id == own2 || id == other2 {
            scim_error(409, Some("uniqueness"), "userName is already taken")
        } else if id == sf2 {
            scim_error(
                409,
                None,
                "REQUIRED_FIELD_MISSING:user_must_have_one_entitlement_which_must_be_a_profileid",
            )
        } else {
            Verdict::Forward
        }
    })
    .expect("scripted responder");
    let url = format!("{}{}", responder.url(), upstream.trim_start_matches(&server_root()));
    let dir = TempDir::new("scim-409");
    let config = write_scim_config(&dir.0, &emu.base_url(), &url, "builtin:sf-to-scim", "");

    let out = run(&config, &["sync", "--full"]).await;
    assert_eq!(out.status.code(), Some(3), "two workers fail: {}", text(&out));
    let all = users(&upstream).await;
    let own_users = &all[&own];
    assert_eq!(own_users.len(), 1, "joined, not duplicated: {own_users:?}");
    assert_eq!(own_users[0]["id"], made_id.as_str());
    let worker = emu.worker(&own).expect("worker");
    assert_ne!(own_users[0]["title"], "stale", "brought up to date: {}", own_users[0]);
    assert!(worker.person_id_external == own);
    let log = log_of(&config, &own).await;
    assert_eq!(log[0]["action"], "update", "{log:?}");
    assert!(log[0]["target_id"] == made_id.as_str(), "{log:?}");
    assert!(
        log[0].to_string().contains("is this worker's: joined"),
        "the log says why it joined: {log:?}"
    );

    assert!(!all.contains_key(&other), "not created");
    let log = log_of(&config, &other).await;
    let error = log[0]["error"].as_str().unwrap_or_default();
    assert!(
        error.contains(
            "is already used by another account, which does not match this worker by externalId"
        ),
        "{log:?}"
    );

    let log = log_of(&config, &salesforce).await;
    let error = log[0]["error"].as_str().unwrap_or_default();
    assert!(
        error.contains(r#"HTTP 409: "REQUIRED_FIELD_MISSING:user_must_have_one_entitlement_which_must_be_a_profileid""#)
            && error.contains("at fault: entitlements: Salesforce requires a profile id"),
        "the body is quoted with the attribute at fault: {error}"
    );

    // Flagged, not retried: an incremental cycle with no HR change sends
    // no second create for either.
    let before = posts.lock().expect("posts").len();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let out = run(&config, &["sync"]).await;
    assert!(out.status.success() || out.status.code() == Some(3), "{}", text(&out));
    let again: Vec<String> = posts.lock().expect("posts")[before..].to_vec();
    assert!(
        !again.contains(&salesforce) && !again.contains(&other),
        "permanent refusals are not sent again: {again:?}"
    );
    assert_eq!(users(&upstream).await[&own].len(), 1);
    drop(responder);
    emu.shutdown().await;
}

/// `http://127.0.0.1:port` of the shared server.
fn server_root() -> String {
    let url = server().tenant_url("x");
    url[..url.find("/x/v2").expect("tenant url shape")].to_owned()
}

/// A PATCH answered 404 by the real server (the account was deleted in the
/// app) fails that cycle for the worker and is retried: the next full
/// cycle finds the join gone, matches again and creates the account anew,
/// with the change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_404_on_patch_is_matched_again_and_the_account_recreated() {
    let emu = Emulator::builder().workers(8).seed(404).start().await.expect("emulator");
    let person = emu.scenarios()[&Scenario::Active][0].clone();
    let url = server().tenant_url("responses-404");
    let dir = TempDir::new("scim-404");
    let config = write_scim_config(&dir.0, &emu.base_url(), &url, "builtin:sf-to-scim", "");
    let out = run(&config, &["sync", "--full"]).await;
    assert!(out.status.success(), "{}", text(&out));
    let old_id = users(&url).await[&person][0]["id"].as_str().expect("id").to_owned();

    std::thread::sleep(std::time::Duration::from_millis(1100));
    emu.apply(&retitle(person.clone(), "After The Deletion")).expect("transfer");
    let deleted = reqwest::Client::new()
        .delete(format!("{url}/Users/{old_id}"))
        .bearer_auth(server().token())
        .send()
        .await
        .expect("DELETE");
    assert_eq!(deleted.status().as_u16(), 204);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let out = run(&config, &["sync"]).await;
    assert_eq!(out.status.code(), Some(3), "the PATCH got 404: {}", text(&out));
    let log = log_of(&config, &person).await;
    assert!(log[0]["error"].as_str().unwrap_or_default().contains("no object with id"), "{log:?}");

    let out = run(&config, &["sync", "--full"]).await;
    assert!(out.status.success(), "{}", text(&out));
    let now = users(&url).await;
    let list = &now[&person];
    assert_eq!(list.len(), 1, "{list:?}");
    assert_ne!(list[0]["id"], old_id.as_str(), "a new account");
    assert_eq!(list[0]["title"], "After The Deletion");
    emu.shutdown().await;
}

/// A scripted responder answers the first versioned PATCH (If-Match) of a
/// worker 412, as a server does when the account changed since hrsync read
/// it: the target reads it again and retries once, and the change lands.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_412_reads_the_account_again_and_retries_once() {
    let emu = Emulator::builder().workers(8).seed(412).start().await.expect("emulator");
    let person = emu.scenarios()[&Scenario::Active][0].clone();
    let upstream = server().tenant_url("responses-412");
    let stale = Arc::new(AtomicUsize::new(0));
    let s = stale.clone();
    let responder = Responder::start(&upstream, move |r| {
        if r.method == "PATCH"
            && r.header("If-Match").is_some()
            && s.fetch_add(1, Ordering::SeqCst) == 0
        {
            return scim_error(412, None, "resource version mismatch");
        }
        Verdict::Forward
    })
    .expect("scripted responder");
    let url = format!("{}{}", responder.url(), upstream.trim_start_matches(&server_root()));
    let dir = TempDir::new("scim-412");
    let config = write_scim_config(&dir.0, &emu.base_url(), &url, "builtin:sf-to-scim", "");
    let out = run(&config, &["sync", "--full"]).await;
    assert!(out.status.success(), "{}", text(&out));
    // The full sync's own PATCHes (reports linked to their managers) carry
    // no version; only the incremental cycle's are looked at.
    let before = responder.served().len();

    std::thread::sleep(std::time::Duration::from_millis(1100));
    emu.apply(&HrEvent::EmailChange {
        person_id_external: person.clone(),
        email_type: "B".into(),
        address: Some("after.412@example.com".into()),
        is_primary: Some(true),
    })
    .expect("email");
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let out = run(&config, &["sync"]).await;
    assert!(out.status.success(), "{}", text(&out));
    let patches: Vec<u16> = responder.served()[before..]
        .iter()
        .filter(|(m, _, _)| m == "PATCH")
        .map(|(_, _, s)| *s)
        .collect();
    assert_eq!(patches.first(), Some(&412), "{patches:?}");
    assert!(patches.get(1).is_some_and(|s| (200..300).contains(s)), "{patches:?}");
    let u = &users(&upstream).await[&person][0];
    let email = u["emails"].as_array().and_then(|e| e.iter().find(|e| e["type"] == "work"));
    assert_eq!(email.map(|e| e["value"].clone()), Some(json!("after.412@example.com")), "{u}");
    emu.shutdown().await;
}

/// A scripted responder throttles every third request with 429 and
/// `Retry-After: 1`, and answers one worker's create 500 for the first
/// sync: every other worker is created once (the 429s were waited out),
/// the 500 is escrowed, and the next full sync creates that worker.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_is_waited_out_and_server_errors_are_escrowed() {
    let emu = Emulator::builder().workers(14).seed(429).start().await.expect("emulator");
    let broken = emu.scenarios()[&Scenario::Active][0].clone();
    let upstream = server().tenant_url("responses-429");
    let count = Arc::new(AtomicUsize::new(0));
    let failing = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let (c, f, b) = (count.clone(), failing.clone(), broken.clone());
    let responder = Responder::start(&upstream, move |r| {
        if r.target.contains("/Users") && c.fetch_add(1, Ordering::SeqCst) % 3 == 2 {
            return Verdict::Respond {
                status: 429,
                headers: vec![("Retry-After".into(), "1".into())],
                body: json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
                    "status": "429", "detail": "Too Many Requests"})
                .to_string(),
            };
        }
        if f.load(Ordering::SeqCst) && posted_external_id(r).as_deref() == Some(b.as_str()) {
            return scim_error(500, None, "internal error");
        }
        Verdict::Forward
    })
    .expect("scripted responder");
    let url = format!("{}{}", responder.url(), upstream.trim_start_matches(&server_root()));
    let dir = TempDir::new("scim-429");
    let config = write_scim_config(&dir.0, &emu.base_url(), &url, "builtin:sf-to-scim", "");
    let out = run(&config, &["sync", "--full"]).await;
    assert_eq!(out.status.code(), Some(3), "one worker escrowed: {}", text(&out));
    let throttled = responder.served().iter().filter(|(_, _, s)| *s == 429).count();
    assert!(throttled >= 5, "the responder throttled: {throttled}");
    let first = users(&upstream).await;
    assert!(!first.contains_key(&broken));
    for (id, list) in &first {
        assert_eq!(list.len(), 1, "{id}: created once despite the 429s");
    }
    let log = log_of(&config, &broken).await;
    assert!(log[0]["error"].as_str().unwrap_or_default().contains("HTTP 500"), "{log:?}");

    failing.store(false, Ordering::SeqCst);
    let out = run(&config, &["sync", "--full"]).await;
    assert!(out.status.success(), "{}", text(&out));
    let second = users(&upstream).await;
    assert_eq!(second[&broken].len(), 1, "created once the server recovered");
    assert_eq!(second.len(), first.len() + 1);
    emu.shutdown().await;
}

/// Lookups of a page go out as `or` filters; a server that refuses them
/// (a scripted responder answering 400 invalidFilter, as servers that take
/// only Entra's `eq` and `and` do) is asked one value at a time instead,
/// and the sync ends the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_refusing_or_filters_is_asked_one_value_at_a_time() {
    let emu = Emulator::builder().workers(12).seed(5).start().await.expect("emulator");
    let upstream = server().tenant_url("responses-no-or");
    let responder = Responder::start(&upstream, |r| {
        let decoded = r.target.replace("+", " ").replace("%20", " ");
        if r.method == "GET" && decoded.contains(" or ") {
            return scim_error(400, Some("invalidFilter"), "only eq and and are supported");
        }
        Verdict::Forward
    })
    .expect("scripted responder");
    let url = format!("{}{}", responder.url(), upstream.trim_start_matches(&server_root()));
    let dir = TempDir::new("scim-no-or");
    // An empty app's first load sends no lookup at all: look up as usual.
    let config = write_scim_config(
        &dir.0,
        &emu.base_url(),
        &url,
        "builtin:sf-to-scim",
        "fast_first_load = false",
    );
    let out = run(&config, &["sync", "--full"]).await;
    assert!(out.status.success(), "{}", text(&out));
    let refused = responder.served().iter().filter(|(_, _, s)| *s == 400).count();
    // Lookups already in flight when the first refusal came may be refused too.
    assert!(
        (1..=2).contains(&refused),
        "`or` refused, then not sent again: {:?}",
        responder.served()
    );
    let all = users(&upstream).await;
    assert!(all.len() > 8, "{}", all.len());
    assert!(all.values().all(|l| l.len() == 1));
    emu.shutdown().await;
}

/// A full sync into an app holding no user sends one count and then creates
/// (and manager links) only: no lookup, by filter or by id (counted by a
/// pass-through responder). A second full sync finds the app full and
/// looks its workers up again: it creates nothing and changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_load_into_an_empty_app_sends_no_lookups() {
    let emu = Emulator::builder().workers(60).seed(61).start().await.expect("emulator");
    let upstream = server().tenant_url("responses-first-load");
    let responder = Responder::start(&upstream, |_| Verdict::Forward).expect("responder");
    let url = format!("{}{}", responder.url(), upstream.trim_start_matches(&server_root()));
    let dir = TempDir::new("scim-first-load");
    let config = write_scim_config(&dir.0, &emu.base_url(), &url, "builtin:sf-to-scim", "");
    let out = run(&config, &["sync", "--full"]).await;
    assert!(out.status.success(), "{}", text(&out));
    let served = responder.served();
    let all = users(&upstream).await;
    assert!(all.len() > 30 && all.values().all(|l| l.len() == 1), "{all:?}");
    let posts = served.iter().filter(|(m, _, s)| m == "POST" && *s == 201).count();
    assert_eq!(posts, all.len(), "{served:?}");
    let lookups: Vec<&(String, String, u16)> = served
        .iter()
        .filter(|(m, t, _)| m == "GET" && t.contains("/Users") && !t.contains("count=0"))
        .collect();
    assert!(lookups.is_empty(), "no lookup on a first load: {lookups:?}");
    let managed = all
        .values()
        .filter(|l| {
            l[0]["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["manager"]["value"]
                .is_string()
        })
        .count();
    assert!(managed > 10, "managers were linked without lookups: {managed}");

    let before = served.len();
    let out = run(&config, &["sync", "--full"]).await;
    assert!(out.status.success(), "{}", text(&out));
    let again = responder.served()[before..].to_vec();
    assert!(!again.iter().any(|(m, _, _)| m == "POST"), "nothing created twice: {again:?}");
    assert_eq!(users(&upstream).await, all, "the second full sync changes nothing");
    emu.shutdown().await;
}

/// A server that refuses hrsync's token (a scripted responder answering
/// 401 to everything, as an app does after the token is revoked) fails the
/// cycle as a whole (issue 13 item 9): exit nonzero naming the target and
/// the refusal, no worker escrowed, the watermark unmoved, nothing created.
/// With the token accepted again, the next sync provisions everyone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_token_fails_the_cycle_as_a_whole() {
    use hrsync_store::Store;
    let emu = Emulator::builder().workers(20).seed(401).start().await.expect("emulator");
    let upstream = server().tenant_url("responses-401");
    let refuse = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let r = refuse.clone();
    let responder = Responder::start(&upstream, move |_| {
        if r.load(Ordering::SeqCst) {
            return scim_error(401, None, "the token is not valid");
        }
        Verdict::Forward
    })
    .expect("scripted responder");
    let url = format!("{}{}", responder.url(), upstream.trim_start_matches(&server_root()));
    let dir = TempDir::new("scim-401");
    let config = write_scim_config(&dir.0, &emu.base_url(), &url, "builtin:sf-to-scim", "");
    let out = run(&config, &["sync", "--full"]).await;
    assert!(!out.status.success(), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot be reached") && stderr.contains("refused hrsync's credentials"),
        "{}",
        text(&out)
    );
    let state = || {
        hrsync_store_sqlite::SqliteStore::open(&dir.0.join("state.sqlite"), hrsync_store::INBOUND)
            .expect("state")
    };
    let store = state();
    assert_eq!(store.watermark("successfactors:PerPerson").expect("watermark"), None);
    assert!(store.escrows().expect("escrows").is_empty(), "no worker is blamed");
    drop(store);
    assert!(users(&upstream).await.is_empty());

    refuse.store(false, Ordering::SeqCst);
    let out = run(&config, &["sync", "--full"]).await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(users(&upstream).await.len() > 10);
    assert!(state().watermark("successfactors:PerPerson").expect("watermark").is_some());
    emu.shutdown().await;
}
