use graph_emulator::server::RunningGraph;
use serde_json::{Value, json};

use crate::common::{create, start};

async fn put_ref(g: &RunningGraph, id: &str, odata_id: &str) -> reqwest::Response {
    reqwest::Client::new()
        .put(format!("{}/v1.0/users/{id}/manager/$ref", g.base_url()))
        .json(&json!({"@odata.id": odata_id}))
        .send()
        .await
        .unwrap()
}

async fn get_manager(g: &RunningGraph, id: &str) -> reqwest::Response {
    reqwest::get(format!("{}/v1.0/users/{id}/manager", g.base_url())).await.unwrap()
}

async fn expect_error(r: reqwest::Response, status: u16, code: &str) {
    assert_eq!(r.status(), status);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["error"]["code"], code, "{b}");
}

async fn admin(g: &RunningGraph) -> Value {
    reqwest::get(format!("{}/_emulator/users", g.base_url())).await.unwrap().json().await.unwrap()
}

fn manager_of(admin: &Value, id: &str) -> Value {
    admin.as_array().unwrap().iter().find(|u| u["id"] == id).unwrap()["_managerId"].clone()
}

#[tokio::test]
async fn set_read_replace_clear() {
    let g = start().await;
    let (emp, boss, boss2) =
        (create(&g, "emp").await, create(&g, "boss").await, create(&g, "boss2").await);
    expect_error(get_manager(&g, &emp).await, 404, "Request_ResourceNotFound").await;

    let r = put_ref(&g, &emp, &format!("https://graph.microsoft.com/v1.0/users/{boss}")).await;
    assert_eq!(r.status(), 204);
    let m: Value = get_manager(&g, &emp).await.json().await.unwrap();
    assert_eq!(m["id"], boss.as_str());
    assert_eq!(m["displayName"], "boss");
    assert_eq!(manager_of(&admin(&g).await, &emp), boss.as_str());

    let r = put_ref(&g, &emp, &format!("{}/v1.0/directoryObjects/{boss2}", g.base_url())).await;
    assert_eq!(r.status(), 204);
    let m: Value = get_manager(&g, &emp).await.json().await.unwrap();
    assert_eq!(m["id"], boss2.as_str());

    let del = |id: String| {
        let url = format!("{}/v1.0/users/{id}/manager/$ref", g.base_url());
        async move { reqwest::Client::new().delete(url).send().await.unwrap() }
    };
    assert_eq!(del(emp.clone()).await.status(), 204);
    expect_error(get_manager(&g, &emp).await, 404, "Request_ResourceNotFound").await;
    expect_error(del(emp.clone()).await, 404, "Request_ResourceNotFound").await;
    assert_eq!(manager_of(&admin(&g).await, &emp), Value::Null);
}

#[tokio::test]
async fn deleting_the_manager_clears_it() {
    let g = start().await;
    let (emp, boss) = (create(&g, "emp").await, create(&g, "boss").await);
    let r = put_ref(&g, &emp, &format!("https://graph.microsoft.com/v1.0/users/{boss}")).await;
    assert_eq!(r.status(), 204);
    let r = reqwest::Client::new()
        .delete(format!("{}/v1.0/users/{boss}", g.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    expect_error(get_manager(&g, &emp).await, 404, "Request_ResourceNotFound").await;
    assert_eq!(manager_of(&admin(&g).await, &emp), Value::Null);
}

#[tokio::test]
async fn unknown_self_and_malformed_refs_are_refused() {
    let g = start().await;
    let emp = create(&g, "emp").await;
    let unknown = "00000000-0000-4000-8000-000000000000";
    let r = put_ref(&g, &emp, &format!("https://graph.microsoft.com/v1.0/users/{unknown}")).await;
    expect_error(r, 404, "Request_ResourceNotFound").await;
    let r = put_ref(&g, unknown, &format!("https://graph.microsoft.com/v1.0/users/{emp}")).await;
    expect_error(r, 404, "Request_ResourceNotFound").await;
    let r = put_ref(&g, &emp, &format!("https://graph.microsoft.com/v1.0/users/{emp}")).await;
    expect_error(r, 400, "Request_BadRequest").await;
    let r = put_ref(&g, &emp, &format!("https://graph.microsoft.com/v1.0/groups/{emp}")).await;
    expect_error(r, 400, "Request_BadRequest").await;
    let r = reqwest::Client::new()
        .put(format!("{}/v1.0/users/{emp}/manager/$ref", g.base_url()))
        .body("not json")
        .send()
        .await
        .unwrap();
    expect_error(r, 400, "Request_BadRequest").await;
    assert_eq!(manager_of(&admin(&g).await, &emp), Value::Null);
}
