//! Every method end to end against the emulator's token endpoints, and every
//! broken trust set-up producing its documented explanation.

use std::path::{Path, PathBuf};

use hrsync_sf_auth::keys::{self, Validity};
use hrsync_sf_auth::{AssertionSource, AuthConfig, Diagnosis, ProviderOptions, Step, check, jwt};
use sf_emulator::oauth::{IasTrust, OAuthClient, OAuthConfig};
use sf_emulator::{Emulator, RunningEmulator};

const KEY_ID: &str = "hrsync-1";
const ISSUER: &str = "https://hrsync.example";
const SUBJECT: &str = "hrsync-prod";
const AUDIENCE: &str = "https://tenant.accounts.ondemand.com";

struct Fixture {
    dir: PathBuf,
    emu: RunningEmulator,
}

fn write_keys(dir: &Path, name: &str, validity: Validity) -> keys::GeneratedKeys {
    let generated = keys::generate("hrsync", validity).unwrap();
    keys::write(&dir.join(name), &generated).unwrap();
    generated
}

async fn fixture(name: &str) -> Fixture {
    let dir =
        std::env::temp_dir().join(format!("hrsync-sf-auth-emu-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let good = write_keys(&dir, "good", Validity::years_from_today(1));
    write_keys(&dir, "other", Validity::years_from_today(1));
    let old = write_keys(
        &dir,
        "old",
        Validity {
            not_before: jiff::civil::date(2020, 1, 1),
            not_after: jiff::civil::date(2021, 1, 1),
        },
    );
    let mut jwk = good.key.jwk(KEY_ID);
    jwk["kid"] = KEY_ID.into();
    let jwks = serde_json::json!({ "keys": [jwk] }).to_string();
    let trust = |client: &str| IasTrust {
        jwks_uri: None,
        client_id: client.into(),
        issuer: ISSUER.into(),
        jwks: jwks.clone(),
        subject: SUBJECT.into(),
        audience: AUDIENCE.into(),
    };
    let config = OAuthConfig {
        clients: vec![
            OAuthClient {
                client_id: "HRSYNC-KEY".into(),
                company_id: "HRSYNCTEST".into(),
                certificate_pem: good.certificate_pem.clone(),
            },
            OAuthClient {
                client_id: "OLD-KEY".into(),
                company_id: "HRSYNCTEST".into(),
                certificate_pem: old.certificate_pem.clone(),
            },
        ],
        ias: vec![trust("ias-client"), trust("ias-unmapped")],
        dependency: "SF-EC-TA".into(),
        oidc_mappings: vec![("ias-client".into(), "sfapi".into())],
        ..OAuthConfig::default()
    };
    let emu = Emulator::builder().workers(20).oauth(config).start().await.unwrap();
    Fixture { dir, emu }
}

impl Fixture {
    fn saml(&self) -> AuthConfig {
        AuthConfig::SamlBearer {
            client_id: "HRSYNC-KEY".into(),
            user_id: "sfapi".into(),
            company_id: Some("HRSYNCTEST".into()),
            private_key_file: self.dir.join("good").join(keys::PRIVATE_KEY_FILE),
            certificate_file: Some(self.dir.join("good").join(keys::CERTIFICATE_FILE)),
            token_url: None,
            audience: "www.successfactors.com".into(),
            assertion_lifetime: 300,
        }
    }

    fn workload(&self) -> AuthConfig {
        AuthConfig::WorkloadIdentity {
            ias_url: self.emu.base_url(),
            client_id: "ias-client".into(),
            dependency: "SF-EC-TA".into(),
            assertion: AssertionSource::SelfSigned {
                private_key_file: self.dir.join("good").join(keys::PRIVATE_KEY_FILE),
                key_id: KEY_ID.into(),
                issuer: ISSUER.into(),
                subject: SUBJECT.into(),
                audience: AUDIENCE.into(),
                lifetime: 300,
            },
        }
    }

    fn key(&self, which: &str) -> PathBuf {
        self.dir.join(which).join(keys::PRIVATE_KEY_FILE)
    }

    fn cert(&self, which: &str) -> PathBuf {
        self.dir.join(which).join(keys::CERTIFICATE_FILE)
    }

    async fn check(&self, config: &AuthConfig, offset_secs: i64) -> Vec<Step> {
        let options =
            ProviderOptions { clock_offset: jiff::SignedDuration::from_secs(offset_secs) };
        check(config, &self.emu.base_url(), reqwest::Client::new(), options).await
    }
}

fn set_saml(
    config: &mut AuthConfig,
    f: impl FnOnce(
        &mut String,
        &mut String,
        &mut Option<String>,
        &mut PathBuf,
        &mut Option<PathBuf>,
        &mut String,
    ),
) {
    if let AuthConfig::SamlBearer {
        client_id,
        user_id,
        company_id,
        private_key_file,
        certificate_file,
        audience,
        ..
    } = config
    {
        f(client_id, user_id, company_id, private_key_file, certificate_file, audience);
    }
}

fn set_self_signed(
    config: &mut AuthConfig,
    f: impl FnOnce(&mut String, &mut String, &mut PathBuf, &mut String, &mut String, &mut String),
) {
    if let AuthConfig::WorkloadIdentity {
        client_id,
        dependency,
        assertion: AssertionSource::SelfSigned { private_key_file, issuer, subject, audience, .. },
        ..
    } = config
    {
        f(client_id, dependency, private_key_file, issuer, subject, audience);
    }
}

fn assert_all_ok(steps: &[Step]) {
    assert!(!steps.is_empty());
    for s in steps {
        assert!(s.outcome.is_ok(), "step `{}` failed: {:?}", s.name, s.outcome);
    }
    assert_eq!(steps.last().map(|s| s.name.as_str()), Some("call OData PerPerson?$top=1"));
}

fn assert_fails(case: &str, steps: &[Step], diagnosis: Diagnosis, phrase: &str) {
    let last = steps.last().unwrap_or_else(|| panic!("{case}: no steps"));
    let Err(e) = &last.outcome else {
        panic!("{case}: expected failure, all steps passed: {steps:?}")
    };
    assert_eq!(e.diagnosis(), diagnosis, "{case}: {e}");
    assert!(
        e.explanation().contains(phrase),
        "{case}: explanation `{}` lacks `{phrase}` ({e})",
        e.explanation()
    );
}

#[tokio::test]
async fn saml_bearer_end_to_end_and_every_broken_set_up_explained() {
    let fx = fixture("saml").await;
    assert_all_ok(&fx.check(&fx.saml(), 0).await);

    type Edit = Box<dyn Fn(&Fixture, &mut AuthConfig)>;
    let cases: Vec<(&str, i64, Edit, Diagnosis, &str)> = vec![
        ("expired assertion", -3600, Box::new(|_, _| {}), Diagnosis::ClockSkew, "clock"),
        ("assertion not yet valid", 3600, Box::new(|_, _| {}), Diagnosis::ClockSkew, "clock"),
        (
            "wrong audience",
            0,
            Box::new(|_, c| set_saml(c, |_, _, _, _, _, a| *a = "www.example.com".into())),
            Diagnosis::AssertionAudience,
            "www.successfactors.com",
        ),
        (
            "wrong subject",
            0,
            Box::new(|_, c| set_saml(c, |_, u, _, _, _, _| *u = "nobody".into())),
            Diagnosis::UnknownUser,
            "API user does not exist",
        ),
        (
            "bad signature",
            0,
            Box::new(|fx, c| {
                set_saml(c, |_, _, _, k, cert, _| {
                    *k = fx.key("other");
                    *cert = None;
                })
            }),
            Diagnosis::AssertionSignature,
            "does not belong to the X.509 certificate",
        ),
        (
            "unknown client",
            0,
            Box::new(|_, c| set_saml(c, |id, _, _, _, _, _| *id = "NO-SUCH-KEY".into())),
            Diagnosis::UnknownClient,
            "Manage OAuth2 Client Applications",
        ),
        (
            "wrong company",
            0,
            Box::new(|_, c| set_saml(c, |_, _, co, _, _, _| *co = Some("OTHERCO".into()))),
            Diagnosis::WrongCompany,
            "company id",
        ),
        (
            "certificate expired at SuccessFactors",
            0,
            Box::new(|fx, c| {
                set_saml(c, |id, _, _, k, cert, _| {
                    *id = "OLD-KEY".into();
                    *k = fx.key("old");
                    *cert = None;
                })
            }),
            Diagnosis::CertificateExpired,
            "hrsync keys generate",
        ),
        (
            "certificate expired locally",
            0,
            Box::new(|fx, c| {
                set_saml(c, |id, _, _, k, cert, _| {
                    *id = "OLD-KEY".into();
                    *k = fx.key("old");
                    *cert = Some(fx.cert("old"));
                })
            }),
            Diagnosis::CertificateExpired,
            "hrsync keys generate",
        ),
        (
            "key does not match certificate",
            0,
            Box::new(|fx, c| set_saml(c, |_, _, _, k, _, _| *k = fx.key("other"))),
            Diagnosis::KeyMismatch,
            "not a pair",
        ),
    ];
    for (name, offset, edit, diagnosis, phrase) in cases {
        let mut config = fx.saml();
        edit(&fx, &mut config);
        let issued = fx.emu.oauth().unwrap().tokens_issued();
        assert_fails(name, &fx.check(&config, offset).await, diagnosis, phrase);
        assert_eq!(fx.emu.oauth().unwrap().tokens_issued(), issued, "{name}: no token issued");
    }
    fx.emu.shutdown().await;
}

#[tokio::test]
async fn workload_identity_end_to_end_and_every_broken_set_up_explained() {
    let fx = fixture("wi").await;
    assert_all_ok(&fx.check(&fx.workload(), 0).await);

    // A federated token file the platform keeps fresh, and one it stopped refreshing.
    let key = keys::SigningKey::load(&fx.key("good")).unwrap();
    let write_token = |name: &str, issued_at: jiff::Timestamp| {
        let claims = jwt::Claims {
            issuer: ISSUER,
            subject: SUBJECT,
            audience: AUDIENCE,
            issued_at,
            lifetime_secs: 600,
            id: "_f",
        };
        let token = jwt::sign(&key, KEY_ID, &claims).unwrap();
        let path = fx.dir.join(name);
        std::fs::write(&path, format!("{}\n", secrecy::ExposeSecret::expose_secret(&token)))
            .unwrap();
        path
    };
    let fresh = write_token("fresh.jwt", jiff::Timestamp::now());
    let stale =
        write_token("stale.jwt", jiff::Timestamp::now() - jiff::SignedDuration::from_hours(2));
    let federated = |path: PathBuf| {
        let mut c = fx.workload();
        if let AuthConfig::WorkloadIdentity { assertion, .. } = &mut c {
            *assertion = AssertionSource::FederatedFile { path };
        }
        c
    };
    assert_all_ok(&fx.check(&federated(fresh), 0).await);
    assert_fails(
        "stale federated token",
        &fx.check(&federated(stale), 0).await,
        Diagnosis::StaleFederatedToken,
        "no longer refreshed",
    );

    type Edit = Box<dyn Fn(&Fixture, &mut AuthConfig)>;
    let cases: Vec<(&str, i64, Edit, Diagnosis, &str)> = vec![
        (
            "wrong audience",
            0,
            Box::new(|_, c| set_self_signed(c, |_, _, _, _, _, a| *a = "https://elsewhere".into())),
            Diagnosis::SubjectOrAudienceMismatch,
            "subject or audience of the token",
        ),
        (
            "wrong subject",
            0,
            Box::new(|_, c| set_self_signed(c, |_, _, _, _, s, _| *s = "someone-else".into())),
            Diagnosis::SubjectOrAudienceMismatch,
            "subject or audience of the token",
        ),
        (
            "bad signature",
            0,
            Box::new(|fx, c| set_self_signed(c, |_, _, k, _, _, _| *k = fx.key("other"))),
            Diagnosis::SignatureOrIssuer,
            "JWKS",
        ),
        (
            "issuer (tenant) mismatch",
            0,
            Box::new(|_, c| {
                set_self_signed(c, |_, _, _, i, _, _| {
                    *i = "https://login.example/other-tenant".into()
                })
            }),
            Diagnosis::SignatureOrIssuer,
            "issuer (tenant)",
        ),
        (
            "unknown client",
            0,
            Box::new(|_, c| set_self_signed(c, |id, _, _, _, _, _| *id = "no-such-client".into())),
            Diagnosis::UnknownClient,
            "SAP Cloud Identity Service OIDC application",
        ),
        (
            "wrong dependency",
            0,
            Box::new(|_, c| set_self_signed(c, |_, d, _, _, _, _| *d = "SF-WRONG".into())),
            Diagnosis::UnknownDependency,
            "Dependency Name",
        ),
        ("expired assertion", -3600, Box::new(|_, _| {}), Diagnosis::ClockSkew, "clock"),
        ("assertion not yet valid", 3600, Box::new(|_, _| {}), Diagnosis::ClockSkew, "clock"),
        (
            "client not mapped to an API user",
            0,
            Box::new(|_, c| set_self_signed(c, |id, _, _, _, _, _| *id = "ias-unmapped".into())),
            Diagnosis::NotMappedOrNoPermission,
            "not mapped to an API user",
        ),
    ];
    for (name, offset, edit, diagnosis, phrase) in cases {
        let mut config = fx.workload();
        edit(&fx, &mut config);
        assert_fails(name, &fx.check(&config, offset).await, diagnosis, phrase);
    }
    fx.emu.shutdown().await;
}

#[tokio::test]
async fn basic_still_works_where_enabled_and_a_wrong_password_is_explained() {
    let fx = fixture("basic").await;
    // Passwords from files, not the environment: setting a variable in a
    // test process races with every other thread reading it (the env path is
    // tested through the binary, crates/hrsync/tests/auth_cli.rs).
    let right = fx.dir.join("sf-password");
    std::fs::write(&right, format!("{}\n", sf_emulator::DEFAULT_PASSWORD)).unwrap();
    let wrong = fx.dir.join("sf-wrong-password");
    std::fs::write(&wrong, "not-the-password").unwrap();
    let basic = |file: &std::path::Path| AuthConfig::Basic {
        username: "sfapi".into(),
        company_id: Some("HRSYNCTEST".into()),
        password_env: None,
        password_file: Some(file.to_path_buf()),
    };
    let steps = fx.check(&basic(&right), 0).await;
    assert_all_ok(&steps);
    assert!(
        steps[0].outcome.as_ref().unwrap().contains("retired"),
        "basic warns that SAP retired it"
    );
    assert_fails(
        "wrong password",
        &fx.check(&basic(&wrong), 0).await,
        Diagnosis::CredentialsRefused,
        "password",
    );
    fx.emu.shutdown().await;
}

#[tokio::test]
async fn concurrent_callers_share_one_refresh_and_an_invalidated_token_is_refreshed_once() {
    let fx = fixture("single-flight").await;
    let provider = hrsync_sf_auth::TokenProvider::new(
        &fx.workload(),
        &fx.emu.base_url(),
        reqwest::Client::new(),
        ProviderOptions::default(),
    )
    .unwrap();
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let p = provider.clone();
            tokio::spawn(async move {
                p.bearer().await.map(|t| secrecy::ExposeSecret::expose_secret(&t).to_owned())
            })
        })
        .collect();
    let mut tokens = Vec::new();
    for t in tasks {
        tokens.push(t.await.unwrap().unwrap());
    }
    assert!(tokens.windows(2).all(|w| w[0] == w[1]), "all callers got the same token");
    assert_eq!(fx.emu.oauth().unwrap().tokens_issued(), 1);
    let stale = provider.bearer().await.unwrap();
    for _ in 0..10 {
        provider.invalidate(&stale);
    }
    let fresh = provider.bearer().await.unwrap();
    assert_ne!(
        secrecy::ExposeSecret::expose_secret(&fresh),
        secrecy::ExposeSecret::expose_secret(&stale)
    );
    provider.invalidate(&stale);
    assert_eq!(
        secrecy::ExposeSecret::expose_secret(&provider.bearer().await.unwrap()),
        secrecy::ExposeSecret::expose_secret(&fresh),
        "a stale token does not evict the fresh one"
    );
    assert_eq!(fx.emu.oauth().unwrap().tokens_issued(), 2);
    assert!(!format!("{provider:?}").contains(secrecy::ExposeSecret::expose_secret(&fresh)));
    fx.emu.shutdown().await;
}
