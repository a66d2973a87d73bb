//! Scoping filters: every operator, null semantics, AND within a group, OR
//! across groups, and the deciding clauses.

use std::collections::HashMap;

use hrsync_expr::{Attributes, Value};
use hrsync_mapping::{ScopeOperator, ScopingFilter, SourceSchema};

struct Attrs(HashMap<String, Value>);
impl Attributes for Attrs {
    fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name)
    }
}

fn attrs(pairs: &[(&str, Value)]) -> Attrs {
    Attrs(pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect())
}

fn s(v: &str) -> Value {
    Value::String(v.into())
}

fn one_clause(attribute: &str, operator: &str, values: &[&str]) -> ScopingFilter {
    let toml = format!(
        "[[groups]]\nclauses = [{{ attribute = \"{attribute}\", operator = \"{operator}\", values = {values:?} }}]\n"
    );
    toml::from_str(&toml).unwrap_or_else(|e| panic!("{toml}: {e}"))
}

#[test]
fn operators_table() {
    let schema = SourceSchema::builtin().unwrap();
    // (attribute, operator as Entra spells it, values, attribute value, expected)
    type Case<'a> = (&'a str, &'a str, Vec<&'a str>, Option<Value>, bool);
    let cases: Vec<Case> = vec![
        ("emplStatus", "EQUALS", vec!["A"], Some(s("A")), true),
        ("emplStatus", "EQUALS", vec!["A"], Some(s("a")), false),
        ("emplStatus", "EQUALS", vec!["A", "U"], Some(s("U")), true),
        ("emplStatus", "EQUALS", vec!["A"], None, false),
        ("emplStatus", "NOT EQUALS", vec!["T"], Some(s("A")), true),
        ("emplStatus", "NOT EQUALS", vec!["T"], Some(s("T")), false),
        ("emplStatus", "NOT EQUALS", vec!["T"], None, false),
        ("emplStatus", "NOT EQUALS", vec!["T"], Some(s("")), false),
        ("emplStatus", "NOT_EQUALS", vec!["T"], Some(s("A")), true),
        ("isContingentWorker", "IS TRUE", vec![], Some(Value::Bool(true)), true),
        ("isContingentWorker", "IS TRUE", vec![], Some(s("True")), true),
        ("isContingentWorker", "IS TRUE", vec![], Some(Value::Bool(false)), false),
        ("isContingentWorker", "IS TRUE", vec![], None, false),
        ("isContingentWorker", "IS FALSE", vec![], Some(Value::Bool(false)), true),
        ("isContingentWorker", "IS FALSE", vec![], None, false),
        ("userStatus", "IS NULL", vec![], None, true),
        ("userStatus", "IS NULL", vec![], Some(s("")), true),
        ("userStatus", "IS NULL", vec![], Some(s("active")), false),
        ("userStatus", "IS NOT NULL", vec![], Some(s("active")), true),
        ("userStatus", "IS NOT NULL", vec![], Some(s("")), false),
        ("company", "REGEX MATCH", vec!["^ACE"], Some(s("ACE Germany")), true),
        ("company", "REGEX MATCH", vec!["([1-9][0-9])"], Some(s("Plant 42")), true),
        ("company", "REGEX MATCH", vec!["^ACE"], Some(s("Other")), false),
        ("company", "NOT REGEX MATCH", vec!["^ACE"], Some(s("Other")), true),
        ("company", "NOT REGEX MATCH", vec!["^ACE"], None, false),
        ("activeEmploymentsCount", "Greater_Than", vec!["0"], Some(Value::Number(1.0)), true),
        ("activeEmploymentsCount", "Greater_Than", vec!["1"], Some(Value::Number(1.0)), false),
        ("activeEmploymentsCount", "Greater_Than", vec!["0"], Some(s("7")), true),
        ("activeEmploymentsCount", "Greater_Than", vec!["0"], Some(s("seven")), false),
        (
            "activeEmploymentsCount",
            "Greater_Than_OR_EQUALS",
            vec!["1"],
            Some(Value::Number(1.0)),
            true,
        ),
        (
            "activeEmploymentsCount",
            "greater_than_or_equals",
            vec!["2"],
            Some(Value::Number(1.0)),
            false,
        ),
        ("department", "Includes", vec!["Eng"], Some(s("Platform Engineering")), true),
        ("department", "Includes", vec!["eng"], Some(s("Platform Engineering")), false),
        ("custom01", "&", vec!["2"], Some(s("514")), true),
        ("custom01", "&", vec!["1"], Some(s("514")), false),
        ("custom01", "!&", vec!["1"], Some(s("514")), true),
        ("custom01", "!&", vec!["2"], Some(s("514")), false),
        ("custom01", "!&", vec!["2"], None, false),
        ("emailAddress", "ENDS_WITH", vec!["@example.com"], Some(s("a@example.com")), true),
        ("emailAddress", "ENDS_WITH", vec!["@example.com"], Some(s("a@example.org")), false),
    ];
    for (attribute, op, values, value, expected) in cases {
        let filter = one_clause(attribute, op, &values);
        let compiled = filter.compile(&schema).unwrap_or_else(|e| panic!("{op}: {e}"));
        let a = attrs(&value.iter().map(|v| (attribute, v.clone())).collect::<Vec<_>>());
        assert_eq!(compiled.is_in_scope(&a), expected, "{attribute} {op} {values:?} on {value:?}");
        assert_eq!(compiled.evaluate(&a).in_scope, expected, "{attribute} {op} traced");
    }
}

#[test]
fn every_operator_name_round_trips() {
    for op in ScopeOperator::ALL {
        assert_eq!(op.entra_name().parse::<ScopeOperator>().unwrap(), op);
        let json = serde_json::to_string(&op).unwrap();
        assert_eq!(serde_json::from_str::<ScopeOperator>(&json).unwrap(), op);
    }
    assert!("LESS_THAN".parse::<ScopeOperator>().is_err());
}

#[test]
fn groups_or_clauses_and_deciding_clause() {
    let schema = SourceSchema::builtin().unwrap();
    let filter: ScopingFilter = toml::from_str(
        r#"
        [[groups]]
        name = "German employees"
        clauses = [
          { attribute = "twoCharCountryCode", operator = "EQUALS", values = ["DE"] },
          { attribute = "employeeClass", operator = "EQUALS", values = ["EMP"] },
        ]
        [[groups]]
        name = "Contractors"
        clauses = [{ attribute = "isContingentWorker", operator = "IS TRUE" }]
        "#,
    )
    .unwrap();
    let scope = filter.compile(&schema).unwrap();

    let de_emp = attrs(&[("twoCharCountryCode", s("DE")), ("employeeClass", s("EMP"))]);
    let r = scope.evaluate(&de_emp);
    assert!(r.in_scope);
    assert_eq!(r.groups.len(), 1);
    assert_eq!(r.deciding_clauses().len(), 2);

    let fr_contractor =
        attrs(&[("twoCharCountryCode", s("FR")), ("isContingentWorker", Value::Bool(true))]);
    let r = scope.evaluate(&fr_contractor);
    assert!(r.in_scope);
    assert!(!r.groups[0].passed);
    assert_eq!(r.groups[1].name.as_deref(), Some("Contractors"));

    let de_intern = attrs(&[("twoCharCountryCode", s("DE")), ("employeeClass", s("INT"))]);
    let r = scope.evaluate(&de_intern);
    assert!(!r.in_scope);
    let deciding = r.deciding_clauses();
    assert_eq!(deciding.len(), 2, "one failing clause per group");
    assert_eq!(deciding[0].clause.attribute, "employeeClass");
    assert_eq!(deciding[0].actual.as_deref(), Some("INT"));
    assert_eq!(deciding[1].clause.attribute, "isContingentWorker");
    assert_eq!(deciding[1].actual, None);

    let empty = ScopingFilter::default().compile(&schema).unwrap();
    assert!(empty.is_in_scope(&attrs(&[])));
}

#[test]
fn compile_errors_name_group_and_clause() {
    let schema = SourceSchema::builtin().unwrap();
    let cases = [
        (one_clause("noSuchAttribute", "EQUALS", &["x"]), "unknown source attribute"),
        (one_clause("company", "REGEX MATCH", &["(unclosed"]), "bad regex"),
        (one_clause("activeEmploymentsCount", "Greater_Than", &["one"]), "not an integer"),
        (one_clause("company", "EQUALS", &[]), "a value is required"),
        (one_clause("company", "IS NULL", &["x"]), "takes no value"),
    ];
    for (filter, want) in cases {
        let err = filter.compile(&schema).unwrap_err();
        assert_eq!((err.group, err.clause), (1, 1));
        assert!(err.to_string().contains(want), "{err}");
    }
    let bad_op: Result<ScopingFilter, _> = toml::from_str(
        "[[groups]]\nclauses = [{ attribute = \"a\", operator = \"LIKE\", values = [\"x\"] }]",
    );
    assert!(bad_op.unwrap_err().to_string().contains("unknown scoping operator `LIKE`"));
}
