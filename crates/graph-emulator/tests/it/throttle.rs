use std::time::Duration;

use graph_emulator::server::{GraphEmulator, RunningGraph};
use serde_json::{Value, json};

use crate::common::{post_user as create, user};

async fn start(limit: Option<(usize, Duration)>) -> RunningGraph {
    let mut e = GraphEmulator::new("127.0.0.1:0".parse().unwrap());
    if let Some((n, w)) = limit {
        e = e.write_limit(n, w);
    }
    e.start().await.unwrap()
}

fn retry_after(r: &reqwest::Response) -> u64 {
    r.headers()["retry-after"].to_str().unwrap().parse().unwrap()
}

async fn stats(g: &RunningGraph) -> Value {
    reqwest::get(format!("{}/_emulator/stats", g.base_url())).await.unwrap().json().await.unwrap()
}

async fn fault(g: &RunningGraph, body: Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{}/_emulator/faults", g.base_url()))
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn batch(g: &RunningGraph, body: &Value) -> Value {
    let r = reqwest::Client::new()
        .post(format!("{}/v1.0/$batch", g.base_url()))
        .json(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

fn create_item(id: &str, nick: &str) -> Value {
    json!({"id": id, "method": "POST", "url": "/users",
           "headers": {"Content-Type": "application/json"}, "body": user(nick)})
}

#[tokio::test]
async fn fourth_write_in_window_gets_429_then_succeeds_after_retry_after() {
    let g = start(Some((3, Duration::from_secs(2)))).await;
    for n in 0..3 {
        assert_eq!(create(&g, &format!("u{n}")).await.status(), 201);
    }
    // Reads are not writes and are not throttled.
    let r = reqwest::get(format!("{}/v1.0/users", g.base_url())).await.unwrap();
    assert_eq!(r.status(), 200);
    let r = create(&g, "u3").await;
    assert_eq!(r.status(), 429);
    let secs = retry_after(&r);
    assert!((1..=2).contains(&secs), "Retry-After {secs}");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "TooManyRequests");
    assert!(body["error"]["innerError"]["request-id"].is_string());
    tokio::time::sleep(Duration::from_secs(secs)).await;
    let mut r = create(&g, "u3").await;
    // A slot frees within Retry-After; allow one more wait for a slow machine.
    if r.status() == 429 {
        tokio::time::sleep(Duration::from_secs(retry_after(&r))).await;
        r = create(&g, "u3").await;
    }
    assert_eq!(r.status(), 201);
    assert_eq!(g.tenant().users.len(), 4);
    let s = stats(&g).await;
    assert_eq!(s["writes"], 4);
    assert!(s["throttled"].as_u64().unwrap() >= 1);
    assert_eq!(s["requests_by_method"]["GET"], 1);
    assert_eq!(s["faults_sent"], 0);
    assert_eq!(s["batches"], 0);
    // Never more than the limit inside one window.
    assert_eq!(s["max_writes_in_window"], 3);
}

#[tokio::test]
async fn batch_items_are_throttled_one_by_one() {
    let g = start(Some((3, Duration::from_secs(60)))).await;
    let requests: Vec<Value> =
        (0..5).map(|n| create_item(&n.to_string(), &format!("b{n}"))).collect();
    let resp = batch(&g, &json!({"requests": requests})).await;
    let items = resp["responses"].as_array().unwrap();
    assert_eq!(items.len(), 5);
    let ok: Vec<&Value> = items.iter().filter(|i| i["status"] == 201).collect();
    let throttled: Vec<&Value> = items.iter().filter(|i| i["status"] == 429).collect();
    assert_eq!(ok.len(), 3);
    assert_eq!(throttled.len(), 2);
    // From 80 % of the budget used, a write says how much (Graph's warning).
    let pct: Vec<Option<&str>> =
        ok.iter().map(|i| i["headers"]["x-ms-throttle-limit-percentage"].as_str()).collect();
    assert_eq!(pct, [None, None, Some("1.0")], "{ok:?}");
    for t in &throttled {
        let secs: u64 = t["headers"]["retry-after"].as_str().unwrap().parse().unwrap();
        assert!((1..=60).contains(&secs), "Retry-After {secs}");
        assert_eq!(t["body"]["error"]["code"], "TooManyRequests");
    }
    let r = reqwest::get(format!("{}/v1.0/users", g.base_url())).await.unwrap();
    let users: Value = r.json().await.unwrap();
    assert_eq!(users["value"].as_array().unwrap().len(), 3);
    let s = stats(&g).await;
    assert_eq!(s["writes"], 3);
    assert_eq!(s["batches"], 1);
    assert_eq!(s["throttled"], 2);
    // The five items, not the $batch POST; plus the GET above.
    assert_eq!(s["requests_by_method"], json!({"POST": 5, "GET": 1}));
    assert_eq!(s["max_writes_in_window"], 3);
}

#[tokio::test]
async fn faults_hit_the_next_matching_requests_single_and_batched() {
    let g = start(None).await;
    let r =
        fault(&g, json!({"method": "POST", "path_prefix": "/users", "status": 503, "count": 2}))
            .await;
    assert_eq!(r.status(), 204);
    // A GET does not match the POST fault.
    let r = reqwest::get(format!("{}/v1.0/users", g.base_url())).await.unwrap();
    assert_eq!(r.status(), 200);
    let r = create(&g, "f0").await;
    assert_eq!(r.status(), 503);
    assert_eq!(retry_after(&r), 1);
    let body: Value = r.json().await.unwrap();
    assert!(body["error"]["code"].is_string());
    assert!(body["error"]["innerError"]["request-id"].is_string());
    let resp =
        batch(&g, &json!({"requests": [create_item("a", "f1"), create_item("b", "f2")]})).await;
    let items = resp["responses"].as_array().unwrap();
    let a = items.iter().find(|i| i["id"] == "a").unwrap();
    let b = items.iter().find(|i| i["id"] == "b").unwrap();
    assert_eq!(a["status"], 503);
    assert_eq!(a["headers"]["retry-after"], "1");
    assert_eq!(b["status"], 201);
    // The fault is used up.
    assert_eq!(create(&g, "f3").await.status(), 201);

    // A 429 fault without a method; counts as throttled.
    fault(&g, json!({"path_prefix": "/users", "status": 429, "count": 1})).await;
    let r = reqwest::get(format!("{}/v1.0/users", g.base_url())).await.unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(retry_after(&r), 1);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "TooManyRequests");
    // A 500 fault has no Retry-After.
    fault(&g, json!({"method": "delete", "path_prefix": "/users/", "status": 500})).await;
    let r = reqwest::Client::new()
        .delete(format!("{}/v1.0/users/nobody", g.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 500);
    assert!(r.headers().get("retry-after").is_none());

    let s = stats(&g).await;
    assert_eq!(s["faults_sent"], 4);
    assert_eq!(s["throttled"], 1);
    // Faulted writes are not writes done: f2 and f3 only.
    assert_eq!(s["writes"], 2);
    assert_eq!(s["batches"], 1);
    assert_eq!(s["requests_by_method"], json!({"GET": 2, "POST": 4, "DELETE": 1}));
    assert_eq!(g.tenant().users.len(), 2);
}

#[tokio::test]
async fn bad_faults_are_refused() {
    let g = start(None).await;
    for body in [
        json!({"status": 200}),
        json!({"status": "503"}),
        json!({"status": 503, "count": 0}),
        json!({"status": 503, "method": 5}),
        json!([]),
    ] {
        let r = fault(&g, body.clone()).await;
        assert_eq!(r.status(), 400, "{body}");
    }
    assert_eq!(create(&g, "ok").await.status(), 201);
}

#[tokio::test]
async fn stats_without_limit_use_a_150_second_window() {
    let g = start(None).await;
    for n in 0..4 {
        assert_eq!(create(&g, &format!("s{n}")).await.status(), 201);
    }
    let s = stats(&g).await;
    assert_eq!(s["writes"], 4);
    assert_eq!(s["max_writes_in_window"], 4);
    assert_eq!(s["throttled"], 0);
}
