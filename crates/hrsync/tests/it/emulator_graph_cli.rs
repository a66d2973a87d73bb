//! `hrsync emulator-graph` as a process: it prints its base and token URLs,
//! serves `/v1.0/users` (a user created and read back), needs a bearer once
//! an app is registered, refuses writes beyond `--write-limit`, and refuses
//! bad flags with an error, not a panic.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_hrsync");

/// A running `hrsync emulator-graph`, stopped on drop.
struct Double {
    child: Child,
    banner: String,
    base: String,
}

impl Drop for Double {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts it on a free port and reads the banner up to its admin line.
fn start(args: &[&str], env: &[(&str, &str)]) -> Double {
    let mut cmd = Command::new(BIN);
    cmd.arg("emulator-graph")
        .args(["--listen", "127.0.0.1:0"])
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("run hrsync emulator-graph");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let banner = read_banner(&rx, &mut child);
    let base = banner
        .lines()
        .find_map(|l| l.split(" at ").nth(1))
        .and_then(|u| u.strip_suffix("/v1.0/"))
        .unwrap_or_else(|| panic!("no base URL in the banner:\n{banner}"))
        .to_owned();
    Double { child, banner, base }
}

fn read_banner(rx: &Receiver<String>, child: &mut Child) -> String {
    let mut out = String::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(line) => {
                out.push_str(&line);
                out.push('\n');
                if line.starts_with("admin:") {
                    break;
                }
            }
            Err(RecvTimeoutError::Timeout) => {
                if child.try_wait().ok().flatten().is_some() {
                    break;
                }
            }
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }
    out
}

fn user(nick: &str) -> Value {
    json!({
        "accountEnabled": true,
        "displayName": "Ana Müller",
        "mailNickname": nick,
        "userPrincipalName": format!("{nick}@contoso.com"),
        "employeeId": "103208",
        "passwordProfile": {"password": "Xy7!long-enough-pass", "forceChangePasswordNextSignIn": true},
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creates_and_reads_a_user_without_auth() {
    let d = start(&["--domain", "contoso.com"], &[]);
    assert!(d.banner.contains("(not Microsoft Graph)"), "{}", d.banner);
    assert!(d.banner.contains(&format!("token: {}/{{tenant}}/oauth2/v2.0/token", d.base)));
    assert!(d.banner.contains("verified domains: contoso.com"), "{}", d.banner);
    assert!(d.banner.contains("/v1.0 needs no bearer token"), "{}", d.banner);
    let http = reqwest::Client::new();
    let created = http
        .post(format!("{}/v1.0/users", d.base))
        .json(&user("Ana.Muller"))
        .send()
        .await
        .expect("POST /v1.0/users");
    assert_eq!(created.status().as_u16(), 201);
    let body: Value = created.json().await.expect("JSON");
    let id = body["id"].as_str().expect("an id").to_owned();
    assert_eq!(body["userPrincipalName"], json!("Ana.Muller@contoso.com"));
    assert!(body["passwordProfile"].get("password").is_none(), "never echoed: {body}");

    let found: Value = http
        .get(format!("{}/v1.0/users?$filter=employeeId%20eq%20%27103208%27", d.base))
        .send()
        .await
        .expect("GET by employeeId")
        .json()
        .await
        .expect("JSON");
    assert_eq!(found["value"][0]["id"], json!(id), "{found}");

    // Graph's rules: a domain the tenant has not verified is refused.
    let mut other = user("Bo.Berg");
    other["userPrincipalName"] = json!("Bo.Berg@example.org");
    let refused = http.post(format!("{}/v1.0/users", d.base)).json(&other).send().await;
    assert_eq!(refused.expect("POST").status().as_u16(), 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registered_app_needs_a_token_and_the_write_limit_holds() {
    let d = start(
        &[
            "--domain",
            "contoso.com",
            "--app-secret",
            "app-1=HRSYNC_TEST_GRAPH_SECRET",
            "--write-limit",
            "1",
        ],
        &[("HRSYNC_TEST_GRAPH_SECRET", "Graph-Test-S3cret")],
    );
    assert!(!d.banner.contains("Graph-Test-S3cret"), "{}", d.banner);
    assert!(d.banner.contains("apps: app-1 (secret from $HRSYNC_TEST_GRAPH_SECRET)"));
    assert!(d.banner.contains("write limit: 1 writes per 150 s"), "{}", d.banner);
    let http = reqwest::Client::new();
    let users = format!("{}/v1.0/users", d.base);
    let anonymous = http.post(&users).json(&user("Ana.Muller")).send().await.expect("POST");
    assert_eq!(anonymous.status().as_u16(), 401);

    let token: Value = http
        .post(format!("{}/contoso/oauth2/v2.0/token", d.base))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "app-1"),
            ("client_secret", "Graph-Test-S3cret"),
            ("scope", "https://graph.microsoft.com/.default"),
        ])
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("JSON");
    let bearer = token["access_token"].as_str().expect("access_token").to_owned();
    let first = http
        .post(&users)
        .bearer_auth(&bearer)
        .json(&user("Ana.Muller"))
        .send()
        .await
        .expect("POST");
    assert_eq!(first.status().as_u16(), 201);
    let second =
        http.post(&users).bearer_auth(&bearer).json(&user("Bo.Berg")).send().await.expect("POST");
    assert_eq!(second.status().as_u16(), 429);
    assert!(second.headers().contains_key("retry-after"));
}

#[test]
fn bad_flags_are_errors_not_panics() {
    for (args, want) in [
        (
            vec!["--app-secret", "app-1=HRSYNC_TEST_GRAPH_UNSET_VAR"],
            "HRSYNC_TEST_GRAPH_UNSET_VAR is not set",
        ),
        (vec!["--app-certificate", "app-1"], "expected CLIENT_ID=PEM_PATH"),
        (vec!["--write-limit", "0"], "--write-limit 0"),
    ] {
        let out = Command::new(BIN)
            .arg("emulator-graph")
            .args(["--listen", "127.0.0.1:0"])
            .args(&args)
            .env_remove("HRSYNC_TEST_GRAPH_UNSET_VAR")
            .output()
            .expect("run hrsync emulator-graph");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.code().is_some_and(|c| c != 0 && c != 101), "{args:?}: {stderr}");
        assert!(stderr.contains(want), "{args:?}: {stderr}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_app_from_hrsync_keys_is_registered() {
    let dir = hrsync_testkit::TempDir::new("emulator-graph-cert");
    let keys = dir.0.join("keys");
    let out = Command::new(BIN)
        .args(["keys", "generate", "--out"])
        .arg(&keys)
        .output()
        .expect("run hrsync keys generate");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let cert = keys.join("certificate.pem");
    let flag = format!("app-2={}", cert.display());
    let d = start(&["--app-certificate", &flag], &[]);
    assert!(d.banner.contains("apps: app-2 (certificate "), "{}", d.banner);
    assert!(d.banner.contains("verified domains: contoso.example"), "{}", d.banner);
    let anonymous =
        reqwest::Client::new().get(format!("{}/v1.0/users", d.base)).send().await.expect("GET");
    assert_eq!(anonymous.status().as_u16(), 401);
}
