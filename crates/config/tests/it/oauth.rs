//! The OAuth methods: a loaded config carries the [`AuthConfig`] with paths
//! resolved and a client with a token provider; key and certificate problems
//! are errors at the field naming the file, with the admin explanation
//! (certificate expiry is checked when an assertion is signed, so by
//! `hrsync check` and at run time, not here).

use crate::common;

use std::path::Path;

use common::*;
use hrsync_config::Config;
use hrsync_sf_auth::keys::{self, Validity};
use hrsync_sf_auth::{AssertionSource, AuthConfig};
use secrecy::ExposeSecret;

const SAML: &str = "client_id = \"HRSYNC-KEY\"\nuser_id = \"sfapi\"\nprivate_key_file = \"keys/private-key.pem\"\ncertificate_file = \"keys/certificate.pem\"";

fn write_keys(dir: &Path, validity: Validity) -> keys::GeneratedKeys {
    let generated = keys::generate("hrsync", validity).expect("generate keys");
    keys::write(&dir.join("keys"), &generated).expect("write keys");
    generated
}

fn load(dir: &Path, lines: &[(usize, &str)]) -> Result<Config, hrsync_config::ConfigErrors> {
    std::fs::write(dir.join("hrsync.toml"), with_lines(lines)).expect("write config");
    common::load(dir.join("hrsync.toml"))
}

#[test]
fn saml_bearer_loads_with_resolved_paths_and_a_token_provider() {
    let dir = temp_dir("oauth-saml");
    let generated = write_keys(&dir, Validity::years_from_today(1));
    let config = load(
        &dir,
        &[(8, r#"method = "saml-bearer""#), (9, SAML), (10, "assertion_lifetime = 120")],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        config.source.auth,
        AuthConfig::SamlBearer {
            client_id: "HRSYNC-KEY".into(),
            user_id: "sfapi".into(),
            company_id: Some("ACME".into()),
            private_key_file: dir.join("keys/private-key.pem"),
            certificate_file: Some(dir.join("keys/certificate.pem")),
            token_url: None,
            audience: "www.successfactors.com".into(),
            assertion_lifetime: 120,
        }
    );
    let provider = config.source.client.token_provider.as_ref().expect("token provider installed");
    assert_eq!(provider.method(), "saml-bearer");
    assert_eq!(provider.token_url(), "https://api4.successfactors.com/oauth/token");
    let debug = format!("{config:#?}");
    let key_line =
        generated.private_key_pem.expose_secret().lines().nth(1).expect("PEM body").to_owned();
    assert!(!debug.contains(&key_line), "Debug shows key material");
}

#[test]
fn workload_identity_loads_both_assertion_sources() {
    let dir = temp_dir("oauth-wi");
    let generated = write_keys(&dir, Validity::years_from_today(1));
    let head = "client_id = \"ias-client\"\ndependency = \"SF-EC\"\n[source.auth.assertion]";
    let self_signed = format!(
        "{head}\ntype = \"self-signed\"\nprivate_key_file = \"keys/private-key.pem\"\nkey_id = \"{}\"\nissuer = \"https://hrsync.example\"\nsubject = \"hrsync\"\naudience = \"https://t.accounts.ondemand.com\"",
        generated.key_id
    );
    let federated = format!("{head}\ntype = \"federated-file\"\npath = \"token\"");
    let ias = r#"ias_url = "https://t.accounts.ondemand.com""#;
    let wi = r#"method = "workload-identity""#;

    let config =
        load(&dir, &[(8, wi), (9, ias), (10, &self_signed)]).unwrap_or_else(|e| panic!("{e}"));
    match &config.source.auth {
        AuthConfig::WorkloadIdentity {
            assertion: AssertionSource::SelfSigned { private_key_file, key_id, lifetime, .. },
            dependency,
            ..
        } => {
            assert_eq!(private_key_file, &dir.join("keys/private-key.pem"));
            assert_eq!(
                (key_id.as_str(), *lifetime, dependency.as_str()),
                (generated.key_id.as_str(), 300, "SF-EC")
            );
        }
        other => panic!("expected self-signed workload identity, got {other:?}"),
    }
    assert_eq!(
        config.source.client.token_provider.as_ref().map(|p| p.token_url()),
        Some("https://t.accounts.ondemand.com/oauth2/token")
    );

    // A federated token file need not exist yet: the platform may write it after start.
    let config =
        load(&dir, &[(8, wi), (9, ias), (10, &federated)]).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        matches!(&config.source.auth, AuthConfig::WorkloadIdentity { assertion: AssertionSource::FederatedFile { path }, .. } if path == &dir.join("token")),
        "{:?}",
        config.source.auth
    );
}

#[test]
fn key_and_certificate_problems_point_at_the_file_with_an_explanation() {
    let dir = temp_dir("oauth-broken");
    write_keys(&dir, Validity::years_from_today(1));
    // A second pair whose certificate does not belong to the first key.
    let other = keys::generate("other", Validity::years_from_today(1)).expect("generate");
    std::fs::write(dir.join("other-cert.pem"), &other.certificate_pem).expect("write cert");
    std::fs::write(dir.join("not-a-key.pem"), "hello\n").expect("write");

    let saml = |key: &str, cert: &str| {
        format!(
            "client_id = \"K\"\nuser_id = \"sfapi\"\nprivate_key_file = \"{key}\"\ncertificate_file = \"{cert}\""
        )
    };
    let cases = [
        (
            "key mismatch",
            saml("keys/private-key.pem", "other-cert.pem"),
            "12:20",
            "certificate_file",
            "does not belong to the certificate",
            "are not a pair",
        ),
        (
            "not a key",
            saml("not-a-key.pem", "keys/certificate.pem"),
            "11:20",
            "private_key_file",
            "not a PEM file",
            "",
        ),
    ];
    let mut failures = Vec::new();
    for (name, block, at, field, cause, explanation) in cases {
        let errs = match load(&dir, &[(8, r#"method = "saml-bearer""#), (9, &block), (10, "")]) {
            Ok(_) => {
                failures.push(format!("{name}: loaded"));
                continue;
            }
            Err(e) => e.to_string(),
        };
        let prefix =
            format!("{}:{at}: field `source.auth.{field}`: ", dir.join("hrsync.toml").display());
        if !(errs.starts_with(&prefix) && errs.contains(cause) && errs.contains(explanation)) {
            failures.push(format!("{name}: expected `{prefix}…{cause}…{explanation}`, got {errs}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn workload_identity_entra_loads_and_errors_name_file_line_and_field() {
    let dir = temp_dir("oauth-entra");
    write_keys(&dir, Validity::years_from_today(1));
    let head = "ias_url = \"https://t.accounts.ondemand.com\"\nclient_id = \"ias-client\"\ndependency = \"SF-EC\"\n[source.auth.assertion]\ntype = \"entra\"\ntenant_id = \"contoso-tenant\"\nclient_id = \"entra-app\"";
    let wi = r#"method = "workload-identity""#;
    let cert = "certificate_file = \"keys/certificate.pem\"\nprivate_key_file = \"keys/private-key.pem\"\nscope = \"api://sap-ias/.default\"";
    let config = load(&dir, &[(8, wi), (9, head), (10, cert)]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        config.source.auth,
        AuthConfig::WorkloadIdentity {
            ias_url: "https://t.accounts.ondemand.com".into(),
            client_id: "ias-client".into(),
            dependency: "SF-EC".into(),
            assertion: AssertionSource::Entra {
                tenant_id: "contoso-tenant".into(),
                client_id: "entra-app".into(),
                certificate_file: Some(dir.join("keys/certificate.pem")),
                private_key_file: Some(dir.join("keys/private-key.pem")),
                federated_token_file: None,
                login_url: "https://login.microsoftonline.com".into(),
                scope: "api://sap-ias/.default".into(),
            },
        }
    );
    let provider = config.source.client.token_provider.as_ref().expect("token provider");
    assert_eq!(
        provider.entra_token_url(),
        Some("https://login.microsoftonline.com/contoso-tenant/oauth2/v2.0/token")
    );

    let federated = "federated_token_file = \"token\"\nlogin_url = \"https://login.microsoftonline.us\"\nscope = \"api://sap-ias/.default\"";
    let config =
        load(&dir, &[(8, wi), (9, head), (10, federated)]).unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(
        &config.source.auth,
        AuthConfig::WorkloadIdentity { assertion: AssertionSource::Entra { federated_token_file: Some(p), login_url, .. }, .. }
            if p == &dir.join("token") && login_url == "https://login.microsoftonline.us"
    ));

    let file = dir.join("hrsync.toml").display().to_string();
    let cases = [
        (
            "scope without /.default",
            "federated_token_file = \"token\"\nscope = \"api://sap-ias\"",
            "source.auth.assertion.scope",
            "/.default",
        ),
        (
            "no credential",
            "scope = \"api://sap-ias/.default\"",
            "source.auth.assertion",
            "missing the app's credential",
        ),
        (
            "certificate without key",
            "certificate_file = \"keys/certificate.pem\"\nscope = \"api://sap-ias/.default\"",
            "source.auth.assertion.private_key_file",
            "needs private_key_file",
        ),
        (
            "both credentials",
            "federated_token_file = \"token\"\ncertificate_file = \"keys/certificate.pem\"\nprivate_key_file = \"keys/private-key.pem\"\nscope = \"a/.default\"",
            "source.auth.assertion.federated_token_file",
            "not both",
        ),
        (
            "missing certificate file",
            "certificate_file = \"nope.pem\"\nprivate_key_file = \"keys/private-key.pem\"\nscope = \"a/.default\"",
            "source.auth.assertion.certificate_file",
            "cannot read certificate file",
        ),
        (
            "inline secret",
            "client_secret = \"x\"\nscope = \"a/.default\"",
            "source.auth.assertion.client_secret",
            "not accepted",
        ),
    ];
    let mut failures = Vec::new();
    for (name, block, field, cause) in cases {
        match load(&dir, &[(8, wi), (9, head), (10, block)]) {
            Ok(_) => failures.push(format!("{name}: loaded")),
            Err(e) => {
                let text = e.to_string();
                let located = text.starts_with(&format!("{file}:"))
                    && text.contains(&format!("field `{field}`"));
                if !(located && text.contains(cause)) {
                    failures.push(format!(
                        "{name}: expected {file}:LINE:COL field `{field}` … {cause}, got {text}"
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
