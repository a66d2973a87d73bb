use graph_emulator::server::RunningGraph;
use serde_json::{Value, json};

use crate::common::{create, start, user};

async fn batch(g: &RunningGraph, body: &Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{}/v1.0/$batch", g.base_url()))
        .json(body)
        .send()
        .await
        .unwrap()
}

fn by_id<'a>(resp: &'a Value, id: &str) -> &'a Value {
    resp["responses"].as_array().unwrap().iter().find(|r| r["id"] == id).unwrap()
}

async fn admin(g: &RunningGraph) -> Vec<Value> {
    let v: Value = reqwest::get(format!("{}/_emulator/users", g.base_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v.as_array().unwrap().clone()
}

fn find<'a>(users: &'a [Value], upn: &str) -> Option<&'a Value> {
    users.iter().find(|u| u["userPrincipalName"] == upn)
}

async fn expect_bad_request(r: reqwest::Response, needle: &str) {
    assert_eq!(r.status(), 400);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["error"]["code"], "Request_BadRequest", "{b}");
    let msg = b["error"]["message"].as_str().unwrap();
    assert!(msg.contains(needle), "{msg}");
}

#[tokio::test]
async fn create_dependent_manager_ref_and_independent_patch() {
    let g = start().await;
    let boss = create(&g, "boss").await;
    let other = create(&g, "other").await;
    let r = batch(
        &g,
        &json!({"requests": [
            {"id": "1", "method": "POST", "url": "/users",
             "headers": {"Content-Type": "application/json"}, "body": user("emp")},
            {"id": "2", "method": "PUT", "url": "/users/emp@contoso.example/manager/$ref",
             "dependsOn": ["1"],
             "headers": {"Content-Type": "application/json"},
             "body": {"@odata.id": format!("https://graph.microsoft.com/v1.0/users/{boss}")}},
            {"id": "3", "method": "PATCH", "url": format!("users/{other}"),
             "headers": {"Content-Type": "application/json"}, "body": {"jobTitle": "Clerk"}},
        ]}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["responses"].as_array().unwrap().len(), 3);
    let created = by_id(&b, "1");
    assert_eq!(created["status"], 201);
    assert_eq!(created["body"]["userPrincipalName"], "emp@contoso.example");
    assert!(created["headers"]["request-id"].is_string());
    assert_eq!(by_id(&b, "2")["status"], 204);
    assert!(by_id(&b, "2").get("body").is_none());
    assert_eq!(by_id(&b, "3")["status"], 204);

    let users = admin(&g).await;
    let emp = find(&users, "emp@contoso.example").unwrap();
    assert_eq!(emp["id"], created["body"]["id"]);
    assert_eq!(emp["_managerId"], boss.as_str());
    assert_eq!(find(&users, "other@contoso.example").unwrap()["jobTitle"], "Clerk");
}

#[tokio::test]
async fn failed_create_makes_its_dependent_424_and_the_independent_one_runs() {
    let g = start().await;
    let boss = create(&g, "boss").await;
    let other = create(&g, "other").await;
    let ct = json!({"content-type": "application/json"});
    let mut bad = user("emp");
    bad["userPrincipalName"] = json!("emp@not-verified.example");
    let r = batch(
        &g,
        &json!({"requests": [
            {"id": "a", "method": "POST", "url": "/users", "headers": ct.clone(), "body": bad},
            {"id": "b", "method": "PUT", "url": "/users/emp@not-verified.example/manager/$ref",
             "dependsOn": ["a"], "headers": ct.clone(),
             "body": {"@odata.id": format!("https://graph.microsoft.com/v1.0/users/{boss}")}},
            {"id": "c", "method": "PATCH", "url": format!("/users/{other}"),
             "headers": ct.clone(), "body": {"jobTitle": "Clerk"}},
            {"id": "d", "method": "GET", "url": "/users/nobody@contoso.example"},
        ]}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let b: Value = r.json().await.unwrap();
    assert_eq!(by_id(&b, "a")["status"], 400);
    assert_eq!(by_id(&b, "a")["body"]["error"]["code"], "Request_BadRequest");
    let dep = by_id(&b, "b");
    assert_eq!(dep["status"], 424);
    assert!(dep["body"]["error"]["code"].is_string());
    assert!(dep["body"]["error"]["message"].as_str().unwrap().contains("'a'"));
    assert_eq!(by_id(&b, "c")["status"], 204);
    assert_eq!(by_id(&b, "d")["status"], 404);
    assert_eq!(by_id(&b, "d")["body"]["error"]["code"], "Request_ResourceNotFound");

    let users = admin(&g).await;
    assert_eq!(users.len(), 2);
    assert!(users.iter().all(|u| u["_managerId"].is_null()));
    assert_eq!(find(&users, "other@contoso.example").unwrap()["jobTitle"], "Clerk");
}

#[tokio::test]
async fn twenty_one_items_are_refused_and_nothing_runs() {
    let g = start().await;
    let requests: Vec<Value> = (0..21)
        .map(|n| {
            json!({"id": n.to_string(), "method": "POST", "url": "/users",
            "headers": {"Content-Type": "application/json"}, "body": user(&format!("u{n}"))})
        })
        .collect();
    expect_bad_request(batch(&g, &json!({"requests": requests})).await, "exceeds the limit of 20")
        .await;
    assert!(admin(&g).await.is_empty());
    let requests: Vec<Value> =
        (0..20).map(|n| json!({"id": n.to_string(), "method": "GET", "url": "/users"})).collect();
    assert_eq!(batch(&g, &json!({"requests": requests})).await.status(), 200);
}

#[tokio::test]
async fn duplicate_ids_missing_fields_and_bad_urls_are_refused() {
    let g = start().await;
    let dup = json!({"requests": [
        {"id": "1", "method": "POST", "url": "/users",
         "headers": {"Content-Type": "application/json"}, "body": user("a")},
        {"id": "1", "method": "GET", "url": "/users"},
    ]});
    expect_bad_request(batch(&g, &dup).await, "more than one request with the id '1'").await;
    assert!(admin(&g).await.is_empty());
    for (item, needle) in [
        (json!({"method": "GET", "url": "/users"}), "'id'"),
        (json!({"id": "1", "url": "/users"}), "'method'"),
        (json!({"id": "1", "method": "GET"}), "'url'"),
        (json!({"id": "1", "method": "GET", "url": "/v1.0/users"}), "relative"),
        (
            json!({"id": "1", "method": "GET", "url": "https://graph.microsoft.com/v1.0/users"}),
            "relative",
        ),
        (
            json!({"id": "1", "method": "GET", "url": "/users", "dependsOn": ["2"]}),
            "depends on '2'",
        ),
    ] {
        expect_bad_request(batch(&g, &json!({"requests": [item]})).await, needle).await;
    }
    let r = reqwest::Client::new()
        .post(format!("{}/v1.0/$batch", g.base_url()))
        .body("{")
        .send()
        .await
        .unwrap();
    expect_bad_request(r, "JSON object").await;
}
