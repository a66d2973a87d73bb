//! Compact JWS (RS256) signing for self-signed AT1 tokens, and reading the
//! claims of a federated token without verifying it (hrsync is not the party
//! that trusts it; it only reads `exp`/`nbf` to explain a stale file).
//!
//! Signing is a dozen lines over [`SigningKey`]; tests verify the result with
//! the independent `jsonwebtoken` crate, and the emulator verifies it with the
//! same crate, so this code cannot agree with its verifier by sharing a bug.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::SecretString;
use serde_json::json;

use crate::error::AuthError;
use crate::keys::SigningKey;

/// Claims of a self-signed AT1.
#[derive(Debug, Clone)]
pub struct Claims<'a> {
    pub issuer: &'a str,
    pub subject: &'a str,
    pub audience: &'a str,
    pub issued_at: jiff::Timestamp,
    pub lifetime_secs: u64,
    /// `jti`, unique per token.
    pub id: &'a str,
}

/// Signs `claims` as a compact RS256 JWT with header `kid`.
pub fn sign(
    key: &SigningKey,
    key_id: &str,
    claims: &Claims<'_>,
) -> Result<SecretString, AuthError> {
    let header = json!({ "alg": "RS256", "typ": "JWT", "kid": key_id });
    let iat = claims.issued_at.as_second();
    let body = json!({
        "iss": claims.issuer,
        "sub": claims.subject,
        "aud": claims.audience,
        "iat": iat,
        "nbf": iat,
        "exp": iat.saturating_add(i64::try_from(claims.lifetime_secs).unwrap_or(i64::MAX)),
        "jti": claims.id,
    });
    let mut input = URL_SAFE_NO_PAD.encode(header.to_string());
    input.push('.');
    input.push_str(&URL_SAFE_NO_PAD.encode(body.to_string()));
    let sig = key.sign(input.as_bytes())?;
    input.push('.');
    input.push_str(&URL_SAFE_NO_PAD.encode(sig));
    Ok(SecretString::from(input))
}

/// The payload of a compact JWT, unverified; `None` if it is not one.
pub fn unverified_claims(token: &str) -> Option<serde_json::Value> {
    let mut parts = token.trim().split('.');
    let (_header, payload, _sig) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// A client assertion for Entra ID's token endpoint (`private_key_jwt`):
/// PS256, header `x5t#S256` = base64url SHA-256 of the certificate's DER,
/// `aud` = the token endpoint, `iss` = `sub` = `client_id`, unique `jti`,
/// `nbf`/`iat`/`exp` (10 minutes), per Microsoft's "certificate
/// credentials" page.
pub fn entra_client_assertion(
    key: &SigningKey,
    x5t_s256: &str,
    client_id: &str,
    token_url: &str,
    issued_at: jiff::Timestamp,
    id: &str,
) -> Result<SecretString, AuthError> {
    let iat = issued_at.as_second();
    let header = json!({ "alg": "PS256", "typ": "JWT", "x5t#S256": x5t_s256 });
    let body = json!({
        "aud": token_url,
        "iss": client_id,
        "sub": client_id,
        "jti": id,
        "nbf": iat,
        "iat": iat,
        "exp": iat.saturating_add(600),
    });
    let mut input = URL_SAFE_NO_PAD.encode(header.to_string());
    input.push('.');
    input.push_str(&URL_SAFE_NO_PAD.encode(body.to_string()));
    let sig = key.sign_pss(input.as_bytes())?;
    input.push('.');
    input.push_str(&URL_SAFE_NO_PAD.encode(sig));
    Ok(SecretString::from(input))
}

/// base64url SHA-256 of a certificate's DER (`x5t#S256`).
pub fn x5t_s256(der: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der))
}
