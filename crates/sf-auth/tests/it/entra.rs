//! AT1 issued by Microsoft Entra ID (issue 22): the Graph double's token
//! endpoint issues an Entra-shaped AT1 to an app authenticating with a
//! certificate or a federated token file, the SuccessFactors emulator's IAS
//! trusts that issuer, and AT2 calls OData. AT1 is verified here with
//! `jsonwebtoken` against the JWKS the double serves.

use std::path::PathBuf;
use std::time::Duration;

use graph_emulator::issuer::service_principal_id;
use graph_emulator::server::{GraphEmulator, RunningGraph};
use hrsync_sf_auth::keys::{self, Validity};
use hrsync_sf_auth::{
    AssertionSource, AuthConfig, Diagnosis, ProviderOptions, Step, TokenProvider, check, jwt,
};
use secrecy::ExposeSecret;
use sf_emulator::oauth::{IasTrust, OAuthConfig};
use sf_emulator::{Emulator, RunningEmulator};

pub const TENANT: &str = "11111111-aaaa-bbbb-cccc-222222222222";
pub const APP: &str = "aaaaaaaa-1111-2222-3333-444444444444";
pub const AUDIENCE: &str = "api://sap-ias-trust";
const FED_ISSUER: &str = "https://oidc.cluster.example";
const FED_SUBJECT: &str = "system:serviceaccount:hr:hrsync";

pub struct Doubles {
    pub dir: PathBuf,
    pub graph: RunningGraph,
    pub sf: RunningEmulator,
    pub jwks: String,
}

fn temp_dir(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("hrsync-sf-auth-entra-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// The Graph double with the app (certificate `app/`, and a federated
/// credential for `fed-app`), then the SF emulator whose IAS trusts the
/// double's issuer by its JWKS URI; `setup` changes the IAS/SF set-up.
pub async fn doubles(
    name: &str,
    lifetime: Duration,
    setup: impl FnOnce(&mut OAuthConfig, &RunningGraph),
) -> Doubles {
    let dir = temp_dir(name);
    let app = keys::generate("entra-app", Validity::years_from_today(1)).unwrap();
    keys::write(&dir.join("app"), &app).unwrap();
    let fed = keys::generate("cluster", Validity::years_from_today(1)).unwrap();
    keys::write(&dir.join("fed"), &fed).unwrap();
    let fed_jwks = serde_json::json!({"keys": [fed.key.jwk(&fed.key_id)]}).to_string();
    let graph = GraphEmulator::new("127.0.0.1:0".parse().unwrap())
        .app_with_certificate(APP, app.certificate_pem.clone())
        .app_with_federation(
            "fed-app",
            FED_ISSUER,
            FED_SUBJECT,
            "api://AzureADTokenExchange",
            fed_jwks,
        )
        .token_lifetime(lifetime)
        .start()
        .await
        .unwrap();
    let jwks = reqwest::get(graph.jwks_uri(TENANT)).await.unwrap().text().await.unwrap();
    let t = IasTrust {
        client_id: "ias-client".into(),
        issuer: graph.issuer(TENANT),
        jwks: String::new(),
        jwks_uri: Some(graph.jwks_uri(TENANT)),
        subject: service_principal_id(APP),
        audience: AUDIENCE.into(),
    };
    let mut fed_trust = t.clone();
    fed_trust.client_id = "ias-fed".into();
    fed_trust.subject = service_principal_id("fed-app");
    let mut config = OAuthConfig {
        ias: vec![t, fed_trust],
        dependency: "SF-EC-TA".into(),
        oidc_mappings: vec![
            ("ias-client".into(), "sfapi".into()),
            ("ias-fed".into(), "sfapi".into()),
        ],
        token_lifetime: lifetime,
        ..OAuthConfig::default()
    };
    setup(&mut config, &graph);
    let sf = Emulator::builder().workers(5).oauth(config).start().await.unwrap();
    // A projected service-account token the platform would write.
    let claims = jwt::Claims {
        issuer: FED_ISSUER,
        subject: FED_SUBJECT,
        audience: "api://AzureADTokenExchange",
        issued_at: jiff::Timestamp::now(),
        lifetime_secs: 3600,
        id: "fed-1",
    };
    let token = jwt::sign(&fed.key, &fed.key_id, &claims).unwrap();
    std::fs::write(dir.join("fed-token"), token.expose_secret()).unwrap();
    Doubles { dir, graph, sf, jwks }
}

impl Doubles {
    pub fn entra(&self) -> AuthConfig {
        AuthConfig::WorkloadIdentity {
            ias_url: self.sf.base_url(),
            client_id: "ias-client".into(),
            dependency: "SF-EC-TA".into(),
            assertion: AssertionSource::Entra {
                tenant_id: TENANT.into(),
                client_id: APP.into(),
                certificate_file: Some(self.dir.join("app").join(keys::CERTIFICATE_FILE)),
                private_key_file: Some(self.dir.join("app").join(keys::PRIVATE_KEY_FILE)),
                federated_token_file: None,
                login_url: self.graph.base_url(),
                scope: format!("{AUDIENCE}/.default"),
            },
        }
    }

    pub fn entra_federated(&self) -> AuthConfig {
        AuthConfig::WorkloadIdentity {
            ias_url: self.sf.base_url(),
            client_id: "ias-fed".into(),
            dependency: "SF-EC-TA".into(),
            assertion: AssertionSource::Entra {
                tenant_id: TENANT.into(),
                client_id: "fed-app".into(),
                certificate_file: None,
                private_key_file: None,
                federated_token_file: Some(self.dir.join("fed-token")),
                login_url: self.graph.base_url(),
                scope: format!("{AUDIENCE}/.default"),
            },
        }
    }

    pub async fn graph_tokens_issued(&self) -> u64 {
        let stats: serde_json::Value =
            reqwest::get(format!("{}/_emulator/stats", self.graph.base_url()))
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
        stats["tokens_issued"].as_u64().unwrap()
    }
}

#[tokio::test]
async fn at1_from_entra_is_exchanged_at_ias_and_calls_odata() {
    let d = doubles("flow", Duration::from_secs(3600), |_, _| {}).await;
    for config in [d.entra(), d.entra_federated()] {
        let steps =
            check(&config, &d.sf.base_url(), reqwest::Client::new(), ProviderOptions::default())
                .await;
        let names: Vec<&str> = steps.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "acquire AT1 from Microsoft Entra ID",
                "exchange AT1 for AT2 at SAP Cloud Identity Service",
                "call OData PerPerson?$top=1"
            ]
        );
        for s in &steps {
            assert!(s.outcome.is_ok(), "{}: {:?}", s.name, s.outcome);
        }
    }

    // AT1 as IAS sees it, verified independently against the double's JWKS.
    let provider = TokenProvider::new(
        &d.entra(),
        &d.sf.base_url(),
        reqwest::Client::new(),
        ProviderOptions::default(),
    )
    .unwrap();
    let at1 = provider.obtain_at1().await.unwrap();
    let header = jsonwebtoken::decode_header(at1.expose_secret()).unwrap();
    let set: jsonwebtoken::jwk::JwkSet = serde_json::from_str(&d.jwks).unwrap();
    let key = jsonwebtoken::DecodingKey::from_jwk(set.find(&header.kid.unwrap()).unwrap()).unwrap();
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    v.set_audience(&[AUDIENCE]);
    v.set_issuer(&[d.graph.issuer(TENANT)]);
    let claims =
        jsonwebtoken::decode::<serde_json::Value>(at1.expose_secret(), &key, &v).unwrap().claims;
    assert_eq!(claims["sub"], service_principal_id(APP).as_str());
    assert_eq!(claims["tid"], TENANT);
    assert_eq!(claims["azp"], APP);
    d.sf.shutdown().await;
    d.graph.shutdown().await;
}

#[tokio::test]
async fn at1_and_at2_are_cached_apart_and_an_invalidated_at2_reuses_at1() {
    let d = doubles("cache", Duration::from_secs(3600), |_, _| {}).await;
    let provider = TokenProvider::new(
        &d.entra(),
        &d.sf.base_url(),
        reqwest::Client::new(),
        ProviderOptions::default(),
    )
    .unwrap();
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let p = provider.clone();
            tokio::spawn(async move { p.bearer().await.map(|t| t.expose_secret().to_owned()) })
        })
        .collect();
    let mut tokens = Vec::new();
    for t in tasks {
        tokens.push(t.await.unwrap().unwrap());
    }
    assert!(tokens.windows(2).all(|w| w[0] == w[1]));
    assert_eq!((provider.at1_fetches(), provider.fetches()), (1, 1));
    let at2 = provider.bearer().await.unwrap();
    // OData answered 403 LGN0022: AT2 goes, AT1 stays.
    provider.invalidate(&at2);
    let fresh = provider.bearer().await.unwrap();
    assert_ne!(fresh.expose_secret(), at2.expose_secret());
    assert_eq!((provider.at1_fetches(), provider.fetches()), (1, 2));
    assert_eq!(d.graph_tokens_issued().await, 1);
    assert_eq!(d.sf.oauth().unwrap().tokens_issued(), 2);
    d.sf.shutdown().await;
    d.graph.shutdown().await;
}

fn assert_fails_at(case: &str, steps: &[Step], step: &str, diagnosis: Diagnosis, phrase: &str) {
    let last = steps.last().unwrap_or_else(|| panic!("{case}: no steps"));
    assert_eq!(last.name, step, "{case}: {steps:?}");
    let Err(e) = &last.outcome else { panic!("{case}: all steps passed: {steps:?}") };
    assert_eq!(e.diagnosis(), diagnosis, "{case}: {e}");
    assert!(
        e.explanation().contains(phrase),
        "{case}: explanation `{}` lacks `{phrase}` ({e})",
        e.explanation()
    );
    for earlier in &steps[..steps.len() - 1] {
        assert!(earlier.outcome.is_ok(), "{case}: {} failed", earlier.name);
    }
}

const EXCHANGE: &str = "exchange AT1 for AT2 at SAP Cloud Identity Service";

/// Every row of the seed's troubleshooting table, reproduced with the
/// doubles and explained by the check (Test connection).
#[tokio::test]
async fn every_troubleshooting_row_is_reproduced_and_explained() {
    type Setup = Box<dyn FnOnce(&mut OAuthConfig, &RunningGraph)>;
    let rows: Vec<(&str, Setup, &str, Diagnosis, &str, &str)> = vec![
        (
            "invalid_client_assertion: subject",
            Box::new(|c, _| c.ias[0].subject = "another-service-principal".into()),
            EXCHANGE,
            Diagnosis::SubjectOrAudienceMismatch,
            "Subject and Audience",
            "invalid_client_assertion",
        ),
        (
            "invalid_client_assertion: audience",
            Box::new(|c, _| c.ias[0].audience = "api://elsewhere".into()),
            EXCHANGE,
            Diagnosis::SubjectOrAudienceMismatch,
            "Subject and Audience",
            "invalid_client_assertion",
        ),
        (
            "unauthorized_client: JWKS URI unreachable",
            Box::new(|c, _| c.ias[0].jwks_uri = Some("http://127.0.0.1:9/keys".into())),
            EXCHANGE,
            Diagnosis::SignatureOrIssuer,
            "discovery endpoint",
            "unauthorized_client",
        ),
        (
            "unauthorized_client: signature (keys of another tenant)",
            Box::new(|c, g| {
                // Another double's keys: same shape, different key.
                let _ = g;
                c.ias[0].jwks_uri = None;
                c.ias[0].jwks = hrsync_sf_auth::keys::generate("x", Validity::years_from_today(1))
                    .map(|k| serde_json::json!({"keys": [k.key.jwk("other")]}).to_string())
                    .unwrap_or_default();
            }),
            EXCHANGE,
            Diagnosis::SignatureOrIssuer,
            "signature",
            "unauthorized_client",
        ),
        (
            "unauthorized_client: issuer tenant mismatch",
            Box::new(|c, g| c.ias[0].issuer = g.issuer("22222222-0000-0000-0000-000000000000")),
            EXCHANGE,
            Diagnosis::SignatureOrIssuer,
            "tenant ID in the issuer claim",
            "unauthorized_client",
        ),
        (
            "AT2 without sf_technical_access",
            Box::new(|c, _| c.dependency_apis = vec!["other_api".into()]),
            EXCHANGE,
            Diagnosis::NoTechnicalAccess,
            "sf_technical_access",
            "sf_technical_access",
        ),
        (
            "OData 403: IAS client not mapped to an API user",
            Box::new(|c, _| c.oidc_mappings.clear()),
            "call OData PerPerson?$top=1",
            Diagnosis::NotMappedOrNoPermission,
            "Manage OIDC OAuth Client Application",
            "403",
        ),
    ];
    for (i, (case, setup, step, diagnosis, phrase, message)) in rows.into_iter().enumerate() {
        let d = doubles(&format!("row{i}"), Duration::from_secs(3600), setup).await;
        let steps =
            check(&d.entra(), &d.sf.base_url(), reqwest::Client::new(), ProviderOptions::default())
                .await;
        assert_fails_at(case, &steps, step, diagnosis, phrase);
        let text = steps
            .last()
            .and_then(|s| s.outcome.as_ref().err())
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(text.contains(message), "{case}: {text}");
        d.sf.shutdown().await;
        d.graph.shutdown().await;
    }
}

/// Entra refusing AT1 stops the check at the first step with the AADSTS
/// explanation; IAS is not asked.
#[tokio::test]
async fn entra_refusing_at1_is_explained_at_the_first_step() {
    let d = doubles("entra-refuses", Duration::from_secs(3600), |_, _| {}).await;
    let mut config = d.entra();
    if let AuthConfig::WorkloadIdentity {
        assertion: AssertionSource::Entra { client_id, .. },
        ..
    } = &mut config
    {
        *client_id = "not-registered".into();
    }
    let steps =
        check(&config, &d.sf.base_url(), reqwest::Client::new(), ProviderOptions::default()).await;
    assert_fails_at(
        "unknown app",
        &steps,
        "acquire AT1 from Microsoft Entra ID",
        Diagnosis::EntraRefused,
        "Application (client) ID",
    );
    assert_eq!(d.sf.oauth().unwrap().tokens_issued(), 0);
    d.sf.shutdown().await;
    d.graph.shutdown().await;
}

/// The JWKS URI is fetched once and cached across exchanges.
#[tokio::test]
async fn ias_fetches_the_jwks_uri_once() {
    let d = doubles("jwks-cache", Duration::from_secs(3600), |_, _| {}).await;
    for _ in 0..3 {
        let steps =
            check(&d.entra(), &d.sf.base_url(), reqwest::Client::new(), ProviderOptions::default())
                .await;
        assert!(steps.iter().all(|s| s.outcome.is_ok()), "{steps:?}");
    }
    assert_eq!(d.sf.oauth().unwrap().jwks_fetches(), 1);
    d.sf.shutdown().await;
    d.graph.shutdown().await;
}

/// OData refused AT2 (403 LGN0022) and IAS then refuses the cached AT1 with
/// `invalid_client_assertion`: AT1 is dropped too and one new AT1 is asked
/// of Entra; the caller gets a working AT2 from the one refresh.
#[tokio::test]
async fn a_cached_at1_refused_by_ias_is_dropped_and_replaced_once() {
    let d = doubles("at1-drop", Duration::from_secs(3600), |_, _| {}).await;
    let provider = TokenProvider::new(
        &d.entra(),
        &d.sf.base_url(),
        reqwest::Client::new(),
        ProviderOptions::default(),
    )
    .unwrap();
    let at2 = provider.bearer().await.unwrap();
    assert_eq!((provider.at1_fetches(), provider.fetches()), (1, 1));
    // AT1 carries whole seconds: let the next one be issued a second later.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let oauth = d.sf.oauth().unwrap();
    oauth.refuse_assertions_issued_before(jiff::Timestamp::now().as_second());
    provider.invalidate(&at2);
    let fresh = provider.bearer().await.unwrap();
    assert_ne!(fresh.expose_secret(), at2.expose_secret());
    assert_eq!((provider.at1_fetches(), provider.fetches()), (2, 2));
    assert_eq!(d.graph_tokens_issued().await, 2);
    assert_eq!(oauth.tokens_issued(), 2);
    d.sf.shutdown().await;
    d.graph.shutdown().await;
}
