//! Helpers shared by the emulator's integration tests.
#![allow(dead_code)]

use serde_json::Value;
use sf_emulator::{Emulator, RunningEmulator};

/// 2025-03-01T12:00:00Z: every test pins the clock so the data is the same on every run.
pub const NOW_MS: i64 = 1_740_830_400_000;
pub const USER: &str = "sfapi@HRSYNCTEST";
pub const PASSWORD: &str = "hrsync-emulator";

/// Entra's default full-sync expansion plus the mapped FO navigations.
pub const EXPAND: &str = "employmentNav/userNav,employmentNav/jobInfoNav,personalInfoNav,personEmpTerminationInfoNav,phoneNav,emailNav,employmentNav/jobInfoNav/companyNav/countryOfRegistrationNav,employmentNav/jobInfoNav/divisionNav,employmentNav/jobInfoNav/departmentNav,employmentNav/userNav/manager/empInfo,employmentNav/jobInfoNav/emplStatusNav";

pub async fn start(workers: usize) -> RunningEmulator {
    match Emulator::builder().workers(workers).seed(42).now_ms(NOW_MS).start().await {
        Ok(e) => e,
        Err(e) => panic!("emulator did not start: {e}"),
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::new()
}

/// GET with Basic auth; returns (status, body text).
pub async fn get(emu: &RunningEmulator, path_and_query: &str) -> (u16, String) {
    get_url(&format!("{}{path_and_query}", emu.base_url())).await
}

pub async fn get_url(url: &str) -> (u16, String) {
    let response = client().get(url).basic_auth(USER, Some(PASSWORD)).send().await;
    let response = match response {
        Ok(r) => r,
        Err(e) => panic!("GET {url}: {e}"),
    };
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

pub fn json(text: &str) -> Value {
    match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => panic!("not JSON ({e}): {}", &text[..text.len().min(500)]),
    }
}

/// `$filter` values are sent percent-encoded like a real client would.
pub fn enc(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        match b {
            b'A'..=b'Z'
            | b'a'..=b'z'
            | b'0'..=b'9'
            | b'-'
            | b'_'
            | b'.'
            | b'~'
            | b'/'
            | b','
            | b'$' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// RFC 3339 without fractional seconds (`2025-03-01T12:00:00Z`), as Entra sends.
pub fn ts(ms: i64) -> String {
    let t = jiff::Timestamp::from_millisecond(ms - ms.rem_euclid(1000))
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Follows `__next` until the last page; returns every result.
pub async fn all_pages(emu: &RunningEmulator, first: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut url = format!("{}{first}", emu.base_url());
    loop {
        let (status, body) = get_url(&url).await;
        assert_eq!(status, 200, "{url}: {body}");
        let v = json(&body);
        out.extend(v["d"]["results"].as_array().cloned().unwrap_or_default());
        match v["d"].get("__next").and_then(Value::as_str) {
            Some(next) => url = next.to_owned(),
            None => return out,
        }
    }
}

pub fn ids(results: &[Value]) -> Vec<String> {
    results.iter().filter_map(|r| r["personIdExternal"].as_str().map(str::to_owned)).collect()
}

/// The Entra delta filter (MS-REF) for the window [last, now]. Microsoft's
/// published template lacks the `or` between the employmentNav and jobInfoNav
/// clauses; Entra's real requests parse, so it is restored here.
pub fn delta_filter(last: &str, now: &str, prev_day_start: &str, prev_day_end: &str) -> String {
    format!(
        "(personEmpTerminationInfoNav/activeEmploymentsCount ne null) and \
((lastModifiedDateTime ge datetimeoffset'{last}' and lastModifiedDateTime le datetimeoffset'{now}') or \
(personalInfoNav/startDate ge datetimeoffset'{last}' and personalInfoNav/startDate le datetimeoffset'{now}') or \
((personalInfoNav/lastModifiedDateTime ge datetimeoffset'{last}' and personalInfoNav/lastModifiedDateTime le datetimeoffset'{now}') and (personalInfoNav/startDate le datetimeoffset'{now}' and (personalInfoNav/endDate ge datetimeoffset'{now}' or  personalInfoNav/endDate eq null))) or \
(employmentNav/startDate ge datetimeoffset'{last}' and employmentNav/startDate le datetimeoffset'{now}') or \
((employmentNav/lastModifiedDateTime ge datetimeoffset'{last}' and employmentNav/lastModifiedDateTime le datetimeoffset'{now}') and (employmentNav/startDate le datetimeoffset'{now}' and (employmentNav/endDate ge datetimeoffset'{now}' or employmentNav/endDate eq null))) or \
(employmentNav/jobInfoNav/startDate ge datetimeoffset'{last}' and employmentNav/jobInfoNav/startDate le datetimeoffset'{now}') or \
((employmentNav/jobInfoNav/lastModifiedDateTime ge datetimeoffset'{last}' and employmentNav/jobInfoNav/lastModifiedDateTime le datetimeoffset'{now}') and (employmentNav/jobInfoNav/startDate le datetimeoffset'{now}' and (employmentNav/jobInfoNav/endDate ge datetimeoffset'{now}' or employmentNav/jobInfoNav/endDate eq null))) or \
(phoneNav/lastModifiedDateTime ge datetimeoffset'{last}' and phoneNav/lastModifiedDateTime le datetimeoffset'{now}') or \
(emailNav/lastModifiedDateTime ge datetimeoffset'{last}' and emailNav/lastModifiedDateTime le datetimeoffset'{now}') or \
(personEmpTerminationInfoNav/latestTerminationDate ge datetimeoffset'{prev_day_start}' and personEmpTerminationInfoNav/latestTerminationDate le datetimeoffset'{prev_day_end}') or \
(employmentNav/userNav/lastModifiedDateTime ge datetimeoffset'{last}' and employmentNav/userNav/lastModifiedDateTime le datetimeoffset'{now}'))"
    )
}

/// A person of a seeded scenario (by its snake_case name), the `n`th one.
pub fn scenario_person(emu: &RunningEmulator, scenario: &str, n: usize) -> String {
    let all = serde_json::to_value(emu.scenarios()).unwrap_or_default();
    match all[scenario].as_array().and_then(|a| a.get(n)).and_then(Value::as_str) {
        Some(id) => id.to_owned(),
        None => panic!("no person #{n} for scenario {scenario}"),
    }
}
