//! Mapping config shape, static checks at load, phases, defaults.

use crate::common;

use common::*;
use hrsync_mapping::{
    Apply, CompiledMapping, FlowBehavior, MappingConfig, MappingError, Phase, SourceSchema,
};

#[test]
fn default_sf_to_ad_mapping_loads_and_checks() {
    let config = MappingConfig::sf_to_ad().unwrap();
    assert!(config.mappings.len() >= 40, "{}", config.mappings.len());
    let schema = SourceSchema::builtin().unwrap();
    let mapping = CompiledMapping::compile(&config.mappings, &schema).unwrap();
    let matching = mapping.matching();
    assert_eq!(matching.len(), 1);
    assert_eq!(matching[0].config.target, "employeeID");
    let on_create: Vec<&str> = mapping
        .mappings()
        .iter()
        .filter(|m| m.config.apply == Apply::OnCreate)
        .map(|m| m.config.target.as_str())
        .collect();
    assert_eq!(on_create, ["sAMAccountName", "userPrincipalName", "cn"]);
    let refs = mapping.referenced_attributes();
    for name in [
        "personIdExternal",
        "activeEmploymentsCount",
        "firstName",
        "lastName",
        "twoCharCountryCode",
        "officeLocationAddress",
    ] {
        assert!(refs.contains(&name), "{name} not referenced: {refs:?}");
    }
    // The expand list follows from what is mapped.
    let expand = schema.compile(refs).unwrap().expand().to_vec();
    assert!(expand.contains(&"employmentNav/jobInfoNav/locationNav/addressNavDEFLT".to_string()));
    assert!(!expand.contains(&"employmentNav/jobInfoNav/payGradeNav".to_string()));
}

#[test]
fn full_config_shape_round_trips() {
    let text = r#"
name = "pilot"

[[source_attribute]]
name = "globalAssignmentDepartment"
jsonpath = "$.employmentNav.results[?(@.assignmentClass == 'GA')].jobInfoNav.results[0].departmentNav.name_localized"

[[source_attribute]]
name = "startDate"
jsonpath = "$.employmentNav.results[-1:].startDate"

[scope]
[[scope.groups]]
name = "Germany only"
clauses = [{ attribute = "twoCharCountryCode", operator = "EQUALS", values = ["DE"] }]

[[mapping]]
target = "employeeID"
expression = "[personIdExternal]"
matching = 1

[[mapping]]
target = "extensionAttribute1"
expression = "[userId]"
flow = "always"

[[mapping]]
target = "description"
default = "Provisioned by hrsync"
"#;
    let config = MappingConfig::from_toml(text).unwrap();
    assert_eq!(config.source_attributes.len(), 2);
    assert_eq!(config.mappings[1].flow, FlowBehavior::Always);
    let again = MappingConfig::from_toml(&toml::to_string(&config).unwrap()).unwrap();
    assert_eq!(again, config);
    let schema =
        SourceSchema::new(hrsync_mapping::Catalog::builtin().clone(), &config.source_attributes)
            .unwrap();
    config.scope.as_ref().unwrap().compile(&schema).unwrap();
    CompiledMapping::compile(&config.mappings, &schema).unwrap();

    let unknown_key =
        MappingConfig::from_toml("[[mapping]]\ntarget = \"x\"\nexpresion = \"[a]\"\n");
    assert!(unknown_key.unwrap_err().to_string().contains("expresion"));
}

#[test]
fn static_check_errors_name_the_target() {
    let schema = SourceSchema::builtin().unwrap();
    let config = MappingConfig::from_toml(
        r#"
[[mapping]]
target = "a"
expression = "[noSuchAttribute]"
[[mapping]]
target = "b"
expression = "NoSuchFunction([firstName])"
[[mapping]]
target = "c"
expression = "Mid([firstName])"
[[mapping]]
target = "d"
expression = "Join(\".\", [firstName]"
[[mapping]]
target = "a"
expression = "[firstName]"
[[mapping]]
target = "e"
"#,
    )
    .unwrap();
    let errors = CompiledMapping::compile(&config.mappings, &schema).unwrap_err();
    assert_eq!(errors.len(), 6, "{errors:#?}");
    assert!(matches!(&errors[0], MappingError::Check { target, .. } if target == "a"));
    assert!(errors[0].to_string().contains("noSuchAttribute"), "{}", errors[0]);
    assert!(matches!(&errors[1], MappingError::Check { target, .. } if target == "b"));
    assert!(errors[1].to_string().contains("NoSuchFunction"), "{}", errors[1]);
    assert!(matches!(&errors[2], MappingError::Check { target, .. } if target == "c"));
    assert!(matches!(&errors[3], MappingError::Parse { target, .. } if target == "d"));
    assert_eq!(errors[4], MappingError::DuplicateTarget("a".into()));
    assert_eq!(errors[5], MappingError::Empty("e".into()));
}

#[test]
fn phases_and_defaults() {
    let schema = SourceSchema::builtin().unwrap();
    let config = MappingConfig::from_toml(
        r#"
[[mapping]]
target = "employeeID"
expression = "[personIdExternal]"
[[mapping]]
target = "cn"
expression = "[displayName]"
apply = "on-create"
[[mapping]]
target = "middleName"
expression = "[middleName]"
default = "-"
[[mapping]]
target = "description"
default = "Provisioned by hrsync"
"#,
    )
    .unwrap();
    let mapping = CompiledMapping::compile(&config.mappings, &schema).unwrap();
    let source = schema.compile(mapping.referenced_attributes()).unwrap();
    let record = source.extract(&fixture("standard_worker"));
    let uniqueness = NoneTaken;
    let clock = clock();
    let mut random = hrsync_expr::SplitMix64(7);
    let mut ctx = hrsync_expr::EvalContext::new(&clock, &mut random, Some(&uniqueness));

    let create: Vec<(String, Option<String>, bool)> = mapping
        .evaluate(&record, &mut ctx, Phase::Create)
        .into_iter()
        .map(|t| (t.target.to_owned(), value_text(t.outcome), t.defaulted))
        .collect();
    assert_eq!(
        create,
        [
            ("employeeID".to_owned(), Some("103208".to_owned()), false),
            ("cn".to_owned(), Some("Ana Müller".to_owned()), false),
            ("middleName".to_owned(), Some("-".to_owned()), true),
            ("description".to_owned(), Some("Provisioned by hrsync".to_owned()), true),
        ]
    );
    let update: Vec<(String, Option<String>, bool)> = mapping
        .evaluate(&record, &mut ctx, Phase::Update)
        .into_iter()
        .map(|t| (t.target.to_owned(), value_text(t.outcome), t.defaulted))
        .collect();
    assert_eq!(
        update,
        [
            ("employeeID".to_owned(), Some("103208".to_owned()), false),
            ("middleName".to_owned(), None, false),
            ("description".to_owned(), None, false),
        ]
    );
    let traced = mapping.evaluate_traced(&record, &mut ctx, Phase::Update);
    assert_eq!(traced.len(), 3);
    assert!(traced[0].1.is_some());
    assert!(traced[2].1.is_none(), "default-only mapping has no expression");
}
