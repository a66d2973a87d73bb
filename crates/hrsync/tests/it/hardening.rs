//! What a hostile-input probe of the command line found (issue 13): deep
//! JSONPaths, read-only commands that wanted secrets or wrote files,
//! arguments taken silently, errors that repeat themselves, escape codes in
//! pipes and control characters from HR data on the terminal.

use crate::common;

use std::process::{Command, Stdio};

use common::{BIN, TempDir, hrsync, text, write_config};
use sf_emulator::Emulator;

fn deep_parens(n: usize) -> String {
    format!("$.a[?{}@.b{}]", "(".repeat(n), ")".repeat(n))
}

fn nested_filters(levels: usize) -> String {
    let mut f = "@.x == 'A'".to_owned();
    for _ in 1..levels {
        f = format!("@.n[?({f})]");
    }
    format!("$.e[?({f})]")
}

#[test]
fn jsonpath_refuses_deep_paths_with_a_normal_error() {
    for (path, want) in [
        (deep_parens(5000), "bytes"),
        (deep_parens(100), "nested deeper than"),
        (nested_filters(20), "filters nested deeper than"),
    ] {
        let out = Command::new(BIN)
            .args(["jsonpath", &path])
            .stdin(Stdio::null())
            .output()
            .expect("run hrsync jsonpath");
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.starts_with("error: invalid JSONPath") && err.contains(want), "{err}");
    }
}

#[test]
fn check_reports_a_deep_source_path_as_a_config_error() {
    let dir = TempDir::new("deep-path");
    let config = write_config(&dir.0, "https://sf.example.com", 50);
    for path in [deep_parens(5000), nested_filters(20)] {
        let text_of = std::fs::read_to_string(&config).expect("config");
        let line = format!("source_attribute = [{{ name = \"deep\", jsonpath = \"{path}\" }}]\n");
        let changed = text_of.replace("[flow]\n", &format!("[flow]\n{line}"));
        let deep = dir.0.join("deep.toml");
        std::fs::write(&deep, changed).expect("write");
        let out = hrsync(&deep, &["check"], &[]);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("problem(s) in the config"), "{err}");
        assert!(err.contains("deep.toml:") && err.contains("flow.source_attribute[0]"), "{err}");
    }
}

#[test]
fn status_and_logs_read_the_state_without_the_password() {
    let dir = TempDir::new("local");
    let config = write_config(&dir.0, "https://sf.example.com", 50);
    for args in [&["status"][..], &["status", "--json"], &["logs"], &["logs", "--json"]] {
        let out = Command::new(BIN)
            .args(args)
            .arg("--config")
            .arg(&config)
            .env_remove("HRSYNC_TEST_SF_PASSWORD")
            .output()
            .expect("run");
        assert!(out.status.success(), "{args:?}: {}", text(&out));
    }
    // Still needed by what talks to SuccessFactors.
    let out = Command::new(BIN)
        .args(["plan", "--config"])
        .arg(&config)
        .env_remove("HRSYNC_TEST_SF_PASSWORD")
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("HRSYNC_TEST_SF_PASSWORD"),
        "{}",
        text(&out)
    );
    assert!(!dir.0.join("state.sqlite").exists(), "reading no state creates none");
}

#[test]
fn logs_arguments_are_checked() {
    let dir = TempDir::new("logs-args");
    let config = write_config(&dir.0, "https://sf.example.com", 50);
    let zero = hrsync(&config, &["logs", "--limit", "0"], &[]);
    assert_eq!(
        zero.status.code(),
        Some(2),
        "0 is refused, not taken as everything: {}",
        text(&zero)
    );
    let bogus = hrsync(&config, &["logs", "--status", "bogus"], &[]);
    assert_eq!(bogus.status.code(), Some(2), "{}", text(&bogus));
    let err = String::from_utf8_lossy(&bogus.stderr);
    assert!(["success", "failure", "skipped", "warning"].iter().all(|s| err.contains(s)), "{err}");
    let huge = hrsync(&config, &["logs", "--limit", "18446744073709551615"], &[]);
    assert!(huge.status.success(), "{}", text(&huge));
    let ok = hrsync(&config, &["logs", "--status", "failure", "--limit", "5"], &[]);
    assert!(ok.status.success(), "{}", text(&ok));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_demand_refuses_a_blank_id_before_any_query() {
    let emu = Emulator::builder().workers(5).seed(1).start().await.expect("emulator");
    let dir = TempDir::new("od-blank");
    let config = write_config(&dir.0, &emu.base_url(), 50);
    for id in ["", "   "] {
        let c = config.clone();
        let out = tokio::task::spawn_blocking(move || hrsync(&c, &["on-demand", id], &[]))
            .await
            .expect("task");
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        assert!(String::from_utf8_lossy(&out.stderr).contains("empty or blank"), "{}", text(&out));
    }
    assert!(emu.requests().is_empty(), "{:?}", emu.requests());
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_creates_no_file_and_escapes_control_characters_from_hr_data() {
    let emu = Emulator::builder().workers(20).seed(7).start().await.expect("emulator");
    let person = emu.scenarios()[&sf_emulator::model::Scenario::Active][0].clone();
    emu.apply(&sf_emulator::events::HrEvent::NameChange {
        person_id_external: person.clone(),
        effective: None,
        first_name: None,
        last_name: Some("Evil\u{1b}[2J\u{202e}gnp.exe".into()),
        preferred_name: None,
    })
    .expect("name change");
    // The built-in mapping cleans names of control and bidi characters
    // (item 15), so the escaping of display is shown through a value it
    // passes as it is: the job title.
    emu.apply(&sf_emulator::events::HrEvent::Transfer {
        person_id_external: person.clone(),
        effective: None,
        department: None,
        location: None,
        company: None,
        manager_id: None,
        job_title: Some("Evil\u{1b}[2J\u{202e}gnp.exe".into()),
    })
    .expect("transfer");
    let dir = TempDir::new("plan-files");
    let config = write_config(&dir.0, &emu.base_url(), 50);
    let c = config.clone();
    let plan = tokio::task::spawn_blocking(move || hrsync(&c, &["plan", "--full"], &[]))
        .await
        .expect("task");
    assert!(plan.status.success(), "{}", text(&plan));
    let files: Vec<String> = std::fs::read_dir(&dir.0)
        .expect("dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(files, ["hrsync.toml"], "plan wrote nothing beside the config");
    let out = String::from_utf8_lossy(&plan.stdout);
    assert!(!out.contains('\u{1b}') && !out.contains('\u{202e}'), "{out:?}");
    assert!(out.contains("\\u{202e}"), "the override is shown escaped: {out}");
    assert!(
        out.lines().any(|l| l.contains("sn: null -> \"Evil[2Jgnp.exe\"")),
        "the name is written without them: {out}"
    );
    emu.shutdown().await;
}

#[test]
fn an_error_names_each_cause_once() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr").to_string();
    let out = Command::new(BIN)
        .args(["emulator", "--workers", "1", "--listen", &addr])
        .stdin(Stdio::null())
        .output()
        .expect("run");
    assert!(!out.status.success(), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.matches("in use").count(), 1, "{err}");
}

#[test]
fn no_escape_codes_in_a_pipe() {
    let dir = TempDir::new("demo-pipe");
    let out = Command::new(BIN)
        .args(["demo", "--workers", "30", "--dir"])
        .arg(&dir.0)
        .env_remove("NO_COLOR")
        .env_remove("HRSYNC_LOG")
        .stdin(Stdio::null())
        .output()
        .expect("run demo");
    assert!(out.status.success(), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("basic authentication"), "a warning is logged: {stderr}");
    assert!(!out.stdout.contains(&0x1b) && !out.stderr.contains(&0x1b), "{}", text(&out));
}

#[test]
fn init_force_keeps_a_customised_mapping() {
    let dir = TempDir::new("init-force");
    let first =
        Command::new(BIN).arg("init").arg(dir.0.join("hrsync.toml")).output().expect("init");
    assert!(first.status.success(), "{}", text(&first));
    let mapping = dir.0.join("hrsync-mapping.toml");
    let custom = std::fs::read_to_string(&mapping).expect("mapping").replace("contoso", "acme");
    std::fs::write(&mapping, &custom).expect("customise");
    let other = dir.0.join("other.toml");
    let forced =
        Command::new(BIN).arg("init").arg(&other).arg("--force").output().expect("init --force");
    assert!(forced.status.success(), "{}", text(&forced));
    assert_eq!(std::fs::read_to_string(&mapping).expect("kept"), custom);
    let out = String::from_utf8_lossy(&forced.stdout);
    assert!(out.contains("kept") && out.contains("hrsync-mapping.toml"), "{out}");
    assert!(out.contains("hrsync keys generate"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reported_count_query_is_the_one_sent() {
    let emu = Emulator::builder().workers(10).seed(2).start().await.expect("emulator");
    let dir = TempDir::new("count-url");
    let config = write_config(&dir.0, &emu.base_url(), 50);
    let c = config.clone();
    let full = tokio::task::spawn_blocking(move || hrsync(&c, &["sync", "--full"], &[]))
        .await
        .expect("task");
    assert!(full.status.success(), "{}", text(&full));
    emu.clear_requests();
    let c = config.clone();
    let inc = tokio::task::spawn_blocking(move || hrsync(&c, &["sync", "--json"], &[]))
        .await
        .expect("task");
    assert!(inc.status.success(), "{}", text(&inc));
    let report: serde_json::Value = serde_json::from_slice(&inc.stdout).expect("report JSON");
    let reported = report["queries"][0].as_str().expect("a query").to_owned();
    let sent = emu
        .requests()
        .into_iter()
        .find(|r| r.url.contains("/$count"))
        .map(|r| r.url)
        .expect("a $count request");
    let names = |url: &str| -> Vec<String> {
        let query = url.split_once('?').map_or("", |(_, q)| q);
        query.split('&').map(|p| p.split('=').next().unwrap_or_default().to_owned()).collect()
    };
    assert!(reported.starts_with("PerPerson/$count?"), "{reported}");
    assert_eq!(names(&reported), names(&sent), "reported {reported}, sent {sent}");
    emu.shutdown().await;
}
