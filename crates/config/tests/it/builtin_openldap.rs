//! `flow.mapping = "builtin:sf-to-openldap"` loads the shipped OpenLDAP mapping.

use crate::common;

use common::*;
use hrsync_config::MappingOrigin;
use hrsync_mapping::MappingConfig;

#[test]
fn builtin_openldap_mapping_loads() {
    let lines =
        [(18, "mapping = \"builtin:sf-to-openldap\""), (20, ""), (21, ""), (22, ""), (23, "")];
    let config = parse(&with_lines(&lines)).expect("builtin loads");
    assert_eq!(config.flow.origin, MappingOrigin::Builtin("builtin:sf-to-openldap".into()));
    assert_eq!(config.flow.mapping, MappingConfig::sf_to_openldap().expect("shipped mapping"));
    let matching: Vec<&str> =
        config.flow.compiled.matching().iter().map(|m| m.config.target.as_str()).collect();
    assert_eq!(matching, ["employeeNumber"]);
}
