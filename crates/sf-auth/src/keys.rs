//! RSA keys, the self-signed certificate registered in SuccessFactors, and the
//! JWKS document SAP Cloud Identity Service fetches to trust self-signed JWTs.
//!
//! Signing uses aws-lc-rs (RSASSA-PKCS1-v1_5 with SHA-256), the provider the
//! rest of hrsync's TLS stack already uses; the RustCrypto `rsa` crate is
//! avoided for signing (RUSTSEC-2023-0071).

use std::io::Write;
use std::path::{Path, PathBuf};

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256, RSA_PSS_SHA256, RsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

use crate::error::AuthError;

/// File names `hrsync keys generate` writes.
pub const PRIVATE_KEY_FILE: &str = "private-key.pem";
pub const CERTIFICATE_FILE: &str = "certificate.pem";
pub const JWKS_FILE: &str = "jwks.json";

/// An RSA private key that signs assertions and JWTs (RS256).
pub struct SigningKey {
    pair: RsaKeyPair,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey(RSA-{}, <redacted>)", self.pair.public_modulus_len() * 8)
    }
}

impl SigningKey {
    /// Reads a PEM private key: PKCS#8 (`PRIVATE KEY`, what `openssl req -newkey`
    /// and `hrsync keys generate` write) or PKCS#1 (`RSA PRIVATE KEY`).
    pub fn load(path: &Path) -> Result<Self, AuthError> {
        let err = |cause: String| AuthError::Key { path: path.to_owned(), cause };
        let text = std::fs::read(path).map_err(|e| err(e.to_string()))?;
        let pem = pem::parse(&text).map_err(|e| err(format!("not a PEM file: {e}")))?;
        let pair = match pem.tag() {
            "PRIVATE KEY" => RsaKeyPair::from_pkcs8(pem.contents()),
            "RSA PRIVATE KEY" => RsaKeyPair::from_der(pem.contents()),
            other => {
                return Err(err(format!(
                    "expected an RSA PRIVATE KEY or PRIVATE KEY block, found {other}"
                )));
            }
        }
        .map_err(|e| err(format!("not a usable RSA key: {e}")))?;
        Ok(SigningKey { pair })
    }

    /// A fresh 2048-bit key.
    pub fn generate() -> Result<Self, AuthError> {
        let pair = RsaKeyPair::generate(KeySize::Rsa2048)
            .map_err(|_| AuthError::Config("RSA key generation failed".into()))?;
        Ok(SigningKey { pair })
    }

    /// RSASSA-PKCS1-v1_5 with SHA-256 over `message`.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, AuthError> {
        let mut sig = vec![0u8; self.pair.public_modulus_len()];
        self.pair
            .sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), message, &mut sig)
            .map_err(|_| AuthError::Config("RSA signing failed".into()))?;
        Ok(sig)
    }

    /// RSASSA-PSS with SHA-256 (MGF1 SHA-256, 32-byte salt: JWS `PS256`,
    /// RFC 7518 §3.5) over `message`. Entra ID accepts client assertions
    /// signed this way; the salt is random, so two signatures differ.
    pub fn sign_pss(&self, message: &[u8]) -> Result<Vec<u8>, AuthError> {
        let mut sig = vec![0u8; self.pair.public_modulus_len()];
        self.pair
            .sign(&RSA_PSS_SHA256, &SystemRandom::new(), message, &mut sig)
            .map_err(|_| AuthError::Config("RSA-PSS signing failed".into()))?;
        Ok(sig)
    }

    /// The key as PKCS#8 PEM (a secret).
    pub fn to_pkcs8_pem(&self) -> Result<SecretString, AuthError> {
        let der: Pkcs8V1Der<'static> = self
            .pair
            .as_der()
            .map_err(|_| AuthError::Config("cannot encode the key as PKCS#8".into()))?;
        Ok(SecretString::from(pem::encode(&pem::Pem::new("PRIVATE KEY", der.as_ref()))))
    }

    /// Big-endian modulus without leading zeros.
    pub fn modulus(&self) -> &[u8] {
        self.pair.public_key().modulus().big_endian_without_leading_zero()
    }

    fn exponent(&self) -> &[u8] {
        self.pair.public_key().exponent().big_endian_without_leading_zero()
    }

    /// The public key as a JWK (`kty`, `n`, `e`, `kid`, `alg: RS256`, `use: sig`).
    pub fn jwk(&self, key_id: &str) -> serde_json::Value {
        json!({
            "kty": "RSA",
            "use": "sig",
            "alg": "RS256",
            "kid": key_id,
            "n": URL_SAFE_NO_PAD.encode(self.modulus()),
            "e": URL_SAFE_NO_PAD.encode(self.exponent()),
        })
    }

    /// RFC 7638 JWK thumbprint (SHA-256, base64url): a stable key id.
    pub fn thumbprint(&self) -> String {
        let canonical = format!(
            r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
            URL_SAFE_NO_PAD.encode(self.exponent()),
            URL_SAFE_NO_PAD.encode(self.modulus())
        );
        URL_SAFE_NO_PAD
            .encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, canonical.as_bytes()))
    }
}

/// What [`generate`] produces.
pub struct GeneratedKeys {
    pub key: SigningKey,
    pub private_key_pem: SecretString,
    pub certificate_pem: String,
    pub key_id: String,
    pub jwks: serde_json::Value,
}

/// Validity of a generated certificate, in whole UTC days.
#[derive(Debug, Clone, Copy)]
pub struct Validity {
    pub not_before: jiff::civil::Date,
    pub not_after: jiff::civil::Date,
}

impl Validity {
    /// From yesterday (tolerates clock skew at the server) for `years` years.
    pub fn years_from_today(years: i16) -> Self {
        let today = jiff::tz::TimeZone::UTC.to_datetime(jiff::Timestamp::now()).date();
        let not_before = today.yesterday().unwrap_or(today);
        let not_after = today.saturating_add(jiff::Span::new().years(years));
        Validity { not_before, not_after }
    }
}

/// A new RSA key, a self-signed certificate for it (CN `common_name`) and the JWKS.
pub fn generate(common_name: &str, validity: Validity) -> Result<GeneratedKeys, AuthError> {
    let key = SigningKey::generate()?;
    let private_key_pem = key.to_pkcs8_pem()?;
    let cert_err =
        |e: rcgen::Error| AuthError::Config(format!("cannot create the certificate: {e}"));
    let rc_key = rcgen::KeyPair::from_pkcs8_pem_and_sign_algo(
        private_key_pem.expose_secret(),
        &rcgen::PKCS_RSA_SHA256,
    )
    .map_err(cert_err)?;
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(cert_err)?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(rcgen::DnType::CommonName, common_name);
    // rcgen takes `time` dates; a closure avoids naming that crate here.
    let ymd = |d: jiff::civil::Date| {
        rcgen::date_time_ymd(i32::from(d.year()), d.month() as u8, d.day() as u8)
    };
    params.not_before = ymd(validity.not_before);
    params.not_after = ymd(validity.not_after);
    let cert = params.self_signed(&rc_key).map_err(cert_err)?;
    let key_id = key.thumbprint();
    let mut jwk = key.jwk(&key_id);
    if let Some(obj) = jwk.as_object_mut() {
        obj.insert("x5c".into(), json!([STANDARD.encode(cert.der())]));
        let x5t = URL_SAFE_NO_PAD
            .encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, cert.der()));
        obj.insert("x5t#S256".into(), json!(x5t));
    }
    Ok(GeneratedKeys {
        key,
        private_key_pem,
        certificate_pem: cert.pem(),
        key_id,
        jwks: json!({ "keys": [jwk] }),
    })
}

/// Writes `private-key.pem` (mode 0600, created new: an existing key is never
/// overwritten, since it may be the one registered in SuccessFactors),
/// `certificate.pem` and `jwks.json` into `dir` (created if missing).
pub fn write(dir: &Path, keys: &GeneratedKeys) -> Result<Vec<PathBuf>, AuthError> {
    let io = |path: &Path, e: std::io::Error| AuthError::Key {
        path: path.to_owned(),
        cause: e.to_string(),
    };
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    let key_path = dir.join(PRIVATE_KEY_FILE);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&key_path).map_err(|e| io(&key_path, e))?;
    file.write_all(keys.private_key_pem.expose_secret().as_bytes())
        .map_err(|e| io(&key_path, e))?;
    let cert_path = dir.join(CERTIFICATE_FILE);
    std::fs::write(&cert_path, &keys.certificate_pem).map_err(|e| io(&cert_path, e))?;
    let jwks_path = dir.join(JWKS_FILE);
    let jwks = serde_json::to_string_pretty(&keys.jwks).unwrap_or_default();
    std::fs::write(&jwks_path, jwks + "\n").map_err(|e| io(&jwks_path, e))?;
    Ok(vec![key_path, cert_path, jwks_path])
}

/// The parts of an X.509 certificate authentication cares about.
#[derive(Debug, Clone)]
pub struct CertificateInfo {
    pub der: Vec<u8>,
    pub not_before: jiff::Timestamp,
    pub not_after: jiff::Timestamp,
    /// RSA modulus, big-endian without leading zeros (empty for non-RSA keys).
    pub modulus: Vec<u8>,
}

impl CertificateInfo {
    /// Reads the first certificate of a PEM file.
    pub fn load(path: &Path) -> Result<Self, AuthError> {
        let err = |cause: String| AuthError::Certificate { path: path.to_owned(), cause };
        let text = std::fs::read(path).map_err(|e| err(e.to_string()))?;
        let pem = pem::parse(&text).map_err(|e| err(format!("not a PEM file: {e}")))?;
        if pem.tag() != "CERTIFICATE" {
            return Err(err(format!("expected a CERTIFICATE block, found {}", pem.tag())));
        }
        Self::from_der(pem.contents()).map_err(err)
    }

    /// Parses a DER certificate.
    pub fn from_der(der: &[u8]) -> Result<Self, String> {
        let (_, cert) = x509_parser::parse_x509_certificate(der)
            .map_err(|e| format!("not an X.509 certificate: {e}"))?;
        let ts = |t: x509_parser::time::ASN1Time| {
            jiff::Timestamp::from_second(t.timestamp()).map_err(|e| e.to_string())
        };
        let validity = cert.validity();
        let modulus = match cert.public_key().parsed() {
            Ok(x509_parser::public_key::PublicKey::RSA(rsa)) => strip_zeros(rsa.modulus).to_vec(),
            _ => Vec::new(),
        };
        Ok(CertificateInfo {
            der: der.to_vec(),
            not_before: ts(validity.not_before)?,
            not_after: ts(validity.not_after)?,
            modulus,
        })
    }

    /// Errors when `now` is outside the validity period.
    pub fn check_validity(&self, path: &Path, now: jiff::Timestamp) -> Result<(), AuthError> {
        if now > self.not_after {
            return Err(AuthError::CertificateExpired {
                path: path.to_owned(),
                not_after: self.not_after.to_string(),
            });
        }
        if now < self.not_before {
            return Err(AuthError::CertificateNotYetValid {
                path: path.to_owned(),
                not_before: self.not_before.to_string(),
            });
        }
        Ok(())
    }
}

fn strip_zeros(b: &[u8]) -> &[u8] {
    let first = b.iter().position(|&x| x != 0).unwrap_or(b.len());
    &b[first..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_certificate_matches_key_and_validity() {
        let validity = Validity::years_from_today(2);
        let keys = generate("hrsync test", validity).unwrap();
        let pem = pem::parse(&keys.certificate_pem).unwrap();
        let info = CertificateInfo::from_der(pem.contents()).unwrap();
        assert_eq!(info.modulus, keys.key.modulus());
        assert!(info.not_after > jiff::Timestamp::now());
        assert!(info.check_validity(Path::new("c.pem"), jiff::Timestamp::now()).is_ok());
        let later = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24 * 365 * 3);
        assert!(matches!(
            info.check_validity(Path::new("c.pem"), later),
            Err(AuthError::CertificateExpired { .. })
        ));
        assert_eq!(keys.jwks["keys"][0]["kid"], keys.key_id.as_str());
        assert!(!format!("{:?}", keys.key).contains("PRIVATE"));
    }

    #[test]
    fn pss_signature_verifies_and_pkcs1_does_not_pass_as_pss() {
        use aws_lc_rs::signature::{
            RSA_PKCS1_2048_8192_SHA256, RSA_PSS_2048_8192_SHA256, UnparsedPublicKey,
        };
        let key = SigningKey::generate().unwrap();
        let public = key.pair.public_key().as_ref().to_vec();
        let message = b"header.payload";
        let pss = key.sign_pss(message).unwrap();
        assert_eq!(pss.len(), 256);
        let pss_key = UnparsedPublicKey::new(&RSA_PSS_2048_8192_SHA256, &public);
        assert!(pss_key.verify(message, &pss).is_ok());
        assert!(pss_key.verify(b"header.other", &pss).is_err());
        // Random salt: signing twice gives two different signatures.
        assert_ne!(pss, key.sign_pss(message).unwrap());
        // PKCS#1 v1.5 and PSS are not interchangeable.
        let pkcs1 = key.sign(message).unwrap();
        assert!(pss_key.verify(message, &pkcs1).is_err());
        let pkcs1_key = UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &public);
        assert!(pkcs1_key.verify(message, &pss).is_err());
        assert!(pkcs1_key.verify(message, &pkcs1).is_ok());
    }
}
