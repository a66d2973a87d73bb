//! Query option parsing and `__next` links.

use sf_odata::edm::{EntityType, schema};
use sf_odata::query::{Format, Paging, QueryOptions};
use sf_odata::value::parse_day;

fn person() -> &'static EntityType {
    schema().entity("PerPerson").expect("PerPerson")
}

fn parse(q: &str) -> QueryOptions {
    QueryOptions::parse(q, person()).unwrap_or_else(|e| panic!("{q}: {e}"))
}

fn err(q: &str) -> sf_odata::ODataError {
    match QueryOptions::parse(q, person()) {
        Ok(_) => panic!("{q} should fail"),
        Err(e) => e,
    }
}

const ENTRA_EXPAND: &str = "employmentNav/userNav,employmentNav/jobInfoNav,personalInfoNav,personEmpTerminationInfoNav,phoneNav,emailNav,employmentNav/jobInfoNav/companyNav/countryOfRegistrationNav,employmentNav/jobInfoNav/divisionNav,employmentNav/jobInfoNav/departmentNav";

#[test]
fn entra_full_sync_request() {
    let raw = format!(
        "$format=json&$filter=(personEmpTerminationInfoNav/activeEmploymentsCount%20ne%20null)%20and%20(lastModifiedDateTime%20le%20datetimeoffset'2024-05-03T00:00:00Z')&$expand={ENTRA_EXPAND}&customPageSize=100"
    );
    let q = parse(&raw);
    assert_eq!(q.format, Some(Format::Json));
    assert_eq!(q.custom_page_size, Some(100));
    assert!(q.filter.is_some());
    let names =
        |t: &sf_odata::ExpandTree| t.children.iter().map(|(n, _)| n.name).collect::<Vec<_>>();
    assert_eq!(
        names(&q.expand),
        ["employmentNav", "personalInfoNav", "personEmpTerminationInfoNav", "phoneNav", "emailNav"]
    );
    let emp = q.expand.child("employmentNav").expect("employmentNav");
    assert_eq!(names(emp), ["userNav", "jobInfoNav"]);
    let job = emp.child("jobInfoNav").expect("jobInfoNav");
    assert_eq!(names(job), ["companyNav", "divisionNav", "departmentNav"]);
    assert_eq!(names(job.child("companyNav").expect("companyNav")), ["countryOfRegistrationNav"]);
    assert_eq!(q.expand.len(), 11);
}

#[test]
fn entra_pre_hire_request_with_plus_for_space() {
    let q = parse(
        "$format=json&$filter=(personIdExternal+in+'1234'+and+employmentNav/userNav/status+in+'t','f','e')&asOfDate=2023-06-01&$expand=employmentNav/userNav",
    );
    assert_eq!(q.as_of_date, Some(parse_day("2023-06-01").expect("day")));
    assert!(q.filter.is_some());
}

#[test]
fn every_option() {
    let q = parse(
        "$select=personIdExternal,employmentNav/userNav/username,emailNav&$top=5&$skip=10&$orderby=personIdExternal%20desc,employmentNav/startDate&$inlinecount=allpages&$skiptoken=abc&fromDate=1900-01-01&toDate=9999-12-31&processInactiveEmployees=true",
    );
    let sel = q.select.as_ref().expect("select");
    assert!(sel.has_property("personIdExternal"));
    assert!(!sel.has_property("personId"));
    let emp = sel.nav("employmentNav").expect("employmentNav selected").expect("nested selection");
    let user = emp.nav("userNav").expect("userNav").expect("nested");
    assert!(user.has_property("username") && !user.has_property("status"));
    assert_eq!(sel.nav("emailNav"), Some(None));
    assert_eq!(sel.nav("phoneNav"), None);
    assert_eq!((q.top, q.skip), (Some(5), Some(10)));
    assert_eq!(q.orderby.len(), 2);
    assert!(q.orderby[0].descending && !q.orderby[1].descending);
    assert_eq!(q.orderby[1].path, ["employmentNav", "startDate"]);
    assert!(q.inline_count);
    assert_eq!(q.paging, None);
    assert_eq!(parse("paging=cursor").paging, Some(Paging::Cursor));
    assert_eq!(q.skiptoken.as_deref(), Some("abc"));
    assert_eq!(q.from_date, Some(parse_day("1900-01-01").expect("day")));
    assert_eq!(q.to_date, Some(parse_day("9999-12-31").expect("day")));
    assert_eq!(q.raw.last(), Some(&("processInactiveEmployees".to_owned(), "true".to_owned())));

    let star = parse("$select=*");
    assert!(star.select.expect("select").has_property("dateOfBirth"));
    assert_eq!(parse("paging=SNAPSHOT").paging, Some(Paging::Snapshot));
    assert_eq!(parse("$format=atom").format, Some(Format::Atom));
    assert!(parse("").filter.is_none());
    // A bare nav plus a deeper path still selects the whole nav.
    let both = parse("$select=employmentNav,employmentNav/userId").select.expect("select");
    assert_eq!(both.nav("employmentNav"), Some(None));
}

#[test]
fn option_errors() {
    let cases: &[(&str, u16, &str, &str)] = &[
        ("$foo=1", 400, "COE_GENERAL_BAD_REQUEST", "Unknown system query option: $foo"),
        (
            "$select=nosuch",
            400,
            "COE_PROPERTY_NOT_FOUND",
            "[COE0021]Invalid property names: PerPerson/nosuch.",
        ),
        (
            "$select=employmentNav/jobInfoNav/personIdExternal",
            400,
            "COE_PROPERTY_NOT_FOUND",
            "[COE0021]Invalid property names: EmpJob/personIdExternal.",
        ),
        (
            "$select=personIdExternal/x",
            400,
            "COE_PROPERTY_NOT_FOUND",
            "[COE0021]Invalid property names: PerPerson/personIdExternal/x.",
        ),
        (
            "$expand=employmentNav/jobInfoNav/companyNav/nosuchNav",
            400,
            "COE_PROPERTY_NOT_FOUND",
            "[COE0021]Invalid property names: FOCompany/nosuchNav.",
        ),
        (
            // KBA-2584770: expanding a scalar is a bad property expression.
            "$expand=personId",
            400,
            "COE_BAD_PROPERTY_EXPRESSION",
            "[COE0003]Bad property expression: personId; cannot expand non-navigation property: PerPerson/personId",
        ),
        (
            "$expand=nosuchNav",
            400,
            "COE_PROPERTY_NOT_FOUND",
            "[COE0021]Invalid property names: PerPerson/nosuchNav.",
        ),
        (
            "$top=-1",
            400,
            "COE_GENERAL_BAD_REQUEST",
            "Invalid value '-1' for $top: expected a non-negative integer.",
        ),
        (
            "$skip=x",
            400,
            "COE_GENERAL_BAD_REQUEST",
            "Invalid value 'x' for $skip: expected a non-negative integer.",
        ),
        (
            "customPageSize=0",
            400,
            "COE_GENERAL_BAD_REQUEST",
            "Invalid value '0' for customPageSize: expected a positive integer.",
        ),
        (
            "paging=fast",
            400,
            "COE_GENERAL_BAD_REQUEST",
            "Invalid value 'fast' for paging: expected snapshot or cursor.",
        ),
        (
            "$format=csv",
            400,
            "COE_GENERAL_BAD_REQUEST",
            "Invalid value 'csv' for $format: expected json or atom.",
        ),
        (
            "$inlinecount=some",
            400,
            "COE_GENERAL_BAD_REQUEST",
            "Invalid value 'some' for $inlinecount: expected allpages or none.",
        ),
        (
            "asOfDate=2023-6-1",
            400,
            "COE_GENERAL_BAD_REQUEST",
            "Invalid date value for asOfDate: '2023-6-1' (expected yyyy-MM-dd)",
        ),
        (
            "paging=snapshot&$top=10",
            400,
            "COE_GENERAL_BAD_REQUEST",
            "Unsupported combination of query options: paging=snapshot does not support $top or $skip",
        ),
        (
            "$skip=10&paging=snapshot",
            400,
            "COE_GENERAL_BAD_REQUEST",
            "Unsupported combination of query options: paging=snapshot does not support $top or $skip",
        ),
        (
            "paging=cursor&$orderby=personIdExternal",
            400,
            "COE_GENERAL_BAD_REQUEST",
            "Unsupported combination of query options: paging=cursor does not support $orderby",
        ),
        (
            "asOfDate=2024-01-01&fromDate=2023-01-01",
            400,
            "COE_GENERAL_BAD_REQUEST",
            "Unsupported combination of query options: use either asOfDate or fromDate/toDate, not both",
        ),
        (
            "$orderby=personIdExternal sideways",
            400,
            "COE_GENERAL_BAD_REQUEST",
            "Invalid value 'personIdExternal sideways' for $orderby: expected path [asc|desc].",
        ),
        (
            "$top=1&$top=2",
            400,
            "COE_GENERAL_BAD_REQUEST",
            "Invalid value '2' for $top: expected a single occurrence of the option.",
        ),
        (
            "$filter=%FF",
            400,
            "COE_GENERAL_BAD_REQUEST",
            "Invalid value '%FF' for query string: expected percent-encoded UTF-8.",
        ),
        (
            "$filter=nosuch%20eq%201",
            400,
            "COE_PROPERTY_NOT_FOUND",
            "[COE0021]Invalid property names: PerPerson/nosuch.",
        ),
    ];
    for (q, status, code, message) in cases {
        let e = err(q);
        assert_eq!(
            (e.status, e.code.as_str(), e.message.as_str()),
            (*status, *code, *message),
            "{q}"
        );
    }
}

#[test]
fn next_link_reencodes_and_replaces_skiptoken() {
    let q = parse(
        "$format=json&customPageSize=100&$filter=personIdExternal+in+'O''Neil','a%26b'&$expand=employmentNav/userNav&$skiptoken=old",
    );
    assert_eq!(
        q.next_link(
            "https://api4.successfactors.com:443",
            "/odata/v2/PerPerson",
            "eyJzdGFydFJvdyI6MTAwfQ=="
        ),
        "https://api4.successfactors.com:443/odata/v2/PerPerson?$format=json&customPageSize=100&$filter=personIdExternal%20in%20'O''Neil','a%26b'&$expand=employmentNav/userNav&$skiptoken=eyJzdGFydFJvdyI6MTAwfQ=="
    );
    // The link parses back to the same options.
    let link = q.next_link("https://h", "odata/v2/PerPerson", "a+b/c");
    let (base, query) = link.split_once('?').expect("query");
    assert_eq!(base, "https://h/odata/v2/PerPerson");
    let again = parse(query);
    assert_eq!(again.skiptoken.as_deref(), Some("a+b/c"));
    assert_eq!(again.raw[..4], q.raw[..4]);
    // Non-ASCII survives.
    let u = parse("$filter=personIdExternal%20eq%20'M%C3%BCller'");
    assert!(u.next_link("https://h", "/p", "t").contains("M%C3%BCller"));
}
