//! The Entra token endpoint (`POST /{tenant}/oauth2/v2.0/token`, client
//! credentials with a certificate assertion or a secret; access tokens are
//! Entra-shaped JWTs, [`crate::issuer`]), its discovery document and JWKS, and the bearer
//! check on `/v1.0` (including the `$batch` POST). Auth is enforced only
//! once an app is registered on the builder.
//!
//! AADSTS codes. **Verified** with the search tool against Microsoft Learn:
//! 70011 (`invalid_scope`) and the error body shape (`error_codes`,
//! `timestamp`, `trace_id`, `correlation_id`, `error_uri`) from the AADSTS
//! error-code reference; 7000215 (invalid secret), 700016 (app not found in
//! the tenant), 700027 (assertion contains an invalid signature), 700021
//! (assertion application identifier does not match `client_id`) and 700023
//! (assertion audience claim does not match the realm issuer) from the Azure
//! SDK for Java service-principal troubleshooting page. **Seen only in a
//! third-party issue title**: 700024 ("Client assertion is not within its
//! valid time range"). **Unverified** (from memory): 70003 (unsupported
//! grant type), 50027 (malformed JWT), 7000218 (no credential in the body),
//! the exact HTTP status (400 vs 401) of each refusal, and the use of 700027
//! also for an unknown thumbprint ("key was not found").
//!
//! Workload identity federation (an app's federated identity credential:
//! issuer, subject, audience; the external JWT is the `client_assertion`).
//! **Seen in real Entra answers quoted in GitHub issues** (search tool,
//! Azure/azure-workload-identity #340, #616, #1200, #1232, #1350;
//! dotnet/maui #31978): 70021 (`invalid_request`, HTTP 400, "No matching
//! federated identity record found for presented assertion. Assertion
//! Issuer: '…'. Assertion Subject: '…'. Assertion Audience: '…'."; the older
//! form), 700211 (`invalid_client`, HTTP 401, "… for presented assertion
//! issuer '…'"), 700213 ("… for presented assertion subject '…'") and
//! 7000272 (`invalid_client`, the signing key id is not in the issuer's
//! metadata). **Unverified**: 700212 for the audience (by analogy with
//! 700211/700213), 700024 for an expired federated token, 700027 for a bad
//! signature with a known key id, and the order of the checks. The double
//! takes the issuer's JWKS directly; Entra fetches it from
//! `{issuer}/.well-known/openid-configuration`.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::json;

/// A registered app's credential.
#[derive(Debug, Clone)]
pub(crate) enum Credential {
    Secret(String),
    Cert {
        public_key_der: Vec<u8>,
        sha256: String,
        sha1: String,
    },
    /// A federated identity credential: the external token's `iss`, `sub`
    /// and `aud` must match, and it must be signed by a key of `keys`.
    Federation {
        issuer: String,
        subject: String,
        audience: String,
        keys: jsonwebtoken::jwk::JwkSet,
    },
}

/// Parses the issuer's keys: a JWKS document (`{"keys": [...]}`, what
/// `hrsync keys generate` writes) or a PEM public key / certificate
/// (key id `""`: matched when the token has no `kid`).
pub(crate) fn federation_keys(keys: &str) -> Result<jsonwebtoken::jwk::JwkSet, String> {
    let keys = keys.trim();
    if keys.starts_with('{') {
        return serde_json::from_str(keys).map_err(|e| format!("not a JWKS: {e}"));
    }
    let (n, e) = if keys.contains("BEGIN CERTIFICATE") {
        let (_, pem) =
            x509_parser::pem::parse_x509_pem(keys.as_bytes()).map_err(|e| e.to_string())?;
        let cert = pem.parse_x509().map_err(|e| e.to_string())?;
        rsa_components(&cert.public_key().subject_public_key.data)?
    } else {
        let (_, pem) =
            x509_parser::pem::parse_x509_pem(keys.as_bytes()).map_err(|e| e.to_string())?;
        let (_, spki) =
            <x509_parser::x509::SubjectPublicKeyInfo as x509_parser::prelude::FromDer<
                x509_parser::error::X509Error,
            >>::from_der(&pem.contents)
            .map_err(|e| e.to_string())?;
        rsa_components(&spki.subject_public_key.data)?
    };
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let jwk = json!({"kty": "RSA", "n": b64.encode(n), "e": b64.encode(e)});
    serde_json::from_value(json!({"keys": [jwk]})).map_err(|e| e.to_string())
}

/// (modulus, exponent) of a PKCS#1 `RSAPublicKey`.
fn rsa_components(pkcs1: &[u8]) -> Result<(Vec<u8>, Vec<u8>), String> {
    use x509_parser::der_parser::ber::BerObjectContent;
    let (_, seq) = x509_parser::der_parser::parse_der(pkcs1).map_err(|e| e.to_string())?;
    let items = seq.as_sequence().map_err(|e| e.to_string())?;
    let int = |i: usize| match items.get(i).map(|o| &o.content) {
        Some(BerObjectContent::Integer(b)) => {
            Ok(b.iter().copied().skip_while(|x| *x == 0).collect::<Vec<u8>>())
        }
        _ => Err("not an RSA public key".to_owned()),
    };
    Ok((int(0)?, int(1)?))
}

/// Token endpoint and bearer state.
#[derive(Debug)]
pub(crate) struct Auth {
    pub(crate) apps: BTreeMap<String, Credential>,
    pub(crate) lifetime: Duration,
    pub(crate) base_url: String,
    pub(crate) tokens: Mutex<HashMap<String, Instant>>,
    pub(crate) issued: Arc<AtomicU64>,
    /// Signs issued access tokens (see [`crate::issuer`]).
    pub(crate) key: crate::issuer::IssuerKey,
}

/// `GET /{tenant}/v2.0/.well-known/openid-configuration`.
pub(crate) async fn openid_configuration(
    State(auth): State<Arc<Auth>>,
    Path(tenant): Path<String>,
) -> Response {
    axum::Json(crate::issuer::openid_configuration(&auth.base_url, &tenant)).into_response()
}

/// `GET /{tenant}/discovery/v2.0/keys`: the JWKS.
pub(crate) async fn keys(State(auth): State<Arc<Auth>>) -> Response {
    axum::Json(auth.key.jwks()).into_response()
}

/// Parses a PEM certificate into a credential (public key and thumbprints).
pub(crate) fn cert_credential(pem: &str) -> Result<Credential, String> {
    let (_, pem) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).map_err(|e| e.to_string())?;
    let cert = pem.parse_x509().map_err(|e| e.to_string())?;
    let public_key_der = cert.public_key().subject_public_key.data.to_vec();
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let sha256 = b64.encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &pem.contents));
    let sha1 = b64.encode(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY,
        &pem.contents,
    ));
    Ok(Credential::Cert { public_key_der, sha256, sha1 })
}

fn entra_error(status: StatusCode, error: &str, code: u32, desc: &str) -> Response {
    let trace = crate::users::new_guid();
    let corr = crate::users::new_guid();
    let ts = jiff::Timestamp::now().strftime("%Y-%m-%d %H:%M:%SZ").to_string();
    let body = json!({
        "error": error,
        "error_description": format!(
            "AADSTS{code}: {desc}\r\nTrace ID: {trace}\r\nCorrelation ID: {corr}\r\nTimestamp: {ts}"
        ),
        "error_codes": [code],
        "timestamp": ts,
        "trace_id": trace,
        "correlation_id": corr,
        "error_uri": format!("https://login.microsoftonline.com/error?code={code}"),
    });
    (status, axum::Json(body)).into_response()
}

/// A token request refused: status, `error`, AADSTS number, description.
struct Refusal(StatusCode, &'static str, u32, String);

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

#[derive(Debug, serde::Deserialize)]
struct Claims {
    aud: Option<String>,
    iss: Option<String>,
    sub: Option<String>,
    exp: Option<i64>,
    nbf: Option<i64>,
}

fn check_assertion(
    form: &HashMap<String, String>,
    client_id: &str,
    endpoint: &str,
    public_key_der: &[u8],
    sha256: &str,
    sha1: &str,
) -> Result<(), Refusal> {
    let bad = |status, error, code, desc: &str| Err(Refusal(status, error, code, desc.to_owned()));
    if form.get("client_assertion_type").map(String::as_str) != Some(JWT_BEARER) {
        return bad(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        );
    }
    let Some(jwt) = form.get("client_assertion") else {
        return bad(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        );
    };
    let Ok(header) = jsonwebtoken::decode_header(jwt) else {
        return bad(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            50027,
            "JWT token is invalid or malformed.",
        );
    };
    let key_matches = match (&header.x5t_s256, &header.x5t) {
        (Some(t), _) => t == sha256,
        (None, Some(t)) => t == sha1,
        (None, None) => false,
    };
    if !key_matches {
        return bad(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            700027,
            "Client assertion failed signature validation. Key was not found.",
        );
    }
    use jsonwebtoken::Algorithm;
    if !matches!(header.alg, Algorithm::RS256 | Algorithm::PS256) {
        return bad(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            700027,
            "Client assertion contains an invalid signature. Unsupported algorithm.",
        );
    }
    let mut v = jsonwebtoken::Validation::new(header.alg);
    v.validate_exp = false;
    v.validate_nbf = false;
    v.validate_aud = false;
    v.required_spec_claims.clear();
    let key = jsonwebtoken::DecodingKey::from_rsa_der(public_key_der);
    let claims = match jsonwebtoken::decode::<Claims>(jwt, &key, &v) {
        Ok(d) => d.claims,
        Err(e) if matches!(e.kind(), jsonwebtoken::errors::ErrorKind::InvalidSignature) => {
            return bad(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                700027,
                "Client assertion contains an invalid signature.",
            );
        }
        Err(_) => {
            return bad(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                50027,
                "JWT token is invalid or malformed.",
            );
        }
    };
    if claims.aud.as_deref() != Some(endpoint) {
        return bad(
            StatusCode::BAD_REQUEST,
            "invalid_client",
            700023,
            "Client assertion audience claim does not match Realm issuer.",
        );
    }
    if claims.iss.as_deref() != Some(client_id) || claims.sub.as_deref() != Some(client_id) {
        return bad(
            StatusCode::BAD_REQUEST,
            "invalid_client",
            700021,
            "Client assertion application identifier doesn't match 'client_id' parameter.",
        );
    }
    let now = jiff::Timestamp::now().as_second();
    let expired = claims.exp.is_none_or(|exp| exp <= now);
    let early = claims.nbf.is_some_and(|nbf| nbf > now);
    if expired || early {
        return bad(
            StatusCode::BAD_REQUEST,
            "invalid_client",
            700024,
            "Client assertion is not within its valid time range.",
        );
    }
    Ok(())
}

#[derive(Debug, serde::Deserialize)]
struct FederatedClaims {
    iss: Option<String>,
    sub: Option<String>,
    /// A string or a list (Kubernetes service-account tokens use a list).
    aud: Option<serde_json::Value>,
    exp: Option<i64>,
    nbf: Option<i64>,
}

fn check_federated(
    form: &HashMap<String, String>,
    issuer: &str,
    subject: &str,
    audience: &str,
    keys: &jsonwebtoken::jwk::JwkSet,
) -> Result<(), Refusal> {
    let bad = |status, error, code, desc: String| Err(Refusal(status, error, code, desc));
    let missing = "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.";
    if form.get("client_assertion_type").map(String::as_str) != Some(JWT_BEARER) {
        return bad(StatusCode::BAD_REQUEST, "invalid_request", 7000218, missing.into());
    }
    let Some(jwt) = form.get("client_assertion") else {
        return bad(StatusCode::BAD_REQUEST, "invalid_request", 7000218, missing.into());
    };
    let malformed = || {
        Err(Refusal(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            50027,
            "JWT token is invalid or malformed.".into(),
        ))
    };
    let Ok(header) = jsonwebtoken::decode_header(jwt) else { return malformed() };
    // The issuer is read before the signature is checked: it says whose
    // keys to check it with.
    let Ok(claims) =
        jsonwebtoken::dangerous::insecure_decode::<FederatedClaims>(jwt).map(|d| d.claims)
    else {
        return malformed();
    };
    let check = "Please check your federated identity credential Subject, Audience and Issuer against the presented assertion. https://learn.microsoft.com/entra/workload-id/workload-identity-federation";
    let iss = claims.iss.clone().unwrap_or_default();
    if iss != issuer {
        return bad(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            700211,
            format!(
                "No matching federated identity record found for presented assertion issuer '{iss}'. {check}"
            ),
        );
    }
    let kid = header.kid.clone().unwrap_or_default();
    let jwk = keys.keys.iter().find(|k| k.common.key_id.clone().unwrap_or_default() == kid);
    let Some(jwk) = jwk else {
        return bad(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000272,
            format!(
                "The certificate with identifier {kid} used to sign the federated credential could not be found in the metadata of identity provider {issuer}. Please validate that your Identity Provider's metadata exposes the key used to sign the incoming token."
            ),
        );
    };
    use jsonwebtoken::Algorithm;
    if !matches!(header.alg, Algorithm::RS256 | Algorithm::PS256 | Algorithm::ES256) {
        return bad(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            700027,
            "Client assertion contains an invalid signature. Unsupported algorithm.".into(),
        );
    }
    let Ok(key) = jsonwebtoken::DecodingKey::from_jwk(jwk) else {
        return bad(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000272,
            format!("The key {kid} in the metadata of identity provider {issuer} is not usable."),
        );
    };
    let mut v = jsonwebtoken::Validation::new(header.alg);
    v.validate_exp = false;
    v.validate_nbf = false;
    v.validate_aud = false;
    v.required_spec_claims.clear();
    match jsonwebtoken::decode::<FederatedClaims>(jwt, &key, &v) {
        Ok(_) => {}
        Err(e) if matches!(e.kind(), jsonwebtoken::errors::ErrorKind::InvalidSignature) => {
            return bad(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                700027,
                "Client assertion contains an invalid signature.".into(),
            );
        }
        Err(_) => return malformed(),
    }
    let now = jiff::Timestamp::now().as_second();
    let expired = claims.exp.is_none_or(|exp| exp <= now);
    let early = claims.nbf.is_some_and(|nbf| nbf > now);
    if expired || early {
        return bad(
            StatusCode::BAD_REQUEST,
            "invalid_client",
            700024,
            "Client assertion is not within its valid time range.".into(),
        );
    }
    let auds: Vec<String> = match &claims.aud {
        Some(serde_json::Value::String(a)) => vec![a.clone()],
        Some(serde_json::Value::Array(a)) => {
            a.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect()
        }
        _ => Vec::new(),
    };
    if !auds.iter().any(|a| a == audience) {
        return bad(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            700212,
            format!(
                "No matching federated identity record found for presented assertion audience '{}'. {check}",
                auds.join(",")
            ),
        );
    }
    let sub = claims.sub.unwrap_or_default();
    // Matching is case-sensitive (Entra's breaking change of 2025).
    if sub != subject {
        return bad(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            700213,
            format!(
                "No matching federated identity record found for presented assertion subject '{sub}'. {check}"
            ),
        );
    }
    Ok(())
}

/// `POST /{tenant}/oauth2/v2.0/token`.
pub(crate) async fn token(
    State(auth): State<Arc<Auth>>,
    Path(tenant): Path<String>,
    axum::Form(form): axum::Form<HashMap<String, String>>,
) -> Response {
    let bad = |status, error, code, desc: &str| entra_error(status, error, code, desc);
    if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
        return bad(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            70003,
            "The app requested an unsupported grant type.",
        );
    }
    let scope = form.get("scope").map(String::as_str).unwrap_or("");
    if !scope.ends_with("/.default") {
        return bad(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            70011,
            &format!(
                "The provided request must include a 'scope' input parameter ending in '/.default'. The scope '{scope}' isn't valid."
            ),
        );
    }
    let client_id = form.get("client_id").map(String::as_str).unwrap_or("");
    let Some(cred) = auth.apps.get(client_id) else {
        return bad(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            700016,
            &format!(
                "Application with identifier '{client_id}' was not found in the directory '{tenant}'."
            ),
        );
    };
    let endpoint = format!("{}/{tenant}/oauth2/v2.0/token", auth.base_url);
    match cred {
        Credential::Secret(secret) => match form.get("client_secret") {
            Some(s) if s == secret => {}
            Some(_) => {
                return bad(
                    StatusCode::UNAUTHORIZED,
                    "invalid_client",
                    7000215,
                    "Invalid client secret provided.",
                );
            }
            None => {
                return bad(
                    StatusCode::UNAUTHORIZED,
                    "invalid_client",
                    7000218,
                    "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
                );
            }
        },
        Credential::Cert { public_key_der, sha256, sha1 } => {
            if let Err(resp) =
                check_assertion(&form, client_id, &endpoint, public_key_der, sha256, sha1)
            {
                return entra_error(resp.0, resp.1, resp.2, &resp.3);
            }
        }
        Credential::Federation { issuer, subject, audience, keys } => {
            if let Err(r) = check_federated(&form, issuer, subject, audience, keys) {
                return entra_error(r.0, r.1, r.2, &r.3);
            }
        }
    }
    let azpacr = if matches!(cred, Credential::Secret(_)) { "1" } else { "2" };
    let claims = crate::issuer::claims(&crate::issuer::AppToken {
        base_url: &auth.base_url,
        tenant: &tenant,
        client_id,
        resource: crate::issuer::scope_resource(scope),
        azpacr,
        lifetime_secs: i64::try_from(auth.lifetime.as_secs()).unwrap_or(i64::MAX / 2),
    });
    let access_token = match auth.key.sign(&claims) {
        Ok(t) => t,
        Err(e) => {
            return bad(StatusCode::INTERNAL_SERVER_ERROR, "server_error", 50000, &e);
        }
    };
    {
        let mut tokens = match auth.tokens.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        tokens.insert(access_token.clone(), Instant::now() + auth.lifetime);
    }
    auth.issued.fetch_add(1, Ordering::Relaxed);
    axum::Json(json!({
        "token_type": "Bearer",
        "expires_in": auth.lifetime.as_secs(),
        "ext_expires_in": auth.lifetime.as_secs(),
        "access_token": access_token,
    }))
    .into_response()
}

/// Middleware: `/v1.0` needs a live bearer token once an app is registered.
pub(crate) async fn bearer(State(auth): State<Arc<Auth>>, req: Request, next: Next) -> Response {
    if auth.apps.is_empty() || !req.uri().path().starts_with("/v1.0") {
        return next.run(req).await;
    }
    let token = req
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim)
        .unwrap_or("");
    let message = if token.is_empty() {
        Some("Access token is empty.")
    } else {
        let tokens = match auth.tokens.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        match tokens.get(token) {
            Some(until) if *until > Instant::now() => None,
            Some(_) => Some("Lifetime validation failed, the token is expired."),
            None => Some("Invalid JWT token. The token is malformed."),
        }
    };
    match message {
        None => next.run(req).await,
        Some(m) => {
            let request_id = crate::users::new_guid();
            let client_request_id = req
                .headers()
                .get("client-request-id")
                .and_then(|v| v.to_str().ok())
                .map_or_else(|| request_id.clone(), str::to_owned);
            let ids = crate::users::RequestIds { request_id, client_request_id };
            crate::users::error(&ids, StatusCode::UNAUTHORIZED, "InvalidAuthenticationToken", m)
        }
    }
}
