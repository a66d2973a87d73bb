use graph_emulator::server::{GraphEmulator, RunningGraph};
use serde_json::{Value, json};

fn q(base: &str, pairs: &[(&str, &str)]) -> String {
    reqwest::Url::parse_with_params(base, pairs).unwrap().to_string()
}

async fn start() -> RunningGraph {
    GraphEmulator::new("127.0.0.1:0".parse().unwrap()).start().await.unwrap()
}

fn user(upn: &str) -> Value {
    json!({
        "accountEnabled": true,
        "displayName": "Jane Doe",
        "mailNickname": "jane.doe",
        "userPrincipalName": upn,
        "passwordProfile": {"forceChangePasswordNextSignIn": true, "password": "S3cret!xyz"},
        "employeeId": "1001",
        "employeeHireDate": "2024-03-01T00:00:00Z",
        "businessPhones": ["+1 555 0100"],
        "employeeOrgData": {"costCenter": "CC1", "division": "R&D"},
    })
}

async fn post(g: &RunningGraph, body: &Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{}/v1.0/users", g.base_url()))
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn expect_error(r: reqwest::Response, status: u16, code: &str) -> String {
    assert_eq!(r.status(), status);
    assert!(r.headers().get("request-id").is_some());
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["error"]["code"], code, "{b}");
    assert!(b["error"]["innerError"]["request-id"].is_string());
    assert!(b["error"]["innerError"]["date"].is_string());
    b["error"]["message"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn create_then_read_back_without_password() {
    let g = start().await;
    let r = reqwest::Client::new()
        .post(format!("{}/v1.0/users", g.base_url()))
        .header("client-request-id", "my-client-id-1")
        .json(&user("jane@contoso.example"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["client-request-id"], "my-client-id-1");
    assert!(r.headers().get("request-id").is_some());
    let created: Value = r.json().await.unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(id.len(), 36);
    assert_eq!(id.matches('-').count(), 4);
    assert!(created["passwordProfile"].get("password").is_none());
    assert_eq!(created["passwordProfile"]["forceChangePasswordNextSignIn"], true);

    let got: Value = reqwest::get(format!("{}/v1.0/users/{id}", g.base_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(got["userPrincipalName"], "jane@contoso.example");
    assert_eq!(got["employeeOrgData"]["division"], "R&D");
    assert!(got["passwordProfile"].get("password").is_none());

    let admin: Value = reqwest::get(format!("{}/_emulator/users", g.base_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(admin.as_array().unwrap().len(), 1);
    assert!(!admin.to_string().contains("S3cret"));
}

#[tokio::test]
async fn unknown_property_wrong_type_and_missing_required_are_refused() {
    let g = start().await;
    let mut b = user("a@contoso.example");
    b["employeeNumber"] = json!("1");
    let m = expect_error(post(&g, &b).await, 400, "Request_BadRequest").await;
    assert_eq!(m, "Property 'employeeNumber' does not exist on type 'microsoft.graph.user'.");

    let mut b = user("a@contoso.example");
    b["employeeOrgData"]["unit"] = json!("x");
    expect_error(post(&g, &b).await, 400, "Request_BadRequest").await;

    for (prop, bad) in [
        ("accountEnabled", json!("true")),
        ("displayName", json!(5)),
        ("businessPhones", json!("+1")),
        ("employeeHireDate", json!("yesterday")),
        ("employeeOrgData", json!("CC1")),
    ] {
        let mut b = user("a@contoso.example");
        b[prop] = bad;
        let m = expect_error(post(&g, &b).await, 400, "Request_BadRequest").await;
        assert!(m.contains(prop), "{m}");
    }

    for prop in ["accountEnabled", "displayName", "mailNickname", "userPrincipalName"] {
        let mut b = user("a@contoso.example");
        b.as_object_mut().unwrap().remove(prop);
        let m = expect_error(post(&g, &b).await, 400, "Request_BadRequest").await;
        assert!(m.contains(prop), "{m}");
    }
    let mut b = user("a@contoso.example");
    b["passwordProfile"].as_object_mut().unwrap().remove("password");
    let m = expect_error(post(&g, &b).await, 400, "Request_BadRequest").await;
    assert!(m.contains("passwordProfile.password"), "{m}");

    let r = reqwest::Client::new()
        .post(format!("{}/v1.0/users", g.base_url()))
        .body("{not json")
        .send()
        .await
        .unwrap();
    expect_error(r, 400, "Request_BadRequest").await;
    assert!(g.tenant().users.is_empty());
}

#[tokio::test]
async fn bad_upn_domain_and_duplicate_upn_are_refused() {
    let g = start().await;
    let m =
        expect_error(post(&g, &user("a@fabrikam.example")).await, 400, "Request_BadRequest").await;
    assert!(m.contains("verified domain"), "{m}");
    assert_eq!(post(&g, &user("Dup@contoso.example")).await.status(), 201);
    let m =
        expect_error(post(&g, &user("dup@CONTOSO.example")).await, 400, "Request_BadRequest").await;
    assert_eq!(
        m,
        "Another object with the same value for property userPrincipalName already exists."
    );
    assert_eq!(g.tenant().users.len(), 1);
}

#[tokio::test]
async fn patch_then_read_back_and_delete_then_404() {
    let g = start().await;
    let created: Value = post(&g, &user("p@contoso.example")).await.json().await.unwrap();
    let id = created["id"].as_str().unwrap();
    let url = format!("{}/v1.0/users/{id}", g.base_url());
    let c = reqwest::Client::new();

    let r = c
        .patch(&url)
        .json(&json!({"displayName": "Jane Q", "accountEnabled": false, "jobTitle": null}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = c.patch(&url).json(&json!({"nope": 1})).send().await.unwrap();
    expect_error(r, 400, "Request_BadRequest").await;
    let r = c.patch(&url).json(&json!({"accountEnabled": "no"})).send().await.unwrap();
    expect_error(r, 400, "Request_BadRequest").await;
    let r = c.patch(&url).json(&json!({"employeeId": "12345678901234567"})).send().await.unwrap();
    expect_error(r, 400, "Request_BadRequest").await;

    let got: Value = c.get(&url).send().await.unwrap().json().await.unwrap();
    assert_eq!(got["displayName"], "Jane Q");
    assert_eq!(got["accountEnabled"], false);
    assert_eq!(got["employeeId"], "1001");
    assert_eq!(got["mailNickname"], "jane.doe");

    assert_eq!(c.delete(&url).send().await.unwrap().status(), 204);
    expect_error(c.get(&url).send().await.unwrap(), 404, "Request_ResourceNotFound").await;
    expect_error(c.delete(&url).send().await.unwrap(), 404, "Request_ResourceNotFound").await;
    expect_error(
        c.patch(&url).json(&json!({})).send().await.unwrap(),
        404,
        "Request_ResourceNotFound",
    )
    .await;
}

#[tokio::test]
async fn filter_with_escaped_quote_select_and_paging() {
    let g = start().await;
    let mut ob = user("o'brien@contoso.example");
    ob["employeeId"] = json!("2002");
    post(&g, &ob).await;
    post(&g, &user("obrien@contoso.example")).await;
    post(&g, &user("third@contoso.example")).await;
    let c = reqwest::Client::new();
    let list = format!("{}/v1.0/users", g.base_url());

    let r: Value = c
        .get(q(
            &list,
            &[
                ("$filter", "userPrincipalName eq 'o''brien@contoso.example'"),
                ("$select", "id,employeeId,userPrincipalName"),
            ],
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let v = r["value"].as_array().unwrap();
    assert_eq!(v.len(), 1, "{r}");
    assert_eq!(v[0]["employeeId"], "2002");
    assert_eq!(v[0].as_object().unwrap().len(), 3);
    assert!(r["@odata.context"].as_str().unwrap().contains("$metadata#users"));

    let r: Value = c
        .get(q(&list, &[("$filter", "employeeId eq '2002'")]))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["value"][0]["userPrincipalName"], "o'brien@contoso.example");

    for bad in [
        "officeLocation eq 'x'",
        "employeeId ne '1'",
        "employeeId eq 'o'brien'",
        "employeeId eq '1' or id eq '2'",
    ] {
        let r = c.get(q(&list, &[("$filter", bad)])).send().await.unwrap();
        expect_error(r, 400, "Request_UnsupportedQuery").await;
    }

    // Paging: 3 users, $top=2 -> 2 then 1 via @odata.nextLink.
    let r: Value = c.get(q(&list, &[("$top", "2")])).send().await.unwrap().json().await.unwrap();
    assert_eq!(r["value"].as_array().unwrap().len(), 2);
    let next = r["@odata.nextLink"].as_str().unwrap().to_owned();
    let r: Value = c.get(&next).send().await.unwrap().json().await.unwrap();
    assert_eq!(r["value"].as_array().unwrap().len(), 1);
    assert!(r.get("@odata.nextLink").is_none());
    let r = c.get(q(&list, &[("$top", "1000")])).send().await.unwrap();
    expect_error(r, 400, "Request_BadRequest").await;
}

#[tokio::test]
async fn in_filter_finds_three_users_directly_and_inside_a_batch() {
    let g = start().await;
    for (upn, eid) in [
        ("o'brien@contoso.example", "3001"),
        ("b@contoso.example", "3002"),
        ("c@contoso.example", "3003"),
        ("d@contoso.example", "3004"),
    ] {
        let mut u = user(upn);
        u["employeeId"] = json!(eid);
        assert_eq!(post(&g, &u).await.status(), 201);
    }
    let c = reqwest::Client::new();
    let list = format!("{}/v1.0/users", g.base_url());
    let upns = |r: &Value| -> Vec<String> {
        let mut v: Vec<String> = r["value"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["userPrincipalName"].as_str().unwrap().to_owned())
            .collect();
        v.sort();
        v
    };
    let want = ["b@contoso.example", "c@contoso.example", "o'brien@contoso.example"];

    let filter = "userPrincipalName in ('O''Brien@contoso.example', 'b@contoso.example','C@CONTOSO.example','nobody@contoso.example')";
    let r: Value =
        c.get(q(&list, &[("$filter", filter)])).send().await.unwrap().json().await.unwrap();
    assert_eq!(upns(&r), want, "{r}");

    // Inside a `$batch` item (a percent-encoded relative url), on employeeId.
    let url = q("http://x/users", &[("$filter", "employeeId in ('3001','3002','3003')")]);
    let url = url.strip_prefix("http://x").unwrap();
    let r: Value = c
        .post(format!("{}/v1.0/$batch", g.base_url()))
        .json(&json!({"requests": [{"id": "1", "method": "GET", "url": url}]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let item = &r["responses"][0];
    assert_eq!(item["status"], 200, "{r}");
    assert_eq!(upns(&item["body"]), want, "{r}");

    // A PATCH moves a user out of the index entry and into another.
    let id = r["responses"][0]["body"]["value"][0]["id"].as_str().unwrap().to_owned();
    let r =
        c.patch(format!("{list}/{id}")).json(&json!({"employeeId": "3009"})).send().await.unwrap();
    assert_eq!(r.status(), 204);
    let r: Value = c
        .get(q(&list, &[("$filter", "employeeId in ('3001','3002','3003','3009')")]))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(upns(&r), want, "{r}");
    let r: Value = c
        .get(q(&list, &[("$filter", "employeeId eq '3009'")]))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["value"][0]["id"], id.as_str(), "{r}");

    let sixteen: Vec<String> = (0..16).map(|i| format!("'{i}'")).collect();
    for bad in [
        format!("employeeId in ({})", sixteen.join(",")),
        "employeeId in ()".to_owned(),
        "employeeId in ('1',)".to_owned(),
        "officeLocation in ('x')".to_owned(),
    ] {
        let r = c.get(q(&list, &[("$filter", &bad)])).send().await.unwrap();
        let m = expect_error(r, 400, "Request_UnsupportedQuery").await;
        if bad.contains("'15'") {
            assert!(m.contains("at most 15"), "{m}");
        }
    }
}
