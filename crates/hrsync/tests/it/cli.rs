//! The command line as users and external checks use it.

use crate::common;

use std::process::Command;

use common::{BIN, TempDir, hrsync, text, write_config};
use sf_emulator::Emulator;

fn expr(args: &[&str]) -> std::process::Output {
    Command::new(BIN).arg("expr").args(args).output().expect("run hrsync expr")
}

#[test]
fn expr_contract() {
    let cases: &[(&[&str], &str)] = &[
        (
            &[
                r#"Join(".", [firstName], [lastName])"#,
                "--attrs",
                r#"{"firstName":"Ana","lastName":"Müller"}"#,
            ],
            "\"Ana.Müller\"",
        ),
        (
            &[r#"Switch([emplStatus], "True", "A", "False")"#, "--attrs", r#"{"emplStatus":"A"}"#],
            "\"False\"",
        ),
        (&["IsPresent([x])", "--attrs", "{}"], "false"),
        (&["[missing]", "--attrs", "{}"], "null"),
        (&[r#"Split("a,b", ",")"#], "[\"a\",\"b\"]"),
        (
            &[
                r#"FormatDateTime(Now(), , "yyyy-MM-ddTHH:mm:ssZ", "yyyy-MM-dd")"#,
                "--now",
                "2026-11-24T10:00:00Z",
            ],
            "\"2026-11-24\"",
        ),
    ];
    for (args, want) in cases {
        let out = expr(args);
        assert!(out.status.success(), "{args:?}: {}", text(&out));
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), *want, "{args:?}");
    }
    let bad = expr(&["Join(\".\", [a]", "--attrs", "{}"]);
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad));
    assert!(bad.stdout.is_empty());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains('^'),
        "caret under the error: {}",
        text(&bad)
    );
    let bad_attrs = expr(&["[a]", "--attrs", "{not json"]);
    assert_eq!(bad_attrs.status.code(), Some(2), "{}", text(&bad_attrs));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_sync_status_logs_and_on_demand_through_a_config_file() {
    let emu = Emulator::builder().workers(80).seed(3).start().await.expect("emulator");
    let dir = TempDir::new("cli");
    let config = write_config(&dir.0, &emu.base_url(), 50);
    let person = emu.scenarios()[&sf_emulator::model::Scenario::Active][0].clone();
    let run = move |args: Vec<&'static str>| {
        let config = config.clone();
        tokio::task::spawn_blocking(move || hrsync(&config, &args, &[]))
    };

    let plan = run(vec!["plan", "--full", "--format", "json"]).await.expect("task");
    assert!(plan.status.success(), "{}", text(&plan));
    let v: serde_json::Value = serde_json::from_slice(&plan.stdout).expect("plan JSON");
    assert!(v["counts"]["create"].as_u64().unwrap_or(0) > 40, "{v}");
    assert!(
        !dir.0.join("target.sqlite").exists() || common::snapshot(&dir.0).is_empty(),
        "plan wrote nothing"
    );

    let sync = run(vec!["sync", "--full"]).await.expect("task");
    assert!(sync.status.success(), "{}", text(&sync));
    let out = String::from_utf8_lossy(&sync.stdout).to_string();
    assert!(out.contains("completed") && out.contains("workers/s"), "{out}");
    let accounts = common::snapshot(&dir.0);
    assert!(accounts.contains_key(&person), "{person} provisioned");

    let status = run(vec!["status", "--json"]).await.expect("task");
    let v: serde_json::Value = serde_json::from_slice(&status.stdout).expect("status JSON");
    assert!(v["watermark"].is_string(), "{v}");
    assert_eq!(v["accounts"]["active"].as_u64(), Some(accounts.len() as u64), "{v}");

    emu.apply(&sf_emulator::events::HrEvent::Transfer {
        person_id_external: person.clone(),
        effective: None,
        department: None,
        location: None,
        company: None,
        manager_id: None,
        job_title: Some("On Demand Title".into()),
    })
    .expect("transfer");
    let p = person.clone();
    let od = {
        let config = dir.0.join("hrsync.toml");
        tokio::task::spawn_blocking(move || hrsync(&config, &["on-demand", &p], &[]))
            .await
            .expect("task")
    };
    assert!(od.status.success(), "{}", text(&od));
    let out = String::from_utf8_lossy(&od.stdout).to_string();
    for want in
        ["request: GET ", "import", "scope", "match", "export", "title: ", "On Demand Title"]
    {
        assert!(out.contains(want), "on-demand output has {want:?}: {out}");
    }
    assert_eq!(common::snapshot(&dir.0)[&person]["title"], "On Demand Title");

    let p = person.clone();
    let logs = {
        let config = dir.0.join("hrsync.toml");
        tokio::task::spawn_blocking(move || {
            hrsync(&config, &["logs", "--person", &p, "--json"], &[])
        })
        .await
        .expect("task")
    };
    let v: serde_json::Value = serde_json::from_slice(&logs.stdout).expect("logs JSON");
    let actions: Vec<&str> =
        v.as_array().expect("array").iter().filter_map(|e| e["action"].as_str()).collect();
    assert_eq!(actions, ["update", "create"], "newest first: {v}");
    emu.shutdown().await;
}

#[test]
fn config_errors_name_file_line_and_field() {
    let dir = TempDir::new("badcfg");
    let path = write_config(&dir.0, "https://sf.example.com", 5000);
    let out = hrsync(&path, &["status"], &[]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("hrsync.toml:4:") && err.contains("source.page_size"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_holds_the_lock_wakes_on_its_interval_and_stops_on_sigterm() {
    let emu = Emulator::builder().workers(40).seed(5).start().await.expect("emulator");
    let dir = TempDir::new("run");
    let config = write_config(&dir.0, &emu.base_url(), 50);
    let child = Command::new(BIN)
        .args(["run", "--interval", "1s", "--config"])
        .arg(&config)
        .env("HRSYNC_TEST_SF_PASSWORD", sf_emulator::DEFAULT_PASSWORD)
        .env("HRSYNC_LOG", "info")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start hrsync run");

    // Wait for two cycles: the full one and at least one incremental probe.
    let mut cycles = 0;
    for _ in 0..100 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let c = config.clone();
        let status = tokio::task::spawn_blocking(move || hrsync(&c, &["status", "--json"], &[]))
            .await
            .expect("task");
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&status.stdout) {
            cycles = v["cycles"].as_array().map_or(0, Vec::len);
            if cycles >= 2 {
                break;
            }
        }
    }
    assert!(cycles >= 2, "hrsync run kept cycling");

    // A second syncer on the same state is refused while run holds the lock.
    let c = config.clone();
    let second =
        tokio::task::spawn_blocking(move || hrsync(&c, &["sync"], &[])).await.expect("task");
    assert!(!second.status.success());
    assert!(
        String::from_utf8_lossy(&second.stderr).contains("another hrsync is running"),
        "{}",
        text(&second)
    );

    let pid = child.id().to_string();
    let kill = Command::new("kill").args(["-TERM", &pid]).status().expect("kill");
    assert!(kill.success());
    let out = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .expect("task")
        .expect("wait");
    assert!(out.status.success(), "stops cleanly on SIGTERM: {}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("SIGTERM"), "{}", text(&out));
    emu.shutdown().await;
}
