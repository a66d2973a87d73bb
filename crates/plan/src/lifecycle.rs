//! Where a worker is in their working life, decided from status and dates,
//! never from the order SuccessFactors happens to list employments in.
//!
//! # The rule
//! Dates are calendar days in the company's time zone; "today" is the local
//! date now. An employment is *current* when `startDate <= today` and its
//! `endDate` (the last day worked) is absent or `>= today`; *future* when
//! `startDate > today`; *ended* otherwise. The primary employment is, in order
//! of preference:
//! 1. a current home assignment (`assignmentClass` ST, or none) whose job is
//!    active (`emplStatus` A), then one on leave (P, U), then any other
//!    current home assignment;
//! 2. a current global assignment (GA);
//! 3. the future employment that starts first (a pre-hire, or a rehire or
//!    conversion not yet started);
//! 4. the ended employment that ended last.
//!
//! Ties go to the later `startDate`, then the smaller `userId`, so the choice
//! is a pure function of the record's content.
//!
//! # Normalizing the record
//! [`normalize`] rewrites the record before any JSONPath runs, so that
//! mappings written for Entra keep working and become deterministic:
//! - `employmentNav.results` is reordered: primary first, then the other
//!   current employments, future ones, ended ones;
//! - within each employment, `jobInfoNav.results` puts the slice in effect
//!   today first;
//! - `personEmpTerminationInfoNav.activeEmploymentsCount` is recomputed as the
//!   number of current employments (SuccessFactors drops it to 0 as soon as a
//!   termination is entered, which made Entra disable accounts a day early),
//!   and a null `personEmpTerminationInfoNav` is filled in from the
//!   employments, so a termination is never hidden by missing data.
//!
//! Every rewrite is reported as a [`Note`] for `explain` and on-demand output.

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde_json::Value;

/// Where the worker stands today.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stage {
    /// Working; `status` is the job's emplStatus code (A, or S/F/D/... for
    /// statuses that are neither leave nor terminated).
    Active { status: String },
    /// Paid (P) or unpaid (U) leave: the account stays enabled, as in Entra.
    Leave { status: String },
    /// Starts on this day.
    PreHire { start: Date },
    /// Last day worked.
    Terminated { last_day: Date },
    /// No employment in the record at all.
    NoEmployment,
}

/// The lifecycle decision for one worker.
#[derive(Debug, Clone, PartialEq)]
pub struct Lifecycle {
    pub stage: Stage,
    /// `userId` of the primary employment.
    pub user_id: Option<String>,
    /// Instants at which the stage changes with no new HR modification:
    /// the end of a future last day, a pre-hire's start.
    pub wakeups: Vec<(Timestamp, String)>,
}

impl Lifecycle {
    /// Whether the account should be enabled (active or on leave).
    pub fn enabled(&self) -> bool {
        match &self.stage {
            Stage::Active { status } => status == "A",
            Stage::Leave { .. } => true,
            _ => false,
        }
    }
}

/// A rewrite [`normalize`] made, in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note(pub String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum When {
    Current,
    Future,
    Ended,
}

struct Employment {
    index: usize,
    when: When,
    start: Option<Date>,
    end: Option<Date>,
    global: bool,
    status: Option<String>,
    user_id: String,
}

impl Employment {
    /// Sort key: smaller is preferred.
    fn rank(&self) -> (When, u8, std::cmp::Reverse<Option<Date>>, Option<Date>, &str) {
        let status_rank = match self.status.as_deref() {
            Some("A") | None => 0,
            Some("P") | Some("U") => 1,
            Some(_) => 2,
        };
        let class_rank = if self.global { 3 } else { status_rank };
        match self.when {
            When::Current => {
                (When::Current, class_rank, std::cmp::Reverse(self.start), None, &self.user_id)
            }
            // Earliest start first.
            When::Future => (When::Future, 0, std::cmp::Reverse(None), self.start, &self.user_id),
            // Latest end first.
            When::Ended => (When::Ended, 0, std::cmp::Reverse(self.end), None, &self.user_id),
        }
    }
}

/// SuccessFactors `/Date(ms)/` or `/Date(ms+hhmm)/` as a calendar day. The
/// milliseconds of an `Edm.DateTime` are midnight UTC of the day meant.
pub fn sf_day(v: &Value) -> Option<Date> {
    let s = v.as_str()?;
    let inner = s.strip_prefix("/Date(")?.strip_suffix(")/")?;
    let end = inner
        .char_indices()
        .skip(1)
        .find(|&(_, c)| c == '+' || c == '-')
        .map_or(inner.len(), |(i, _)| i);
    let ms: i64 = inner[..end].parse().ok()?;
    const DAY_MS: i64 = 86_400_000;
    let days = ms.div_euclid(DAY_MS);
    let epoch = jiff::civil::date(1970, 1, 1);
    epoch.checked_add(jiff::Span::new().days(days)).ok().or_else(|| (days > 0).then_some(Date::MAX))
}

fn results(v: Option<&Value>) -> &[Value] {
    v.and_then(|n| n.get("results")).and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

/// The job slice in effect on `today` among the (already as-of filtered)
/// slices: the latest start on or before today.
fn current_job(jobs: &[Value], today: Date) -> Option<usize> {
    jobs.iter()
        .enumerate()
        .filter_map(|(i, j)| {
            let start = j.get("startDate").and_then(sf_day);
            match start {
                Some(s) if s > today => None,
                s => Some((s, i)),
            }
        })
        .max_by_key(|&(s, i)| (s, std::cmp::Reverse(i)))
        .map(|(_, i)| i)
}

fn job_status(job: &Value) -> Option<String> {
    job.get("emplStatusNav")
        .and_then(|n| n.get("externalCode"))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

fn read_employments(record: &Value, today: Date) -> Vec<Employment> {
    results(record.get("employmentNav"))
        .iter()
        .enumerate()
        .map(|(index, e)| {
            let start = e.get("startDate").and_then(sf_day);
            let end = e.get("endDate").and_then(sf_day);
            let when = match (start, end) {
                (Some(s), _) if s > today => When::Future,
                (_, Some(end)) if end < today => When::Ended,
                _ => When::Current,
            };
            let jobs = results(e.get("jobInfoNav"));
            let status = current_job(jobs, today).and_then(|j| job_status(&jobs[j]));
            Employment {
                index,
                when,
                start,
                end,
                global: e.get("assignmentClass").and_then(Value::as_str) == Some("GA"),
                status,
                user_id: e.get("userId").and_then(Value::as_str).unwrap_or_default().to_owned(),
            }
        })
        .collect()
}

/// Midnight at the start of `day` in `tz`.
fn start_of(day: Date, tz: &TimeZone) -> Option<Timestamp> {
    day.to_zoned_datetime(tz.clone()).ok().map(|z| z.timestamp())
}

/// Decide the lifecycle of the worker in `record` at instant `now`, with
/// dates read in the company's time zone `tz`.
pub fn decide(record: &Value, now: Timestamp, tz: &TimeZone) -> Lifecycle {
    let today = now.to_zoned_datetime(tz.clone()).date();
    let mut emps = read_employments(record, today);
    emps.sort_by(|a, b| a.rank().cmp(&b.rank()));
    let Some(primary) = emps.first() else {
        return Lifecycle { stage: Stage::NoEmployment, user_id: None, wakeups: vec![] };
    };
    let mut wakeups = Vec::new();
    let stage = match primary.when {
        When::Current => {
            let status = primary.status.clone().unwrap_or_else(|| "A".to_owned());
            match status.as_str() {
                // A terminated job slice while the employment still runs: the
                // slice starts the day after the last day, so trust the dates.
                "T" => Stage::Terminated { last_day: primary.end.unwrap_or(today) },
                "P" | "U" => Stage::Leave { status },
                _ => Stage::Active { status },
            }
        }
        When::Future => Stage::PreHire { start: primary.start.unwrap_or(today) },
        When::Ended => Stage::Terminated { last_day: primary.end.unwrap_or(today) },
    };
    // Every known future boundary of any employment is a wake-up: the end of
    // a last working day, the first day of a future employment.
    for e in &emps {
        if let (When::Current, Some(end)) = (e.when, e.end)
            && let Some(at) = end.tomorrow().ok().and_then(|d| start_of(d, tz))
        {
            wakeups.push((at, format!("end of last working day {end} (userId {})", e.user_id)));
        }
        if let (When::Future, Some(start)) = (e.when, e.start)
            && let Some(at) = start_of(start, tz)
        {
            wakeups.push((at, format!("start of employment {start} (userId {})", e.user_id)));
        }
    }
    wakeups.sort();
    Lifecycle { stage, user_id: Some(primary.user_id.clone()).filter(|u| !u.is_empty()), wakeups }
}

/// Rewrite `record` in place as described in the module docs; returns what
/// was changed.
pub fn normalize(record: &mut Value, now: Timestamp, tz: &TimeZone) -> Vec<Note> {
    let today = now.to_zoned_datetime(tz.clone()).date();
    let mut notes = Vec::new();
    let mut emps = read_employments(record, today);
    emps.sort_by(|a, b| a.rank().cmp(&b.rank()));
    let order: Vec<usize> = emps.iter().map(|e| e.index).collect();
    let current =
        emps.iter().filter(|e| e.when == When::Current && e.status.as_deref() != Some("T")).count();
    let latest_end = emps.iter().filter_map(|e| e.end).max();

    if let Some(list) = record
        .get_mut("employmentNav")
        .and_then(|n| n.get_mut("results"))
        .and_then(Value::as_array_mut)
    {
        if order.iter().enumerate().any(|(pos, &i)| pos != i) {
            let mut taken: Vec<Option<Value>> = list.drain(..).map(Some).collect();
            for &i in &order {
                if let Some(v) = taken.get_mut(i).and_then(Option::take) {
                    list.push(v);
                }
            }
            notes.push(Note(format!(
                "employmentNav reordered by status and dates (primary userId {})",
                emps.first().map_or("", |e| e.user_id.as_str())
            )));
        }
        for e in list.iter_mut() {
            if let Some(jobs) = e
                .get_mut("jobInfoNav")
                .and_then(|n| n.get_mut("results"))
                .and_then(Value::as_array_mut)
                && let Some(j) = current_job(jobs, today)
                && j != 0
            {
                let slice = jobs.remove(j);
                jobs.insert(0, slice);
            }
        }
    }

    let has_employments = !emps.is_empty();
    match record.get_mut("personEmpTerminationInfoNav") {
        Some(Value::Object(info)) => {
            let reported = info.get("activeEmploymentsCount").and_then(Value::as_i64);
            if has_employments && reported != Some(current as i64) {
                notes.push(Note(format!(
                    "activeEmploymentsCount {} -> {current}: counted the employments current on {today}",
                    reported.map_or("null".to_owned(), |r| r.to_string())
                )));
                info.insert("activeEmploymentsCount".into(), Value::from(current));
            }
        }
        Some(Value::Null) | None if has_employments => {
            let latest = latest_end
                .and_then(|d| d.to_zoned_datetime(TimeZone::UTC).ok())
                .map(|z| Value::String(format!("/Date({})/", z.timestamp().as_millisecond())))
                .unwrap_or(Value::Null);
            notes.push(Note(format!(
                "personEmpTerminationInfoNav was null: filled in from the employments (activeEmploymentsCount {current})"
            )));
            if let Some(obj) = record.as_object_mut() {
                obj.insert(
                    "personEmpTerminationInfoNav".into(),
                    serde_json::json!({"activeEmploymentsCount": current, "latestTerminationDate": latest}),
                );
            }
        }
        _ => {}
    }
    notes
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn d(y: i16, m: i8, day: i8) -> String {
        let ms = jiff::civil::date(y, m, day)
            .to_zoned_datetime(TimeZone::UTC)
            .unwrap()
            .timestamp()
            .as_millisecond();
        format!("/Date({ms})/")
    }

    fn job(start: String, status: &str) -> Value {
        json!({"startDate": start, "emplStatusNav": {"externalCode": status}})
    }

    fn emp(user: &str, start: String, end: Option<String>, class: &str, jobs: Vec<Value>) -> Value {
        json!({"userId": user, "startDate": start, "endDate": end, "assignmentClass": class,
               "userNav": {"userId": user}, "jobInfoNav": {"results": jobs}})
    }

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn berlin() -> TimeZone {
        TimeZone::get("Europe/Berlin").unwrap()
    }

    #[test]
    fn rehire_is_chosen_by_dates_whatever_the_order() {
        let old =
            emp("u1", d(2015, 1, 1), Some(d(2020, 6, 30)), "ST", vec![job(d(2020, 7, 1), "T")]);
        let new = emp("u1R", d(2024, 3, 1), None, "ST", vec![job(d(2024, 3, 1), "A")]);
        for employments in [vec![old.clone(), new.clone()], vec![new.clone(), old.clone()]] {
            let mut rec = json!({"employmentNav": {"results": employments},
                                 "personEmpTerminationInfoNav": {"activeEmploymentsCount": 1}});
            let l = decide(&rec, at("2025-01-10T12:00:00Z"), &TimeZone::UTC);
            assert_eq!(l.stage, Stage::Active { status: "A".into() });
            assert_eq!(l.user_id.as_deref(), Some("u1R"));
            normalize(&mut rec, at("2025-01-10T12:00:00Z"), &TimeZone::UTC);
            assert_eq!(rec["employmentNav"]["results"][0]["userId"], "u1R");
        }
    }

    #[test]
    fn terminated_at_end_of_last_day_in_company_time_zone() {
        // SuccessFactors already reports 0 active employments once the
        // termination is entered; the last day (Nov 30) is still a working day.
        let e =
            emp("u1", d(2020, 1, 1), Some(d(2026, 11, 30)), "ST", vec![job(d(2020, 1, 1), "A")]);
        let mut rec = json!({"employmentNav": {"results": [e]},
                             "personEmpTerminationInfoNav": {"activeEmploymentsCount": 0, "latestTerminationDate": d(2026, 11, 30)}});
        let tz = berlin();
        // 23:30 Berlin on the last day = 22:30 UTC: still enabled.
        let l = decide(&rec, at("2026-11-30T22:30:00Z"), &tz);
        assert!(l.enabled());
        assert_eq!(l.wakeups[0].0, at("2026-11-30T23:00:00Z"), "wake at midnight Berlin");
        let notes = normalize(&mut rec, at("2026-11-30T22:30:00Z"), &tz);
        assert_eq!(rec["personEmpTerminationInfoNav"]["activeEmploymentsCount"], 1);
        assert!(notes[0].0.contains("activeEmploymentsCount 0 -> 1"));
        // 00:30 Berlin on Dec 1: terminated.
        let l = decide(&rec, at("2026-11-30T23:30:00Z"), &tz);
        assert_eq!(l.stage, Stage::Terminated { last_day: jiff::civil::date(2026, 11, 30) });
        assert!(!l.enabled());
        normalize(&mut rec, at("2026-11-30T23:30:00Z"), &tz);
        assert_eq!(rec["personEmpTerminationInfoNav"]["activeEmploymentsCount"], 0);
    }

    #[test]
    fn conversion_with_null_user_on_old_employment() {
        let old = json!({"userId": "u1", "startDate": d(2018, 1, 1), "endDate": d(2024, 12, 31), "assignmentClass": "ST",
                         "userNav": null, "jobInfoNav": {"results": [job(d(2025, 1, 1), "T")]}});
        let new = emp("u1C", d(2025, 1, 1), None, "ST", vec![job(d(2025, 1, 1), "A")]);
        let rec = json!({"employmentNav": {"results": [new, old]}});
        let l = decide(&rec, at("2025-06-01T00:00:00Z"), &TimeZone::UTC);
        assert_eq!(l.user_id.as_deref(), Some("u1C"));
        assert!(l.enabled());
    }

    #[test]
    fn prehire_leave_global_assignment_and_missing_termination_info() {
        let pre = emp("p1", d(2026, 12, 15), None, "ST", vec![]);
        let rec = json!({"employmentNav": {"results": [pre]}, "personEmpTerminationInfoNav": null});
        let l = decide(&rec, at("2026-11-24T00:00:00Z"), &TimeZone::UTC);
        assert_eq!(l.stage, Stage::PreHire { start: jiff::civil::date(2026, 12, 15) });
        assert_eq!(l.wakeups.len(), 1);
        let mut rec2 = rec.clone();
        let notes = normalize(&mut rec2, at("2026-11-24T00:00:00Z"), &TimeZone::UTC);
        assert_eq!(rec2["personEmpTerminationInfoNav"]["activeEmploymentsCount"], 0);
        assert!(notes.iter().any(|n| n.0.contains("was null")));

        let leave = emp(
            "l1",
            d(2020, 1, 1),
            None,
            "ST",
            vec![job(d(2020, 1, 1), "A"), job(d(2026, 10, 1), "U")],
        );
        let l = decide(
            &json!({"employmentNav": {"results": [leave]}}),
            at("2026-11-24T00:00:00Z"),
            &TimeZone::UTC,
        );
        assert_eq!(l.stage, Stage::Leave { status: "U".into() });
        assert!(l.enabled());

        let home = emp("h1", d(2020, 1, 1), None, "ST", vec![job(d(2020, 1, 1), "A")]);
        let ga = emp("g1", d(2025, 1, 1), None, "GA", vec![job(d(2025, 1, 1), "A")]);
        let l = decide(
            &json!({"employmentNav": {"results": [ga, home]}}),
            at("2026-11-24T00:00:00Z"),
            &TimeZone::UTC,
        );
        assert_eq!(l.user_id.as_deref(), Some("h1"), "the home assignment is primary");

        let l =
            decide(&json!({"personIdExternal": "x"}), at("2026-11-24T00:00:00Z"), &TimeZone::UTC);
        assert_eq!(l.stage, Stage::NoEmployment);
    }

    #[test]
    fn current_job_slice_moves_first() {
        let e = emp(
            "u",
            d(2020, 1, 1),
            None,
            "ST",
            vec![job(d(2020, 1, 1), "A"), job(d(2025, 1, 1), "P")],
        );
        let mut rec = json!({"employmentNav": {"results": [e]}});
        normalize(&mut rec, at("2026-01-01T00:00:00Z"), &TimeZone::UTC);
        assert_eq!(
            rec["employmentNav"]["results"][0]["jobInfoNav"]["results"][0]["emplStatusNav"]["externalCode"],
            "P"
        );
    }

    #[test]
    fn sf_days() {
        assert_eq!(sf_day(&json!("/Date(1672531200000)/")), Some(jiff::civil::date(2023, 1, 1)));
        assert_eq!(
            sf_day(&json!("/Date(1672531200000+0100)/")),
            Some(jiff::civil::date(2023, 1, 1))
        );
        assert_eq!(sf_day(&json!("/Date(-86400000)/")), Some(jiff::civil::date(1969, 12, 31)));
        assert_eq!(
            sf_day(&json!("/Date(253402214400000)/")),
            Some(jiff::civil::date(9999, 12, 31))
        );
        assert_eq!(sf_day(&json!("2023-01-01")), None);
        assert_eq!(sf_day(&json!(null)), None);
    }
}
