//! OAuth token endpoints and Bearer authentication of OData requests.
//!
//! - `POST /oauth/token`: SuccessFactors' SAML 2.0 bearer grant. Verifies the
//!   enveloped XML signature (exclusive c14n, RSA-SHA256) with the certificate
//!   registered for the client id, the certificate's validity, the company id,
//!   `NotBefore`/`NotOnOrAfter`, audience, recipient and the API user.
//! - `POST /oauth2/token`: SAP Cloud Identity Service client credentials with a
//!   JWT client assertion (Trust by Issuer: issuer, JWKS, subject, audience) and
//!   `resource` = the app dependency; answers AT2, a JWT with
//!   `ias_apis: ["sf_technical_access"]` (the dependency's APIs,
//!   [`OAuthConfig::dependency_apis`]). A trust's JWKS is inline or fetched
//!   from its JWKS URI (cached; fetched again for an unknown `kid`); an
//!   unreachable URI answers `unauthorized_client`.
//! - Bearer tokens on OData: unknown → 401, expired → 403 `[LGN0022]`
//!   (KBA-2872019), AT2 of an IAS client not mapped to an API user → 403.
//!
//! Error bodies: SuccessFactors `{"errorHttpCode":"401","errorMessage":…}`
//! (shape and two texts confirmed by KBA-2668018 and KBA-3336571; the other
//! texts are ours and unverified). IAS: RFC 6749 `{"error","error_description"}`
//! with the codes of Microsoft's workload-identity troubleshooting table
//! (`invalid_client_assertion`, `unauthorized_client`) plus RFC 6749/8707
//! `invalid_client`, `invalid_target`, `unsupported_grant_type`.
//!
//! Auth uses the real wall clock, not the emulator's HR clock, so tests can
//! move the HR clock without invalidating tokens.
//!
//! The XML canonicalizer here is written independently of hrsync's emitter
//! (the emulator shares no code with the connector) and is minimal: it
//! handles elements, attributes, namespace declarations and text, and
//! refuses DTDs and processing instructions.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use sf_odata::error::ODataError;

use crate::auth::AuthScheme;
use crate::server::Shared;

pub const SAML2_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:saml2-bearer";
pub const JWT_BEARER_ASSERTION: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
pub const DEPENDENCY_PREFIX: &str = "urn:sap:identity:application:provider:name:";
const SAML_NS: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
const DS_NS: &str = "http://www.w3.org/2000/09/xmldsig#";
const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
const SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";
/// Tolerated clock difference for NotBefore/NotOnOrAfter and JWT nbf/exp.
const LEEWAY_SECS: i64 = 30;

/// An application under Admin Center › Manage OAuth2 Client Applications.
#[derive(Debug, Clone)]
pub struct OAuthClient {
    /// The API key.
    pub client_id: String,
    pub company_id: String,
    /// The X.509 certificate (PEM) whose key signs the client's assertions.
    pub certificate_pem: String,
}

/// A JWT Trust-by-Issuer rule of the IAS application `client_id`.
#[derive(Debug, Clone)]
pub struct IasTrust {
    pub client_id: String,
    pub issuer: String,
    /// The JWKS document (JSON) the issuer publishes; used when `jwks_uri` is `None`.
    pub jwks: String,
    /// The rule's "JSON Web Key Set URI": fetched on first use and cached,
    /// fetched again when a token names a key id the cached set lacks.
    pub jwks_uri: Option<String>,
    pub subject: String,
    pub audience: String,
}

/// The emulator's OAuth set-up.
#[derive(Debug, Clone)]
pub struct OAuthConfig {
    pub clients: Vec<OAuthClient>,
    /// SuccessFactors userIds an assertion's NameID may name.
    pub api_users: Vec<String>,
    pub ias: Vec<IasTrust>,
    /// Dependency name (without the URN prefix) of the IAS application on SuccessFactors.
    pub dependency: String,
    /// Manage OIDC OAuth Client Application › Application Map: IAS client id → API user.
    pub oidc_mappings: Vec<(String, String)>,
    /// Lifetime of issued access tokens (SuccessFactors: 24 h; tests use seconds).
    pub token_lifetime: Duration,
    /// APIs of the dependency, put in AT2's `ias_apis` (default
    /// `sf_technical_access`; empty reproduces a dependency without it).
    pub dependency_apis: Vec<String>,
}

impl Default for OAuthConfig {
    fn default() -> Self {
        OAuthConfig {
            clients: Vec::new(),
            api_users: vec![crate::DEFAULT_USERNAME.to_owned()],
            ias: Vec::new(),
            dependency: "SF-EC-TA".to_owned(),
            oidc_mappings: Vec::new(),
            token_lifetime: Duration::from_secs(86_400),
            dependency_apis: vec!["sf_technical_access".to_owned()],
        }
    }
}

/// One access token the emulator issued.
#[derive(Debug, Clone)]
struct Issued {
    /// The API user OData calls run as; `None` for an unmapped IAS client.
    user: Option<String>,
    /// `client_id` (SF) or IAS client id, for token re-use.
    client: String,
    expires: Instant,
    /// `false` for an AT2 whose `ias_apis` lacks `sf_technical_access`.
    technical_access: bool,
}

/// Token endpoint state: trust configuration, issued tokens, counters.
#[derive(Debug)]
pub struct OAuthState {
    config: OAuthConfig,
    tokens: Mutex<HashMap<String, Issued>>,
    issued: AtomicU64,
    issue_log: Mutex<Vec<Instant>>,
    reject_bearer: AtomicBool,
    at2_secret: [u8; 32],
    issuer_url: Mutex<String>,
    /// JWKS documents fetched from trust rules' JWKS URIs.
    jwks_cache: Mutex<HashMap<String, String>>,
    jwks_fetches: AtomicU64,
    /// AT1s with an `iat` before this second are refused (a trust rule edited).
    assertions_not_before: std::sync::atomic::AtomicI64,
}

impl OAuthState {
    pub fn new(config: OAuthConfig) -> Self {
        let mut at2_secret = [0u8; 32];
        if aws_lc_rs::rand::fill(&mut at2_secret).is_err() {
            at2_secret = [7u8; 32];
        }
        OAuthState {
            config,
            tokens: Mutex::new(HashMap::new()),
            issued: AtomicU64::new(0),
            issue_log: Mutex::new(Vec::new()),
            reject_bearer: AtomicBool::new(false),
            at2_secret,
            issuer_url: Mutex::new("http://127.0.0.1".to_owned()),
            jwks_cache: Mutex::new(HashMap::new()),
            jwks_fetches: AtomicU64::new(0),
            assertions_not_before: std::sync::atomic::AtomicI64::new(i64::MIN),
        }
    }

    pub fn config(&self) -> &OAuthConfig {
        &self.config
    }

    /// Access tokens issued so far (both endpoints).
    pub fn tokens_issued(&self) -> u64 {
        self.issued.load(Ordering::Relaxed)
    }

    /// From now on AT1s issued (`iat`) before `unix_secs` are refused with
    /// `invalid_client_assertion`, as after an admin edited the trust rule:
    /// a test knob for a client holding a cached AT1 (our own behaviour).
    pub fn refuse_assertions_issued_before(&self, unix_secs: i64) {
        self.assertions_not_before.store(unix_secs, Ordering::Relaxed);
    }

    /// JWKS documents fetched from JWKS URIs so far.
    pub fn jwks_fetches(&self) -> u64 {
        self.jwks_fetches.load(Ordering::Relaxed)
    }

    /// The JWKS of `trust`: inline, or from its URI (cached; `refresh`
    /// fetches again). Errors say why the URI could not be used.
    async fn trust_jwks(&self, trust: &IasTrust, refresh: bool) -> Result<String, String> {
        let Some(uri) = &trust.jwks_uri else { return Ok(trust.jwks.clone()) };
        if !refresh
            && let Some(doc) = self.jwks_cache.lock().unwrap_or_else(|e| e.into_inner()).get(uri)
        {
            return Ok(doc.clone());
        }
        let doc = fetch_jwks(uri).await?;
        self.jwks_fetches.fetch_add(1, Ordering::Relaxed);
        self.jwks_cache.lock().unwrap_or_else(|e| e.into_inner()).insert(uri.clone(), doc.clone());
        Ok(doc)
    }

    /// When each token was issued, in order.
    pub fn issue_times(&self) -> Vec<Instant> {
        self.issue_log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Expires every issued token now (the next OData call with one gets 403 `[LGN0022]`).
    pub fn expire_all(&self) {
        let now = Instant::now();
        for t in self.tokens.lock().unwrap_or_else(|e| e.into_inner()).values_mut() {
            t.expires = now;
        }
    }

    /// While on, every Bearer token is refused with 401 (a revoked client).
    pub fn set_reject_bearer(&self, on: bool) {
        self.reject_bearer.store(on, Ordering::Relaxed);
    }

    pub(crate) fn set_issuer_url(&self, url: &str) {
        *self.issuer_url.lock().unwrap_or_else(|e| e.into_inner()) = url.to_owned();
    }

    fn issue(&self, token: String, client: &str, user: Option<String>) -> Value {
        self.issue_with(token, client, user, true)
    }

    fn issue_with(
        &self,
        token: String,
        client: &str,
        user: Option<String>,
        technical_access: bool,
    ) -> Value {
        let lifetime = self.config.token_lifetime;
        self.tokens.lock().unwrap_or_else(|e| e.into_inner()).insert(
            token.clone(),
            Issued {
                user,
                client: client.to_owned(),
                expires: Instant::now() + lifetime,
                technical_access,
            },
        );
        self.issued.fetch_add(1, Ordering::Relaxed);
        self.issue_log.lock().unwrap_or_else(|e| e.into_inner()).push(Instant::now());
        json!({"access_token": token, "token_type": "Bearer", "expires_in": lifetime.as_secs()})
    }

    /// A still-valid token issued to `client` for `user`, with its remaining lifetime.
    fn reusable(&self, client: &str, user: &str) -> Option<Value> {
        let now = Instant::now();
        let tokens = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
        tokens.iter().find(|(_, t)| t.client == client && t.user.as_deref() == Some(user) && t.expires > now).map(|(k, t)| {
            json!({"access_token": k, "token_type": "Bearer", "expires_in": t.expires.saturating_duration_since(now).as_secs()})
        })
    }
}

/// `Authorization: Bearer` on OData.
#[derive(Debug)]
pub struct BearerAuth(pub Arc<OAuthState>);

impl AuthScheme for BearerAuth {
    fn scheme(&self) -> &'static str {
        "Bearer"
    }

    fn check(&self, credentials: &str) -> Result<String, ODataError> {
        if self.0.reject_bearer.load(Ordering::Relaxed) {
            return Err(ODataError::unauthorized());
        }
        let tokens = self.0.tokens.lock().unwrap_or_else(|e| e.into_inner());
        let t = tokens.get(credentials.trim()).ok_or_else(ODataError::unauthorized)?;
        if Instant::now() >= t.expires {
            return Err(ODataError::new(
                403,
                "LGN0022",
                "[LGN0022]The access token is either rejected or expired",
            ));
        }
        if !t.technical_access {
            // Our own wording; SAP's answer to such a token is not documented.
            return Err(ODataError::new(
                403,
                "COE_ACCESS_DENIED",
                format!(
                    "The access token of the OIDC client {} does not grant the API sf_technical_access",
                    t.client
                ),
            ));
        }
        t.user.clone().ok_or_else(|| {
            ODataError::new(403, "COE_ACCESS_DENIED", format!("[COE0022]The OIDC client {} is not mapped to a user (Manage OIDC OAuth Client Application)", t.client))
        })
    }
}

fn random_token() -> String {
    let mut b = [0u8; 32];
    if aws_lc_rs::rand::fill(&mut b).is_err() {
        b = jiff::Timestamp::now()
            .as_nanosecond()
            .to_le_bytes()
            .repeat(2)
            .try_into()
            .unwrap_or([1u8; 32]);
    }
    URL_SAFE_NO_PAD.encode(b)
}

/// `application/x-www-form-urlencoded` body into pairs (`+` is a space).
fn parse_form(body: &[u8]) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for pair in body.split(|&b| b == b'&') {
        let mut it = pair.splitn(2, |&b| b == b'=');
        let (k, v) = (it.next().unwrap_or_default(), it.next().unwrap_or_default());
        out.insert(percent_decode(k), percent_decode(v));
    }
    out
}

fn percent_decode(s: &[u8]) -> String {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < s.len() => {
                let hex = std::str::from_utf8(&s[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn sf_error(status: StatusCode, message: impl Into<String>) -> Response {
    let message = message.into();
    tracing::info!(status = status.as_u16(), %message, "SuccessFactors token request refused");
    json_response(
        status,
        json!({"errorHttpCode": status.as_u16().to_string(), "errorMessage": message}),
    )
}

fn ias_error(status: StatusCode, error: &str, description: impl Into<String>) -> Response {
    let description = description.into();
    tracing::info!(status = status.as_u16(), error, %description, "IAS token request refused");
    json_response(status, json!({"error": error, "error_description": description}))
}

fn json_response(status: StatusCode, body: Value) -> Response {
    let mut r = (status, body.to_string()).into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json;charset=utf-8"));
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn oauth_state(s: &Shared) -> Option<&Arc<OAuthState>> {
    s.auth.oauth.as_ref()
}

// ----- SuccessFactors /oauth/token -------------------------------------------

/// `POST /oauth/token` (SAML 2.0 bearer grant).
pub async fn sf_token(State(s): State<Arc<Shared>>, body: Bytes) -> Response {
    let Some(state) = oauth_state(&s) else {
        return sf_error(StatusCode::NOT_FOUND, "OAuth is not configured on this emulator");
    };
    let form = parse_form(&body);
    let get = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
    if get("grant_type") != SAML2_BEARER_GRANT {
        return sf_error(
            StatusCode::BAD_REQUEST,
            format!("Unsupported grant_type '{}'", get("grant_type")),
        );
    }
    let Some(client) = state.config.clients.iter().find(|c| c.client_id == get("client_id")) else {
        return sf_error(
            StatusCode::UNAUTHORIZED,
            format!("Unable to authenticate the client (invalid client ID '{}')", get("client_id")),
        );
    };
    if !get("company_id").eq_ignore_ascii_case(&client.company_id) {
        return sf_error(
            StatusCode::UNAUTHORIZED,
            format!(
                "Company ID '{}' is not the company this OAuth application is registered in",
                get("company_id")
            ),
        );
    }
    let cert = match parse_certificate(&client.certificate_pem) {
        Ok(c) => c,
        Err(e) => {
            return sf_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("registered certificate unusable: {e}"),
            );
        }
    };
    let now = jiff::Timestamp::now().as_second();
    if now > cert.not_after {
        let when =
            jiff::Timestamp::from_second(cert.not_after).map(|t| t.to_string()).unwrap_or_default();
        return sf_error(
            StatusCode::UNAUTHORIZED,
            format!("The X.509 certificate registered for this client expired on {when}"),
        );
    }
    if now < cert.not_before {
        return sf_error(
            StatusCode::UNAUTHORIZED,
            "The X.509 certificate registered for this client is not yet valid",
        );
    }
    let xml = match STANDARD
        .decode(get("assertion").trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
    {
        Some(x) => x,
        None => {
            return sf_error(StatusCode::BAD_REQUEST, "The assertion is not base64-encoded XML");
        }
    };
    let root = match parse_xml(&xml) {
        Ok(r) => r,
        Err(e) => {
            return sf_error(
                StatusCode::BAD_REQUEST,
                format!("The SAML assertion cannot be parsed: {e}"),
            );
        }
    };
    const SIG_FAIL: &str = "Unable to verify the signature of the SAML assertion. Please ensure that the assertion has a signature and the key pairs match the client ID";
    if let Err(e) = verify_enveloped(&root, &cert.public_key) {
        tracing::debug!(cause = %e, "assertion signature rejected");
        return sf_error(StatusCode::UNAUTHORIZED, SIG_FAIL);
    }
    match check_assertion(&root, &state.config, now, &s) {
        Ok(user) => {
            if get("new_token") != "true"
                && let Some(v) = state.reusable(&client.client_id, &user)
            {
                return json_response(StatusCode::OK, v);
            }
            json_response(
                StatusCode::OK,
                state.issue(random_token(), &client.client_id, Some(user)),
            )
        }
        Err(message) => sf_error(StatusCode::UNAUTHORIZED, message),
    }
}

/// Conditions, audience, recipient and user of a signature-checked assertion.
fn check_assertion(
    root: &Element,
    config: &OAuthConfig,
    now: i64,
    s: &Shared,
) -> Result<String, String> {
    let conditions =
        root.child(SAML_NS, "Conditions").ok_or("The SAML assertion has no Conditions")?;
    let time = |el: &Element, attr: &str| {
        el.attr(attr).and_then(|v| v.parse::<jiff::Timestamp>().ok()).map(|t| t.as_second())
    };
    if let Some(nb) = time(conditions, "NotBefore")
        && now + LEEWAY_SECS < nb
    {
        return Err(format!(
            "The SAML assertion is not yet valid (NotBefore {})",
            conditions.attr("NotBefore").unwrap_or("")
        ));
    }
    let subject = root.child(SAML_NS, "Subject").ok_or("The SAML assertion has no Subject")?;
    let data = subject
        .child(SAML_NS, "SubjectConfirmation")
        .and_then(|c| c.child(SAML_NS, "SubjectConfirmationData"));
    let until = time(conditions, "NotOnOrAfter")
        .or_else(|| data.and_then(|d| time(d, "NotOnOrAfter")))
        .ok_or("The SAML assertion has no NotOnOrAfter")?;
    if now - LEEWAY_SECS >= until {
        return Err(format!(
            "The SAML assertion has expired (NotOnOrAfter {})",
            conditions.attr("NotOnOrAfter").unwrap_or("")
        ));
    }
    let audiences: Vec<String> = conditions
        .children_named(SAML_NS, "AudienceRestriction")
        .flat_map(|r| r.children_named(SAML_NS, "Audience"))
        .map(Element::text)
        .collect();
    if !audiences.iter().any(|a| a.trim() == "www.successfactors.com") {
        return Err(format!("Invalid audience in the SAML assertion: {}", audiences.join(", ")));
    }
    let base = s.base_url.get().cloned().unwrap_or_default();
    let recipient = data.and_then(|d| d.attr("Recipient")).unwrap_or("");
    if recipient != format!("{base}/oauth/token") {
        return Err(format!("Invalid recipient in the SAML assertion: '{recipient}'"));
    }
    let user = subject.child(SAML_NS, "NameID").map(Element::text).unwrap_or_default();
    if !config.api_users.iter().any(|u| *u == user.trim()) {
        return Err("Unable to authenticate the client (Login failed - invalid user)".into());
    }
    Ok(user.trim().to_owned())
}

struct Cert {
    public_key: Vec<u8>,
    not_before: i64,
    not_after: i64,
}

fn parse_certificate(pem: &str) -> Result<Cert, String> {
    let (_, pem) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).map_err(|e| e.to_string())?;
    let cert = pem.parse_x509().map_err(|e| e.to_string())?;
    Ok(Cert {
        public_key: cert.public_key().subject_public_key.data.to_vec(),
        not_before: cert.validity().not_before.timestamp(),
        not_after: cert.validity().not_after.timestamp(),
    })
}

/// Checks the enveloped signature of `root` (the signed element must be the
/// root itself: `Reference URI="#<root ID>"`, which rules out wrapping).
fn verify_enveloped(root: &Element, public_key: &[u8]) -> Result<(), String> {
    let sigs: Vec<&Element> = root.children_named(DS_NS, "Signature").collect();
    let [sig] = sigs.as_slice() else { return Err(format!("{} Signature elements", sigs.len())) };
    let info = sig.child(DS_NS, "SignedInfo").ok_or("no SignedInfo")?;
    let alg = |el: Option<&Element>| el.and_then(|e| e.attr("Algorithm")).unwrap_or("").to_owned();
    if alg(info.child(DS_NS, "CanonicalizationMethod")) != EXC_C14N {
        return Err("canonicalization is not exc-c14n".into());
    }
    if alg(info.child(DS_NS, "SignatureMethod")) != RSA_SHA256 {
        return Err("signature method is not rsa-sha256".into());
    }
    let refs: Vec<&Element> = info.children_named(DS_NS, "Reference").collect();
    let [reference] = refs.as_slice() else { return Err("not exactly one Reference".into()) };
    let id = root.attr("ID").ok_or("assertion has no ID")?;
    if reference.attr("URI") != Some(&format!("#{id}")) {
        return Err("Reference does not point at the assertion".into());
    }
    let transforms: Vec<String> = reference
        .child(DS_NS, "Transforms")
        .map(|t| {
            t.children_named(DS_NS, "Transform")
                .map(|x| x.attr("Algorithm").unwrap_or("").to_owned())
                .collect()
        })
        .unwrap_or_default();
    if transforms != [ENVELOPED, EXC_C14N] {
        return Err(format!("unsupported transforms {transforms:?}"));
    }
    if alg(reference.child(DS_NS, "DigestMethod")) != SHA256 {
        return Err("digest method is not sha256".into());
    }
    let expected = STANDARD
        .decode(reference.child(DS_NS, "DigestValue").map(Element::text).unwrap_or_default().trim())
        .map_err(|_| "DigestValue is not base64")?;
    let mut canonical = String::new();
    c14n(root, &BTreeMap::new(), Some(sig), &mut canonical);
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, canonical.as_bytes());
    if digest.as_ref() != expected.as_slice() {
        return Err("digest mismatch".into());
    }
    let mut signed_info = String::new();
    c14n(info, &BTreeMap::new(), None, &mut signed_info);
    let value: String = sig
        .child(DS_NS, "SignatureValue")
        .map(Element::text)
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    let signature = STANDARD.decode(value).map_err(|_| "SignatureValue is not base64")?;
    aws_lc_rs::signature::UnparsedPublicKey::new(
        &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256,
        public_key,
    )
    .verify(signed_info.as_bytes(), &signature)
    .map_err(|_| "signature does not verify".to_owned())
}

// ----- a minimal XML tree and exclusive canonicalization ---------------------

/// An XML element (also used to read Atom upsert bodies, `crate::upsert`).
#[derive(Debug)]
pub(crate) struct Element {
    /// Qualified name as written (`saml2:Assertion`).
    pub(crate) qname: String,
    pub(crate) ns: String,
    pub(crate) local: String,
    /// Attributes other than namespace declarations: (qualified name, value).
    pub(crate) attrs: Vec<(String, String)>,
    /// Every namespace binding in scope (prefix `""` = default namespace).
    pub(crate) scope: BTreeMap<String, String>,
    pub(crate) children: Vec<Node>,
}

#[derive(Debug)]
pub(crate) enum Node {
    Element(Element),
    Text(String),
}

impl Element {
    pub(crate) fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
    pub(crate) fn children_named<'a, 'n>(
        &'a self,
        ns: &'n str,
        local: &'n str,
    ) -> impl Iterator<Item = &'a Element> + use<'a, 'n> {
        self.children.iter().filter_map(move |c| match c {
            Node::Element(e) if e.ns == ns && e.local == local => Some(e),
            _ => None,
        })
    }
    pub(crate) fn child(&self, ns: &str, local: &str) -> Option<&Element> {
        self.children_named(ns, local).next()
    }
    pub(crate) fn text(&self) -> String {
        self.children
            .iter()
            .filter_map(|c| if let Node::Text(t) = c { Some(t.as_str()) } else { None })
            .collect()
    }
}

fn split_qname(q: &str) -> (&str, &str) {
    q.split_once(':').unwrap_or(("", q))
}

/// Parses an XML document into a tree (no DTDs, no processing instructions).
pub(crate) fn parse_xml(text: &str) -> Result<Element, String> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(text);
    let mut stack: Vec<Element> = Vec::new();
    let mut root = None;
    let open = |e: &quick_xml::events::BytesStart<'_>,
                parent: Option<&Element>|
     -> Result<Element, String> {
        let mut scope = parent.map(|p| p.scope.clone()).unwrap_or_default();
        let mut attrs = Vec::new();
        for a in e.attributes() {
            let a = a.map_err(|e| e.to_string())?;
            let key = a.key.as_ref().to_owned();
            let value = a
                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .map_err(|e| e.to_string())?
                .into_owned();
            if key == "xmlns" {
                scope.insert(String::new(), value);
            } else if let Some(p) = key.strip_prefix("xmlns:") {
                scope.insert(p.to_owned(), value);
            } else {
                attrs.push((key, value));
            }
        }
        let qname = e.name().as_ref().to_owned();
        let (prefix, local) = split_qname(&qname);
        let ns = scope.get(prefix).cloned().unwrap_or_default();
        if !prefix.is_empty() && ns.is_empty() {
            return Err(format!("undeclared prefix {prefix}"));
        }
        Ok(Element { local: local.to_owned(), qname, ns, attrs, scope, children: Vec::new() })
    };
    loop {
        let event = reader
            .read_event()
            .map_err(|e| format!("at byte {}: {e}", reader.buffer_position()))?;
        let close = |el: Element, stack: &mut Vec<Element>, root: &mut Option<Element>| match stack
            .last_mut()
        {
            Some(parent) => parent.children.push(Node::Element(el)),
            None => *root = Some(el),
        };
        match event {
            Event::Start(e) => {
                if root.is_some() {
                    return Err("content after the root element".into());
                }
                let el = open(&e, stack.last())?;
                stack.push(el);
            }
            Event::Empty(e) => {
                if root.is_some() {
                    return Err("content after the root element".into());
                }
                let el = open(&e, stack.last())?;
                close(el, &mut stack, &mut root);
            }
            Event::End(_) => {
                let el = stack.pop().ok_or("unbalanced end tag")?;
                close(el, &mut stack, &mut root);
            }
            Event::Text(t) => {
                if let Some(top) = stack.last_mut() {
                    push_text(top, &t.xml10_content());
                }
            }
            Event::CData(t) => {
                if let Some(top) = stack.last_mut() {
                    push_text(top, &t.into_inner());
                }
            }
            Event::GeneralRef(r) => {
                let c = if r.is_char_ref() {
                    r.resolve_char_ref()
                        .map_err(|e| e.to_string())?
                        .ok_or("bad character reference")?
                } else {
                    match &*r {
                        "amp" => '&',
                        "lt" => '<',
                        "gt" => '>',
                        "quot" => '"',
                        "apos" => '\'',
                        other => return Err(format!("undefined entity &{other};")),
                    }
                };
                if let Some(top) = stack.last_mut() {
                    push_text(top, c.encode_utf8(&mut [0u8; 4]));
                }
            }
            Event::Comment(_) | Event::Decl(_) => {}
            Event::DocType(_) => return Err("DTDs are not accepted".into()),
            Event::PI(_) => return Err("processing instructions are not accepted".into()),
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err("unclosed element".into());
    }
    root.ok_or_else(|| "no root element".into())
}

fn push_text(el: &mut Element, text: &str) {
    if let Some(Node::Text(t)) = el.children.last_mut() {
        t.push_str(text);
    } else {
        el.children.push(Node::Text(text.to_owned()));
    }
}

/// Exclusive XML Canonicalization 1.0 (without comments) of `el`'s subtree,
/// leaving out `skip` (the enveloped Signature). `rendered` holds the
/// namespace bindings output ancestors already declared.
fn c14n(
    el: &Element,
    rendered: &BTreeMap<String, String>,
    skip: Option<&Element>,
    out: &mut String,
) {
    // Visibly utilized prefixes: the element's own and its prefixed attributes'.
    let mut used: Vec<&str> = vec![split_qname(&el.qname).0];
    for (k, _) in &el.attrs {
        let (p, _) = split_qname(k);
        if !p.is_empty() && p != "xml" {
            used.push(p);
        }
    }
    used.sort_unstable();
    used.dedup();
    let mut now_rendered = rendered.clone();
    out.push('<');
    out.push_str(&el.qname);
    for p in used {
        let uri = el.scope.get(p).map(String::as_str).unwrap_or("");
        let before = rendered.get(p).map(String::as_str);
        // An empty default namespace needs no declaration unless it undoes one.
        if before == Some(uri) || (p.is_empty() && uri.is_empty() && before.is_none()) {
            continue;
        }
        if p.is_empty() {
            out.push_str(" xmlns=\"");
        } else {
            out.push_str(" xmlns:");
            out.push_str(p);
            out.push_str("=\"");
        }
        escape(out, uri, true);
        out.push('"');
        now_rendered.insert(p.to_owned(), uri.to_owned());
    }
    let mut attrs: Vec<(&str, &str, &String, &String)> = el
        .attrs
        .iter()
        .map(|(k, v)| {
            let (p, local) = split_qname(k);
            let ns =
                if p.is_empty() { "" } else { el.scope.get(p).map(String::as_str).unwrap_or("") };
            (ns, local, k, v)
        })
        .collect();
    attrs.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
    for (_, _, k, v) in attrs {
        out.push(' ');
        out.push_str(k);
        out.push_str("=\"");
        escape(out, v, true);
        out.push('"');
    }
    out.push('>');
    for child in &el.children {
        match child {
            Node::Text(t) => escape(out, t, false),
            Node::Element(c) if skip.is_some_and(|s| std::ptr::eq(s, c)) => {}
            Node::Element(c) => c14n(c, &now_rendered, skip, out),
        }
    }
    out.push_str("</");
    out.push_str(&el.qname);
    out.push('>');
}

fn escape(out: &mut String, s: &str, attr: bool) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' if !attr => out.push_str("&gt;"),
            '"' if attr => out.push_str("&quot;"),
            '\t' if attr => out.push_str("&#x9;"),
            '\n' if attr => out.push_str("&#xA;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
}

// ----- SAP Cloud Identity Service /oauth2/token ------------------------------

/// `POST /oauth2/token` (client credentials with a JWT client assertion).
pub async fn ias_token(State(s): State<Arc<Shared>>, body: Bytes) -> Response {
    let Some(state) = oauth_state(&s) else {
        return ias_error(
            StatusCode::NOT_FOUND,
            "invalid_request",
            "OAuth is not configured on this emulator",
        );
    };
    let form = parse_form(&body);
    let get = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
    if get("grant_type") != "client_credentials" {
        return ias_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            format!("grant_type '{}' is not supported here", get("grant_type")),
        );
    }
    let trusts: Vec<&IasTrust> =
        state.config.ias.iter().filter(|t| t.client_id == get("client_id")).collect();
    if trusts.is_empty() {
        return ias_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            format!("Client authentication failed: unknown client '{}'", get("client_id")),
        );
    }
    if get("client_assertion_type") != JWT_BEARER_ASSERTION || get("client_assertion").is_empty() {
        return ias_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Client authentication failed: no JWT client assertion",
        );
    }
    if get("resource") != format!("{DEPENDENCY_PREFIX}{}", state.config.dependency) {
        return ias_error(
            StatusCode::BAD_REQUEST,
            "invalid_target",
            format!("Resource '{}' is not a dependency of the application", get("resource")),
        );
    }
    let assertion = get("client_assertion");
    let unverified: Option<Value> =
        jsonwebtoken::dangerous::insecure_decode::<Value>(assertion).ok().map(|d| d.claims);
    let Some(claims) = unverified else {
        return ias_error(
            StatusCode::UNAUTHORIZED,
            "unauthorized_client",
            "The client assertion is not a JWT",
        );
    };
    let iss = claims.get("iss").and_then(Value::as_str).unwrap_or("");
    let Some(trust) = trusts.iter().find(|t| t.issuer == iss) else {
        return ias_error(
            StatusCode::UNAUTHORIZED,
            "unauthorized_client",
            format!("No trust configured for issuer '{iss}'"),
        );
    };
    let jwks = match state.trust_jwks(trust, false).await {
        Ok(j) => j,
        Err(e) => {
            return ias_error(StatusCode::UNAUTHORIZED, "unauthorized_client", e);
        }
    };
    let mut verified = verify_signature(assertion, &jwks);
    if let Err(SignatureError::UnknownKid(_)) = &verified
        && trust.jwks_uri.is_some()
    {
        // The issuer may have rotated its keys: fetch the set once more.
        verified = match state.trust_jwks(trust, true).await {
            Ok(j) => verify_signature(assertion, &j),
            Err(e) => return ias_error(StatusCode::UNAUTHORIZED, "unauthorized_client", e),
        };
    }
    if let Err(e) = verified {
        return ias_error(
            StatusCode::UNAUTHORIZED,
            "unauthorized_client",
            format!("JWT signature validation failed: {e}"),
        );
    }
    let now = jiff::Timestamp::now().as_second();
    let num = |k: &str| claims.get(k).and_then(Value::as_i64);
    match num("exp") {
        Some(exp) if now - LEEWAY_SECS < exp => {}
        _ => {
            return ias_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client_assertion",
                "The client assertion has expired",
            );
        }
    }
    if num("nbf").is_some_and(|nbf| now + LEEWAY_SECS < nbf) {
        return ias_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client_assertion",
            "The client assertion is not yet valid (nbf)",
        );
    }
    if num("iat").unwrap_or(i64::MIN) < state.assertions_not_before.load(Ordering::Relaxed) {
        return ias_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client_assertion",
            "The client assertion was issued before the trust configuration changed",
        );
    }
    let sub = claims.get("sub").and_then(Value::as_str).unwrap_or("");
    if sub != trust.subject {
        return ias_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client_assertion",
            format!("Subject '{sub}' does not match the trust configuration"),
        );
    }
    let aud_ok = match claims.get("aud") {
        Some(Value::String(a)) => *a == trust.audience,
        Some(Value::Array(list)) => {
            list.iter().any(|a| a.as_str() == Some(trust.audience.as_str()))
        }
        _ => false,
    };
    if !aud_ok {
        return ias_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client_assertion",
            "Audience does not match the trust configuration",
        );
    }
    let user = state
        .config
        .oidc_mappings
        .iter()
        .find(|(c, _)| *c == trust.client_id)
        .map(|(_, u)| u.clone());
    let issuer = state.issuer_url.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let at2_claims = json!({
        "iss": issuer,
        "sub": trust.client_id,
        "aud": trust.client_id,
        "azp": trust.client_id,
        "iat": now,
        "exp": now + i64::try_from(state.config.token_lifetime.as_secs()).unwrap_or(i64::MAX / 2),
        "jti": random_token(),
        "ias_apis": state.config.dependency_apis,
    });
    let technical_access = state.config.dependency_apis.iter().any(|a| a == "sf_technical_access");
    let at2 = match jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &at2_claims,
        &jsonwebtoken::EncodingKey::from_secret(&state.at2_secret),
    ) {
        Ok(t) => t,
        Err(e) => {
            return ias_error(StatusCode::INTERNAL_SERVER_ERROR, "server_error", e.to_string());
        }
    };
    json_response(StatusCode::OK, state.issue_with(at2, &trust.client_id, user, technical_access))
}

/// `GET uri` of a JWKS (plain HTTP/1.1 over TCP: the emulator serves
/// loopback tests and needs no TLS). Errors name the URI and the cause.
async fn fetch_jwks(uri: &str) -> Result<String, String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let unreachable = |cause: String| format!("JWKS URI {uri} is unreachable: {cause}");
    let rest = uri
        .strip_prefix("http://")
        .ok_or_else(|| unreachable("only http:// URIs are fetched by the emulator".into()))?;
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let io = async {
        let mut stream = tokio::net::TcpStream::connect(host).await?;
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept: application/json\r\nConnection: close\r\n\r\n"
        );
        stream.write_all(req.as_bytes()).await?;
        let mut buf = Vec::new();
        stream.read_to_end(&mut buf).await?;
        Ok::<_, std::io::Error>(buf)
    };
    let buf = tokio::time::timeout(Duration::from_secs(5), io)
        .await
        .map_err(|_| unreachable("timed out".into()))?
        .map_err(|e| unreachable(e.to_string()))?;
    let text = String::from_utf8_lossy(&buf);
    let (head, body) =
        text.split_once("\r\n\r\n").ok_or_else(|| unreachable("no HTTP answer".into()))?;
    let status = head.split_whitespace().nth(1).unwrap_or("");
    if status != "200" {
        return Err(unreachable(format!("HTTP {status}")));
    }
    let body = if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        dechunk(body)
    } else {
        body.to_owned()
    };
    serde_json::from_str::<jsonwebtoken::jwk::JwkSet>(&body)
        .map_err(|e| format!("JWKS URI {uri} did not answer a JWKS: {e}"))?;
    Ok(body)
}

/// The body of a chunked transfer encoding.
fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else { break };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// Why a signature did not verify.
#[derive(Debug)]
enum SignatureError {
    UnknownKid(String),
    Other(String),
}

impl std::fmt::Display for SignatureError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SignatureError::UnknownKid(kid) => write!(f, "kid '{kid}' is not in the JWKS"),
            SignatureError::Other(e) => f.write_str(e),
        }
    }
}

/// RS256 signature of `token` against a key of `jwks` chosen by `kid`.
fn verify_signature(token: &str, jwks: &str) -> Result<(), SignatureError> {
    let other = |e: String| SignatureError::Other(e);
    let header = jsonwebtoken::decode_header(token).map_err(|e| other(e.to_string()))?;
    if header.alg != jsonwebtoken::Algorithm::RS256 {
        return Err(other(format!("algorithm {:?} is not accepted", header.alg)));
    }
    let set: jsonwebtoken::jwk::JwkSet =
        serde_json::from_str(jwks).map_err(|e| other(format!("JWKS unreadable: {e}")))?;
    let kid = header.kid.ok_or_else(|| other("the JWT has no kid".into()))?;
    let jwk = set.find(&kid).ok_or_else(|| SignatureError::UnknownKid(kid.clone()))?;
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).map_err(|e| other(e.to_string()))?;
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    // Claims are checked by the caller so each failure gets its own error code.
    v.required_spec_claims.clear();
    v.validate_exp = false;
    v.validate_nbf = false;
    v.validate_aud = false;
    jsonwebtoken::decode::<Value>(token, &key, &v).map(|_| ()).map_err(|e| other(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_decoding() {
        let f = parse_form(b"a=1+2&b=%2Fx%3D&c=&d=%zz");
        assert_eq!(f["a"], "1 2");
        assert_eq!(f["b"], "/x=");
        assert_eq!(f["c"], "");
        assert_eq!(f["d"], "%zz");
    }

    #[test]
    fn exclusive_c14n_of_a_parsed_document() {
        // Namespaces move to where they are used, attributes sort, empty
        // elements expand, entities resolve and re-escape, comments drop.
        let doc = r#"<?xml version="1.0"?><a:r xmlns:a="urn:a" xmlns:b="urn:b" z="1" b:y="2" x="&amp;&#x41;"><!-- c --><b:c/><a:d>1 &lt; 2</a:d></a:r>"#;
        let root = parse_xml(doc).unwrap();
        let mut out = String::new();
        c14n(&root, &BTreeMap::new(), None, &mut out);
        assert_eq!(
            out,
            r#"<a:r xmlns:a="urn:a" xmlns:b="urn:b" x="&amp;A" z="1" b:y="2"><b:c></b:c><a:d>1 &lt; 2</a:d></a:r>"#
        );
        let d = root.child("urn:a", "d").unwrap();
        let mut sub = String::new();
        c14n(d, &BTreeMap::new(), None, &mut sub);
        assert_eq!(sub, r#"<a:d xmlns:a="urn:a">1 &lt; 2</a:d>"#);
        assert!(parse_xml("<!DOCTYPE x [<!ENTITY e 'x'>]><x>&e;</x>").is_err());
        assert!(parse_xml("<x><y></x>").is_err());
    }
}
