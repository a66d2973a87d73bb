//! SuccessFactors-shaped OData errors.

/// An error response: HTTP status plus the SuccessFactors JSON body
/// `{"error":{"code":…,"message":{"lang":"en-US","value":…}}}`.
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
    /// The JSON body.
    pub fn to_json(&self) -> String {
        todo!()
    }
    /// 400 `COE_PROPERTY_NOT_FOUND`, naming each `Entity/prop`.
    pub fn property_not_found(entity: &str, props: &[&str]) -> Self {
        let _ = (entity, props);
        todo!()
    }
    /// 404 for an entity set that does not exist.
    pub fn entity_set_not_found(set: &str) -> Self {
        let _ = set;
        todo!()
    }
    /// 400 for `$filter` syntax: where (character offset) and what was expected.
    pub fn bad_filter(position: usize, expected: &str, found: &str) -> Self {
        let _ = (position, expected, found);
        todo!()
    }
    /// 400 for a malformed date literal or date parameter.
    pub fn bad_date(what: &str, text: &str) -> Self {
        let _ = (what, text);
        todo!()
    }
    /// 400 for options that cannot be combined (snapshot paging with `$top`).
    pub fn unsupported_combination(detail: &str) -> Self {
        let _ = detail;
        todo!()
    }
    /// 400 for a bad value of a known query option.
    pub fn bad_option_value(option: &str, value: &str, expected: &str) -> Self {
        let _ = (option, value, expected);
        todo!()
    }
    /// 400 for an unknown `$`-option.
    pub fn unknown_system_option(option: &str) -> Self {
        let _ = option;
        todo!()
    }
    /// 400 `COE0052` expand limit exceeded.
    pub fn expand_limit(limit: u64) -> Self {
        let _ = limit;
        todo!()
    }
    /// 401 for missing or bad credentials.
    pub fn unauthorized() -> Self {
        todo!()
    }
    /// 403 `[LGN0022]` for an expired bearer token (SuccessFactors says 403, not 401).
    pub fn token_expired() -> Self {
        todo!()
    }
    /// 403 for a missing permission.
    pub fn forbidden(detail: &str) -> Self {
        let _ = detail;
        todo!()
    }
    /// 404 for a key that matches no entity.
    pub fn entity_not_found(entity: &str, key: &str) -> Self {
        let _ = (entity, key);
        todo!()
    }
    /// 406 for `$metadata` requested as JSON.
    pub fn metadata_not_acceptable() -> Self {
        todo!()
    }
}
