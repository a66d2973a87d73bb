//! `[[flows]]`: further inbound flows in one config, each with a name, the
//! keys of `[flow]` and a `[flows.target]`; errors at `file:line:col` with
//! the entry's index in the field path.

use crate::common;

use common::*;
use hrsync_config::{Config, MappingOrigin, TargetConfig};

/// BASE (26 lines) and `extra` from line 27 on.
fn with_flows(extra: &str) -> String {
    format!("{BASE}{extra}\n")
}

const TWO: &str = r#"[[flows]]
name = "apps"
mapping = "builtin:sf-to-openldap"
time_zone = "UTC"
actions = ["create", "update"]
[flows.target]
kind = "embedded"
path = "apps.sqlite"
concurrency = 4

[[flows]]
name = "lab-2"
time_zone = "Asia/Tokyo"
[flows.target]
kind = "embedded"
path = "/var/lib/hrsync/lab.sqlite"
unique = ["uid"]
"#;

#[test]
fn further_flows_load_in_order_after_inbound() {
    let config = parse(&with_flows(TWO)).unwrap_or_else(|e| panic!("{e}"));
    let flows = config.flows();
    let names: Vec<&str> = flows.iter().map(|f| f.name).collect();
    assert_eq!(names, [Config::INBOUND, "apps", "lab-2"]);

    let apps = config.flow_named("apps").expect("apps");
    let TargetConfig::Embedded(t) = apps.target else { panic!("{:?}", apps.target) };
    assert_eq!(
        t.path,
        std::path::PathBuf::from("/etc/hrsync/apps.sqlite"),
        "relative to the config"
    );
    assert_eq!(apps.target_concurrency, 4);
    assert_eq!(apps.flow.origin, MappingOrigin::Builtin("builtin:sf-to-openldap".into()));
    assert!(apps.flow.actions.create && apps.flow.actions.update && !apps.flow.actions.disable);

    let lab = config.flow_named("lab-2").expect("lab-2");
    assert_eq!(lab.flow.origin, MappingOrigin::Builtin("builtin:sf-to-ad".into()), "the default");
    assert_eq!(lab.flow.time_zone.iana_name(), Some("Asia/Tokyo"));
    let TargetConfig::Embedded(t) = lab.target else { panic!() };
    assert_eq!(t.unique, ["uid"]);
    // The inbound flow is untouched by the others.
    assert_eq!(config.flow.time_zone.iana_name(), Some("Europe/Berlin"));
    assert_eq!(config.flow_named("inbound").map(|f| f.target_concurrency), Some(32));
}

#[test]
fn a_config_without_flows_has_only_inbound() {
    let config = parse(BASE).expect("loads");
    assert!(config.more_flows.is_empty());
    assert_eq!(config.flows().len(), 1);
}

#[test]
fn bad_entries_name_line_column_and_field() {
    // Line 27 is the first `[[flows]]`; each case replaces the named entry.
    let cases: &[(&str, &str, &str, &str)] = &[
        (
            "[[flows]]\ntime_zone = \"UTC\"\n[flows.target]\nkind = \"embedded\"\npath = \"a.sqlite\"",
            "27:1",
            "flows[0].name",
            "missing field `name`",
        ),
        (
            "[[flows]]\nname = \"inbound\"\ntime_zone = \"UTC\"\n[flows.target]\nkind = \"embedded\"\npath = \"a.sqlite\"",
            "28:8",
            "flows[0].name",
            "is reserved",
        ),
        (
            "[[flows]]\nname = \"Apps!\"\ntime_zone = \"UTC\"\n[flows.target]\nkind = \"embedded\"\npath = \"a.sqlite\"",
            "28:8",
            "flows[0].name",
            "lowercase letters",
        ),
        (
            "[[flows]]\nname = \"a\"\ntime_zone = \"UTC\"\n[flows.target]\nkind = \"embedded\"\npath = \"a.sqlite\"\n[[flows]]\nname = \"a\"\ntime_zone = \"UTC\"\n[flows.target]\nkind = \"embedded\"\npath = \"b.sqlite\"",
            "34:8",
            "flows[1].name",
            "two flows are named `a`",
        ),
        (
            "[[flows]]\nname = \"a\"\ntime_zone = \"UTC\"",
            "27:1",
            "flows[0].target",
            "missing table `[flows.target]`",
        ),
        (
            "[[flows]]\nname = \"a\"\ntime_zone = \"Mars/Olympus\"\n[flows.target]\nkind = \"embedded\"\npath = \"a.sqlite\"",
            "29:13",
            "flows[0].time_zone",
            "unknown time zone",
        ),
        (
            "[[flows]]\nname = \"a\"\ntime_zone = \"UTC\"\nactions = [\"create\", \"explode\"]\n[flows.target]\nkind = \"embedded\"\npath = \"a.sqlite\"",
            "30:22",
            "flows[0].actions[1]",
            "explode",
        ),
        (
            "[[flows]]\nname = \"a\"\ntime_zone = \"UTC\"\n[flows.target]\nkind = \"embedded\"\npath = \"a.sqlite\"\nconcurrency = 0",
            "33:15",
            "flows[0].target.concurrency",
            "out of range 1..=256",
        ),
        (
            "[[flows]]\nname = \"a\"\ntime_zone = \"UTC\"\nmapping = \"builtin:nope\"\n[flows.target]\nkind = \"embedded\"\npath = \"a.sqlite\"",
            "30:11",
            "flows[0].mapping",
            "unknown built-in mapping",
        ),
        (
            "[[flows]]\nname = \"a\"\ntime_zone = \"UTC\"\nspeed = 3",
            "30:1",
            "flows[0].speed",
            "unknown field `speed`",
        ),
    ];
    for (extra, at, field, cause) in cases {
        assert_error_at(&with_flows(extra), at, field, cause);
    }
}

#[test]
fn flow_keys_of_further_flows_are_refused_in_the_flow_section() {
    let text = with_lines(&[(17, "time_zone = \"Europe/Berlin\"\nname = \"x\"")]);
    let errs = errors(&text);
    assert!(
        errs.to_string().contains("field `flow.name`")
            && errs.to_string().contains("is the flow `inbound`"),
        "{errs}"
    );
}

#[test]
fn flows_must_be_tables() {
    let errs = errors(&format!("flows = 3\n{BASE}"));
    let want = "/etc/hrsync/hrsync.toml:1:9: field `flows`: expected `[[flows]]` tables";
    assert!(errs.errors().iter().any(|e| e.to_string().starts_with(want)), "{errs}");
}
