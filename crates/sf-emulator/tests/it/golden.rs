//! Byte-for-byte golden comparison of what the emulator serves: status, headers
//! (all but `date`) and body of a fixed sequence of requests against a pinned
//! 300-worker tenant, following every `__next`. Captured before the serving
//! path was optimised, so a speed-up cannot change a byte on the wire.
//!
//! Bodies are compared by length and FNV-1a hash (full sync pages are
//! megabytes); bodies of at most `INLINE_MAX` bytes are kept verbatim so a
//! failure shows them. The service root (`http://127.0.0.1:PORT`) is replaced
//! by `http://emulator` before hashing. On a mismatch the actual transcript is
//! written next to the golden file as `serving.actual` for diffing.
//!
//! Regenerate (only when a change to the wire is intended and reviewed):
//! `HRSYNC_UPDATE_GOLDEN=1 cargo test -p sf-emulator --test it golden`.

use crate::common;

use std::fmt::Write as _;
use std::path::PathBuf;

use common::*;
use sf_emulator::RunningEmulator;

const INLINE_MAX: usize = 1500;

/// The `$expand` hrsync derives from its default SF-to-AD mapping (full sync and pre-hires).
const HRSYNC_EXPAND: &str = "personalInfoNav,phoneNav,emailNav,employmentNav,employmentNav/userNav,employmentNav/jobInfoNav,personEmpTerminationInfoNav,employmentNav/userNav/manager/empInfo,employmentNav/jobInfoNav/companyNav,employmentNav/jobInfoNav/companyNav/countryOfRegistrationNav,employmentNav/jobInfoNav/departmentNav,employmentNav/jobInfoNav/businessUnitNav,employmentNav/jobInfoNav/costCenterNav,employmentNav/jobInfoNav/divisionNav,employmentNav/jobInfoNav/jobCodeNav,employmentNav/jobInfoNav/locationNav,employmentNav/jobInfoNav/locationNav/addressNavDEFLT,employmentNav/jobInfoNav/employeeClassNav,employmentNav/jobInfoNav/emplStatusNav,employmentNav/jobInfoNav/positionNav";

/// Every navigation of Entra's 26-entity table (the emulator benchmark's expand).
const FULL_EXPAND: &str = "personalInfoNav,phoneNav,emailNav,employmentNav,employmentNav/userNav,employmentNav/jobInfoNav,personEmpTerminationInfoNav,employmentNav/userNav/manager/empInfo,employmentNav/jobInfoNav/companyNav/countryOfRegistrationNav,employmentNav/jobInfoNav/departmentNav,employmentNav/jobInfoNav/businessUnitNav,employmentNav/jobInfoNav/costCenterNav,employmentNav/jobInfoNav/divisionNav,employmentNav/jobInfoNav/jobCodeNav,employmentNav/jobInfoNav/payGradeNav,employmentNav/jobInfoNav/locationNav/addressNavDEFLT,employmentNav/jobInfoNav/addressNavDEFLT,employmentNav/jobInfoNav/eventReasonNav,employmentNav/empGlobalAssignmentNav/assignmentTypeNav,employmentNav/jobInfoNav/employmentTypeNav,employmentNav/jobInfoNav/employeeClassNav,employmentNav/jobInfoNav/emplStatusNav,employmentNav/jobInfoNav/positionNav,employmentNav/jobInfoNav/managerUserNav";

/// A `$select` of the shape hrsync's `select = "mapped"` sends.
const MAPPED_SELECT: &str = "personIdExternal,personId,lastModifiedDateTime,personalInfoNav/firstName,personalInfoNav/lastName,personalInfoNav/preferredName,personalInfoNav/startDate,emailNav/emailAddress,emailNav/isPrimary,emailNav/emailType,phoneNav/phoneNumber,phoneNav/phoneType,employmentNav/startDate,employmentNav/endDate,employmentNav/userNav/username,employmentNav/userNav/status,employmentNav/userNav/manager/empInfo/personIdExternal,employmentNav/jobInfoNav/jobTitle,employmentNav/jobInfoNav/emplStatusNav/externalCode,employmentNav/jobInfoNav/departmentNav/name,employmentNav/jobInfoNav/companyNav/countryOfRegistrationNav/twoCharCountryCode,employmentNav/jobInfoNav/locationNav/addressNavDEFLT/city,personEmpTerminationInfoNav/activeEmploymentsCount,personEmpTerminationInfoNav/latestTerminationDate";

fn golden_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/serving.golden")
}

fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// Atom's `<updated>` is the time of the response (the clock runs on from
/// the pinned start): recorded as `<updated/>`.
fn without_updated(body: &str) -> String {
    let mut out = String::with_capacity(body.len());
    let mut rest = body;
    while let Some(i) = rest.find("<updated>") {
        out.push_str(&rest[..i]);
        out.push_str("<updated/>");
        rest = &rest[i..];
        match rest.find("</updated>") {
            Some(j) => rest = &rest[j + "</updated>".len()..],
            None => rest = "",
        }
    }
    out.push_str(rest);
    out
}

/// Collects the transcript of every request.
struct Transcript<'a> {
    emu: &'a RunningEmulator,
    text: String,
}

impl Transcript<'_> {
    /// GETs `url` (absolute, or a path under the base URL), records it under
    /// `label`, and returns the normalised body.
    async fn get(&mut self, label: &str, url: &str) -> String {
        let base = self.emu.base_url();
        let url = if url.starts_with("http") { url.to_owned() } else { format!("{base}{url}") };
        let response = match client().get(&url).basic_auth(USER, Some(PASSWORD)).send().await {
            Ok(r) => r,
            Err(e) => panic!("{label}: GET {url}: {e}"),
        };
        let status = response.status().as_u16();
        // The session cookie is random per response (no cookie is sent back).
        let mut headers: Vec<String> = response
            .headers()
            .iter()
            .filter(|(k, _)| k.as_str() != "date")
            .map(|(k, v)| match k.as_str() {
                "set-cookie" => "set-cookie: JSESSIONID=<session>; Path=/; HttpOnly".to_owned(),
                _ => format!("{k}: {}", String::from_utf8_lossy(v.as_bytes())),
            })
            .collect();
        headers.sort();
        let body = match response.bytes().await {
            Ok(b) => b,
            Err(e) => panic!("{label}: reading the body of {url}: {e}"),
        };
        let body =
            without_updated(&String::from_utf8_lossy(&body).replace(&base, "http://emulator"));
        let _ = writeln!(self.text, "== {label}\nstatus {status}");
        for h in headers {
            let _ = writeln!(self.text, "header {h}");
        }
        let _ =
            writeln!(self.text, "length {}\nfnv1a64 {:016x}", body.len(), fnv1a64(body.as_bytes()));
        if body.len() <= INLINE_MAX {
            let _ = writeln!(self.text, "body {}", body.replace('\n', "\\n"));
        }
        body
    }

    /// GETs `first` and every `__next` after it, each page recorded as `label#n`.
    async fn pages(&mut self, label: &str, first: &str) {
        let mut url = first.to_owned();
        for n in 1.. {
            let body = self.get(&format!("{label}#{n}"), &url).await;
            let next = serde_json::from_str::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v["d"]["__next"].as_str().map(str::to_owned));
            match next {
                Some(next) => url = next.replace("http://emulator", &self.emu.base_url()),
                None => return,
            }
        }
    }
}

#[tokio::test]
async fn served_bytes_match_the_golden_transcript() {
    let emu = start(300).await;
    let mut t = Transcript { emu: &emu, text: String::new() };
    let full_filter = format!(
        "personEmpTerminationInfoNav/activeEmploymentsCount ne null and lastModifiedDateTime le datetimeoffset'{}'",
        ts(NOW_MS + 60_000)
    );
    let full = enc(&full_filter);

    // hrsync's full sync (Entra's query shape), snapshot paging, then with $select.
    t.get("full sync $count", &format!("/odata/v2/PerPerson/$count?$format=json&$filter={full}"))
        .await;
    t.pages("full sync", &format!("/odata/v2/PerPerson?$format=json&customPageSize=100&paging=snapshot&$filter={full}&asOfDate=2025-03-01&$expand={HRSYNC_EXPAND}")).await;
    t.pages("full sync, $select", &format!("/odata/v2/PerPerson?$format=json&customPageSize=120&paging=snapshot&$filter={full}&asOfDate=2025-03-01&$expand={HRSYNC_EXPAND}&$select={MAPPED_SELECT}")).await;
    // Default paging (the filter re-evaluated per page), every navigation, no asOfDate.
    t.pages("default paging, every navigation", &format!("/odata/v2/PerPerson?$format=json&customPageSize=70&$filter={full}&$expand={FULL_EXPAND}")).await;
    // Entra's delta query: $count probe and pages.
    let day = sf_emulator::time::MS_PER_DAY;
    let prev = (NOW_MS / day - 1) * day;
    let delta =
        enc(&delta_filter(&ts(NOW_MS - 40 * day), &ts(NOW_MS), &ts(prev), &ts(prev + day - 1000)));
    t.get("delta $count", &format!("/odata/v2/PerPerson/$count?$format=json&$filter={delta}"))
        .await;
    t.pages(
        "delta",
        &format!(
            "/odata/v2/PerPerson?$format=json&customPageSize=25&$filter={delta}&$expand={EXPAND}"
        ),
    )
    .await;

    // Pre-hire re-queries by personIdExternal with asOfDate = the start date, and other key filters.
    for scenario in ["pre_hire_active", "pre_hire_inactive", "pre_hire_onboarding"] {
        for n in 0..2 {
            let id = scenario_person(&emu, scenario, n);
            let start = emu
                .worker(&id)
                .and_then(|p| p.employments.first().map(|e| e.start))
                .unwrap_or_default();
            let day = sf_emulator::time::format_day(start);
            for statuses in ["'t','f'", "'t','f','e'"] {
                let filter = enc(&format!(
                    "personIdExternal in '{id}' and employmentNav/userNav/status in {statuses}"
                ));
                t.get(&format!("pre-hire {scenario} {n} {statuses}"), &format!("/odata/v2/PerPerson?$format=json&customPageSize=200&paging=snapshot&$filter={filter}&asOfDate={day}&$expand={HRSYNC_EXPAND}")).await;
            }
        }
    }
    let (a, b, c) = (
        scenario_person(&emu, "active", 3),
        scenario_person(&emu, "terminated", 1),
        scenario_person(&emu, "rehire", 0),
    );
    for (label, filter) in [
        ("in, reversed order", format!("personIdExternal in '{c}','{b}','{a}'")),
        (
            "in, with a duplicate and an unknown id",
            format!("personIdExternal in '{a}','nobody','{a}'"),
        ),
        ("eq", format!("personIdExternal eq '{b}'")),
        ("eq, literal first", format!("'{b}' eq personIdExternal")),
        ("or of eq", format!("personIdExternal eq '{c}' or personIdExternal eq '{a}'")),
        (
            "or with an unconstrained branch",
            format!("personIdExternal eq '{c}' or personalInfoNav/lastName eq 'Nobody'"),
        ),
        (
            "and inside and",
            format!(
                "(personIdExternal in '{a}','{b}' and personEmpTerminationInfoNav/activeEmploymentsCount ne null) and lastModifiedDateTime le datetimeoffset'{}'",
                ts(NOW_MS)
            ),
        ),
        ("not eq", format!("not (personIdExternal eq '{a}') and personIdExternal le '{a}'")),
        ("ne", format!("personIdExternal ne '{a}' and personIdExternal lt '100010'")),
        ("case differs", format!("personIdExternal eq '{}'", a.to_uppercase() + "x")),
        ("like", "personIdExternal like '10001%'".to_owned()),
        ("unknown id", "personIdExternal eq 'nobody'".to_owned()),
    ] {
        t.get(
            &format!("key filter: {label}"),
            &format!(
                "/odata/v2/PerPerson?$format=json&$filter={}&$expand=employmentNav/jobInfoNav",
                enc(&filter)
            ),
        )
        .await;
        t.get(
            &format!("key filter $count: {label}"),
            &format!("/odata/v2/PerPerson/$count?$filter={}", enc(&filter)),
        )
        .await;
    }

    // $top/$skip/$inlinecount, by key, other entity sets.
    let user = emu
        .worker(&a)
        .and_then(|p| p.employments.first().map(|e| e.user_id.clone()))
        .unwrap_or_default();
    t.get("top skip inlinecount", "/odata/v2/PerPerson?$format=json&$top=5&$skip=10&$inlinecount=allpages&$expand=personalInfoNav,emailNav").await;
    t.get("by key", &format!("/odata/v2/PerPerson('{a}')?$format=json&$expand=employmentNav/jobInfoNav/companyNav,employmentNav/userNav/manager")).await;
    t.get("by key, $select", &format!("/odata/v2/PerPerson('{b}')?$format=json&$select=personIdExternal,personalInfoNav/firstName")).await;
    t.get(
        "User by key",
        &format!("/odata/v2/User('{user}')?$format=json&$expand=manager,empInfo/jobInfoNav"),
    )
    .await;
    t.get(
        "EmpJob history",
        &format!(
            "/odata/v2/EmpJob?$format=json&$filter={}&fromDate=1900-01-01&toDate=9999-12-31",
            enc(&format!("userId eq '{user}'"))
        ),
    )
    .await;
    t.pages(
        "PerPersonal",
        "/odata/v2/PerPersonal?$format=json&customPageSize=400&asOfDate=2025-06-01",
    )
    .await;
    t.get(
        "PerEmail $select",
        "/odata/v2/PerEmail?$format=json&$top=7&$select=emailAddress,personIdExternal,isPrimary",
    )
    .await;
    t.get(
        "Picklist by key",
        "/odata/v2/Picklist('ecEmailType')?$format=json&$expand=picklistOptions/picklistLabels",
    )
    .await;
    t.get("FOCompany", "/odata/v2/FOCompany?$format=json").await;
    t.get("$metadata", "/odata/v2/$metadata").await;

    // Errors.
    for (label, url) in [
        ("bad filter syntax", format!("/odata/v2/PerPerson?$format=json&$filter={}", enc("personIdExternal eq"))),
        ("unknown property", format!("/odata/v2/PerPerson?$format=json&$filter={}", enc("nope eq 'x'"))),
        ("unknown set", "/odata/v2/Nope?$format=json".to_owned()),
        ("snapshot with $top", "/odata/v2/PerPerson?$format=json&paging=snapshot&$top=3".to_owned()),
        ("garbage skiptoken", "/odata/v2/PerPerson?$format=json&$skiptoken=xyz".to_owned()),
        ("dead snapshot", "/odata/v2/PerPerson?$format=json&paging=snapshot&$skiptoken=eyJzdGFydFJvdyI6MTAwLCJlbmRSb3ciOjIwMCwic25hcHNob3RJZCI6OTk5fQ==".to_owned()),
        ("unknown option", "/odata/v2/PerPerson?$format=json&$nope=1".to_owned()),
        ("metadata as JSON", "/odata/v2/$metadata?$format=json".to_owned()),
        ("navigation by path", format!("/odata/v2/PerPerson('{a}')/emailNav")),
        ("unknown key", "/odata/v2/PerPerson('nobody')?$format=json".to_owned()),
    ] {
        t.get(&format!("error: {label}"), &url).await;
    }
    let text = t.text;
    emu.shutdown().await;

    let path = golden_path();
    if std::env::var_os("HRSYNC_UPDATE_GOLDEN").is_some() {
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        if let Err(e) = std::fs::write(&path, &text) {
            panic!("writing {}: {e}", path.display());
        }
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (HRSYNC_UPDATE_GOLDEN=1 creates it)", path.display()));
    if expected != text {
        let actual = path.with_extension("actual");
        let _ = std::fs::write(&actual, &text);
        let first = expected.split("\n== ").zip(text.split("\n== ")).find(|(e, a)| e != a);
        match first {
            Some((e, a)) => panic!(
                "served bytes changed; first differing request:\n--- golden\n{e}\n--- actual\n{a}\n(full transcript: {})",
                actual.display()
            ),
            None => panic!(
                "served bytes changed: the transcripts differ in length ({} vs {} bytes; full transcript: {})",
                expected.len(),
                text.len(),
                actual.display()
            ),
        }
    }
}
