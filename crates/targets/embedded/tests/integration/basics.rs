//! The embedded target behaves like a directory: opaque ids, case-insensitive
//! matching, refused duplicates, durable writes.

use hrsync_target::{AttributeUpdate, Attributes, Target, TargetError};
use hrsync_target_embedded::EmbeddedTarget;
use serde_json::json;

fn attrs(pairs: &[(&str, serde_json::Value)]) -> Attributes {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect()
}

#[tokio::test]
async fn create_find_update_disable_delete() {
    let t = EmbeddedTarget::in_memory(&["userPrincipalName", "sAMAccountName"]).unwrap();
    let a = t
        .create(&attrs(&[
            ("employeeID", json!("1001")),
            ("userPrincipalName", json!("John.Smith@example.com")),
            ("proxyAddresses", json!(["smtp:a@x", "SMTP:b@x"])),
        ]))
        .await
        .unwrap();
    assert_eq!(a.id.len(), 32);
    // Matching is case-insensitive and sees multi-valued elements.
    assert_eq!(t.find("userPrincipalName", "john.smith@EXAMPLE.com").await.unwrap()[0].id, a.id);
    assert_eq!(t.find("proxyAddresses", "smtp:b@x").await.unwrap().len(), 1);
    assert!(t.find("employeeID", "1002").await.unwrap().is_empty());

    // A second John Smith cannot take the same UPN.
    let dup = t
        .create(&attrs(&[
            ("employeeID", json!("1002")),
            ("userPrincipalName", json!("john.smith@example.com")),
        ]))
        .await;
    assert!(
        matches!(dup, Err(TargetError::AlreadyExists { ref attribute, .. }) if attribute == "userPrincipalName")
    );
    assert!(t.is_taken("userPrincipalName", "JOHN.SMITH@example.com", None).await.unwrap());
    assert!(!t.is_taken("userPrincipalName", "john.smith@example.com", Some(&a.id)).await.unwrap());

    t.update(
        &a.id,
        &[
            AttributeUpdate { name: "title".into(), value: json!("Engineer") },
            AttributeUpdate { name: "proxyAddresses".into(), value: json!(null) },
        ],
    )
    .await
    .unwrap();
    let got = t.get(&a.id).await.unwrap().unwrap();
    assert_eq!(got.attributes["title"], json!("Engineer"));
    assert!(!got.attributes.contains_key("proxyAddresses"));
    assert!(t.find("proxyAddresses", "smtp:b@x").await.unwrap().is_empty());
    assert_eq!(got.enabled, Some(true));

    t.disable(&a.id).await.unwrap();
    let got = t.get(&a.id).await.unwrap().unwrap();
    assert_eq!(got.enabled, Some(false));
    assert_eq!(got.attributes["accountDisabled"], json!("True"));

    t.delete(&a.id).await.unwrap();
    assert!(t.get(&a.id).await.unwrap().is_none());
    assert!(matches!(t.delete(&a.id).await, Err(TargetError::NotFound { .. })));
    assert!(matches!(t.update(&a.id, &[]).await, Err(TargetError::NotFound { .. })));
    assert!(t.find("userPrincipalName", "john.smith@example.com").await.unwrap().is_empty());
}

#[tokio::test]
async fn writes_are_durable_across_reopen() {
    let dir = std::env::temp_dir().join(format!("hrsync-embedded-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("target.sqlite");
    let id = {
        let t = EmbeddedTarget::open(&path, &[]).unwrap();
        t.create(&attrs(&[("employeeID", json!("7")), ("accountDisabled", json!("True"))]))
            .await
            .unwrap()
            .id
    };
    let t = EmbeddedTarget::open(&path, &[]).unwrap();
    let all = t.all().unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].id, id);
    assert_eq!(all[0].enabled, Some(false), "accountDisabled=True at create disables the account");
    assert_eq!(t.check().await[0].detail, "1 objects");
    std::fs::remove_dir_all(dir).ok();
}

#[tokio::test]
async fn find_works_on_unindexed_attributes_and_after_the_index_set_changes() {
    let path =
        std::env::temp_dir().join(format!("hrsync-embedded-index-{}.sqlite", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let mut attrs = Attributes::new();
    attrs.insert("employeeID".into(), json!("100042"));
    attrs.insert("mail".into(), json!("Ana@Example.com"));
    let id = {
        let t = EmbeddedTarget::open(&path, &[]).expect("open");
        let o = t.create(&attrs).await.expect("create");
        assert_eq!(
            t.find("mail", "ana@example.com").await.expect("scan").len(),
            1,
            "unindexed find scans"
        );
        assert!(t.is_taken("employeeID", "100042", None).await.expect("scan"));
        assert!(!t.is_taken("employeeID", "100042", Some(&o.id)).await.expect("scan"));
        t.flush().await.expect("flush");
        o.id
    };
    // Reopened with employeeID indexed: the object written before is found.
    let t = EmbeddedTarget::open_indexed(&path, &[], &["employeeID"]).expect("reopen");
    let found = t.find("employeeID", "100042").await.expect("find");
    assert_eq!(found.iter().map(|o| o.id.as_str()).collect::<Vec<_>>(), [id.as_str()]);
    drop(t);
    let _ = std::fs::remove_file(&path);
}

#[tokio::test]
async fn ids_are_opaque_distinct_and_time_ordered() {
    let t = EmbeddedTarget::in_memory(&[]).unwrap();
    let mut ids = Vec::new();
    for i in 0..50 {
        ids.push(t.create(&attrs(&[("employeeID", json!(i))])).await.unwrap().id);
    }
    assert!(
        ids.iter().all(|id| id.len() == 32
            && id.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()))
    );
    let distinct: std::collections::HashSet<_> = ids.iter().collect();
    assert_eq!(distinct.len(), ids.len());
    // The first 12 digits are the creation millisecond: later objects never
    // sort before earlier ones, so ids append to the id index.
    assert!(ids.windows(2).all(|w| w[0][..12] <= w[1][..12]), "{ids:?}");
}
