use hrsync_mapping::path::{SourcePath, translate_entra_dialect};
use serde_json::json;

#[test]
fn entra_paths_parse_verbatim() {
    let paths = [
        "$.employmentNav.results[0].jobInfoNav.results[0].departmentNav.name_localized",
        "$.employmentNav.results[-1:].jobInfoNav.results[0].departmentNav.name_localized",
        "$.employmentNav.results[-1:].startDate",
        "$.employmentNav.results[1].jobInfoNav.results[0].departmentNav.name_localized",
        "$.employmentNav.results[?(@.assignmentClass == 'ST')].jobInfoNav.results[0].departmentNav.name_localized",
        "$.employmentNav.results[?(@.assignmentClass == 'GA')].jobInfoNav.results[0].departmentNav.name_localized",
        "$.employmentNav..jobInfoNav..results[?(@.emplStatusNav.externalCode == 'A' || @.emplStatusNav.externalCode == 'U' || @.emplStatusNav.externalCode == 'P' )].emplStatusNav.externalCode",
        "$.employmentNav..jobInfoNav..results[?(@.emplStatusNav.externalCode == 'A' || @.emplStatusNav.externalCode == 'U' || @.emplStatusNav.externalCode == 'P')]",
        "$.employmentNav..results[?(@.jobInfoNav..results[?(@.emplStatusNav.externalCode == 'A' || @.emplStatusNav.externalCode == 'U' || @.emplStatusNav.externalCode == 'P')])]",
        "$.employmentNav..results[?(@.jobInfoNav..results[?(@.emplStatusNav.externalCode == 'A' || @.emplStatusNav.externalCode == 'U' || @.emplStatusNav.externalCode == 'P')])].userNav.username",
        "$.employmentNav.results[0].userNav.status",
        "$.employmentNav.results[0].jobInfoNav.results[0].positionNav.externalName_fr_FR",
    ];
    for p in paths {
        assert!(SourcePath::parse(p).is_ok(), "{p}: {:?}", SourcePath::parse(p).err());
    }
}

fn employments() -> serde_json::Value {
    json!({"employmentNav": {"results": [
        {"userId": "old", "assignmentClass": "ST", "userNav": null,
         "jobInfoNav": {"results": [{"emplStatusNav": {"externalCode": "T"}, "jobTitle": "Contractor"}]}},
        {"userId": "new", "assignmentClass": "ST", "userNav": {"username": "newuser"},
         "jobInfoNav": {"results": [{"emplStatusNav": {"externalCode": "A"}, "jobTitle": "Engineer"}]}},
        {"userId": "ga", "assignmentClass": "GA", "userNav": {"username": "gauser"},
         "jobInfoNav": {"results": [{"emplStatusNav": {"externalCode": "U"}, "jobTitle": "Expat"}]}}
    ]}})
}

#[test]
fn entra_paths_select_what_the_reference_says() {
    let doc = employments();
    let active = "$.employmentNav..results[?(@.jobInfoNav..results[?(@.emplStatusNav.externalCode == 'A' || @.emplStatusNav.externalCode == 'U' || @.emplStatusNav.externalCode == 'P')])]";
    let active_job = "$.employmentNav..jobInfoNav..results[?(@.emplStatusNav.externalCode == 'A' || @.emplStatusNav.externalCode == 'U' || @.emplStatusNav.externalCode == 'P' )]";
    let cases: Vec<(String, serde_json::Value)> = vec![
        ("$.employmentNav.results[0].userId".into(), json!(["old"])),
        ("$.employmentNav.results[-1:].userId".into(), json!(["ga"])),
        ("$.employmentNav.results[1].userId".into(), json!(["new"])),
        ("$.employmentNav.results[?(@.assignmentClass == 'GA')].userId".into(), json!(["ga"])),
        (
            "$.employmentNav.results[?(@.assignmentClass == 'ST')].userId".into(),
            json!(["old", "new"]),
        ),
        (format!("{active}.userId"), json!(["new", "ga"])),
        (format!("{active_job}.jobTitle"), json!(["Engineer", "Expat"])),
        (format!("{active_job}.emplStatusNav.externalCode"), json!(["A", "U"])),
        // userNav null on the pre-conversion employment: no match, no error.
        ("$.employmentNav.results[0].userNav.username".into(), json!([])),
        ("$..username".into(), json!(["newuser", "gauser"])),
    ];
    for (path, want) in cases {
        let p = SourcePath::parse(&path).unwrap();
        let got: Vec<serde_json::Value> = p.query(&doc).into_iter().cloned().collect();
        assert_eq!(serde_json::Value::Array(got), want, "{path}");
    }
}

#[test]
fn result_rule_first_non_null_or_all() {
    use hrsync_mapping::path::Selected;
    let doc = json!({"a": [null, "x", "y"], "b": null});
    let p = SourcePath::parse("$.a[*]").unwrap();
    assert_eq!(p.select(&doc, false), Selected::One(&json!("x")));
    assert_eq!(p.select(&doc, true), Selected::Many(vec![&json!("x"), &json!("y")]));
    assert_eq!(SourcePath::parse("$.b").unwrap().select(&doc, false), Selected::Nothing);
    assert_eq!(SourcePath::parse("$.missing").unwrap().select(&doc, true), Selected::Nothing);
    let located = p.first_located(&doc).unwrap();
    assert_eq!(located.location, "$['a'][1]");
}

#[test]
fn dialect_translation() {
    let cases = [
        ("  $.a.b  ", "$.a.b"),
        ("employmentNav.results[0]", "$.employmentNav.results[0]"),
        ("['a']", "$['a']"),
        ("$.e[?(@.name =~ /^Dr\\.? /)]", "$.e[?(search(@.name, '^Dr\\\\.? '))]"),
        ("$.e[?(@.a == 'x' && @.path =~ /a\\/b/)]", "$.e[?(@.a == 'x' && search(@.path, 'a/b'))]"),
        ("$.unchanged[?(@.x == 'A')]", "$.unchanged[?(@.x == 'A')]"),
    ];
    for (input, want) in cases {
        assert_eq!(translate_entra_dialect(input), want, "{input}");
    }
    let doc = json!({"e": [{"name": "Dr. Who"}, {"name": "Mr X"}], "a": 1});
    let p = SourcePath::parse("$.e[?(@.name =~ /^Dr\\.? /)].name").unwrap();
    assert_eq!(p.query(&doc), vec![&json!("Dr. Who")]);
    let p = SourcePath::parse("a").unwrap();
    assert_eq!(p.query(&doc), vec![&json!(1)]);
}

#[test]
fn parse_errors_carry_the_path() {
    let err = SourcePath::parse("$.employmentNav.results[?(@.a == )]").unwrap_err();
    assert_eq!(err.path, "$.employmentNav.results[?(@.a == )]");
    assert!(err.to_string().contains("invalid JSONPath"), "{err}");
}

#[test]
fn paths_are_limited_in_length_and_nesting_before_parsing() {
    use hrsync_mapping::path::{MAX_FILTER_DEPTH, MAX_PATH_DEPTH, MAX_PATH_LEN};
    // 5,000 nested parentheses overflowed the parser's stack (abort).
    let deep = format!("$.a[?{}@.b{}]", "(".repeat(5000), ")".repeat(5000));
    let err = SourcePath::parse(&deep).unwrap_err();
    assert!(err.message.contains(&format!("limit of {MAX_PATH_LEN} bytes")), "{err}");
    assert!(err.to_string().len() < 400, "the error quotes the path shortened: {err}");
    let deep = format!("$.a[?{}@.b{}]", "(".repeat(200), ")".repeat(200));
    let err = SourcePath::parse(&deep).unwrap_err();
    assert!(err.message.contains(&format!("nested deeper than {MAX_PATH_DEPTH}")), "{err}");
    // 20 nested filters took 4 s to parse (twice as long per level).
    let nested = |levels: usize| {
        let mut f = "@.x == 'A'".to_owned();
        for _ in 1..levels {
            f = format!("@.n[?({f})]");
        }
        format!("$.e[?({f})]")
    };
    let err = SourcePath::parse(&nested(20)).unwrap_err();
    assert!(
        err.message.contains(&format!("filters nested deeper than {MAX_FILTER_DEPTH}")),
        "{err}"
    );
    SourcePath::parse(&nested(MAX_FILTER_DEPTH)).unwrap();
    assert!(SourcePath::parse(&nested(MAX_FILTER_DEPTH + 1)).is_err());
    // Entra's nested existence filter still parses; brackets in literals do not count.
    SourcePath::parse(
        "$.employmentNav.results[?(@.jobInfoNav.results[?(@.emplStatusNav.externalCode == 'A')])]",
    )
    .unwrap();
    let p = SourcePath::parse(&format!("$.a[?(@.b == '{}')].c", "[(".repeat(100))).unwrap();
    assert!(p.query(&json!({"a": [{"b": "[(".repeat(100), "c": 1}]})).len() == 1);
    SourcePath::parse(&format!("$.e[?(@.name =~ /{}/)]", "[(]".repeat(40))).unwrap();
}
