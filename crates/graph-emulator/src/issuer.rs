//! Entra-shaped access tokens: the token endpoint signs each access token
//! it issues as a JWT (RS256, header `kid`) with a key the double makes at
//! start, and publishes that key the way Entra does:
//! `GET /{tenant}/v2.0/.well-known/openid-configuration` (`issuer`,
//! `jwks_uri`, `token_endpoint`, ...) and `GET /{tenant}/discovery/v2.0/keys`.
//!
//! Claims of an app-only v2.0 access token. **Seen** with the search tool
//! (third-party pages quoting Microsoft's claims reference): `azpacr` "1"
//! for a secret and "2" for a certificate, `azp` the client's application
//! id, `oid` the caller's object id, `iss` ending in `/v2.0`; `sub` is
//! documented as pairwise per application for user tokens. **From memory,
//! unverified**: that `sub` equals `oid` (the service principal's object
//! id) in app-only tokens, `idtyp = app`, `uti`, and the discovery
//! document's field set. The claims:
//! `iss` = `{login}/{tenant}/v2.0`, `aud` = the resource of the requested
//! scope (`<resource>/.default` -> `<resource>`), `sub` and `oid` = the
//! object id of the app's service principal in the tenant, `azp` = the
//! client id, `azpacr` = `1` for a secret and `2` for a certificate or
//! federated assertion, `tid`, `idtyp` = `app`, `ver` = `2.0`, `iat`,
//! `nbf`, `exp`, `uti` (a unique id). The double's service-principal ids
//! are derived from the client id ([`service_principal_id`]) so a test
//! can configure a trust before the double starts.

use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256, RsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

/// The double's token-signing key.
pub(crate) struct IssuerKey {
    pair: RsaKeyPair,
    kid: String,
}

impl std::fmt::Debug for IssuerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuerKey").field("kid", &self.kid).finish_non_exhaustive()
    }
}

impl IssuerKey {
    pub(crate) fn generate() -> Result<IssuerKey, String> {
        let pair = RsaKeyPair::generate(KeySize::Rsa2048)
            .map_err(|_| "RSA key generation failed".to_owned())?;
        let n = pair.public_key().modulus().big_endian_without_leading_zero().to_vec();
        // Entra's key ids are base64url strings; a digest of the modulus is one.
        let kid = URL_SAFE_NO_PAD
            .encode(&aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &n).as_ref()[..15]);
        Ok(IssuerKey { pair, kid })
    }

    /// `{"keys":[...]}` with the public key.
    pub(crate) fn jwks(&self) -> Value {
        let pk = self.pair.public_key();
        json!({"keys": [{
            "kty": "RSA",
            "use": "sig",
            "alg": "RS256",
            "kid": self.kid,
            "n": URL_SAFE_NO_PAD.encode(pk.modulus().big_endian_without_leading_zero()),
            "e": URL_SAFE_NO_PAD.encode(pk.exponent().big_endian_without_leading_zero()),
        }]})
    }

    /// `claims` as a compact RS256 JWS with `kid` and `typ: JWT`.
    pub(crate) fn sign(&self, claims: &Value) -> Result<String, String> {
        let header = json!({"typ": "JWT", "alg": "RS256", "kid": self.kid});
        let mut jwt = URL_SAFE_NO_PAD.encode(header.to_string());
        jwt.push('.');
        jwt.push_str(&URL_SAFE_NO_PAD.encode(claims.to_string()));
        let mut sig = vec![0u8; self.pair.public_modulus_len()];
        self.pair
            .sign(
                &RSA_PKCS1_SHA256,
                &aws_lc_rs::rand::SystemRandom::new(),
                jwt.as_bytes(),
                &mut sig,
            )
            .map_err(|_| "RSA signing failed".to_owned())?;
        jwt.push('.');
        jwt.push_str(&URL_SAFE_NO_PAD.encode(sig));
        Ok(jwt)
    }
}

/// The object id of the service principal of `client_id` in the double's
/// tenant: a GUID derived from the client id (stable across starts).
pub fn service_principal_id(client_id: &str) -> String {
    let d =
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, format!("sp:{client_id}").as_bytes());
    let h: String = d.as_ref()[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("{}-{}-4{}-8{}-{}", &h[0..8], &h[8..12], &h[13..16], &h[17..20], &h[20..32])
}

/// The issuer of tokens for `tenant`: `{base}/{tenant}/v2.0`.
pub fn issuer(base_url: &str, tenant: &str) -> String {
    format!("{}/{tenant}/v2.0", base_url.trim_end_matches('/'))
}

/// The resource of a `<resource>/.default` scope.
pub(crate) fn scope_resource(scope: &str) -> &str {
    scope.strip_suffix("/.default").unwrap_or(scope)
}

/// The claims of an app-only access token.
pub(crate) struct AppToken<'a> {
    pub base_url: &'a str,
    pub tenant: &'a str,
    pub client_id: &'a str,
    pub resource: &'a str,
    /// `1` secret, `2` certificate or federated assertion.
    pub azpacr: &'a str,
    pub lifetime_secs: i64,
}

pub(crate) fn claims(t: &AppToken<'_>) -> Value {
    let now = jiff::Timestamp::now().as_second();
    let sp = service_principal_id(t.client_id);
    json!({
        "aud": t.resource,
        "iss": issuer(t.base_url, t.tenant),
        "iat": now,
        "nbf": now,
        "exp": now.saturating_add(t.lifetime_secs),
        "azp": t.client_id,
        "azpacr": t.azpacr,
        "idtyp": "app",
        "oid": sp,
        "sub": sp,
        "tid": t.tenant,
        "uti": crate::users::new_guid().replace('-', ""),
        "ver": "2.0",
    })
}

/// `GET /{tenant}/v2.0/.well-known/openid-configuration`.
pub(crate) fn openid_configuration(base_url: &str, tenant: &str) -> Value {
    let base = base_url.trim_end_matches('/');
    json!({
        "issuer": issuer(base, tenant),
        "jwks_uri": format!("{base}/{tenant}/discovery/v2.0/keys"),
        "token_endpoint": format!("{base}/{tenant}/oauth2/v2.0/token"),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "tenant_region_scope": null,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_principal_ids_are_stable_guids() {
        let a = service_principal_id("app-1");
        assert_eq!(a, service_principal_id("app-1"));
        assert_ne!(a, service_principal_id("app-2"));
        assert_eq!(a.len(), 36);
        assert_eq!(scope_resource("api://sap-ias/.default"), "api://sap-ias");
    }
}
