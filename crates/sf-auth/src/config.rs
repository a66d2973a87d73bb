//! The `auth` block of a SuccessFactors source.
//!
//! It holds no secret values, only where to find them (an environment
//! variable, a file), so `Debug` and `plan` output are safe to print.

use std::path::PathBuf;

use secrecy::SecretString;
use serde::Deserialize;

use crate::error::AuthError;

/// SuccessFactors' SAML audience for OAuth assertions.
pub const SF_AUDIENCE: &str = "www.successfactors.com";
/// Prefix SAP Cloud Identity Service puts before a dependency name in `resource`.
pub const DEPENDENCY_URN_PREFIX: &str = "urn:sap:identity:application:provider:name:";

/// How hrsync authenticates to SuccessFactors.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "method", rename_all = "kebab-case", deny_unknown_fields)]
pub enum AuthConfig {
    /// `username@companyId` and a password. SAP retired it for the OData APIs on 2026-11-20.
    Basic {
        username: String,
        company_id: Option<String>,
        /// Name of the environment variable holding the password.
        password_env: Option<String>,
        /// File whose content (trailing newline trimmed) is the password.
        password_file: Option<PathBuf>,
    },
    /// SuccessFactors OAuth 2.0 with a SAML 2.0 bearer assertion hrsync signs.
    SamlBearer {
        /// API key of the application under Manage OAuth2 Client Applications.
        client_id: String,
        /// SuccessFactors userId of the API user (the assertion's NameID).
        user_id: String,
        company_id: Option<String>,
        private_key_file: PathBuf,
        /// The certificate registered in SuccessFactors: checked for expiry and
        /// key match, and sent in the signature's KeyInfo.
        certificate_file: Option<PathBuf>,
        /// Defaults to `<api server>/oauth/token`.
        token_url: Option<String>,
        #[serde(default = "default_audience")]
        audience: String,
        /// Seconds the assertion stays valid.
        #[serde(default = "default_assertion_lifetime")]
        assertion_lifetime: u64,
    },
    /// A signed JWT (AT1) exchanged at SAP Cloud Identity Service for an access token (AT2).
    WorkloadIdentity {
        /// The IAS tenant, e.g. `https://tenant.accounts.ondemand.com`; the token endpoint is `/oauth2/token`.
        ias_url: String,
        /// Client ID of the IAS OIDC application.
        client_id: String,
        /// Dependency name, with or without the `urn:sap:identity:application:provider:name:` prefix.
        dependency: String,
        assertion: AssertionSource,
    },
}

/// Where AT1 comes from.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case", deny_unknown_fields)]
pub enum AssertionSource {
    /// A token file a platform keeps fresh (Kubernetes projected service-account
    /// token, Azure workload identity, GitHub OIDC); re-read on every exchange.
    FederatedFile { path: PathBuf },
    /// A JWT hrsync signs with its own key; publish `jwks.json` where IAS can fetch it.
    SelfSigned {
        private_key_file: PathBuf,
        key_id: String,
        issuer: String,
        subject: String,
        audience: String,
        /// Seconds the JWT stays valid.
        #[serde(default = "default_assertion_lifetime")]
        lifetime: u64,
    },
    /// AT1 is an access token of the customer's Microsoft Entra tenant
    /// (`iss = {login_url}/{tenant_id}/v2.0`), requested by an app of that
    /// tenant with OAuth 2.0 client credentials: the app authenticates with
    /// a certificate (`certificate_file` + `private_key_file`, a PS256
    /// `private_key_jwt` with `x5t#S256`) or a federated token file
    /// (`federated_token_file`, sent as `client_assertion`).
    Entra {
        /// Directory (tenant) ID of the Entra tenant.
        tenant_id: String,
        /// Application (client) ID of the workload identity app.
        client_id: String,
        certificate_file: Option<PathBuf>,
        private_key_file: Option<PathBuf>,
        federated_token_file: Option<PathBuf>,
        /// The Entra sign-in host (national clouds, tests).
        #[serde(default = "default_login_url")]
        login_url: String,
        /// `<audience IAS expects>/.default`.
        scope: String,
    },
}

/// Microsoft Entra's public-cloud sign-in host.
pub const ENTRA_LOGIN_URL: &str = "https://login.microsoftonline.com";

fn default_login_url() -> String {
    ENTRA_LOGIN_URL.to_owned()
}

fn default_audience() -> String {
    SF_AUDIENCE.to_owned()
}

fn default_assertion_lifetime() -> u64 {
    300
}

impl AuthConfig {
    /// The method's name as written in config (`basic`, `saml-bearer`, `workload-identity`).
    pub fn method(&self) -> &'static str {
        match self {
            AuthConfig::Basic { .. } => "basic",
            AuthConfig::SamlBearer { .. } => "saml-bearer",
            AuthConfig::WorkloadIdentity { .. } => "workload-identity",
        }
    }

    /// For `basic`: (`username`, `companyId`, password) with the password read
    /// from its env variable or file. `None` for the token methods.
    pub fn basic_credentials(&self) -> Result<Option<(String, String, SecretString)>, AuthError> {
        let AuthConfig::Basic { username, company_id, password_env, password_file } = self else {
            return Ok(None);
        };
        // `user@company` in `username` is the form SuccessFactors shows admins.
        let (user, company) = match (username.rsplit_once('@'), company_id) {
            (_, Some(c)) => (username.clone(), c.clone()),
            (Some((u, c)), None) => (u.to_owned(), c.to_owned()),
            (None, None) => {
                return Err(AuthError::Config(
                    "basic: company_id is missing (or write username as user@companyId)".into(),
                ));
            }
        };
        let password = match (password_env, password_file) {
            (Some(var), None) => std::env::var(var).map_err(|_| {
                AuthError::Config(format!(
                    "basic: environment variable {var} (password_env) is not set"
                ))
            })?,
            (None, Some(path)) => std::fs::read_to_string(path)
                .map_err(|e| {
                    AuthError::Config(format!("basic: password_file {}: {e}", path.display()))
                })?
                .trim_end_matches(['\r', '\n'])
                .to_owned(),
            _ => {
                return Err(AuthError::Config(
                    "basic: set exactly one of password_env and password_file".into(),
                ));
            }
        };
        Ok(Some((user, company, SecretString::from(password))))
    }
}

/// The `resource` parameter for a dependency name given with or without its URN prefix.
pub fn dependency_resource(dependency: &str) -> String {
    if dependency.starts_with(DEPENDENCY_URN_PREFIX) {
        dependency.to_owned()
    } else {
        format!("{DEPENDENCY_URN_PREFIX}{dependency}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_method_and_rejects_unknown_fields() {
        let saml: AuthConfig = serde_json::from_str(
            r#"{"method":"saml-bearer","client_id":"K","user_id":"sfapi","company_id":"C","private_key_file":"k.pem"}"#,
        )
        .unwrap();
        assert!(
            matches!(&saml, AuthConfig::SamlBearer { audience, assertion_lifetime: 300, .. } if audience == SF_AUDIENCE)
        );
        let wi: AuthConfig = serde_json::from_str(
            r#"{"method":"workload-identity","ias_url":"https://t.accounts.ondemand.com","client_id":"c","dependency":"SF",
                "assertion":{"type":"federated-file","path":"/var/run/token"}}"#,
        )
        .unwrap();
        assert_eq!(wi.method(), "workload-identity");
        let entra: AuthConfig = serde_json::from_str(
            r#"{"method":"workload-identity","ias_url":"https://t.accounts.ondemand.com","client_id":"c","dependency":"SF",
                "assertion":{"type":"entra","tenant_id":"t","client_id":"a","federated_token_file":"/var/run/token","scope":"api://ias/.default"}}"#,
        )
        .unwrap();
        assert!(matches!(
            entra,
            AuthConfig::WorkloadIdentity { assertion: AssertionSource::Entra { ref login_url, .. }, .. }
                if login_url == ENTRA_LOGIN_URL
        ));
        let bad = serde_json::from_str::<AuthConfig>(
            r#"{"method":"basic","username":"u","password":"x"}"#,
        );
        assert!(bad.is_err(), "a literal password field is refused");
        assert_eq!(
            dependency_resource("SF-EC"),
            "urn:sap:identity:application:provider:name:SF-EC"
        );
        assert_eq!(
            dependency_resource("urn:sap:identity:application:provider:name:X"),
            "urn:sap:identity:application:provider:name:X"
        );
    }
}
