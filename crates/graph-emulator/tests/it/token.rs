//! The token endpoint and the bearer check (issue 16).

use std::time::Duration;

use base64::Engine;
use graph_emulator::server::{GraphEmulator, RunningGraph};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

const CLIENT: &str = "11111111-2222-3333-4444-555555555555";
const TENANT: &str = "contoso-tenant";

struct Cert {
    pem: String,
    key: EncodingKey,
    sha256: String,
    sha1: String,
}

/// One DER element at the start of `b`: (tag, content, rest).
fn der(b: &[u8]) -> (u8, &[u8], &[u8]) {
    let (tag, first) = (b[0], b[1]);
    let (len, head) = if first < 0x80 {
        (first as usize, 2)
    } else {
        let n = (first & 0x7f) as usize;
        (b[2..2 + n].iter().fold(0usize, |a, &x| a << 8 | x as usize), 2 + n)
    };
    (tag, &b[head..head + len], &b[head + len..])
}

/// The PKCS#1 `RSAPrivateKey` inside a PKCS#8 `PrivateKeyInfo` (jsonwebtoken's
/// `from_rsa_der` wants PKCS#1; rcgen serializes PKCS#8).
fn pkcs1_of_pkcs8(pkcs8: &[u8]) -> Vec<u8> {
    let (_, mut rest, _) = der(pkcs8);
    loop {
        let (tag, content, next) = der(rest);
        if tag == 0x04 {
            return content.to_vec();
        }
        rest = next;
    }
}

fn rsa_cert() -> Cert {
    let kp = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).unwrap();
    let cert = rcgen::CertificateParams::new(vec!["hrsync.test".to_owned()])
        .unwrap()
        .self_signed(&kp)
        .unwrap();
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, cert.der());
    Cert {
        pem: cert.pem(),
        key: EncodingKey::from_rsa_der(&pkcs1_of_pkcs8(&kp.serialize_der())),
        sha256: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest),
        sha1: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(
            &aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY,
            cert.der(),
        )),
    }
}

fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

fn token_url(g: &RunningGraph) -> String {
    format!("{}/{TENANT}/oauth2/v2.0/token", g.base_url())
}

fn assertion(key: &EncodingKey, x5t_s256: &str, aud: &str, exp: i64) -> String {
    let mut h = Header::new(Algorithm::RS256);
    h.x5t_s256 = Some(x5t_s256.to_owned());
    let claims = json!({
        "aud": aud, "iss": CLIENT, "sub": CLIENT, "jti": "j1",
        "nbf": now() - 60, "iat": now() - 60, "exp": exp,
    });
    jsonwebtoken::encode(&h, &claims, key).unwrap()
}

async fn post_token(g: &RunningGraph, client_id: &str, jwt: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(token_url(g))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            ("scope", "https://graph.microsoft.com/.default"),
            ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
            ("client_assertion", jwt),
        ])
        .send()
        .await
        .unwrap()
}

async fn start(cert: &Cert, lifetime: Duration) -> RunningGraph {
    GraphEmulator::new("127.0.0.1:0".parse().unwrap())
        .app_with_certificate(CLIENT, cert.pem.clone())
        .token_lifetime(lifetime)
        .start()
        .await
        .unwrap()
}

async fn refused(resp: reqwest::Response, status: u16, error: &str, code: u64) {
    assert_eq!(resp.status().as_u16(), status);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"], error, "{body}");
    assert_eq!(body["error_codes"], json!([code]), "{body}");
    let desc = body["error_description"].as_str().unwrap();
    assert!(desc.starts_with(&format!("AADSTS{code}: ")), "{desc}");
    assert!(body["trace_id"].is_string() && body["correlation_id"].is_string());
}

async fn users(g: &RunningGraph, bearer: Option<&str>) -> reqwest::Response {
    let mut r = reqwest::Client::new().get(format!("{}/v1.0/users", g.base_url()));
    if let Some(b) = bearer {
        r = r.bearer_auth(b);
    }
    r.send().await.unwrap()
}

async fn graph_401(resp: reqwest::Response, message: &str) {
    assert_eq!(resp.status().as_u16(), 401);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "InvalidAuthenticationToken");
    assert_eq!(body["error"]["message"], message);
}

#[tokio::test]
async fn good_assertion_gets_a_token_that_works() {
    let cert = rsa_cert();
    let g = start(&cert, Duration::from_secs(3600)).await;
    let jwt = assertion(&cert.key, &cert.sha256, &token_url(&g), now() + 600);
    let resp = post_token(&g, CLIENT, &jwt).await;
    assert_eq!(resp.status().as_u16(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    let token = body["access_token"].as_str().unwrap().to_owned();
    let resp = users(&g, Some(&token)).await;
    assert_eq!(resp.status().as_u16(), 200);
    let stats: Value = reqwest::get(format!("{}/_emulator/stats", g.base_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["tokens_issued"], 1);
}

#[tokio::test]
async fn bad_assertions_are_refused_with_their_codes() {
    let cert = rsa_cert();
    let other = rsa_cert();
    let g = start(&cert, Duration::from_secs(3600)).await;
    let url = token_url(&g);
    // Signed by another key, claiming the registered cert's thumbprint.
    let jwt = assertion(&other.key, &cert.sha256, &url, now() + 600);
    refused(post_token(&g, CLIENT, &jwt).await, 401, "invalid_client", 700027).await;
    // Thumbprint of an unknown cert.
    let jwt = assertion(&other.key, &other.sha256, &url, now() + 600);
    refused(post_token(&g, CLIENT, &jwt).await, 401, "invalid_client", 700027).await;
    // Expired.
    let jwt = assertion(&cert.key, &cert.sha256, &url, now() - 10);
    refused(post_token(&g, CLIENT, &jwt).await, 400, "invalid_client", 700024).await;
    // Wrong audience.
    let jwt = assertion(&cert.key, &cert.sha256, "https://login.example/other/token", now() + 600);
    refused(post_token(&g, CLIENT, &jwt).await, 400, "invalid_client", 700023).await;
    // Unknown client.
    let jwt = assertion(&cert.key, &cert.sha256, &url, now() + 600);
    let unknown = "99999999-2222-3333-4444-555555555555";
    refused(post_token(&g, unknown, &jwt).await, 400, "unauthorized_client", 700016).await;
    // Wrong grant type and scope.
    let c = reqwest::Client::new();
    let r = c
        .post(&url)
        .form(&[("grant_type", "password"), ("client_id", CLIENT)])
        .send()
        .await
        .unwrap();
    refused(r, 400, "unsupported_grant_type", 70003).await;
    let r = c
        .post(&url)
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", CLIENT),
            ("scope", "User.Read"),
        ])
        .send()
        .await
        .unwrap();
    refused(r, 400, "invalid_scope", 70011).await;
    let stats: Value = reqwest::get(format!("{}/_emulator/stats", g.base_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["tokens_issued"], 0);
}

#[tokio::test]
async fn v1_needs_a_live_bearer() {
    let cert = rsa_cert();
    let g = start(&cert, Duration::from_secs(1)).await;
    graph_401(users(&g, None).await, "Access token is empty.").await;
    let jwt = assertion(&cert.key, &cert.sha256, &token_url(&g), now() + 600);
    let body: Value = post_token(&g, CLIENT, &jwt).await.json().await.unwrap();
    let token = body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(users(&g, Some(&token)).await.status().as_u16(), 200);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    graph_401(users(&g, Some(&token)).await, "Lifetime validation failed, the token is expired.")
        .await;
    // The $batch POST is checked too.
    let r = reqwest::Client::new()
        .post(format!("{}/v1.0/$batch", g.base_url()))
        .json(&json!({"requests": []}))
        .send()
        .await
        .unwrap();
    graph_401(r, "Access token is empty.").await;
}

#[tokio::test]
async fn secret_app_and_no_app_means_no_auth() {
    let g = GraphEmulator::new("127.0.0.1:0".parse().unwrap())
        .app_with_secret(CLIENT, "s3cret")
        .start()
        .await
        .unwrap();
    let c = reqwest::Client::new();
    let form = |secret: &'static str| {
        [
            ("grant_type", "client_credentials"),
            ("client_id", CLIENT),
            ("scope", "https://graph.microsoft.com/.default"),
            ("client_secret", secret),
        ]
    };
    let r = c.post(token_url(&g)).form(&form("wrong")).send().await.unwrap();
    refused(r, 401, "invalid_client", 7000215).await;
    let r = c.post(token_url(&g)).form(&form("s3cret")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let open = GraphEmulator::new("127.0.0.1:0".parse().unwrap()).start().await.unwrap();
    assert_eq!(users(&open, None).await.status().as_u16(), 200);
}

fn custom_assertion(key: &EncodingKey, header: &Header, claims: &Value) -> String {
    jsonwebtoken::encode(header, claims, key).unwrap()
}

#[tokio::test]
async fn ps256_x5t_sha1_and_claim_checks() {
    let cert = rsa_cert();
    let g = start(&cert, Duration::from_secs(3600)).await;
    let url = token_url(&g);
    let mut h = Header::new(Algorithm::PS256);
    h.x5t = Some(cert.sha1.clone());
    let good =
        json!({"aud": url, "iss": CLIENT, "sub": CLIENT, "exp": now() + 600, "nbf": now() - 5});
    let r = post_token(&g, CLIENT, &custom_assertion(&cert.key, &h, &good)).await;
    assert_eq!(r.status().as_u16(), 200);
    // iss/sub not the client id.
    let mut claims = good.clone();
    claims["iss"] = json!("someone-else");
    let r = post_token(&g, CLIENT, &custom_assertion(&cert.key, &h, &claims)).await;
    refused(r, 400, "invalid_client", 700021).await;
    // nbf in the future.
    let mut claims = good.clone();
    claims["nbf"] = json!(now() + 600);
    let r = post_token(&g, CLIENT, &custom_assertion(&cert.key, &h, &claims)).await;
    refused(r, 400, "invalid_client", 700024).await;
    // No thumbprint at all.
    let h = Header::new(Algorithm::RS256);
    let r = post_token(&g, CLIENT, &custom_assertion(&cert.key, &h, &good)).await;
    refused(r, 401, "invalid_client", 700027).await;
    // Not a JWT.
    refused(post_token(&g, CLIENT, "not-a-jwt").await, 400, "invalid_request", 50027).await;
}

// Workload identity federation.

const ISSUER: &str = "https://oidc.example/cluster-1";
const SUBJECT: &str = "system:serviceaccount:hrsync:sync";
const EXCHANGE: &str = "api://AzureADTokenExchange";

/// A JWKS with `cert`'s public key under `kid`.
fn jwks(cert: &Cert, kid: &str) -> String {
    // SubjectPublicKeyInfo's BIT STRING holds the PKCS#1 RSAPublicKey.
    let spki = spki_of_cert(&cert_der(&cert.pem));
    let (_, seq, _) = der(&spki);
    let (_, n, rest) = der(seq);
    let (_, e, _) = der(rest);
    let strip = |b: &[u8]| b.iter().copied().skip_while(|x| *x == 0).collect::<Vec<u8>>();
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    json!({"keys": [{"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig",
        "n": b64.encode(strip(n)), "e": b64.encode(strip(e))}]})
    .to_string()
}

/// The DER of a PEM certificate.
fn cert_der(pem: &str) -> Vec<u8> {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD.decode(body).unwrap()
}

/// The RSAPublicKey (BIT STRING content without the unused-bits byte) of a
/// certificate: tbs = cert[0]; spki = tbs[6] (version, serial, sigalg,
/// issuer, validity, subject, spki).
fn spki_of_cert(cert_der: &[u8]) -> Vec<u8> {
    let (_, cert, _) = der(cert_der);
    let (_, tbs, _) = der(cert);
    let mut rest = tbs;
    let mut fields = Vec::new();
    while !rest.is_empty() {
        let (tag, content, next) = der(rest);
        fields.push((tag, content));
        rest = next;
    }
    // [0] version is explicit and present in v3 certificates.
    let spki = fields.iter().filter(|(t, _)| *t == 0x30).nth(4).unwrap().1;
    let (_, _alg, rest) = der(spki);
    let (_, bits, _) = der(rest);
    bits[1..].to_vec()
}

fn federated_jwt(key: &EncodingKey, kid: Option<&str>, claims: Value) -> String {
    let mut h = Header::new(Algorithm::RS256);
    h.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&h, &claims, key).unwrap()
}

fn fed_claims(iss: &str, sub: &str, aud: Value, exp: i64) -> Value {
    json!({"iss": iss, "sub": sub, "aud": aud, "iat": now() - 5, "nbf": now() - 5, "exp": exp})
}

async fn start_federated(keys: String) -> RunningGraph {
    GraphEmulator::new("127.0.0.1:0".parse().unwrap())
        .app_with_federation(CLIENT, ISSUER, SUBJECT, EXCHANGE, keys)
        .start()
        .await
        .unwrap()
}

#[tokio::test]
async fn federated_token_is_exchanged_for_a_graph_token() {
    let platform = rsa_cert();
    let g = start_federated(jwks(&platform, "k1")).await;
    let jwt = federated_jwt(
        &platform.key,
        Some("k1"),
        fed_claims(ISSUER, SUBJECT, json!(EXCHANGE), now() + 600),
    );
    let resp = post_token(&g, CLIENT, &jwt).await;
    assert_eq!(resp.status().as_u16(), 200);
    let body: Value = resp.json().await.unwrap();
    let token = body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(users(&g, Some(&token)).await.status().as_u16(), 200);
    // A Kubernetes-style audience list is accepted.
    let jwt = federated_jwt(
        &platform.key,
        Some("k1"),
        fed_claims(ISSUER, SUBJECT, json!(["other", EXCHANGE]), now() + 600),
    );
    assert_eq!(post_token(&g, CLIENT, &jwt).await.status().as_u16(), 200);
}

#[tokio::test]
async fn federation_with_a_pem_public_key() {
    let platform = rsa_cert();
    let g = start_federated(platform.pem.clone()).await;
    let jwt = federated_jwt(
        &platform.key,
        None,
        fed_claims(ISSUER, SUBJECT, json!(EXCHANGE), now() + 600),
    );
    assert_eq!(post_token(&g, CLIENT, &jwt).await.status().as_u16(), 200);
}

#[tokio::test]
async fn federated_refusals_have_entras_codes() {
    let platform = rsa_cert();
    let other = rsa_cert();
    let g = start_federated(jwks(&platform, "k1")).await;
    let good = |c: Value| federated_jwt(&platform.key, Some("k1"), c);
    let ok_exp = now() + 600;
    // Issuer no federated credential trusts.
    let jwt = good(fed_claims("https://other.example", SUBJECT, json!(EXCHANGE), ok_exp));
    refused(post_token(&g, CLIENT, &jwt).await, 401, "invalid_client", 700211).await;
    // Key id not in the issuer's keys.
    let jwt = federated_jwt(
        &platform.key,
        Some("k2"),
        fed_claims(ISSUER, SUBJECT, json!(EXCHANGE), ok_exp),
    );
    refused(post_token(&g, CLIENT, &jwt).await, 401, "invalid_client", 7000272).await;
    // Signed by another key under the known key id.
    let jwt =
        federated_jwt(&other.key, Some("k1"), fed_claims(ISSUER, SUBJECT, json!(EXCHANGE), ok_exp));
    refused(post_token(&g, CLIENT, &jwt).await, 401, "invalid_client", 700027).await;
    // Expired.
    let jwt = good(fed_claims(ISSUER, SUBJECT, json!(EXCHANGE), now() - 10));
    refused(post_token(&g, CLIENT, &jwt).await, 400, "invalid_client", 700024).await;
    // Wrong audience.
    let jwt = good(fed_claims(ISSUER, SUBJECT, json!("api://other"), ok_exp));
    refused(post_token(&g, CLIENT, &jwt).await, 401, "invalid_client", 700212).await;
    // Subject differs only by case: matching is case-sensitive.
    let jwt = good(fed_claims(ISSUER, &SUBJECT.to_uppercase(), json!(EXCHANGE), ok_exp));
    let resp = post_token(&g, CLIENT, &jwt).await;
    assert_eq!(resp.status().as_u16(), 401);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error_codes"], json!([700213]));
    let desc = body["error_description"].as_str().unwrap();
    assert!(desc.contains("SYSTEM:SERVICEACCOUNT:HRSYNC:SYNC"), "{desc}");
    // Not a JWT.
    refused(post_token(&g, CLIENT, "not-a-jwt").await, 400, "invalid_request", 50027).await;
    let stats: Value = reqwest::get(format!("{}/_emulator/stats", g.base_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["tokens_issued"], 0);
}
