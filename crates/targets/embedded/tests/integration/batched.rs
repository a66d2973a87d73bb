//! `find_many` and `taken` of the embedded target: one lookup for many values,
//! answering exactly as `find` and `is_taken` do value by value.

use std::collections::{HashMap, HashSet};

use hrsync_target::{AttributeUpdate, Attributes, Target, TargetObject};
use hrsync_target_embedded::{EmbeddedTarget, LOOKUP_CHUNK};
use proptest::prelude::*;
use serde_json::{Value, json};

fn attrs(pairs: &[(&str, Value)]) -> Attributes {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect()
}

fn strings(values: &[&str]) -> Vec<String> {
    values.iter().map(|v| (*v).to_owned()).collect()
}

fn ids(found: &HashMap<String, Vec<TargetObject>>, value: &str) -> Vec<String> {
    found.get(value).map(|objs| objs.iter().map(|o| o.id.clone()).collect()).unwrap_or_default()
}

/// The same population in a target that indexes `mail` and one that does not
/// (the scan fallback), so every assertion runs against both paths.
async fn populated() -> Vec<(EmbeddedTarget, [String; 3])> {
    let mut out = Vec::new();
    for indexed in [&["mail"][..], &[][..]] {
        let t = EmbeddedTarget::in_memory_indexed(&["sAMAccountName"], indexed).expect("open");
        let ana = t
            .create(&attrs(&[("sAMAccountName", json!("Ana")), ("mail", json!("Ana@Example.com"))]))
            .await
            .expect("create");
        let bo = t
            .create(&attrs(&[
                ("sAMAccountName", json!("bo")),
                ("mail", json!(["bo@example.com", "BO@EXAMPLE.COM", "shared@example.com"])),
            ]))
            .await
            .expect("create");
        let cy = t
            .create(&attrs(&[
                ("sAMAccountName", json!("cy")),
                ("mail", json!("shared@example.com")),
            ]))
            .await
            .expect("create");
        out.push((t, [ana.id, bo.id, cy.id]));
    }
    out
}

#[tokio::test]
async fn find_many_maps_case_variants_back_to_the_values_as_given() {
    for (t, [ana, bo, cy]) in populated().await {
        let asked = strings(&[
            "ana@example.com",
            "ANA@EXAMPLE.COM",
            "nobody@example.com",
            "Shared@Example.com",
            "bo@example.com",
        ]);
        let found = t.find_many("mail", &asked).await.expect("find_many");
        assert_eq!(ids(&found, "ana@example.com"), std::slice::from_ref(&ana));
        assert_eq!(ids(&found, "ANA@EXAMPLE.COM"), [ana]);
        assert!(!found.contains_key("nobody@example.com"), "absent value: no entry");
        let mut shared = vec![bo.clone(), cy];
        shared.sort();
        assert_eq!(ids(&found, "Shared@Example.com"), shared, "objects in id order");
        // bo's two case variants of one address make one match, not two.
        assert_eq!(ids(&found, "bo@example.com"), [bo]);
        assert_eq!(found.len(), 4);
        assert_eq!(
            found["bo@example.com"][0].attributes["sAMAccountName"],
            json!("bo"),
            "objects come with their attributes"
        );
        assert!(t.find_many("mail", &[]).await.expect("empty").is_empty());
        assert!(t.find_many("title", &asked).await.expect("attribute nobody has").is_empty());
    }
}

#[tokio::test]
async fn taken_answers_per_candidate_case_insensitively() {
    for (t, _) in populated().await {
        let candidates = strings(&[
            "SHARED@example.com",
            "free@example.com",
            "ana@example.com",
            "Ana@Example.Com",
            "bo@example.com",
        ]);
        let taken = t.taken("mail", &candidates).await.expect("taken");
        let want: HashSet<String> = strings(&[
            "SHARED@example.com",
            "ana@example.com",
            "Ana@Example.Com",
            "bo@example.com",
        ])
        .into_iter()
        .collect();
        assert_eq!(taken, want);
        assert!(t.taken("mail", &[]).await.expect("empty").is_empty());
        // Unique attributes are indexed whatever else is.
        let taken =
            t.taken("sAMAccountName", &strings(&["ANA", "ana2", "Cy"])).await.expect("taken");
        assert_eq!(taken, strings(&["ANA", "Cy"]).into_iter().collect());
    }
}

#[tokio::test]
async fn more_values_than_one_lookup_holds() {
    let t = EmbeddedTarget::in_memory_indexed(&["sAMAccountName"], &["employeeID"]).expect("open");
    let n = LOOKUP_CHUNK * 2 + 7;
    for i in (0..n).step_by(3) {
        t.create(&attrs(&[
            ("sAMAccountName", json!(format!("user{i}"))),
            ("employeeID", json!(format!("E{i}"))),
        ]))
        .await
        .expect("create");
    }
    t.flush().await.expect("flush");
    let asked: Vec<String> = (0..n).map(|i| format!("e{i}")).collect();
    let found = t.find_many("employeeID", &asked).await.expect("find_many");
    assert_eq!(found.len(), n.div_ceil(3));
    for (i, value) in asked.iter().enumerate() {
        assert_eq!(found.contains_key(value), i % 3 == 0, "{value}");
    }
    let candidates: Vec<String> = (0..n).map(|i| format!("USER{i}")).collect();
    let taken = t.taken("sAMAccountName", &candidates).await.expect("taken");
    assert_eq!(taken.len(), n.div_ceil(3));
    assert!(taken.contains(&format!("USER{}", n - 1 - (n - 1) % 3)), "the last chunk is asked too");
}

#[tokio::test]
async fn updates_and_deletes_keep_the_index_exact() {
    let t = EmbeddedTarget::in_memory_indexed(&["userPrincipalName"], &["mail"]).expect("open");
    let a = t
        .create(&attrs(&[("userPrincipalName", json!("a@x")), ("mail", json!(["one@x", "two@x"]))]))
        .await
        .expect("create");
    t.update(&a.id, &[AttributeUpdate { name: "mail".into(), value: json!(["TWO@x", "three@x"]) }])
        .await
        .expect("update");
    let found =
        t.find_many("mail", &strings(&["one@x", "two@x", "three@x"])).await.expect("find_many");
    assert_eq!(
        found.keys().cloned().collect::<HashSet<_>>(),
        strings(&["two@x", "three@x"]).into_iter().collect()
    );
    assert_eq!(found["two@x"][0].attributes["mail"], json!(["TWO@x", "three@x"]));
    // The old UPN is free again once renamed, and the new one is taken.
    t.update(&a.id, &[AttributeUpdate { name: "userPrincipalName".into(), value: json!("b@x") }])
        .await
        .expect("rename");
    assert_eq!(
        t.taken("userPrincipalName", &strings(&["a@x", "B@X"])).await.expect("taken"),
        strings(&["B@X"]).into_iter().collect()
    );
    t.create(&attrs(&[("userPrincipalName", json!("A@x"))]))
        .await
        .expect("the freed UPN can be reused");
    t.delete(&a.id).await.expect("delete");
    assert!(
        t.find_many("mail", &strings(&["two@x", "three@x"])).await.expect("find_many").is_empty()
    );
    assert!(!t.is_taken("userPrincipalName", "b@x", None).await.expect("is_taken"));
}

#[test]
fn a_file_with_the_first_index_layout_opens_and_is_reindexed() {
    let path =
        std::env::temp_dir().join(format!("hrsync-embedded-layout1-{}.sqlite", std::process::id()));
    let _ = std::fs::remove_file(&path);
    {
        // The layout before this version, written by hand: a rowid value
        // index with a cascading foreign key, and meta without `layout`.
        let conn = rusqlite::Connection::open(&path).expect("create");
        conn.execute_batch(
            "CREATE TABLE object (id TEXT PRIMARY KEY, enabled INTEGER NOT NULL DEFAULT 1, attributes TEXT NOT NULL);
             CREATE TABLE value_index (name TEXT NOT NULL, value TEXT NOT NULL,
                 id TEXT NOT NULL REFERENCES object (id) ON DELETE CASCADE);
             CREATE INDEX value_index_nv ON value_index (name, value);
             CREATE INDEX value_index_id ON value_index (id);
             CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
             INSERT INTO object VALUES ('0123', 1, '{\"sAMAccountName\":\"Ana\",\"employeeID\":\"7\"}');
             INSERT INTO value_index VALUES ('sAMAccountName', 'ana', '0123');
             INSERT INTO meta VALUES ('indexed', 'sAMAccountName');",
        )
        .expect("old layout");
    }
    let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    rt.block_on(async {
        let t = EmbeddedTarget::open_indexed(&path, &["sAMAccountName"], &["employeeID"])
            .expect("open old file");
        assert_eq!(
            ids(&t.find_many("employeeID", &strings(&["7"])).await.expect("find"), "7"),
            ["0123"]
        );
        assert!(t.is_taken("sAMAccountName", "ANA", None).await.expect("is_taken"));
        let dup = t.create(&attrs(&[("sAMAccountName", json!("ana"))])).await;
        assert!(dup.is_err(), "uniqueness still holds after the rebuild");
        t.delete("0123").await.expect("delete");
        assert!(!t.is_taken("sAMAccountName", "ana", None).await.expect("is_taken"));
    });
    let conn = rusqlite::Connection::open(&path).expect("reopen");
    let layout: String = conn
        .query_row("SELECT value FROM meta WHERE key = 'layout'", [], |r| r.get(0))
        .expect("layout");
    assert_eq!(layout, "2");
    let keys: i64 =
        conn.query_row("SELECT count(*) FROM value_index", [], |r| r.get(0)).expect("count");
    assert_eq!(keys, 0, "the deleted object left no keys behind");
    drop(conn);
    let _ = std::fs::remove_file(&path);
}

/// A small population: few distinct values in mixed case, some multi-valued,
/// so that collisions, case variants and absent values all occur.
fn population() -> impl Strategy<Value = Vec<(Vec<String>, Option<String>)>> {
    let word = prop::sample::select(vec!["ana", "ANA", "Bo", "bo", "cy", "dee", "Dee", "eve"])
        .prop_map(str::to_owned);
    prop::collection::vec(
        (prop::collection::vec(word.clone(), 0..3), prop::option::of(word)),
        0..12,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn batched_lookups_equal_one_at_a_time(objects in population(), asked in prop::collection::vec(
        prop::sample::select(vec!["ana", "Ana", "BO", "cy", "DEE", "eve", "zed", ""]).prop_map(str::to_owned), 0..10)) {
        let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        rt.block_on(async {
            // `mail` (multi-valued) indexed; `title` left to the scan.
            let t = EmbeddedTarget::in_memory_indexed(&[], &["mail"]).expect("open");
            let mut created = Vec::new();
            for (mail, title) in &objects {
                let mut a = Attributes::new();
                a.insert("mail".into(), json!(mail));
                if let Some(title) = title {
                    a.insert("title".into(), json!(title));
                }
                created.push(t.create(&a).await.expect("create"));
            }
            // The model: objects with the value among the attribute's
            // elements, compared case-insensitively, in id order.
            let model = |attribute: &str, value: &str| {
                let mut ids: Vec<String> = created
                    .iter()
                    .filter(|o| match o.attributes.get(attribute) {
                        Some(Value::String(s)) => s.to_lowercase() == value.to_lowercase(),
                        Some(Value::Array(items)) => items.iter().any(|i| i.as_str().is_some_and(|s| s.to_lowercase() == value.to_lowercase())),
                        _ => false,
                    })
                    .map(|o| o.id.clone())
                    .collect();
                ids.sort();
                ids
            };
            for attribute in ["mail", "title"] {
                let many = t.find_many(attribute, &asked).await.expect("find_many");
                let taken = t.taken(attribute, &asked).await.expect("taken");
                for value in &asked {
                    let one = t.find(attribute, value).await.expect("find");
                    prop_assert_eq!(ids(&many, value), model(attribute, value), "{} = {:?}", attribute, value);
                    prop_assert_eq!(many.get(value).cloned().unwrap_or_default(), one.clone(), "{} = {:?}", attribute, value);
                    prop_assert_eq!(taken.contains(value), t.is_taken(attribute, value, None).await.expect("is_taken"));
                    prop_assert_eq!(taken.contains(value), !one.is_empty());
                }
                prop_assert!(many.keys().all(|k| asked.contains(k)));
                prop_assert!(many.values().all(|objs| !objs.is_empty()));
            }
            Ok(())
        })?;
    }
}
