//! The built-in SuccessFactors-to-OpenLDAP mapping: it loads, checks, and
//! its expressions give the expected values for awkward names and for
//! workers with and without a company or department.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashSet};

use hrsync_expr::{EvalContext, FixedClock, Outcome, SplitMix64, Uniqueness, Value};
use hrsync_mapping::{Apply, CompiledMapping, MappingConfig, Phase, SourceSchema};

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

fn compiled() -> CompiledMapping {
    let config = MappingConfig::sf_to_openldap().expect("shipped mapping parses");
    let schema = SourceSchema::builtin().expect("builtin schema");
    CompiledMapping::compile(&config.mappings, &schema).expect("shipped mapping checks")
}

fn record(pairs: &[(&str, &str)]) -> BTreeMap<String, Value> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), Value::String((*v).to_owned()))).collect()
}

/// Create-phase values as text (`None` for null).
fn evaluate(
    mapping: &CompiledMapping,
    rec: &BTreeMap<String, Value>,
    taken: &[&str],
) -> BTreeMap<String, Option<String>> {
    let clock = FixedClock(jiff::Timestamp::UNIX_EPOCH);
    let mut random = SplitMix64(7);
    let uniq = Taken {
        taken: taken.iter().map(|s| (*s).to_owned()).collect(),
        asked: RefCell::new(Vec::new()),
    };
    let mut ctx = EvalContext::new(&clock, &mut random, Some(&uniq));
    mapping
        .evaluate(rec, &mut ctx, Phase::Create)
        .into_iter()
        .map(|v| {
            let text = match v.outcome {
                Ok(Outcome::Value(Value::Null)) => None,
                Ok(Outcome::Value(x)) => x.as_str_lossy().map(|s| s.into_owned()),
                other => panic!("{}: {other:?}", v.target),
            };
            (v.target.to_owned(), text)
        })
        .collect()
}

#[test]
fn shape_matching_and_on_create() {
    let mapping = compiled();
    let matching: Vec<&str> = mapping.matching().iter().map(|m| m.config.target.as_str()).collect();
    assert_eq!(matching, ["employeeNumber"]);
    let on_create: Vec<&str> = mapping
        .mappings()
        .iter()
        .filter(|m| m.config.apply == Apply::OnCreate)
        .map(|m| m.config.target.as_str())
        .collect();
    assert_eq!(on_create, ["uid", "cn"]);
    let targets: HashSet<&str> =
        mapping.mappings().iter().map(|m| m.config.target.as_str()).collect();
    for t in [
        "cn",
        "sn",
        "givenName",
        "displayName",
        "mail",
        "employeeNumber",
        "title",
        "departmentNumber",
        "ou",
        "telephoneNumber",
        "manager",
        "parentDistinguishedName",
        "accountDisabled",
        "uid",
    ] {
        assert!(targets.contains(t), "{t} is mapped");
    }
}

#[test]
fn values_for_awkward_names_and_placement() {
    let mapping = compiled();
    let base = [("personIdExternal", "100042"), ("activeEmploymentsCount", "1")];
    // (case, extra source attributes, taken candidates, expected target values)
    type Case<'a> =
        (&'a str, Vec<(&'a str, &'a str)>, Vec<&'a str>, Vec<(&'a str, Option<&'a str>)>);
    let cases: Vec<Case<'_>> = vec![
        (
            "plain, placed by department and company",
            vec![
                ("firstName", "John"),
                ("lastName", "Smith"),
                ("companyId", "ACE_US"),
                ("departmentId", "D100"),
                ("managerPersonIdExternal", "100001"),
            ],
            vec![],
            vec![
                ("uid", Some("john.smith")),
                ("cn", Some("John Smith")),
                ("parentDistinguishedName", Some("ou=D100,ou=ACE_US,ou=people,dc=example,dc=org")),
                ("employeeNumber", Some("100042")),
                ("manager", Some("100001")),
                ("accountDisabled", Some("False")),
            ],
        ),
        (
            "namesake: second uid and cn candidates",
            vec![("firstName", "John"), ("lastName", "Smith"), ("companyId", "ACE_US")],
            vec!["john.smith", "John Smith"],
            vec![
                ("uid", Some("j.smith")),
                ("cn", Some("John Smith (100042)")),
                ("parentDistinguishedName", Some("ou=ACE_US,ou=people,dc=example,dc=org")),
            ],
        ),
        (
            "every name candidate taken",
            vec![("firstName", "John"), ("lastName", "Smith")],
            vec!["john.smith", "j.smith", "jo.smith"],
            vec![
                ("uid", Some("john.smith.100042")),
                ("parentDistinguishedName", Some("ou=people,dc=example,dc=org")),
            ],
        ),
        (
            "DN specials and diacritics",
            vec![("firstName", " #Zoë"), ("lastName", "O'Brien, Jr.+\"\\<>;")],
            vec![],
            vec![
                ("uid", Some("zoe.obrienjr")),
                ("cn", Some(" #Zoë O'Brien, Jr.+\"\\<>;")),
                ("sn", Some("O'Brien, Jr.+\"\\<>;")),
            ],
        ),
        (
            "no ASCII letter: uid from personIdExternal",
            vec![("firstName", "太郎"), ("lastName", "山田")],
            vec![],
            vec![("uid", Some("100042")), ("cn", Some("太郎 山田"))],
        ),
        (
            "rehired manager: the link is their personIdExternal, not their new userId",
            vec![
                ("firstName", "Ann"),
                ("lastName", "Lee"),
                ("managerId", "100001-R2"),
                ("managerPersonIdExternal", "100001"),
            ],
            vec![],
            vec![("manager", Some("100001"))],
        ),
        (
            "no employment: disabled, sn falls back",
            vec![("activeEmploymentsCount", "0"), ("firstName", "Ann")],
            vec![],
            vec![("accountDisabled", Some("True")), ("sn", Some("Ann"))],
        ),
    ];
    for (name, extra, taken, expected) in cases {
        let mut rec = record(&base);
        rec.extend(record(&extra));
        let got = evaluate(&mapping, &rec, &taken);
        for (target, want) in expected {
            let got = got.get(target).cloned().flatten();
            assert_eq!(got.as_deref(), want, "{name}: {target}");
        }
    }
}
