//! The integration reference's HR scenarios over SuccessFactors-wire-shaped
//! records (`tests/fixtures/*.json`): extracted source values and evaluated
//! target values of the default SuccessFactors-to-AD mapping.

use crate::common;

use common::*;
use hrsync_mapping::SourceSchema;

const E0: &str = "$.employmentNav.results[0]";
const J0: &str = "$.employmentNav.results[0].jobInfoNav.results[0]";
const ACTIVE_JOB: &str = "$.employmentNav..jobInfoNav..results[?(@.emplStatusNav.externalCode == 'A' || @.emplStatusNav.externalCode == 'U' || @.emplStatusNav.externalCode == 'P')]";
const ACTIVE_EMPLOYMENT: &str = "$.employmentNav..results[?(@.jobInfoNav..results[?(@.emplStatusNav.externalCode == 'A' || @.emplStatusNav.externalCode == 'U' || @.emplStatusNav.externalCode == 'P')])]";

/// The reference's "current active employment" find/replace-all, in its
/// order. (Its first row rewrites `...jobInfoNav.results[0].emplStatus` to the
/// `emplStatusNav.externalCode` form; our catalog already reads emplStatus
/// from `emplStatusNav.externalCode`, so that row does not apply.)
fn active_employment_schema() -> SourceSchema {
    SourceSchema::builtin()
        .unwrap()
        .with_replaced_paths(J0, ACTIVE_JOB)
        .unwrap()
        .with_replaced_paths(E0, ACTIVE_EMPLOYMENT)
        .unwrap()
}

#[test]
fn standard_worker_default_mapping() {
    let schema = SourceSchema::builtin().unwrap();
    let flow = flow(&schema, &[]);
    let r = flow.source.extract(&fixture("standard_worker"));
    assert_eq!(text_of(&r, "personIdExternal"), "103208");
    assert_eq!(text_of(&r, "activeEmploymentsCount"), "1");
    assert_eq!(
        text_of(&r, "emailAddress"),
        "ana.mueller@example.com",
        "primary email, not the first"
    );
    assert_eq!(datetime(&r, "startDate"), ms(D2023));
    assert_eq!(text(&r, "latestTerminationDate"), None);

    let t = targets(&flow, &r);
    let expect = [
        ("employeeID", "103208"),
        ("accountDisabled", "False"),
        ("sAMAccountName", "Ana.Muller"),
        ("userPrincipalName", "Ana.Muller@contoso.com"),
        ("parentDistinguishedName", "OU=Germany,OU=Users,DC=contoso,DC=com"),
        ("cn", "Ana Müller"),
        ("displayName", "Ana Müller"),
        ("givenName", "Ana"),
        ("sn", "Müller"),
        ("mail", "ana.mueller@example.com"),
        ("title", "Engineer"),
        ("department", "IT"),
        ("departmentNumber", "D100"),
        ("company", "Research & Development"),
        ("division", "Engineering"),
        ("manager", "100057"),
        ("employeeType", "EMP"),
        ("employeeNumber", "103208"),
        ("physicalDeliveryOfficeName", "Berlin HQ"),
        ("streetAddress", "Friedrichstrasse 100"),
        ("l", "Berlin"),
        ("st", "BE"),
        ("postalCode", "10117"),
        ("c", "DE"),
        ("co", "Germany"),
        ("telephoneNumber", "+49 30 5550101"),
        ("mobile", "+49 170 5550101"),
        ("preferredLanguage", "de_DE"),
        ("extensionAttribute1", "103208"),
        ("extensionAttribute2", "A"),
        ("extensionAttribute3", "CC-4711"),
        ("extensionAttribute4", "Software Engineer"),
        ("extensionAttribute5", "2023-01-01"),
        ("extensionAttribute6", "ACE_DE"),
        ("extensionAttribute7", "Engineer II"),
        ("extensionAttribute8", "Badge-7781"),
        ("extensionAttribute9", "JC-1"),
        ("accountExpires", "9223372036854775807"),
    ];
    for (name, want) in expect {
        assert_eq!(target(&t, name), want, "target {name}");
    }
    assert_eq!(t.get("middleName"), Some(&None));
    assert_eq!(t.get("homePhone"), Some(&None));
}

#[test]
fn rehire_with_last_employment() {
    let record = fixture("rehire");
    // Default `[0]`: the old, terminated employment is listed first.
    let schema = SourceSchema::builtin().unwrap();
    let r = flow(&schema, &[]).source.extract(&record);
    assert_eq!(text_of(&r, "userId"), "104001");
    assert_eq!(text_of(&r, "department"), "Finance");

    // The reference's fix: replace-all `$.employmentNav.results[0]` by `[-1:]`.
    let schema = schema.with_replaced_paths(E0, "$.employmentNav.results[-1:]").unwrap();
    assert_eq!(schema.get("startDate").unwrap().jsonpath, "$.employmentNav.results[-1:].startDate");
    let flow = flow(&schema, &[]);
    let r = flow.source.extract(&record);
    assert_eq!(text_of(&r, "userId"), "104001_1");
    assert_eq!(text_of(&r, "username"), "bokafor2");
    assert_eq!(text_of(&r, "department"), "Controlling");
    assert_eq!(text_of(&r, "emplStatus"), "A");
    assert_eq!(datetime(&r, "startDate"), ms(D2025));
    assert_eq!(datetime(&r, "latestTerminationDate"), ms(D2022));

    let t = targets(&flow, &r);
    assert_eq!(target(&t, "employeeID"), "104001");
    assert_eq!(target(&t, "employeeNumber"), "104001_1");
    assert_eq!(target(&t, "extensionAttribute1"), "104001_1");
    assert_eq!(target(&t, "department"), "Controlling");
    assert_eq!(target(&t, "title"), "Senior Analyst");
    assert_eq!(target(&t, "accountDisabled"), "False");
    assert_eq!(target(&t, "extensionAttribute5"), "2025-01-01");
}

#[test]
fn worker_conversion_needs_the_active_employment_paths() {
    let record = fixture("conversion");
    // `[-1:]` picks the pre-conversion employment (listed last, userNav null).
    let last = SourceSchema::builtin()
        .unwrap()
        .with_replaced_paths(E0, "$.employmentNav.results[-1:]")
        .unwrap();
    let r = flow(&last, &[]).source.extract(&record);
    assert_eq!(text_of(&r, "userId"), "105002_C");
    assert_eq!(text(&r, "username"), None, "userNav is null on the old employment");
    assert_eq!(text_of(&r, "emplStatus"), "T");

    // Active-employment paths pick the converted employment whatever the order.
    let schema = active_employment_schema();
    assert_eq!(
        schema.get("department").unwrap().jsonpath,
        format!("{ACTIVE_JOB}.departmentNav.name_localized")
    );
    let flow = flow(&schema, &[]);
    assert!(flow.source.expand().contains(&"employmentNav/jobInfoNav/emplStatusNav".to_string()));
    let r = flow.source.extract(&record);
    assert_eq!(text_of(&r, "userId"), "105002_E");
    assert_eq!(text_of(&r, "username"), "cdubois");
    assert_eq!(text_of(&r, "department"), "IT");
    assert_eq!(text_of(&r, "emplStatus"), "A");
    assert_eq!(datetime(&r, "startDate"), ms(D2024));

    let t = targets(&flow, &r);
    assert_eq!(target(&t, "employeeNumber"), "105002_E");
    assert_eq!(target(&t, "title"), "Engineer");
    assert_eq!(target(&t, "department"), "IT");
    assert_eq!(target(&t, "sAMAccountName"), "Chloe.Dubois");
    assert_eq!(target(&t, "accountDisabled"), "False");
}

#[test]
fn active_employment_paths_on_terminated_worker_yield_nothing() {
    let schema = active_employment_schema();
    let flow = flow(
        &schema,
        &[(
            "accountDisabled",
            r#"Switch([emplStatus], "True", "A", "False", "U", "False", "P", "False")"#,
        )],
    );
    let r = flow.source.extract(&fixture("terminated"));
    assert_eq!(text(&r, "userId"), None);
    assert_eq!(text(&r, "emplStatus"), None);
    let t = targets(&flow, &r);
    assert_eq!(target(&t, "accountDisabled"), "True", "no active job: Switch default");
}

#[test]
fn global_assignment() {
    let record = fixture("global_assignment");
    let schema = SourceSchema::builtin()
        .unwrap()
        .with_replaced_paths(E0, "$.employmentNav.results[?(@.assignmentClass == 'ST')]")
        .unwrap();
    assert_eq!(
        schema.get("department").unwrap().jsonpath,
        "$.employmentNav.results[?(@.assignmentClass == 'ST')].jobInfoNav.results[0].departmentNav.name_localized"
    );
    let schema = {
        let mut extra: Vec<_> = schema
            .attributes()
            .iter()
            .filter(|a| a.jsonpath.contains("assignmentClass"))
            .map(|a| hrsync_mapping::SourceAttributeConfig {
                name: a.name.clone(),
                jsonpath: Some(a.jsonpath.clone()),
                ..Default::default()
            })
            .collect();
        extra.push(hrsync_mapping::SourceAttributeConfig {
            name: "globalAssignmentDepartment".into(),
            jsonpath: Some(
                "$.employmentNav.results[?(@.assignmentClass == 'GA')].jobInfoNav.results[0].departmentNav.name_localized".into(),
            ),
            ..Default::default()
        });
        SourceSchema::new(hrsync_mapping::Catalog::builtin().clone(), &extra).unwrap()
    };
    let home = flow(&schema, &[("extensionAttribute10", "[assignmentType]")]);
    let r = home.source.extract(&record);
    assert_eq!(text_of(&r, "userId"), "106003");
    assert_eq!(text_of(&r, "department"), "IT");
    assert_eq!(text_of(&r, "globalAssignmentDepartment"), "Singapore Hub");
    assert!(
        home.source
            .expand()
            .contains(&"employmentNav/empGlobalAssignmentNav/assignmentTypeNav".to_string())
    );
    let t = targets(&home, &r);
    assert_eq!(target(&t, "department"), "IT");
    assert_eq!(target(&t, "employeeNumber"), "106003");
    // assignmentType is read from the ST employment (no global assignment there).
    assert_eq!(t.get("extensionAttribute10"), Some(&None));

    // The reference's expression: prefer the GA department when present.
    let ga = flow(
        &schema,
        &[(
            "department",
            "IIF(IsPresent([globalAssignmentDepartment]),[globalAssignmentDepartment],[department])",
        )],
    );
    let t = targets(&ga, &ga.source.extract(&record));
    assert_eq!(target(&t, "department"), "Singapore Hub");
    let t = targets(&ga, &ga.source.extract(&fixture("standard_worker")));
    assert_eq!(target(&t, "department"), "IT");
}

#[test]
fn concurrent_jobs_second_employment() {
    let schema = schema_with(&[(
        "secondJobDepartment",
        "$.employmentNav.results[1].jobInfoNav.results[0].departmentNav.name_localized",
    )]);
    let flow = flow(&schema, &[("extensionAttribute10", "[secondJobDepartment]")]);
    let r = flow.source.extract(&fixture("concurrent_jobs"));
    assert_eq!(text_of(&r, "department"), "Teaching");
    assert_eq!(text_of(&r, "secondJobDepartment"), "Tutoring");
    let t = targets(&flow, &r);
    assert_eq!(target(&t, "department"), "Teaching");
    assert_eq!(target(&t, "extensionAttribute10"), "Tutoring");
    // Single-job worker: no second job.
    let t = targets(&flow, &flow.source.extract(&fixture("standard_worker")));
    assert_eq!(t.get("extensionAttribute10"), Some(&None));
}

#[test]
fn position_localized_names() {
    let schema = schema_with(&[
        (
            "positionNameFR",
            "$.employmentNav.results[0].jobInfoNav.results[0].positionNav.externalName_fr_FR",
        ),
        (
            "positionNameDE",
            "$.employmentNav.results[0].jobInfoNav.results[0].positionNav.externalName_de_DE",
        ),
    ]);
    let flow = flow(
        &schema,
        &[
            ("extensionAttribute10", "[positionNameFR]"),
            ("extensionAttribute11", "[positionNameDE]"),
            ("extensionAttribute12", "[positionJobLevel]"),
        ],
    );
    assert!(flow.source.expand().contains(&"employmentNav/jobInfoNav/positionNav".to_string()));
    let r = flow.source.extract(&fixture("standard_worker"));
    let t = targets(&flow, &r);
    assert_eq!(target(&t, "extensionAttribute10"), "Ingénieur II");
    assert_eq!(target(&t, "extensionAttribute11"), "Ingenieur II");
    assert_eq!(target(&t, "extensionAttribute12"), "L3");
}

#[test]
fn account_status_from_active_employments_count_and_empl_status() {
    let schema = SourceSchema::builtin().unwrap();
    let by_count = flow(&schema, &[]);
    let by_status = flow(
        &schema,
        &[(
            "accountDisabled",
            r#"Switch([emplStatus], "True", "A", "False", "U", "False", "P", "False")"#,
        )],
    );
    // (fixture, activeEmploymentsCount, emplStatus, disabled by count, disabled by status)
    let cases = [
        ("standard_worker", "1", "A", "False", "False"),
        ("terminated", "0", "T", "True", "True"),
        ("unpaid_leave", "1", "U", "False", "False"),
    ];
    for (name, count, status, by_count_want, by_status_want) in cases {
        let record = fixture(name);
        let r = by_count.source.extract(&record);
        assert_eq!(text_of(&r, "activeEmploymentsCount"), count, "{name}");
        assert_eq!(
            target(&targets(&by_count, &r), "accountDisabled"),
            by_count_want,
            "{name} by count"
        );
        let r = by_status.source.extract(&record);
        assert_eq!(text_of(&r, "emplStatus"), status, "{name}");
        assert_eq!(
            target(&targets(&by_status, &r), "accountDisabled"),
            by_status_want,
            "{name} by status"
        );
    }
    // Terminated worker's accountExpires: end of the termination day (FILETIME).
    let r = by_count.source.extract(&fixture("terminated"));
    let t = targets(&by_count, &r);
    assert_eq!(target(&t, "accountExpires"), "133802495990000000");
}

#[test]
fn explain_names_path_and_matched_node() {
    let schema = active_employment_schema();
    let flow = flow(&schema, &[]);
    let r = flow.source.extract_explained(&fixture("conversion"));
    let e = r.explain("username").unwrap();
    assert_eq!(e.jsonpath, format!("{ACTIVE_EMPLOYMENT}.userNav.username"));
    assert_eq!(
        e.matched,
        vec!["$['employmentNav']['results'][0]['userNav']['username']".to_string()]
    );
    assert_eq!(e.raw, Some(serde_json::json!("cdubois")));
    let e = r.explain("middleName").unwrap();
    assert!(e.matched.is_empty());
    assert_eq!(e.raw, None);
    // Same values as the fast path.
    let fast = flow.source.extract(&fixture("conversion"));
    for (name, v) in fast.iter() {
        assert_eq!(r.value(name), Some(v), "{name}");
    }
}
