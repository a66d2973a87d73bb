//! The Entra token client against the double's token endpoint (issue 16):
//! certificate and secret methods, caching, refresh, invalidation and the
//! explanations of refusals.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use graph_emulator::server::{GraphEmulator, RunningGraph};
use hrsync_target_graph::{TokenClient, TokenError};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use crate::common::{CLIENT, KeySet, TENANT, bare_config, cert_config};

async fn start_cert(keys: &KeySet, lifetime: Duration) -> RunningGraph {
    GraphEmulator::new("127.0.0.1:0".parse().unwrap())
        .app_with_certificate(CLIENT, keys.keys.certificate_pem.clone())
        .token_lifetime(lifetime)
        .start()
        .await
        .unwrap()
}

fn client(config: &hrsync_target_graph::GraphConfig) -> TokenClient {
    TokenClient::new(config, reqwest::Client::new()).unwrap()
}

async fn tokens_issued(g: &RunningGraph) -> u64 {
    let stats: Value = reqwest::get(format!("{}/_emulator/stats", g.base_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    stats["tokens_issued"].as_u64().unwrap()
}

async fn users_status(g: &RunningGraph, token: &SecretString) -> u16 {
    reqwest::Client::new()
        .get(format!("{}/v1.0/users", g.base_url()))
        .bearer_auth(token.expose_secret())
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// The refusal's codes, and that neither Display nor Debug leaks `secret`.
fn refusal(e: &TokenError, secret: &str) -> Vec<u64> {
    let shown = format!("{e} {e:?} {}", e.explanation());
    assert!(!shown.contains(secret), "{shown}");
    e.codes().to_vec()
}

#[tokio::test]
async fn certificate_token_from_the_double_works_on_v1() {
    let keys = KeySet::new();
    let g = start_cert(&keys, Duration::from_secs(3600)).await;
    let c = client(&cert_config(&g.base_url(), &keys));
    assert_eq!(c.method(), "certificate");
    assert_eq!(c.token_url(), format!("{}/{TENANT}/oauth2/v2.0/token", g.base_url()));
    assert_eq!(c.scope(), format!("{}/.default", g.base_url()));
    let token = c.token().await.unwrap();
    assert_eq!(users_status(&g, &token).await, 200);
    assert_eq!(c.fetches(), 1);
    let debug = format!("{c:?}");
    assert!(!debug.contains(token.expose_secret()) && !debug.contains("PRIVATE"), "{debug}");
}

#[test]
fn public_cloud_scope() {
    let keys = KeySet::new();
    let mut config = cert_config("https://graph.microsoft.com", &keys);
    config.login_url = "https://login.microsoftonline.com/".into();
    let c = client(&config);
    assert_eq!(c.scope(), "https://graph.microsoft.com/.default");
    assert_eq!(
        c.token_url(),
        format!("https://login.microsoftonline.com/{TENANT}/oauth2/v2.0/token")
    );
}

/// The assertion checked by `jsonwebtoken`, not by the double.
#[test]
fn assertion_verifies_independently() {
    let keys = KeySet::new();
    let c = client(&cert_config("http://127.0.0.1:9", &keys));
    let jwt = c.client_assertion().unwrap();
    let jwt = jwt.expose_secret();
    let header = jsonwebtoken::decode_header(jwt).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::PS256);
    assert_eq!(header.typ.as_deref(), Some("JWT"));
    let der = hrsync_sf_auth::keys::CertificateInfo::load(&keys.certificate_file()).unwrap().der;
    let want = URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &der));
    assert_eq!(header.x5t_s256.as_deref(), Some(want.as_str()));
    let jwk = &keys.keys.jwks["keys"][0];
    let key = jsonwebtoken::DecodingKey::from_rsa_components(
        jwk["n"].as_str().unwrap(),
        jwk["e"].as_str().unwrap(),
    )
    .unwrap();
    let aud = format!("http://127.0.0.1:9/{TENANT}/oauth2/v2.0/token");
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::PS256);
    v.set_audience(&[aud.as_str()]);
    v.set_issuer(&[CLIENT]);
    v.sub = Some(CLIENT.into());
    v.set_required_spec_claims(&["exp", "nbf", "aud", "iss", "sub"]);
    v.validate_nbf = true;
    let claims = jsonwebtoken::decode::<Value>(jwt, &key, &v).unwrap().claims;
    let now = jiff::Timestamp::now().as_second();
    let exp = claims["exp"].as_i64().unwrap();
    assert!((now + 590..=now + 610).contains(&exp), "exp {exp} now {now}");
    assert_eq!(claims["iat"], claims["nbf"]);
    let jti = claims["jti"].as_str().unwrap().to_owned();
    let again = c.client_assertion().unwrap();
    let claims2 = jsonwebtoken::decode::<Value>(again.expose_secret(), &key, &v).unwrap().claims;
    assert_ne!(claims2["jti"].as_str().unwrap(), jti, "jti must be unique");
    // Another key does not verify it.
    let other = KeySet::new();
    let jwk = &other.keys.jwks["keys"][0];
    let wrong = jsonwebtoken::DecodingKey::from_rsa_components(
        jwk["n"].as_str().unwrap(),
        jwk["e"].as_str().unwrap(),
    )
    .unwrap();
    assert!(jsonwebtoken::decode::<Value>(jwt, &wrong, &v).is_err());
}

#[tokio::test]
async fn cached_concurrent_refreshed_and_invalidated() {
    let keys = KeySet::new();
    let g = start_cert(&keys, Duration::from_secs(3600)).await;
    let c = client(&cert_config(&g.base_url(), &keys));
    // Concurrent first callers share one fetch.
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let c = c.clone();
            tokio::spawn(async move { c.token().await.unwrap() })
        })
        .collect();
    let mut got = Vec::new();
    for t in tasks {
        got.push(t.await.unwrap().expose_secret().to_owned());
    }
    assert!(got.iter().all(|t| *t == got[0]));
    assert_eq!(c.fetches(), 1);
    // Cached.
    let first = c.token().await.unwrap();
    assert_eq!(first.expose_secret(), got[0]);
    assert_eq!(c.fetches(), 1);
    // A token that is not the cached one is ignored.
    c.invalidate(&SecretString::from("not-the-token"));
    c.token().await.unwrap();
    assert_eq!(c.fetches(), 1);
    // The cached one is dropped: one refetch, however many callers saw it fail.
    c.invalidate(&first);
    let second = c.token().await.unwrap();
    assert_ne!(second.expose_secret(), first.expose_secret());
    c.invalidate(&first);
    c.token().await.unwrap();
    assert_eq!(c.fetches(), 2);
    assert_eq!(tokens_issued(&g).await, 2);
}

#[tokio::test]
async fn refreshed_ahead_of_expiry() {
    let keys = KeySet::new();
    // 2 s tokens are refreshed at 1.6 s.
    let g = start_cert(&keys, Duration::from_secs(2)).await;
    let c = client(&cert_config(&g.base_url(), &keys));
    let first = c.token().await.unwrap();
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    assert_eq!(c.token().await.unwrap().expose_secret(), first.expose_secret());
    tokio::time::sleep(Duration::from_millis(800)).await;
    let second = c.token().await.unwrap();
    assert_ne!(second.expose_secret(), first.expose_secret());
    assert_eq!(c.fetches(), 2);
    assert_eq!(users_status(&g, &second).await, 200);
}

#[tokio::test]
async fn wrong_audience_names_tenant_id_and_login_url() {
    let keys = KeySet::new();
    let g = start_cert(&keys, Duration::from_secs(3600)).await;
    // The same server under another host name: the assertion's audience is
    // not the endpoint Entra (the double) considers its own, as with
    // login.microsoftonline.com vs .us.
    let base = g.base_url().replace("127.0.0.1", "localhost");
    let c = client(&cert_config(&base, &keys));
    let e = c.token().await.unwrap_err();
    assert_eq!(refusal(&e, "eyJ"), [700023]);
    let x = e.explanation();
    assert!(
        x.contains("Wrong audience") && x.contains("tenant_id") && x.contains("login_url"),
        "{x}"
    );
    assert!(x.contains(c.token_url()), "{x}");
    assert_eq!(c.fetches(), 0);
}

#[tokio::test]
async fn expired_assertion_points_at_the_clock() {
    let keys = KeySet::new();
    let g = start_cert(&keys, Duration::from_secs(3600)).await;
    let c = client(&cert_config(&g.base_url(), &keys))
        .with_clock_offset(jiff::SignedDuration::from_mins(-30));
    let e = c.token().await.unwrap_err();
    assert_eq!(refusal(&e, "eyJ"), [700024]);
    assert!(e.explanation().contains("clock"), "{}", e.explanation());
    // Not yet valid (clock ahead) is the same case.
    let c = client(&cert_config(&g.base_url(), &keys))
        .with_clock_offset(jiff::SignedDuration::from_mins(30));
    let e = c.token().await.unwrap_err();
    assert_eq!(refusal(&e, "eyJ"), [700024]);
}

#[tokio::test]
async fn certificate_not_registered_says_upload_certificate_pem() {
    let registered = KeySet::new();
    let local = KeySet::new();
    let g = start_cert(&registered, Duration::from_secs(3600)).await;
    let c = client(&cert_config(&g.base_url(), &local));
    let e = c.token().await.unwrap_err();
    assert_eq!(refusal(&e, "eyJ"), [700027]);
    let x = e.explanation();
    assert!(x.contains("certificate.pem") && x.contains("private_key_file"), "{x}");
    assert!(matches!(e, TokenError::Rejected { status: 401, .. }));
}

#[tokio::test]
async fn bad_signature_says_the_key_is_not_the_registered_certificates() {
    // The header names the registered certificate, but the key that signed
    // is another: the double verifies the signature and refuses it.
    let registered = KeySet::new();
    let other = KeySet::new();
    let g = start_cert(&registered, Duration::from_secs(3600)).await;
    let c = client(&cert_config(&g.base_url(), &registered));
    let good = c.client_assertion().unwrap();
    let forged = client(&cert_config(&g.base_url(), &other)).client_assertion().unwrap();
    let good_parts: Vec<&str> = good.expose_secret().split('.').collect();
    let forged_sig = forged.expose_secret().rsplit('.').next().unwrap();
    let tampered = format!("{}.{}.{forged_sig}", good_parts[0], good_parts[1]);
    let resp = reqwest::Client::new()
        .post(c.token_url())
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", CLIENT),
            ("scope", c.scope()),
            ("client_assertion_type", hrsync_target_graph::token::JWT_BEARER),
            ("client_assertion", tampered.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error_codes"][0], 700027);
    // The client's explanation of exactly that answer.
    let e = TokenError::Rejected {
        url: c.token_url().into(),
        status: 401,
        error: body["error"].as_str().unwrap().into(),
        description: body["error_description"].as_str().unwrap().into(),
        codes: vec![700027],
        method: "certificate",
    };
    let x = e.explanation();
    assert!(x.contains("signature") && x.contains("private_key_file"), "{x}");
}

#[test]
fn files_are_checked_at_start_naming_the_field() {
    let a = KeySet::new();
    let b = KeySet::new();
    let mut config = cert_config("http://127.0.0.1:9", &a);
    config.private_key_file = Some(b.private_key_file());
    let e = TokenClient::new(&config, reqwest::Client::new()).unwrap_err();
    assert!(matches!(e, TokenError::KeyMismatch { .. }), "{e}");
    assert!(e.to_string().contains("target.connection.private_key_file"), "{e}");
    assert!(e.explanation().contains("certificate.pem"));

    let mut config = cert_config("http://127.0.0.1:9", &a);
    let missing = a.dir.join("nope.pem");
    config.certificate_file = Some(missing.clone());
    let e = TokenClient::new(&config, reqwest::Client::new()).unwrap_err();
    let text = e.to_string();
    assert!(text.starts_with("target.connection.certificate_file: "), "{text}");
    assert!(text.contains(&missing.display().to_string()), "{text}");

    let mut config = cert_config("http://127.0.0.1:9", &a);
    config.private_key_file = Some(a.certificate_file());
    let e = TokenClient::new(&config, reqwest::Client::new()).unwrap_err();
    assert!(e.to_string().starts_with("target.connection.private_key_file: "), "{e}");

    let e =
        TokenClient::new(&bare_config("http://127.0.0.1:9"), reqwest::Client::new()).unwrap_err();
    assert!(matches!(e, TokenError::Config { .. }), "{e}");
}

#[tokio::test]
async fn secret_method_and_a_wrong_secret() {
    let g = GraphEmulator::new("127.0.0.1:0".parse().unwrap())
        .app_with_secret(CLIENT, "right-secret-value")
        .start()
        .await
        .unwrap();
    let mut config = bare_config(&g.base_url());
    config.client_secret = Some(SecretString::from("right-secret-value"));
    let c = client(&config);
    assert_eq!(c.method(), "client-secret");
    let token = c.token().await.unwrap();
    assert_eq!(users_status(&g, &token).await, 200);
    assert!(!format!("{c:?} {config:?}").contains("right-secret-value"));

    config.client_secret = Some(SecretString::from("wrong-secret-value"));
    let e = client(&config).token().await.unwrap_err();
    assert_eq!(refusal(&e, "wrong-secret-value"), [7000215]);
    assert!(e.explanation().contains("client_secret_env"));

    let mut config = bare_config(&g.base_url());
    config.client_id = "99999999-0000-0000-0000-000000000000".into();
    config.client_secret = Some(SecretString::from("right-secret-value"));
    let e = client(&config).token().await.unwrap_err();
    assert_eq!(refusal(&e, "right-secret-value"), [700016]);
    assert!(e.explanation().contains("client_id"));
}

#[tokio::test]
async fn unreachable_login_url() {
    let keys = KeySet::new();
    // Port 9 (discard) on loopback: nothing listens in the test environment.
    let mut config = cert_config("http://127.0.0.1:9", &keys);
    config.login_url = "http://127.0.0.1:9".into();
    let e = client(&config).token().await.unwrap_err();
    assert!(matches!(e, TokenError::Unreachable { .. }), "{e}");
    assert!(e.explanation().contains("login_url"));
    assert!(!format!("{e:?}").contains("eyJ"));
}
