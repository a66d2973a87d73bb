//! The synthetic SF-to-AD fixture (see fixtures/README.md) imports into a
//! mapping hrsync loads: the built-in SF-to-AD mapping with the documented
//! edits E1-E8, its source attributes and scoping filter, and every part not
//! carried named in a warning with its JSON path.

use hrsync_mapping::{Apply, Catalog, FlowBehavior, MappingConfig, ScopeOperator, SourceSchema};

type R = Result<(), Box<dyn std::error::Error>>;

const FIXTURE: &str = include_str!("fixtures/sf-to-ad-edited.json");

#[test]
fn sf_to_ad_edited_imports_loads_and_warns() -> R {
    let r = hrsync_import::import_schema(FIXTURE)?;
    let m = MappingConfig::from_toml(&r.mapping_toml)
        .map_err(|e| format!("{e}\n{}", r.mapping_toml))?;
    let builtin = MappingConfig::sf_to_ad()?;

    // Source attributes: catalog paths the export repeats are not written;
    // edited paths (E1, E2) override, new attributes (E3, E4) are added.
    let sa = |n: &str| m.source_attributes.iter().find(|a| a.name == n).ok_or(format!("no {n}"));
    assert_eq!(m.source_attributes.len(), 5, "{:#?}", m.source_attributes);
    assert_eq!(
        sa("startDate")?.jsonpath.as_deref(),
        Some("$.employmentNav.results[-1:].startDate")
    );
    assert_eq!(sa("startDate")?.ty, None, "catalog type kept");
    assert_eq!(
        sa("userStatus")?.jsonpath.as_deref(),
        Some("$.employmentNav.results[-1:].userNav.status")
    );
    assert_eq!(
        sa("empJobNavCustomString35")?.jsonpath.as_deref(),
        Some("$.employmentNav.results[-1:].jobInfoNav.results[0].customString35")
    );
    for (n, lang) in [("positionNameFR", "fr_FR"), ("positionNameDE", "de_DE")] {
        let p = sa(n)?.jsonpath.clone().unwrap_or_default();
        assert!(p.ends_with(&format!("positionNav.externalName_{lang}")), "{p}");
    }
    SourceSchema::new(Catalog::builtin().clone(), &m.source_attributes)?;

    // Scoping (E2): one group "Onboarding", one clause.
    let scope = m.scope.as_ref().ok_or("no scope carried")?;
    assert_eq!(scope.groups.len(), 1);
    let g = &scope.groups[0];
    assert_eq!(g.name.as_deref(), Some("Onboarding"));
    assert_eq!(g.clauses.len(), 1);
    assert_eq!(g.clauses[0].attribute, "userStatus");
    assert_eq!(g.clauses[0].operator, ScopeOperator::NotEquals);
    assert_eq!(g.clauses[0].values, vec!["active_external_suite".to_string()]);

    // Every built-in target is carried, plus the two position names (E4).
    assert_eq!(m.mappings.len(), builtin.mappings.len() + 2);
    let get = |t: &str| m.mappings.iter().find(|x| x.target == t).ok_or(format!("no {t}"));
    let edited = [
        "displayName",
        "extensionAttribute1",
        "employeeType",
        "parentDistinguishedName",
        "extensionAttribute10",
        "extensionAttribute11",
    ];
    for b in &builtin.mappings {
        if edited.contains(&b.target.as_str()) {
            continue;
        }
        let i = get(&b.target)?;
        // Expression text is one line in the export; the same tree.
        let flat = |e: &Option<String>| {
            e.as_deref().map(|e| e.split_whitespace().collect::<Vec<_>>().join(" "))
        };
        assert_eq!(flat(&i.expression), flat(&b.expression), "{}", b.target);
        assert_eq!(
            (i.matching, i.apply, i.flow, i.required, &i.default),
            (b.matching, b.apply, b.flow, b.required, &b.default),
            "{}",
            b.target
        );
    }
    // Required from the target directory's attribute definitions.
    assert!(get("sAMAccountName")?.required && get("userPrincipalName")?.required);
    assert_eq!(get("employeeID")?.matching, Some(1));
    // E5: empty `expression` rebuilt from the source tree; Constant text from `name`.
    let dn = get("displayName")?;
    assert_eq!(dn.expression.as_deref(), Some("Join(\" \", [firstName], [lastName])"));
    assert_eq!(dn.apply, Apply::OnCreate);
    // E3, schemaUpdater.js style: mappingType Direct, expression "", flowType Add.
    let ext = get("extensionAttribute1")?;
    assert_eq!(ext.expression.as_deref(), Some("[empJobNavCustomString35]"));
    assert_eq!(ext.apply, Apply::Always);
    // E6: defaultValue and FlowAlways carried.
    let et = get("employeeType")?;
    assert_eq!(et.default.as_deref(), Some("Employee"));
    assert_eq!(et.flow, FlowBehavior::Always);
    // E7: "None" mapping: source null, default only.
    let pdn = get("parentDistinguishedName")?;
    assert_eq!(pdn.expression, None);
    assert_eq!(pdn.default.as_deref(), Some("OU=Users,DC=contoso,DC=com"));
    assert_eq!(pdn.apply, Apply::OnCreate);
    assert_eq!(get("employeeID")?.default, None, "empty defaultValue is no default");

    // What was not carried, each with its JSON path.
    let am = "synchronizationRules[0].objectMappings[0].attributeMappings";
    let pos = |t: &str| builtin.mappings.iter().position(|x| x.target == t).unwrap_or(usize::MAX);
    let has = |needle: &str, also: &str| {
        r.warnings.iter().any(|w| w.contains(needle) && w.contains(also))
    };
    let e1 = pos("extensionAttribute1");
    assert!(has(&format!("{am}[{e1}].mappingType"), "\"Direct\""), "{:#?}", r.warnings);
    assert!(has(&format!("{am}[{e1}].flowType"), "\"Add\""), "{:#?}", r.warnings);
    let mgr = pos("manager");
    assert!(has(&format!("{am}[{mgr}].exportMissingReferences"), "true"), "{:#?}", r.warnings);
    assert_eq!(r.warnings.len(), 3, "{:#?}", r.warnings);
    // The unknown key is kept visible in the TOML too.
    assert!(r.mapping_toml.contains("# not carried: mappingType = \"Direct\""));

    // The config: AD -> ldap with the AD profile, "Add, Update" -> create, update.
    let c = &r.config_toml;
    for line in [
        "kind = \"ldap\"",
        "profile = \"active-directory\"",
        "mapping = \"mapping.toml\"",
        "actions = [\"create\", \"update\"]",
        "#   1. employeeID (from synchronizationRules[0].objectMappings[0].attributeMappings[0])",
    ] {
        assert!(c.lines().any(|l| l == line), "{line}\n{c}");
    }
    Ok(())
}
