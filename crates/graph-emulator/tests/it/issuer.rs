//! Entra-shaped access tokens (issue 22): an issued token is a JWT that an
//! independent library verifies with the JWKS named by the discovery
//! document, with Entra's app-only claims; Graph still accepts it.

use graph_emulator::issuer::service_principal_id;
use graph_emulator::server::GraphEmulator;
use serde_json::Value;

const CLIENT: &str = "aaaaaaaa-1111-2222-3333-444444444444";
const TENANT: &str = "11111111-aaaa-bbbb-cccc-222222222222";

#[tokio::test]
async fn issued_token_verifies_against_the_served_jwks() {
    let g = GraphEmulator::new("127.0.0.1:0".parse().unwrap())
        .app_with_secret(CLIENT, "s3cret")
        .start()
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let base = g.base_url();
    let answer: Value = http
        .post(format!("{base}/{TENANT}/oauth2/v2.0/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", CLIENT),
            ("client_secret", "s3cret"),
            ("scope", "api://sap-ias-trust/.default"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = answer["access_token"].as_str().unwrap().to_owned();

    let discovery: Value = http
        .get(format!("{base}/{TENANT}/v2.0/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let issuer = format!("{base}/{TENANT}/v2.0");
    assert_eq!(discovery["issuer"], issuer.as_str());
    assert_eq!(discovery["token_endpoint"], format!("{base}/{TENANT}/oauth2/v2.0/token").as_str());
    assert_eq!(g.issuer(TENANT), issuer);
    let jwks_uri = discovery["jwks_uri"].as_str().unwrap().to_owned();
    assert_eq!(jwks_uri, g.jwks_uri(TENANT));
    let jwks: jsonwebtoken::jwk::JwkSet =
        http.get(&jwks_uri).send().await.unwrap().json().await.unwrap();

    let header = jsonwebtoken::decode_header(&token).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::RS256);
    let kid = header.kid.expect("kid in the header");
    let jwk = jwks.find(&kid).expect("the kid is in the JWKS");
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    v.set_audience(&["api://sap-ias-trust"]);
    v.set_issuer(&[issuer.as_str()]);
    v.set_required_spec_claims(&["exp", "nbf", "iat", "iss", "aud", "sub"]);
    let claims = jsonwebtoken::decode::<Value>(&token, &key, &v).unwrap().claims;
    let sp = service_principal_id(CLIENT);
    assert_eq!(claims["sub"], sp.as_str());
    assert_eq!(claims["oid"], sp.as_str());
    assert_eq!(claims["azp"], CLIENT);
    assert_eq!(claims["tid"], TENANT);
    assert_eq!(claims["idtyp"], "app");
    assert_eq!(claims["ver"], "2.0");
    let (iat, exp) = (claims["iat"].as_i64().unwrap(), claims["exp"].as_i64().unwrap());
    assert_eq!(exp - iat, answer["expires_in"].as_i64().unwrap());

    // A tampered token does not verify.
    let mut parts: Vec<&str> = token.split('.').collect();
    let forged = base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        br#"{"aud":"api://sap-ias-trust","sub":"someone-else"}"#,
    );
    parts[1] = &forged;
    assert!(jsonwebtoken::decode::<Value>(&parts.join("."), &key, &v).is_err());

    // Graph still accepts the tokens the endpoint issues.
    let users = http.get(format!("{base}/v1.0/users")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(users.status(), 200);
    g.shutdown().await;
}
