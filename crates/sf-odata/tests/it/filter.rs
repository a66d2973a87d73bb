//! `$filter`: operators, Entra's three queries verbatim, correlated binding,
//! errors.

use crate::common;

use common::*;
use sf_odata::edm::{EntityType, schema};
use sf_odata::value::ODataValue;
use sf_odata::{Filter, ODataError};

fn person() -> &'static EntityType {
    schema().entity("PerPerson").expect("PerPerson")
}

fn eval(src: &str, node: &Toy) -> bool {
    match Filter::parse(src, person()) {
        Ok(f) => f.matches(node),
        Err(e) => panic!("filter {src:?} failed to parse: {e}"),
    }
}

fn err(src: &str) -> ODataError {
    match Filter::parse(src, person()) {
        Ok(_) => panic!("filter {src:?} should not parse"),
        Err(e) => e,
    }
}

#[test]
fn operators_and_functions() {
    let w = worker("103208");
    let cases: &[(&str, bool)] = &[
        ("personIdExternal eq '103208'", true),
        ("personIdExternal eq '103209'", false),
        ("personIdExternal ne '103209'", true),
        ("personId eq 467", true),
        ("personId eq 467L", true),
        ("personId eq '467'", true),
        ("personId gt 466 and personId lt 468", true),
        ("personId ge 467 and personId le 467", true),
        ("personId gt 467", false),
        ("personId lt 467", false),
        ("dateOfBirth lt datetime'1970-01-01T00:00:00'", true),
        ("dateOfBirth eq datetimeoffset'1960-05-01T00:00:00Z'", true),
        ("dateOfBirth eq datetimeoffset'1960-05-01T02:00:00+02:00'", true),
        ("dateOfBirth eq '1960-05-01'", true),
        ("lastModifiedDateTime ge datetime'2024-05-02T08:30'", true),
        ("lastModifiedDateTime gt datetimeoffset'2024-05-02T08:30:00.001Z'", false),
        ("personIdExternal in '1','103208','3'", true),
        ("personIdExternal in '1','2'", false),
        ("not (personIdExternal eq '103208')", false),
        ("not personIdExternal eq '1'", true),
        ("personIdExternal eq '1' or personId eq 467", true),
        ("personIdExternal eq '1' or personId eq 1", false),
        ("(personIdExternal eq '103208') and (personId eq 1 or personId eq 467)", true),
        ("startswith(personIdExternal,'1032')", true),
        ("startswith(personIdExternal,'2')", false),
        ("endswith(personIdExternal,'208')", true),
        ("substringof('320',personIdExternal)", true),
        ("substringof('999',personIdExternal)", false),
        ("not startswith(personIdExternal,'9')", true),
        ("startswith(personIdExternal,'1032') eq true", true),
        ("tolower(personalInfoNav/lastName) eq 'müller'", true),
        ("toupper(personalInfoNav/firstName) eq 'ANA'", true),
        ("trim(concat(' ',personIdExternal)) eq '103208'", true),
        ("length(personIdExternal) eq 6", true),
        ("indexof(personIdExternal,'32') eq 2", true),
        ("concat(personalInfoNav/firstName,personalInfoNav/lastName) eq 'AnaMüller'", true),
        ("personalInfoNav/lastName like 'Mü%'", true),
        ("personalInfoNav/lastName like '%x%'", false),
        ("emailNav/isPrimary eq true", true),
        ("emailNav/isPrimary", true),
        ("emailNav/emailType eq 8448", true),
        ("emailNav/emailAddress eq 'ana.mueller@example.com'", true),
        ("personEmpTerminationInfoNav/activeEmploymentsCount ne null", true),
        ("personEmpTerminationInfoNav/activeEmploymentsCount eq 1", true),
        ("personEmpTerminationInfoNav/latestTerminationDate eq null", true),
        (
            "personEmpTerminationInfoNav/latestTerminationDate lt datetime'2030-01-01T00:00:00'",
            false,
        ),
        ("employmentNav/userNav/username eq 'amueller'", true),
        ("employmentNav/jobInfoNav/jobTitle eq 'Senior Engineer'", true),
        ("employmentNav/jobInfoNav/seqNumber eq 1L", true),
        ("countryOfBirthNav/code eq null", true),
        ("countryOfBirthNav/code ne null", false),
        ("PERSONIDEXTERNAL eq '103208'", false),
    ];
    for (src, want) in cases {
        if src.starts_with("PERSON") {
            continue; // property names are case-sensitive: covered in errors()
        }
        assert_eq!(eval(src, &w), *want, "{src}");
    }
    assert_eq!(err("PERSONIDEXTERNAL eq '103208'").code, "COE_PROPERTY_NOT_FOUND");
}

#[test]
fn keywords_are_case_insensitive_and_whitespace_free() {
    let w = worker("1");
    assert!(eval("personIdExternal EQ '1' AND NOT (personId Eq 1)", &w));
    assert!(eval("(personIdExternal eq '1')and(personId eq 467)", &w));
    assert!(eval("  personIdExternal\teq\n'1'  ", &w));
}

#[test]
fn strings_with_quotes_and_non_ascii() {
    let w = Toy::new("PerPerson").s("personIdExternal", "O'Neil");
    assert!(eval("personIdExternal eq 'O''Neil'", &w));
    assert!(eval("personIdExternal in 'x','O''Neil'", &w));
    assert!(!eval("personIdExternal eq 'O'' Neil'", &w));
    let u = Toy::new("PerPerson").s("personIdExternal", "Zoë 😀");
    assert!(eval("personIdExternal eq 'Zoë 😀'", &u));
}

const NOW: &str = "2024-05-03T00:00:00Z";

fn entra_full_sync(now: &str) -> String {
    format!(
        "(personEmpTerminationInfoNav/activeEmploymentsCount ne null) and (lastModifiedDateTime le datetimeoffset'{now}')"
    )
}

/// Microsoft's delta template, verbatim (including its missing `or`),
/// with the placeholders filled in.
fn entra_delta(last: &str, now: &str, prev_day_start: &str, prev_day_end: &str) -> String {
    include_str!("../fixtures/entra_delta_filter.txt")
        .replace("<LastExecutionTimestamp>", last)
        .replace("<CurrentExecutionTime>", now)
        .replace("<previousDayDateStartTime24hrs>", prev_day_start)
        .replace("<previousDayDateTime24hrs>", prev_day_end)
}

const PRE_HIRE: &str =
    "(personIdExternal in '1234' and employmentNav/userNav/status in 't','f','e')";

#[test]
fn entra_full_sync_query() {
    let src = entra_full_sync(NOW);
    assert!(eval(&src, &worker("1")));
    // Modified after the execution time.
    let later = worker("1").set("lastModifiedDateTime", dto("2024-05-03T00:00:01Z"));
    assert!(!eval(&src, &later));
    // No termination info at all: Entra's full sync skips the person.
    let mut no_term = worker("1");
    no_term.navs.retain(|(n, _)| *n != "personEmpTerminationInfoNav");
    assert!(!eval(&src, &no_term));
}

/// A worker whose root, personal, email, phone, user and employment records
/// are old; only the job history varies.
fn quiet_worker(jobs: Vec<Toy>) -> Toy {
    set_jobs(worker("1").set("lastModifiedDateTime", dto("2020-01-01T00:00:00Z")), jobs)
}

fn set_jobs(mut w: Toy, jobs: Vec<Toy>) -> Toy {
    let mut jobs = Some(jobs);
    for (name, children) in w.navs.iter_mut() {
        if *name == "employmentNav"
            && let Some(e) = children.first_mut()
        {
            for (n, list) in e.navs.iter_mut() {
                if *n == "jobInfoNav" {
                    *list = jobs.take().unwrap_or_default();
                }
            }
        }
    }
    w
}

#[test]
fn entra_delta_query_parses_verbatim_and_correlates_job_slices() {
    // Parses as written (two adjacent parenthesised groups = `or`).
    let delta = |last: &str, now: &str| {
        entra_delta(last, now, "2024-05-01T00:00:00Z", "2024-05-01T23:59:59Z")
    };
    let f = Filter::parse(&delta("2024-05-02T00:00:00Z", NOW), person())
        .expect("Entra's delta template parses");

    // A future-dated promotion entered on 2024-05-02, effective 2024-07-01.
    let future = quiet_worker(vec![
        job("1", 1, "2023-01-01", "2024-06-30", "2023-01-01T09:00:00Z", "Engineer"),
        job("1", 1, "2024-07-01", "9999-12-31", "2024-05-02T08:30:00Z", "Senior Engineer"),
    ]);
    // Not yet: the modified slice starts after the window, and the slice that
    // is current was not modified in it. A filter that bound each
    // `jobInfoNav/…` comparison independently would match here.
    assert!(!f.matches(&future));

    // The day it becomes effective, the startDate window picks it up.
    let on_start = Filter::parse(&delta("2024-06-30T12:00:00Z", "2024-07-01T12:00:00Z"), person())
        .expect("parses");
    assert!(on_start.matches(&future));

    // A change effective immediately is delivered by the modified window.
    let immediate = quiet_worker(vec![
        job("1", 1, "2023-01-01", "2024-05-01", "2023-01-01T09:00:00Z", "Engineer"),
        job("1", 1, "2024-05-02", "9999-12-31", "2024-05-02T08:30:00Z", "Senior Engineer"),
    ]);
    assert!(f.matches(&immediate));

    // Nothing changed at all.
    let idle = quiet_worker(vec![job(
        "1",
        1,
        "2023-01-01",
        "9999-12-31",
        "2023-01-01T09:00:00Z",
        "Engineer",
    )]);
    assert!(!f.matches(&idle));

    // A plain lastModifiedDateTime window sees every slice, including one
    // that is not the slice a response returns (KBA-2920680).
    let plain = Filter::parse(
        "employmentNav/jobInfoNav/lastModifiedDateTime ge datetimeoffset'2024-05-02T00:00:00Z'",
        person(),
    )
    .expect("parses");
    assert!(plain.matches(&future));
}

#[test]
fn entra_delta_termination_window() {
    let mut w = quiet_worker(vec![job(
        "1",
        1,
        "2023-01-01",
        "9999-12-31",
        "2023-01-01T09:00:00Z",
        "Engineer",
    )]);
    for (n, list) in w.navs.iter_mut() {
        if *n == "personEmpTerminationInfoNav" {
            *list = vec![
                Toy::new("PersonEmpTerminationInfo")
                    .p("activeEmploymentsCount", ODataValue::Int32(0))
                    .p("latestTerminationDate", date("2024-05-01")),
            ];
        }
    }
    let yesterday =
        entra_delta("2024-05-02T00:00:00Z", NOW, "2024-05-01T00:00:00Z", "2024-05-01T23:59:59Z");
    assert!(eval(&yesterday, &w));
    let other_day =
        entra_delta("2024-05-02T00:00:00Z", NOW, "2024-04-20T00:00:00Z", "2024-04-20T23:59:59Z");
    assert!(!eval(&other_day, &w));
}

fn pre_hire(status: &str, id: &str) -> Toy {
    Toy::new("PerPerson").s("personIdExternal", id).nav(
        "employmentNav",
        vec![
            Toy::new("EmpEmployment")
                .s("userId", id)
                .one("userNav", Toy::new("User").s("userId", id).s("status", status)),
        ],
    )
}

#[test]
fn entra_pre_hire_query_uses_status_short_codes() {
    let f = Filter::parse(PRE_HIRE, person()).expect("Entra's pre-hire query parses");
    assert!(f.matches(&pre_hire("active_external_suite", "1234")));
    assert!(f.matches(&pre_hire("active", "1234")));
    assert!(f.matches(&pre_hire("inactive", "1234")));
    assert!(!f.matches(&pre_hire("inactive_external_suite", "1234")));
    assert!(!f.matches(&pre_hire("active", "9999")));
    // Long names and the short codes are interchangeable.
    assert!(eval("employmentNav/userNav/status eq 'e'", &pre_hire("active_external_suite", "1")));
    assert!(eval(
        "employmentNav/userNav/status eq 'active_external_suite'",
        &pre_hire("active_external_suite", "1")
    ));
    // The mapping is specific to User.status.
    assert!(!eval("personIdExternal eq 't'", &pre_hire("active", "active")));
}

#[test]
fn correlated_binding_semantics() {
    let w = set_jobs(
        worker("1"),
        vec![
            job("1", 1, "2023-01-01", "2023-12-31", "2023-01-01T00:00:00Z", "A"),
            job("1", 2, "2024-01-01", "9999-12-31", "2024-01-01T00:00:00Z", "B"),
        ],
    );
    let cases: &[(&str, bool)] = &[
        // The same slice must satisfy both sides of `and`.
        (
            "employmentNav/jobInfoNav/jobTitle eq 'A' and employmentNav/jobInfoNav/seqNumber eq 2L",
            false,
        ),
        (
            "employmentNav/jobInfoNav/jobTitle eq 'B' and employmentNav/jobInfoNav/seqNumber eq 2L",
            true,
        ),
        // `or` branches bind independently.
        (
            "employmentNav/jobInfoNav/jobTitle eq 'A' or employmentNav/jobInfoNav/seqNumber eq 2L",
            true,
        ),
        // Nested `or` inside `and`: the `and` binds one slice for both operands.
        (
            "employmentNav/jobInfoNav/jobTitle eq 'A' and (employmentNav/jobInfoNav/seqNumber eq 2L or employmentNav/jobInfoNav/seqNumber eq 3L)",
            false,
        ),
        // `not` is "exists a slice for which the operand is false".
        ("not (employmentNav/jobInfoNav/jobTitle eq 'A')", true),
        ("not (employmentNav/jobInfoNav/jobTitle ne 'Z')", false),
        // Different navigations under one `and` are independent elements.
        ("employmentNav/jobInfoNav/jobTitle eq 'A' and emailNav/isPrimary eq true", true),
        // Parent and child paths share the parent's binding.
        ("employmentNav/userId eq '1' and employmentNav/jobInfoNav/jobTitle eq 'B'", true),
    ];
    for (src, want) in cases {
        assert_eq!(eval(src, &w), *want, "{src}");
    }

    // Two employments: the job condition and the employment condition must
    // hold for the same employment.
    let two = Toy::new("PerPerson").nav(
        "employmentNav",
        vec![
            Toy::new("EmpEmployment").s("userId", "u1").nav(
                "jobInfoNav",
                vec![job("u1", 1, "2020-01-01", "9999-12-31", "2020-01-01T00:00:00Z", "X")],
            ),
            Toy::new("EmpEmployment").s("userId", "u2").nav(
                "jobInfoNav",
                vec![job("u2", 1, "2020-01-01", "9999-12-31", "2020-01-01T00:00:00Z", "Y")],
            ),
        ],
    );
    assert!(!eval(
        "employmentNav/userId eq 'u1' and employmentNav/jobInfoNav/jobTitle eq 'Y'",
        &two
    ));
    assert!(eval(
        "employmentNav/userId eq 'u2' and employmentNav/jobInfoNav/jobTitle eq 'Y'",
        &two
    ));
    assert!(eval("employmentNav/userId eq 'u1' or employmentNav/jobInfoNav/jobTitle eq 'Y'", &two));
}

#[test]
fn empty_navigation_binds_a_null_element() {
    let bare = Toy::new("PerPerson").s("personIdExternal", "1");
    assert!(eval("emailNav/emailAddress eq null", &bare));
    assert!(!eval("emailNav/emailAddress ne null", &bare));
    assert!(!eval("emailNav/emailAddress eq 'x'", &bare));
    assert!(eval("emailNav/emailAddress ne 'x'", &bare));
    assert!(!eval("emailNav/lastModifiedDateTime ge datetimeoffset'2000-01-01T00:00:00Z'", &bare));
    assert!(eval("employmentNav/jobInfoNav/jobTitle eq null", &bare));
    assert!(!eval("startswith(emailNav/emailAddress,'a')", &bare));
    assert!(eval("not startswith(emailNav/emailAddress,'a')", &bare));
}

#[test]
fn adjacent_groups_only_between_parenthesised_groups() {
    let w = worker("1");
    assert!(eval("(personIdExternal eq 'x') (personIdExternal eq '1')", &w));
    assert!(!eval("(personIdExternal eq 'x') (personIdExternal eq 'y')", &w));
    for bad in [
        "personIdExternal eq 'x' (personIdExternal eq '1')",
        "(personIdExternal eq 'x') personIdExternal eq '1'",
        "startswith(personIdExternal,'x') (personIdExternal eq '1')",
    ] {
        let e = err(bad);
        assert_eq!((e.status, e.code.as_str()), (400, "COE_GENERAL_BAD_REQUEST"), "{bad}");
    }
}

#[test]
fn errors() {
    let cases: &[(&str, u16, &str, &str)] = &[
        (
            "employmentNav/jobInfoNav/personIdExternal eq 'x'",
            400,
            "COE_PROPERTY_NOT_FOUND",
            "[COE0021]Invalid property names: EmpJob/personIdExternal.",
        ),
        (
            "nosuch eq 1",
            400,
            "COE_PROPERTY_NOT_FOUND",
            "[COE0021]Invalid property names: PerPerson/nosuch.",
        ),
        (
            "noNav/x eq 1",
            400,
            "COE_PROPERTY_NOT_FOUND",
            "[COE0021]Invalid property names: PerPerson/noNav.",
        ),
        (
            "(personIdExternal eq 'x'",
            400,
            "COE_GENERAL_BAD_REQUEST",
            "[COE0019]Invalid $filter at position 24: expected ')', found the end of the filter.",
        ),
        (
            "personIdExternal eq",
            400,
            "COE_GENERAL_BAD_REQUEST",
            "[COE0019]Invalid $filter at position 19: expected a name, literal or '(', found the end of the filter.",
        ),
        (
            "personIdExternal 'x'",
            400,
            "COE_GENERAL_BAD_REQUEST",
            "[COE0019]Invalid $filter at position 17: expected a comparison operator (eq, ne, lt, le, gt, ge, like, in), found literal 'x'.",
        ),
        (
            "personIdExternal eq 'x' xor personId eq 1",
            400,
            "COE_GENERAL_BAD_REQUEST",
            "[COE0019]Invalid $filter at position 24: expected 'and', 'or' or the end of the filter, found 'xor'.",
        ),
        (
            "personIdExternal eq 'x",
            400,
            "COE_GENERAL_BAD_REQUEST",
            "[COE0019]Invalid $filter at position 20: expected a closing quote for the string literal, found the end of the filter.",
        ),
        (
            "personIdExternal in ('a','b')",
            400,
            "COE_GENERAL_BAD_REQUEST",
            "[COE0019]Invalid $filter at position 20: expected a literal after 'in' (SuccessFactors syntax: x in 'a','b'), found '('.",
        ),
        (
            "personIdExternal eq 'x' & personId eq 1",
            400,
            "COE_GENERAL_BAD_REQUEST",
            "[COE0019]Invalid $filter at position 24: expected a name, literal or '(', found '&'.",
        ),
        (
            "lastModifiedDateTime ge datetimeoffset'2024-01-01T00:00:00'",
            400,
            "COE_GENERAL_BAD_REQUEST",
            "Invalid date value for datetimeoffset literal: invalid datetimeoffset literal '2024-01-01T00:00:00': expected yyyy-MM-ddTHH:mm[:ss[.fffffff]] followed by Z or ±hh:mm",
        ),
        (
            "lastModifiedDateTime ge datetime'2024-02-30T00:00:00'",
            400,
            "COE_GENERAL_BAD_REQUEST",
            "Invalid date value for datetime literal: invalid datetime literal '2024-02-30T00:00:00': expected yyyy-MM-ddTHH:mm[:ss[.fffffff]]",
        ),
        (
            "lastModifiedDateTime ge 'yesterday'",
            400,
            "COE_GENERAL_BAD_REQUEST",
            "Invalid date value for PerPerson/lastModifiedDateTime: yesterday",
        ),
        (
            "personId eq 'abc'",
            400,
            "COE_GENERAL_BAD_REQUEST",
            "[COE0003]Bad property expression: PerPerson/personId is Edm.Int64 and cannot be compared with 'abc'",
        ),
        (
            "personIdExternal",
            400,
            "COE_GENERAL_BAD_REQUEST",
            "[COE0019]Invalid $filter at position 16: expected a comparison operator (eq, ne, lt, le, gt, ge, like, in), found the end of the filter.",
        ),
        (
            "'x'",
            400,
            "COE_GENERAL_BAD_REQUEST",
            "[COE0019]Invalid $filter at position 3: expected a comparison operator (eq, ne, lt, le, gt, ge, like, in), found the end of the filter.",
        ),
        (
            "length(personIdExternal) or true",
            400,
            "COE_GENERAL_BAD_REQUEST",
            "[COE0019]Invalid $filter at position 25: expected a comparison operator (eq, ne, lt, le, gt, ge, like, in), found 'or'.",
        ),
        (
            "employmentNav eq null",
            400,
            "COE_GENERAL_BAD_REQUEST",
            "[COE0003]Bad property expression: PerPerson/employmentNav is a navigation property; filter on one of its properties",
        ),
        (
            "startswith(personIdExternal) eq true",
            400,
            "COE_GENERAL_BAD_REQUEST",
            "[COE0003]Bad property expression: startswith takes 2 argument(s), got 1",
        ),
        (
            "frobnicate(personIdExternal)",
            400,
            "COE_GENERAL_BAD_REQUEST",
            "[COE0019]Invalid $filter at position 0: expected a known function (startswith, endswith, substringof, tolower, toupper, trim, length, indexof, concat), found 'frobnicate'.",
        ),
        (
            "guid'abc' eq personIdExternal",
            400,
            "COE_GENERAL_BAD_REQUEST",
            "[COE0019]Invalid $filter at position 0: expected datetime'…' or datetimeoffset'…', found guid'…'.",
        ),
        (
            "",
            400,
            "COE_GENERAL_BAD_REQUEST",
            "[COE0019]Invalid $filter at position 0: expected a name, literal or '(', found the end of the filter.",
        ),
    ];
    for (src, status, code, message) in cases {
        let e = err(src);
        assert_eq!(
            (e.status, e.code.as_str(), e.message.as_str()),
            (*status, *code, *message),
            "{src}"
        );
    }
    let deep = format!("{}personIdExternal eq 'x'{}", "(".repeat(500), ")".repeat(500));
    assert_eq!(err(&deep).code, "COE_GENERAL_BAD_REQUEST");
    let nots = format!("{}personIdExternal eq 'x'", "not ".repeat(500));
    assert_eq!(err(&nots).code, "COE_GENERAL_BAD_REQUEST");
}

#[test]
fn long_or_chains_and_in_lists_are_fine() {
    let w = worker("777");
    let chain: Vec<String> = (0..3000).map(|i| format!("personIdExternal eq '{i}'")).collect();
    assert!(eval(&chain.join(" or "), &w));
    let list: Vec<String> = (0..3000).map(|i| format!("'{i}'")).collect();
    assert!(eval(&format!("personIdExternal in {}", list.join(",")), &w));
    assert!(!eval(&format!("personIdExternal in {}", list[..700].join(",")), &w));
}

#[test]
fn filters_bind_on_other_entity_sets() {
    let user = schema().entity("User").expect("User");
    let f = Filter::parse("status in 't','e' and empInfo/personNav/personIdExternal eq '1'", user)
        .expect("parses");
    let u = Toy::new("User").s("status", "active").one(
        "empInfo",
        Toy::new("EmpEmployment")
            .one("personNav", Toy::new("PerPerson").s("personIdExternal", "1")),
    );
    assert!(f.matches(&u));
    let e = Filter::parse("manager/nosuch eq 1", user).expect_err("unknown property");
    assert_eq!(e.message, "[COE0021]Invalid property names: User/nosuch.");
}
