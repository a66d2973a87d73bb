//! HR events: the changes an HR administrator makes in Employee Central, with
//! the `lastModifiedDateTime` bumps SuccessFactors makes for them.
//!
//! Dates are `yyyy-MM-dd`; an omitted effective date means the emulator's today.
//! Effective-dated changes insert (or, on the same day, edit) a slice; the
//! surrounding slices keep their stamps, so a future-dated change shows up in a
//! delta query through its `startDate` only once the clock reaches it.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::generate::{HireSpec, hired_person};
use crate::model::*;
use crate::refdata;
use crate::time::{Clock, Day, format_day, parse_day};

/// One HR event. JSON form (admin API): `{"type":"terminate","personIdExternal":"100042","lastDay":"2025-03-31"}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(
    tag = "type",
    rename_all = "snake_case",
    rename_all_fields = "camelCase",
    deny_unknown_fields
)]
pub enum HrEvent {
    /// A new person with one active employment starting `startDate` (default today).
    Hire {
        #[serde(default)]
        person_id_external: Option<String>,
        #[serde(default)]
        first_name: Option<String>,
        #[serde(default)]
        last_name: Option<String>,
        #[serde(default)]
        start_date: Option<String>,
        #[serde(default)]
        company: Option<String>,
        #[serde(default)]
        manager_id: Option<String>,
    },
    /// A new person starting in the future, user status `t`, `f` or `e`.
    PreHire {
        #[serde(default)]
        person_id_external: Option<String>,
        #[serde(default)]
        first_name: Option<String>,
        #[serde(default)]
        last_name: Option<String>,
        start_date: String,
        status: UserStatus,
        #[serde(default)]
        company: Option<String>,
    },
    /// Ends the current (or `userId`'s) employment after `lastDay`.
    Terminate {
        person_id_external: String,
        last_day: String,
        #[serde(default)]
        user_id: Option<String>,
    },
    /// A new employment (and User) on the existing person; the old one stays.
    Rehire {
        person_id_external: String,
        #[serde(default)]
        start_date: Option<String>,
    },
    /// Ends the current employment the day before `startDate` and adds a new one
    /// with a new User; the old employment's User becomes null.
    Convert {
        person_id_external: String,
        #[serde(default)]
        start_date: Option<String>,
    },
    /// An EmpJob change: organisation, manager or title.
    Transfer {
        person_id_external: String,
        #[serde(default)]
        effective: Option<String>,
        #[serde(default)]
        department: Option<String>,
        #[serde(default)]
        location: Option<String>,
        #[serde(default)]
        company: Option<String>,
        #[serde(default)]
        manager_id: Option<String>,
        #[serde(default)]
        job_title: Option<String>,
    },
    /// Paid (P) or unpaid (U) leave from `from`, back to active after `to`.
    Leave {
        person_id_external: String,
        paid: bool,
        from: String,
        #[serde(default)]
        to: Option<String>,
    },
    /// A PerPersonal slice with new names.
    NameChange {
        person_id_external: String,
        #[serde(default)]
        effective: Option<String>,
        #[serde(default)]
        first_name: Option<String>,
        #[serde(default)]
        last_name: Option<String>,
        #[serde(default)]
        preferred_name: Option<String>,
    },
    /// A generic effective-dated change of `EmpJob` or `PerPersonal` fields
    /// (OData property names: `jobTitle`, `department`, `location`, `company`,
    /// `managerId`, `emplStatus` (externalCode), `customString1-15`; `firstName`,
    /// `lastName`, `middleName`, `preferredName`).
    FutureDatedChange {
        person_id_external: String,
        effective: String,
        entity: String,
        set: serde_json::Map<String, serde_json::Value>,
    },
    /// Sets (or with `address: null` deletes) the email of type `B` or `P`.
    EmailChange {
        person_id_external: String,
        email_type: String,
        #[serde(default)]
        address: Option<String>,
        #[serde(default)]
        is_primary: Option<bool>,
    },
    /// Sets (or with `number: null` deletes) the phone of type `B`, `C` or `H`.
    PhoneChange {
        person_id_external: String,
        phone_type: String,
        #[serde(default)]
        number: Option<String>,
        #[serde(default)]
        is_primary: Option<bool>,
    },
}

/// What an event touched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventOutcome {
    pub person_id_external: String,
    /// The userId of the employment created or changed, when there is one.
    pub user_id: Option<String>,
    /// The `lastModifiedDateTime` the event wrote (ms since the epoch).
    pub stamp: i64,
}

/// Why an event was rejected; the data is unchanged.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EventError {
    #[error("no person with personIdExternal '{0}'")]
    UnknownPerson(String),
    #[error("person '{0}' already exists")]
    DuplicatePerson(String),
    #[error("{field}: '{value}' is not a yyyy-MM-dd date")]
    BadDate { field: &'static str, value: String },
    #[error("person '{0}' has no active employment")]
    NoActiveEmployment(String),
    #[error("person '{0}' still has an active employment")]
    StillEmployed(String),
    #[error("person '{person}' has no employment with userId '{user_id}'")]
    UnknownUser { person: String, user_id: String },
    #[error("{field}: unknown code '{value}'")]
    UnknownCode { field: String, value: String },
    #[error("{entity}.{field}: cannot be changed by an event (value {value})")]
    UnsupportedField { entity: String, field: String, value: String },
    #[error("{what}: {end} is before {start}")]
    DateOrder { what: &'static str, start: String, end: String },
}

fn day(field: &'static str, value: &str) -> Result<Day, EventError> {
    parse_day(value).ok_or_else(|| EventError::BadDate { field, value: value.to_owned() })
}

fn day_or(field: &'static str, value: &Option<String>, default: Day) -> Result<Day, EventError> {
    value.as_deref().map(|v| day(field, v)).unwrap_or(Ok(default))
}

/// Changes one job slice may receive.
#[derive(Debug, Default)]
struct JobChange {
    status: Option<RefId>,
    reason: Option<RefId>,
    company: Option<RefId>,
    department: Option<RefId>,
    location: Option<RefId>,
    manager: Option<Option<String>>,
    title: Option<String>,
    custom: Vec<(u8, Option<String>)>,
}

/// Changes one personal slice may receive.
#[derive(Debug, Default)]
struct NameChangeSet {
    first: Option<String>,
    last: Option<String>,
    middle: Option<Option<String>>,
    preferred: Option<Option<String>>,
}

impl Database {
    fn person_idx(&self, id: &str) -> Result<usize, EventError> {
        self.person_index.get(id).copied().ok_or_else(|| EventError::UnknownPerson(id.to_owned()))
    }

    fn active_employment(&self, p: usize) -> Result<usize, EventError> {
        let person = &self.persons[p];
        person
            .current_employment()
            .filter(|&e| person.employments[e].end.is_none())
            .ok_or_else(|| EventError::NoActiveEmployment(person.person_id_external.clone()))
    }

    fn code(&self, entity: &'static str, field: &str, code: &str) -> Result<RefId, EventError> {
        self.refs.code(entity, code).ok_or_else(|| EventError::UnknownCode {
            field: field.to_owned(),
            value: code.to_owned(),
        })
    }

    fn status(&self, code: &str) -> Result<RefId, EventError> {
        self.refs.option(refdata::EMPL_STATUS, code).ok_or_else(|| EventError::UnknownCode {
            field: "emplStatus".into(),
            value: code.to_owned(),
        })
    }

    fn reason(&self, code: &str) -> RefId {
        self.refs.code("FOEventReason", code).unwrap_or(0)
    }

    /// Inserts or edits the job slice starting `at`, copying the slice valid then.
    fn change_job(&mut self, p: usize, e: usize, at: Day, change: JobChange, stamp: i64) {
        let emp = &mut self.persons[p].employments[e];
        let base = slice_at(&emp.jobs, at, |j| j.start).or(if emp.jobs.is_empty() {
            None
        } else {
            Some(0)
        });
        let existing = emp.jobs.iter().position(|j| j.start == at);
        let mut job = match (existing, base) {
            (Some(i), _) => emp.jobs.remove(i),
            (None, Some(i)) => emp.jobs[i].clone(),
            // Employments always have a job; nothing to copy means nothing to change.
            (None, None) => return,
        };
        let same_day = existing.is_some();
        job.start = at;
        job.last_modified = stamp;
        if let Some(v) = change.status {
            job.empl_status = v;
        }
        job.event_reason = change.reason.unwrap_or_else(|| {
            self.refs.code("FOEventReason", "DATACHG").unwrap_or(job.event_reason)
        });
        if let Some(v) = change.company {
            job.company = v;
        }
        if let Some(v) = change.department {
            job.department = v;
        }
        if let Some(v) = change.location {
            job.location = v;
        }
        if let Some(v) = change.manager {
            job.manager_id = v;
        }
        if let Some(v) = change.title {
            job.job_title = v;
        }
        for (n, v) in change.custom {
            set_custom(&mut job.custom, n, v.as_deref());
        }
        let emp = &mut self.persons[p].employments[e];
        if same_day {
            let seq = job.seq;
            let at_idx =
                emp.jobs.partition_point(|j| j.start < at || (j.start == at && j.seq < seq));
            emp.jobs.insert(at_idx, job);
        } else {
            emp.insert_job(job);
        }
    }

    /// Inserts or edits the personal slice starting `at`.
    fn change_personal(&mut self, p: usize, at: Day, change: NameChangeSet, stamp: i64) {
        let person = &mut self.persons[p];
        let existing = person.personal.iter().position(|s| s.start == at);
        let base = slice_at(&person.personal, at, |s| s.start).or(if person.personal.is_empty() {
            None
        } else {
            Some(0)
        });
        let mut slice = match (existing, base) {
            (Some(i), _) => person.personal.remove(i),
            (None, Some(i)) => person.personal[i].clone(),
            (None, None) => return,
        };
        slice.start = at;
        slice.last_modified = stamp;
        if let Some(v) = change.first {
            slice.first_name = v;
        }
        if let Some(v) = change.last {
            slice.last_name = v;
        }
        if let Some(v) = change.middle {
            slice.middle_name = v;
        }
        if let Some(v) = change.preferred {
            slice.preferred_name = v;
        }
        let idx = person.personal.partition_point(|s| s.start < at);
        person.personal.insert(idx, slice);
    }

    /// Recomputes PersonEmpTerminationInfo after an employment change (kept null
    /// for the deliberately-null population slice).
    fn refresh_termination(&mut self, p: usize, stamp: i64) {
        let person = &mut self.persons[p];
        let active = person.employments.iter().filter(|e| e.end.is_none()).count() as i32;
        let latest = person.employments.iter().filter_map(|e| e.end).max();
        if let Some(t) = &mut person.termination {
            t.active_employments_count = active;
            t.latest_termination_date = latest;
            t.last_modified = stamp;
        }
    }

    /// Places a new employment at a seeded random position: SuccessFactors does
    /// not order employments.
    fn add_employment(&mut self, p: usize, employment: Employment, rng: &mut ChaCha8Rng) -> usize {
        let len = self.persons[p].employments.len();
        let at = rng.random_range(0..=len);
        self.persons[p].employments.insert(at, employment);
        self.reindex_users(p);
        at
    }

    fn new_employment(
        &self,
        p: usize,
        user_id: String,
        start: Day,
        reason: &str,
        stamp: i64,
    ) -> Employment {
        let person = &self.persons[p];
        let template = person.employments.iter().max_by_key(|e| e.start).cloned();
        let names = person
            .latest_personal()
            .map(|s| (s.first_name.clone(), s.last_name.clone()))
            .unwrap_or_default();
        let mut job = template.as_ref().and_then(|t| {
            t.jobs.iter().rev().find(|j| self.refs.option_code(j.empl_status) != "T").cloned()
        });
        let user_template = template.as_ref().and_then(|t| t.user.clone());
        let mut employment = template.unwrap_or_else(|| Employment {
            user_id: String::new(),
            start,
            end: None,
            original_start: start,
            last_date_worked: None,
            last_modified: stamp,
            created: stamp,
            assignment_class: AssignmentClass::ST,
            is_contingent_worker: false,
            hiring_not_completed: false,
            job_number: 0,
            user: None,
            jobs: Vec::new(),
            global_assignment: None,
            custom: Customs::new(),
        });
        if let Some(j) = &mut job {
            j.start = start;
            j.seq = 1;
            j.last_modified = stamp;
            j.empl_status = self.refs.option(refdata::EMPL_STATUS, "A").unwrap_or(j.empl_status);
            j.event_reason = self.reason(reason);
        }
        employment.jobs = job.into_iter().collect();
        employment.user_id = user_id;
        employment.start = start;
        employment.end = None;
        employment.last_date_worked = None;
        employment.last_modified = stamp;
        employment.created = stamp;
        employment.assignment_class = AssignmentClass::ST;
        employment.global_assignment = None;
        employment.job_number = person.employments.len() as i64 + 1;
        employment.user = Some(User {
            status: UserStatus::Active,
            last_modified: stamp,
            ..user_template.unwrap_or_else(|| User {
                username: None,
                status: UserStatus::Active,
                email: None,
                first_name: names.0.clone(),
                last_name: names.1.clone(),
                display_name: format!("{} {}", names.0, names.1),
                manager_id: None,
                business_phone: None,
                cell_phone: None,
                title: None,
                department: None,
                location: None,
                custom: Customs::new(),
                extra: Vec::new(),
                last_modified: stamp,
            })
        });
        employment
    }

    fn next_user_id(&self, p: usize, tag: char) -> String {
        let pid = &self.persons[p].person_id_external;
        (1..)
            .map(|n| format!("{pid}_{tag}{n}"))
            .find(|id| !self.user_index.contains_key(id))
            .unwrap_or_else(|| format!("{pid}_{tag}"))
    }

    /// Applies one event. `seed` makes any random choice (new person's data,
    /// position of a new employment) reproducible.
    pub fn apply(
        &mut self,
        event: &HrEvent,
        clock: &Clock,
        seed: u64,
    ) -> Result<EventOutcome, EventError> {
        let today = clock.today();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let (pid, user_id) = match event {
            HrEvent::Hire {
                person_id_external,
                first_name,
                last_name,
                start_date,
                company,
                manager_id,
            } => {
                let start = day_or("startDate", start_date, today)?;
                self.hire(
                    person_id_external,
                    first_name,
                    last_name,
                    start,
                    None,
                    company,
                    manager_id,
                    clock,
                    seed,
                )?
            }
            HrEvent::PreHire {
                person_id_external,
                first_name,
                last_name,
                start_date,
                status,
                company,
            } => {
                let start = day("startDate", start_date)?;
                self.hire(
                    person_id_external,
                    first_name,
                    last_name,
                    start,
                    Some(*status),
                    company,
                    &None,
                    clock,
                    seed,
                )?
            }
            HrEvent::Terminate { person_id_external, last_day, user_id } => {
                let last = day("lastDay", last_day)?;
                let p = self.person_idx(person_id_external)?;
                let e = match user_id {
                    Some(u) => self.persons[p]
                        .employments
                        .iter()
                        .position(|e| &e.user_id == u)
                        .ok_or_else(|| EventError::UnknownUser {
                            person: person_id_external.clone(),
                            user_id: u.clone(),
                        })?,
                    None => self.active_employment(p)?,
                };
                if last < self.persons[p].employments[e].start {
                    return Err(EventError::DateOrder {
                        what: "lastDay",
                        start: format_day(self.persons[p].employments[e].start),
                        end: last_day.clone(),
                    });
                }
                let stamp = clock.stamp();
                let term = JobChange {
                    status: Some(self.status("T")?),
                    reason: Some(self.reason("TERMRES")),
                    ..Default::default()
                };
                self.change_job(p, e, last + 1, term, stamp);
                let emp = &mut self.persons[p].employments[e];
                emp.end = Some(last);
                emp.last_date_worked = Some(last);
                emp.last_modified = stamp;
                if let Some(u) = &mut emp.user {
                    u.status = UserStatus::Inactive;
                    u.last_modified = stamp;
                }
                let uid = emp.user_id.clone();
                self.refresh_termination(p, stamp);
                (person_id_external.clone(), Some(uid))
            }
            HrEvent::Rehire { person_id_external, start_date } => {
                let p = self.person_idx(person_id_external)?;
                if self.persons[p].employments.iter().any(|e| e.end.is_none()) {
                    return Err(EventError::StillEmployed(person_id_external.clone()));
                }
                let start = day_or("startDate", start_date, today)?;
                let stamp = clock.stamp();
                let uid = self.next_user_id(p, 'R');
                let employment = self.new_employment(p, uid.clone(), start, "REHIRE", stamp);
                self.add_employment(p, employment, &mut rng);
                self.refresh_termination(p, stamp);
                (person_id_external.clone(), Some(uid))
            }
            HrEvent::Convert { person_id_external, start_date } => {
                let p = self.person_idx(person_id_external)?;
                let e = self.active_employment(p)?;
                let start = day_or("startDate", start_date, today)?;
                if start <= self.persons[p].employments[e].start {
                    return Err(EventError::DateOrder {
                        what: "startDate",
                        start: format_day(self.persons[p].employments[e].start),
                        end: format_day(start),
                    });
                }
                let stamp = clock.stamp();
                let term = JobChange {
                    status: Some(self.status("T")?),
                    reason: Some(self.reason("TERMRES")),
                    ..Default::default()
                };
                self.change_job(p, e, start, term, stamp);
                let uid = self.next_user_id(p, 'C');
                let mut employment = self.new_employment(p, uid.clone(), start, "CONV", stamp);
                let old = &mut self.persons[p].employments[e];
                employment.is_contingent_worker = !old.is_contingent_worker;
                old.end = Some(start - 1);
                old.last_date_worked = Some(start - 1);
                old.last_modified = stamp;
                // SuccessFactors nulls the old employment's User on conversion.
                old.user = None;
                self.add_employment(p, employment, &mut rng);
                self.refresh_termination(p, stamp);
                (person_id_external.clone(), Some(uid))
            }
            HrEvent::Transfer {
                person_id_external,
                effective,
                department,
                location,
                company,
                manager_id,
                job_title,
            } => {
                let p = self.person_idx(person_id_external)?;
                let e = self.active_employment(p)?;
                let at = day_or("effective", effective, today)?;
                let mut change = JobChange {
                    reason: Some(self.reason("TRANSFER")),
                    title: job_title.clone(),
                    ..Default::default()
                };
                if let Some(d) = department {
                    change.department = Some(self.code("FODepartment", "department", d)?);
                }
                if let Some(l) = location {
                    change.location = Some(self.code("FOLocation", "location", l)?);
                }
                if let Some(c) = company {
                    change.company = Some(self.code("FOCompany", "company", c)?);
                }
                if let Some(m) = manager_id {
                    if !self.user_index.contains_key(m) {
                        return Err(EventError::UnknownCode {
                            field: "managerId".into(),
                            value: m.clone(),
                        });
                    }
                    change.manager = Some(Some(m.clone()));
                }
                let stamp = clock.stamp();
                self.change_job(p, e, at, change, stamp);
                self.sync_user_from_job(p, e, at, today, stamp);
                (person_id_external.clone(), Some(self.persons[p].employments[e].user_id.clone()))
            }
            HrEvent::Leave { person_id_external, paid, from, to } => {
                let p = self.person_idx(person_id_external)?;
                let e = self.active_employment(p)?;
                let from_day = day("from", from)?;
                let to_day = to.as_deref().map(|t| day("to", t)).transpose()?;
                if let Some(t) = to_day.filter(|t| *t < from_day) {
                    return Err(EventError::DateOrder {
                        what: "leave",
                        start: from.clone(),
                        end: format_day(t),
                    });
                }
                let stamp = clock.stamp();
                let (code, reason) = if *paid { ("P", "LOAPAID") } else { ("U", "LOAUNPAID") };
                let leave = JobChange {
                    status: Some(self.status(code)?),
                    reason: Some(self.reason(reason)),
                    ..Default::default()
                };
                self.change_job(p, e, from_day, leave, stamp);
                if let Some(t) = to_day {
                    let back = JobChange {
                        status: Some(self.status("A")?),
                        reason: Some(self.reason("RETLOA")),
                        ..Default::default()
                    };
                    self.change_job(p, e, t + 1, back, stamp);
                }
                (person_id_external.clone(), Some(self.persons[p].employments[e].user_id.clone()))
            }
            HrEvent::NameChange {
                person_id_external,
                effective,
                first_name,
                last_name,
                preferred_name,
            } => {
                let p = self.person_idx(person_id_external)?;
                let at = day_or("effective", effective, today)?;
                let stamp = clock.stamp();
                let change = NameChangeSet {
                    first: first_name.clone(),
                    last: last_name.clone(),
                    preferred: preferred_name.clone().map(Some),
                    ..Default::default()
                };
                self.change_personal(p, at, change, stamp);
                self.sync_users_from_names(p, at, today, stamp);
                (person_id_external.clone(), None)
            }
            HrEvent::FutureDatedChange { person_id_external, effective, entity, set } => {
                let p = self.person_idx(person_id_external)?;
                let at = day("effective", effective)?;
                match entity.as_str() {
                    "EmpJob" => {
                        let e = self.active_employment(p)?;
                        let change = self.job_change_from_json(set)?;
                        let stamp = clock.stamp();
                        self.change_job(p, e, at, change, stamp);
                        self.sync_user_from_job(p, e, at, today, stamp);
                        (
                            person_id_external.clone(),
                            Some(self.persons[p].employments[e].user_id.clone()),
                        )
                    }
                    "PerPersonal" => {
                        let change = name_change_from_json(set)?;
                        let stamp = clock.stamp();
                        self.change_personal(p, at, change, stamp);
                        self.sync_users_from_names(p, at, today, stamp);
                        (person_id_external.clone(), None)
                    }
                    other => {
                        return Err(EventError::UnsupportedField {
                            entity: other.to_owned(),
                            field: "*".into(),
                            value: "effective-dated change".into(),
                        });
                    }
                }
            }
            HrEvent::EmailChange { person_id_external, email_type, address, is_primary } => {
                let p = self.person_idx(person_id_external)?;
                let ty = self.option_id(refdata::EMAIL_TYPE, "emailType", email_type)?;
                let stamp = clock.stamp();
                self.set_email(p, ty, address.as_deref(), *is_primary, true, stamp);
                (person_id_external.clone(), None)
            }
            HrEvent::PhoneChange { person_id_external, phone_type, number, is_primary } => {
                let p = self.person_idx(person_id_external)?;
                let ty = self.option_id(refdata::PHONE_TYPE, "phoneType", phone_type)?;
                let stamp = clock.stamp();
                let phone = number.as_deref().map(|n| Phone {
                    phone_type: ty,
                    country_code: None,
                    area_code: None,
                    number: n.to_owned(),
                    extension: None,
                    is_primary: is_primary.unwrap_or(false),
                    last_modified: stamp,
                    created: stamp,
                });
                self.set_phone(p, ty, phone, *is_primary, true, stamp);
                (person_id_external.clone(), None)
            }
        };
        Ok(EventOutcome { person_id_external: pid, user_id, stamp: clock.last_stamp() })
    }

    fn option_id(&self, picklist: &str, field: &str, code: &str) -> Result<i64, EventError> {
        self.refs.option(picklist, code).map(|o| self.refs.option_id(o)).ok_or_else(|| {
            EventError::UnknownCode { field: field.to_owned(), value: code.to_owned() }
        })
    }

    /// Sets, replaces or deletes (`address` None) the email of type `ty`.
    /// `demote` makes a new primary demote the previous one (HR UI behaviour).
    pub(crate) fn set_email(
        &mut self,
        p: usize,
        ty: i64,
        address: Option<&str>,
        is_primary: Option<bool>,
        demote: bool,
        stamp: i64,
    ) {
        let person = &mut self.persons[p];
        match address {
            None => person.emails.retain(|e| e.email_type != ty),
            Some(a) => {
                if demote && is_primary == Some(true) {
                    for e in person.emails.iter_mut().filter(|e| e.is_primary && e.email_type != ty)
                    {
                        e.is_primary = false;
                        e.last_modified = stamp;
                    }
                }
                match person.emails.iter_mut().find(|e| e.email_type == ty) {
                    Some(e) => {
                        e.address = a.to_owned();
                        if let Some(pr) = is_primary {
                            e.is_primary = pr;
                        }
                        e.last_modified = stamp;
                    }
                    None => person.emails.push(Email {
                        email_type: ty,
                        address: a.to_owned(),
                        is_primary: is_primary.unwrap_or(false),
                        last_modified: stamp,
                        created: stamp,
                    }),
                }
            }
        }
        if ty == 8448 {
            let business =
                person.emails.iter().find(|e| e.email_type == 8448).map(|e| e.address.clone());
            for u in person.employments.iter_mut().filter_map(|e| e.user.as_mut()) {
                if u.email != business {
                    u.email = business.clone();
                    u.last_modified = stamp;
                }
            }
        }
    }

    /// Sets, replaces or deletes (`phone` None) the phone of type `ty`.
    pub(crate) fn set_phone(
        &mut self,
        p: usize,
        ty: i64,
        phone: Option<Phone>,
        is_primary: Option<bool>,
        demote: bool,
        stamp: i64,
    ) {
        let person = &mut self.persons[p];
        match phone {
            None => person.phones.retain(|ph| ph.phone_type != ty),
            Some(new) => {
                if demote && is_primary == Some(true) {
                    for ph in
                        person.phones.iter_mut().filter(|ph| ph.is_primary && ph.phone_type != ty)
                    {
                        ph.is_primary = false;
                        ph.last_modified = stamp;
                    }
                }
                match person.phones.iter_mut().find(|ph| ph.phone_type == ty) {
                    Some(ph) => {
                        ph.number = new.number;
                        if new.country_code.is_some() {
                            ph.country_code = new.country_code;
                        }
                        if new.area_code.is_some() {
                            ph.area_code = new.area_code;
                        }
                        if new.extension.is_some() {
                            ph.extension = new.extension;
                        }
                        if let Some(pr) = is_primary {
                            ph.is_primary = pr;
                        }
                        ph.last_modified = stamp;
                    }
                    None => {
                        person.phones.push(Phone { is_primary: is_primary.unwrap_or(false), ..new })
                    }
                }
            }
        }
        let number =
            |t: i64| person.phones.iter().find(|ph| ph.phone_type == t).map(|ph| ph.number.clone());
        let (business, cell) = (number(10605), number(10606));
        for u in person.employments.iter_mut().filter_map(|e| e.user.as_mut()) {
            if u.business_phone != business || u.cell_phone != cell {
                u.business_phone = business.clone();
                u.cell_phone = cell.clone();
                u.last_modified = stamp;
            }
        }
    }

    /// A job change effective today or earlier also updates the User's manager,
    /// title and department (SuccessFactors keeps User in step with the current job).
    fn sync_user_from_job(&mut self, p: usize, e: usize, at: Day, today: Day, stamp: i64) {
        if at > today {
            return;
        }
        let emp = &self.persons[p].employments[e];
        let Some(job) = emp.job_at(today) else { return };
        let (manager, title) = (job.manager_id.clone(), job.job_title.clone());
        let department = self.refs.get(job.department).text("name").map(str::to_owned);
        let location = self.refs.get(job.location).text("name").map(str::to_owned);
        if let Some(u) = &mut self.persons[p].employments[e].user {
            u.manager_id = manager;
            u.title = Some(title);
            u.department = department;
            u.location = location;
            u.last_modified = stamp;
        }
    }

    fn sync_users_from_names(&mut self, p: usize, at: Day, today: Day, stamp: i64) {
        if at > today {
            return;
        }
        let Some(slice) = self.persons[p].personal_at(today).cloned() else { return };
        for u in self.persons[p].employments.iter_mut().filter_map(|e| e.user.as_mut()) {
            u.first_name = slice.first_name.clone();
            u.last_name = slice.last_name.clone();
            u.display_name = format!("{} {}", slice.first_name, slice.last_name);
            u.last_modified = stamp;
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn hire(
        &mut self,
        requested_id: &Option<String>,
        first: &Option<String>,
        last: &Option<String>,
        start: Day,
        status: Option<UserStatus>,
        company: &Option<String>,
        manager_id: &Option<String>,
        clock: &Clock,
        seed: u64,
    ) -> Result<(String, Option<String>), EventError> {
        let pid = match requested_id {
            Some(id) if self.person_index.contains_key(id) || self.user_index.contains_key(id) => {
                return Err(EventError::DuplicatePerson(id.clone()));
            }
            Some(id) => id.clone(),
            None => loop {
                let candidate = self.next_person_number.to_string();
                self.next_person_number += 1;
                if !self.person_index.contains_key(&candidate) {
                    break candidate;
                }
            },
        };
        if let Some(c) = company {
            self.code("FOCompany", "company", c)?;
        }
        if let Some(m) = manager_id.as_ref().filter(|m| !self.user_index.contains_key(*m)) {
            return Err(EventError::UnknownCode { field: "managerId".into(), value: m.clone() });
        }
        let spec = HireSpec {
            person_id_external: pid.clone(),
            person_id: self.persons.len() as i64 + 1,
            first_name: first.clone(),
            last_name: last.clone(),
            start,
            status,
            company: company.clone(),
            manager_id: manager_id.clone(),
        };
        let mut person = hired_person(self, seed, clock.today(), &spec);
        let stamp = clock.stamp();
        restamp(&mut person, stamp);
        self.push_person(person);
        Ok((pid.clone(), Some(pid)))
    }

    fn job_change_from_json(
        &self,
        set: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<JobChange, EventError> {
        let mut change = JobChange::default();
        for (field, value) in set {
            let text = value.as_str().map(str::to_owned);
            let bad = || EventError::UnsupportedField {
                entity: "EmpJob".into(),
                field: field.clone(),
                value: value.to_string(),
            };
            match field.as_str() {
                "jobTitle" => change.title = Some(text.ok_or_else(bad)?),
                "department" => {
                    change.department =
                        Some(self.code("FODepartment", field, &text.ok_or_else(bad)?)?)
                }
                "location" => {
                    change.location =
                        Some(self.code("FOLocation", field, &text.ok_or_else(bad)?)?)
                }
                "company" => {
                    change.company = Some(self.code("FOCompany", field, &text.ok_or_else(bad)?)?)
                }
                "emplStatus" => change.status = Some(self.status(&text.ok_or_else(bad)?)?),
                "eventReason" => {
                    change.reason =
                        Some(self.code("FOEventReason", field, &text.ok_or_else(bad)?)?)
                }
                "managerId" => change.manager = Some(text),
                f => match f
                    .strip_prefix("customString")
                    .and_then(|n| n.parse::<u8>().ok())
                    .filter(|n| (1..=15).contains(n))
                {
                    Some(n) if text.is_some() || value.is_null() => change.custom.push((n, text)),
                    _ => return Err(bad()),
                },
            }
        }
        Ok(change)
    }
}

fn name_change_from_json(
    set: &serde_json::Map<String, serde_json::Value>,
) -> Result<NameChangeSet, EventError> {
    let mut change = NameChangeSet::default();
    for (field, value) in set {
        let text = value.as_str().map(str::to_owned);
        let bad = || EventError::UnsupportedField {
            entity: "PerPersonal".into(),
            field: field.clone(),
            value: value.to_string(),
        };
        match field.as_str() {
            "firstName" => change.first = Some(text.ok_or_else(bad)?),
            "lastName" => change.last = Some(text.ok_or_else(bad)?),
            "middleName" => change.middle = Some(text),
            "preferredName" => change.preferred = Some(text),
            _ => return Err(bad()),
        }
    }
    Ok(change)
}

/// Sets every stamp of a newly created person to `stamp`.
fn restamp(p: &mut Person, stamp: i64) {
    p.last_modified = stamp;
    p.created = stamp;
    p.personal.iter_mut().for_each(|s| s.last_modified = stamp);
    p.emails.iter_mut().for_each(|e| {
        e.last_modified = stamp;
        e.created = stamp;
    });
    p.phones.iter_mut().for_each(|e| {
        e.last_modified = stamp;
        e.created = stamp;
    });
    for e in &mut p.employments {
        e.last_modified = stamp;
        e.created = stamp;
        e.jobs.iter_mut().for_each(|j| j.last_modified = stamp);
        if let Some(u) = &mut e.user {
            u.last_modified = stamp;
        }
    }
    if let Some(t) = &mut p.termination {
        t.last_modified = stamp;
    }
}
