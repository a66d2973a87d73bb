//! Unit tests of the pure parts: paths, escaping, request bodies, flattening.

use hrsync_target::{AttributeUpdate, Attributes};
use proptest::prelude::*;
use serde_json::{Value, json};

use crate::Quirks;
use crate::request_builder::*;

fn attrs(pairs: &[(&str, Value)]) -> Attributes {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect()
}

#[test]
fn paths_parse_as_entra_names_them() {
    assert_eq!(parse_path("userName").unwrap(), ScimPath::Attribute("userName".into()));
    assert_eq!(
        parse_path("name.givenName").unwrap(),
        ScimPath::Sub { attribute: "name".into(), sub: "givenName".into() }
    );
    assert_eq!(
        parse_path(r#"emails[type eq "work"].value"#).unwrap(),
        ScimPath::Typed { attribute: "emails".into(), kind: "work".into(), sub: "value".into() }
    );
    assert_eq!(
        parse_path(&format!("{ENTERPRISE}:department")).unwrap(),
        ScimPath::Extension {
            urn: ENTERPRISE.into(),
            path: Box::new(ScimPath::Attribute("department".into()))
        }
    );
    for m in ["manager", &format!("{ENTERPRISE}:manager"), &format!("{ENTERPRISE}:manager.value")] {
        assert_eq!(parse_path(m).unwrap(), ScimPath::Manager, "{m}");
    }
    assert_eq!(
        parse_path(&format!("{USER_SCHEMA}:userName")).unwrap(),
        ScimPath::Attribute("userName".into())
    );
    assert_eq!(parse_path("accountDisabled").unwrap(), ScimPath::AccountDisabled);
    for bad in ["", "1abc", "a b", r#"emails[value co "x"].value"#, "emails[type eq \"w\"]", "a\"b"]
    {
        assert!(parse_path(bad).is_err(), "{bad:?} must be refused");
    }
}

#[test]
fn filter_values_are_json_strings_so_no_value_can_add_a_clause() {
    let evil = r#"x" or userName pr or userName eq "y"#;
    let f = eq_filter(&ScimPath::Attribute("userName".into()), evil);
    assert_eq!(f, r#"userName eq "x\" or userName pr or userName eq \"y""#);
    assert_eq!(filter_value("a\\b\n"), r#""a\\b\n""#);
    assert_eq!(
        eq_filter(&parse_path(r#"emails[type eq "work"].value"#).unwrap(), "a@b"),
        r#"emails[type eq "work" and value eq "a@b"]"#
    );
    assert_eq!(id_segment("a/b?c d"), "a%2Fb%3Fc%20d");
}

proptest! {
    /// Any value round-trips through the filter as one JSON string: the
    /// filter is `attr eq <one string literal>` and nothing else.
    #[test]
    fn any_filter_value_stays_one_string(value in any::<String>()) {
        let f = eq_filter(&ScimPath::Attribute("externalId".into()), &value);
        let literal = f.strip_prefix("externalId eq ").expect("prefix");
        let back: String = serde_json::from_str(literal).expect("one JSON string");
        prop_assert_eq!(back, value);
    }
}

#[test]
fn create_bodies_nest_paths_and_convert_conventions() {
    let a = attrs(&[
        ("userName", json!("ana@example.com")),
        ("externalId", json!("1001")),
        ("name.givenName", json!("Ana")),
        ("name.familyName", json!("Lima")),
        (r#"emails[type eq "work"].value"#, json!("ana@example.com")),
        (r#"emails[type eq "work"].primary"#, json!("True")),
        (&format!("{ENTERPRISE}:department"), json!("Sales")),
        ("accountDisabled", json!("False")),
        ("entitlements", json!("00e000000000001")),
        ("title", Value::Null),
        ("manager", json!("1000")),
    ]);
    let body = create_body(&a, Some("mgr-id"), &Quirks::default()).unwrap();
    assert_eq!(
        body,
        json!({
            "schemas": [USER_SCHEMA, ENTERPRISE],
            "userName": "ana@example.com", "externalId": "1001",
            "name": {"givenName": "Ana", "familyName": "Lima"},
            "emails": [{"type": "work", "value": "ana@example.com", "primary": true}],
            ENTERPRISE: {"department": "Sales", "manager": {"value": "mgr-id"}},
            "active": true,
            "entitlements": [{"value": "00e000000000001"}],
        })
    );
    let quirky = Quirks { capitalised_ops: true, string_booleans: true, bare_string_manager: true };
    let body = create_body(&a, Some("mgr-id"), &quirky).unwrap();
    assert_eq!(body["active"], json!("True"));
    assert_eq!(body[ENTERPRISE]["manager"], json!("mgr-id"));
}

#[test]
fn patches_carry_only_the_changes_and_add_missing_typed_elements() {
    let ch = |n: &str, v: Value| AttributeUpdate { name: n.into(), value: v };
    let changes = [
        ch("title", json!("Lead")),
        ch("name.givenName", Value::Null),
        ch(r#"emails[type eq "work"].value"#, json!("new@example.com")),
        ch(r#"phoneNumbers[type eq "work"].value"#, json!("+1 555")),
        ch(r#"phoneNumbers[type eq "work"].primary"#, json!("True")),
        ch("accountDisabled", json!("True")),
    ];
    let current = json!({"emails": [{"type": "work", "value": "old@example.com"}]});
    let ops = patch_operations(
        &changes,
        Some(&ManagerChange::Set("m1".into())),
        Some(&current),
        &Quirks::default(),
    )
    .unwrap();
    assert_eq!(
        ops,
        vec![
            json!({"op": "replace", "path": "title", "value": "Lead"}),
            json!({"op": "remove", "path": "name.givenName"}),
            json!({"op": "replace", "path": r#"emails[type eq "work"].value"#, "value": "new@example.com"}),
            json!({"op": "replace", "path": "active", "value": false}),
            json!({"op": "add", "path": "phoneNumbers", "value": [{"type": "work", "value": "+1 555", "primary": true}]}),
            json!({"op": "replace", "path": format!("{ENTERPRISE}:manager"), "value": {"value": "m1"}}),
        ]
    );
    let quirky =
        Quirks { capitalised_ops: true, string_booleans: true, bare_string_manager: false };
    let ops =
        patch_operations(&[ch("accountDisabled", json!("False"))], None, None, &quirky).unwrap();
    assert_eq!(ops, vec![json!({"op": "Replace", "path": "active", "value": "True"})]);
    let removed = patch_operations(
        &[ch(r#"emails[type eq "work"].value"#, Value::Null)],
        None,
        Some(&current),
        &Quirks::default(),
    )
    .unwrap();
    assert_eq!(removed, vec![json!({"op": "remove", "path": r#"emails[type eq "work"]"#})]);
}

#[test]
fn resources_flatten_into_mapping_names_without_secrets() {
    let r = json!({
        "schemas": [USER_SCHEMA], "id": "u1", "meta": {"version": "W/\"1\""},
        "userName": "ana", "active": false, "password": "x",
        "name": {"givenName": "Ana"},
        "emails": [{"type": "work", "value": "a@b", "primary": true}],
        "entitlements": [{"value": "p1"}],
        ENTERPRISE: {"department": "Sales", "manager": {"value": "m1"}},
    });
    let f = flatten(&r);
    assert_eq!(f.get("userName"), Some(&json!("ana")));
    assert_eq!(f.get("name.givenName"), Some(&json!("Ana")));
    assert_eq!(f.get(r#"emails[type eq "work"].value"#), Some(&json!("a@b")));
    assert_eq!(f.get(&format!("{ENTERPRISE}:department")), Some(&json!("Sales")));
    assert_eq!(f.get("accountDisabled"), Some(&json!("True")));
    assert_eq!(f.get("entitlements"), Some(&json!([{"value": "p1"}])));
    assert!(!f.contains_key("password") && !f.contains_key("id") && !f.contains_key("meta"));
    assert_eq!(manager_id(&r), Some("m1"));
}

#[test]
fn errors_quote_the_scim_body_and_bodies_are_redacted() {
    let body = r#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"400","scimType":"invalidValue","detail":"Field 'entitlements' is required"}"#;
    assert_eq!(
        error_text(400, body),
        r#"HTTP 400, scimType invalidValue: "Field 'entitlements' is required"; at fault: entitlements: the server requires it and the request has no value"#
    );
    let salesforce = r#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"409","detail":"REQUIRED_FIELD_MISSING:user_must_have_one_entitlement_which_must_be_a_profileid"}"#;
    let shown = error_text(409, salesforce);
    assert!(
        shown.starts_with(r#"HTTP 409: "REQUIRED_FIELD_MISSING:user_must_have_one_entitlement_which_must_be_a_profileid""#)
            && shown.ends_with("at fault: entitlements: Salesforce requires a profile id (map one, as builtin:sf-to-salesforce does)"),
        "{shown}"
    );
    assert!(
        crate::request_builder::blame("REQUIRED_FIELD_MISSING:Alias")
            .is_some_and(|b| b.starts_with("Alias: "))
    );
    assert_eq!(crate::request_builder::blame("something else"), None);
    assert_eq!(error_text(502, ""), "HTTP 502");
    let b = json!({"userName": "a", "password": "s3cret", "Operations": [{"op": "replace", "path": "password", "value": "s3cret"}]});
    let shown = redacted(&b).to_string();
    assert!(!shown.contains("s3cret") && shown.contains("[redacted]"), "{shown}");
}

#[test]
fn retry_after_reads_seconds_and_http_dates() {
    let now: jiff::Timestamp = "2026-12-03T10:00:00Z".parse().unwrap();
    assert_eq!(
        crate::service::parse_retry_after("2", now),
        Some(std::time::Duration::from_secs(2))
    );
    assert_eq!(
        crate::service::parse_retry_after("Thu, 03 Dec 2026 10:00:30 GMT", now),
        Some(std::time::Duration::from_secs(30))
    );
    assert_eq!(crate::service::parse_retry_after("soon", now), None);
}

#[test]
fn config_problems_name_their_fields_and_debug_hides_secrets() {
    use crate::{AuthMethod, ScimConfig};
    use secrecy::SecretString;
    let mut c = ScimConfig::bearer("https://scim.example.com/v2", SecretString::from("tok-123"));
    assert!(c.problems().is_empty(), "{:?}", c.problems());
    assert!(!format!("{c:?}").contains("tok-123"));
    c.token = None;
    c.concurrency = 0;
    c.url = "ftp://x".into();
    let fields: Vec<&str> = c.problems().iter().map(|p| p.field).collect();
    assert_eq!(fields, ["url", "token_env", "concurrency"]);
    c.url = "https://scim.example.com/v2".into();
    c.concurrency = 2;
    c.method = AuthMethod::Oauth2;
    let fields: Vec<&str> = c.problems().iter().map(|p| p.field).collect();
    assert_eq!(fields, ["token_url", "client_id", "client_secret_env"]);
    c.url = "http://scim.example.com/v2".into();
    assert!(c.warnings().iter().any(|w| w.field == "url" && w.message.contains("not loopback")));
}
