//! The built-in SuccessFactors-to-Microsoft-Entra-ID mapping
//! (`builtin:sf-to-entra`): it loads and checks, and over the
//! SuccessFactors-wire-shaped fixtures gives Graph user properties of the
//! right types (accountEnabled a boolean, businessPhones a list, dates in
//! RFC 3339) and sign-in names Graph accepts.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashSet};

use crate::common::fixture;
use hrsync_expr::{Attributes, EvalContext, FixedClock, Outcome, SplitMix64, Uniqueness, Value};
use hrsync_mapping::{Apply, CompiledMapping, CompiledSource, MappingConfig, Phase, SourceSchema};

/// Candidates listed here are taken; every asked candidate is recorded.
struct Taken {
    taken: HashSet<String>,
    asked: RefCell<Vec<String>>,
}

impl Uniqueness for Taken {
    fn is_taken(&self, candidate: &str) -> Result<bool, String> {
        self.asked.borrow_mut().push(candidate.to_owned());
        Ok(self.taken.contains(candidate))
    }
}

fn compiled() -> (CompiledSource, CompiledMapping) {
    let config = MappingConfig::sf_to_entra().expect("shipped mapping parses");
    let schema = SourceSchema::builtin().expect("builtin schema");
    let mapping = CompiledMapping::compile(&config.mappings, &schema).unwrap_or_else(|errors| {
        panic!("{}", errors.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"))
    });
    let source = schema.compile(mapping.referenced_attributes()).expect("source compiles");
    (source, mapping)
}

/// Create-phase values (typed), failing on any evaluation error.
fn evaluate(
    mapping: &CompiledMapping,
    record: &dyn Attributes,
    taken: &[&str],
) -> BTreeMap<String, Value> {
    let clock = FixedClock(jiff::Timestamp::UNIX_EPOCH);
    let mut random = SplitMix64(7);
    let uniq = Taken {
        taken: taken.iter().map(|s| (*s).to_owned()).collect(),
        asked: RefCell::new(Vec::new()),
    };
    let mut ctx = EvalContext::new(&clock, &mut random, Some(&uniq));
    mapping
        .evaluate(record, &mut ctx, Phase::Create)
        .into_iter()
        .map(|v| match v.outcome {
            Ok(Outcome::Value(x)) => (v.target.to_owned(), x),
            Ok(Outcome::IgnoreFlow) => (v.target.to_owned(), Value::Null),
            Err(e) => panic!("{}: {e}", v.target),
        })
        .collect()
}

fn of_fixture(name: &str) -> BTreeMap<String, Value> {
    let (source, mapping) = compiled();
    evaluate(&mapping, &source.extract(&fixture(name)), &[])
}

fn s(v: &str) -> Value {
    Value::String(v.to_owned())
}

/// A record of plain text source values, for the name cases.
fn record(pairs: &[(&str, &str)]) -> BTreeMap<String, Value> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), Value::String((*v).to_owned()))).collect()
}

#[test]
fn shape_matching_on_create_and_graph_property_names() {
    let (_, mapping) = compiled();
    let matching: Vec<&str> = mapping.matching().iter().map(|m| m.config.target.as_str()).collect();
    assert_eq!(matching, ["employeeId"]);
    let on_create: Vec<&str> = mapping
        .mappings()
        .iter()
        .filter(|m| m.config.apply == Apply::OnCreate)
        .map(|m| m.config.target.as_str())
        .collect();
    assert_eq!(on_create, ["userPrincipalName", "mailNickname"]);
    let required: Vec<&str> = mapping
        .mappings()
        .iter()
        .filter(|m| m.config.required)
        .map(|m| m.config.target.as_str())
        .collect();
    assert_eq!(required, ["userPrincipalName", "mailNickname", "displayName"]);
    let targets: HashSet<&str> =
        mapping.mappings().iter().map(|m| m.config.target.as_str()).collect();
    for t in [
        "accountEnabled",
        "displayName",
        "givenName",
        "surname",
        "mailNickname",
        "userPrincipalName",
        "employeeId",
        "employeeHireDate",
        "employeeLeaveDateTime",
        "employeeType",
        "employeeOrgData.costCenter",
        "employeeOrgData.division",
        "jobTitle",
        "department",
        "companyName",
        "officeLocation",
        "usageLocation",
        "city",
        "country",
        "mobilePhone",
        "businessPhones",
        "manager",
        "onPremisesExtensionAttributes.extensionAttribute1",
    ] {
        assert!(targets.contains(t), "{t} is mapped");
    }
    // Active Directory names have no place in a Graph mapping.
    for t in ["accountDisabled", "sn", "title", "company", "employeeID", "mobile", "l", "c"] {
        assert!(!targets.contains(t), "{t} is an AD name, not a Graph property");
    }
}

#[test]
fn standard_worker() {
    let t = of_fixture("standard_worker");
    let expect = [
        ("employeeId", s("103208")),
        ("accountEnabled", Value::Bool(true)),
        ("userPrincipalName", s("Ana.Muller@contoso.com")),
        ("mailNickname", s("Ana.Muller")),
        ("displayName", s("Ana Müller")),
        ("givenName", s("Ana")),
        ("surname", s("Müller")),
        ("employeeHireDate", s("2023-01-01T00:00:00Z")),
        ("employeeLeaveDateTime", s("")),
        ("employeeType", s("EMP")),
        ("employeeOrgData.costCenter", s("CC-4711")),
        ("employeeOrgData.division", s("Research & Development")),
        ("jobTitle", s("Engineer")),
        ("department", s("IT")),
        ("manager", s("100057")),
        ("officeLocation", s("Berlin HQ")),
        ("usageLocation", s("DE")),
        ("streetAddress", s("Friedrichstrasse 100")),
        ("city", s("Berlin")),
        ("state", s("BE")),
        ("postalCode", s("10117")),
        ("country", s("Germany")),
        ("preferredLanguage", s("de-DE")),
        ("mobilePhone", s("+49 170 5550101")),
        ("businessPhones", Value::Array(vec![s("+49 30 5550101")])),
        ("onPremisesExtensionAttributes.extensionAttribute1", s("103208")),
        ("onPremisesExtensionAttributes.extensionAttribute2", s("A")),
        ("onPremisesExtensionAttributes.extensionAttribute3", s("Software Engineer")),
    ];
    for (name, want) in expect {
        assert_eq!(t.get(name), Some(&want), "target {name}");
    }
    assert!(matches!(t.get("companyName"), Some(Value::String(c)) if !c.is_empty()), "{t:?}");
}

#[test]
fn terminated_worker_is_disabled_with_a_leave_date() {
    let t = of_fixture("terminated");
    assert_eq!(t["employeeId"], s("108005"));
    assert_eq!(t["accountEnabled"], Value::Bool(false));
    // latestTerminationDate 2025-01-01: the end of that day, UTC.
    assert_eq!(t["employeeLeaveDateTime"], s("2025-01-01T23:59:59Z"));
    assert_eq!(t["userPrincipalName"], s("Farid.Haddad@contoso.com"));
}

#[test]
fn rehired_worker_is_enabled_and_has_no_leave_date() {
    // An old latestTerminationDate (2022) with an active employment again.
    let t = of_fixture("rehire");
    assert_eq!(t["employeeId"], s("104001"));
    assert_eq!(t["accountEnabled"], Value::Bool(true));
    // Empty, not null: a null would not flow and the old date would stay.
    assert_eq!(t["employeeLeaveDateTime"], s(""));
}

#[test]
fn sign_in_names_graph_accepts() {
    let (_, mapping) = compiled();
    let base = [("personIdExternal", "100042"), ("activeEmploymentsCount", "1")];
    // (first, last, taken, UPN, mailNickname)
    let cases: [(&str, &str, &[&str], &str, &str); 6] = [
        ("John", "Smith", &[], "John.Smith@contoso.com", "John.Smith"),
        (
            "John",
            "Smith",
            &["John.Smith@contoso.com", "John.Smith"],
            "J.Smith@contoso.com",
            "J.Smith",
        ),
        ("Zoë", "O'Brien, Jr.", &[], "Zoe.O'BrienJr@contoso.com", "Zoe.O'BrienJr"),
        ("Jo\"hn (x)", "Sm ith@;:<>[]", &[], "Johnx.Smith@contoso.com", "Johnx.Smith"),
        // Nothing of the names survives: the id is the name.
        ("李", "小龙", &[], "100042@contoso.com", "100042"),
        ("...", "Smith..", &[], "Smith@contoso.com", "Smith"),
    ];
    for (first, last, taken, upn, nick) in cases {
        let mut pairs = base.to_vec();
        pairs.extend([("firstName", first), ("lastName", last)]);
        let t = evaluate(&mapping, &record(&pairs), taken);
        assert_eq!(t["userPrincipalName"], s(upn), "{first} {last}");
        assert_eq!(t["mailNickname"], s(nick), "{first} {last}");
        let Value::String(u) = &t["userPrincipalName"] else { panic!("{t:?}") };
        let (alias, _) = u.rsplit_once('@').expect("an @");
        assert!(alias.chars().all(|c| c.is_ascii_alphanumeric() || "'.-_!#^~".contains(c)), "{u}");
    }
}

#[test]
fn no_phone_no_business_phones_and_long_names_fit() {
    let (_, mapping) = compiled();
    let long = "Wolfeschlegelsteinhausenbergerdorffwelchevoralternwarengewissenhaftschaferswessenschafewarenwohlgepflege";
    let t = evaluate(
        &mapping,
        &record(&[
            ("personIdExternal", "100042"),
            ("firstName", "Ana"),
            ("lastName", long),
            ("activeEmploymentsCount", "1"),
        ]),
        &[],
    );
    assert_eq!(t["businessPhones"], Value::Null);
    assert_eq!(t["mobilePhone"], Value::Null);
    let Value::String(surname) = &t["surname"] else { panic!("{t:?}") };
    assert_eq!(surname.chars().count(), 64);
    let Value::String(upn) = &t["userPrincipalName"] else { panic!("{t:?}") };
    let (alias, domain) = upn.rsplit_once('@').expect("an @");
    assert_eq!((alias.chars().count(), domain), (64, "contoso.com"));
    assert!(!alias.ends_with('.'));
}
