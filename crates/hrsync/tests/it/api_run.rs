//! `hrsync run` with an `[api]` section, the real binary against the
//! emulator: tokens made with `hrsync api-token`, `/api/v1/flows` showing
//! the flow after its first cycle, a revoked token refused at once, and the
//! `[api]` config errors (plain HTTP off loopback) named by file:line:field.

use crate::common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{BIN, TempDir, hrsync, text, write_config};
use sf_emulator::Emulator;

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

fn with_api(config: &Path, api: &str) {
    let mut text = std::fs::read_to_string(config).expect("read config");
    text.push_str("\n[api]\n");
    text.push_str(api);
    std::fs::write(config, text).expect("write config");
}

fn token(config: &Path, role: &str, name: &str) -> String {
    let out = hrsync(config, &["api-token", "create", "--role", role, "--name", name], &[]);
    assert!(out.status.success(), "{}", text(&out));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_serves_the_flow_after_its_first_cycle() {
    let emu = Emulator::builder().workers(12).seed(5).start().await.expect("emulator");
    let dir = TempDir::new("api-run");
    let config = write_config(&dir.0, &emu.base_url(), 50);
    let port = free_port();
    with_api(&config, &format!("listen = \"127.0.0.1:{port}\"\n"));

    let viewer = token(&config, "viewer", "dash");
    assert!(viewer.starts_with("hrsync_"), "{viewer}");
    let gone = token(&config, "admin", "old");
    let operator = token(&config, "operator", "ops");
    let out = hrsync(&config, &["api-token", "revoke", "old"], &[]);
    assert!(out.status.success(), "{}", text(&out));
    let out = hrsync(&config, &["api-token", "list", "--json"], &[]);
    assert!(out.status.success(), "{}", text(&out));
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).expect("list JSON");
    assert_eq!(list.as_array().map(Vec::len), Some(3), "{list}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains(&viewer), "never the token");
    let file = dir.0.join("state.sqlite.api-tokens.json");
    let stored = std::fs::read_to_string(&file).expect("token file");
    assert!(!stored.contains(&viewer[7..]), "only hashes are stored");

    let mut child = Command::new(BIN)
        .args(["run", "--interval", "1h", "--config"])
        .arg(&config)
        .env("HRSYNC_TEST_SF_PASSWORD", sf_emulator::DEFAULT_PASSWORD)
        .env_remove("HRSYNC_CRASH_AFTER")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start hrsync run");
    let http = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().expect("client");
    let base = format!("http://127.0.0.1:{port}");
    let mut flows = serde_json::Value::Null;
    for _ in 0..400 {
        if let Ok(resp) = http.get(format!("{base}/api/v1/flows")).bearer_auth(&viewer).send().await
            && resp.status() == 200
        {
            flows = resp.json().await.unwrap_or_default();
            if flows["flows"][0]["last_cycle"]["status"] == "completed" {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let get = |path: &str, token: Option<&str>| {
        let mut req = http.get(format!("{base}{path}"));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send()
    };
    let healthz = get("/healthz", None).await.map(|r| r.status().as_u16());
    let readyz = get("/readyz", None).await.map(|r| r.status().as_u16());
    let revoked = get("/api/v1/flows", Some(&gone)).await.map(|r| r.status().as_u16());
    // An operator pauses and resumes the real runner; a viewer may not.
    let post =
        |path: &str, token: &str| http.post(format!("{base}{path}")).bearer_auth(token).send();
    let viewer_pause =
        post("/api/v1/flows/inbound/pause", &viewer).await.map(|r| r.status().as_u16());
    let paused = post("/api/v1/flows/inbound/pause", &operator).await.map(|r| r.status().as_u16());
    let paused_state = match get("/api/v1/flows", Some(&viewer)).await {
        Ok(r) => {
            r.json::<serde_json::Value>().await.unwrap_or_default()["flows"][0]["state"].clone()
        }
        Err(_) => serde_json::Value::Null,
    };
    let resumed =
        post("/api/v1/flows/inbound/resume", &operator).await.map(|r| r.status().as_u16());
    let metrics = match get("/metrics", None).await {
        Ok(r) => r.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    };
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let status = child.wait().expect("wait");
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        use std::io::Read as _;
        let _ = pipe.read_to_string(&mut stderr);
    }
    let f = &flows["flows"][0];
    assert_eq!(f["name"], "inbound", "{flows}\n{stderr}");
    assert_eq!(f["last_cycle"]["status"], "completed", "{flows}\n{stderr}");
    assert_eq!(f["last_cycle"]["kind"], "full", "the first cycle reads everything: {flows}");
    assert!(f["watermark"].is_string(), "{flows}");
    assert_eq!(f["next_run"]["why"], "interval", "{flows}");
    assert_eq!(f["escrow"]["count"], 0, "{flows}");
    assert_eq!(healthz.ok(), Some(200));
    assert_eq!(readyz.ok(), Some(200));
    assert_eq!(revoked.ok(), Some(401), "a revoked token is refused");
    assert_eq!(viewer_pause.ok(), Some(403), "a viewer may not pause");
    assert_eq!((paused.ok(), resumed.ok()), (Some(200), Some(200)));
    assert_eq!(paused_state, "paused");
    assert!(
        metrics
            .contains("hrsync_cycles_total{flow=\"inbound\",kind=\"full\",status=\"completed\"} 1"),
        "the runner counted the cycle:\n{metrics}"
    );
    assert!(
        metrics.contains(
            "hrsync_workers_total{flow=\"inbound\",action=\"create\",outcome=\"success\"} 12"
        ),
        "{metrics}"
    );
    assert!(status.success(), "{status:?}\n{stderr}");
    assert!(!stderr.contains(&viewer) && !stderr.contains(&operator), "a token is never logged");
    assert!(stderr.contains("API: flow paused.") && stderr.contains("by=ops"), "{stderr}");
}

#[test]
fn plain_http_off_loopback_is_a_config_error_at_its_line() {
    let dir = TempDir::new("api-config");
    let config = write_config(&dir.0, "http://127.0.0.1:9", 50);
    with_api(&config, "listen = \"0.0.0.0:8750\"\n");
    let line = std::fs::read_to_string(&config)
        .expect("read")
        .lines()
        .position(|l| l.starts_with("listen"))
        .map(|i| i + 1)
        .expect("listen line");
    let out = hrsync(&config, &["api-token", "list"], &[]);
    assert!(!out.status.success(), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("hrsync.toml:{line}:")), "{err}");
    assert!(err.contains("field `api.listen`") && err.contains("insecure_listen"), "{err}");

    // `insecure_listen = true` says it is on purpose.
    let config = write_config(&dir.0, "http://127.0.0.1:9", 50);
    with_api(&config, "listen = \"0.0.0.0:8750\"\ninsecure_listen = true\n");
    let out = hrsync(&config, &["api-token", "list"], &[]);
    assert!(out.status.success(), "{}", text(&out));

    // TLS files go in pairs and must exist.
    let config = write_config(&dir.0, "http://127.0.0.1:9", 50);
    with_api(&config, "tls_cert_file = \"cert.pem\"\n");
    let out = hrsync(&config, &["check"], &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("field `api.tls_cert_file`") && err.contains("tls_key_file"), "{err}");
    let config = write_config(&dir.0, "http://127.0.0.1:9", 50);
    with_api(&config, "listen = \"nowhere\"\n");
    let out = hrsync(&config, &["api-token", "list"], &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("field `api.listen`") && err.contains("nowhere"), "{err}");
}
