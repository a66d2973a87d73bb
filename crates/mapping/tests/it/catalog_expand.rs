//! The built-in catalog and `$expand` derivation (the integration reference's
//! 26-row retrieval table).

use hrsync_mapping::{Catalog, SchemaError, SourceAttributeConfig, SourceSchema, expand_for};

const ALWAYS: [&str; 8] = [
    "personalInfoNav",
    "phoneNav",
    "emailNav",
    "employmentNav",
    "employmentNav/userNav",
    "employmentNav/jobInfoNav",
    "personEmpTerminationInfoNav",
    "employmentNav/userNav/manager/empInfo",
];

#[test]
fn catalog_has_entras_predefined_attributes() {
    let c = Catalog::builtin();
    assert!(c.attribute.len() >= 90, "only {} attributes", c.attribute.len());
    let mut required: Vec<String> = [
        "personIdExternal",
        "personId",
        "perPersonUuid",
        "userId",
        "emplStatus",
        "activeEmploymentsCount",
        "latestTerminationDate",
        "startDate",
        "username",
        "firstName",
        "lastName",
        "displayName",
        "emailAddress",
        "jobTitle",
        "managerId",
        "twoCharCountryCode",
        "department",
        "division",
        "officeLocationAddress",
        "officeLocationZipCode",
        "officeLocationCity",
        "company",
        "companyId",
        "costCenter",
        "businessUnit",
        "jobCode",
        "payGrade",
        "location",
        "eventReason",
        "assignmentType",
        "employmentType",
        "employeeClass",
        "addressLIne3",
        "businessPhone",
        "cellPhone",
    ]
    .map(String::from)
    .to_vec();
    for i in 1..=15 {
        required.push(format!("custom{i:02}"));
        required.push(format!("empNavCustomString{i}"));
        required.push(format!("empJobNavCustomString{i}"));
    }
    for name in &required {
        assert!(c.get(name).is_some(), "catalog lacks {name}");
    }
    // Every path parses (SourceSchema compiles them all).
    SourceSchema::builtin().expect("catalog paths compile");
}

#[test]
fn declared_expand_matches_what_the_path_needs() {
    // The per-attribute `expand` data and the navigation table must agree, so
    // an overridden path still fetches what it reads.
    let c = Catalog::builtin();
    for a in &c.attribute {
        let mut declared = a.expand.clone();
        declared.sort();
        let mut inferred = c.infer_expand(&a.jsonpath);
        inferred.sort();
        assert_eq!(declared, inferred, "attribute {}", a.name);
    }
}

#[test]
fn retrieval_rules_table() {
    let ji = "employmentNav/jobInfoNav";
    // (mapped attributes, extra expand entries beyond the always-expanded ones)
    let rows: Vec<(Vec<&str>, Vec<String>)> = vec![
        (
            vec![
                "personIdExternal",
                "firstName",
                "username",
                "activeEmploymentsCount",
                "emailAddress",
                "businessPhone",
                "managerPersonIdExternal",
            ],
            vec![],
        ),
        (vec!["company"], vec![format!("{ji}/companyNav")]),
        (vec!["companyId"], vec![format!("{ji}/companyNav")]),
        (
            vec!["twoCharCountryCode"],
            vec![format!("{ji}/companyNav"), format!("{ji}/companyNav/countryOfRegistrationNav")],
        ),
        (vec!["department"], vec![format!("{ji}/departmentNav")]),
        (vec!["departmentId"], vec![format!("{ji}/departmentNav")]),
        (vec!["businessUnit", "businessUnitId"], vec![format!("{ji}/businessUnitNav")]),
        (vec!["costCenter"], vec![format!("{ji}/costCenterNav")]),
        (vec!["costCenterId"], vec![format!("{ji}/costCenterNav")]),
        (vec!["division"], vec![format!("{ji}/divisionNav")]),
        (vec!["divisionId"], vec![format!("{ji}/divisionNav")]),
        (vec!["jobCode"], vec![format!("{ji}/jobCodeNav")]),
        (vec!["jobCodeId"], vec![format!("{ji}/jobCodeNav")]),
        (vec!["payGrade"], vec![format!("{ji}/payGradeNav")]),
        (vec!["location"], vec![format!("{ji}/locationNav")]),
        (
            vec!["officeLocationAddress"],
            vec![format!("{ji}/locationNav"), format!("{ji}/locationNav/addressNavDEFLT")],
        ),
        (
            vec!["officeLocationCity"],
            vec![format!("{ji}/locationNav"), format!("{ji}/locationNav/addressNavDEFLT")],
        ),
        (
            vec!["officeLocationZipCode"],
            vec![format!("{ji}/locationNav"), format!("{ji}/locationNav/addressNavDEFLT")],
        ),
        (vec!["eventReason"], vec![format!("{ji}/eventReasonNav")]),
        (
            vec!["assignmentType"],
            vec![
                "employmentNav/empGlobalAssignmentNav".into(),
                "employmentNav/empGlobalAssignmentNav/assignmentTypeNav".into(),
            ],
        ),
        (vec!["employmentType"], vec![format!("{ji}/employmentTypeNav")]),
        (vec!["employeeClass"], vec![format!("{ji}/employeeClassNav")]),
        (vec!["emplStatus"], vec![format!("{ji}/emplStatusNav")]),
        (vec!["positionNav"], vec![format!("{ji}/positionNav")]),
        (vec!["managerUserNav"], vec![format!("{ji}/managerUserNav")]),
        // Unmapped attributes never pull their navigation in.
        (vec!["jobTitle", "managerId", "custom07", "empJobNavCustomString3"], vec![]),
    ];
    for (attrs, extra) in rows {
        let got = expand_for(attrs.iter().copied());
        let mut want: Vec<String> = ALWAYS.iter().map(|s| s.to_string()).collect();
        want.extend(extra);
        assert_eq!(got, want, "attributes {attrs:?}");
    }
}

#[test]
fn expand_order_is_canonical_and_deduplicated() {
    let a = expand_for(["department", "company", "twoCharCountryCode", "department"]);
    let b = expand_for(["twoCharCountryCode", "department", "company"]);
    assert_eq!(a, b);
    assert_eq!(
        &a[8..],
        [
            "employmentNav/jobInfoNav/companyNav",
            "employmentNav/jobInfoNav/companyNav/countryOfRegistrationNav",
            "employmentNav/jobInfoNav/departmentNav"
        ]
    );
}

#[test]
fn overridden_and_added_paths_infer_their_expand() {
    let config = vec![
        SourceAttributeConfig {
            name: "globalAssignmentDepartment".into(),
            jsonpath: Some("$.employmentNav.results[?(@.assignmentClass == 'GA')].jobInfoNav.results[0].departmentNav.name_localized".into()),
            ..Default::default()
        },
        // Active-employment form of a plain EmpJob field: needs emplStatusNav.
        SourceAttributeConfig {
            name: "jobTitle".into(),
            jsonpath: Some("$.employmentNav..jobInfoNav..results[?(@.emplStatusNav.externalCode == 'A' || @.emplStatusNav.externalCode == 'U' || @.emplStatusNav.externalCode == 'P')].jobTitle".into()),
            ..Default::default()
        },
    ];
    let schema = SourceSchema::new(Catalog::builtin().clone(), &config).unwrap();
    let got = schema.expand_for(["globalAssignmentDepartment", "jobTitle"]);
    assert!(got.contains(&"employmentNav/jobInfoNav/departmentNav".to_string()), "{got:?}");
    assert!(got.contains(&"employmentNav/jobInfoNav/emplStatusNav".to_string()), "{got:?}");
}

#[test]
fn config_errors_name_the_attribute() {
    let bad = vec![SourceAttributeConfig {
        name: "brokenPath".into(),
        jsonpath: Some("$.employmentNav.results[0".into()),
        ..Default::default()
    }];
    let err = SourceSchema::new(Catalog::builtin().clone(), &bad).unwrap_err();
    assert!(
        matches!(&err, SchemaError::Path { attribute, .. } if attribute == "brokenPath"),
        "{err}"
    );
    assert!(err.to_string().contains("brokenPath"));

    let no_path = vec![SourceAttributeConfig { name: "newThing".into(), ..Default::default() }];
    assert_eq!(
        SourceSchema::new(Catalog::builtin().clone(), &no_path).unwrap_err(),
        SchemaError::MissingPath("newThing".into())
    );
    let schema = SourceSchema::builtin().unwrap();
    assert_eq!(schema.compile(["nope"]).unwrap_err(), SchemaError::Unknown("nope".into()));
    let err = schema
        .with_replaced_paths("$.employmentNav.results[0]", "$.employmentNav.results[")
        .unwrap_err();
    assert!(matches!(err, SchemaError::Path { .. }));
}

#[test]
fn config_override_keeps_catalog_fields_it_does_not_set() {
    let config = vec![SourceAttributeConfig {
        name: "startDate".into(),
        jsonpath: Some("$.employmentNav.results[-1:].startDate".into()),
        ..Default::default()
    }];
    let schema = SourceSchema::new(Catalog::builtin().clone(), &config).unwrap();
    let def = schema.get("startDate").unwrap();
    assert_eq!(def.jsonpath, "$.employmentNav.results[-1:].startDate");
    assert_eq!(def.ty, hrsync_mapping::AttrType::DateTime);
}
