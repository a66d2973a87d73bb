//! Workload identity federation against the double: a federated token file
//! (re-read on every request) and a JWT hrsync signs itself, each with
//! wrong-audience, expired and bad-signature cases.

use std::path::Path;

use graph_emulator::server::{GraphEmulator, RunningGraph};
use hrsync_sf_auth::jwt;
use hrsync_target_graph::token::TOKEN_EXCHANGE_AUDIENCE;
use hrsync_target_graph::{GraphConfig, TokenClient, TokenError};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use crate::common::{CLIENT, KeySet, bare_config, temp_dir};

const ISSUER: &str = "https://oidc.example/cluster-1";
const SUBJECT: &str = "system:serviceaccount:hrsync:sync";

async fn start(jwks: &Value) -> RunningGraph {
    GraphEmulator::new("127.0.0.1:0".parse().unwrap())
        .app_with_federation(CLIENT, ISSUER, SUBJECT, TOKEN_EXCHANGE_AUDIENCE, jwks.to_string())
        .start()
        .await
        .unwrap()
}

/// A platform token: signed by `keys` under `kid`, valid from `from_secs` ago.
fn platform_token(keys: &KeySet, kid: &str, sub: &str, aud: &str, age_secs: i64) -> SecretString {
    let issued_at = jiff::Timestamp::now() - jiff::SignedDuration::from_secs(age_secs);
    let claims = jwt::Claims {
        issuer: ISSUER,
        subject: sub,
        audience: aud,
        issued_at,
        lifetime_secs: 3600,
        id: "t1",
    };
    jwt::sign(&keys.keys.key, kid, &claims).unwrap()
}

fn write_token(path: &Path, token: &SecretString) {
    std::fs::write(path, format!("{}\n", token.expose_secret())).unwrap();
}

fn file_config(base: &str, path: &Path) -> GraphConfig {
    GraphConfig { federated_token_file: Some(path.to_path_buf()), ..bare_config(base) }
}

fn client(config: &GraphConfig) -> TokenClient {
    TokenClient::new(config, reqwest::Client::new()).unwrap()
}

/// Codes of a refusal; neither its Display nor its Debug holds a JWT.
fn codes(e: &TokenError) -> Vec<u64> {
    let shown = format!("{e} {e:?} {}", e.explanation());
    assert!(!shown.contains("eyJ"), "{shown}");
    e.codes().to_vec()
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

#[tokio::test]
async fn federated_file_is_exchanged_and_re_read() {
    let platform = KeySet::new();
    let g = start(&platform.keys.jwks).await;
    let path = temp_dir("fed").join("token");
    let kid = platform.keys.key_id.clone();
    write_token(&path, &platform_token(&platform, &kid, SUBJECT, TOKEN_EXCHANGE_AUDIENCE, 5));
    let c = client(&file_config(&g.base_url(), &path));
    assert_eq!(c.method(), "federated-token-file");
    let token = c.token().await.unwrap();
    assert_eq!(users_status(&g, &token).await, 200);
    // The platform rotates the file; the next request reads the new one
    // (here signed by a key the issuer does not publish, so it shows).
    let rotated = KeySet::new();
    let other_kid = rotated.keys.key_id.clone();
    write_token(&path, &platform_token(&rotated, &other_kid, SUBJECT, TOKEN_EXCHANGE_AUDIENCE, 5));
    c.invalidate(&token);
    let e = c.token().await.unwrap_err();
    assert_eq!(codes(&e), [7000272]);
    assert!(
        e.explanation().contains("metadata of https://oidc.example/cluster-1"),
        "{}",
        e.explanation()
    );
    // Back to a good token.
    write_token(&path, &platform_token(&platform, &kid, SUBJECT, TOKEN_EXCHANGE_AUDIENCE, 5));
    assert_eq!(users_status(&g, &c.token().await.unwrap()).await, 200);
    assert_eq!(c.fetches(), 2);
}

#[tokio::test]
async fn expired_federated_file_is_explained_before_asking_entra() {
    let platform = KeySet::new();
    let g = start(&platform.keys.jwks).await;
    let path = temp_dir("fed").join("token");
    let kid = platform.keys.key_id.clone();
    // Issued two hours ago, lived one.
    write_token(&path, &platform_token(&platform, &kid, SUBJECT, TOKEN_EXCHANGE_AUDIENCE, 7200));
    let c = client(&file_config(&g.base_url(), &path));
    let e = c.token().await.unwrap_err();
    assert!(matches!(e, TokenError::FederatedTokenExpired { .. }), "{e}");
    assert!(e.to_string().starts_with("target.connection.federated_token_file: "), "{e}");
    assert!(e.explanation().contains("no longer refreshed"), "{}", e.explanation());
    assert_eq!(c.fetches(), 0);
    // Entra's own answer for an expired assertion (a clock behind makes
    // hrsync's check pass), explained for the file.
    let c = client(&file_config(&g.base_url(), &path))
        .with_clock_offset(jiff::SignedDuration::from_hours(-2));
    let e = c.token().await.unwrap_err();
    assert_eq!(codes(&e), [700024]);
    assert!(e.explanation().contains("federated_token_file"), "{}", e.explanation());
}

#[tokio::test]
async fn federated_file_wrong_audience_subject_and_signature() {
    let platform = KeySet::new();
    let forger = KeySet::new();
    let g = start(&platform.keys.jwks).await;
    let path = temp_dir("fed").join("token");
    let kid = platform.keys.key_id.clone();
    let c = client(&file_config(&g.base_url(), &path));

    write_token(&path, &platform_token(&platform, &kid, SUBJECT, "api://other", 5));
    let e = c.token().await.unwrap_err();
    assert_eq!(codes(&e), [700212]);
    let x = e.explanation();
    assert!(x.contains("api://other") && x.contains(TOKEN_EXCHANGE_AUDIENCE), "{x}");
    assert!(
        matches!(&e, TokenError::Rejected { presented: Some(p), .. } if p.audience == "api://other")
    );

    write_token(
        &path,
        &platform_token(
            &platform,
            &kid,
            "system:serviceaccount:hrsync:other",
            TOKEN_EXCHANGE_AUDIENCE,
            5,
        ),
    );
    let e = c.token().await.unwrap_err();
    assert_eq!(codes(&e), [700213]);
    assert!(e.explanation().contains("system:serviceaccount:hrsync:other"), "{}", e.explanation());

    // Signed by another key under the platform's key id.
    write_token(&path, &platform_token(&forger, &kid, SUBJECT, TOKEN_EXCHANGE_AUDIENCE, 5));
    let e = c.token().await.unwrap_err();
    assert_eq!(codes(&e), [700027]);
    assert!(e.explanation().contains("does not verify"), "{}", e.explanation());

    std::fs::write(&path, "not a jwt").unwrap();
    let e = c.token().await.unwrap_err();
    assert!(matches!(e, TokenError::File { field: "federated_token_file", .. }), "{e}");
    std::fs::remove_file(&path).unwrap();
    let e = c.token().await.unwrap_err();
    assert!(e.to_string().contains(&path.display().to_string()), "{e}");
    assert_eq!(c.fetches(), 0);
}

// Self-signed federation: hrsync's own key, its jwks.json published by the issuer.

const HRSYNC_ISSUER: &str = "https://hrsync.example/issuer";
const HRSYNC_SUBJECT: &str = "hrsync-prod";

async fn start_self(jwks: &Value) -> RunningGraph {
    GraphEmulator::new("127.0.0.1:0".parse().unwrap())
        .app_with_federation(
            CLIENT,
            HRSYNC_ISSUER,
            HRSYNC_SUBJECT,
            TOKEN_EXCHANGE_AUDIENCE,
            jwks.to_string(),
        )
        .start()
        .await
        .unwrap()
}

fn self_config(base: &str, keys: &KeySet) -> GraphConfig {
    GraphConfig {
        assertion_key_file: Some(keys.private_key_file()),
        assertion_issuer: Some(HRSYNC_ISSUER.into()),
        assertion_subject: Some(HRSYNC_SUBJECT.into()),
        ..bare_config(base)
    }
}

#[tokio::test]
async fn self_signed_assertion_gets_a_token_and_verifies_independently() {
    let keys = KeySet::new();
    let g = start_self(&keys.keys.jwks).await;
    let config = self_config(&g.base_url(), &keys);
    assert!(config.problems().is_empty(), "{:?}", config.problems());
    let c = client(&config);
    assert_eq!(c.method(), "self-signed-federation");
    let token = c.token().await.unwrap();
    assert_eq!(users_status(&g, &token).await, 200);

    let jwt = c.client_assertion().unwrap();
    let header = jsonwebtoken::decode_header(jwt.expose_secret()).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::RS256);
    assert_eq!(header.kid.as_deref(), Some(keys.keys.key_id.as_str()));
    assert_eq!(keys.keys.jwks["keys"][0]["kid"], keys.keys.key_id.as_str());
    let jwk = &keys.keys.jwks["keys"][0];
    let key = jsonwebtoken::DecodingKey::from_rsa_components(
        jwk["n"].as_str().unwrap(),
        jwk["e"].as_str().unwrap(),
    )
    .unwrap();
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    v.set_audience(&[TOKEN_EXCHANGE_AUDIENCE]);
    v.set_issuer(&[HRSYNC_ISSUER]);
    v.sub = Some(HRSYNC_SUBJECT.into());
    v.set_required_spec_claims(&["exp", "nbf", "aud", "iss", "sub"]);
    let claims = jsonwebtoken::decode::<Value>(jwt.expose_secret(), &key, &v).unwrap().claims;
    let now = jiff::Timestamp::now().as_second();
    let exp = claims["exp"].as_i64().unwrap();
    assert!((now + 590..=now + 610).contains(&exp));
    assert!(claims["jti"].is_string());
}

#[tokio::test]
async fn self_signed_wrong_audience_issuer_and_expiry() {
    let keys = KeySet::new();
    let g = start_self(&keys.keys.jwks).await;

    let mut config = self_config(&g.base_url(), &keys);
    config.assertion_audience = Some("api://wrong".into());
    let e = client(&config).token().await.unwrap_err();
    assert_eq!(codes(&e), [700212]);
    let x = e.explanation();
    assert!(x.contains("assertion_audience") && x.contains("api://wrong"), "{x}");

    let mut config = self_config(&g.base_url(), &keys);
    config.assertion_issuer = Some("https://hrsync.example/issuer/".into());
    let e = client(&config).token().await.unwrap_err();
    assert_eq!(codes(&e), [700211]);
    assert!(e.explanation().contains("assertion_issuer"), "{}", e.explanation());

    let mut config = self_config(&g.base_url(), &keys);
    config.assertion_subject = Some("HRSYNC-PROD".into());
    let e = client(&config).token().await.unwrap_err();
    assert_eq!(codes(&e), [700213]);
    assert!(e.explanation().contains("assertion_subject"), "{}", e.explanation());

    let c = client(&self_config(&g.base_url(), &keys))
        .with_clock_offset(jiff::SignedDuration::from_mins(-30));
    let e = c.token().await.unwrap_err();
    assert_eq!(codes(&e), [700024]);
    assert!(e.explanation().contains("clock"), "{}", e.explanation());
}

#[tokio::test]
async fn self_signed_bad_signature_and_unpublished_key() {
    let keys = KeySet::new();
    let other = KeySet::new();
    // The issuer publishes another key under hrsync's kid: the signature fails.
    let mut jwks = other.keys.jwks.clone();
    jwks["keys"][0]["kid"] = Value::from(keys.keys.key_id.clone());
    let g = start_self(&jwks).await;
    let e = client(&self_config(&g.base_url(), &keys)).token().await.unwrap_err();
    assert_eq!(codes(&e), [700027]);
    let x = e.explanation();
    assert!(x.contains("assertion_key_file") && x.contains("jwks.json"), "{x}");

    // The issuer does not publish hrsync's key at all.
    let g = start_self(&other.keys.jwks).await;
    let e = client(&self_config(&g.base_url(), &keys)).token().await.unwrap_err();
    assert_eq!(codes(&e), [7000272]);
    assert!(e.explanation().contains("jwks.json"), "{}", e.explanation());

    // A key file that is not a key names its field.
    let mut config = self_config(&g.base_url(), &keys);
    config.assertion_key_file = Some(keys.certificate_file());
    let e = TokenClient::new(&config, reqwest::Client::new()).unwrap_err();
    assert!(e.to_string().starts_with("target.connection.assertion_key_file: "), "{e}");
    let mut config = self_config(&g.base_url(), &keys);
    config.assertion_subject = None;
    let e = TokenClient::new(&config, reqwest::Client::new()).unwrap_err();
    assert!(matches!(e, TokenError::Config { field: "assertion_subject", .. }), "{e}");
}
