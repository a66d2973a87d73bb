//! Unit tests of the pure parts: index keys, case folding back to the
//! values as given, the `IN (...)` statement shapes and account status.

use std::collections::HashMap;

use hrsync_target::{AttributeUpdate, Attributes, attr};
use serde_json::json;

use crate::request_builder::*;

#[test]
fn values_become_lower_case_keys_per_element() {
    assert_eq!(index_keys(&json!("Ana@X")), ["ana@x"]);
    assert_eq!(index_keys(&json!(["A", "b", ["C"]])), ["a", "b", "c"]);
    assert_eq!(index_keys(&json!(42)), ["42"]);
    assert_eq!(index_keys(&json!(true)), ["true"]);
    assert!(index_keys(&json!(null)).is_empty());
    let indexed = vec!["mail".to_owned(), "uid".to_owned()];
    let attrs: Attributes = [
        ("mail".to_owned(), json!(["A@x", "a@X"])),
        ("uid".to_owned(), json!("Ana")),
        ("title".to_owned(), json!("not indexed")),
    ]
    .into();
    let keys: Vec<(&str, String)> = object_keys(&indexed, &attrs).into_iter().collect();
    assert_eq!(keys, [("mail", "a@x".to_owned()), ("uid", "ana".to_owned())], "each key once");
}

#[test]
fn answers_for_folded_keys_go_back_to_every_spelling_asked() {
    let asked = ["Ana".to_owned(), "ANA".to_owned(), "bo".to_owned()];
    let keys = by_key(&asked);
    assert_eq!(keys.len(), 2);
    let found: HashMap<String, u8> = [("ana".to_owned(), 1), ("zed".to_owned(), 2)].into();
    let spread = spread(found, &keys);
    assert_eq!(spread.len(), 2);
    assert_eq!((spread["Ana"], spread["ANA"]), (1, 1));
    assert!(!spread.contains_key("bo") && !spread.contains_key("zed"));
}

#[test]
fn in_lists_round_up_to_a_power_of_two_within_the_chunk() {
    let (sql, slots) = in_list("SELECT x WHERE v", " ORDER BY v", 3, 512);
    assert_eq!(slots, 4);
    assert_eq!(sql, "SELECT x WHERE v IN (?2, ?3, ?4, ?5) ORDER BY v");
    assert_eq!(in_list("h", "", 600, 512).1, 512);
    assert_eq!(in_list("h", "", 1, 512).1, 1);
}

#[test]
fn account_status_follows_the_shared_convention() {
    let mut a = Attributes::new();
    assert!(is_enabled(&a), "no accountDisabled: enabled");
    apply(&mut a, &[disable_change()]);
    assert_eq!(a[attr::ACCOUNT_DISABLED], json!("True"));
    assert!(!is_enabled(&a));
    for (v, enabled) in [(json!("false"), true), (json!(1), false), (json!("maybe"), true)] {
        apply(&mut a, &[AttributeUpdate { name: attr::ACCOUNT_DISABLED.into(), value: v.clone() }]);
        assert_eq!(is_enabled(&a), enabled, "{v}");
    }
    apply(&mut a, &[AttributeUpdate { name: attr::ACCOUNT_DISABLED.into(), value: json!(null) }]);
    assert!(!a.contains_key(attr::ACCOUNT_DISABLED) && is_enabled(&a), "null removes");
}
