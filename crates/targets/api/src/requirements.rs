//! What a target's schema demands of the attributes hrsync sends, checked
//! before anything is sent (pure; no I/O). A target that knows its schema
//! (a SCIM server's `/Schemas`, a Salesforce profile) lists
//! [`Requirement`]s; the engine checks every planned create and update
//! against them, so a worker whose values the target would refuse gets a
//! clear error naming the attribute and no request, and `hrsync plan` and
//! `hrsync check` report the problem before a sync runs.
//!
//! Attribute names are the mapping's target names (`entitlements`,
//! `name.familyName`, `emails[type eq "work"].value`,
//! `urn:...:alias`), compared ASCII-case-insensitively. A requirement on a
//! complex attribute (`name`) is met by a value of any of its
//! sub-attributes (`name.familyName`).

use serde_json::Value;

use crate::Attributes;

/// One demand of the target's schema on one attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    /// The attribute, named as a mapping names it.
    pub attribute: String,
    pub rule: Rule,
    /// Who demands it, in the admin's terms ("the SCIM server's schema
    /// urn:...:User", "Salesforce: every user needs a profile id").
    pub by: String,
}

/// What is demanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    /// A new account must have a value; an update may not remove it.
    Required,
    /// Text values are at most this many characters.
    MaxLength(usize),
    /// Every value is one of these (exactly: ids are case-exact).
    OneOf(Vec<String>),
    /// Every character of every text value is an ASCII letter, an ASCII
    /// digit or one of these characters (`AllowedChars("'.-_@".into())`).
    AllowedChars(String),
    /// No text value contains any of these characters, nor a control
    /// character.
    ForbiddenChars(String),
    /// Every character of every text value is ASCII (U+0000..=U+007F).
    Ascii,
    /// No text value contains this text (`Excludes(".@".into())`).
    Excludes(String),
    /// Every text value is an address `local@domain`: exactly one `@`, a
    /// non-empty part on each side, a local part of at most `local_max`
    /// characters and a domain of at most `domain_max`.
    Address { local_max: usize, domain_max: usize },
    /// The text after the last `@` of every text value is one of these,
    /// compared case-insensitively (domain names); a value without `@`
    /// has no domain and violates it.
    DomainOneOf(Vec<String>),
    /// The target refuses writes to the attribute: any planned value on a
    /// create, and any change (removal included) on an update, violates it.
    ReadOnly,
}

/// A planned value the target would refuse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub attribute: String,
    /// The cause, naming the rule and who demands it.
    pub cause: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.attribute, self.cause)
    }
}

/// Whether the mapping target `name` writes (part of) `attribute`.
pub fn covers(name: &str, attribute: &str) -> bool {
    let (n, a) = (name.as_bytes(), attribute.as_bytes());
    n.len() >= a.len()
        && n[..a.len()].eq_ignore_ascii_case(a)
        && matches!(n.get(a.len()), None | Some(b'.') | Some(b'['))
}

/// The required attributes no mapping target writes.
pub fn unmapped<'a>(requirements: &'a [Requirement], targets: &[&str]) -> Vec<&'a Requirement> {
    requirements
        .iter()
        .filter(|r| r.rule == Rule::Required && !targets.iter().any(|t| covers(t, &r.attribute)))
        .collect()
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        Value::Array(a) => a.iter().all(is_empty),
        Value::Object(o) => o.values().all(is_empty),
        _ => false,
    }
}

/// The text values of `v`: a string, the strings of an array, or the
/// `value` of complex elements (`[{"value": "00e..."}]`).
fn texts(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Number(n) => vec![n.to_string()],
        Value::Array(a) => a.iter().flat_map(texts).collect(),
        Value::Object(o) => o.get("value").map(texts).unwrap_or_default(),
        _ => Vec::new(),
    }
}

/// `chars` for a message: each character quoted, spaces named.
fn listed(chars: &str) -> String {
    let shown: Vec<String> =
        chars.chars().map(|c| if c == ' ' { "space".to_owned() } else { format!("{c}") }).collect();
    if shown.is_empty() { "nothing else".to_owned() } else { shown.join(" ") }
}

/// What the target would refuse of `values` (the attributes of a new
/// account when `creating`, else the changed attributes of an update).
pub fn violations(
    requirements: &[Requirement],
    values: &Attributes,
    creating: bool,
) -> Vec<Violation> {
    let mut out = Vec::new();
    for r in requirements {
        let given: Vec<(&String, &Value)> =
            values.iter().filter(|(k, _)| covers(k, &r.attribute)).collect();
        let cause = match &r.rule {
            Rule::Required => {
                let has_value = given.iter().any(|(_, v)| !is_empty(v));
                let removed = !given.is_empty() && !has_value;
                if (creating && !has_value) || (!creating && removed) {
                    Some(format!(
                        "required by {}, but the mapping gives no value; nothing was sent",
                        r.by
                    ))
                } else {
                    None
                }
            }
            Rule::MaxLength(max) => given.iter().flat_map(|(_, v)| texts(v)).find_map(|t| {
                let n = t.chars().count();
                (n > *max).then(|| {
                    format!("{n} characters, {} allows at most {max}; nothing was sent", r.by)
                })
            }),
            Rule::OneOf(allowed) => {
                given.iter().flat_map(|(_, v)| texts(v)).find(|t| !allowed.contains(t)).map(|t| {
                    let shown: Vec<&str> = allowed.iter().map(String::as_str).take(10).collect();
                    format!(
                        "{t:?} is not one of the values {} offers ({}{}); nothing was sent",
                        r.by,
                        shown.join(", "),
                        if allowed.len() > 10 { ", ..." } else { "" }
                    )
                })
            }
            Rule::AllowedChars(extra) => {
                given.iter().flat_map(|(_, v)| texts(v)).find_map(|t| {
                    let bad = t.chars().find(|c| !c.is_ascii_alphanumeric() && !extra.contains(*c))?;
                    Some(format!(
                        "{t:?} contains {bad:?}; {} allows only ASCII letters, digits and {}; nothing was sent",
                        r.by,
                        listed(extra)
                    ))
                })
            }
            Rule::ForbiddenChars(banned) => {
                given.iter().flat_map(|(_, v)| texts(v)).find_map(|t| {
                    let bad = t.chars().find(|c| c.is_control() || banned.contains(*c))?;
                    Some(format!(
                        "{t:?} contains {bad:?}; {} forbids {} and control characters; nothing was sent",
                        r.by,
                        listed(banned)
                    ))
                })
            }
            Rule::Ascii => given.iter().flat_map(|(_, v)| texts(v)).find_map(|t| {
                let bad = t.chars().find(|c| !c.is_ascii())?;
                Some(format!(
                    "{t:?} contains {bad:?}; {} allows only ASCII characters; nothing was sent",
                    r.by
                ))
            }),
            Rule::Excludes(text) => {
                given.iter().flat_map(|(_, v)| texts(v)).find(|t| t.contains(text.as_str())).map(
                    |t| format!("{t:?} contains {text:?}, which {} forbids; nothing was sent", r.by),
                )
            }
            Rule::Address { local_max, domain_max } => {
                given.iter().flat_map(|(_, v)| texts(v)).find_map(|t| {
                    let problem = match t.split_once('@') {
                        None => "has no @".to_owned(),
                        Some((_, rest)) if rest.contains('@') => "has more than one @".to_owned(),
                        Some(("", _)) => "has nothing before the @".to_owned(),
                        Some((_, "")) => "has nothing after the @".to_owned(),
                        Some((local, _)) if local.chars().count() > *local_max => format!(
                            "has {} characters before the @",
                            local.chars().count()
                        ),
                        Some((_, domain)) if domain.chars().count() > *domain_max => format!(
                            "has {} characters after the @",
                            domain.chars().count()
                        ),
                        Some(_) => return None,
                    };
                    Some(format!(
                        "{t:?} {problem}; {} demands local@domain with at most {local_max} characters before the @ and {domain_max} after it; nothing was sent",
                        r.by
                    ))
                })
            }
            Rule::DomainOneOf(domains) => {
                given.iter().flat_map(|(_, v)| texts(v)).find_map(|t| {
                    let domain = t.rsplit_once('@').map(|(_, d)| d);
                    if domain.is_some_and(|d| domains.iter().any(|x| x.eq_ignore_ascii_case(d))) {
                        return None;
                    }
                    let shown: Vec<&str> = domains.iter().map(String::as_str).take(10).collect();
                    Some(format!(
                        "{t:?} {}; {} accepts only the domains {}{}; nothing was sent",
                        match domain {
                            Some(d) => format!("is in the domain {d:?}"),
                            None => "has no domain (no @)".to_owned(),
                        },
                        r.by,
                        shown.join(", "),
                        if domains.len() > 10 { ", ..." } else { "" }
                    ))
                })
            }
            Rule::ReadOnly => {
                let writes = if creating {
                    given.iter().any(|(_, v)| !is_empty(v))
                } else {
                    !given.is_empty()
                };
                writes.then(|| {
                    format!(
                        "read-only for hrsync: {} refuses writes to it, but the mapping gives a value; nothing was sent",
                        r.by
                    )
                })
            }
        };
        if let Some(cause) = cause {
            out.push(Violation { attribute: r.attribute.clone(), cause });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn req(attribute: &str, rule: Rule) -> Requirement {
        Requirement { attribute: attribute.into(), rule, by: "the test schema".into() }
    }

    fn attrs(pairs: &[(&str, Value)]) -> Attributes {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect()
    }

    #[test]
    fn a_complex_requirement_is_met_by_a_sub_attribute() {
        assert!(covers("name.familyName", "name"));
        assert!(covers("emails[type eq \"work\"].value", "emails"));
        assert!(covers("Entitlements", "entitlements"));
        assert!(!covers("nameSuffix", "name"));
        assert!(!covers("name", "name.familyName"));
    }

    #[test]
    fn a_required_attribute_must_have_a_value_on_create_and_stay_on_update() {
        let r = [req("entitlements", Rule::Required)];
        assert_eq!(violations(&r, &attrs(&[("userName", json!("a"))]), true).len(), 1);
        assert_eq!(violations(&r, &attrs(&[("entitlements", json!(""))]), true).len(), 1);
        assert_eq!(violations(&r, &attrs(&[("entitlements", json!([]))]), true).len(), 1);
        assert!(violations(&r, &attrs(&[("entitlements", json!("00e1"))]), true).is_empty());
        // An update that does not touch it is fine; one that removes it is not.
        assert!(violations(&r, &attrs(&[("title", json!("x"))]), false).is_empty());
        assert_eq!(violations(&r, &attrs(&[("entitlements", Value::Null)]), false).len(), 1);
        assert_eq!(unmapped(&r, &["userName", "title"]).len(), 1);
        assert!(unmapped(&r, &["entitlements"]).is_empty());
    }

    #[test]
    fn offered_values_and_lengths_are_checked() {
        let r = [
            req("entitlements", Rule::OneOf(vec!["00eA".into(), "00eB".into()])),
            req("alias", Rule::MaxLength(8)),
        ];
        let v = violations(
            &r,
            &attrs(&[("entitlements", json!([{"value": "00eC"}])), ("alias", json!("abcdefghi"))]),
            true,
        );
        assert_eq!(v.len(), 2, "{v:?}");
        assert!(v[0].cause.contains("\"00eC\"") && v[0].cause.contains("00eA, 00eB"), "{v:?}");
        assert!(v[1].cause.contains("9 characters") && v[1].cause.contains("at most 8"), "{v:?}");
        let ok = attrs(&[("entitlements", json!("00eB")), ("alias", json!("abcdéfgh"))]);
        assert!(violations(&r, &ok, true).is_empty());
    }

    #[test]
    fn characters_are_checked_against_the_allowed_and_forbidden_sets() {
        let r = [
            req("userPrincipalName", Rule::AllowedChars("'.-_!#^~@".into())),
            req("mailNickname", Rule::ForbiddenChars("@()\\[]\";:<>, ".into())),
        ];
        let ok = attrs(&[
            ("userPrincipalName", json!("o'brien.j-x_y!#^~@example.com")),
            ("mailNickname", json!("obrien.j")),
        ]);
        assert!(violations(&r, &ok, true).is_empty());
        let v = violations(
            &r,
            &attrs(&[
                ("userPrincipalName", json!("jürgen@example.com")),
                ("mailNickname", json!("a b")),
            ]),
            true,
        );
        assert_eq!(v.len(), 2, "{v:?}");
        assert!(v[0].cause.contains("'ü'") && v[0].cause.contains("the test schema"), "{v:?}");
        assert!(v[1].cause.contains("' '") && v[1].cause.contains("space"), "{v:?}");
        let tab = attrs(&[("mailNickname", json!("a\tb"))]);
        assert_eq!(violations(&r, &tab, false).len(), 1);
    }

    #[test]
    fn addresses_need_one_at_and_a_short_local_part() {
        let r = [req("upn", Rule::Address { local_max: 4, domain_max: 6 })];
        let check = |s: &str| violations(&r, &attrs(&[("upn", json!(s))]), true);
        assert!(check("abcd@xy.org").is_empty());
        for (bad, why) in [
            ("abcd", "no @"),
            ("a@b@x.org", "more than one @"),
            ("@x.org", "nothing before"),
            ("abc@", "nothing after"),
            ("abcde@x.org", "5 characters before"),
            ("a@xyz.org", "7 characters after"),
        ] {
            let v = check(bad);
            assert!(v.len() == 1 && v[0].cause.contains(why), "{bad}: {v:?}");
        }
    }

    #[test]
    fn the_domain_is_the_text_after_the_last_at_any_case() {
        let r = [req("upn", Rule::DomainOneOf(vec!["Contoso.com".into(), "fabrikam.io".into()]))];
        let check = |s: &str| violations(&r, &attrs(&[("upn", json!(s))]), true);
        assert!(check("a@contoso.COM").is_empty());
        assert!(check("a@FABRIKAM.io").is_empty());
        let v = check("a@contoso.com.evil.org");
        assert!(v.len() == 1 && v[0].cause.contains("\"contoso.com.evil.org\""), "{v:?}");
        assert!(v[0].cause.contains("Contoso.com, fabrikam.io"), "{v:?}");
        assert!(check("contoso.com")[0].cause.contains("no domain"));
        assert_eq!(check("a@sub.contoso.com").len(), 1);
    }

    #[test]
    fn ascii_refuses_any_other_character() {
        let r = [req("alias", Rule::Ascii)];
        let check = |s: &str| violations(&r, &attrs(&[("alias", json!(s))]), true);
        assert!(check("o'brien-1~").is_empty());
        let v = check("zoë");
        assert!(
            v.len() == 1 && v[0].cause.contains("'ë'") && v[0].cause.contains("ASCII"),
            "{v:?}"
        );
    }

    #[test]
    fn excluded_text_is_found_anywhere() {
        let r = [req("upn", Rule::Excludes(".@".into()))];
        let check = |s: &str| violations(&r, &attrs(&[("upn", json!(s))]), true);
        assert!(check("a.b@x.org").is_empty());
        let v = check("ab.@x.org");
        assert!(
            v.len() == 1 && v[0].cause.contains("\".@\"") && v[0].cause.contains("the test schema")
        );
    }

    #[test]
    fn a_read_only_attribute_refuses_any_planned_value() {
        let r = [req("createdDateTime", Rule::ReadOnly)];
        assert!(violations(&r, &attrs(&[("displayName", json!("x"))]), true).is_empty());
        assert!(violations(&r, &attrs(&[("createdDateTime", Value::Null)]), true).is_empty());
        let v = violations(&r, &attrs(&[("createdDateTime", json!("2020-01-01"))]), true);
        assert!(
            v.len() == 1
                && v[0].cause.contains("read-only")
                && v[0].cause.contains("the test schema")
        );
        assert_eq!(violations(&r, &attrs(&[("createdDateTime", Value::Null)]), false).len(), 1);
        // Read-only is not required: the unmapped check ignores it.
        assert!(unmapped(&r, &[]).is_empty());
    }

    proptest! {
        /// ASCII letters and digits always pass an allowed set; any other
        /// character passes exactly when it is listed.
        #[test]
        fn allowed_chars_admits_exactly_alnum_and_the_set(s in "\\PC{0,20}", extra in "[-'._!#^~@ ]{0,5}") {
            let r = [req("a", Rule::AllowedChars(extra.clone()))];
            let v = violations(&r, &attrs(&[("a", json!(s))]), true);
            let fine = s.chars().all(|c| c.is_ascii_alphanumeric() || extra.contains(c));
            prop_assert_eq!(v.is_empty(), fine);
        }

        /// An address built from a non-empty local part without @ and a
        /// listed domain passes both address rules; the local part's length
        /// decides the limit.
        #[test]
        fn built_addresses_pass_within_the_limit(local in "[a-z0-9.]{1,12}", max in 1usize..12, upper in any::<bool>()) {
            let domain = if upper { "EXAMPLE.org" } else { "example.org" };
            let r = [
                req("upn", Rule::Address { local_max: max, domain_max: 11 }),
                req("upn", Rule::DomainOneOf(vec!["example.org".into()])),
            ];
            let v = violations(&r, &attrs(&[("upn", json!(format!("{local}@{domain}")))]), true);
            prop_assert_eq!(v.is_empty(), local.chars().count() <= max, "{:?}", v);
        }

        /// A value with a forbidden character always violates.
        #[test]
        fn a_forbidden_character_anywhere_violates(pre in "[a-z]{0,5}", post in "[a-z]{0,5}", c in prop::sample::select(vec!['@', '(', ' ', ';'])) {
            let r = [req("a", Rule::ForbiddenChars("@( ;".into()))];
            let v = violations(&r, &attrs(&[("a", json!(format!("{pre}{c}{post}")))]), true);
            prop_assert_eq!(v.len(), 1);
            let clean = violations(&r, &attrs(&[("a", json!(format!("{pre}{post}")))]), true);
            prop_assert!(clean.is_empty());
        }

        /// A value within the limit never violates it, one beyond always does.
        #[test]
        fn max_length_counts_characters(s in "\\PC{0,20}", max in 0usize..20) {
            let r = [req("alias", Rule::MaxLength(max))];
            let v = violations(&r, &attrs(&[("alias", json!(s))]), true);
            prop_assert_eq!(v.is_empty(), s.chars().count() <= max);
        }
    }
}
