//! The default SF-to-AD mapping produces values Active Directory accepts:
//! names within AD's 64-character limits, no `"` in sAMAccountName, and a
//! second cn candidate when a namesake already has the first.

use std::collections::HashMap;

use hrsync_expr::{EvalContext, FixedClock, Outcome, SplitMix64, Uniqueness, Value};
use hrsync_mapping::MappingConfig;

struct Taken(&'static [&'static str]);

impl Uniqueness for Taken {
    fn is_taken(&self, candidate: &str) -> Result<bool, String> {
        Ok(self.0.iter().any(|t| t.eq_ignore_ascii_case(candidate)))
    }
}

fn eval(target: &str, attrs: &[(&str, &str)], taken: &'static [&'static str]) -> String {
    let config = MappingConfig::sf_to_ad().expect("default mapping");
    let m = config.mappings.iter().find(|m| m.target == target).expect("mapped");
    let expr = hrsync_expr::parse(m.expression.as_deref().expect("expression")).expect("parses");
    let values: HashMap<String, Value> =
        attrs.iter().map(|(k, v)| ((*k).to_owned(), Value::from(*v))).collect();
    let clock = FixedClock(jiff::Timestamp::UNIX_EPOCH);
    let mut random = SplitMix64(1);
    let uniq = Taken(taken);
    let mut ctx = EvalContext::new(&clock, &mut random, Some(&uniq));
    match hrsync_expr::eval(&expr, &values, &mut ctx).expect("evaluates") {
        Outcome::Value(v) => v.as_str_lossy().map(|s| s.into_owned()).unwrap_or_default(),
        Outcome::IgnoreFlow => String::new(),
    }
}

#[test]
fn names_fit_active_directory() {
    let long = "Wolfeschlegelsteinhausenbergerdorffwelchevoralternwarengewissenhaftschaferswessenschafewarenwohlgepflege";
    assert_eq!(eval("sn", &[("lastName", long)], &[]).chars().count(), 64);
    assert_eq!(eval("givenName", &[("firstName", long)], &[]).chars().count(), 64);
    let cn = eval(
        "cn",
        &[("firstName", "Ana"), ("lastName", long), ("personIdExternal", "100042")],
        &[],
    );
    assert_eq!(cn.chars().count(), 64, "{cn}");
}

#[test]
fn a_namesake_gets_the_second_cn_candidate() {
    let attrs = [("firstName", "John"), ("lastName", "Smith"), ("personIdExternal", "100042")];
    assert_eq!(eval("cn", &attrs, &[]), "John Smith");
    assert_eq!(eval("cn", &attrs, &["John Smith"]), "John Smith (100042)");
}

#[test]
fn sam_account_name_drops_characters_ad_refuses_including_quotes() {
    let sam = eval("sAMAccountName", &[("firstName", "Jo\"hn"), ("lastName", "O'Neil, Jr.")], &[]);
    assert_eq!(sam, "John.O'NeilJr", "{sam}");
    assert!(sam.chars().count() <= 20);
}
