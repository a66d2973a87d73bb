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
            // KBA-2545055: 400, not the 404 of the OData spec.
            ODataError::entity_set_not_found("FormHeader"),
            400,
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
            // The key predicate without its parentheses, which the message keeps.
            ODataError::entity_not_found("PerPerson", "'x'"),
            404,
            "COE_RESOURCE_NOT_FOUND",
            "Resource not found for the segment 'PerPerson('x')'.",
        ),
        (
            ODataError::entity_not_found(
                "EmpJob",
                "seqNumber=1L,startDate=datetime'2024-01-01T00:00:00',userId='u'",
            ),
            404,
            "COE_RESOURCE_NOT_FOUND",
            "Resource not found for the segment 'EmpJob(seqNumber=1L,startDate=datetime'2024-01-01T00:00:00',userId='u')'.",
        ),
        (
            ODataError::expand_non_navigation("PerPerson", "personId"),
            400,
            "COE_BAD_PROPERTY_EXPRESSION",
            "[COE0003]Bad property expression: personId; cannot expand non-navigation property: PerPerson/personId",
        ),
        (
            ODataError::upsert_too_large(1000),
            400,
            "BadRequestException",
            "Upsert content exceeds the limitation, the maximum size is 1000",
        ),
        (
            ODataError::upsert_invalid_value("status", "e", 0),
            500,
            "COE_GENERAL_SERVER_FAILURE",
            "[COE0019]Invalid property value. Property name:status. Property value:e.\n with the index 0",
        ),
        (
            ODataError::upsert_not_upsertable("createdDateTime", 2),
            400,
            "COE_PROPERTY_NOT_UPSERTABLE",
            "[COE0030]Property createdDateTime is not insertable. Please check the property setting in Admin Center > OData API Data Dictionary or the entity metadata. with the index 2",
        ),
        (
            ODataError::upsert_unknown_property("PerEmail", "emailAdress", 1),
            400,
            "COE_PROPERTY_NOT_FOUND",
            "[COE0021]Invalid property names: PerEmail/emailAdress. with the index 1",
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

/// The XML error body SuccessFactors sends when JSON was not asked for
/// (KBA-2994898's shape), escaped.
#[test]
fn xml_body_is_exact() {
    let e = ODataError::new(400, "COE_X", "a < b & 'c'");
    assert_eq!(
        e.body(false),
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<error xmlns=\"http://schemas.microsoft.com/ado/2007/08/dataservices/metadata\"><code>COE_X</code><message lang=\"en-US\">a &lt; b &amp; 'c'</message></error>"
    );
    assert_eq!(e.body(true), e.to_json());
}

#[test]
fn json_body_is_exact() {
    assert_eq!(
        ODataError::property_not_found("EmpJob", &["personIdExternal"]).to_json(),
        r#"{"error":{"code":"COE_PROPERTY_NOT_FOUND","message":{"lang":"en-US","value":"[COE0021]Invalid property names: EmpJob/personIdExternal."}}}"#
    );
}
