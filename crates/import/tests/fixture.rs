//! The synthetic SF-to-AD fixture (see fixtures/README.md) imports into a
//! mapping hrsync loads, with its scoping filter, and every part not carried
//! is named in a warning.

use hrsync_mapping::{Apply, FlowBehavior, MappingConfig, ScopeOperator};

type R = Result<(), Box<dyn std::error::Error>>;

const FIXTURE: &str = include_str!("fixtures/sf-to-ad-edited.json");

#[test]
fn sf_to_ad_edited_imports_loads_and_warns() -> R {
    let r = hrsync_import::import_schema(FIXTURE)?;
    let m = MappingConfig::from_toml(&r.mapping_toml)
        .map_err(|e| format!("{e}\n{}", r.mapping_toml))?;

    // Scoping: one group "Onboarding", one clause.
    let scope = m.scope.as_ref().ok_or("no scope carried")?;
    assert_eq!(scope.groups.len(), 1);
    let g = &scope.groups[0];
    assert_eq!(g.name.as_deref(), Some("Onboarding"));
    assert_eq!(g.clauses.len(), 1);
    assert_eq!(g.clauses[0].attribute, "userStatus");
    assert_eq!(g.clauses[0].operator, ScopeOperator::NotEquals);
    assert_eq!(g.clauses[0].values, vec!["active_external_suite".to_string()]);

    let get = |t: &str| m.mappings.iter().find(|x| x.target == t).ok_or(format!("no {t}"));
    assert_eq!(m.mappings.len(), 6);
    let id = get("employeeID")?;
    assert_eq!(id.matching, Some(1));
    assert_eq!(id.expression.as_deref(), Some("[personIdExternal]"));
    // Empty `expression` rebuilt from the source tree; Constant text from `name`.
    let dn = get("displayName")?;
    assert_eq!(dn.expression.as_deref(), Some("Join(\" \", [firstName], [lastName])"));
    assert_eq!(dn.apply, Apply::OnCreate);
    // schemaUpdater.js style: mappingType Direct, expression "", flowType Add.
    let ext = get("extensionAttribute1")?;
    assert_eq!(ext.expression.as_deref(), Some("[empJobNavCustomString35]"));
    assert_eq!(ext.apply, Apply::Always);
    // defaultValue and FlowAlways carried.
    let et = get("employeeType")?;
    assert_eq!(et.default.as_deref(), Some("Employee"));
    assert_eq!(et.flow, FlowBehavior::Always);
    assert_eq!(id.flow, FlowBehavior::WhenChanged);
    // "None" mapping: source null, default only.
    let pdn = get("parentDistinguishedName")?;
    assert_eq!(pdn.expression, None);
    assert_eq!(pdn.default.as_deref(), Some("OU=Users,DC=contoso,DC=com"));
    assert_eq!(pdn.apply, Apply::OnCreate);
    assert_eq!(id.default, None, "empty defaultValue is no default");

    // What was not carried, each with its JSON path.
    let am = "synchronizationRules[0].objectMappings[0].attributeMappings";
    let has = |needle: &str, also: &str| {
        r.warnings.iter().any(|w| w.contains(needle) && w.contains(also))
    };
    assert!(has(&format!("{am}[2].mappingType"), "\"Direct\""), "{:#?}", r.warnings);
    assert!(has(&format!("{am}[2].flowType"), "\"Add\""), "{:#?}", r.warnings);
    assert!(has(&format!("{am}[5].exportMissingReferences"), "true"), "{:#?}", r.warnings);
    assert!(
        has(
            "directories[0].objects[0].attributes[2].apiExpressions",
            "$.employmentNav.results[-1:].jobInfoNav.results[0].customString35"
        ),
        "{:#?}",
        r.warnings
    );
    // 3 mapping warnings + 4 source attributes with API expressions.
    assert_eq!(r.warnings.len(), 7, "{:#?}", r.warnings);
    // The unknown key is kept visible in the TOML too.
    assert!(r.mapping_toml.contains("# not carried: mappingType = \"Direct\""));
    Ok(())
}
