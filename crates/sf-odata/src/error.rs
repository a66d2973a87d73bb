//! SuccessFactors-shaped OData errors.
//!
//! Body: `{"error":{"code":"COE_PROPERTY_NOT_FOUND","message":{"lang":"en-US","value":"[COE0021]Invalid property names: EmpJob/personIdExternal."}}}`.
//! Where a code or message text was confirmed in SAP material it is cited on
//! the constructor; the others are marked *unverified* and follow the same
//! pattern (symbolic code, bracketed id in the message) as closely as we can.

use crate::value::write_json_string;

/// An error response: HTTP status plus the SuccessFactors JSON body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status} {code}: {message}")]
pub struct ODataError {
    pub status: u16,
    /// Symbolic code, e.g. `COE_PROPERTY_NOT_FOUND`.
    pub code: String,
    /// Message text, e.g. `[COE0021]Invalid property names: EmpJob/personIdExternal.`
    pub message: String,
}

impl ODataError {
    pub fn new(status: u16, code: impl Into<String>, message: impl Into<String>) -> Self {
        ODataError { status, code: code.into(), message: message.into() }
    }

    /// The body in the format the client asked for: JSON, or the Atom XML
    /// error document (SuccessFactors' default, KBA-2994898).
    pub fn body(&self, json: bool) -> String {
        if json { self.to_json() } else { crate::atom::error_xml(self) }
    }

    /// The JSON body: `{"error":{"code":…,"message":{"lang":"en-US","value":…}}}`.
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(64 + self.code.len() + self.message.len());
        out.push_str("{\"error\":{\"code\":");
        write_json_string(&mut out, &self.code);
        out.push_str(",\"message\":{\"lang\":\"en-US\",\"value\":");
        write_json_string(&mut out, &self.message);
        out.push_str("}}}");
        out
    }

    /// 400 `COE_PROPERTY_NOT_FOUND` `[COE0021]Invalid property names: E/p1,E/p2.`
    /// (verified shape: successfactors-odata.md §6, KBA-2545055).
    pub fn property_not_found(entity: &str, props: &[&str]) -> Self {
        let names: Vec<String> = props.iter().map(|p| format!("{entity}/{p}")).collect();
        Self::new(
            400,
            "COE_PROPERTY_NOT_FOUND",
            format!("[COE0021]Invalid property names: {}.", names.join(",")),
        )
    }

    /// 400 `COE_ENTITY_NOT_FOUND` `[COE0007]invalid entity (or function) name: X`
    /// (code and text: KBA-2546923; status 400: KBA-2545055).
    pub fn entity_set_not_found(set: &str) -> Self {
        Self::new(
            400,
            "COE_ENTITY_NOT_FOUND",
            format!("[COE0007]invalid entity (or function) name: {set}"),
        )
    }

    /// 400 `COE_BAD_PROPERTY_EXPRESSION` for `$expand` of a scalar property:
    /// `[COE0003]Bad property expression: <p>; cannot expand non-navigation
    /// property: <Entity>/<p>` (KBA-2584770).
    pub fn expand_non_navigation(entity: &str, property: &str) -> Self {
        Self::new(
            400,
            "COE_BAD_PROPERTY_EXPRESSION",
            format!(
                "[COE0003]Bad property expression: {property}; cannot expand non-navigation property: {entity}/{property}"
            ),
        )
    }

    /// 400 `BadRequestException` for an upsert of more than `limit` records,
    /// rejected whole (code and text verified: KBA-3145174).
    pub fn upsert_too_large(limit: usize) -> Self {
        Self::new(
            400,
            "BadRequestException",
            format!("Upsert content exceeds the limitation, the maximum size is {limit}"),
        )
    }

    /// 400 `COE_PROPERTY_NOT_FOUND` for an upsert record naming a property
    /// its entity does not have. Text as for queries (KBA-2545055) with the
    /// record's `with the index N` suffix SuccessFactors puts on payload
    /// errors (KBA-2994898); returned for the whole request (the payload is
    /// checked against the metadata before any record is processed).
    pub fn upsert_unknown_property(entity: &str, property: &str, index: usize) -> Self {
        Self::new(
            400,
            "COE_PROPERTY_NOT_FOUND",
            format!("[COE0021]Invalid property names: {entity}/{property}. with the index {index}"),
        )
    }

    /// 400 for an upsert record setting a property the metadata marks
    /// `sap:upsertable="false"` (audit stamps, derived values, a navigation
    /// copied from a read): `[COE0030]Property X is not insertable. …` (text:
    /// KBA-2671173; symbolic code unverified).
    pub fn upsert_not_upsertable(property: &str, index: usize) -> Self {
        Self::new(
            400,
            "COE_PROPERTY_NOT_UPSERTABLE",
            format!(
                "[COE0030]Property {property} is not insertable. Please check the property setting in Admin Center > OData API Data Dictionary or the entity metadata. with the index {index}"
            ),
        )
    }

    /// 500 `COE_GENERAL_SERVER_FAILURE` `[COE0019]Invalid property value.
    /// Property name:X. Property value:Y.` + `\n with the index N` (shape
    /// verified: KBA-2994898, User status `e` written through User).
    pub fn upsert_invalid_value(property: &str, value: &str, index: usize) -> Self {
        Self::new(
            500,
            "COE_GENERAL_SERVER_FAILURE",
            format!(
                "[COE0019]Invalid property value. Property name:{property}. Property value:{value}.\n with the index {index}"
            ),
        )
    }

    /// 400 for an upsert body that is neither JSON nor Atom XML records.
    /// Unverified code/text.
    pub fn upsert_bad_body(detail: &str) -> Self {
        Self::new(400, "COE_GENERAL_BAD_REQUEST", format!("Invalid upsert payload: {detail}"))
    }

    /// 400 for `$filter` syntax: where (0-based character offset) and what was
    /// expected. Code `COE_GENERAL_BAD_REQUEST` is seen in the wild; the
    /// message text is unverified.
    pub fn bad_filter(position: usize, expected: &str, found: &str) -> Self {
        Self::new(
            400,
            "COE_GENERAL_BAD_REQUEST",
            format!(
                "[COE0019]Invalid $filter at position {position}: expected {expected}, found {found}."
            ),
        )
    }

    /// 400 for a filter that parses but cannot be evaluated as written
    /// (type mismatch, wrong argument count). Unverified text.
    pub fn bad_filter_expression(detail: &str) -> Self {
        Self::new(
            400,
            "COE_GENERAL_BAD_REQUEST",
            format!("[COE0003]Bad property expression: {detail}"),
        )
    }

    /// 400 for a malformed date literal or date parameter. Unverified code/text.
    pub fn bad_date(what: &str, text: &str) -> Self {
        Self::new(400, "COE_GENERAL_BAD_REQUEST", format!("Invalid date value for {what}: {text}"))
    }

    /// 400 for options that cannot be combined (snapshot paging with `$top`/`$skip`,
    /// cursor paging with `$orderby`, `asOfDate` with `fromDate`/`toDate`). Unverified text.
    pub fn unsupported_combination(detail: &str) -> Self {
        Self::new(
            400,
            "COE_GENERAL_BAD_REQUEST",
            format!("Unsupported combination of query options: {detail}"),
        )
    }

    /// 400 for a bad value of a known query option. Unverified text.
    pub fn bad_option_value(option: &str, value: &str, expected: &str) -> Self {
        Self::new(
            400,
            "COE_GENERAL_BAD_REQUEST",
            format!("Invalid value '{value}' for {option}: expected {expected}."),
        )
    }

    /// 400 for an unknown `$`-option. Unverified text.
    pub fn unknown_system_option(option: &str) -> Self {
        Self::new(400, "COE_GENERAL_BAD_REQUEST", format!("Unknown system query option: {option}"))
    }

    /// 400 `COE0052` "Expand limit of 300000 records was exceeded" (text
    /// verified: KBA-2819037; the symbolic code is unverified, so the id is
    /// used as the code as the KBA quotes it).
    pub fn expand_limit(limit: u64) -> Self {
        Self::new(400, "COE0052", format!("[COE0052]Expand limit of {limit} records was exceeded."))
    }

    /// 401 for bad credentials. Text verified (KBA-2545055); the code is unverified.
    pub fn unauthorized() -> Self {
        Self::new(
            401,
            "LGN0011",
            "Authentication failed. You have entered an incorrect username or password (status code = 4).",
        )
    }

    /// 403 `[LGN0022]` for an expired bearer token (SuccessFactors says 403,
    /// not 401: rakkau connector `HttpUtils.java`). Code and full text unverified.
    pub fn token_expired() -> Self {
        Self::new(
            403,
            "LGN0022",
            "[LGN0022]The access token has expired. Please request a new access token.",
        )
    }

    /// 403 `[LGN0002]` missing OData permission (code, category and text verified: KBA-2524436).
    pub fn forbidden(detail: &str) -> Self {
        Self::new(
            403,
            "ODATA_ADMIN_PERM_REQUIRED",
            format!(
                "[LGN0002]Authentication failed, user doesn't have the OData Admin access permission. {detail}"
            ),
        )
    }

    /// 404 for a key that matches no entity: `Resource not found for the
    /// segment 'PerPerson('x')'.` (`key` is the predicate without its
    /// parentheses). Unverified code/text.
    pub fn entity_not_found(entity: &str, key: &str) -> Self {
        Self::new(
            404,
            "COE_RESOURCE_NOT_FOUND",
            format!("Resource not found for the segment '{entity}({key})'."),
        )
    }

    /// 406 for `$metadata` requested as JSON (status from the SF dev guide via
    /// TOOLKIT; code/text unverified).
    pub fn metadata_not_acceptable() -> Self {
        Self::new(
            406,
            "COE_GENERAL_NOT_ACCEPTABLE",
            "$metadata is only available as XML (EDMX); JSON is not supported.",
        )
    }
}
