//! The exact queries Microsoft Entra's SuccessFactors connector sends (full sync,
//! `$count` probe + delta, pre-hire), with assertions on wire shapes and on which
//! workers come back after HR events.

use crate::common;

use std::collections::HashSet;

use common::*;
use serde_json::{Value, json};
use sf_emulator::events::HrEvent;
use sf_emulator::time::{MS_PER_DAY, format_day, ms_day};

fn is_date(v: &Value) -> bool {
    v.as_str().is_some_and(|s| s.starts_with("/Date(") && s.ends_with(")/") && !s.contains('+'))
}
fn is_dto(v: &Value) -> bool {
    v.as_str().is_some_and(|s| s.starts_with("/Date(") && s.ends_with("+0000)/"))
}

#[tokio::test]
async fn full_sync_returns_every_worker_with_termination_info_in_wire_shape() {
    let emu = start(400).await;
    let filter = format!(
        "(personEmpTerminationInfoNav/activeEmploymentsCount ne null) and (lastModifiedDateTime le datetimeoffset'{}')",
        ts(NOW_MS + 60_000)
    );
    let first = format!(
        "/odata/v2/PerPerson?$format=json&$filter={}&$expand={EXPAND}&customPageSize=100",
        enc(&filter)
    );

    let (status, body) = get(&emu, &first).await;
    assert_eq!(status, 200, "{body}");
    let page = json(&body);
    let results = page["d"]["results"].as_array().cloned().unwrap_or_default();
    assert_eq!(results.len(), 100);
    let next = page["d"]["__next"].as_str().unwrap_or_default();
    assert!(next.starts_with(&emu.base_url()) && next.contains("$skiptoken="), "{next}");

    let p = &results[0];
    assert_eq!(p["__metadata"]["type"], "SFOData.PerPerson");
    assert!(p["__metadata"]["uri"].as_str().unwrap_or_default().ends_with(&format!(
        "/odata/v2/PerPerson('{}')",
        p["personIdExternal"].as_str().unwrap_or_default()
    )));
    assert!(p["personId"].is_string(), "Int64 must be a JSON string: {}", p["personId"]);
    assert!(is_date(&p["dateOfBirth"]), "{}", p["dateOfBirth"]);
    assert!(is_dto(&p["lastModifiedDateTime"]), "{}", p["lastModifiedDateTime"]);
    assert!(
        p["countryOfBirthNav"]["__deferred"]["uri"].is_string(),
        "unexpanded navs are deferred"
    );
    assert!(p["personEmpTerminationInfoNav"]["activeEmploymentsCount"].is_number());
    let job = &p["employmentNav"]["results"][0]["jobInfoNav"]["results"][0];
    assert!(job["seqNumber"].is_string());
    assert!(
        job["__metadata"]["uri"]
            .as_str()
            .unwrap_or_default()
            .contains("EmpJob(seqNumber=1L,startDate=datetime'")
    );
    assert!(job["emplStatusNav"]["externalCode"].is_string());

    let all = all_pages(&emu, &first).await;
    let got: Vec<String> = ids(&all);
    let unique: HashSet<&String> = got.iter().collect();
    assert_eq!(unique.len(), got.len(), "no duplicates across pages");
    let scenarios = emu.scenarios();
    let null_info: HashSet<String> = scenarios
        .get(&sf_emulator::model::Scenario::TerminationInfoNull)
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .collect();
    assert!(!null_info.is_empty());
    assert_eq!(got.len(), 400 - null_info.len());
    assert!(
        got.iter().all(|id| !null_info.contains(id)),
        "persons with null termination info are filtered out"
    );

    // $count agrees with the paged result.
    let (status, count) =
        get(&emu, &format!("/odata/v2/PerPerson/$count?$format=json&$filter={}", enc(&filter)))
            .await;
    assert_eq!((status, count.trim().parse::<usize>().ok()), (200, Some(got.len())));

    // Conversions: the old employment's userNav is null; terminated workers: count 0 and T.
    let by_id =
        |id: &str| all.iter().find(|p| p["personIdExternal"] == id).cloned().unwrap_or(Value::Null);
    let conv = by_id(&scenario_person(&emu, "conversion", 0));
    let emps = conv["employmentNav"]["results"].as_array().cloned().unwrap_or_default();
    assert_eq!(emps.len(), 2);
    assert!(
        emps.iter().any(|e| e["userNav"].is_null())
            && emps.iter().any(|e| e["userNav"].is_object())
    );
    let term = by_id(&scenario_person(&emu, "terminated", 0));
    assert_eq!(term["personEmpTerminationInfoNav"]["activeEmploymentsCount"], 0);
    assert!(is_date(&term["personEmpTerminationInfoNav"]["latestTerminationDate"]));
    assert_eq!(
        term["employmentNav"]["results"][0]["jobInfoNav"]["results"][0]["emplStatusNav"]["externalCode"],
        "T"
    );
    // Pre-hires: default asOfDate (today) shows no personal/job slice yet.
    let pre = by_id(&scenario_person(&emu, "pre_hire_onboarding", 0));
    assert_eq!(pre["personalInfoNav"]["results"], json!([]));
    assert_eq!(pre["employmentNav"]["results"][0]["jobInfoNav"]["results"], json!([]));
    assert_eq!(pre["employmentNav"]["results"][0]["userNav"]["status"], "active_external_suite");
    emu.shutdown().await;
}

#[tokio::test]
async fn delta_window_sees_a_change_in_each_effective_dated_entity_and_future_changes_only_when_due()
 {
    let emu = start(300).await;
    let active = |n| scenario_person(&emu, "active", n);
    let (name, job, email, phone, term, user_only, future, untouched) =
        (active(0), active(1), active(2), active(3), active(4), active(5), active(6), active(7));
    let last = emu.now_ms();
    emu.advance_ms(60_000);
    let today = ms_day(emu.now_ms());
    let events = [
        HrEvent::NameChange {
            person_id_external: name.clone(),
            effective: None,
            first_name: Some("Zoë".into()),
            last_name: Some("O'Neil".into()),
            preferred_name: None,
        },
        HrEvent::Transfer {
            person_id_external: job.clone(),
            effective: None,
            department: Some("D105".into()),
            location: None,
            company: None,
            manager_id: None,
            job_title: Some("Moved".into()),
        },
        HrEvent::EmailChange {
            person_id_external: email.clone(),
            email_type: "B".into(),
            address: Some("new.address@ace.example.com".into()),
            is_primary: Some(true),
        },
        HrEvent::PhoneChange {
            person_id_external: phone.clone(),
            phone_type: "C".into(),
            number: Some("5550199".into()),
            is_primary: None,
        },
        HrEvent::Terminate {
            person_id_external: term.clone(),
            last_day: format_day(today + 1),
            user_id: None,
        },
        HrEvent::FutureDatedChange {
            person_id_external: future.clone(),
            effective: format_day(today + 3),
            entity: "EmpJob".into(),
            set: json!({"jobTitle": "Future Title"}).as_object().cloned().unwrap_or_default(),
        },
    ];
    for e in &events {
        if let Err(err) = emu.apply(e) {
            panic!("{e:?}: {err}");
        }
    }
    let hire = emu.apply(&HrEvent::Hire {
        person_id_external: None,
        first_name: Some("New".into()),
        last_name: Some("Hire".into()),
        start_date: None,
        company: None,
        manager_id: None,
    });
    let hired = hire.map(|o| o.person_id_external).unwrap_or_default();
    // A User-only change: a transfer of the manager bumps the User too; use the upsert path instead.
    let uid = emu
        .worker(&user_only)
        .and_then(|p| p.employments.first().map(|e| e.user_id.clone()))
        .unwrap_or_default();
    let upsert = common::client()
        .post(format!("{}/odata/v2/upsert", emu.base_url()))
        .basic_auth(USER, Some(PASSWORD))
        .json(&json!({"__metadata": {"uri": format!("User('{uid}')")}, "username": "renamed.user"}))
        .send()
        .await;
    assert!(upsert.is_ok_and(|r| r.status().is_success()));
    emu.advance_ms(1000);
    let now = emu.now_ms();

    let day = MS_PER_DAY;
    let prev_start = (now / day - 1) * day;
    let filter = delta_filter(&ts(last), &ts(now), &ts(prev_start), &ts(prev_start + day - 1000));
    let (status, count) =
        get(&emu, &format!("/odata/v2/PerPerson/$count?$format=json&$filter={}", enc(&filter)))
            .await;
    assert_eq!(status, 200, "{count}");
    let results = all_pages(
        &emu,
        &format!(
            "/odata/v2/PerPerson?$format=json&$filter={}&$expand={EXPAND}&customPageSize=100",
            enc(&filter)
        ),
    )
    .await;
    let got: HashSet<String> = ids(&results).into_iter().collect();
    assert_eq!(count.trim().parse::<usize>().ok(), Some(got.len()));
    for (what, id) in [
        ("PerPersonal", &name),
        ("EmpJob", &job),
        ("PerEmail", &email),
        ("PerPhone", &phone),
        ("EmpEmployment", &term),
        ("User", &user_only),
        ("PerPerson (hire)", &hired),
    ] {
        assert!(got.contains(id), "{what} change of {id} missing from the delta window");
    }
    assert!(!got.contains(&untouched), "an untouched worker is not in the window");
    assert!(!got.contains(&future), "a change effective in 3 days is not yet in the window");

    // Three days later the future-dated slice becomes effective: its startDate is in the next window.
    let next_last = now;
    emu.advance_ms(3 * day);
    let later = emu.now_ms();
    let filter = delta_filter(
        &ts(next_last),
        &ts(later),
        &ts((later / day - 1) * day),
        &ts((later / day) * day - 1000),
    );
    let results = all_pages(
        &emu,
        &format!("/odata/v2/PerPerson?$format=json&$filter={}&$expand={EXPAND}", enc(&filter)),
    )
    .await;
    let got: HashSet<String> = ids(&results).into_iter().collect();
    assert!(got.contains(&future), "future-dated change shows up once effective");
    assert!(!got.contains(&email), "an old change is outside the new window");
    let fut = results
        .iter()
        .find(|p| p["personIdExternal"] == future.as_str())
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        fut["employmentNav"]["results"][0]["jobInfoNav"]["results"][0]["jobTitle"],
        "Future Title"
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn prehire_query_with_as_of_date_returns_the_future_slices() {
    let emu = start(300).await;
    for (scenario, status) in [
        ("pre_hire_active", "active"),
        ("pre_hire_inactive", "inactive"),
        ("pre_hire_onboarding", "active_external_suite"),
    ] {
        let id = scenario_person(&emu, scenario, 0);
        let start = emu.worker(&id).map(|p| p.employments[0].start).unwrap_or_default();
        let filter =
            format!("(personIdExternal in '{id}' and employmentNav/userNav/status in 't','f','e')");
        let url = format!(
            "/odata/v2/PerPerson?$format=json&$filter={}&asOfDate={}&$expand={EXPAND}",
            enc(&filter),
            format_day(start)
        );
        let (code, body) = get(&emu, &url).await;
        assert_eq!(code, 200, "{body}");
        let v = json(&body);
        let results = v["d"]["results"].as_array().cloned().unwrap_or_default();
        assert_eq!(results.len(), 1, "{scenario}");
        let p = &results[0];
        assert_eq!(
            p["personalInfoNav"]["results"].as_array().map(Vec::len),
            Some(1),
            "{scenario}: personal slice as of the start date"
        );
        let emp = &p["employmentNav"]["results"][0];
        assert_eq!(emp["userNav"]["status"], status);
        assert!(
            emp["userNav"]["username"].is_null(),
            "no username before onboarding writes it back"
        );
        assert_eq!(emp["jobInfoNav"]["results"].as_array().map(Vec::len), Some(1));
        assert!(v["d"].get("__next").is_none(), "single page: no __next");
    }
    // An active worker does not match the pre-hire status filter... but does match 't' (active).
    let active = scenario_person(&emu, "terminated", 0);
    let filter =
        format!("(personIdExternal in '{active}' and employmentNav/userNav/status in 't','e')");
    let (_, body) =
        get(&emu, &format!("/odata/v2/PerPerson?$format=json&$filter={}", enc(&filter))).await;
    assert_eq!(
        json(&body)["d"]["results"],
        json!([]),
        "a terminated (inactive) user is not t or e"
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn effective_dating_parameters_on_effective_dated_sets() {
    let emu = start(200).await;
    let id = scenario_person(&emu, "future_dated_change", 0);
    let person = emu.worker(&id).unwrap_or_else(|| panic!("{id}"));
    let jobs = person.employments[0].jobs.len();
    let user = person.employments[0].user_id.clone();
    let filter = enc(&format!("userId eq '{user}'"));
    let count = |body: &str| json(body)["d"]["results"].as_array().map(Vec::len).unwrap_or(0);
    let (_, today) = get(&emu, &format!("/odata/v2/EmpJob?$format=json&$filter={filter}")).await;
    assert_eq!(count(&today), 1, "default: only today's slice");
    let (_, all) = get(
        &emu,
        &format!(
            "/odata/v2/EmpJob?$format=json&$filter={filter}&fromDate=1900-01-01&toDate=9999-12-31"
        ),
    )
    .await;
    assert_eq!(count(&all), jobs, "full history");
    let future_start = person.employments[0].jobs.last().map(|j| j.start).unwrap_or_default();
    let (_, asof) = get(
        &emu,
        &format!(
            "/odata/v2/EmpJob?$format=json&$filter={filter}&asOfDate={}",
            format_day(future_start)
        ),
    )
    .await;
    let v = json(&asof);
    assert_eq!(count(&asof), 1);
    assert!(
        v["d"]["results"][0]["endDate"].as_str() == Some("/Date(253402214400000)/"),
        "open end date"
    );
    emu.shutdown().await;
}
