//! The API over a real loopback socket, against a SQLite state with two
//! cycles and their log: every route without a token, with a viewer's and
//! with a revoked one; bad filters, unknown ids and persons, huge pages,
//! cursor paging; `/metrics` open and behind a token, checked by promtool
//! when it is installed.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use hrsync_engine::cycle::CycleReport;
use hrsync_runner::{DriverError, FlowDriver, FlowSpec, Runner, RunnerHandle};
use hrsync_server::{AppState, FlowSource, Role, Server, ServerOptions, TokenStore};
use hrsync_store::{Action, CycleKind, CycleStatus, LogEntry, LogStatus, Outcome, Step, Store};
use hrsync_store_sqlite::{SqliteHistory, SqliteStore};
use hrsync_testkit::TempDir;
use jiff::Timestamp;
use serde_json::Value;

const SCOPE: &str = "successfactors:PerPerson";
const PEOPLE: usize = 30;

/// A flow whose engine runs nothing (every job fails); it drops escrow in
/// its own handle on the state, as the engine does.
struct Idle(Option<SqliteStore>);

#[async_trait(?Send)]
impl FlowDriver for Idle {
    async fn run_cycle(&mut self, _: CycleKind) -> Result<CycleReport, DriverError> {
        Err("not in this test".into())
    }
    async fn plan(&mut self, _: CycleKind, _: Option<&str>) -> Result<CycleReport, DriverError> {
        Err("not in this test".into())
    }
    async fn on_demand(&mut self, _: &str) -> Result<CycleReport, DriverError> {
        Err("not in this test".into())
    }
    fn next_wakeup(&self) -> Result<Option<Timestamp>, DriverError> {
        Ok(None)
    }
    fn drop_escrow(&mut self, person: &str) -> Result<bool, DriverError> {
        match &mut self.0 {
            Some(s) => Ok(s.drop_escrow(person)?),
            None => Ok(false),
        }
    }
}

fn t(s: i64) -> Timestamp {
    Timestamp::from_second(1_790_000_000 + s).unwrap_or(Timestamp::UNIX_EPOCH)
}

fn entry(person: &str, action: Action, status: LogStatus, at: Timestamp) -> LogEntry {
    LogEntry {
        id: 0,
        cycle_id: 0,
        person_id: person.into(),
        at,
        action,
        status,
        target_id: Some(format!("uid={person}")),
        steps: vec![Step {
            name: "import".into(),
            status: LogStatus::Success,
            detail: "read".into(),
        }],
        modified: vec![],
        error: (status == LogStatus::Failure)
            .then(|| "the directory said: constraint violation".into()),
    }
}

/// A state with a full cycle (PEOPLE creates, one failure) and an
/// incremental one (one update).
fn state(dir: &TempDir) -> (SqliteStore, i64, i64) {
    let mut s = SqliteStore::open(&dir.0.join("state.sqlite"), "inbound").expect("open");
    let c1 = s.begin_cycle(CycleKind::Full, None, t(0)).expect("begin");
    let mut outcomes: Vec<Outcome> = (0..PEOPLE)
        .map(|i| {
            let p = format!("1000{i:02}");
            Outcome {
                person_id: p.clone(),
                join: Default::default(),
                escrow: Default::default(),
                wakeups: Default::default(),
                log: Some(entry(&p, Action::Create, LogStatus::Success, t(1))),
            }
        })
        .collect();
    outcomes.push(Outcome {
        person_id: "999".into(),
        join: Default::default(),
        escrow: hrsync_store::Change::Set(hrsync_store::Escrow {
            person_id: "999".into(),
            attempts: 1,
            first_failed_at: t(1),
            last_failed_at: t(1),
            next_attempt_at: t(600),
            last_error: "constraint violation".into(),
            flagged: false,
        }),
        wakeups: Default::default(),
        log: Some(entry("999", Action::Failed, LogStatus::Failure, t(1))),
    });
    s.commit(c1, &outcomes).expect("commit");
    s.finish_cycle(
        c1,
        CycleStatus::CompletedWithErrors,
        &serde_json::json!({"create": PEOPLE, "failed": 1}),
        None,
        t(2),
        Some((SCOPE, t(0))),
    )
    .expect("finish");
    let c2 = s.begin_cycle(CycleKind::Incremental, Some((t(0), t(60))), t(60)).expect("begin 2");
    let update = Outcome {
        person_id: "100001".into(),
        join: Default::default(),
        escrow: Default::default(),
        wakeups: Default::default(),
        log: Some(entry("100001", Action::Update, LogStatus::Success, t(61))),
    };
    s.commit(c2, &[update]).expect("commit 2");
    s.finish_cycle(
        c2,
        CycleStatus::Completed,
        &serde_json::json!({"update": 1}),
        None,
        t(62),
        Some((SCOPE, t(60))),
    )
    .expect("finish 2");
    (s, c1, c2)
}

struct Api {
    base: String,
    http: reqwest::Client,
    tokens: TokenStore,
    c1: i64,
    c2: i64,
    _dir: TempDir,
    _runner: RunnerHandle,
}

impl Api {
    async fn get(&self, path: &str, token: Option<&str>) -> (u16, Value, String) {
        let mut req = self.http.get(format!("{}{path}", self.base));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        (status, json, text)
    }
}

/// The server on a free loopback port, with the runner on a local set.
async fn start(local: &tokio::task::LocalSet, metrics_token_required: bool) -> Api {
    let dir = TempDir::new("server-api");
    let (store, c1, c2) = state(&dir);
    let history = SqliteHistory::from(store);
    let writer = SqliteStore::open(&dir.0.join("state.sqlite"), "inbound").expect("writer");
    let (handle, runner) =
        Runner::new(vec![FlowSpec::new("inbound", Idle(Some(writer)))]).expect("runner");
    local.spawn_local(runner.run());
    let tokens = TokenStore::beside(&dir.0.join("state.sqlite"));
    let flows = vec![FlowSource {
        name: "inbound".into(),
        history: Arc::new(history),
        watermark_scope: SCOPE.into(),
    }];
    let metrics = hrsync_server::metrics_recorder().expect("recorder");
    let state =
        AppState::new(flows, handle.clone(), tokens.clone(), metrics, metrics_token_required);
    let options = ServerOptions {
        listen: "127.0.0.1:0".parse().expect("addr"),
        tls: None,
        metrics_token_required,
    };
    let server = Server::bind(&options, state).await.expect("bind");
    let base = format!("http://{}", server.local_addr().expect("addr"));
    tokio::spawn(server.run(std::future::pending()));
    let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().expect("client");
    Api { base, http, tokens, c1, c2, _dir: dir, _runner: handle }
}

fn error_code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("")
}

#[tokio::test]
async fn every_route_wants_a_live_token() {
    let local = tokio::task::LocalSet::new();
    local
        .run_until(async {
            let api = start(&local, false).await;
            let (viewer, _) =
                api.tokens.create(Role::Viewer, None, Timestamp::now()).expect("token");
            let (gone, _) =
                api.tokens.create(Role::Admin, Some("gone"), Timestamp::now()).expect("token");
            api.tokens.revoke("gone", Timestamp::now()).expect("revoke");
            let c1 = api.c1;
            let routes = [
                "/api/v1/flows".to_owned(),
                "/api/v1/cycles".to_owned(),
                "/api/v1/cycles?flow=inbound&limit=1".to_owned(),
                format!("/api/v1/cycles/{c1}"),
                "/api/v1/log".to_owned(),
                "/api/v1/log?person=100001".to_owned(),
            ];
            for route in &routes {
                let (status, body, _) = api.get(route, None).await;
                assert_eq!(status, 401, "{route} without a token: {body}");
                assert_eq!(error_code(&body), "unauthorized", "{route}: {body}");
                let (status, body, _) = api.get(route, Some(&gone)).await;
                assert_eq!(status, 401, "{route} with a revoked token: {body}");
                let (status, body, _) = api.get(route, Some("hrsync_forged")).await;
                assert_eq!(status, 401, "{route} with a forged token: {body}");
                let (status, body, _) = api.get(route, Some(&viewer)).await;
                assert_eq!(status, 200, "{route} as viewer: {body}");
            }
            for open in ["/healthz", "/readyz", "/metrics"] {
                let (status, _, text) = api.get(open, None).await;
                assert_eq!(status, 200, "{open} needs no token: {text}");
            }
        })
        .await;
}

#[tokio::test]
async fn flows_cycles_and_log_read_the_state() {
    let local = tokio::task::LocalSet::new();
    local
        .run_until(async {
            let api = start(&local, false).await;
            let (token, _) =
                api.tokens.create(Role::Viewer, None, Timestamp::now()).expect("token");
            let tok = Some(token.as_str());

            let (_, flows, _) = api.get("/api/v1/flows", tok).await;
            let f = &flows["flows"][0];
            assert_eq!(f["name"], "inbound", "{flows}");
            assert_eq!(f["state"], "idle", "{flows}");
            assert_eq!(f["watermark"], t(60).to_string(), "{flows}");
            assert_eq!(f["last_cycle"]["id"], api.c2, "{flows}");
            assert_eq!(f["last_cycle"]["status"], "completed", "{flows}");
            assert_eq!(f["escrow"]["count"], 1, "{flows}");

            let (_, cycles, _) = api.get("/api/v1/cycles", tok).await;
            let ids: Vec<i64> = cycles["cycles"]
                .as_array()
                .expect("cycles")
                .iter()
                .filter_map(|c| c["id"].as_i64())
                .collect();
            assert_eq!(ids, [api.c2, api.c1], "newest first: {cycles}");

            let (status, detail, _) = api.get(&format!("/api/v1/cycles/{}", api.c1), tok).await;
            assert_eq!(status, 200);
            assert_eq!(detail["status"], "completed-with-errors", "{detail}");
            assert_eq!(detail["log_entries"]["total"], PEOPLE + 1, "{detail}");
            assert_eq!(detail["log_entries"]["by_status"]["failure"], 1, "{detail}");

            let (_, failed, _) = api.get("/api/v1/log?status=failure", tok).await;
            let entries = failed["entries"].as_array().expect("entries");
            assert_eq!(entries.len(), 1, "{failed}");
            assert_eq!(entries[0]["person_id"], "999");
            let (_, q, _) = api.get("/api/v1/log?q=CONSTRAINT", tok).await;
            assert_eq!(q["entries"].as_array().map(Vec::len), Some(1), "text search: {q}");
            let (_, upd, _) = api.get("/api/v1/log?action=update", tok).await;
            assert_eq!(upd["entries"][0]["person_id"], "100001", "{upd}");
            let from = t(30).to_string();
            let (_, later, _) = api.get(&format!("/api/v1/log?from={from}"), tok).await;
            assert_eq!(later["entries"].as_array().map(Vec::len), Some(1), "{later}");
            let (_, c, _) =
                api.get(&format!("/api/v1/log?cycle={}&person=100001", api.c1), tok).await;
            assert_eq!(c["entries"][0]["action"], "create", "{c}");

            // Paging: every entry once, in order, ending without a cursor.
            let mut seen = Vec::new();
            let mut path = "/api/v1/log?limit=7".to_owned();
            for _ in 0..20 {
                let (status, page, _) = api.get(&path, tok).await;
                assert_eq!(status, 200, "{page}");
                seen.extend(
                    page["entries"]
                        .as_array()
                        .expect("entries")
                        .iter()
                        .filter_map(|e| e["id"].as_i64()),
                );
                match page["next_cursor"].as_str() {
                    Some(c) => path = format!("/api/v1/log?limit=7&cursor={c}"),
                    None => break,
                }
            }
            assert_eq!(seen.len(), PEOPLE + 2, "every entry once");
            assert!(seen.windows(2).all(|w| w[0] > w[1]), "newest first, no repeats");

            // A huge limit is capped, not refused.
            let (status, huge, _) = api.get("/api/v1/log?limit=99999999999", tok).await;
            assert_eq!(status, 200, "{huge}");
            assert_eq!(huge["limit"], hrsync_server::MAX_LIMIT, "{huge}");
            let (_, huge, _) = api.get("/api/v1/cycles?limit=100000", tok).await;
            assert_eq!(huge["limit"], hrsync_server::MAX_LIMIT, "{huge}");
        })
        .await;
}

#[tokio::test]
async fn bad_input_is_a_json_error_never_a_panic() {
    let local = tokio::task::LocalSet::new();
    local
        .run_until(async {
            let api = start(&local, false).await;
            let (token, _) =
                api.tokens.create(Role::Viewer, None, Timestamp::now()).expect("token");
            let tok = Some(token.as_str());
            let bad = [
                "/api/v1/log?limit=0",
                "/api/v1/log?limit=-3",
                "/api/v1/log?limit=ten",
                "/api/v1/log?action=explode",
                "/api/v1/log?status=planned",
                "/api/v1/log?status=%00",
                "/api/v1/log?cycle=abc",
                "/api/v1/log?cursor=-1",
                "/api/v1/log?from=yesterday",
                "/api/v1/log?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z",
                "/api/v1/log?colour=blue",
                "/api/v1/log?person=1&person=2",
                "/api/v1/cycles?limit=x",
                "/api/v1/cycles/abc",
                "/api/v1/cycles/-5",
                "/api/v1/cycles/99999999999999999999999",
            ];
            for path in bad {
                let (status, body, text) = api.get(path, tok).await;
                assert_eq!(status, 400, "{path}: {text}");
                assert_eq!(error_code(&body), "bad_request", "{path}: {text}");
                assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{path}");
            }
            let missing = [
                "/api/v1/cycles/424242".to_owned(),
                "/api/v1/log?person=nobody".to_owned(),
                "/api/v1/cycles?flow=writeback".to_owned(),
                "/api/v1/nothing".to_owned(),
                "/nothing/at/all".to_owned(),
            ];
            for path in &missing {
                let (status, body, text) = api.get(path, tok).await;
                assert_eq!(status, 404, "{path}: {text}");
                assert_eq!(error_code(&body), "not_found", "{path}: {text}");
            }
            // A filter that matches nothing for a known person is an empty page.
            let (status, body, _) = api.get("/api/v1/log?person=999&action=update", tok).await;
            assert_eq!(
                (status, body["entries"].as_array().map(Vec::len)),
                (200, Some(0)),
                "{body}"
            );
        })
        .await;
}

#[tokio::test]
async fn metrics_are_prometheus_text_and_can_want_a_token() {
    let local = tokio::task::LocalSet::new();
    local
        .run_until(async {
            let api = start(&local, true).await;
            let (status, body, _) = api.get("/metrics", None).await;
            assert_eq!((status, error_code(&body)), (401, "unauthorized"));
            let (token, _) =
                api.tokens.create(Role::Viewer, None, Timestamp::now()).expect("token");
            // A request first, so the HTTP counter has a series.
            let _ = api.get("/api/v1/flows", Some(&token)).await;
            let (status, _, text) = api.get("/metrics", Some(&token)).await;
            assert_eq!(status, 200, "{text}");
            for want in [
                "# TYPE hrsync_cycles_total counter",
                "hrsync_cycles_total{flow=\"inbound\",kind=\"incremental\",status=\"completed\"} 0",
                "# TYPE hrsync_workers_total counter",
                "hrsync_escrow_workers{flow=\"inbound\"} 1",
                "hrsync_watermark_timestamp_seconds{flow=\"inbound\"} 1790000060",
                "hrsync_last_successful_cycle_timestamp_seconds{flow=\"inbound\"} 1790000062",
                "hrsync_http_requests_total{route=\"/api/v1/flows\",method=\"GET\",status=\"200\"}",
            ] {
                assert!(text.contains(want), "missing `{want}` in:\n{text}");
            }
            assert!(!text.contains(&token), "a token never shows");
            promtool_check(&text);
        })
        .await;
}

/// `promtool check metrics` (Prometheus' own linter) on the text, when
/// `PROMTOOL` or the PATH has it (scripts/test.sh installs it); exit 0 is
/// clean, 3 lint problems, 1 a broken format.
fn promtool_check(text: &str) {
    use std::io::Write as _;
    let required = std::env::var("PROMTOOL").ok();
    let bin = required.clone().unwrap_or_else(|| "promtool".into());
    let child = std::process::Command::new(&bin)
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let Ok(mut child) = child else {
        assert!(required.is_none(), "PROMTOOL={bin} does not run");
        eprintln!("promtool not found ({bin}); skipping the lint (scripts/test.sh installs it)");
        return;
    };
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(text.as_bytes()).expect("write to promtool");
    }
    let out = child.wait_with_output().expect("promtool");
    assert!(
        out.status.success(),
        "promtool check metrics failed ({:?}):\n{}{}\n--- metrics:\n{text}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn https_with_the_configured_certificate() {
    let local = tokio::task::LocalSet::new();
    local
        .run_until(async {
            let dir = TempDir::new("server-tls");
            let cert =
                rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("cert");
            let cert_file = dir.0.join("api.crt");
            let key_file = dir.0.join("api.key");
            std::fs::write(&cert_file, cert.cert.pem()).expect("cert file");
            std::fs::write(&key_file, cert.signing_key.serialize_pem()).expect("key file");
            let (store, _, _) = state(&dir);
            let (handle, runner) =
                Runner::new(vec![FlowSpec::new("inbound", Idle(None))]).expect("runner");
            local.spawn_local(runner.run());
            let flows = vec![FlowSource {
                name: "inbound".into(),
                history: Arc::new(SqliteHistory::from(store)),
                watermark_scope: SCOPE.into(),
            }];
            let tokens = TokenStore::beside(&dir.0.join("state.sqlite"));
            let metrics = hrsync_server::metrics_recorder().expect("recorder");
            let state = AppState::new(flows, handle, tokens.clone(), metrics, false);
            let options = ServerOptions {
                listen: "127.0.0.1:0".parse().expect("addr"),
                tls: Some((cert_file, key_file)),
                metrics_token_required: false,
            };
            let server = Server::bind(&options, state).await.expect("bind");
            let port = server.local_addr().expect("addr").port();
            tokio::spawn(server.run(std::future::pending()));
            // A client that opens a connection and says nothing holds up nobody.
            let _silent =
                tokio::net::TcpStream::connect(("127.0.0.1", port)).await.expect("connect");
            let root = reqwest::Certificate::from_pem(cert.cert.pem().as_bytes()).expect("root");
            let http = reqwest::Client::builder()
                .add_root_certificate(root)
                .timeout(Duration::from_secs(10))
                .build()
                .expect("client");
            let (token, _) = tokens.create(Role::Viewer, None, Timestamp::now()).expect("token");
            let resp = http
                .get(format!("https://localhost:{port}/api/v1/flows"))
                .bearer_auth(&token)
                .send()
                .await
                .expect("https request");
            assert_eq!(resp.status(), 200);
            let plain = reqwest::Client::new()
                .get(format!("http://localhost:{port}/healthz"))
                .timeout(Duration::from_secs(3))
                .send()
                .await;
            assert!(
                plain.map(|r| r.status() != 200).unwrap_or(true),
                "no plain HTTP on the TLS port"
            );
        })
        .await;
}

impl Api {
    async fn send(&self, method: reqwest::Method, path: &str, token: Option<&str>) -> (u16, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }
}

#[tokio::test]
async fn operator_routes_want_the_operator_role() {
    use reqwest::Method;
    let local = tokio::task::LocalSet::new();
    local
        .run_until(async {
            let api = start(&local, false).await;
            let now = Timestamp::now();
            let (viewer, _) = api.tokens.create(Role::Viewer, None, now).expect("token");
            let (operator, _) = api.tokens.create(Role::Operator, None, now).expect("token");
            let (admin, _) = api.tokens.create(Role::Admin, None, now).expect("token");
            let acts = [
                (Method::POST, "/api/v1/flows/inbound/pause"),
                (Method::POST, "/api/v1/flows/inbound/resume"),
                (Method::POST, "/api/v1/escrow/inbound/999/retry"),
                (Method::DELETE, "/api/v1/escrow/inbound/999"),
            ];
            for (m, path) in &acts {
                let (status, body) = api.send(m.clone(), path, None).await;
                assert_eq!(status, 401, "{m} {path}: {body}");
                let (status, body) = api.send(m.clone(), path, Some(&viewer)).await;
                assert_eq!((status, error_code(&body)), (403, "forbidden"), "{m} {path}: {body}");
            }

            // Pause and resume, seen in /flows; the watermark stays.
            let (status, body) =
                api.send(Method::POST, "/api/v1/flows/inbound/pause", Some(&operator)).await;
            assert_eq!(status, 200, "{body}");
            let (_, flows, _) = api.get("/api/v1/flows", Some(&viewer)).await;
            assert_eq!(flows["flows"][0]["state"], "paused", "{flows}");
            assert_eq!(flows["flows"][0]["watermark"], t(60).to_string(), "{flows}");
            let (status, _) =
                api.send(Method::POST, "/api/v1/flows/inbound/resume", Some(&admin)).await;
            assert_eq!(status, 200);
            let (_, flows, _) = api.get("/api/v1/flows", Some(&viewer)).await;
            assert_eq!(flows["flows"][0]["state"], "idle", "{flows}");
            let (status, body) =
                api.send(Method::POST, "/api/v1/flows/nope/pause", Some(&operator)).await;
            assert_eq!((status, error_code(&body)), (404, "not_found"), "{body}");

            // Escrow: listed; a retry whose job fails says so; dropped once.
            let (_, list, _) = api.get("/api/v1/escrow", Some(&viewer)).await;
            assert_eq!(list["escrow"][0]["person_id"], "999", "{list}");
            assert_eq!(list["escrow"][0]["attempts"], 1, "{list}");
            let (status, body) =
                api.send(Method::POST, "/api/v1/escrow/inbound/999/retry", Some(&operator)).await;
            assert_eq!((status, error_code(&body)), (502, "job_failed"), "{body}");
            let (status, body) = api
                .send(Method::POST, "/api/v1/escrow/inbound/100001/retry", Some(&operator))
                .await;
            assert_eq!((status, error_code(&body)), (404, "not_found"), "not in escrow: {body}");
            let (status, body) =
                api.send(Method::DELETE, "/api/v1/escrow/inbound/999", Some(&operator)).await;
            assert_eq!(status, 200, "{body}");
            let (status, body) =
                api.send(Method::DELETE, "/api/v1/escrow/inbound/999", Some(&operator)).await;
            assert_eq!((status, error_code(&body)), (404, "not_found"), "dropped already: {body}");
            let (_, list, _) = api.get("/api/v1/escrow", Some(&viewer)).await;
            assert_eq!(list["escrow"].as_array().map(Vec::len), Some(0), "{list}");
            let (status, _) =
                api.send(Method::DELETE, "/api/v1/escrow/nope/999", Some(&operator)).await;
            assert_eq!(status, 404);

            // A method a route does not take is a 405.
            let (status, _) = api.send(Method::DELETE, "/api/v1/flows", Some(&admin)).await;
            assert_eq!(status, 405);
        })
        .await;
}

#[tokio::test]
async fn the_openapi_document_lists_every_route() {
    let local = tokio::task::LocalSet::new();
    local
        .run_until(async {
            let api = start(&local, false).await;
            let (status, doc, _) = api.get("/api/v1/openapi.json", None).await;
            assert_eq!(status, 200);
            assert_eq!(doc["openapi"], "3.0.3");
            let paths = doc["paths"].as_object().expect("paths");
            for (path, method) in [
                ("/healthz", "get"),
                ("/readyz", "get"),
                ("/metrics", "get"),
                ("/api/v1/flows", "get"),
                ("/api/v1/flows/{flow}/pause", "post"),
                ("/api/v1/flows/{flow}/resume", "post"),
                ("/api/v1/cycles", "get"),
                ("/api/v1/cycles/{id}", "get"),
                ("/api/v1/log", "get"),
                ("/api/v1/escrow", "get"),
                ("/api/v1/escrow/{flow}/{person}/retry", "post"),
                ("/api/v1/escrow/{flow}/{person}", "delete"),
            ] {
                assert!(
                    paths.get(path).and_then(|p| p.get(method)).is_some(),
                    "{method} {path} missing"
                );
            }
            // Every documented route is served (none falls to the 404 fallback).
            for (path, ops) in paths {
                let concrete = path
                    .replace("{flow}", "inbound")
                    .replace("{person}", "999")
                    .replace("{id}", &api.c1.to_string());
                for method in ops.as_object().expect("ops").keys() {
                    let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes())
                        .expect("method");
                    let (status, body) = api.send(m, &concrete, None).await;
                    assert!(
                        status != 404 || body["error"]["message"] != "no such route",
                        "{method} {path} is documented but not served"
                    );
                }
            }
        })
        .await;
}

/// schemathesis (OpenAPI contract testing, `--checks all`) against the live
/// server and its own document, with an admin token; runs when
/// `SCHEMATHESIS` or the PATH has it (scripts/test.sh installs it, and then
/// it is required).
#[tokio::test]
async fn schemathesis_passes_against_the_live_server() {
    let required = std::env::var("SCHEMATHESIS").ok();
    let bin = required.clone().unwrap_or_else(|| "schemathesis".into());
    if std::process::Command::new(&bin).arg("--version").output().is_err() {
        assert!(required.is_none(), "SCHEMATHESIS={bin} does not run");
        eprintln!("schemathesis not found ({bin}); skipping (scripts/test.sh installs it)");
        return;
    }
    let local = tokio::task::LocalSet::new();
    local
        .run_until(async {
            let api = start(&local, false).await;
            let (admin, _) = api.tokens.create(Role::Admin, None, Timestamp::now()).expect("token");
            let url = format!("{}/api/v1/openapi.json", api.base);
            // Its .hypothesis/ and .schemathesis/ go to a directory of its own.
            let cwd = TempDir::new("schemathesis");
            let out = tokio::task::spawn_blocking(move || {
                std::process::Command::new(&bin)
                    .args(["run", &url, "--checks", "all", "-w", "1", "--max-examples", "20"])
                    .args(["--seed", "1", "--no-color", "--generation-database", "none"])
                    .args(["-H", &format!("Authorization: Bearer {admin}")])
                    .current_dir(&cwd.0)
                    .output()
            })
            .await
            .expect("join")
            .expect("schemathesis");
            let report = format!(
                "{}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(out.status.success(), "schemathesis failed:\n{report}");
        })
        .await;
}
