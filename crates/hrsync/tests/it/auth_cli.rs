//! The OAuth methods through the command line: a config file with
//! `saml-bearer` or `workload-identity` against an emulator that accepts only
//! bearer tokens; `hrsync check` prints every auth step and, for a broken
//! trust set-up, exits 1 with the admin explanation; `hrsync sync --full`
//! provisions with tokens and logs no secret even at TRACE.

use crate::common;

use std::path::Path;

use common::{TempDir, hrsync, text, write_config};
use hrsync_sf_auth::keys::{self, GeneratedKeys, Validity};
use secrecy::ExposeSecret;
use sf_emulator::oauth::{IasTrust, OAuthClient, OAuthConfig};
use sf_emulator::{Emulator, RunningEmulator};

const SF_CLIENT: &str = "HRSYNC-KEY";
const IAS_CLIENT: &str = "ias-client";
const ISSUER: &str = "https://hrsync.example";
const SUBJECT: &str = "hrsync";
const IAS_AUDIENCE: &str = "https://ias.example";

const BASIC_BLOCK: &str = "[source.auth]\nmethod = \"basic\"\nusername = \"sfapi\"\npassword_env = \"HRSYNC_TEST_SF_PASSWORD\"\n";

/// Keys in `<dir>/keys` and an emulator trusting them for both methods, with basic auth off.
async fn setup(dir: &Path) -> (GeneratedKeys, RunningEmulator) {
    let generated = keys::generate("hrsync", Validity::years_from_today(1)).expect("generate keys");
    keys::write(&dir.join("keys"), &generated).expect("write keys");
    let oauth = OAuthConfig {
        clients: vec![OAuthClient {
            client_id: SF_CLIENT.into(),
            company_id: sf_emulator::DEFAULT_COMPANY_ID.into(),
            certificate_pem: generated.certificate_pem.clone(),
        }],
        ias: vec![IasTrust {
            jwks_uri: None,
            client_id: IAS_CLIENT.into(),
            issuer: ISSUER.into(),
            jwks: generated.jwks.to_string(),
            subject: SUBJECT.into(),
            audience: IAS_AUDIENCE.into(),
        }],
        oidc_mappings: vec![(IAS_CLIENT.into(), sf_emulator::DEFAULT_USERNAME.into())],
        ..OAuthConfig::default()
    };
    let emu = Emulator::builder()
        .workers(40)
        .seed(11)
        .basic_auth(false)
        .oauth(oauth)
        .start()
        .await
        .expect("emulator");
    (generated, emu)
}

fn saml_block(client_id: &str) -> String {
    format!(
        "[source.auth]\nmethod = \"saml-bearer\"\nclient_id = \"{client_id}\"\nuser_id = \"{}\"\nprivate_key_file = \"keys/{}\"\ncertificate_file = \"keys/{}\"\n",
        sf_emulator::DEFAULT_USERNAME,
        keys::PRIVATE_KEY_FILE,
        keys::CERTIFICATE_FILE
    )
}

fn workload_block(ias_url: &str, key_id: &str, audience: &str) -> String {
    format!(
        "[source.auth]\nmethod = \"workload-identity\"\nias_url = \"{ias_url}\"\nclient_id = \"{IAS_CLIENT}\"\ndependency = \"SF-EC-TA\"\n\
         [source.auth.assertion]\ntype = \"self-signed\"\nprivate_key_file = \"keys/{}\"\nkey_id = \"{key_id}\"\nissuer = \"{ISSUER}\"\nsubject = \"{SUBJECT}\"\naudience = \"{audience}\"\n",
        keys::PRIVATE_KEY_FILE
    )
}

/// The shared CLI test config with its basic auth block replaced.
fn write_oauth_config(dir: &Path, base_url: &str, auth_block: &str) -> std::path::PathBuf {
    let path = write_config(dir, base_url, 10);
    let basic = std::fs::read_to_string(&path).expect("read config");
    let oauth = basic.replace(BASIC_BLOCK, auth_block);
    assert_ne!(oauth, basic, "the basic auth block was found and replaced");
    std::fs::write(&path, oauth).expect("write config");
    path
}

async fn run(
    config: &Path,
    args: &'static [&'static str],
    env: Vec<(&'static str, String)>,
) -> std::process::Output {
    let config = config.to_owned();
    tokio::task::spawn_blocking(move || hrsync(&config, args, &env)).await.expect("task")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_and_sync_with_each_oauth_method() {
    for method in ["saml-bearer", "workload-identity"] {
        let dir = TempDir::new(&format!("auth-{method}"));
        let (generated, emu) = setup(&dir.0).await;
        let block = match method {
            "saml-bearer" => saml_block(SF_CLIENT),
            _ => workload_block(&emu.base_url(), &generated.key_id, IAS_AUDIENCE),
        };
        let config = write_oauth_config(&dir.0, &emu.base_url(), &block);

        let check = run(&config, &["check"], vec![]).await;
        assert!(check.status.success(), "{method}: {}", text(&check));
        let out = String::from_utf8_lossy(&check.stdout).to_string();
        let steps: &[&str] = match method {
            "saml-bearer" => {
                &["sign SAML assertion and get an access token", "call OData PerPerson?$top=1"]
            }
            _ => &[
                "obtain AT1",
                "exchange AT1 for AT2 at SAP Cloud Identity Service",
                "call OData PerPerson?$top=1",
            ],
        };
        for step in steps {
            let line = out
                .lines()
                .find(|l| l.contains(step))
                .unwrap_or_else(|| panic!("{method}: no step {step:?}:\n{out}"));
            assert!(
                line.starts_with(&format!("ok   SuccessFactors auth ({method}): ")),
                "{method}: {line}"
            );
            assert!(line.contains(" ms)"), "{method}: step timing: {line}");
        }
        assert!(!out.contains("FAIL"), "{method}: {out}");
        assert!(
            out.contains("ok   SuccessFactors OData read PerPerson"),
            "{method}: engine client read: {out}"
        );
        assert!(out.contains("target"), "{method}: the target check still runs: {out}");
        let odata =
            emu.requests().into_iter().filter(|r| r.url.contains("/odata/v2/")).collect::<Vec<_>>();
        assert!(
            !odata.is_empty() && odata.iter().all(|r| r.status == 200),
            "{method}: OData calls with bearer tokens: {odata:?}"
        );

        let sync = run(&config, &["sync", "--full"], vec![("HRSYNC_LOG", "trace".into())]).await;
        assert!(sync.status.success(), "{method}: {}", text(&sync));
        let accounts = common::snapshot(&dir.0);
        let active = &emu.scenarios()[&sf_emulator::model::Scenario::Active];
        assert!(
            !active.is_empty() && active.iter().all(|p| accounts.contains_key(p)),
            "{method}: every active worker provisioned ({} accounts)",
            accounts.len()
        );

        // What could leak: the private key, assertions and tokens. The
        // emulator's tokens are 43 random base64url characters, assertions
        // and IAS tokens base64url too: no long mixed-case alphanumeric run
        // may appear at all.
        let key_lines: Vec<String> = generated
            .private_key_pem
            .expose_secret()
            .lines()
            .filter(|l| !l.starts_with("-----") && l.len() > 20)
            .map(str::to_owned)
            .collect();
        let logs = String::from_utf8_lossy(&sync.stderr).to_string()
            + &String::from_utf8_lossy(&sync.stdout);
        assert!(
            logs.contains("TRACE") || logs.contains("DEBUG"),
            "{method}: trace logging is on: {}",
            text(&sync)
        );
        for line in &key_lines {
            assert!(
                !logs.contains(line.as_str()),
                "{method}: private key text is in the sync output"
            );
        }
        let suspicious = token_like(&logs);
        assert!(
            suspicious.is_empty(),
            "{method}: token-like text in the sync output: {suspicious:?}"
        );
        for marker in
            ["PRIVATE KEY", "access_token", "client_assertion=", "Bearer ey", "PHNhbWw", "PD94bWw"]
        {
            assert!(!logs.contains(marker), "{method}: `{marker}` is in the sync output");
        }
        emu.shutdown().await;
    }
}

/// Runs of base64url characters long enough to be a token, assertion or key,
/// with upper case, lower case and digits (hex digests and names have not).
/// OData paging skiptokens (base64 of the next page's position) are not secrets.
fn token_like(text: &str) -> Vec<&str> {
    let not_word =
        |c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '+' || c == '/');
    let skiptokens: Vec<&str> =
        text.split("skiptoken=").skip(1).filter_map(|rest| rest.split(not_word).next()).collect();
    text.split(not_word)
        .filter(|w| {
            w.len() >= 32
                && !skiptokens.contains(w)
                && w.chars().any(|c| c.is_ascii_uppercase())
                && w.chars().any(|c| c.is_ascii_lowercase())
                && w.chars().any(|c| c.is_ascii_digit())
        })
        .collect()
}

#[test]
fn token_like_finds_tokens_and_spares_ordinary_text() {
    let log = "GET http://127.0.0.1:4000/odata/v2/PerPerson?$skiptoken=eyJzdGFydFJvdyI6MTAsImVuZFJvdyI6MjAsInNuYXBzaG90SWQiOjF9 authorization=Bearer q3J9xLkP0_aZ-7VbN2mR8tYwE4uI6oH1sD5fG3jK9lQ \
               digest=9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 TLS13_AES_256_GCM_SHA384 userPrincipalName";
    assert_eq!(token_like(log), vec!["q3J9xLkP0_aZ-7VbN2mR8tYwE4uI6oH1sD5fG3jK9lQ"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_trust_fails_check_with_the_explanation() {
    let dir = TempDir::new("auth-broken");
    let (generated, emu) = setup(&dir.0).await;
    let cases = [
        (
            "unknown SuccessFactors client",
            saml_block("NO-SUCH-KEY"),
            "sign SAML assertion and get an access token",
            "The client id is not registered",
        ),
        (
            "wrong JWT audience",
            workload_block(&emu.base_url(), &generated.key_id, "https://elsewhere.example"),
            "exchange AT1 for AT2 at SAP Cloud Identity Service",
            "The subject or audience of the token (AT1) does not match the trust rule",
        ),
    ];
    for (name, block, step, explanation) in cases {
        let config = write_oauth_config(&dir.0, &emu.base_url(), &block);
        let check = run(&config, &["check"], vec![]).await;
        assert_eq!(check.status.code(), Some(1), "{name}: {}", text(&check));
        let out = String::from_utf8_lossy(&check.stdout).to_string();
        let lines: Vec<&str> = out.lines().collect();
        let failed = lines
            .iter()
            .position(|l| l.starts_with("FAIL SuccessFactors auth") && l.contains(step));
        let Some(i) = failed else { panic!("{name}: no failed step {step:?}:\n{out}") };
        assert!(lines[i].contains(" ms)"), "{name}: step timing: {}", lines[i]);
        let next = lines.get(i + 1).copied().unwrap_or_default();
        assert!(
            next.starts_with("     what to check: ") && next.contains(explanation),
            "{name}: explanation after the step:\n{out}"
        );
        assert!(
            !out.contains("call OData PerPerson?$top=1 ("),
            "{name}: the flow stops at the failed step:\n{out}"
        );
        assert!(out.contains("target"), "{name}: the target check still runs: {out}");
    }
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn switching_the_auth_method_keeps_the_state_and_watermark() {
    let dir = TempDir::new("auth-switch");
    let (generated, emu) = setup(&dir.0).await;
    let config = write_oauth_config(&dir.0, &emu.base_url(), &saml_block(SF_CLIENT));
    let full = run(&config, &["sync", "--full"], vec![]).await;
    assert!(full.status.success(), "{}", text(&full));
    let before = common::snapshot(&dir.0);

    // Same state and target, now with workload identity.
    let config = write_oauth_config(
        &dir.0,
        &emu.base_url(),
        &workload_block(&emu.base_url(), &generated.key_id, IAS_AUDIENCE),
    );
    emu.clear_requests();
    let next = run(&config, &["sync", "--json"], vec![]).await;
    assert!(next.status.success(), "{}", text(&next));
    let report: serde_json::Value = serde_json::from_slice(&next.stdout).expect("report JSON");
    assert_eq!(report["kind"], "incremental", "no full resync after switching: {report}");
    assert_eq!(report["workers"], 0, "{report}");
    let odata: Vec<String> = emu
        .requests()
        .into_iter()
        .filter(|r| r.url.contains("/odata/v2/"))
        .map(|r| r.url)
        .collect();
    assert_eq!(odata.len(), 1, "one $count probe: {odata:?}");
    assert_eq!(common::snapshot(&dir.0), before);
    emu.shutdown().await;
}
