//! JSON node -> expression Value conversion by attribute type, SuccessFactors
//! date forms, multi-valued attributes and the null rule.

use hrsync_expr::{Attributes, Value};
use hrsync_mapping::source::parse_sf_datetime;
use hrsync_mapping::{AttrType, Catalog, SourceAttributeConfig, SourceSchema};
use serde_json::json;

fn ts(ms: i64) -> jiff::Timestamp {
    jiff::Timestamp::from_millisecond(ms).unwrap()
}

#[test]
fn successfactors_dates() {
    let cases: [(&str, Option<i64>); 11] = [
        ("/Date(1672531200000)/", Some(1672531200000)),
        ("/Date(1587072082000+0000)/", Some(1587072082000)),
        // The offset says which local time was meant; the ms are UTC already.
        ("/Date(1587072082000+0200)/", Some(1587072082000)),
        ("/Date(1587072082000-0530)/", Some(1587072082000)),
        ("/Date(-31536000000)/", Some(-31536000000)),
        // Open end date (9999-12-31): past jiff's range, clamped to its maximum.
        ("/Date(253402214400000)/", Some(jiff::Timestamp::MAX.as_second() * 1000)),
        ("2024-01-01T00:00:00Z", Some(1704067200000)),
        ("2024-01-01T02:00:00+02:00", Some(1704067200000)),
        ("2024-01-01", Some(1704067200000)),
        ("/Date(12x)/", None),
        ("next tuesday", None),
    ];
    for (input, want) in cases {
        assert_eq!(parse_sf_datetime(input), want.map(ts), "{input}");
    }
}

#[test]
fn values_by_type() {
    let record = json!({
        "personId": "467", "count": 2, "countText": "3", "flag": "TRUE", "flagBool": false,
        "code": 42, "yes": true, "start": "/Date(1704067200000)/", "badDate": "someday",
        "nothing": null, "empty": "",
        "emails": {"results": [{"a": "x@e.com"}, {"a": null}, {"a": "y@e.com"}]}
    });
    let config: Vec<SourceAttributeConfig> = [
        ("intFromString", "$.personId", AttrType::Integer, false),
        ("intFromNumber", "$.count", AttrType::Integer, false),
        ("boolFromString", "$.flag", AttrType::Boolean, false),
        ("boolFromBool", "$.flagBool", AttrType::Boolean, false),
        ("textFromNumber", "$.code", AttrType::String, false),
        ("textFromBool", "$.yes", AttrType::String, false),
        ("date", "$.start", AttrType::DateTime, false),
        ("badDate", "$.badDate", AttrType::DateTime, false),
        ("nothing", "$.nothing", AttrType::String, false),
        ("empty", "$.empty", AttrType::String, false),
        ("missing", "$.no.such.path", AttrType::String, false),
        ("allEmails", "$.emails.results[*].a", AttrType::String, true),
        ("firstEmail", "$.emails.results[*].a", AttrType::String, false),
    ]
    .into_iter()
    .map(|(name, path, ty, multivalued)| SourceAttributeConfig {
        name: name.into(),
        jsonpath: Some(path.into()),
        ty: Some(ty),
        multivalued: Some(multivalued),
        expand: None,
    })
    .collect();
    let schema = SourceSchema::new(Catalog::builtin().clone(), &config).unwrap();
    let names: Vec<&str> = config.iter().map(|c| c.name.as_str()).collect();
    let source = schema.compile(names.iter().copied()).unwrap();
    let r = source.extract(&record);

    assert_eq!(r.get("intFromString"), Some(&Value::from_json(&json!(467))));
    assert_eq!(r.get("intFromNumber"), Some(&Value::from_json(&json!(2))));
    assert_eq!(r.get("boolFromString"), Some(&Value::from_json(&json!(true))));
    assert_eq!(r.get("boolFromBool"), Some(&Value::from_json(&json!(false))));
    assert_eq!(r.get("textFromNumber"), Some(&Value::String("42".into())));
    assert_eq!(r.get("textFromBool"), Some(&Value::String("True".into())));
    assert_eq!(r.get("date"), Some(&Value::DateTime(ts(1704067200000))));
    assert_eq!(r.get("badDate"), Some(&Value::String("someday".into())), "kept as text");
    assert_eq!(r.get("nothing"), None);
    assert_eq!(r.value("nothing"), Some(&Value::Null));
    assert_eq!(r.get("empty"), Some(&Value::String(String::new())), "\"\" is not null");
    assert_eq!(r.get("missing"), None);
    assert_eq!(
        r.get("allEmails"),
        Some(&Value::Array(vec![Value::String("x@e.com".into()), Value::String("y@e.com".into())]))
    );
    assert_eq!(r.get("firstEmail"), Some(&Value::String("x@e.com".into())));
    // Only compiled attributes exist on the record.
    assert_eq!(r.value("personIdExternal"), None);
    assert_eq!(source.attribute_names().count(), names.len());
}
