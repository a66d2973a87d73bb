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

    proptest! {
        /// A value within the limit never violates it, one beyond always does.
        #[test]
        fn max_length_counts_characters(s in "\\PC{0,20}", max in 0usize..20) {
            let r = [req("alias", Rule::MaxLength(max))];
            let v = violations(&r, &attrs(&[("alias", json!(s))]), true);
            prop_assert_eq!(v.is_empty(), s.chars().count() <= max);
        }
    }
}
