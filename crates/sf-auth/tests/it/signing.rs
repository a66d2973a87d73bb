//! The JWTs and SAML assertions hrsync signs, checked by implementations we
//! did not write: the `jsonwebtoken` crate and Debian's `xmlsec1`.

use std::path::PathBuf;
use std::process::Command;

use base64::Engine;
use hrsync_sf_auth::keys::{self, Validity};
use hrsync_sf_auth::{jwt, saml};
use secrecy::ExposeSecret;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hrsync-sf-auth-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn self_signed_jwt_verifies_with_jsonwebtoken_against_the_generated_jwks() {
    let generated = keys::generate("hrsync", Validity::years_from_today(1)).unwrap();
    let now = jiff::Timestamp::now();
    let claims = jwt::Claims {
        issuer: "https://hrsync.example",
        subject: "hrsync-prod",
        audience: "https://tenant.accounts.ondemand.com",
        issued_at: now,
        lifetime_secs: 300,
        id: "_j1",
    };
    let token = jwt::sign(&generated.key, &generated.key_id, &claims).unwrap();

    let jwks: jsonwebtoken::jwk::JwkSet = serde_json::from_value(generated.jwks.clone()).unwrap();
    let header = jsonwebtoken::decode_header(token.expose_secret()).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::RS256);
    let jwk = jwks.find(header.kid.as_deref().unwrap()).expect("kid of the token is in the JWKS");
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_audience(&["https://tenant.accounts.ondemand.com"]);
    validation.set_issuer(&["https://hrsync.example"]);
    validation.sub = Some("hrsync-prod".into());
    let data = jsonwebtoken::decode::<serde_json::Value>(token.expose_secret(), &key, &validation)
        .unwrap();
    assert_eq!(data.claims["exp"].as_i64(), Some(now.as_second() + 300));

    // A different key's JWKS must not verify it.
    let other = keys::generate("other", Validity::years_from_today(1)).unwrap();
    let other_key = jsonwebtoken::DecodingKey::from_jwk(
        &serde_json::from_value(other.jwks["keys"][0].clone()).unwrap(),
    )
    .unwrap();
    assert!(
        jsonwebtoken::decode::<serde_json::Value>(token.expose_secret(), &other_key, &validation)
            .is_err()
    );
}

#[test]
fn keys_are_written_with_a_private_key_only_the_owner_reads_and_never_overwritten() {
    let dir = scratch("write");
    let generated = keys::generate("hrsync", Validity::years_from_today(1)).unwrap();
    keys::write(&dir, &generated).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode =
            std::fs::metadata(dir.join(keys::PRIVATE_KEY_FILE)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let loaded = keys::SigningKey::load(&dir.join(keys::PRIVATE_KEY_FILE)).unwrap();
    assert_eq!(loaded.modulus(), generated.key.modulus());
    let cert = keys::CertificateInfo::load(&dir.join(keys::CERTIFICATE_FILE)).unwrap();
    assert_eq!(cert.modulus, generated.key.modulus());
    let jwks: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join(keys::JWKS_FILE)).unwrap()).unwrap();
    assert_eq!(jwks["keys"][0]["alg"], "RS256");
    assert_eq!(jwks["keys"][0]["use"], "sig");
    assert_eq!(jwks["keys"][0]["kid"], generated.key_id.as_str());
    let again = keys::generate("hrsync", Validity::years_from_today(1)).unwrap();
    assert!(keys::write(&dir, &again).is_err(), "an existing private key is kept");
    assert_eq!(
        keys::SigningKey::load(&dir.join(keys::PRIVATE_KEY_FILE)).unwrap().modulus(),
        generated.key.modulus()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Runs `xmlsec1 --verify` on `xml` with `cert`; Ok(stderr) when it verifies.
fn xmlsec_verify(dir: &std::path::Path, xml: &str, cert_pem: &str) -> Result<String, String> {
    std::fs::write(dir.join("assertion.xml"), xml).unwrap();
    std::fs::write(dir.join("cert.pem"), cert_pem).unwrap();
    let out = Command::new("xmlsec1")
        .args(["--verify", "--pubkey-cert-pem"])
        .arg(dir.join("cert.pem"))
        .args(["--id-attr:ID", "urn:oasis:names:tc:SAML:2.0:assertion:Assertion"])
        .arg(dir.join("assertion.xml"))
        .output()
        .unwrap_or_else(|e| panic!("xmlsec1 is required for this test (Debian package xmlsec1; scripts/test.sh installs it): {e}"));
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if out.status.success() { Ok(stderr) } else { Err(stderr) }
}

#[test]
fn saml_assertion_verifies_with_xmlsec1_and_tampering_is_detected() {
    let dir = scratch("xmlsec");
    std::fs::create_dir_all(&dir).unwrap();
    let generated = keys::generate("hrsync", Validity::years_from_today(1)).unwrap();
    let cert_der = pem_der(&generated.certificate_pem);
    let params = saml::AssertionParams {
        client_id: "MzY3ZjY0YzQ5",
        user_id: "sfapi & <O'Neil>",
        audience: "www.successfactors.com",
        recipient: "https://api4.successfactors.com/oauth/token",
        issued_at: jiff::Timestamp::now(),
        lifetime_secs: 600,
        id: "_3f2a9c",
    };
    let xml = saml::signed_assertion(&params, &generated.key, Some(&cert_der)).unwrap();
    let ok = xmlsec_verify(&dir, &xml, &generated.certificate_pem);
    assert!(ok.is_ok(), "xmlsec1 rejected the assertion: {ok:?}\n{xml}");

    let tampered = xml.replace(
        "<saml2:Audience>www.successfactors.com<",
        "<saml2:Audience>www.successfactors.org<",
    );
    assert_ne!(tampered, xml);
    assert!(
        xmlsec_verify(&dir, &tampered, &generated.certificate_pem).is_err(),
        "xmlsec1 accepted a tampered assertion"
    );

    let other = keys::generate("other", Validity::years_from_today(1)).unwrap();
    assert!(
        xmlsec_verify(&dir, &xml, &other.certificate_pem).is_err(),
        "xmlsec1 accepted another key's certificate"
    );

    // Without KeyInfo (no certificate configured) it still verifies.
    let bare = saml::signed_assertion(&params, &generated.key, None).unwrap();
    assert!(xmlsec_verify(&dir, &bare, &generated.certificate_pem).is_ok());
    let _ = std::fs::remove_dir_all(&dir);
}

fn pem_der(text: &str) -> Vec<u8> {
    let body: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD.decode(body).unwrap()
}
