//! Hostile names through the built-in directory mappings (issue 13 item
//! 15): NUL, CR/LF, bidi controls, blank names, names of nothing but
//! characters AD refuses, and 50 MB names. Every value the built-in AD and
//! OpenLDAP mappings produce is a valid name for its attribute, or the
//! worker fails with an error that says why; no mapped value is ever larger
//! than [`MAX_VALUE_BYTES`].

use std::collections::BTreeMap;

use hrsync_expr::{EvalContext, FixedClock, Outcome, SplitMix64, Uniqueness, Value};
use hrsync_mapping::{CompiledMapping, MAX_VALUE_BYTES, MappingConfig, Phase, SourceSchema};
use proptest::prelude::*;

struct NoneTaken;
impl Uniqueness for NoneTaken {
    fn is_taken(&self, _: &str) -> Result<bool, String> {
        Ok(false)
    }
}

fn compiled(config: MappingConfig) -> CompiledMapping {
    let schema = SourceSchema::builtin().expect("builtin schema");
    CompiledMapping::compile(&config.mappings, &schema).expect("shipped mapping checks")
}

/// Create-phase outcomes: target => value text (`None` for null) or the
/// error's message.
fn evaluate(
    mapping: &CompiledMapping,
    pairs: &[(&str, &str)],
) -> BTreeMap<String, Result<Option<String>, String>> {
    let record: BTreeMap<String, Value> =
        pairs.iter().map(|(k, v)| ((*k).to_owned(), Value::String((*v).to_owned()))).collect();
    let clock = FixedClock(jiff::Timestamp::UNIX_EPOCH);
    let mut random = SplitMix64(7);
    let mut ctx = EvalContext::new(&clock, &mut random, Some(&NoneTaken));
    mapping
        .evaluate(&record, &mut ctx, Phase::Create)
        .into_iter()
        .map(|v| {
            let out = match v.outcome {
                Ok(Outcome::Value(Value::Null)) | Ok(Outcome::IgnoreFlow) => Ok(None),
                Ok(Outcome::Value(x)) => Ok(x.as_str_lossy().map(|s| s.into_owned())),
                Err(e) => Err(e.message),
            };
            (v.target.to_owned(), out)
        })
        .collect()
}

/// The characters the issue names (NUL, CR, LF, the bidi controls U+200E/F,
/// U+202A-202E, U+2066-2069), any other control character, and the other
/// invisible format characters (zero-width, BOM, soft hyphen, ...).
fn invisible(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{00AD}' | '\u{061C}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{206F}' | '\u{FEFF}')
}

/// Characters sAMAccountName may not hold (and the UPN's local part here).
const AD_REFUSED: &str = "\"/\\[]:;|=,+*?<>@";

/// Why `value` is not a valid logon name (sAMAccountName, `max` 20, or a
/// UPN local part, `max` 64), if it is not.
fn logon_name_problem(value: &str, max: usize) -> Option<String> {
    if value.is_empty() {
        return Some("empty".into());
    }
    if value.chars().count() > max {
        return Some(format!("{} characters", value.chars().count()));
    }
    if let Some(c) = value.chars().find(|c| invisible(*c) || c.is_whitespace()) {
        return Some(format!("holds {c:?}"));
    }
    if let Some(c) = value.chars().find(|c| AD_REFUSED.contains(*c)) {
        return Some(format!("holds {c:?}"));
    }
    if value.starts_with('.') || value.ends_with('.') || value.contains("..") {
        return Some("a dot at an end or two in a row".into());
    }
    None
}

/// Why a name shown to people is not valid, if it is not.
fn display_name_problem(value: &str, max: usize) -> Option<String> {
    if value.chars().count() > max {
        return Some(format!("{} characters", value.chars().count()));
    }
    if let Some(c) =
        value.chars().find(|c| c.is_control() || matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'))
    {
        return Some(format!("holds {c:?}"));
    }
    if !value.is_empty() && value.trim().is_empty() {
        return Some("only white space".into());
    }
    None
}

const EMPTY: &str = "every candidate value is empty";

/// Every problem with the AD mapping's values for one worker; `fails` is
/// whether the logon names may be refused with [`EMPTY`] (the worker's id
/// and names leave nothing usable).
fn ad_problems(
    values: &BTreeMap<String, Result<Option<String>, String>>,
    fails: bool,
) -> Vec<String> {
    let mut out = Vec::new();
    for (attribute, outcome) in values {
        let value = match outcome {
            Ok(Some(v)) => v,
            Ok(None) => continue,
            Err(e) if fails && e.contains(EMPTY) => continue,
            Err(e) => {
                out.push(format!("{attribute}: error {e}"));
                continue;
            }
        };
        if value.len() > MAX_VALUE_BYTES {
            out.push(format!("{attribute}: {} bytes", value.len()));
        }
        let problem = match attribute.as_str() {
            "sAMAccountName" => logon_name_problem(value, 20),
            "userPrincipalName" => match value.split_once('@') {
                Some((local, "contoso.com")) => logon_name_problem(local, 64),
                _ => Some("not local@contoso.com".into()),
            },
            "cn" if value.is_empty() => Some("empty".into()),
            "cn" | "givenName" | "sn" | "middleName" => display_name_problem(value, 64),
            "displayName" => display_name_problem(value, 256),
            _ => None,
        };
        if let Some(p) = problem {
            out.push(format!("{attribute} {value:?}: {p}"));
        }
    }
    for required in ["sAMAccountName", "userPrincipalName", "cn"] {
        match values.get(required) {
            Some(Ok(Some(_))) => {}
            Some(Err(e)) if fails && e.contains(EMPTY) => {}
            other => out.push(format!("{required}: no value ({other:?})")),
        }
    }
    out
}

const HOSTILE: &[(&str, &str, &str)] = &[
    ("NUL", "Jo\0hn", "Sm\0ith"),
    ("CR/LF", "John\r\n", "Smith\r\nX-Injected: 1"),
    ("bidi overrides", "\u{202E}nhoJ\u{202C}", "\u{2067}Smith\u{2069}\u{200E}"),
    ("blank", "", ""),
    ("white space only", " \t ", "\u{00A0}\u{3000}"),
    ("invisible only", "\u{200B}\u{FEFF}", "\u{200F}\0"),
    ("dots only", ".", "..."),
    ("refused characters only", "@@", "\"/\\[]:;|=,+*?<>"),
    ("dots around", ".John.", "..Smith.."),
    ("tab between", "Mary\tAnn", "de la Cruz"),
];

#[test]
fn hostile_names_give_valid_ad_names() {
    let mapping = compiled(MappingConfig::sf_to_ad().expect("shipped"));
    let mut failures = Vec::new();
    for (case, first, last) in HOSTILE {
        let pairs = [("firstName", *first), ("lastName", *last), ("personIdExternal", "100042")];
        let values = evaluate(&mapping, &pairs);
        let problems = ad_problems(&values, false);
        if !problems.is_empty() {
            failures.push(format!("{case}: {problems:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn names_with_nothing_usable_fall_back_to_the_person_id() {
    let mapping = compiled(MappingConfig::sf_to_ad().expect("shipped"));
    // cn keeps what people can read ("@ ..."), logon names do not.
    for (first, last, cn) in [
        ("", "", "(100042)"),
        ("\0", "\r\n", "(100042)"),
        ("\u{202E}", " ", "(100042)"),
        ("@", "...", "@ ..."),
    ] {
        let v = evaluate(
            &mapping,
            &[("firstName", first), ("lastName", last), ("personIdExternal", "100042")],
        );
        let got = |a: &str| v[a].clone().expect(a);
        assert_eq!(got("sAMAccountName").as_deref(), Some("100042"), "{first:?} {last:?}");
        assert_eq!(got("userPrincipalName").as_deref(), Some("100042@contoso.com"));
        assert_eq!(got("cn").as_deref(), Some(cn), "{first:?} {last:?}");
    }
    // The clean part of a name is kept, without a stray dot.
    let v = evaluate(
        &mapping,
        &[("firstName", "\u{200E}"), ("lastName", "Sm\0ith"), ("personIdExternal", "1")],
    );
    assert_eq!(v["sAMAccountName"], Ok(Some("Smith".into())));
    assert_eq!(v["userPrincipalName"], Ok(Some("Smith@contoso.com".into())));
}

/// No `.@contoso.com`, no made-up name: a worker whose names and id leave
/// nothing usable fails, saying so, for both logon names.
#[test]
fn a_worker_with_nothing_usable_fails_with_the_reason() {
    let mapping = compiled(MappingConfig::sf_to_ad().expect("shipped"));
    let v =
        evaluate(&mapping, &[("firstName", "."), ("lastName", "\0"), ("personIdExternal", "@/")]);
    for attribute in ["sAMAccountName", "userPrincipalName"] {
        let err = v[attribute].clone().expect_err(attribute);
        assert!(err.contains(EMPTY), "{attribute}: {err}");
    }
    let ldap = compiled(MappingConfig::sf_to_openldap().expect("shipped"));
    let v =
        evaluate(&ldap, &[("firstName", "太郎"), ("lastName", "\0"), ("personIdExternal", "@/")]);
    let err = v["uid"].clone().expect_err("uid");
    assert!(err.contains(EMPTY), "{err}");
}

/// A 50 MB name gives names within AD's lengths; a 50 MB value that no
/// built-in mapping cuts fails its attribute with the size, and no mapped
/// value is larger than the bound.
#[test]
fn fifty_megabyte_values_are_cut_or_refused() {
    let huge = "a".repeat(50 * 1024 * 1024);
    let mapping = compiled(MappingConfig::sf_to_ad().expect("shipped"));
    let v = evaluate(
        &mapping,
        &[
            ("firstName", &huge),
            ("lastName", "Smith"),
            ("personIdExternal", "100042"),
            ("jobTitle", &huge),
        ],
    );
    let title = v["title"].clone().expect_err("title is refused");
    assert_eq!(
        title,
        format!(
            "the value is {} bytes of UTF-8, more than the 65536 bytes a mapped value may have",
            huge.len()
        )
    );
    let mut v = v;
    v.remove("title");
    let problems = ad_problems(&v, false);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(v["sAMAccountName"].clone().unwrap().map(|s| s.len()), Some(20));
    let ldap = compiled(MappingConfig::sf_to_openldap().expect("shipped"));
    let v =
        evaluate(&ldap, &[("firstName", &huge), ("lastName", "Smith"), ("personIdExternal", "1")]);
    for (attribute, outcome) in &v {
        match outcome {
            Ok(value) => assert!(
                value.as_ref().is_none_or(|s| s.len() <= MAX_VALUE_BYTES),
                "{attribute}: {} bytes",
                value.as_ref().map_or(0, String::len)
            ),
            Err(e) => {
                assert!(e.contains("bytes of UTF-8, more than the 65536"), "{attribute}: {e}")
            }
        }
    }
    assert!(v["uid"].clone().is_ok_and(|u| u.is_some_and(|u| u.len() < 1024)), "{:?}", v["uid"]);
}

/// The same mapping's cut of a multi-byte value counts bytes, not characters.
#[test]
fn the_bound_counts_bytes_of_utf8() {
    let config = MappingConfig::from_toml(
        "[[mapping]]\ntarget = \"employeeID\"\nexpression = '[personIdExternal]'\nmatching = 1\n[[mapping]]\ntarget = \"title\"\nexpression = '[jobTitle]'",
    )
    .expect("mapping");
    let mapping = compiled(config);
    // 3 bytes each: 21,845 fit (65,535 bytes), 21,846 do not.
    let fits = "€".repeat(21_845);
    let over = "€".repeat(21_846);
    let v = evaluate(&mapping, &[("personIdExternal", "1"), ("jobTitle", &fits)]);
    assert_eq!(v["title"], Ok(Some(fits.clone())));
    let v = evaluate(&mapping, &[("personIdExternal", "1"), ("jobTitle", &over)]);
    assert!(v["title"].clone().is_err_and(|e| e.contains("65538 bytes")), "{:?}", v["title"]);
}

/// Names drawn from an alphabet of letters, diacritics, CJK, dots, spaces,
/// controls, bidi and format characters and every character AD refuses.
fn hostile_text() -> impl Strategy<Value = String> {
    let alphabet: Vec<char> = "aZé太.. \t\r\n\0\u{7F}\u{85}\u{200B}\u{200E}\u{200F}\u{202A}\u{202E}\u{2066}\u{2069}\u{FEFF}\u{00A0}\u{3000}-_'"
        .chars()
        .chain(AD_REFUSED.chars())
        .collect();
    proptest::collection::vec(proptest::sample::select(alphabet), 0..40)
        .prop_map(|chars| chars.into_iter().collect())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn any_names_give_valid_ad_names_or_fail_with_the_reason(
        first in hostile_text(),
        last in hostile_text(),
        id in prop_oneof![3 => "[0-9]{1,10}", 1 => hostile_text()],
    ) {
        let mapping = compiled(MappingConfig::sf_to_ad().expect("shipped"));
        let values = evaluate(&mapping, &[("firstName", &first), ("lastName", &last), ("personIdExternal", &id)]);
        // An id with a letter or digit always leaves a logon name.
        let fails = !id.chars().any(|c| c.is_ascii_alphanumeric());
        let problems = ad_problems(&values, fails);
        prop_assert!(problems.is_empty(), "{first:?} {last:?} {id:?}: {problems:?}");
    }
}
