//! Paging, errors, auth, upsert, picklists, faults, admin API and request log.

use crate::common;

use std::collections::HashSet;
use std::time::Duration;

use common::*;
use serde_json::{Value, json};
use sf_emulator::Emulator;
use sf_emulator::events::HrEvent;

fn results(body: &str) -> Vec<Value> {
    json(body)["d"]["results"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn snapshot_paging_over_10000_workers_returns_each_person_once_under_concurrent_events() {
    let emu = start(10_000).await;
    let expand = "employmentNav/jobInfoNav,emailNav";
    let mut url = format!(
        "{}/odata/v2/PerPerson?$format=json&paging=snapshot&customPageSize=1000&$expand={expand}",
        emu.base_url()
    );
    let mut seen = Vec::new();
    let mut page = 0;
    loop {
        let (status, body) = get_url(&url).await;
        assert_eq!(status, 200, "{body}");
        let v = json(&body);
        seen.extend(ids(&results(&body)));
        // HR changes between pages: hires append persons, rehires/transfers reshuffle employments.
        page += 1;
        let _ = emu.apply(&HrEvent::Hire {
            person_id_external: None,
            first_name: None,
            last_name: None,
            start_date: None,
            company: None,
            manager_id: None,
        });
        let _ = emu.apply(&HrEvent::Transfer {
            person_id_external: format!("{}", 100_000 + page * 7),
            effective: None,
            department: Some("D101".into()),
            location: None,
            company: None,
            manager_id: None,
            job_title: None,
        });
        match v["d"]["__next"].as_str() {
            Some(next) => url = next.to_owned(),
            None => break,
        }
    }
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(seen.len(), 10_000, "every person of the snapshot, no hire added mid-way");
    assert_eq!(unique.len(), 10_000, "no duplicates");
    assert_eq!(page, 10);
    emu.shutdown().await;
}

#[tokio::test]
async fn default_paging_reevaluates_each_page_so_a_hire_shows_up_on_a_later_page() {
    let emu = start(250).await;
    let mut url = format!("{}/odata/v2/PerPerson?$format=json&customPageSize=100", emu.base_url());
    let mut seen = Vec::new();
    let mut hired = None;
    loop {
        let (status, body) = get_url(&url).await;
        assert_eq!(status, 200, "{body}");
        let v = json(&body);
        seen.extend(ids(&results(&body)));
        if hired.is_none() {
            hired = emu
                .apply(&HrEvent::Hire {
                    person_id_external: Some("NEW-1".into()),
                    first_name: None,
                    last_name: None,
                    start_date: None,
                    company: None,
                    manager_id: None,
                })
                .ok();
        }
        match v["d"]["__next"].as_str() {
            Some(next) => url = next.to_owned(),
            None => break,
        }
    }
    // Rows are re-read per page (like SuccessFactors' server paging): the new hire is appended at the end.
    assert_eq!(seen.len(), 251);
    assert_eq!(seen.last().map(String::as_str), Some("NEW-1"));
    emu.shutdown().await;
}

#[tokio::test]
async fn page_size_is_capped_at_1000_and_last_page_has_no_next() {
    let emu = start(1500).await;
    let (_, body) = get(&emu, "/odata/v2/PerPerson?$format=json&customPageSize=5000").await;
    let v = json(&body);
    assert_eq!(results(&body).len(), 1000);
    let next = v["d"]["__next"].as_str().unwrap_or_default().to_owned();
    let (_, body) = get_url(&next).await;
    assert_eq!(results(&body).len(), 500);
    assert!(json(&body)["d"].get("__next").is_none());
    // The skiptoken is opaque base64 of {"startRow":..,"endRow":..}.
    let token = next.split("$skiptoken=").nth(1).unwrap_or_default();
    assert!(token.starts_with("eyJzdGFydFJvdyI6MTAwMC"), "{token}");
    emu.shutdown().await;
}

#[tokio::test]
async fn bad_requests_get_successfactors_errors() {
    let emu = start(50).await;
    let cases: &[(&str, u16, &str)] = &[
        ("/odata/v2/NoSuchEntity?$format=json", 400, "COE_ENTITY_NOT_FOUND"),
        ("/odata/v2/PerPerson?$format=json&$filter=personIdExternal%20eq", 400, ""),
        (
            "/odata/v2/PerPerson?$format=json&$filter=lastModifiedDateTime%20ge%20datetimeoffset'2024-13-45T00:00:00Z'",
            400,
            "",
        ),
        ("/odata/v2/PerPerson?$format=json&$select=noSuchProperty", 400, "COE_PROPERTY_NOT_FOUND"),
        (
            "/odata/v2/PerPerson?$format=json&$filter=noSuchProperty%20eq%20'x'",
            400,
            "COE_PROPERTY_NOT_FOUND",
        ),
        ("/odata/v2/PerPerson?$format=json&asOfDate=2024-02-30", 400, ""),
        ("/odata/v2/PerPerson?$format=json&$skiptoken=garbage", 400, ""),
        ("/odata/v2/PerPerson?$format=json&paging=snapshot&$top=5", 400, ""),
        ("/odata/v2/PerPerson('nobody')?$format=json", 404, ""),
        ("/odata/v2/$metadata?$format=json", 406, ""),
    ];
    for &(path, status, code) in cases {
        let (got, body) = get(&emu, path).await;
        assert_eq!(got, status, "{path}: {body}");
        let v = json(&body);
        assert!(v["error"]["code"].is_string(), "{path}: {body}");
        assert_eq!(v["error"]["message"]["lang"], "en-US", "{path}");
        assert!(v["error"]["message"]["value"].is_string());
        if !code.is_empty() {
            assert_eq!(v["error"]["code"], code, "{path}");
        }
    }
    // Auth: missing, wrong password, wrong company.
    let url = format!("{}/odata/v2/PerPerson?$format=json", emu.base_url());
    let c = client();
    for request in [
        c.get(&url),
        c.get(&url).basic_auth(USER, Some("wrong")),
        c.get(&url).basic_auth("sfapi@OTHER", Some(PASSWORD)),
        c.get(&url).basic_auth("sfapi", Some(PASSWORD)),
    ] {
        let r = request.send().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.status().as_u16(), 401);
        let v = json(&r.text().await.unwrap_or_default());
        assert!(v["error"]["message"]["value"].is_string());
    }
    let (status, xml) = get(&emu, "/odata/v2/$metadata").await;
    assert_eq!(status, 200);
    assert!(xml.contains("SFOData") && xml.contains("PerPerson"));
    emu.shutdown().await;
}

/// POSTs an upsert asking for a JSON answer (without `Accept: application/json`
/// SuccessFactors answers Atom XML).
async fn upsert(emu: &sf_emulator::RunningEmulator, query: &str, body: Value) -> (u16, Value) {
    let r = client()
        .post(format!("{}/odata/v2/upsert{query}", emu.base_url()))
        .basic_auth(USER, Some(PASSWORD))
        .header("accept", "application/json")
        .json(&body)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let status = r.status().as_u16();
    (status, json(&r.text().await.unwrap_or_default()))
}

#[tokio::test]
async fn upsert_email_and_phone_with_record_level_results() {
    let emu = start(100).await;
    // Picklist lookup of the option ids, as a writeback client does first.
    let (status, body) =
        get(&emu, "/odata/v2/Picklist('ecEmailType')?$expand=picklistOptions&$format=json").await;
    assert_eq!(status, 200, "{body}");
    let options =
        json(&body)["d"]["picklistOptions"]["results"].as_array().cloned().unwrap_or_default();
    let business = options
        .iter()
        .find(|o| o["externalCode"] == "B")
        .map(|o| o["id"].clone())
        .unwrap_or_default();
    assert_eq!(business, json!("8448"));

    let id = scenario_person(&emu, "active", 3);
    let before = emu.worker(&id).unwrap_or_else(|| panic!("{id}"));
    let since = emu.now_ms();
    emu.advance_ms(1000);
    let (status, v) = upsert(&emu, "", json!([
        {"__metadata": {"uri": format!("PerEmail(emailType='8448',personIdExternal='{id}')"), "type": "SFOData.PerEmail"}, "emailAddress": "written.back@ace.example.com", "isPrimary": true},
        {"__metadata": {"uri": "PerEmail"}, "personIdExternal": "nobody", "emailType": "8448", "emailAddress": "x@y.z", "isPrimary": false},
        {"__metadata": {"uri": format!("{}/odata/v2/PerEmail(emailType='9999',personIdExternal='{id}')", emu.base_url())}, "emailAddress": "x@y.z", "isPrimary": false},
        {"__metadata": {"uri": "PerPhone"}, "personIdExternal": id, "phoneType": "10606", "phoneNumber": "5550100", "isPrimary": "maybe"},
        {"__metadata": {"uri": format!("PerPhone(personIdExternal='{id}',phoneType='10607')")}, "phoneNumber": "5550101", "countryCode": "1", "isPrimary": "N"},
    ])).await;
    assert_eq!(status, 200);
    let d = v["d"].as_array().cloned().unwrap_or_default();
    assert_eq!(d.len(), 5);
    assert_eq!(
        d[0],
        json!({"key": format!("PerEmail/emailType=8448,PerEmail/personIdExternal={id}"), "status": "OK", "editStatus": "UPSERTED", "message": null, "index": 0, "httpCode": 200, "inlineResults": null})
    );
    for (i, status) in [(1, "ERROR"), (2, "ERROR"), (3, "ERROR"), (4, "OK")] {
        assert_eq!(d[i]["status"], status, "record {i}: {}", d[i]);
        assert_eq!(d[i]["index"], i);
    }
    assert!(
        d[3]["message"].as_str().unwrap_or_default().contains("isPrimary contains an invalid flag")
    );
    assert!(d[1]["message"].as_str().unwrap_or_default().ends_with("with the index 1"));
    assert_eq!(d[4]["key"], format!("PerPhone/personIdExternal={id},PerPhone/phoneType=10607"));

    // The data really changed: a later GET and a delta query on emailNav/lastModifiedDateTime see it.
    let (_, body) =
        get(&emu, &format!("/odata/v2/PerPerson('{id}')?$format=json&$expand=emailNav,phoneNav"))
            .await;
    let p = json(&body)["d"].clone();
    let emails = p["emailNav"]["results"].as_array().cloned().unwrap_or_default();
    assert!(
        emails.iter().any(
            |e| e["emailAddress"] == "written.back@ace.example.com" && e["emailType"] == "8448"
        )
    );
    assert!(
        p["phoneNav"]["results"]
            .as_array()
            .is_some_and(|a| a.iter().any(|ph| ph["phoneNumber"] == "5550101"))
    );
    let window = format!("emailNav/lastModifiedDateTime ge datetimeoffset'{}'", ts(since));
    let (_, body) =
        get(&emu, &format!("/odata/v2/PerPerson?$format=json&$filter={}", enc(&window))).await;
    assert_eq!(ids(&results(&body)), vec![id.clone()]);

    // A second primary email is rejected.
    let had_personal = before.emails.iter().any(|e| e.email_type == 8449);
    let (_, v) = upsert(&emu, "", json!({"__metadata": {"uri": format!("PerEmail(emailType='8449',personIdExternal='{id}')")}, "emailAddress": "p@home.example", "isPrimary": true})).await;
    assert_eq!(v["d"][0]["status"], "ERROR", "{v}");

    // purgeType=full with an invalid record: valid ones ACCEPTED, nothing written.
    let (_, v) = upsert(&emu, "?purgeType=full", json!([
        {"__metadata": {"uri": format!("PerEmail(emailType='8448',personIdExternal='{id}')")}, "emailAddress": "purged@ace.example.com", "isPrimary": true},
        {"__metadata": {"uri": format!("PerEmail(emailType='1',personIdExternal='{id}')")}, "emailAddress": "x@y.z", "isPrimary": false},
    ])).await;
    assert_eq!(
        (v["d"][0]["status"].clone(), v["d"][1]["status"].clone()),
        (json!("ACCEPTED"), json!("ERROR"))
    );
    assert!(
        emu.worker(&id)
            .is_some_and(|p| p.emails.iter().any(|e| e.address == "written.back@ace.example.com"))
    );
    // purgeType=full, all valid: omitted email types are deleted.
    let (_, v) = upsert(&emu, "?purgeType=Full", json!([{"__metadata": {"uri": format!("PerEmail(emailType='8448',personIdExternal='{id}')")}, "emailAddress": "only@ace.example.com", "isPrimary": true}])).await;
    assert_eq!(v["d"][0]["status"], "OK");
    let after = emu.worker(&id).unwrap_or_else(|| panic!("{id}"));
    assert_eq!(after.emails.len(), 1, "personal email (present before: {had_personal}) purged");
    emu.shutdown().await;
}

#[tokio::test]
async fn faults_429_truncate_and_drop() {
    let start_with = |spec: &str| {
        let spec = spec.parse().unwrap_or_else(|e| panic!("{e}"));
        Emulator::builder().workers(20).now_ms(NOW_MS).faults(spec).retry_after_secs(7).start()
    };
    let emu = start_with("429@1").await.unwrap_or_else(|e| panic!("{e}"));
    let r = client()
        .get(format!("{}/odata/v2/PerPerson?$format=json", emu.base_url()))
        .basic_auth(USER, Some(PASSWORD))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status().as_u16(), 429);
    assert_eq!(r.headers().get("retry-after").and_then(|v| v.to_str().ok()), Some("7"));
    assert_eq!(emu.requests().last().map(|e| (e.status, e.fault)), Some((429, Some("429"))));
    emu.shutdown().await;

    let emu = start_with("truncate@1").await.unwrap_or_else(|e| panic!("{e}"));
    let (status, body) = get(&emu, "/odata/v2/PerPerson?$format=json").await;
    assert_eq!(status, 200);
    assert!(body.starts_with("{\"d\""));
    assert!(serde_json::from_str::<Value>(&body).is_err(), "truncated JSON must not parse");
    emu.shutdown().await;

    let emu = start_with("drop@1").await.unwrap_or_else(|e| panic!("{e}"));
    let outcome = async {
        let r = client()
            .get(format!("{}/odata/v2/PerPerson?$format=json", emu.base_url()))
            .basic_auth(USER, Some(PASSWORD))
            .send()
            .await?;
        r.text().await
    }
    .await;
    assert!(outcome.is_err(), "a dropped connection is a connection error, got {outcome:?}");
    emu.shutdown().await;

    let emu = Emulator::builder()
        .workers(5)
        .latency(Duration::from_millis(1))
        .start()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let (status, _) = get(&emu, "/odata/v2/PerPerson/$count").await;
    assert_eq!(status, 200);
    emu.shutdown().await;
}

#[tokio::test]
async fn admin_api_clock_events_scenarios_workers_and_request_log() {
    let emu = start(100).await;
    let c = client();
    let base = emu.base_url();
    let clock: Value = c
        .get(format!("{base}/_emulator/clock"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .json()
        .await
        .unwrap_or_default();
    assert_eq!(clock["today"], "2025-03-01");
    let clock: Value = c
        .post(format!("{base}/_emulator/clock"))
        .json(&json!({"advance": "P2D"}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .json()
        .await
        .unwrap_or_default();
    assert_eq!(clock["today"], "2025-03-03");
    let clock: Value = c
        .post(format!("{base}/_emulator/clock"))
        .json(&json!({"set": "2026-01-01T00:00:00Z"}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .json()
        .await
        .unwrap_or_default();
    assert_eq!(clock["today"], "2026-01-01");
    let bad = c
        .post(format!("{base}/_emulator/clock"))
        .json(&json!({"advance": "tomorrow"}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(bad.status().as_u16(), 400);

    let scenarios: Value = c
        .get(format!("{base}/_emulator/scenarios"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .json()
        .await
        .unwrap_or_default();
    let rehire = scenarios["rehire"][0].as_str().unwrap_or_default().to_owned();
    let worker: Value = c
        .get(format!("{base}/_emulator/workers/{rehire}"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .json()
        .await
        .unwrap_or_default();
    assert_eq!(worker["employments"].as_array().map(Vec::len), Some(2));

    let active = scenarios["active"][0].as_str().unwrap_or_default().to_owned();
    let outcome = c
        .post(format!("{base}/_emulator/events"))
        .json(&json!([{"type": "terminate", "personIdExternal": active, "lastDay": "2026-01-15"}, {"type": "rehire", "personIdExternal": active, "startDate": "2026-03-01"}]))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(outcome.status().as_u16(), 200);
    let p = emu.worker(&active).unwrap_or_else(|| panic!("{active}"));
    assert_eq!(p.employments.len(), 2);
    assert_eq!(p.termination.as_ref().map(|t| t.active_employments_count), Some(1));
    let rejected = c
        .post(format!("{base}/_emulator/events"))
        .json(&json!({"type": "terminate", "personIdExternal": "nobody", "lastDay": "2026-01-15"}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(rejected.status().as_u16(), 422);
    let malformed = c
        .post(format!("{base}/_emulator/events"))
        .json(&json!({"type": "explode"}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(malformed.status().as_u16(), 400);

    emu.clear_requests();
    let (_, _) =
        get(&emu, "/odata/v2/PerPerson?$format=json&$filter=personIdExternal%20eq%20'O''Neil'")
            .await;
    let _ = c.get(format!("{base}/odata/v2/PerPerson")).send().await;
    let log: Value = c
        .get(format!("{base}/_emulator/requests"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .json()
        .await
        .unwrap_or_default();
    let log = log.as_array().cloned().unwrap_or_default();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0]["method"], "GET");
    assert_eq!(
        log[0]["url"],
        "/odata/v2/PerPerson?$format=json&$filter=personIdExternal eq 'O''Neil'"
    );
    assert_eq!((log[0]["status"].clone(), log[0]["user"].clone()), (json!(200), json!(USER)));
    assert_eq!((log[1]["status"].clone(), log[1]["user"].clone()), (json!(401), Value::Null));
    assert!(log[0]["durationMs"].is_number());
    let cleared = c
        .delete(format!("{base}/_emulator/requests"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cleared.status().as_u16(), 204);
    assert!(emu.requests().is_empty());
    emu.shutdown().await;
}

/// The `Date` header of an answer, as ms since the epoch.
fn date_ms(resp: &reqwest::Response) -> i64 {
    let text = resp.headers().get("date").and_then(|v| v.to_str().ok()).expect("a Date header");
    let zoned = jiff::fmt::rfc2822::parse(text).expect("an RFC 9110 date");
    zoned.timestamp().as_millisecond()
}

#[tokio::test]
async fn a_clock_offset_moves_the_date_header_and_the_stamps_both_ways() {
    const T: i64 = 1_795_514_400_000;
    for offset in [-120_000i64, 0, 120_000] {
        let emu = Emulator::builder()
            .workers(5)
            .seed(3)
            .now_ms(T)
            .clock_offset_ms(offset)
            .start()
            .await
            .expect("emulator");
        let person = emu.scenarios().values().flatten().next().cloned().expect("a worker");
        emu.apply(&HrEvent::NameChange {
            person_id_external: person.clone(),
            effective: None,
            first_name: None,
            last_name: Some("Skewed".into()),
            preferred_name: None,
        })
        .expect("name change");
        let url = format!(
            "{}/odata/v2/PerPerson?$format=json&$expand=personalInfoNav&$filter=personIdExternal%20eq%20'{person}'",
            emu.base_url()
        );
        let resp = client()
            .get(&url)
            .basic_auth(
                format!("{}@{}", sf_emulator::DEFAULT_USERNAME, sf_emulator::DEFAULT_COMPANY_ID),
                Some(sf_emulator::DEFAULT_PASSWORD),
            )
            .send()
            .await
            .expect("request");
        // Whole seconds, and a test runs in well under a minute of real time.
        let date = date_ms(&resp);
        assert!(
            (date - (T + offset)).abs() < 60_000,
            "offset {offset}: Date {date} vs {}",
            T + offset
        );
        // Answers that are not OData (admin, errors) carry it too.
        let admin = client()
            .get(format!("{}/_emulator/clock", emu.base_url()))
            .send()
            .await
            .expect("admin");
        assert!((date_ms(&admin) - (T + offset)).abs() < 60_000);
        let body = resp.text().await.expect("body");
        let stamp = json(&body)["d"]["results"][0]["personalInfoNav"]["results"]
            .as_array()
            .and_then(|slices| slices.iter().find(|s| s["lastName"] == "Skewed"))
            .and_then(|s| s["lastModifiedDateTime"].as_str().map(str::to_owned));
        // The name change is stamped by the tenant's (offset) clock.
        let stamp_ms = stamp
            .as_deref()
            .and_then(|s| {
                s.trim_start_matches("/Date(").split(['+', ')']).next()?.parse::<i64>().ok()
            })
            .unwrap_or_else(|| panic!("a stamped name slice: {body}"));
        assert!((stamp_ms - (T + offset)).abs() < 60_000, "offset {offset}: stamp {stamp_ms}");
        emu.shutdown().await;
    }
}
