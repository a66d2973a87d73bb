//! Everything that can go wrong while authenticating, and what an admin
//! should do about it.
//!
//! Server messages are kept verbatim in the error (they name the cause in the
//! server's words); [`AuthError::diagnosis`] maps them to the troubleshooting
//! cases of the workload-identity guide and SuccessFactors' KBAs, and
//! [`AuthError::explanation`] says in the admin's terms what to check.
//! No variant ever holds a secret, a token or an assertion.

use std::path::PathBuf;

/// Why authentication failed, in the terms of the trust set-up an admin controls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Diagnosis {
    /// The auth block itself is wrong or a file cannot be read.
    Configuration,
    /// IAS `invalid_client_assertion`: `sub` or `aud` of AT1 do not match the trust rule.
    SubjectOrAudienceMismatch,
    /// IAS `unauthorized_client`: JWKS unreachable, signature invalid, or issuer/tenant mismatch.
    SignatureOrIssuer,
    /// Microsoft Entra ID refused to issue AT1 (the app's credential, tenant or scope).
    EntraRefused,
    /// The client id (SuccessFactors API key or IAS client id) is not registered.
    UnknownClient,
    /// The app dependency name (`resource`) is not a dependency of the IAS application.
    UnknownDependency,
    /// SuccessFactors' token endpoint could not verify the SAML assertion's signature.
    AssertionSignature,
    /// The SAML `Audience` (or `Recipient`) is not what SuccessFactors expects.
    AssertionAudience,
    /// The API user (SAML `NameID`) does not exist in SuccessFactors.
    UnknownUser,
    /// The company id is not the tenant the client is registered in.
    WrongCompany,
    /// An assertion or token was not yet valid or already expired when it arrived.
    ClockSkew,
    /// The X.509 certificate registered for the client has expired (or is not yet valid).
    CertificateExpired,
    /// The private key does not belong to the configured certificate.
    KeyMismatch,
    /// The federated token file is stale: the platform stopped refreshing it.
    StaleFederatedToken,
    /// AT2's `ias_apis` lacks `sf_technical_access`: the IAS application's
    /// dependency does not grant SuccessFactors' technical access API.
    NoTechnicalAccess,
    /// OData 403: the client is not mapped to an API user, or the user lacks permissions.
    NotMappedOrNoPermission,
    /// OData 401 with a fresh token, or Basic credentials refused.
    CredentialsRefused,
    /// The network or a server failed; nothing about the trust set-up is known.
    Unreachable,
    /// A server answered in a way hrsync could not classify; the message says more.
    Other,
}

/// An authentication failure.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("SuccessFactors auth configuration: {0}")]
    Config(String),
    #[error("key file {}: {cause}", path.display())]
    Key { path: PathBuf, cause: String },
    #[error("certificate {}: {cause}", path.display())]
    Certificate { path: PathBuf, cause: String },
    #[error("certificate {} expired on {not_after}", path.display())]
    CertificateExpired { path: PathBuf, not_after: String },
    #[error("certificate {} is not valid before {not_before}", path.display())]
    CertificateNotYetValid { path: PathBuf, not_before: String },
    #[error("the private key {} does not belong to the certificate {}", key.display(), certificate.display())]
    KeyMismatch { key: PathBuf, certificate: PathBuf },
    #[error("federated token file {}: {cause}", path.display())]
    FederatedToken { path: PathBuf, cause: String },
    #[error("the federated token in {} expired at {expired_at}", path.display())]
    FederatedTokenExpired { path: PathBuf, expired_at: String },
    #[error("cannot reach {url}: {cause}")]
    Transport { url: String, cause: String },
    #[error(
        "SuccessFactors token endpoint {url} rejected the SAML assertion: HTTP {status}: {message}"
    )]
    SfTokenRejected { url: String, status: u16, message: String },
    #[error(
        "SAP Cloud Identity Service {url} rejected the token request: HTTP {status} {error}: {description}"
    )]
    IasRejected { url: String, status: u16, error: String, description: String },
    /// Microsoft Entra ID refused to issue AT1 (`error_codes`: the AADSTS numbers).
    #[error("Microsoft Entra ID {url} refused to issue AT1: HTTP {status} {error}: {description}")]
    EntraRejected { url: String, status: u16, error: String, description: String, codes: Vec<u64> },
    #[error("token endpoint {url} answered HTTP {status} with a body hrsync cannot read: {cause}")]
    BadTokenResponse { url: String, status: u16, cause: String },
    #[error(
        "SAP Cloud Identity Service {url} issued AT2 without sf_technical_access (ias_apis: {apis})"
    )]
    At2WithoutTechnicalAccess { url: String, apis: String },
    #[error("SuccessFactors refused the OData call {url}: HTTP {status}: {message}")]
    ODataRefused { url: String, status: u16, message: String },
}

impl AuthError {
    /// Which troubleshooting case this failure is.
    pub fn diagnosis(&self) -> Diagnosis {
        match self {
            AuthError::Config(_)
            | AuthError::Key { .. }
            | AuthError::Certificate { .. }
            | AuthError::FederatedToken { .. } => Diagnosis::Configuration,
            AuthError::CertificateExpired { .. } | AuthError::CertificateNotYetValid { .. } => {
                Diagnosis::CertificateExpired
            }
            AuthError::KeyMismatch { .. } => Diagnosis::KeyMismatch,
            AuthError::FederatedTokenExpired { .. } => Diagnosis::StaleFederatedToken,
            AuthError::Transport { .. } => Diagnosis::Unreachable,
            AuthError::BadTokenResponse { status, .. } if *status >= 500 => Diagnosis::Unreachable,
            AuthError::BadTokenResponse { .. } => Diagnosis::Other,
            AuthError::SfTokenRejected { status, message, .. } => {
                sf_token_diagnosis(*status, message)
            }
            AuthError::EntraRejected { status, .. } if *status >= 500 => Diagnosis::Unreachable,
            AuthError::EntraRejected { codes, .. } if codes.contains(&700024) => {
                Diagnosis::ClockSkew
            }
            AuthError::EntraRejected { .. } => Diagnosis::EntraRefused,
            AuthError::IasRejected { status, error, description, .. } => {
                ias_diagnosis(*status, error, description)
            }
            AuthError::At2WithoutTechnicalAccess { .. } => Diagnosis::NoTechnicalAccess,
            AuthError::ODataRefused { status: 403, message, .. }
                if message.contains("sf_technical_access") =>
            {
                Diagnosis::NoTechnicalAccess
            }
            AuthError::ODataRefused { status: 403, message, .. } if message.contains("LGN0022") => {
                Diagnosis::ClockSkew
            }
            AuthError::ODataRefused { status: 403, .. } => Diagnosis::NotMappedOrNoPermission,
            AuthError::ODataRefused { status: 401, .. } => Diagnosis::CredentialsRefused,
            AuthError::ODataRefused { .. } => Diagnosis::Other,
        }
    }

    /// What to check, in the admin's terms (one or two sentences).
    pub fn explanation(&self) -> String {
        let text = match self.diagnosis() {
            Diagnosis::Configuration => {
                "The auth block of the SuccessFactors source is incomplete or names a file hrsync cannot read; fix the path or value named above."
            }
            Diagnosis::SubjectOrAudienceMismatch => {
                "The subject or audience of the token (AT1) does not match the trust rule: compare `sub` and `aud` of the token with the Subject and Audience of the JWT Trust-by-Issuer rule in the SAP Cloud Identity Service application (Trust > Client Authentication)."
            }
            Diagnosis::SignatureOrIssuer => {
                return signature_or_issuer_explanation(self);
            }
            Diagnosis::NoTechnicalAccess => {
                "SAP Cloud Identity Service issued an access token (AT2) without the API sf_technical_access: in the SAP Cloud Identity Service application, Trust > Dependencies must have a dependency on your SAP SuccessFactors instance with the API sf_technical_access, and `dependency` in [source.auth] must be that Dependency Name."
            }
            Diagnosis::EntraRefused => {
                return entra_explanation(self);
            }
            Diagnosis::UnknownClient => {
                "The client id is not registered: for SAML bearer it must be the API key of an application under Admin Center > Manage OAuth2 Client Applications; for workload identity the Client ID of the SAP Cloud Identity Service OIDC application."
            }
            Diagnosis::UnknownDependency => {
                "The app dependency name is wrong: it must be `urn:sap:identity:application:provider:name:` followed by the Dependency Name under Trust > Dependencies of the SAP Cloud Identity Service application."
            }
            Diagnosis::AssertionSignature => {
                "SuccessFactors could not verify the SAML assertion's signature: the private key hrsync signs with does not belong to the X.509 certificate registered for this client id under Manage OAuth2 Client Applications."
            }
            Diagnosis::AssertionAudience => {
                "The SAML assertion's audience or recipient is wrong: the audience must be `www.successfactors.com` and the token URL must be this tenant's `/oauth/token`."
            }
            Diagnosis::UnknownUser => {
                "The API user does not exist: `user_id` must be the SuccessFactors userId (not the user name or e-mail) of the technical API user."
            }
            Diagnosis::WrongCompany => {
                "The company id does not match the tenant this OAuth client is registered in."
            }
            Diagnosis::ClockSkew => {
                "The assertion or token was outside its validity window when the server checked it: this machine's clock is off (check NTP), or the lifetime is too short for the network delay."
            }
            Diagnosis::CertificateExpired => {
                "The X.509 certificate is outside its validity period: create a new key pair with `hrsync keys generate`, register the new certificate in SuccessFactors, and point the auth block at the new files."
            }
            Diagnosis::KeyMismatch => {
                "The private key and the certificate are not a pair: use the private key generated together with the certificate registered in SuccessFactors."
            }
            Diagnosis::StaleFederatedToken => {
                "The federated token file is no longer refreshed: check the platform component that writes it (Kubernetes projected service-account token, Azure workload identity, GitHub OIDC)."
            }
            Diagnosis::NotMappedOrNoPermission => {
                "The OData call was refused (403): the client id is not mapped to an API user (Security Center > Manage OIDC OAuth Client Application > Application Map), or that user's permission group lacks OData API and Employee Central read permissions."
            }
            Diagnosis::CredentialsRefused => {
                "SuccessFactors refused the credentials (401): check the user name, company id and password, or that the token was issued for this tenant."
            }
            Diagnosis::Unreachable => {
                "A server could not be reached or failed; check the URL, network path, proxy and TLS settings."
            }
            Diagnosis::Other => "The server's message above names the cause.",
        };
        text.to_owned()
    }
}

/// SuccessFactors answers `{"errorHttpCode":"401","errorMessage":"…"}`; only two
/// texts are confirmed (KBA-3336571 signature, KBA-2668018 invalid user), the
/// other cases are matched on the words the message uses.
fn sf_token_diagnosis(status: u16, message: &str) -> Diagnosis {
    let m = message.to_ascii_lowercase();
    if status >= 500 {
        Diagnosis::Unreachable
    } else if m.contains("certificate") && (m.contains("expired") || m.contains("not yet valid")) {
        Diagnosis::CertificateExpired
    } else if m.contains("signature") {
        Diagnosis::AssertionSignature
    } else if m.contains("invalid user") {
        Diagnosis::UnknownUser
    } else if m.contains("audience") || m.contains("recipient") {
        Diagnosis::AssertionAudience
    } else if m.contains("expired")
        || m.contains("not yet valid")
        || m.contains("notbefore")
        || m.contains("notonorafter")
    {
        Diagnosis::ClockSkew
    } else if m.contains("company") {
        Diagnosis::WrongCompany
    } else if m.contains("client") {
        Diagnosis::UnknownClient
    } else {
        Diagnosis::Other
    }
}

/// IAS answers RFC 6749 `{"error","error_description"}`; the codes map to the
/// troubleshooting table of the workload-identity guide.
fn ias_diagnosis(status: u16, error: &str, description: &str) -> Diagnosis {
    let d = description.to_ascii_lowercase();
    match error {
        _ if status >= 500 => Diagnosis::Unreachable,
        "invalid_client_assertion" if d.contains("expired") || d.contains("not yet valid") => {
            Diagnosis::ClockSkew
        }
        "invalid_client_assertion" => Diagnosis::SubjectOrAudienceMismatch,
        "unauthorized_client" => Diagnosis::SignatureOrIssuer,
        "invalid_client" => Diagnosis::UnknownClient,
        "invalid_target" => Diagnosis::UnknownDependency,
        _ => Diagnosis::Other,
    }
}

/// What an Entra refusal of AT1 means, by AADSTS code.
fn entra_explanation(e: &AuthError) -> String {
    let AuthError::EntraRejected { codes, .. } = e else {
        return "Microsoft Entra ID's message above names the cause.".into();
    };
    let has = |c: u64| codes.contains(&c);
    let where_ = "[source.auth.assertion] (type = \"entra\")";
    if has(700016) {
        format!(
            "The workload identity app is not in this tenant: check client_id (Application (client) ID) and tenant_id (Directory (tenant) ID) in {where_}."
        )
    } else if has(90002) {
        format!("The Entra tenant does not exist: check tenant_id and login_url in {where_}.")
    } else if has(70011) || has(500011) {
        format!(
            "Entra ID refused the scope: `scope` in {where_} must be the audience the SAP Cloud Identity Service trust rule expects followed by /.default, and that resource must exist in the tenant."
        )
    } else if has(700027) {
        format!(
            "Entra ID does not accept the app's certificate: upload the certificate.pem that belongs to private_key_file under the app's Certificates & secrets > Certificates, or point certificate_file/private_key_file in {where_} at the registered pair."
        )
    } else if has(700023) {
        format!(
            "The client assertion's audience is not this tenant's token endpoint: check tenant_id and login_url in {where_}."
        )
    } else if has(700211) || has(700212) || has(700213) || has(70021) || has(7000272) {
        "Entra ID found no federated identity credential of the app matching the token in federated_token_file (issuer, subject, audience api://AzureADTokenExchange) or cannot fetch its issuer's keys: check the app's Certificates & secrets > Federated credentials.".into()
    } else {
        "Microsoft Entra ID's message above names the cause; look the AADSTS code up at https://login.microsoftonline.com/error.".into()
    }
}

/// `unauthorized_client` from IAS: which of the seed's causes the
/// description points at (JWKS URI unreachable, issuer tenant, signature).
fn signature_or_issuer_explanation(e: &AuthError) -> String {
    let d = match e {
        AuthError::IasRejected { description, .. } => description.to_ascii_lowercase(),
        _ => String::new(),
    };
    if d.contains("jwks") && (d.contains("unreachable") || d.contains("did not answer")) {
        "SAP Cloud Identity Service cannot fetch the JSON Web Key Set URI of the trust rule: confirm that the Microsoft Entra OIDC discovery endpoint (https://login.microsoftonline.com/<tenant>/v2.0/.well-known/openid-configuration) and the JWKS URI it names are reachable from SAP IAS, and that the trust rule's JSON Web Key Set URI is exactly that jwks_uri.".into()
    } else if d.contains("issuer") {
        "The issuer (tenant) of AT1 is not the Issuer of any Trust-by-Issuer rule of this SAP Cloud Identity Service application: the tenant ID in the issuer claim (https://login.microsoftonline.com/<tenant>/v2.0) must match the rule's Issuer; check tenant_id in [source.auth.assertion] (type = \"entra\") against the tenant the trust rule was made for, or `issuer` for a self-signed AT1.".into()
    } else {
        "SAP Cloud Identity Service could not validate AT1's signature with the keys of the trust rule's JSON Web Key Set URI: the key id is not in it or the signature is invalid. Confirm the JWKS URI is the one of the Entra tenant that issues AT1 (its discovery endpoint's jwks_uri) and that the tenant ID in the issuer claim matches.".into()
    }
}
