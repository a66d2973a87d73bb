//! Property tests: arbitrary input to the parsers yields `Ok` or an
//! `ODataError`, never a panic; whatever parses also evaluates and renders.

use crate::common;

use common::worker;
use proptest::prelude::*;
use sf_odata::edm::schema;
use sf_odata::render::{RenderContext, write_single};
use sf_odata::{Filter, QueryOptions};

const TOKENS: &[&str] = &[
    "personIdExternal",
    "personId",
    "lastModifiedDateTime",
    "dateOfBirth",
    "employmentNav/jobInfoNav/startDate",
    "employmentNav/userNav/status",
    "emailNav/isPrimary",
    "personalInfoNav/lastName",
    "employmentNav",
    "personEmpTerminationInfoNav/activeEmploymentsCount",
    "nosuch",
    "employmentNav/nosuch",
    "/",
    "//",
    "eq",
    "ne",
    "lt",
    "le",
    "gt",
    "ge",
    "like",
    "in",
    "and",
    "or",
    "not",
    "null",
    "true",
    "false",
    "(",
    ")",
    "((",
    "))",
    ",",
    "'",
    "''",
    "'a'",
    "'O''Neil'",
    "'t'",
    "'e'",
    "'%'",
    "1",
    "-1",
    "1L",
    "1.5M",
    "2.5d",
    "99999999999999999999",
    "datetime'2024-01-01T00:00:00'",
    "datetimeoffset'2024-01-01T00:00:00Z'",
    "datetimeoffset'2024-01-01T00:00:00+05:30'",
    "datetime'",
    "datetimeoffset'x'",
    "guid'1'",
    "startswith(",
    "endswith(",
    "substringof(",
    "tolower(",
    "toupper(",
    "trim(",
    "length(",
    "indexof(",
    "concat(",
    "é",
    "😀",
    "\t",
    "\n",
    "$",
    "&",
    "=",
    "%",
    "%2",
    "%ZZ",
    "%C3%A9",
    "+",
];

fn soup() -> impl Strategy<Value = String> {
    prop::collection::vec((prop::sample::select(TOKENS), prop::bool::ANY), 0..40).prop_map(
        |items| {
            let mut s = String::new();
            for (t, space) in items {
                s.push_str(t);
                if space {
                    s.push(' ');
                }
            }
            s
        },
    )
}

const OPTS: &[&str] = &[
    "$filter",
    "$select",
    "$expand",
    "$top",
    "$skip",
    "$orderby",
    "$inlinecount",
    "$format",
    "$skiptoken",
    "customPageSize",
    "paging",
    "asOfDate",
    "fromDate",
    "toDate",
    "$bogus",
    "other",
    "",
];

fn query_soup() -> impl Strategy<Value = String> {
    prop::collection::vec((prop::sample::select(OPTS), prop_oneof![soup(), ".{0,20}"]), 0..6)
        .prop_map(|pairs| {
            pairs.into_iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&")
        })
}

fn check_filter(src: &str) {
    let person = schema().entity("PerPerson").expect("PerPerson");
    if let Ok(f) = Filter::parse(src, person) {
        let _ = f.matches(&worker("1"));
    }
}

fn check_query(raw: &str) {
    let person = schema().entity("PerPerson").expect("PerPerson");
    if let Ok(q) = QueryOptions::parse(raw, person) {
        if let Some(f) = &q.filter {
            let _ = f.matches(&worker("1"));
        }
        let ctx = RenderContext {
            service_root: "https://h/odata/v2",
            as_of_date: q.as_of_date,
            today: 0,
        };
        let mut out = String::new();
        write_single(&mut out, &worker("1"), &ctx, q.select.as_ref(), &q.expand);
        assert!(
            serde_json::from_str::<serde_json::Value>(&out).is_ok(),
            "invalid JSON for {raw:?}"
        );
        let _ = q.next_link("https://h", "/odata/v2/PerPerson", "t");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn filter_token_soup_never_panics(src in soup()) {
        check_filter(&src);
    }

    #[test]
    fn filter_random_text_never_panics(src in "\\PC{0,80}") {
        check_filter(&src);
    }

    #[test]
    fn query_soup_never_panics(raw in query_soup()) {
        check_query(&raw);
    }

    #[test]
    fn query_random_text_never_panics(raw in "\\PC{0,120}") {
        check_query(&raw);
    }
}
