//! Writes as Graph sees them: read back through the double's own API.

use hrsync_target::{AttributeUpdate, Target};
use serde_json::json;

use crate::common;

#[tokio::test]
async fn create_sends_graph_types_and_reads_back_flat() {
    let g = common::start().await;
    let t = common::target(&g, "");
    let created = t.create(&common::worker("ana", "1001")).await.unwrap();
    let users = common::admin_users(&g).await;
    assert_eq!(users.len(), 1);
    let u = &users[0];
    assert_eq!(u["accountEnabled"], json!(true));
    assert_eq!(u["employeeOrgData"], json!({"costCenter": "CC-1", "division": "R&D"}));
    assert_eq!(u["employeeHireDate"], json!("2024-03-01T00:00:00Z"));
    assert_eq!(u["passwordProfile"]["forceChangePasswordNextSignIn"], json!(true));
    let got = t.get(&created.id).await.unwrap().unwrap();
    assert_eq!(got.attributes["employeeOrgData.costCenter"], json!("CC-1"));
    assert_eq!(got.attributes["accountDisabled"], json!("False"));
    assert_eq!(got.name.as_deref(), Some("ana@contoso.example"));
    assert!(!got.attributes.keys().any(|k| k.starts_with("password")));
}

#[tokio::test]
async fn update_patches_only_changes_and_keeps_org_data_whole() {
    let g = common::start().await;
    let t = common::target(&g, "");
    let created = t.create(&common::worker("bo", "1002")).await.unwrap();
    t.record_exchanges(true);
    t.update(
        &created.id,
        &[AttributeUpdate { name: "employeeOrgData.costCenter".into(), value: json!("CC-9") }],
    )
    .await
    .unwrap();
    let sent = t.take_exchanges();
    let batch = sent.iter().find(|e| e.starts_with("POST") && e.contains("$batch")).unwrap();
    let request = batch.split(" -> ").next().unwrap();
    assert!(
        request.contains(r#""body":{"employeeOrgData":{"costCenter":"CC-9","division":"R&D"}}"#),
        "{request}"
    );
    let u = &common::admin_users(&g).await[0];
    assert_eq!(u["employeeOrgData"], json!({"costCenter": "CC-9", "division": "R&D"}));
    assert_eq!(u["jobTitle"], json!("Engineer"));
}

#[tokio::test]
async fn disable_sets_the_leave_date_when_none_is_set() {
    let g = common::start().await;
    let t = common::target(&g, "");
    let created = t.create(&common::worker("cy", "1003")).await.unwrap();
    t.disable(&created.id).await.unwrap();
    let u = &common::admin_users(&g).await[0];
    assert_eq!(u["accountEnabled"], json!(false));
    assert!(u["employeeLeaveDateTime"].as_str().is_some_and(|s| s.ends_with('Z')), "{u}");
    // Rehire: enabled again, the leave date cleared by the mapping.
    t.update(
        &created.id,
        &[
            AttributeUpdate { name: "accountDisabled".into(), value: json!("False") },
            AttributeUpdate { name: "employeeLeaveDateTime".into(), value: json!(null) },
        ],
    )
    .await
    .unwrap();
    let u = &common::admin_users(&g).await[0];
    assert_eq!(u["accountEnabled"], json!(true));
    assert!(u["employeeLeaveDateTime"].is_null(), "{u}");
}

#[tokio::test]
async fn a_manager_created_later_is_linked_when_created() {
    let g = common::start().await;
    let t = common::target(&g, "");
    let mut report = common::worker("rae", "2001");
    report.insert("manager".into(), json!("2000"));
    let r = t.create(&report).await.unwrap();
    assert_eq!(t.unapplied(), vec![(r.id.clone(), "manager".to_owned())]);
    let boss = t.create(&common::worker("boss", "2000")).await.unwrap();
    assert!(t.unapplied().is_empty());
    let users = common::admin_users(&g).await;
    let rae = users.iter().find(|u| u["id"] == json!(r.id)).unwrap();
    assert_eq!(rae["_managerId"], json!(boss.id));
    // A report created once the manager exists is linked in the same batch.
    let mut second = common::worker("sue", "2002");
    second.insert("manager".into(), json!("2000"));
    let before = common::stats(&g).await["batches"].as_u64().unwrap();
    let s = t.create(&second).await.unwrap();
    let after = common::stats(&g).await["batches"].as_u64().unwrap();
    assert_eq!(after - before, 1, "create and manager link in one $batch");
    let users = common::admin_users(&g).await;
    let sue = users.iter().find(|u| u["id"] == json!(s.id)).unwrap();
    assert_eq!(sue["_managerId"], json!(boss.id));
}

#[tokio::test]
async fn concurrent_creates_share_batches_and_throttled_items_are_resent_alone() {
    let g = common::start().await;
    let t = common::target(&g, "concurrency = 2\n");
    // The third and fourth POST /users fail with 429 (Retry-After: 1).
    common::fault(
        &g,
        json!({"method": "POST", "path_prefix": "/users", "status": 429, "count": 2}),
    )
    .await;
    let workers: Vec<_> =
        (0..30).map(|i| common::worker(&format!("w{i:02}"), &format!("30{i:02}"))).collect();
    let created = futures_util::future::join_all(workers.iter().map(|w| t.create(w))).await;
    assert!(created.iter().all(Result::is_ok), "{created:?}");
    let users = common::admin_users(&g).await;
    assert_eq!(users.len(), 30, "every worker exactly once: succeeded items were not resent");
    let s = common::stats(&g).await;
    assert_eq!(s["requests_by_method"]["POST"], json!(32), "{s}");
    let stats = t.stats();
    assert!(stats.batches < 10, "{stats:?}");
}

#[tokio::test]
async fn a_failed_item_fails_only_its_worker() {
    let g = common::start().await;
    let t = common::target(&g, "");
    let mut bad = common::worker("dee", "4001");
    bad.insert("userPrincipalName".into(), json!("dee@not-verified.example"));
    let good = common::worker("eve", "4002");
    let (b, e) = tokio::join!(t.create(&bad), t.create(&good));
    let err = b.unwrap_err().to_string();
    assert!(err.contains("HTTP 400"), "{err}");
    assert!(e.is_ok());
    assert_eq!(common::admin_users(&g).await.len(), 1);
}

#[tokio::test]
async fn the_write_budget_keeps_under_the_double_limit() {
    // Scaled down: 40 writes per 2 s at the double, a budget of 30.
    let g = common::start_limited(40, std::time::Duration::from_secs(2)).await;
    let t = common::target(&g, "write_budget = 30\nwrite_window_secs = 2\n");
    let workers: Vec<_> =
        (0..90).map(|i| common::worker(&format!("b{i:02}"), &format!("50{i:02}"))).collect();
    let created = futures_util::future::join_all(workers.iter().map(|w| t.create(w))).await;
    assert!(created.iter().all(Result::is_ok));
    let s = common::stats(&g).await;
    assert_eq!(s["throttled"], json!(0), "{s}");
    assert!(s["max_writes_in_window"].as_u64().unwrap() <= 30, "{s}");
    assert!(t.stats().budget_waits > 0);
}

#[tokio::test]
async fn graph_warning_that_a_limit_is_near_slows_the_writers() {
    // A budget as large as the double's limit: only the double's
    // `x-ms-throttle-limit-percentage` (sent from 80 % used) holds hrsync back.
    let g = common::start_limited(40, std::time::Duration::from_secs(2)).await;
    let t = common::target(&g, "write_budget = 40\nwrite_window_secs = 2\n");
    let workers: Vec<_> =
        (0..60).map(|i| common::worker(&format!("p{i:02}"), &format!("60{i:02}"))).collect();
    let created = futures_util::future::join_all(workers.iter().map(|w| t.create(w))).await;
    assert!(created.iter().all(Result::is_ok), "{created:?}");
    assert!(t.stats().slowdowns > 0, "{:?}", t.stats());
    assert_eq!(common::admin_users(&g).await.len(), 60);
}
