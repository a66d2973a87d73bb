//! The typed output: values, defaults, resolved paths and secrets. These
//! configs use only default-value mappings, so no expression is parsed.

use crate::common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;
use hrsync_config::{
    AccountStatusSource, Actions, Config, EmbeddedConfig, MappingOrigin, TargetConfig,
};
use hrsync_source_sf::Credentials;
use secrecy::ExposeSecret;

fn password(config: &Config) -> String {
    match &config.source.client.credentials {
        Credentials::Basic { password, .. } => password.expose_secret().to_owned(),
    }
}

#[test]
fn base_config_loads_with_values_and_defaults() {
    let config = parse(BASE).expect("base config loads");
    assert_eq!(config.source.client.base_url, "https://api4.successfactors.com");
    assert_eq!(config.source.company_id, "ACME");
    assert_eq!(config.source.page_size, 500);
    assert_eq!(config.target_concurrency, 32, "default target concurrency");
    assert_eq!(config.source.client.timeout, Duration::from_secs(120));
    assert!(!config.source.client.danger_accept_invalid_certs, "TLS verification is on by default");
    match &config.source.client.credentials {
        Credentials::Basic { username, company_id, .. } => {
            assert_eq!((username.as_str(), company_id.as_str()), ("sfapi", "ACME"))
        }
    }
    assert_eq!(password(&config), PASSWORD);
    match &config.target {
        TargetConfig::Embedded(EmbeddedConfig { path, unique }) => {
            assert_eq!(path, &PathBuf::from("/etc/hrsync/target.sqlite"));
            assert!(unique.is_empty(), "{unique:?}");
        }
        other => panic!("embedded target expected: {other:?}"),
    }
    assert_eq!(config.flow.origin, MappingOrigin::Inline);
    assert_eq!(config.flow.compiled.mappings().len(), 1);
    assert_eq!(config.flow.time_zone.iana_name(), Some("Europe/Berlin"));
    assert_eq!(
        config.flow.actions,
        Actions { create: true, update: true, disable: true, delete: false }
    );
    assert_eq!(config.flow.prehire_lead_days, 14);
    assert!(config.flow.onboarding_prehires, "Onboarding 2.0 pre-hires are processed by default");
    assert_eq!(config.flow.account_status, AccountStatusSource::ActiveEmploymentsCount);
    assert_eq!(config.guard.max_count, 500);
    assert_eq!(config.guard.max_share, 0.2);
    assert_eq!(config.escrow.first_retry, Duration::from_secs(60));
    assert_eq!(config.escrow.max_retry, Duration::from_secs(6 * 3600));
    assert_eq!(config.escrow.flag_after, 10);
    assert_eq!(config.schedule.interval, Duration::from_secs(60));
    assert_eq!(config.state.path, PathBuf::from("/etc/hrsync/hrsync-state.sqlite"));
}

#[test]
fn every_setting_is_read() {
    let text = format!(
        "{BASE}\n[guard]\nmax_count = 7\nmax_share = 0.05\n[schedule]\ninterval = \"1h 30m\"\n[state]\npath = \"/var/lib/hrsync/state.sqlite\"\n"
    )
    .replace("actions = [\"create\", \"update\", \"disable\"]", "actions = [\"delete\", \"update\"]\nprehire_lead_days = 0\nonboarding_prehires = false\naccount_status = \"emplStatus\"")
    .replace("url = \"https://api4.successfactors.com\"", "url = \"http://127.0.0.1:18080\"\ntls_verify = false")
    .replace("timeout = \"120s\"", "timeout = \"PT90S\"")
    .replace("path = \"target.sqlite\"", "path = \"target.sqlite\"\nunique = [\"mail\"]");
    let config = parse(&text).expect("loads");
    assert_eq!(config.source.client.base_url, "http://127.0.0.1:18080");
    assert!(config.source.client.danger_accept_invalid_certs);
    assert_eq!(config.source.client.timeout, Duration::from_secs(90));
    assert_eq!(
        config.flow.actions,
        Actions { create: false, update: true, disable: false, delete: true }
    );
    assert_eq!(config.flow.prehire_lead_days, 0);
    assert!(!config.flow.onboarding_prehires);
    assert_eq!(config.flow.account_status, AccountStatusSource::EmplStatus);
    assert_eq!((config.guard.max_count, config.guard.max_share), (7, 0.05));
    assert_eq!(config.schedule.interval, Duration::from_secs(90 * 60));
    assert_eq!(config.state.path, PathBuf::from("/var/lib/hrsync/state.sqlite"));
    match &config.target {
        TargetConfig::Embedded(EmbeddedConfig { path, unique }) => {
            assert_eq!(path, &PathBuf::from("/etc/hrsync/target.sqlite"));
            assert_eq!(unique, &["mail".to_owned()]);
        }
        other => panic!("embedded target expected: {other:?}"),
    }
}

/// A complete LDAP connection on lines 13-21 of `BASE` (replacing kind and
/// path), followed by `extra` lines.
fn ldap_lines(extra: &str) -> String {
    let conn = format!(
        "[target.connection]\nurl = \"ldaps://dc1.example.com\"\nbind_dn = \"CN=svc,DC=example,DC=com\"\npassword_env = \"{PASSWORD_VAR}\"\nbase_dn = \"DC=example,DC=com\"\nprofile = \"active-directory\"{extra}"
    );
    with_lines(&[(13, "kind = \"ldap\""), (14, &conn)])
}

#[test]
fn ldap_connection_is_read_into_the_typed_ldap_config() {
    let text = ldap_lines(
        "\ndefault_container = \"OU=Users,DC=example,DC=com\"\npool_size = 3\ndisable_unused = 1",
    );
    // An unknown key is an error at its line, as everywhere else (see errors.rs).
    let msg = parse(&text).expect_err("an unknown key stops loading").to_string();
    assert!(msg.contains("field `target.connection.disable_unused`: unknown field"), "{msg}");
    let dir = temp_dir("ldap-typed");
    let text = ldap_lines(
        "\ndefault_container = \"OU=Users,DC=example,DC=com\"\npool_size = 3\nstarttls = false\ntls_verify = true",
    );
    std::fs::write(dir.join("hrsync.toml"), &text).expect("write config");
    let config = common::load(dir.join("hrsync.toml")).expect("loads");
    let TargetConfig::Ldap(ldap) = &config.target else { panic!("ldap: {:?}", config.target) };
    assert_eq!(ldap.url, "ldaps://dc1.example.com");
    assert_eq!(ldap.base_dn, "DC=example,DC=com");
    assert_eq!(ldap.default_container.as_deref(), Some("OU=Users,DC=example,DC=com"));
    assert_eq!(ldap.pool_size, 3);
    assert_eq!(ldap.password.expose_secret(), PASSWORD, "the secret is handed over typed");
    assert_eq!(ldap.in_flight_per_connection, 4, "defaults as before");
    assert!(!format!("{config:?}").contains(PASSWORD), "Debug never shows the secret");
}

/// A SCIM connection is read into the typed SCIM config (it used to be
/// kept as written, as a planned kind): the token from `token_env`, the
/// OAuth client secret from `client_secret_env`, and the target builds.
#[test]
fn scim_connection_is_read_into_the_typed_scim_config() {
    let text = with_lines(&[
        (13, "kind = \"scim\""),
        (
            14,
            &format!(
                "connection = {{ url = \"https://scim.example.com/v2\", token_env = \"{PASSWORD_VAR}\", concurrency = 2, rate_limit = 10.0 }}"
            ),
        ),
    ]);
    let config = parse(&text).expect("loads");
    let TargetConfig::Scim(c) = &config.target else { panic!("scim: {:?}", config.target) };
    assert_eq!(c.token.as_ref().map(|t| t.expose_secret().to_owned()).as_deref(), Some(PASSWORD));
    assert_eq!((c.concurrency, c.rate_limit), (2, Some(10.0)));
    assert!(!format!("{config:?}").contains(PASSWORD), "Debug never shows the token");
    hrsync_targets::build(&config.target, &hrsync_targets::BuildContext::default())
        .unwrap_or_else(|e| panic!("scim builds: {e}"));
    let oauth = text.replace(
        &format!("token_env = \"{PASSWORD_VAR}\""),
        &format!("method = \"oauth2\", token_url = \"https://login.example.com/token\", client_id = \"app\", client_secret_env = \"{PASSWORD_VAR}\""),
    );
    let config = parse(&oauth).expect("oauth2 loads");
    let TargetConfig::Scim(c) = &config.target else { panic!("scim") };
    assert_eq!(
        c.client_secret.as_ref().map(|t| t.expose_secret().to_owned()).as_deref(),
        Some(PASSWORD)
    );
    assert!(c.token.is_none());
}

#[test]
fn password_file_is_read_relative_to_the_config_and_trimmed() {
    let dir = temp_dir("password-file");
    std::fs::write(dir.join("sf-password"), format!("{PASSWORD}\n")).expect("write secret");
    let text = with_lines(&[(10, "password_file = \"sf-password\"")]);
    std::fs::write(dir.join("hrsync.toml"), &text).expect("write config");
    let config = common::load(dir.join("hrsync.toml")).expect("loads");
    assert_eq!(password(&config), PASSWORD);
    assert_eq!(config.path, dir.join("hrsync.toml"));
    assert_eq!(config.state.path, dir.join("hrsync-state.sqlite"));

    std::fs::write(dir.join("sf-password"), "\n").expect("write empty secret");
    let errs = common::load(dir.join("hrsync.toml")).expect_err("empty secret");
    assert!(
        errs.to_string().contains("field `source.auth.password_file`: password file"),
        "{errs}"
    );
    assert!(errs.to_string().contains("is empty"), "{errs}");
}

#[test]
fn debug_output_never_shows_the_password() {
    let config = parse(BASE).expect("loads");
    let debug = format!("{config:?}");
    assert!(!debug.contains(PASSWORD), "Debug shows the password");
    assert!(debug.contains("sfapi"), "Debug still shows the username: {debug}");
    let pretty = format!("{config:#?}");
    assert!(!pretty.contains(PASSWORD));
}

#[test]
fn an_env_var_and_a_file_are_exclusive() {
    let text = with_lines(&[(
        10,
        "password_env = \"HRSYNC_CONFIG_TEST_PASSWORD\"\npassword_file = \"x\"",
    )]);
    let errs = errors(&text);
    assert_eq!(
        errs.to_string(),
        "/etc/hrsync/hrsync.toml:11:1: field `source.auth.password_file`: give exactly one of `password_env` and `password_file`"
    );
}

#[test]
fn config_parse_uses_the_origin_for_messages_and_paths() {
    let config = common::parse_at(BASE, Path::new("relative/dir/cfg.toml")).expect("loads");
    assert_eq!(config.state.path, PathBuf::from("relative/dir/hrsync-state.sqlite"));
    let errs =
        common::parse_at(&with_lines(&[(4, "page_size = 0")]), Path::new("relative/dir/cfg.toml"))
            .expect_err("bad");
    assert!(
        errs.to_string().starts_with("relative/dir/cfg.toml:4:13: field `source.page_size`"),
        "{errs}"
    );
}

#[test]
fn target_connection_secret_comes_from_env_or_file_never_inline() {
    let ldap = |conn: &str| {
        with_lines(&[
            (13, "kind = \"ldap\""),
            (
                14,
                &format!(
                    "connection = {{ url = \"ldaps://dc1.example.com\", bind_dn = \"CN=svc,DC=x\", base_dn = \"DC=x\", profile = \"active-directory\", {conn} }}"
                ),
            ),
        ])
    };
    let config = parse(&ldap(&format!("password_env = \"{PASSWORD_VAR}\""))).expect("loads");
    match &config.target {
        TargetConfig::Ldap(l) => assert_eq!(l.password.expose_secret(), PASSWORD),
        other => panic!("ldap with a password expected: {other:?}"),
    }
    assert!(!format!("{config:?}").contains(PASSWORD), "Debug never shows the secret");

    let inline = errors(&ldap(&format!("password = \"{PASSWORD}\"")));
    let msg = inline
        .errors()
        .iter()
        .map(ToString::to_string)
        .find(|m| m.contains("target.connection.password"))
        .expect("inline password refused");
    assert!(msg.contains(":14:") && msg.contains("inline passwords are not accepted"), "{msg}");
    assert!(!msg.contains(PASSWORD), "{msg}");

    let unset = errors(&ldap("password_env = \"HRSYNC_CONFIG_TEST_UNSET_VAR\""));
    let msg = unset
        .errors()
        .iter()
        .map(ToString::to_string)
        .find(|m| m.contains("target.connection.password_env"))
        .expect("unset variable named");
    assert!(
        msg.contains(":14:") && msg.contains("HRSYNC_CONFIG_TEST_UNSET_VAR` is not set"),
        "{msg}"
    );
}

#[test]
fn target_concurrency_is_read_and_bounded() {
    let config =
        parse(&with_lines(&[(14, "path = \"target.sqlite\"\nconcurrency = 4")])).expect("loads");
    assert_eq!(config.target_concurrency, 4);
    let errs = common::parse_at(
        &with_lines(&[(14, "path = \"target.sqlite\"\nconcurrency = 0")]),
        Path::new("cfg.toml"),
    )
    .expect_err("0 is refused");
    assert!(errs.to_string().starts_with("cfg.toml:15:15: field `target.concurrency`"), "{errs}");
    assert!(errs.to_string().contains("out of range 1..=256"), "{errs}");
}
