//! Every error kind: status, code, message and the JSON body.

use sf_odata::ODataError;

#[test]
fn error_kinds() {
    let cases: Vec<(ODataError, u16, &str, &str)> = vec![
        (
            ODataError::property_not_found("EmpJob", &["personIdExternal"]),
            400,
            "COE_PROPERTY_NOT_FOUND",
            "[COE0021]Invalid property names: EmpJob/personIdExternal.",
        ),
        (
            ODataError::property_not_found("User", &["a", "b"]),
            400,
            "COE_PROPERTY_NOT_FOUND",
            "[COE0021]Invalid property names: User/a,User/b.",
        ),
        (
            ODataError::entity_set_not_found("FormHeader"),
            404,
            "COE_ENTITY_NOT_FOUND",
            "[COE0007]invalid entity (or function) name: FormHeader",
        ),
        (
            ODataError::bad_filter(12, "')'", "the end of the filter"),
            400,
            "COE_GENERAL_BAD_REQUEST",
            "[COE0019]Invalid $filter at position 12: expected ')', found the end of the filter.",
        ),
        (
            ODataError::bad_date("asOfDate", "'2024-1-1' (expected yyyy-MM-dd)"),
            400,
            "COE_GENERAL_BAD_REQUEST",
            "Invalid date value for asOfDate: '2024-1-1' (expected yyyy-MM-dd)",
        ),
        (
            ODataError::unsupported_combination("paging=snapshot does not support $top or $skip"),
            400,
            "COE_GENERAL_BAD_REQUEST",
            "Unsupported combination of query options: paging=snapshot does not support $top or $skip",
        ),
        (
            ODataError::expand_limit(300_000),
            400,
            "COE0052",
            "[COE0052]Expand limit of 300000 records was exceeded.",
        ),
        (
            ODataError::unauthorized(),
            401,
            "LGN0011",
            "Authentication failed. You have entered an incorrect username or password (status code = 4).",
        ),
        (
            ODataError::token_expired(),
            403,
            "LGN0022",
            "[LGN0022]The access token has expired. Please request a new access token.",
        ),
        (
            ODataError::forbidden("Check role X."),
            403,
            "ODATA_ADMIN_PERM_REQUIRED",
            "[LGN0002]Authentication failed, user doesn't have the OData Admin access permission. Check role X.",
        ),
        (
            ODataError::metadata_not_acceptable(),
            406,
            "COE_GENERAL_NOT_ACCEPTABLE",
            "$metadata is only available as XML (EDMX); JSON is not supported.",
        ),
        (
            ODataError::unknown_system_option("$foo"),
            400,
            "COE_GENERAL_BAD_REQUEST",
            "Unknown system query option: $foo",
        ),
        (
            ODataError::entity_not_found("PerPerson", "('x')"),
            404,
            "COE_RESOURCE_NOT_FOUND",
            "Resource not found for the segment 'PerPerson('x')'.",
        ),
    ];
    for (e, status, code, message) in cases {
        assert_eq!((e.status, e.code.as_str(), e.message.as_str()), (status, code, message));
        let body: serde_json::Value = serde_json::from_str(&e.to_json()).expect("valid JSON");
        assert_eq!(body["error"]["code"], code);
        assert_eq!(body["error"]["message"]["lang"], "en-US");
        assert_eq!(body["error"]["message"]["value"], message);
    }
}

#[test]
fn json_body_is_exact() {
    assert_eq!(
        ODataError::property_not_found("EmpJob", &["personIdExternal"]).to_json(),
        r#"{"error":{"code":"COE_PROPERTY_NOT_FOUND","message":{"lang":"en-US","value":"[COE0021]Invalid property names: EmpJob/personIdExternal."}}}"#
    );
}
