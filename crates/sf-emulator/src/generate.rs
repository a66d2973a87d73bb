//! Deterministic population: the same seed and the same `today` give the same
//! tenant, byte for byte.
//!
//! The scenario mix (per worker, drawn independently; the first 1% of workers
//! are always active managers so the hierarchy has a root):
//!
//! | scenario | share |
//! |---|---|
//! | active employee | 67.0% |
//! | active with a future-dated job change pending | 3.0% |
//! | terminated (count 0, latestTerminationDate, emplStatus T, user inactive) | 8.0% |
//! | terminated with `personEmpTerminationInfoNav` null | 1.0% |
//! | pre-hire, user status `t` (active) | 1.5% |
//! | pre-hire, user status `f` (inactive) | 1.0% |
//! | pre-hire, user status `e` (active_external_suite, Onboarding 2.0) | 1.5% |
//! | rehire (two employments, old one terminated, random order) | 4.0% |
//! | worker conversion (old employment's userNav null, random order) | 3.0% |
//! | global assignment (ST home + GA employment) | 3.0% |
//! | concurrent jobs (two ST employments) | 3.0% |
//! | paid leave (emplStatus P) | 2.0% |
//! | unpaid leave (emplStatus U) | 2.0% |
//!
//! Cross-cutting, independent of the scenario: emails — business only 55%,
//! business+personal (business primary) 25%, personal only 6%, business+personal
//! with personal primary 5%, none 9% (pre-hires: personal only, primary);
//! phones — business 45%, business+cell 20%, cell only 10%, business+cell+home
//! with cell primary 5%, none 20%; names — diacritics come from the name pools
//! (about a third of names), apostrophes 2%, double quotes 1%, CJK 3%, very long
//! (over 100 characters) 0.5%; middle name 20%, preferred name 15%; an earlier
//! name slice (name change) 5%; a past data-change job slice 40%. The manager
//! hierarchy is an 8-ary tree over worker numbers, skipping workers without an
//! active employment.

use std::collections::HashSet;

use rand::{Rng, RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::model::*;
use crate::refdata::{self, RefIndex};
use crate::time::{Day, MS_PER_DAY, day_ms};

/// What to generate.
#[derive(Debug, Clone)]
pub struct PopulationConfig {
    /// Number of persons.
    pub workers: usize,
    pub seed: u64,
    /// The day the population is generated "as of": hire dates, stamps and
    /// pre-hire start dates are relative to it.
    pub today: Day,
}

/// Scenario weights in per-mille, in draw order.
pub const MIX: &[(Scenario, u32)] = &[
    (Scenario::Active, 670),
    (Scenario::FutureDatedChange, 30),
    (Scenario::Terminated, 80),
    (Scenario::TerminationInfoNull, 10),
    (Scenario::PreHireActive, 15),
    (Scenario::PreHireInactive, 10),
    (Scenario::PreHireOnboarding, 15),
    (Scenario::Rehire, 40),
    (Scenario::Conversion, 30),
    (Scenario::GlobalAssignment, 30),
    (Scenario::ConcurrentJobs, 30),
    (Scenario::PaidLeave, 20),
    (Scenario::UnpaidLeave, 20),
];

/// A one-line-per-scenario description of [`MIX`] for `--help`.
pub fn mix_table() -> String {
    let mut out = String::new();
    for (scenario, per_mille) in MIX {
        let name = serde_json::to_value(scenario)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        out.push_str(&format!("  {name:<24} {:>5.1}%\n", *per_mille as f64 / 10.0));
    }
    out
}

const FIRST: &[&str] = &[
    "Ana",
    "José",
    "Zoë",
    "François",
    "Łukasz",
    "Søren",
    "Chloé",
    "Björn",
    "Renée",
    "Jürgen",
    "Maria",
    "John",
    "Emma",
    "Liam",
    "Olivia",
    "Noah",
    "Sofia",
    "Lucas",
    "Mia",
    "Ethan",
    "Ingrid",
    "Mateo",
    "Amélie",
    "Håkon",
    "Dvořák",
    "Ayşe",
    "Nikolaj",
    "Inès",
    "Raúl",
    "Priya",
    "Wei",
    "Aiko",
    "Kwame",
    "Fatima",
    "Oliver",
    "Charlotte",
    "James",
    "Harper",
    "Elif",
    "Tomás",
];
const LAST: &[&str] = &[
    "Müller",
    "García",
    "Núñez",
    "Ångström",
    "Dubois",
    "Schröder",
    "Kowalski",
    "Jørgensen",
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Miller",
    "Davis",
    "Martínez",
    "Hernández",
    "López",
    "Wilson",
    "Anderson",
    "Taylor",
    "Thomas",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Pérez",
    "Thompson",
    "White",
    "Harris",
    "Çelik",
    "Nováková",
    "Łęcki",
    "Fernández",
    "Weiß",
    "Öztürk",
    "Sánchez",
    "Clark",
    "Lewis",
    "Walker",
];
const APOSTROPHE_LAST: &[&str] = &["O'Neil", "D'Angelo", "O'Brien", "D'Souza", "N'Diaye"];
const QUOTED_FIRST: &[&str] = &["Robert \"Bob\"", "Elizabeth \"Liz\"", "William \"Bill\""];
const CJK: &[(&str, &str)] =
    &[("伟", "王"), ("花子", "山田"), ("민준", "김"), ("秀英", "李"), ("太郎", "佐藤")];
const LONG_LAST: &str = "Wolfeschlegelsteinhausenbergerdorff-Montgomery de la Cruz y Fernández-Habsburg-Lothringen von und zu Liechtenstein";

/// Folds a name to lowercase ASCII letters for usernames and email local parts.
pub fn ascii_fold(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        let folded = match c {
            'á' | 'à' | 'â' | 'ä' | 'ã' | 'å' | 'Á' | 'Å' | 'Ä' => "a",
            'ç' | 'Ç' | 'č' => "c",
            'é' | 'è' | 'ê' | 'ë' | 'ę' | 'É' => "e",
            'í' | 'ì' | 'î' | 'ï' => "i",
            'ñ' => "n",
            'ó' | 'ò' | 'ô' | 'ö' | 'õ' | 'ø' | 'Ö' | 'Ø' => "o",
            'ú' | 'ù' | 'û' | 'ü' | 'Ü' => "u",
            'ł' | 'Ł' => "l",
            'ř' => "r",
            'ş' | 'š' => "s",
            'ß' => "ss",
            'ý' => "y",
            'ž' => "z",
            c if c.is_ascii_alphabetic() => {
                out.push(c.to_ascii_lowercase());
                continue;
            }
            _ => "",
        };
        out.push_str(folded);
    }
    out
}

/// Per-worker generation state shared across workers.
struct Gen<'a> {
    rng: ChaCha8Rng,
    today: Day,
    refs: &'a RefData,
    ri: &'a RefIndex,
    usernames: HashSet<String>,
}

impl Gen<'_> {
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.rng.random_range(0..items.len())]
    }

    fn chance(&mut self, per_mille: u32) -> bool {
        self.rng.random_range(0..1000) < per_mille
    }

    /// A stamp in the past, not before `not_before` (a day), at least an hour
    /// before today's midnight so a full sync "le now" sees it.
    fn stamp(&mut self, not_before: Day) -> i64 {
        let hi = day_ms(self.today) - 3_600_000;
        let lo = if not_before >= self.today {
            hi - 30 * MS_PER_DAY
        } else {
            day_ms(not_before.max(self.today - 3 * 365)).min(hi - 1)
        };
        self.rng.random_range(lo..hi)
    }

    /// (createdDateTime, lastModifiedDateTime) of a record: two stamps drawn
    /// as for `modified_since` and `created_since`, ordered so that a record
    /// is never modified before it was created.
    fn audit_pair(&mut self, modified_since: Day, created_since: Day) -> (i64, i64) {
        let a = self.stamp(modified_since);
        let b = self.stamp(created_since);
        (a.min(b), a.max(b))
    }

    fn option(&self, picklist: &str, code: &str) -> RefId {
        // The picklists are built by `refdata::build`; a miss is a programming error
        // caught by the generator's tests, so fall back to the first record.
        self.refs.option(picklist, code).unwrap_or(0)
    }

    fn event_reason(&self, code: &str) -> RefId {
        self.refs.code("FOEventReason", code).unwrap_or(0)
    }

    fn username(&mut self, first: &str, last: &str, pid: &str) -> String {
        let f = ascii_fold(first);
        let l = ascii_fold(last);
        let mut base: String =
            format!("{}{}", f.chars().next().map(String::from).unwrap_or_default(), l);
        base.truncate(16);
        if base.len() < 2 {
            base = format!("user{pid}");
        }
        let mut candidate = base.clone();
        let mut n = 1;
        while !self.usernames.insert(candidate.clone()) {
            n += 1;
            candidate = format!("{base}{n}");
        }
        candidate
    }

    fn names(&mut self) -> (String, String) {
        let roll = self.rng.random_range(0..1000);
        match roll {
            0..=19 => (self.pick(FIRST).to_owned(), self.pick(APOSTROPHE_LAST).to_owned()),
            20..=29 => (self.pick(QUOTED_FIRST).to_owned(), self.pick(LAST).to_owned()),
            30..=59 => {
                let (f, l) = self.pick(CJK);
                (f.to_owned(), l.to_owned())
            }
            60..=64 => (self.pick(FIRST).to_owned(), LONG_LAST.to_owned()),
            _ => (self.pick(FIRST).to_owned(), self.pick(LAST).to_owned()),
        }
    }

    fn job(
        &mut self,
        start: Day,
        status: &str,
        reason: &str,
        company_idx: usize,
        manager: Option<String>,
    ) -> JobSlice {
        let (company, ref locations, _) = self.ri.companies[company_idx];
        let locations = locations.clone();
        let d = self.rng.random_range(0..self.ri.departments.len());
        let position = self.pick(&self.ri.positions.clone());
        let job_code = self.ri.job_codes[(position as usize) % self.ri.job_codes.len()];
        let job_title = self
            .refs
            .get(position)
            .text("externalName_defaultValue")
            .unwrap_or("Employee")
            .to_owned();
        let mut custom = Customs::new();
        custom.push((1, format!("JF-{:02}", d + 1).into()));
        if self.chance(300) {
            custom.push((
                15,
                format!(
                    "Floor {} — Wing {}",
                    self.rng.random_range(1..40),
                    self.pick(&["A", "B", "Nord", "Süd"])
                )
                .into(),
            ));
        }
        JobSlice {
            start,
            seq: 1,
            last_modified: self.stamp(start),
            empl_status: self.option(refdata::EMPL_STATUS, status),
            event_reason: self.event_reason(reason),
            company,
            department: self.ri.departments[d],
            division: self.pick(&self.ri.divisions.clone()),
            business_unit: self.pick(&self.ri.business_units.clone()),
            cost_center: self.ri.cost_centers[d],
            location: self.pick(&locations),
            job_code,
            pay_grade: self.pick(&self.ri.pay_grades.clone()),
            position,
            employment_type: {
                let code = if self.chance(850) { "FT" } else { "PT" };
                self.option(refdata::EMPLOYMENT_TYPE, code)
            },
            employee_class: self.option(refdata::EMPLOYEE_CLASS, "1"),
            job_title,
            manager_id: manager,
            fte: 1.0,
            custom,
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn employment(
        &mut self,
        user_id: String,
        start: Day,
        end: Option<Day>,
        status: UserStatus,
        names: &(String, String),
        pid: &str,
        manager: Option<String>,
        jobs: Vec<JobSlice>,
    ) -> Employment {
        let username = match status {
            // Pre-hires get their username from onboarding/writeback later.
            _ if start > self.today => None,
            _ => Some(self.username(&names.0, &names.1, pid)),
        };
        let mut custom = Customs::new();
        custom.push((1, format!("B{:07}", self.rng.random_range(0..10_000_000)).into()));
        let mut user_custom = Customs::new();
        user_custom.push((1, format!("EMP-{pid}").into()));
        if self.chance(500) {
            user_custom.push((2, self.pick(&["Y", "N"]).into()));
        }
        let job0 = jobs.first();
        let user = User {
            username,
            status,
            email: None,
            first_name: names.0.clone(),
            last_name: names.1.clone(),
            display_name: format!("{} {}", names.0, names.1),
            manager_id: manager,
            business_phone: None,
            cell_phone: None,
            title: job0.map(|j| j.job_title.clone()),
            department: job0
                .and_then(|j| self.refs.get(j.department).text("name").map(str::to_owned)),
            location: job0.and_then(|j| self.refs.get(j.location).text("name").map(str::to_owned)),
            custom: user_custom,
            extra: Vec::new(),
            last_modified: self.stamp(start),
        };
        let (created, last_modified) = self.audit_pair(end.unwrap_or(start), start);
        Employment {
            user_id,
            start,
            end,
            original_start: start,
            last_date_worked: end,
            last_modified,
            created,
            assignment_class: AssignmentClass::ST,
            is_contingent_worker: false,
            hiring_not_completed: false,
            job_number: 1,
            user: Some(user),
            jobs,
            global_assignment: None,
            custom,
        }
    }

    fn terminate_slice(
        &mut self,
        last_day: Day,
        company: usize,
        manager: Option<String>,
    ) -> JobSlice {
        self.job(last_day + 1, "T", "TERMRES", company, manager)
    }
}

/// Generates the reference data and `config.workers` persons.
pub fn generate(config: &PopulationConfig) -> Database {
    let (refs, ri) = refdata::build();
    let mut g = Gen {
        rng: ChaCha8Rng::seed_from_u64(config.seed),
        today: config.today,
        refs: &refs,
        ri: &ri,
        usernames: HashSet::with_capacity(config.workers * 2),
    };
    let n = config.workers;
    let mut persons = Vec::with_capacity(n);
    // userId of each worker's active ST employment, for the manager hierarchy.
    let mut manager_of: Vec<Option<String>> = Vec::with_capacity(n);
    let forced_managers = (n / 100).max(1);
    for i in 0..n {
        let scenario = if i < forced_managers {
            Scenario::Manager
        } else {
            let mut roll = g.rng.random_range(0..1000);
            MIX.iter()
                .find(|(_, w)| {
                    if roll < *w {
                        true
                    } else {
                        roll -= w;
                        false
                    }
                })
                .map(|(s, _)| *s)
                .unwrap_or(Scenario::Active)
        };
        // Walk up the 8-ary tree until a worker with an active employment.
        let mut manager = None;
        let mut j = i;
        while j > 0 {
            j = (j - 1) / 8;
            if let Some(Some(m)) = manager_of.get(j) {
                manager = Some(m.clone());
                break;
            }
        }
        let person = person(&mut g, i, scenario, manager);
        let active_user = match scenario {
            Scenario::Terminated
            | Scenario::TerminationInfoNull
            | Scenario::PreHireActive
            | Scenario::PreHireInactive
            | Scenario::PreHireOnboarding => None,
            _ => person.current_employment().map(|e| person.employments[e].user_id.clone()),
        };
        manager_of.push(active_user);
        persons.push(person);
    }
    drop(g);
    let mut db = Database {
        refs,
        ref_index: ri,
        persons: Vec::new(),
        next_person_number: 100_000 + n as u64,
        ..Default::default()
    };
    db.persons.reserve(n);
    for p in persons {
        db.push_person(p);
    }
    db
}

fn person(g: &mut Gen<'_>, i: usize, scenario: Scenario, manager: Option<String>) -> Person {
    let today = g.today;
    let pid = format!("{}", 100_000 + i);
    let names = g.names();
    let company = g.rng.random_range(0..g.ri.companies.len());
    let hire: Day = today - g.rng.random_range(30..20 * 365);
    let mut uuid_bits = [0u8; 16];
    g.rng.fill_bytes(&mut uuid_bits);
    let uuid: String = uuid_bits.iter().map(|b| format!("{b:02X}")).collect();
    let birth = today - g.rng.random_range(20 * 365..65 * 365);

    let mut employments = Vec::new();
    let mut termination = Some(TerminationInfo {
        active_employments_count: 1,
        latest_termination_date: None,
        last_modified: 0,
    });
    let mut first_start = hire;
    let mut names_start = hire;

    let job_history =
        |g: &mut Gen<'_>, start: Day, reason: &str, status: &str, manager: &Option<String>| {
            let mut jobs = vec![g.job(start, status, reason, company, manager.clone())];
            if g.chance(400) && today - start > 60 {
                let change = start + g.rng.random_range(30..(today - start).max(31));
                if change < today {
                    let mut j = g.job(change, status, "DATACHG", company, manager.clone());
                    j.department = jobs[0].department;
                    j.cost_center = jobs[0].cost_center;
                    jobs.push(j);
                }
            }
            jobs
        };

    match scenario {
        Scenario::Active
        | Scenario::Manager
        | Scenario::FutureDatedChange
        | Scenario::PaidLeave
        | Scenario::UnpaidLeave
        | Scenario::CreatedByEvent => {
            let mut jobs = job_history(g, hire, "HIRE", "A", &manager);
            match scenario {
                Scenario::FutureDatedChange => {
                    let start = today + g.rng.random_range(1..30);
                    let j = g.job(start, "A", "TRANSFER", company, manager.clone());
                    jobs.push(j);
                }
                Scenario::PaidLeave | Scenario::UnpaidLeave => {
                    let (code, reason) = if scenario == Scenario::PaidLeave {
                        ("P", "LOAPAID")
                    } else {
                        ("U", "LOAUNPAID")
                    };
                    let from = today - g.rng.random_range(1..60).min(today - hire - 1).max(1);
                    let last = jobs.last().map(|j| j.start).unwrap_or(hire);
                    let mut leave = jobs
                        .last()
                        .cloned()
                        .unwrap_or_else(|| g.job(from, code, reason, company, manager.clone()));
                    leave.start = from.max(last + 1);
                    leave.empl_status = g.option(refdata::EMPL_STATUS, code);
                    leave.event_reason = g.event_reason(reason);
                    leave.last_modified = g.stamp(leave.start);
                    jobs.push(leave.clone());
                    if g.chance(500) {
                        let mut back = leave;
                        back.start = today + g.rng.random_range(10..90);
                        back.empl_status = g.option(refdata::EMPL_STATUS, "A");
                        back.event_reason = g.event_reason("RETLOA");
                        back.last_modified = g.stamp(today);
                        jobs.push(back);
                    }
                }
                _ => {}
            }
            employments.push(g.employment(
                pid.clone(),
                hire,
                None,
                UserStatus::Active,
                &names,
                &pid,
                manager.clone(),
                jobs,
            ));
        }
        Scenario::Terminated | Scenario::TerminationInfoNull => {
            let last = hire + g.rng.random_range(1..(today - hire).max(2)) - 1;
            let last = last.min(today - 1);
            let mut jobs = vec![g.job(hire, "A", "HIRE", company, manager.clone())];
            jobs.push(g.terminate_slice(last, company, manager.clone()));
            employments.push(g.employment(
                pid.clone(),
                hire,
                Some(last),
                UserStatus::Inactive,
                &names,
                &pid,
                manager.clone(),
                jobs,
            ));
            termination = if scenario == Scenario::TerminationInfoNull {
                None
            } else {
                Some(TerminationInfo {
                    active_employments_count: 0,
                    latest_termination_date: Some(last),
                    last_modified: 0,
                })
            };
        }
        Scenario::PreHireActive | Scenario::PreHireInactive | Scenario::PreHireOnboarding => {
            let start = today + g.rng.random_range(5..60);
            let status = match scenario {
                Scenario::PreHireActive => UserStatus::Active,
                Scenario::PreHireInactive => UserStatus::Inactive,
                _ => UserStatus::ActiveExternalSuite,
            };
            let jobs = vec![g.job(start, "A", "HIRE", company, manager.clone())];
            let mut e =
                g.employment(pid.clone(), start, None, status, &names, &pid, manager.clone(), jobs);
            e.hiring_not_completed = scenario == Scenario::PreHireOnboarding;
            employments.push(e);
            first_start = start;
            names_start = start;
        }
        Scenario::Rehire | Scenario::Conversion => {
            let first = today - g.rng.random_range(3 * 365..15 * 365);
            let last = first + g.rng.random_range(200..2 * 365);
            let second = if scenario == Scenario::Rehire {
                last + g.rng.random_range(30..365)
            } else {
                last + 1
            };
            let mut old_jobs = vec![g.job(first, "A", "HIRE", company, manager.clone())];
            old_jobs.push(g.terminate_slice(last, company, manager.clone()));
            let mut old = g.employment(
                pid.clone(),
                first,
                Some(last),
                UserStatus::Inactive,
                &names,
                &pid,
                manager.clone(),
                old_jobs,
            );
            let reason = if scenario == Scenario::Rehire { "REHIRE" } else { "CONV" };
            let new_jobs = job_history(g, second, reason, "A", &manager);
            let new_id = if scenario == Scenario::Rehire {
                format!("{pid}_R1")
            } else {
                format!("{pid}_C1")
            };
            let mut new = g.employment(
                new_id,
                second,
                None,
                UserStatus::Active,
                &names,
                &pid,
                manager.clone(),
                new_jobs,
            );
            new.original_start = first;
            new.job_number = 2;
            if scenario == Scenario::Conversion {
                // Contractor converted to employee: the old User is gone.
                old.is_contingent_worker = true;
                old.user = None;
                for j in &mut old.jobs {
                    j.employee_class = g.option(refdata::EMPLOYEE_CLASS, "2");
                    j.employment_type = g.option(refdata::EMPLOYMENT_TYPE, "TMP");
                }
            }
            if g.chance(500) {
                employments.push(new);
                employments.push(old);
            } else {
                employments.push(old);
                employments.push(new);
            }
            termination = Some(TerminationInfo {
                active_employments_count: 1,
                latest_termination_date: Some(last),
                last_modified: 0,
            });
            first_start = first;
            names_start = first;
        }
        Scenario::GlobalAssignment | Scenario::ConcurrentJobs => {
            let home_jobs = job_history(g, hire, "HIRE", "A", &manager);
            employments.push(g.employment(
                pid.clone(),
                hire,
                None,
                UserStatus::Active,
                &names,
                &pid,
                manager.clone(),
                home_jobs,
            ));
            let start = today - g.rng.random_range(1..(today - hire).clamp(2, 700));
            let other = (company + 1) % g.ri.companies.len();
            if scenario == Scenario::GlobalAssignment {
                let jobs = vec![g.job(start, "A", "GASTART", other, manager.clone())];
                let mut ga = g.employment(
                    format!("{pid}_GA"),
                    start,
                    None,
                    UserStatus::Active,
                    &names,
                    &pid,
                    manager.clone(),
                    jobs,
                );
                ga.assignment_class = AssignmentClass::GA;
                ga.job_number = 2;
                ga.global_assignment = Some(GlobalAssignment {
                    assignment_type: g.option(refdata::ASSIGNMENT_TYPE, "GA"),
                    start,
                    planned_end: today + g.rng.random_range(60..730),
                    company: g.ri.companies[other].0,
                    last_modified: g.stamp(start),
                });
                employments.push(ga);
            } else {
                let mut jobs = vec![g.job(start, "A", "HIRE", other, manager.clone())];
                jobs[0].fte = 0.5;
                jobs[0].employment_type = g.option(refdata::EMPLOYMENT_TYPE, "PT");
                let mut second = g.employment(
                    format!("{pid}_2"),
                    start,
                    None,
                    UserStatus::Active,
                    &names,
                    &pid,
                    manager.clone(),
                    jobs,
                );
                second.job_number = 2;
                employments.push(second);
            }
            // Which of the two comes first is not guaranteed by SuccessFactors.
            if g.chance(500) {
                employments.swap(0, 1);
            }
            termination = Some(TerminationInfo {
                active_employments_count: 2,
                latest_termination_date: None,
                last_modified: 0,
            });
        }
    }

    // Names: usually one slice from the first start; sometimes an earlier name.
    let gender = Some(g.pick(&['M', 'F', 'U']));
    let middle = g.chance(200).then(|| g.pick(FIRST).to_owned());
    let preferred = g.chance(150).then(|| g.pick(FIRST).to_owned());
    let mut personal = Vec::new();
    if g.chance(50) && today - names_start > 400 {
        let change = names_start + g.rng.random_range(100..(today - names_start - 1).max(101));
        personal.push(PersonalSlice {
            start: names_start,
            last_modified: g.stamp(names_start),
            first_name: names.0.clone(),
            last_name: g.pick(LAST).to_owned(),
            middle_name: middle.clone(),
            preferred_name: preferred.clone(),
            gender,
            nationality: Some("USA"),
            marital_status: Some("S"),
        });
        names_start = change.min(today - 1);
    }
    personal.push(PersonalSlice {
        start: names_start,
        last_modified: g.stamp(names_start),
        first_name: names.0.clone(),
        last_name: names.1.clone(),
        middle_name: middle,
        preferred_name: preferred,
        gender,
        nationality: Some("USA"),
        marital_status: Some(if g.chance(500) { "M" } else { "S" }),
    });

    let is_prehire = matches!(
        scenario,
        Scenario::PreHireActive | Scenario::PreHireInactive | Scenario::PreHireOnboarding
    );
    let (emails, phones) = contacts(g, &names, company, is_prehire, first_start);

    // User mirrors of the primary contacts, as SuccessFactors keeps them.
    let business_email = emails.iter().find(|e| e.email_type == 8448).map(|e| e.address.clone());
    for e in &mut employments {
        if let Some(u) = &mut e.user {
            u.email = business_email.clone();
            u.business_phone =
                phones.iter().find(|p| p.phone_type == 10605).map(|p| p.number.clone());
            u.cell_phone = phones.iter().find(|p| p.phone_type == 10606).map(|p| p.number.clone());
        }
    }
    if let Some(t) = &mut termination {
        t.last_modified = g.stamp(t.latest_termination_date.unwrap_or(first_start));
    }

    let (person_created, person_modified) = g.audit_pair(first_start, first_start);
    Person {
        person_id_external: pid,
        person_id: i as i64 + 1,
        uuid,
        date_of_birth: Some(birth),
        country_of_birth: Some(COUNTRY_CODES[company]),
        last_modified: person_modified,
        created: person_created,
        personal,
        emails,
        phones,
        employments,
        termination,
        scenario,
    }
}

const COUNTRY_CODES: &[&str] = &["USA", "DEU", "FRA", "GBR", "JPN", "BRA"];

fn contacts(
    g: &mut Gen<'_>,
    names: &(String, String),
    company: usize,
    prehire: bool,
    start: Day,
) -> (Vec<Email>, Vec<Phone>) {
    let local = {
        let f = ascii_fold(&names.0);
        let l = ascii_fold(&names.1);
        let mut s = if f.is_empty() || l.is_empty() {
            format!("user{}", g.rng.random_range(0..1_000_000))
        } else {
            format!("{f}.{l}")
        };
        s.truncate(40);
        s
    };
    let n = g.rng.random_range(1..1000);
    let business = |g: &mut Gen<'_>, primary| {
        let (created, last_modified) = g.audit_pair(start, start);
        Email {
            email_type: 8448,
            address: format!("{local}{n}@ace.example.com"),
            is_primary: primary,
            last_modified,
            created,
        }
    };
    let personal = |g: &mut Gen<'_>, primary| {
        let (created, last_modified) = g.audit_pair(start, start);
        Email {
            email_type: 8449,
            address: format!("{local}{n}@home.example.org"),
            is_primary: primary,
            last_modified,
            created,
        }
    };
    let emails = if prehire {
        vec![personal(g, true)]
    } else {
        match g.rng.random_range(0..1000) {
            0..550 => vec![business(g, true)],
            550..800 => vec![business(g, true), personal(g, false)],
            800..860 => vec![personal(g, true)],
            860..910 => vec![business(g, false), personal(g, true)],
            _ => vec![],
        }
    };
    let prefix = g.ri.companies[company].2;
    let phone = |g: &mut Gen<'_>, phone_type: i64, primary: bool| {
        let country_code = Some(prefix.to_owned());
        let area_code = Some(format!("{}", g.rng.random_range(20..999)));
        let number = format!("{}", g.rng.random_range(1_000_000..9_999_999));
        let extension = g.chance(100).then(|| format!("{}", g.rng.random_range(100..9999)));
        let (created, last_modified) = g.audit_pair(start, start);
        Phone {
            phone_type,
            country_code,
            area_code,
            number,
            extension,
            is_primary: primary,
            last_modified,
            created,
        }
    };
    let phones = match g.rng.random_range(0..1000) {
        0..450 => vec![phone(g, 10605, true)],
        450..650 => vec![phone(g, 10605, true), phone(g, 10606, false)],
        650..750 => vec![phone(g, 10606, true)],
        750..800 => vec![phone(g, 10605, false), phone(g, 10606, true), phone(g, 10607, false)],
        _ => vec![],
    };
    (emails, phones)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::days_from_civil;

    fn config(workers: usize, seed: u64) -> PopulationConfig {
        PopulationConfig { workers, seed, today: days_from_civil(2025, 3, 1) }
    }

    #[test]
    fn same_seed_same_data_and_different_seed_differs() {
        let a = generate(&config(300, 7));
        let b = generate(&config(300, 7));
        let c = generate(&config(300, 8));
        let dump = |db: &Database| serde_json::to_string(&db.persons).unwrap_or_default();
        assert_eq!(dump(&a), dump(&b));
        assert_ne!(dump(&a), dump(&c));
    }

    #[test]
    fn population_has_every_scenario_and_consistent_shapes() {
        let db = generate(&config(3000, 42));
        let today = days_from_civil(2025, 3, 1);
        let mut seen = HashSet::new();
        for p in &db.persons {
            seen.insert(p.scenario);
            assert!(
                p.personal.windows(2).all(|w| w[0].start < w[1].start),
                "{}",
                p.person_id_external
            );
            assert!(p.emails.iter().filter(|e| e.is_primary).count() <= 1);
            assert!(p.phones.iter().filter(|e| e.is_primary).count() <= 1);
            for e in &p.employments {
                assert!(e.jobs.windows(2).all(|w| w[0].start <= w[1].start));
                assert!(!e.jobs.is_empty());
            }
            match p.scenario {
                Scenario::Terminated => {
                    let t = p
                        .termination
                        .as_ref()
                        .map(|t| (t.active_employments_count, t.latest_termination_date.is_some()));
                    assert_eq!(t, Some((0, true)));
                    let last_job =
                        p.employments[0].jobs.last().map(|j| db.refs.option_code(j.empl_status));
                    assert_eq!(last_job, Some("T"));
                }
                Scenario::TerminationInfoNull => assert!(p.termination.is_none()),
                Scenario::Conversion => assert!(p.employments.iter().any(|e| e.user.is_none())),
                Scenario::Rehire => assert_eq!(p.employments.len(), 2),
                Scenario::PreHireOnboarding => {
                    let e = &p.employments[0];
                    assert!(e.start > today);
                    assert_eq!(
                        e.user.as_ref().map(|u| u.status),
                        Some(UserStatus::ActiveExternalSuite)
                    );
                }
                _ => {}
            }
        }
        for (s, _) in MIX {
            assert!(seen.contains(s), "missing scenario {s:?}");
        }
        // Rehire employments come in both orders across the population.
        let orders: HashSet<bool> = db
            .persons
            .iter()
            .filter(|p| p.scenario == Scenario::Rehire)
            .map(|p| p.employments[0].end.is_some())
            .collect();
        assert_eq!(orders.len(), 2);
        assert!(db.max_stamp() < day_ms(today));
    }
}

/// What an HR hire event specifies; everything else is drawn from `seed`.
#[derive(Debug, Clone, Default)]
pub(crate) struct HireSpec {
    pub person_id_external: String,
    pub person_id: i64,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub start: Day,
    pub status: Option<UserStatus>,
    pub company: Option<String>,
    pub manager_id: Option<String>,
}

/// A newly hired (or pre-hired) person, generated like the population.
/// Stamps are random past values; the caller restamps them with the event's time.
pub(crate) fn hired_person(db: &Database, seed: u64, today: Day, spec: &HireSpec) -> Person {
    let mut g = Gen {
        rng: ChaCha8Rng::seed_from_u64(seed),
        today,
        refs: &db.refs,
        ri: &db.ref_index,
        usernames: HashSet::new(),
    };
    let drawn = g.names();
    let names =
        (spec.first_name.clone().unwrap_or(drawn.0), spec.last_name.clone().unwrap_or(drawn.1));
    let company = spec
        .company
        .as_deref()
        .and_then(|c| {
            db.ref_index
                .companies
                .iter()
                .position(|(id, _, _)| db.refs.get(*id).text("externalCode") == Some(c))
        })
        .unwrap_or_else(|| g.rng.random_range(0..db.ref_index.companies.len()));
    let pid = spec.person_id_external.clone();
    let status = spec.status.unwrap_or(UserStatus::Active);
    let jobs = vec![g.job(spec.start, "A", "HIRE", company, spec.manager_id.clone())];
    let mut employment = g.employment(
        pid.clone(),
        spec.start,
        None,
        status,
        &names,
        &pid,
        spec.manager_id.clone(),
        jobs,
    );
    if let Some(u) = &mut employment.user {
        // Usernames of hires must not collide with the population's.
        u.username = u.username.take().map(|n| format!("{n}.{pid}"));
    }
    employment.hiring_not_completed = status == UserStatus::ActiveExternalSuite;
    let prehire = spec.start > today;
    let (emails, phones) = contacts(&mut g, &names, company, prehire, spec.start);
    if let Some(u) = &mut employment.user {
        u.email = emails.iter().find(|e| e.email_type == 8448).map(|e| e.address.clone());
    }
    let mut uuid_bits = [0u8; 16];
    g.rng.fill_bytes(&mut uuid_bits);
    Person {
        person_id_external: pid,
        person_id: spec.person_id,
        uuid: uuid_bits.iter().map(|b| format!("{b:02X}")).collect(),
        date_of_birth: Some(today - g.rng.random_range(20 * 365..60 * 365)),
        country_of_birth: Some(COUNTRY_CODES[company % COUNTRY_CODES.len()]),
        last_modified: 0,
        created: 0,
        personal: vec![PersonalSlice {
            start: spec.start,
            last_modified: 0,
            first_name: names.0,
            last_name: names.1,
            middle_name: None,
            preferred_name: None,
            gender: Some('U'),
            nationality: None,
            marital_status: None,
        }],
        emails,
        phones,
        employments: vec![employment],
        termination: Some(TerminationInfo {
            active_employments_count: 1,
            latest_termination_date: None,
            last_modified: 0,
        }),
        scenario: Scenario::CreatedByEvent,
    }
}
