//! Shared set-up of the OAuth tests: keys, an emulator trusting them, clients.
#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Duration;

use hrsync_sf_auth::keys::{self, Validity};
use hrsync_sf_auth::{AssertionSource, AuthConfig};
use hrsync_source_sf::{
    Credentials, PersonQuery, RetryPolicy, SfClient, SourceConfig, SourceError,
};
use secrecy::SecretString;
use sf_emulator::oauth::{IasTrust, OAuthClient, OAuthConfig};
use sf_emulator::{Emulator, RunningEmulator};

pub const LIFETIME: Duration = Duration::from_secs(2);

pub struct Setup {
    pub dir: PathBuf,
    pub keys: keys::GeneratedKeys,
}

pub fn setup(name: &str) -> Setup {
    let dir =
        std::env::temp_dir().join(format!("hrsync-source-sf-auth-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let keys = keys::generate("hrsync", Validity::years_from_today(1)).unwrap();
    keys::write(&dir, &keys).unwrap();
    Setup { dir, keys }
}

impl Setup {
    pub fn oauth(&self) -> OAuthConfig {
        OAuthConfig {
            clients: vec![OAuthClient {
                client_id: "HRSYNC-KEY".into(),
                company_id: "HRSYNCTEST".into(),
                certificate_pem: self.keys.certificate_pem.clone(),
            }],
            ias: vec![IasTrust {
                jwks_uri: None,
                client_id: "ias-client".into(),
                issuer: "https://hrsync.example".into(),
                jwks: self.keys.jwks.to_string(),
                subject: "hrsync".into(),
                audience: "https://ias.example".into(),
            }],
            oidc_mappings: vec![("ias-client".into(), "sfapi".into())],
            token_lifetime: LIFETIME,
            ..OAuthConfig::default()
        }
    }

    pub fn saml(&self) -> AuthConfig {
        AuthConfig::SamlBearer {
            client_id: "HRSYNC-KEY".into(),
            user_id: "sfapi".into(),
            company_id: Some("HRSYNCTEST".into()),
            private_key_file: self.dir.join(keys::PRIVATE_KEY_FILE),
            certificate_file: Some(self.dir.join(keys::CERTIFICATE_FILE)),
            token_url: None,
            audience: "www.successfactors.com".into(),
            assertion_lifetime: 60,
        }
    }

    pub fn workload(&self, ias_url: &str) -> AuthConfig {
        AuthConfig::WorkloadIdentity {
            ias_url: ias_url.into(),
            client_id: "ias-client".into(),
            dependency: "SF-EC-TA".into(),
            assertion: AssertionSource::SelfSigned {
                private_key_file: self.dir.join(keys::PRIVATE_KEY_FILE),
                key_id: self.keys.key_id.clone(),
                issuer: "https://hrsync.example".into(),
                subject: "hrsync".into(),
                audience: "https://ias.example".into(),
                lifetime: 60,
            },
        }
    }
}

pub async fn emulator(s: &Setup, workers: usize, latency: Duration) -> RunningEmulator {
    // Basic off: every OData request below must carry a bearer token.
    Emulator::builder()
        .workers(workers)
        .latency(latency)
        .basic_auth(false)
        .oauth(s.oauth())
        .start()
        .await
        .unwrap()
}

pub fn client(emu: &RunningEmulator, auth: &AuthConfig) -> SfClient {
    let placeholder = Credentials::Basic {
        username: String::new(),
        company_id: String::new(),
        password: SecretString::from(String::new()),
    };
    let mut config = SourceConfig::new(emu.base_url(), placeholder).with_auth(auth).unwrap();
    config.retry = RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
        max_retry_after: Duration::from_secs(1),
    };
    SfClient::new(&config).unwrap()
}

pub async fn read_all(client: &SfClient, q: &PersonQuery) -> Result<Vec<String>, SourceError> {
    let mut ids = Vec::new();
    let mut pages = client.persons(q)?;
    while let Some(page) = pages.next_page().await? {
        ids.extend(
            page.records.iter().filter_map(|r| {
                r.get("personIdExternal").and_then(|v| v.as_str()).map(str::to_owned)
            }),
        );
    }
    Ok(ids)
}
