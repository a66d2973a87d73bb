//! The emulator driven by an OData v2 client hrsync did not write: SAP's
//! pyodata (PyPI), run from a private virtualenv that `scripts/test.sh`
//! installs (`target/pyvenv`; override with `HRSYNC_PYVENV_PYTHON`). The
//! suite itself is `tests/clients/pyodata_suite.py`: metadata, Entra's full,
//! delta and pre-hire queries with their documented `$expand` lists, paging,
//! filters built by pyodata, by-key reads with composite keys, navigation by
//! path, upsert through the metadata's function import.
//!
//! The client talks to `http://localhost:PORT/`, not the bound address, so
//! pyodata's same-origin check of `__next` passes only because links follow
//! the request's `Host`. A missing interpreter or package is a failure that
//! says how to install it, never a skip.

use crate::common;

use std::path::PathBuf;
use std::process::Command;

use common::*;
use serde_json::json;
use sf_emulator::events::HrEvent;
use sf_emulator::time::{MS_PER_DAY, format_day};

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The venv's interpreter, or a failure naming what to run.
fn python() -> PathBuf {
    let path = std::env::var_os("HRSYNC_PYVENV_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target/pyvenv/bin/python"));
    if !path.exists() {
        panic!(
            "pyodata's virtualenv is missing ({}): run scripts/test.sh (it creates target/pyvenv with \
             `python3 -m venv` and installs pyodata and requests), or set HRSYNC_PYVENV_PYTHON to a \
             Python that has them",
            path.display()
        );
    }
    let probe = Command::new(&path).args(["-c", "import pyodata, requests"]).output();
    match probe {
        Ok(o) if o.status.success() => path,
        Ok(o) => panic!(
            "{} cannot import pyodata/requests: {} (run scripts/test.sh)",
            path.display(),
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(e) => panic!("cannot run {}: {e}", path.display()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pyodata_drives_the_emulator() {
    let python = python();
    let emu = start(450).await;
    let port = emu.addr().port();

    // A delta window with a few changes in it.
    let last = emu.now_ms();
    emu.advance_ms(60_000);
    let active = |n| scenario_person(&emu, "active", n);
    let (renamed, moved) = (active(10), active(11));
    let events = [
        HrEvent::NameChange {
            person_id_external: renamed.clone(),
            effective: None,
            first_name: Some("Zoë".into()),
            last_name: Some("O'Neil".into()),
            preferred_name: None,
        },
        HrEvent::Transfer {
            person_id_external: moved.clone(),
            effective: None,
            department: Some("D105".into()),
            location: None,
            company: None,
            manager_id: None,
            job_title: Some("Moved".into()),
        },
    ];
    for e in &events {
        emu.apply(e).unwrap_or_else(|e| panic!("{e}"));
    }
    emu.advance_ms(60_000);
    let now = emu.now_ms();
    let prev = (now / MS_PER_DAY - 1) * MS_PER_DAY;
    let delta = delta_filter(&ts(last), &ts(now), &ts(prev), &ts(prev + MS_PER_DAY - 1000));
    let (status, body) = get(
        &emu,
        &format!(
            "/odata/v2/PerPerson?$format=json&$select=personIdExternal&$filter={}",
            enc(&delta)
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let delta_ids = ids(json(&body)["d"]["results"].as_array().map(Vec::as_slice).unwrap_or(&[]));
    assert!(delta_ids.contains(&renamed) && delta_ids.contains(&moved), "{delta_ids:?}");

    let full = format!(
        "(personEmpTerminationInfoNav/activeEmploymentsCount ne null) and (lastModifiedDateTime le datetimeoffset'{}')",
        ts(now)
    );
    let (_, full_count) =
        get(&emu, &format!("/odata/v2/PerPerson/$count?$filter={}", enc(&full))).await;
    let mut prehires = Vec::new();
    for (scenario, status) in [
        ("pre_hire_active", "active"),
        ("pre_hire_inactive", "inactive"),
        ("pre_hire_onboarding", "active_external_suite"),
    ] {
        let id = scenario_person(&emu, scenario, 0);
        let start = emu
            .worker(&id)
            .and_then(|p| p.employments.first().map(|e| e.start))
            .unwrap_or_default();
        prehires.push(json!({"id": id, "start": format_day(start), "status": status}));
    }
    let person = active(3);
    let (_, body) = get(
        &emu,
        &format!(
            "/odata/v2/PerPerson('{person}')?$format=json&$expand=employmentNav/jobInfoNav,emailNav"
        ),
    )
    .await;
    let p = json(&body)["d"].clone();
    let job = &p["employmentNav"]["results"][0]["jobInfoNav"]["results"][0];
    let start_ms = job["startDate"]
        .as_str()
        .and_then(|s| sf_odata::value::parse_wire_date(s).ok())
        .map(|(ms, _)| ms)
        .unwrap_or_default();
    let start = jiff::Timestamp::from_millisecond(start_ms)
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%S").to_string())
        .unwrap_or_default();
    let email = &p["emailNav"]["results"][0];
    let fixture = json!({
        "now": ts(now),
        "last": ts(last),
        "prev_day_start": ts(prev),
        "prev_day_end": ts(prev + MS_PER_DAY - 1000),
        "full_count": full_count.trim().parse::<u64>().unwrap_or_default(),
        "delta_filter": delta,
        "delta_ids": delta_ids,
        "prehires": prehires,
        "active": [active(0), active(1), active(2)],
        "job": {
            "seqNumber": job["seqNumber"].as_str().and_then(|s| s.parse::<i64>().ok()),
            "startDate": start,
            "userId": job["userId"],
        },
        "email": {
            "emailType": email["emailType"],
            "personIdExternal": person,
            "emailAddress": email["emailAddress"],
        },
    });
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/clients/pyodata_suite.py");
    let root = format!("http://localhost:{port}/odata/v2/");
    let out = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .arg(script)
            .args([root.as_str(), USER, PASSWORD, &fixture.to_string()])
            .output()
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"))
    .unwrap_or_else(|e| panic!("running the pyodata suite: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("pyodata suite passed"),
        "pyodata suite failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    // The client really went through the emulator: each kind of request is logged.
    let log = emu.requests();
    for needle in ["/$metadata", "/upsert", "/emailNav", "EmpJob(", "$skiptoken=", "asOfDate="] {
        assert!(log.iter().any(|r| r.url.contains(needle)), "no request with {needle}");
    }
    assert!(
        log.iter().all(|r| r.status < 500),
        "{:?}",
        log.iter().filter(|r| r.status >= 500).collect::<Vec<_>>()
    );
    emu.shutdown().await;
}

/// SAP Cloud SDK for JavaScript: its generator makes a typed client from the
/// emulator's `$metadata` and that client reads and writes through it.
/// `scripts/test.sh` installs the generator and the OData v2 runtime into
/// `target/odata-node` (override with `HRSYNC_ODATA_NODE_DIR`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sap_cloud_sdk_generated_client_drives_the_emulator() {
    let node_dir = std::env::var_os("HRSYNC_ODATA_NODE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target/odata-node"));
    let cli = node_dir.join("node_modules/@sap-cloud-sdk/generator/dist/cli.js");
    if !cli.exists() {
        panic!(
            "SAP Cloud SDK's generator is missing ({}): run scripts/test.sh (it installs \
             @sap-cloud-sdk/generator and @sap-cloud-sdk/odata-v2 into target/odata-node), or set \
             HRSYNC_ODATA_NODE_DIR",
            cli.display()
        );
    }
    let emu = start(120).await;
    let (status, edmx) = get(&emu, "/odata/v2/$metadata").await;
    assert_eq!(status, 200);
    // Inside the install so the generated code finds @sap-cloud-sdk/odata-v2.
    let work = node_dir.join(format!("work-{}", std::process::id()));
    let input = work.join("input");
    let out = work.join("out");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&input).unwrap_or_else(|e| panic!("{}: {e}", input.display()));
    std::fs::write(input.join("SFOData.edmx"), &edmx).unwrap_or_else(|e| panic!("{e}"));
    let options = json!({"input/SFOData.edmx": {"directoryName": "sfodata", "basePath": "/odata/v2", "packageName": "sfodata"}});
    std::fs::write(work.join("options.json"), options.to_string())
        .unwrap_or_else(|e| panic!("{e}"));
    let started = std::time::Instant::now();
    let generated = {
        let (cli, work) = (cli.clone(), work.clone());
        tokio::task::spawn_blocking(move || {
            Command::new("node")
                .current_dir(&work)
                .arg(cli)
                .args([
                    "-i",
                    "input",
                    "-o",
                    "out",
                    "-s",
                    "options.json",
                    "--transpile",
                    "--skipValidation",
                    "--overwrite",
                ])
                .output()
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|e| {
            panic!("running node (is Node.js installed? scripts/test.sh installs it): {e}")
        })
    };
    assert!(
        generated.status.success(),
        "the generator refused the emulator's $metadata:\n{}\n{}",
        String::from_utf8_lossy(&generated.stdout),
        String::from_utf8_lossy(&generated.stderr)
    );
    eprintln!("generated and transpiled the client in {:?}", started.elapsed());

    let person = scenario_person(&emu, "active", 3);
    let (_, body) = get(
        &emu,
        &format!(
            "/odata/v2/PerPerson('{person}')?$format=json&$expand=employmentNav/jobInfoNav,emailNav"
        ),
    )
    .await;
    let p = json(&body)["d"].clone();
    let job = &p["employmentNav"]["results"][0]["jobInfoNav"]["results"][0];
    let start_ms = job["startDate"]
        .as_str()
        .and_then(|s| sf_odata::value::parse_wire_date(s).ok())
        .map(|(ms, _)| ms)
        .unwrap_or_default();
    let start =
        jiff::Timestamp::from_millisecond(start_ms).map(|t| t.to_string()).unwrap_or_default();
    let (_, total) = get(&emu, "/odata/v2/PerPerson/$count").await;
    let email = &p["emailNav"]["results"][0];
    let fixture = json!({
        "total": total.trim().parse::<u64>().unwrap_or_default(),
        "active": [scenario_person(&emu, "active", 0), scenario_person(&emu, "active", 1), scenario_person(&emu, "active", 2)],
        "job": {"seqNumber": job["seqNumber"], "startDate": start, "userId": job["userId"]},
        "email": {"emailType": email["emailType"], "personIdExternal": person, "emailAddress": email["emailAddress"]},
    });
    let suite = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/clients/cloud_sdk_suite.js");
    let client_dir = out.join("sfodata");
    let base = format!("http://localhost:{}", emu.addr().port());
    let run = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(suite)
            .arg(&client_dir)
            .args([base.as_str(), USER, PASSWORD, &fixture.to_string()])
            .output()
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"))
    .unwrap_or_else(|e| panic!("running node: {e}"));
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        run.status.success() && stdout.contains("cloud sdk suite passed"),
        "SAP Cloud SDK suite failed ({}):\n{stdout}\n{stderr}",
        run.status
    );
    let _ = std::fs::remove_dir_all(&work);
    emu.shutdown().await;
}
