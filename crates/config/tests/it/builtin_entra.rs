//! `flow.mapping = "builtin:sf-to-entra"` loads the shipped Microsoft Entra ID
//! (Graph) mapping, and `account_status` picks its `accountEnabled`
//! expression as it picks `accountDisabled` for the AD mapping.

use crate::common;

use common::*;
use hrsync_config::{Config, MappingOrigin};
use hrsync_mapping::MappingConfig;

fn enabled(c: &Config) -> Option<String> {
    c.flow
        .compiled
        .mappings()
        .iter()
        .find(|m| m.config.target == "accountEnabled")
        .and_then(|m| m.config.expression.clone())
}

#[test]
fn builtin_entra_mapping_loads_and_follows_account_status() {
    let lines = [(18, "mapping = \"builtin:sf-to-entra\""), (20, ""), (21, ""), (22, ""), (23, "")];
    let config = parse(&with_lines(&lines)).expect("builtin loads");
    assert_eq!(config.flow.origin, MappingOrigin::Builtin("builtin:sf-to-entra".into()));
    assert_eq!(config.flow.mapping, MappingConfig::sf_to_entra().expect("shipped mapping"));
    let matching: Vec<&str> =
        config.flow.compiled.matching().iter().map(|m| m.config.target.as_str()).collect();
    assert_eq!(matching, ["employeeId"]);
    assert_eq!(
        enabled(&config).as_deref(),
        Some(r#"CBool(Switch([activeEmploymentsCount], "True", "0", "False"))"#)
    );

    let mut lines = lines.to_vec();
    lines[1] = (20, "account_status = \"emplStatus\"");
    let config = parse(&with_lines(&lines)).expect("builtin with emplStatus loads");
    assert_eq!(
        enabled(&config).as_deref(),
        Some(r#"CBool(Switch([emplStatus], "False", "A", "True", "U", "True", "P", "True"))"#)
    );
    assert!(config.flow.compiled.referenced_attributes().contains(&"emplStatus"));
}

#[test]
fn unknown_builtin_lists_sf_to_entra() {
    let lines = [(18, "mapping = \"builtin:sf-to-graph\""), (20, ""), (21, ""), (22, ""), (23, "")];
    let msg = errors(&with_lines(&lines)).to_string();
    assert!(msg.contains("`builtin:sf-to-entra`"), "{msg}");
}
