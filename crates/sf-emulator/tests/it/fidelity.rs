//! Issue 12: the emulator refuses what SuccessFactors refuses and accepts
//! what real clients send. One table-driven test per finding of
//! shared/emulator-fidelity.md, each checking status, code and message shape
//! against the cited SuccessFactors behaviour (KBA numbers, R1-R8 of
//! emulator-fidelity-sources.md).

use crate::common;

use common::*;
use serde_json::{Value, json};
use sf_emulator::time::{DataCentre, MAX_NOW_MS, MS_PER_DAY};
use sf_emulator::{Emulator, EmulatorError, RunningEmulator, TenantFields};

/// GET with Basic auth and extra headers; (status, content type, body, headers).
async fn fetch(
    emu: &RunningEmulator,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, String, String, reqwest::header::HeaderMap) {
    fetch_url(&format!("{}{path}", emu.base_url()), headers).await
}

async fn fetch_url(
    url: &str,
    headers: &[(&str, &str)],
) -> (u16, String, String, reqwest::header::HeaderMap) {
    let mut req = client().get(url).basic_auth(USER, Some(PASSWORD));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let r = req.send().await.unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = r.status().as_u16();
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let h = r.headers().clone();
    (status, ct, r.text().await.unwrap_or_default(), h)
}

/// Request headers of a table row.
type Headers<'a> = Vec<(&'a str, &'a str)>;

async fn post(
    emu: &RunningEmulator,
    path: &str,
    headers: &[(&str, &str)],
    body: String,
) -> (u16, String, String) {
    let mut req = client()
        .post(format!("{}{path}", emu.base_url()))
        .basic_auth(USER, Some(PASSWORD))
        .body(body);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let r = req.send().await.unwrap_or_else(|e| panic!("POST {path}: {e}"));
    let status = r.status().as_u16();
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (status, ct, r.text().await.unwrap_or_default())
}

/// Posts an upsert body as JSON asking for a JSON answer.
async fn upsert_json(emu: &RunningEmulator, body: &Value) -> (u16, Value) {
    let (status, _, text) = post(
        emu,
        "/odata/v2/upsert",
        &[("content-type", "application/json"), ("accept", "application/json")],
        body.to_string(),
    )
    .await;
    (status, json(&text))
}

/// The document is well-formed XML (every element closed, entities valid).
fn assert_xml(text: &str) {
    let mut reader = quick_xml::Reader::from_str(text);
    let mut depth = 0i32;
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Start(_)) => depth += 1,
            Ok(quick_xml::events::Event::End(_)) => depth -= 1,
            Ok(quick_xml::events::Event::Eof) => break,
            Ok(_) => {}
            Err(e) => panic!("not well-formed XML ({e}): {}", &text[..text.len().min(400)]),
        }
    }
    assert_eq!(depth, 0, "unbalanced XML");
}

fn error_of(v: &Value) -> (String, String) {
    (
        v["error"]["code"].as_str().unwrap_or_default().to_owned(),
        v["error"]["message"]["value"].as_str().unwrap_or_default().to_owned(),
    )
}

// ----- more lenient than a tenant ------------------------------------------

/// 1. Atom XML (and XML error bodies) unless JSON is asked for (OData v2
/// default; KBA-2489065 `<link rel="next">`, KBA-2994898 XML error).
#[tokio::test]
async fn atom_xml_unless_json_is_asked_for() {
    let emu = start(30).await;
    let id = scenario_person(&emu, "active", 0);
    let list = "/odata/v2/PerPerson?customPageSize=2&$expand=emailNav&$inlinecount=allpages";
    // (path, headers, JSON expected)
    let cases: Vec<(String, Headers<'_>, bool)> = vec![
        (list.to_owned(), vec![], false),
        (list.to_owned(), vec![("accept", "*/*")], false),
        (list.to_owned(), vec![("accept", "application/atom+xml")], false),
        (list.to_owned(), vec![("accept", "application/xml,application/json")], false),
        (format!("{list}&$format=atom"), vec![("accept", "application/json")], false),
        (format!("{list}&$format=xml"), vec![], false),
        (list.to_owned(), vec![("accept", "application/json")], true),
        (list.to_owned(), vec![("accept", "application/json;q=0.9, */*;q=0.1")], true),
        (format!("{list}&$format=json"), vec![], true),
        (format!("{list}&$format=JSON"), vec![("accept", "application/atom+xml")], true),
    ];
    for (path, headers, want_json) in &cases {
        let (status, ct, body, _) = fetch(&emu, path, headers).await;
        assert_eq!(status, 200, "{path} {headers:?}: {body}");
        if *want_json {
            assert!(ct.starts_with("application/json"), "{path} {headers:?}: {ct}");
            let v = json(&body);
            assert_eq!(v["d"]["results"].as_array().map(Vec::len), Some(2));
            assert_eq!(v["d"]["__count"], "30");
        } else {
            assert!(ct.starts_with("application/atom+xml"), "{path} {headers:?}: {ct}");
            assert_xml(&body);
            assert!(
                body.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed "),
                "{body}"
            );
            assert_eq!(body.matches("<category term=\"SFOData.PerPerson\"").count(), 2);
            assert!(body.contains("<m:count>30</m:count>"));
            assert!(body.contains("<link rel=\"next\" href=\"http://127.0.0.1:"), "{body}");
            assert!(body.contains("<d:personIdExternal>"), "{body}");
        }
    }
    // A single entity: an entry document.
    let (status, ct, body, _) = fetch(&emu, &format!("/odata/v2/PerPerson('{id}')"), &[]).await;
    assert_eq!((status, ct.starts_with("application/atom+xml")), (200, true), "{body}");
    assert_xml(&body);
    assert!(body.contains("<entry xml:base="), "{body}");
    assert!(body.contains(&format!("<d:personIdExternal>{id}</d:personIdExternal>")));

    // Errors in the format asked for (KBA-2994898 shows the XML form).
    let errors: Vec<(&str, Headers<'_>, u16, &str, bool)> = vec![
        ("/odata/v2/PerPerson?$select=nope", vec![], 400, "COE_PROPERTY_NOT_FOUND", false),
        (
            "/odata/v2/PerPerson?$select=nope&$format=json",
            vec![],
            400,
            "COE_PROPERTY_NOT_FOUND",
            true,
        ),
        ("/odata/v2/Nope", vec![("accept", "application/json")], 400, "COE_ENTITY_NOT_FOUND", true),
        ("/odata/v2/Nope", vec![], 400, "COE_ENTITY_NOT_FOUND", false),
        ("/odata/v2/PerPerson('nobody')", vec![], 404, "COE_RESOURCE_NOT_FOUND", false),
    ];
    for (path, headers, status, code, want_json) in errors {
        let (got, ct, body, _) = fetch(&emu, path, &headers).await;
        assert_eq!(got, status, "{path}: {body}");
        if want_json {
            assert!(ct.starts_with("application/json"), "{path}: {ct}");
            assert_eq!(error_of(&json(&body)).0, code, "{path}");
        } else {
            assert!(ct.starts_with("application/xml"), "{path}: {ct}");
            assert_xml(&body);
            assert!(
                body.contains(&format!(
                    "<error xmlns=\"http://schemas.microsoft.com/ado/2007/08/dataservices/metadata\"><code>{code}</code><message lang=\"en-US\">"
                )),
                "{path}: {body}"
            );
        }
    }
    // Authentication failures too.
    let r = client().get(format!("{}/odata/v2/PerPerson", emu.base_url())).send().await;
    let r = r.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status().as_u16(), 401);
    let body = r.text().await.unwrap_or_default();
    assert!(body.contains("<code>LGN0011</code>"), "{body}");
    // $count stays text/plain in both.
    let (status, ct, body, _) = fetch(&emu, "/odata/v2/PerPerson/$count", &[]).await;
    assert_eq!((status, ct.as_str(), body.as_str()), (200, "text/plain;charset=utf-8", "30"));
    emu.shutdown().await;
}

fn email_record(id: &str, n: usize) -> Value {
    json!({"__metadata": {"uri": format!("PerEmail(emailType='8449',personIdExternal='{id}')")}, "emailAddress": format!("bulk{n}@home.example"), "isPrimary": false})
}

/// 2. More than 1,000 records: rejected whole, 400 `BadRequestException`
/// (KBA-3145174), in JSON and XML; 1,000 are fine.
#[tokio::test]
async fn upsert_of_more_than_1000_records_is_rejected_whole() {
    let emu = start(20).await;
    let id = scenario_person(&emu, "active", 1);
    let before = emu.worker(&id).map(|p| p.emails.len());
    let records: Vec<Value> = (0..1001).map(|n| email_record(&id, n)).collect();
    let (status, v) = upsert_json(&emu, &json!(records)).await;
    assert_eq!(status, 400, "{v}");
    assert_eq!(
        v,
        json!({"error":{"code":"BadRequestException","message":{"lang":"en-US","value":"Upsert content exceeds the limitation, the maximum size is 1000"}}})
    );
    assert_eq!(emu.worker(&id).map(|p| p.emails.len()), before, "nothing written");
    let (status, ct, body) = post(
        &emu,
        "/odata/v2/upsert",
        &[("content-type", "application/json")],
        json!(records).to_string(),
    )
    .await;
    assert_eq!(status, 400);
    assert!(ct.starts_with("application/xml"), "{ct}");
    assert!(body.contains("<code>BadRequestException</code><message lang=\"en-US\">Upsert content exceeds the limitation, the maximum size is 1000</message>"), "{body}");
    let (status, v) = upsert_json(&emu, &json!(records[..1000])).await;
    assert_eq!(status, 200);
    assert_eq!(v["d"].as_array().map(Vec::len), Some(1000));
    emu.shutdown().await;
}

/// 3. Upsert payloads are checked against the metadata before anything is
/// written (top-level errors with the record's index), business rules fail
/// one record with `httpCode` 500 (R5).
#[tokio::test]
async fn upsert_payloads_are_checked_against_the_metadata() {
    let emu = start(40).await;
    let id = scenario_person(&emu, "active", 2);
    let user = emu
        .worker(&id)
        .and_then(|p| p.employments.first().map(|e| e.user_id.clone()))
        .unwrap_or_default();
    let ok = email_record(&id, 0);
    let uri = format!("PerEmail(emailType='8448',personIdExternal='{id}')");
    // (second record, status, code, message)
    let cases: Vec<(Value, u16, &str, String)> = vec![
        (
            json!({"__metadata": {"uri": uri}, "emailAdress": "typo@x.example"}),
            400,
            "COE_PROPERTY_NOT_FOUND",
            "[COE0021]Invalid property names: PerEmail/emailAdress. with the index 1".into(),
        ),
        (
            json!({"__metadata": {"uri": uri}, "emailAddress": "a@x.example", "createdDateTime": "/Date(1700000000000+0000)/"}),
            400,
            "COE_PROPERTY_NOT_UPSERTABLE",
            "[COE0030]Property createdDateTime is not insertable. Please check the property setting in Admin Center > OData API Data Dictionary or the entity metadata. with the index 1".into(),
        ),
        (
            json!({"__metadata": {"uri": uri}, "emailAddress": "a@x.example", "lastModifiedOn": "/Date(1700000000000)/"}),
            400,
            "COE_PROPERTY_NOT_UPSERTABLE",
            "[COE0030]Property lastModifiedOn is not insertable. Please check the property setting in Admin Center > OData API Data Dictionary or the entity metadata. with the index 1".into(),
        ),
        (
            json!({"__metadata": {"uri": uri}, "emailAddress": "a@x.example", "emailTypeNav": {"__deferred": {"uri": "x"}}}),
            400,
            "COE_PROPERTY_NOT_UPSERTABLE",
            "[COE0030]Property emailTypeNav is not insertable. Please check the property setting in Admin Center > OData API Data Dictionary or the entity metadata. with the index 1".into(),
        ),
        (
            json!({"__metadata": {"uri": format!("User('{user}')")}, "status": "e"}),
            500,
            "COE_GENERAL_SERVER_FAILURE",
            "[COE0019]Invalid property value. Property name:status. Property value:e.\n with the index 1".into(),
        ),
        (
            json!({"__metadata": {"uri": format!("User('{user}')")}, "jobTitle": "Boss"}),
            400,
            "COE_PROPERTY_NOT_FOUND",
            "[COE0021]Invalid property names: User/jobTitle. with the index 1".into(),
        ),
        (
            json!({"__metadata": {"uri": format!("PerEmail(emailType='8448',personIdExternal='{id}')")}, "isPrimary": {"x": 1}}),
            500,
            "COE_GENERAL_SERVER_FAILURE",
            "[COE0019]Invalid property value. Property name:isPrimary. Property value:{\"x\":1}.\n with the index 1".into(),
        ),
        (
            json!({"__metadata": {"uri": "FormHeader(1)"}, "x": 1}),
            400,
            "COE_ENTITY_NOT_FOUND",
            "[COE0007]invalid entity (or function) name: FormHeader with the index 1".into(),
        ),
    ];
    let before = emu.worker(&id).map(|p| serde_json::to_string(&p.emails).unwrap_or_default());
    for (bad, status, code, message) in cases {
        let (got, v) = upsert_json(&emu, &json!([ok, bad])).await;
        assert_eq!(got, status, "{bad}: {v}");
        assert_eq!(error_of(&v), (code.to_owned(), message), "{bad}");
        let now = emu.worker(&id).map(|p| serde_json::to_string(&p.emails).unwrap_or_default());
        assert_eq!(now, before, "{bad}: the valid record 0 was not written either");
    }
    // A record copied from a read (with its audit stamps) fails as on SuccessFactors.
    let (_, body) = get(&emu, &format!("/odata/v2/{uri}?$format=json")).await;
    let mut read = json(&body)["d"].clone();
    read["emailAddress"] = json!("copied@ace.example.com");
    let (status, v) = upsert_json(&emu, &read).await;
    assert_eq!(status, 400, "{v}");
    assert!(error_of(&v).1.starts_with("[COE0030]Property "), "{v}");

    // Business rules: per record, HTTP 200, httpCode 500.
    let rules = [
        json!({"__metadata": {"uri": "PerEmail"}, "personIdExternal": "nobody", "emailType": "8448", "emailAddress": "x@y.z"}),
        json!({"__metadata": {"uri": format!("PerEmail(emailType='4595',personIdExternal='{id}')")}, "emailAddress": "x@y.z"}),
        json!({"__metadata": {"uri": format!("PerPhone(personIdExternal='{id}',phoneType='10606')")}, "phoneNumber": "1", "isPrimary": "maybe"}),
        json!({"__metadata": {"uri": "User('nobody')"}, "email": "x@y.z"}),
    ];
    let (status, v) = upsert_json(&emu, &json!(rules)).await;
    assert_eq!(status, 200, "{v}");
    for (i, r) in v["d"].as_array().cloned().unwrap_or_default().iter().enumerate() {
        assert_eq!(
            (r["status"].as_str(), r["httpCode"].as_i64(), r["index"].as_u64()),
            (Some("ERROR"), Some(500), Some(i as u64)),
            "{r}"
        );
        assert!(
            r["message"].as_str().unwrap_or_default().ends_with(&format!("with the index {i}")),
            "{r}"
        );
    }
    // A valid User write through upsert changes the data (status t/f included).
    let (status, v) = upsert_json(
        &emu,
        &json!({"__metadata": {"uri": format!("User('{user}')"), "type": "SFOData.User"}, "username": "renamed", "status": "f", "timeZone": "Europe/Berlin"}),
    )
    .await;
    assert_eq!((status, v["d"][0]["status"].as_str()), (200, Some("OK")), "{v}");
    let (_, body) = get(&emu, &format!("/odata/v2/User('{user}')?$format=json")).await;
    let u = json(&body)["d"].clone();
    assert_eq!(
        (u["username"].as_str(), u["status"].as_str(), u["timeZone"].as_str()),
        (Some("renamed"), Some("inactive"), Some("Europe/Berlin"))
    );
    emu.shutdown().await;
}

/// 4. The schema holds only what a real tenant has.
#[tokio::test]
async fn tenant_configured_fields_exist_only_when_configured() {
    let bare = Emulator::builder()
        .workers(20)
        .now_ms(NOW_MS)
        .tenant_fields(TenantFields::none())
        .start()
        .await;
    let bare = bare.unwrap_or_else(|e| panic!("{e}"));
    let default = start(20).await;
    let all = Emulator::builder()
        .workers(20)
        .now_ms(NOW_MS)
        .tenant_fields(TenantFields::all())
        .start()
        .await;
    let all = all.unwrap_or_else(|e| panic!("{e}"));
    // (query, bare, default, all): true = 200.
    let cases = [
        ("$select=employmentNav/customString1&$expand=employmentNav", false, true, true),
        ("$select=employmentNav/okToRehire&$expand=employmentNav", false, false, true),
        ("$filter=employmentNav/jobInfoNav/customString7%20eq%20'x'", false, false, true),
        ("$select=personalInfoNav/displayName&$expand=personalInfoNav", false, true, true),
        (
            "$filter=personEmpTerminationInfoNav/lastModifiedDateTime%20ge%20datetimeoffset'2020-01-01T00:00:00Z'",
            false,
            false,
            false,
        ),
        (
            "$select=employmentNav/userNav/displayName&$expand=employmentNav/userNav",
            false,
            false,
            false,
        ),
        (
            "$select=employmentNav/userNav/jobTitle&$expand=employmentNav/userNav",
            false,
            false,
            false,
        ),
        ("$select=employmentNav/userNav/title&$expand=employmentNav/userNav", true, true, true),
        ("$expand=employmentNav/empGlobalAssignmentNav/companyNav", false, false, false),
    ];
    for (q, b, d, a) in cases {
        for (emu, want) in [(&bare, b), (&default, d), (&all, a)] {
            let (status, body) =
                get(emu, &format!("/odata/v2/PerPerson?$format=json&$top=1&{q}")).await;
            assert_eq!(status == 200, want, "{q}: {status} {body}");
            if !want {
                assert_eq!(
                    (status, error_of(&json(&body)).0.as_str()),
                    (400, "COE_PROPERTY_NOT_FOUND"),
                    "{q}"
                );
                assert!(
                    error_of(&json(&body)).1.starts_with("[COE0021]Invalid property names: "),
                    "{body}"
                );
            }
        }
    }
    // Rendering and $metadata agree with the configuration.
    let (_, body) = get(&bare, "/odata/v2/EmpEmployment?$format=json&$top=1").await;
    let e = json(&body)["d"]["results"][0].clone();
    assert!(e.get("customString1").is_none() && e.get("isContingentWorker").is_none(), "{e}");
    assert!(e.get("hiringNotCompleted").is_some());
    let (_, body) = get(&all, "/odata/v2/EmpEmployment?$format=json&$top=1").await;
    let e = json(&body)["d"]["results"][0].clone();
    assert!(e.get("okToRehire").is_some() && e.get("customString15").is_some(), "{e}");
    let (_, x) = get(&bare, "/odata/v2/$metadata").await;
    assert!(!x.contains("customString") && !x.contains("okToRehire"));
    for emu in [bare, default, all] {
        emu.shutdown().await;
    }
}

/// 5. `$inlinecount=allpages` counts every match, not the page (R8:
/// `$top=1` answers `"__count":"91"`).
#[tokio::test]
async fn inlinecount_counts_every_matching_entity() {
    let emu = start(60).await;
    let filter = enc("personEmpTerminationInfoNav/activeEmploymentsCount ne null");
    let (_, count) = get(&emu, &format!("/odata/v2/PerPerson/$count?$filter={filter}")).await;
    for q in [
        format!("$top=1&$filter={filter}"),
        format!("$skip=50&$filter={filter}"),
        format!("$top=3&$skip=2&$filter={filter}"),
        format!("customPageSize=10&paging=snapshot&$filter={filter}"),
        format!("customPageSize=10&$filter={filter}"),
    ] {
        let mut url =
            format!("{}/odata/v2/PerPerson?$format=json&$inlinecount=allpages&{q}", emu.base_url());
        for _page in 0..3 {
            let (status, body) = get_url(&url).await;
            assert_eq!(status, 200, "{q}: {body}");
            let v = json(&body);
            assert_eq!(v["d"]["__count"].as_str(), Some(count.as_str()), "{q}");
            match v["d"]["__next"].as_str() {
                Some(n) => url = n.to_owned(),
                None => break,
            }
        }
    }
    emu.shutdown().await;
}

/// 6. `createdOn`/`lastModifiedOn` are the data centre's wall clock with
/// daylight saving (R3 +2 h in April on a European DC, R4 0 h), and no
/// record is modified before it was created.
#[tokio::test]
async fn on_fields_follow_the_data_centre_clock_and_audit_stamps_are_plausible() {
    let europe_offset =
        |ms: i64| sf_emulator::time::LocalTime::new(DataCentre::Europe).local(ms) - ms;
    for (dc, expect) in [(DataCentre::Europe, None), (DataCentre::Utc, Some(0))] {
        let emu =
            Emulator::builder().workers(150).seed(42).now_ms(NOW_MS).data_centre(dc).start().await;
        let emu = emu.unwrap_or_else(|e| panic!("{e}"));
        let mut offsets = std::collections::BTreeSet::new();
        let mut checked = 0;
        for set in ["PerPerson", "PerEmail", "PerPhone", "EmpEmployment", "EmpJob", "PerPersonal"] {
            let all =
                all_pages(&emu, &format!("/odata/v2/{set}?$format=json&fromDate=1900-01-01")).await;
            for r in &all {
                let ms = |k: &str| {
                    r[k].as_str()
                        .and_then(|s| sf_odata::value::parse_wire_date(s).ok())
                        .map(|(ms, _)| ms)
                };
                let (Some(c), Some(cdt), Some(m), Some(mdt)) = (
                    ms("createdOn"),
                    ms("createdDateTime"),
                    ms("lastModifiedOn"),
                    ms("lastModifiedDateTime"),
                ) else {
                    panic!("{set}: audit fields missing in {r}");
                };
                assert!(cdt <= mdt, "{set}: created {cdt} after modified {mdt}: {r}");
                let want = |utc: i64| expect.unwrap_or_else(|| europe_offset(utc));
                assert_eq!(c - cdt, want(cdt), "{set} createdOn");
                assert_eq!(m - mdt, want(mdt), "{set} lastModifiedOn");
                offsets.insert(m - mdt);
                checked += 1;
            }
        }
        assert!(checked > 500, "{checked}");
        match expect {
            Some(0) => assert_eq!(offsets.into_iter().collect::<Vec<_>>(), vec![0]),
            _ => assert_eq!(
                offsets.into_iter().collect::<Vec<_>>(),
                vec![3_600_000, 7_200_000],
                "winter and summer stamps"
            ),
        }
        emu.shutdown().await;
    }
    let us = sf_emulator::time::LocalTime::new(DataCentre::UsEast);
    assert_eq!(us.local(NOW_MS) - NOW_MS, -5 * 3_600_000);
}

/// 7. Links name the host the client called (`Host`), optionally with an
/// explicit port (KBA-2489065 `https://apisalesdemo4.successfactors.com:443/...`).
#[tokio::test]
async fn links_use_the_request_host() {
    let emu = start(30).await;
    let port = emu.addr().port();
    let host = format!("localhost:{port}");
    let page = "/odata/v2/PerPerson?$format=json&customPageSize=5";
    // (headers, expected link prefix)
    let cases: Vec<(Vec<(&str, &str)>, String)> = vec![
        (vec![], format!("http://127.0.0.1:{port}/odata/v2/")),
        (vec![("host", host.as_str())], format!("http://localhost:{port}/odata/v2/")),
        (
            vec![("host", "api4.example.com"), ("x-forwarded-proto", "https")],
            "https://api4.example.com/odata/v2/".to_owned(),
        ),
        // A Host that would break out of the URL is not echoed.
        (vec![("host", "evil.example/\"><x")], format!("http://127.0.0.1:{port}/odata/v2/")),
    ];
    for (headers, prefix) in &cases {
        let (status, _, body, _) = fetch(&emu, page, headers).await;
        assert_eq!(status, 200, "{headers:?}: {body}");
        let v = json(&body);
        let uri = v["d"]["results"][0]["__metadata"]["uri"].as_str().unwrap_or_default();
        let next = v["d"]["__next"].as_str().unwrap_or_default();
        let deferred =
            v["d"]["results"][0]["emailNav"]["__deferred"]["uri"].as_str().unwrap_or_default();
        for link in [uri, next, deferred] {
            assert!(link.starts_with(prefix.as_str()), "{headers:?}: {link}");
        }
    }
    emu.shutdown().await;
    let emu = Emulator::builder().workers(10).now_ms(NOW_MS).explicit_port(true).start().await;
    let emu = emu.unwrap_or_else(|e| panic!("{e}"));
    for (headers, prefix) in [
        (
            vec![("host", "api4.example.com"), ("x-forwarded-proto", "https")],
            "https://api4.example.com:443/odata/v2/PerPerson",
        ),
        (vec![("host", "sf.example")], "http://sf.example:80/odata/v2/PerPerson"),
    ] {
        let (_, _, body, _) = fetch(&emu, page, &headers).await;
        let next = json(&body)["d"]["__next"].as_str().unwrap_or_default().to_owned();
        assert!(next.starts_with(prefix), "{next}");
    }
    emu.shutdown().await;
}

/// 8. Unknown entity set 400 `COE_ENTITY_NOT_FOUND` (KBA-2545055,
/// KBA-2546923); expanding a scalar `COE_BAD_PROPERTY_EXPRESSION [COE0003]`
/// (KBA-2584770); not-found messages keep their parentheses.
#[tokio::test]
async fn error_codes_and_messages() {
    let emu = start(20).await;
    let cases: &[(&str, u16, &str, &str)] = &[
        (
            "/odata/v2/FormHeader?$format=json",
            400,
            "COE_ENTITY_NOT_FOUND",
            "[COE0007]invalid entity (or function) name: FormHeader",
        ),
        (
            "/odata/v2/PerPerson?$format=json&$expand=personIdExternal",
            400,
            "COE_BAD_PROPERTY_EXPRESSION",
            "[COE0003]Bad property expression: personIdExternal; cannot expand non-navigation property: PerPerson/personIdExternal",
        ),
        (
            "/odata/v2/PerPerson?$format=json&$expand=employmentNav/jobInfoNav/jobTitle",
            400,
            "COE_BAD_PROPERTY_EXPRESSION",
            "[COE0003]Bad property expression: jobTitle; cannot expand non-navigation property: EmpJob/jobTitle",
        ),
        (
            "/odata/v2/PerPerson?$format=json&$expand=nopeNav",
            400,
            "COE_PROPERTY_NOT_FOUND",
            "[COE0021]Invalid property names: PerPerson/nopeNav.",
        ),
        (
            "/odata/v2/PerPerson('nope')?$format=json",
            404,
            "COE_RESOURCE_NOT_FOUND",
            "Resource not found for the segment 'PerPerson('nope')'.",
        ),
        (
            "/odata/v2/EmpJob(seqNumber=9L,startDate=datetime'2001-01-01T00:00:00',userId='nope')?$format=json",
            404,
            "COE_RESOURCE_NOT_FOUND",
            "Resource not found for the segment 'EmpJob(seqNumber=9L,startDate=datetime'2001-01-01T00:00:00',userId='nope')'.",
        ),
    ];
    for &(path, status, code, message) in cases {
        let (got, body) = get(&emu, path).await;
        assert_eq!(got, status, "{path}: {body}");
        assert_eq!(error_of(&json(&body)), (code.to_owned(), message.to_owned()), "{path}");
    }
    emu.shutdown().await;
}

/// 9. `EmpJob.event` is a picklist option id with `eventNav`, like
/// `emplStatus` (R1 `eventNav`; R3 FOEventReason `"event":"1051"`).
#[tokio::test]
async fn empjob_event_is_a_picklist_option_id() {
    let emu = start(40).await;
    let (status, body) = get(&emu, "/odata/v2/EmpJob?$format=json&$expand=eventNav,eventReasonNav/eventNav&fromDate=1900-01-01").await;
    assert_eq!(status, 200, "{body}");
    let jobs = json(&body)["d"]["results"].as_array().cloned().unwrap_or_default();
    assert!(!jobs.is_empty());
    for j in &jobs {
        let event = j["event"].as_str().unwrap_or_default();
        assert!(!event.is_empty() && event.bytes().all(|b| b.is_ascii_digit()), "{}", j["event"]);
        assert_eq!(j["eventNav"]["id"].as_str(), Some(event), "eventNav is the option");
        assert_eq!(j["eventReasonNav"]["eventNav"]["id"].as_str(), Some(event));
        assert_eq!(j["eventReasonNav"]["event"].as_str(), Some(event));
    }
    let hire = jobs.iter().find(|j| j["eventReason"] == "HIRE").cloned().unwrap_or(Value::Null);
    assert_eq!(
        (hire["event"].as_str(), hire["eventNav"]["externalCode"].as_str()),
        (Some("1051"), Some("H"))
    );
    emu.shutdown().await;
}

// ----- stricter than a tenant ---------------------------------------------

/// `$metadata` declares `upsert` and the `sap:` annotations; the service
/// document lists the sets.
#[tokio::test]
async fn metadata_function_import_and_service_document() {
    let emu = start(10).await;
    let (status, ct, x, _) = fetch(&emu, "/odata/v2/$metadata", &[]).await;
    assert_eq!((status, ct.starts_with("application/xml")), (200, true));
    assert_xml(&x);
    assert!(x.contains(r#"<FunctionImport Name="upsert" ReturnType="Collection(SFOData.UpsertResult)" EntitySet="UpsertResult" m:HttpMethod="POST""#));
    assert!(x.contains(r#"sap:upsertable="false""#) && x.contains(r#"MaxLength="100""#));
    for (path, headers, json_doc) in [
        ("/odata/v2/", vec![], false),
        ("/odata/v2", vec![], false),
        ("/odata/v2/?$format=json", vec![], true),
        ("/odata/v2/", vec![("accept", "application/json")], true),
    ] {
        let (status, ct, body, _) = fetch(&emu, path, &headers).await;
        assert_eq!(status, 200, "{path}: {body}");
        if json_doc {
            let sets = json(&body)["d"]["EntitySets"].as_array().cloned().unwrap_or_default();
            assert!(
                sets.contains(&json!("PerPerson"))
                    && sets.contains(&json!("EmpEmploymentTermination")),
                "{body}"
            );
        } else {
            assert!(ct.starts_with("application/atomsvc+xml"), "{ct}");
            assert_xml(&body);
            assert!(body.contains(r#"<collection href="PerPerson"><atom:title>PerPerson</atom:title></collection>"#), "{body}");
        }
    }
    emu.shutdown().await;
}

/// Entra's documented delta and pre-hire expansions work, with the
/// navigations they and real tenants have.
#[tokio::test]
async fn entras_delta_expand_and_the_missing_navigations() {
    let emu = start(60).await;
    let expand = "employmentNav/userNav,employmentNav/jobInfoNav,personalInfoNav,personEmpTerminationInfoNav,phoneNav,emailNav,employmentNav/userNav/manager/empInfo,employmentNav/jobInfoNav/companyNav,employmentNav/jobInfoNav/departmentNav,employmentNav/jobInfoNav/locationNav,employmentNav/jobInfoNav/locationNav/addressNavDEFLT,employmentNav/jobInfoNav/locationNav/addressNavDEFLT/stateNav";
    let id = scenario_person(&emu, "active", 4);
    let (status, body) = get(&emu, &format!("/odata/v2/PerPerson('{id}')?$format=json&$expand={expand},nationalIdNav,homeAddressNavDEFLT,emailNav/personNav,employmentNav/jobInfoNav/eventNav,employmentNav/jobInfoNav/countryOfCompanyNav,employmentNav/jobInfoNav/managerEmploymentNav,employmentNav/jobInfoNav/locationNav/addressNavDEFLT/countryNav")).await;
    assert_eq!(status, 200, "{body}");
    let p = json(&body)["d"].clone();
    let job = &p["employmentNav"]["results"][0]["jobInfoNav"]["results"][0];
    let address = &job["locationNav"]["addressNavDEFLT"];
    assert_eq!(address["stateNav"]["__metadata"]["type"], "SFOData.PicklistOption");
    assert_eq!(address["stateNav"]["externalCode"], address["state"], "{address}");
    assert_eq!(address["countryNav"]["externalCode"], address["country"]);
    assert_eq!(job["countryOfCompanyNav"]["externalCode"], job["countryOfCompany"]);
    assert!(job["managerEmploymentNav"].is_object() || job["managerId"] == "NO_MANAGER", "{job}");
    assert_eq!(p["nationalIdNav"], json!({"results": []}));
    assert_eq!(p["homeAddressNavDEFLT"], json!({"results": []}));
    assert_eq!(
        p["emailNav"]["results"][0]["personNav"]["personIdExternal"].as_str(),
        Some(id.as_str())
    );
    // EmpEmploymentTermination: one per ended employment.
    let term = scenario_person(&emu, "terminated", 0);
    let filter = enc(&format!("personIdExternal eq '{term}'"));
    let (status, body) = get(&emu, &format!("/odata/v2/EmpEmploymentTermination?$format=json&$filter={filter}&$expand=jobInfoNav/emplStatusNav,personNav")).await;
    assert_eq!(status, 200, "{body}");
    let t = json(&body)["d"]["results"][0].clone();
    assert_eq!(t["jobInfoNav"]["emplStatusNav"]["externalCode"], "T", "{t}");
    assert_eq!(t["eventReason"], "TERMRES");
    assert_eq!(t["personNav"]["personIdExternal"].as_str(), Some(term.as_str()));
    emu.shutdown().await;
}

/// Navigation by path: the URIs the emulator itself puts in `__deferred`.
#[tokio::test]
async fn navigation_by_path_follows_deferred_uris() {
    let emu = start(300).await;
    let id = scenario_person(&emu, "rehire", 0);
    let (_, body) = get(&emu, &format!("/odata/v2/PerPerson('{id}')?$format=json")).await;
    let p = json(&body)["d"].clone();
    let (_, body) = get(&emu, &format!("/odata/v2/PerPerson('{id}')?$format=json&$expand=emailNav,phoneNav,employmentNav,personalInfoNav,personEmpTerminationInfoNav")).await;
    let expanded = json(&body)["d"].clone();
    for nav in
        ["emailNav", "phoneNav", "employmentNav", "personalInfoNav", "personEmpTerminationInfoNav"]
    {
        let uri = p[nav]["__deferred"]["uri"].as_str().unwrap_or_default();
        let (status, body) = get_url(&format!("{uri}?$format=json")).await;
        assert_eq!(status, 200, "{uri}: {body}");
        let got = json(&body)["d"].clone();
        let want = &expanded[nav];
        if want.get("results").is_some() {
            assert_eq!(got["results"], want["results"], "{nav}");
            let (_, n) = get_url(&format!("{uri}/$count")).await;
            assert_eq!(
                n.parse::<usize>().ok(),
                want["results"].as_array().map(Vec::len),
                "{nav}/$count"
            );
        } else {
            assert_eq!(&got, want, "{nav}");
        }
    }
    // Deeper: an employment's jobs, a to-one chain, a property, Atom.
    let emp = &expanded["employmentNav"]["results"][0];
    let emp_uri = emp["__metadata"]["uri"].as_str().unwrap_or_default();
    let (status, body) =
        get_url(&format!("{emp_uri}/jobInfoNav?$format=json&$expand=emplStatusNav")).await;
    assert_eq!(status, 200, "{body}");
    assert!(json(&body)["d"]["results"][0]["emplStatusNav"]["externalCode"].is_string());
    let (status, body) = get(&emu, &format!("/odata/v2/PerPerson('{id}')/personEmpTerminationInfoNav/activeEmploymentsCount?$format=json")).await;
    assert_eq!(
        (status, json(&body)["d"]["activeEmploymentsCount"].as_i64()),
        (200, Some(1)),
        "{body}"
    );
    let (status, ct, body, _) =
        fetch(&emu, &format!("/odata/v2/PerPerson('{id}')/emailNav"), &[]).await;
    assert_eq!((status, ct.starts_with("application/atom+xml")), (200, true), "{body}");
    assert_xml(&body);
    // A null to-one navigation and unknown segments are 404 / 400.
    let null_info = scenario_person(&emu, "termination_info_null", 0);
    let (status, _) = get(
        &emu,
        &format!("/odata/v2/PerPerson('{null_info}')/personEmpTerminationInfoNav?$format=json"),
    )
    .await;
    assert_eq!(status, 404);
    let (status, body) =
        get(&emu, &format!("/odata/v2/PerPerson('{id}')/nopeNav?$format=json")).await;
    assert_eq!((status, error_of(&json(&body)).0.as_str()), (400, "COE_PROPERTY_NOT_FOUND"));
    emu.shutdown().await;
}

/// Composite keys are parsed as values: any order, `1` or `1L`,
/// `datetime'…'` with or without fractional seconds (SAP Cloud SDK sends
/// `.000`), `datetimeoffset'…'`; a string key must be quoted.
#[tokio::test]
async fn composite_keys_are_parsed_as_values() {
    let emu = start(30).await;
    let id = scenario_person(&emu, "active", 5);
    let (_, body) = get(
        &emu,
        &format!("/odata/v2/PerPerson('{id}')?$format=json&$expand=employmentNav/jobInfoNav"),
    )
    .await;
    let job = json(&body)["d"]["employmentNav"]["results"][0]["jobInfoNav"]["results"][0].clone();
    let (user, seq) = (
        job["userId"].as_str().unwrap_or_default().to_owned(),
        job["seqNumber"].as_str().unwrap_or_default().to_owned(),
    );
    let start_ms = job["startDate"]
        .as_str()
        .and_then(|s| sf_odata::value::parse_wire_date(s).ok())
        .map(|(ms, _)| ms)
        .unwrap_or_default();
    let day = jiff::Timestamp::from_millisecond(start_ms)
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%S").to_string())
        .unwrap_or_default();
    let ok = [
        format!("EmpJob(seqNumber={seq}L,startDate=datetime'{day}',userId='{user}')"),
        format!("EmpJob(userId='{user}',seqNumber={seq},startDate=datetime'{day}.000')"),
        format!("EmpJob(startDate=datetime'{day}',userId='{user}',seqNumber={seq}L)"),
        format!("EmpJob(seqNumber={seq}L,startDate=datetimeoffset'{day}Z',userId='{user}')"),
        format!("EmpJob(seqNumber={seq}L,startDate=datetime'{}',userId='{user}')", &day[..16]),
    ];
    for path in &ok {
        let (status, body) = get(&emu, &format!("/odata/v2/{path}?$format=json")).await;
        assert_eq!(status, 200, "{path}: {body}");
        assert_eq!(json(&body)["d"]["__metadata"]["uri"], job["__metadata"]["uri"], "{path}");
    }
    for path in [format!("PerPerson(personIdExternal='{id}')"), format!("PerPerson('{id}')")] {
        let (status, body) = get(&emu, &format!("/odata/v2/{path}?$format=json")).await;
        assert_eq!(status, 200, "{path}: {body}");
    }
    let bad = [
        format!("PerPerson({id})"),
        format!("EmpJob(seqNumber={seq}L,userId='{user}')"),
        format!("EmpJob(seqNumber={seq}L,startDate=datetime'{day}',userId='{user}',extra=1)"),
        format!("EmpJob(seqNumber='1',startDate=datetime'{day}',userId='{user}')"),
        format!("EmpJob(seqNumber={seq}L,startDate=datetime'nope',userId='{user}')"),
        format!("EmpJob(seqNumber={seq}L,seqNumber=2L,userId='{user}')"),
    ];
    for path in &bad {
        let (status, body) = get(&emu, &format!("/odata/v2/{path}?$format=json")).await;
        assert_eq!(status, 400, "{path}: {body}");
        let (code, message) = error_of(&json(&body));
        assert_eq!(code, "COE_GENERAL_BAD_REQUEST", "{path}");
        assert!(message.starts_with("[COE0019]Invalid key predicate "), "{message}");
    }
    emu.shutdown().await;
}

/// A session cookie on the first response and `X-CSRF-Token: Fetch`
/// (KBA-3308165), so SDKs that fetch a token before writing work.
#[tokio::test]
async fn session_cookie_and_csrf_token() {
    let emu = start(10).await;
    let base = emu.base_url();
    let jar =
        reqwest::Client::builder().cookie_store(true).build().unwrap_or_else(|e| panic!("{e}"));
    let r = jar
        .get(format!("{base}/odata/v2/PerPerson?$format=json&$top=1"))
        .basic_auth(USER, Some(PASSWORD))
        .header("x-csrf-token", "Fetch")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let cookie =
        r.headers().get("set-cookie").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    assert!(cookie.starts_with("JSESSIONID=") && cookie.contains("HttpOnly"), "{cookie}");
    let token = r
        .headers()
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(token.len() >= 32 && token != "Fetch", "{token}");
    // The session is kept: no new cookie; the same token on a second fetch.
    let r = jar
        .get(format!("{base}/odata/v2/PerPerson?$format=json&$top=1"))
        .basic_auth(USER, Some(PASSWORD))
        .header("x-csrf-token", "fetch")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(r.headers().get("set-cookie").is_none());
    assert_eq!(r.headers().get("x-csrf-token").and_then(|v| v.to_str().ok()), Some(token.as_str()));
    let id = scenario_person(&emu, "active", 0);
    let body = email_record(&id, 7).to_string();
    let write = |t: &str| {
        jar.post(format!("{base}/odata/v2/upsert?$format=json"))
            .basic_auth(USER, Some(PASSWORD))
            .header("content-type", "application/json")
            .header("x-csrf-token", t.to_owned())
            .body(body.clone())
            .send()
    };
    let r = write(&token).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status().as_u16(), 200);
    let r = write("not-the-token").await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status().as_u16(), 403);
    assert_eq!(r.headers().get("x-csrf-token").and_then(|v| v.to_str().ok()), Some("Required"));
    emu.shutdown().await;
}

/// Upsert bodies in Atom XML (SAP CPI's form, KBA-3307746), answered in Atom
/// unless JSON is asked for.
#[tokio::test]
async fn upsert_bodies_in_atom_xml() {
    let emu = start(20).await;
    let id = scenario_person(&emu, "active", 3);
    let entry = |ty: &str, addr: &str| {
        format!(
            r#"<entry><id>http://x/odata/v2/PerEmail(emailType='{ty}',personIdExternal='{id}')</id><category term="SFOData.PerEmail" scheme="http://schemas.microsoft.com/ado/2007/08/dataservices/scheme"/><content type="application/xml"><m:properties><d:emailAddress>{addr}</d:emailAddress><d:isPrimary m:type="Edm.Boolean">false</d:isPrimary><d:operation m:null="true"/></m:properties></content></entry>"#
        )
    };
    let ns = r#"xmlns="http://www.w3.org/2005/Atom" xmlns:m="http://schemas.microsoft.com/ado/2007/08/dataservices/metadata" xmlns:d="http://schemas.microsoft.com/ado/2007/08/dataservices""#;
    let feed = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><feed {ns}><title type=\"text\">PerEmail</title>{}{}</feed>",
        entry("8449", "atom.one@home.example"),
        entry("9999", "x@y.z")
    );
    let (status, ct, body) =
        post(&emu, "/odata/v2/upsert", &[("content-type", "application/atom+xml")], feed).await;
    assert_eq!(status, 200, "{body}");
    assert!(ct.starts_with("application/atom+xml"), "{ct}");
    assert_xml(&body);
    assert!(
        body.contains("<d:status>OK</d:status><d:editStatus>UPSERTED</d:editStatus>"),
        "{body}"
    );
    assert!(
        body.contains("<d:status>ERROR</d:status>")
            && body.contains("<d:httpCode m:type=\"Edm.Int32\">500</d:httpCode>"),
        "{body}"
    );
    assert!(
        emu.worker(&id)
            .is_some_and(|p| p.emails.iter().any(|e| e.address == "atom.one@home.example"))
    );
    // One entry, JSON answer; an unknown property in XML is refused as in JSON.
    let single =
        entry("8449", "atom.two@home.example").replacen("<entry>", &format!("<entry {ns}>"), 1);
    let (status, _, body) = post(
        &emu,
        "/odata/v2/upsert?$format=json",
        &[("content-type", "application/atom+xml")],
        single,
    )
    .await;
    assert_eq!((status, json(&body)["d"][0]["status"].as_str()), (200, Some("OK")), "{body}");
    let typo = entry("8449", "z@z.z").replace("d:emailAddress", "d:emailAdress").replacen(
        "<entry>",
        &format!("<entry {ns}>"),
        1,
    );
    let (status, _, body) = post(
        &emu,
        "/odata/v2/upsert?$format=json",
        &[("content-type", "application/atom+xml")],
        typo,
    )
    .await;
    assert_eq!(
        (status, error_of(&json(&body)).0.as_str()),
        (400, "COE_PROPERTY_NOT_FOUND"),
        "{body}"
    );
    let (status, _, body) = post(
        &emu,
        "/odata/v2/upsert?$format=json",
        &[("content-type", "application/atom+xml")],
        "<entry><broken".into(),
    )
    .await;
    assert_eq!(
        (status, error_of(&json(&body)).0.as_str()),
        (400, "COE_GENERAL_BAD_REQUEST"),
        "{body}"
    );
    emu.shutdown().await;
}

// ----- issue 13 item 24 ----------------------------------------------------

/// The clock moves within 1900..=9999 and never wraps; the population size
/// has an upper bound with a clear error.
#[tokio::test]
async fn clock_and_population_bounds() {
    let emu = start(5).await;
    let c = client();
    let url = format!("{}/_emulator/clock", emu.base_url());
    let before = emu.now_ms();
    for body in [
        json!({"advance": 1e300}),
        json!({"advance": -1e300}),
        json!({"advance": 9.3e15}),
        json!({"advance": "P99999999999999999999D"}),
        json!({"advance": "P3000000D"}),
        json!({"set": "0001-01-01T00:00:00Z"}),
    ] {
        let r = c.post(&url).json(&body).send().await.unwrap_or_else(|e| panic!("{e}"));
        let status = r.status().as_u16();
        let text = r.text().await.unwrap_or_default();
        assert_eq!(status, 400, "{body}: {text}");
        assert!(
            text.contains("between 1900-01-01") || text.contains("neither seconds"),
            "{body}: {text}"
        );
        assert!((emu.now_ms() - before).abs() < 60_000, "{body}: the clock did not move");
    }
    let r = c
        .post(&url)
        .json(&json!({"set": "9999-12-30T00:00:00Z"}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status().as_u16(), 200, "{}", r.text().await.unwrap_or_default());
    let r = c
        .post(&url)
        .json(&json!({"advance": "P1D"}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status().as_u16(), 400);
    assert!(emu.now_ms() > 0 && emu.now_ms() <= MAX_NOW_MS, "no wrap to a negative time");
    emu.advance_ms(i64::MAX);
    assert!(emu.now_ms() > 0 && emu.now_ms() <= MAX_NOW_MS + 60_000);
    emu.advance_ms(-MS_PER_DAY);
    emu.shutdown().await;

    match Emulator::builder().workers(sf_emulator::MAX_WORKERS + 1).start().await {
        Err(EmulatorError::TooManyWorkers(n)) => assert_eq!(n, sf_emulator::MAX_WORKERS + 1),
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("a population above the bound started"),
    }
    let e = Emulator::builder().workers(usize::MAX).build_shared().map(|_| ()).unwrap_err();
    assert!(e.to_string().contains("at most 1000000"), "{e}");
}
