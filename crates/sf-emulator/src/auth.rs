//! Authentication of OData requests. Schemes are chosen by the
//! `Authorization` header's scheme name: Basic here, Bearer in [`crate::oauth`].

use std::sync::Arc;

use base64::Engine;
use sf_odata::error::ODataError;

/// One accepted authentication scheme.
pub trait AuthScheme: Send + Sync + std::fmt::Debug {
    /// The `Authorization` scheme name it handles, e.g. `Basic` (case-insensitive).
    fn scheme(&self) -> &'static str;
    /// Checks the credentials after the scheme name; `Ok` carries the
    /// authenticated user for the request log.
    fn check(&self, credentials: &str) -> Result<String, ODataError>;
}

/// HTTP Basic with a SuccessFactors user name `user@companyId`.
#[derive(Debug, Clone)]
pub struct BasicAuth {
    pub username: String,
    pub company_id: String,
    pub password: String,
}

impl AuthScheme for BasicAuth {
    fn scheme(&self) -> &'static str {
        "Basic"
    }

    fn check(&self, credentials: &str) -> Result<String, ODataError> {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(credentials.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(ODataError::unauthorized)?;
        let (user, password) = decoded.split_once(':').ok_or_else(ODataError::unauthorized)?;
        let (name, company) = user.rsplit_once('@').ok_or_else(ODataError::unauthorized)?;
        if name == self.username
            && company.eq_ignore_ascii_case(&self.company_id)
            && password == self.password
        {
            Ok(user.to_owned())
        } else {
            Err(ODataError::unauthorized())
        }
    }
}

/// The schemes a server accepts.
#[derive(Debug, Default)]
pub struct Authenticator {
    pub schemes: Vec<Box<dyn AuthScheme>>,
    /// Token endpoints and issued tokens, when OAuth is configured.
    pub oauth: Option<Arc<crate::oauth::OAuthState>>,
}

impl Authenticator {
    /// Authenticates from the raw `Authorization` header value (`None` when absent).
    pub fn authenticate(&self, header: Option<&str>) -> Result<String, ODataError> {
        let header = header.ok_or_else(ODataError::unauthorized)?;
        let (scheme, rest) = header.trim().split_once(' ').ok_or_else(ODataError::unauthorized)?;
        self.schemes
            .iter()
            .find(|s| s.scheme().eq_ignore_ascii_case(scheme))
            .ok_or_else(ODataError::unauthorized)?
            .check(rest)
    }
}
