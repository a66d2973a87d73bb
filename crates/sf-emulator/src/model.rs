//! The HR data model: persons with their effective-dated slices, employments,
//! users and jobs, plus shared reference data (foundation objects, positions,
//! picklists).
//!
//! Invariants kept by [`crate::events`], [`crate::upsert`] and the generator:
//! - effective-dated slices (`personal`, `jobs`) are sorted by start date and
//!   carry their own `last_modified`; a slice's end date is derived from the next
//!   slice (day before) or 9999-12-31, so adding a future slice never touches the
//!   current slice's stamp;
//! - `employments` are deliberately *not* ordered by date (SuccessFactors does
//!   not guarantee an order, and connectors that assume one must fail here);
//! - reference data is stored once in [`RefData`]; jobs point into it by index.

use std::collections::HashMap;

use serde::Serialize;
use sf_odata::edm::{EntityType, Schema};
use sf_odata::value::ODataValue;

use crate::time::{DataCentre, Day, END_OF_TIME, LocalTime};

/// Index of a record in [`RefData::records`].
pub type RefId = u32;

/// One reference-data record (FO object, position, picklist, option, label,
/// country, corporate address, event reason). Its properties are stored as
/// wire values so the protocol layer can read them without per-type code.
#[derive(Debug, Clone)]
pub struct RefRecord {
    /// Entity type name in the `SFOData` schema, e.g. `FOCompany`.
    pub entity: &'static str,
    pub props: Vec<(&'static str, ODataValue)>,
    /// Navigation name to its targets (one element for to-one navigations).
    pub navs: Vec<(&'static str, Vec<RefId>)>,
}

impl RefRecord {
    /// The value of a stored property, `Null` when absent.
    pub fn prop(&self, name: &str) -> ODataValue {
        self.props
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
            .unwrap_or(ODataValue::Null)
    }

    /// The text of a string property, if set.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.props.iter().find_map(|(n, v)| match v {
            ODataValue::String(s) if *n == name => Some(s.as_str()),
            _ => None,
        })
    }
}

/// Shared reference data: every record once, plus lookup tables.
#[derive(Debug, Default)]
pub struct RefData {
    pub records: Vec<RefRecord>,
    /// `Picklist.picklistId` → record.
    pub picklists: HashMap<String, RefId>,
    /// (picklist id, option externalCode) → option record.
    pub options_by_code: HashMap<(String, String), RefId>,
    /// Option id (`PicklistOption.id`) → option record.
    pub options_by_id: HashMap<i64, RefId>,
    /// (entity type, externalCode or code) → record, for FO objects and positions.
    pub by_code: HashMap<(&'static str, String), RefId>,
    /// Record ids per FO entity type, in creation order (for random picks).
    pub by_entity: HashMap<&'static str, Vec<RefId>>,
}

impl RefData {
    /// Adds a record and indexes it by its code, returning its id.
    pub fn push(&mut self, record: RefRecord) -> RefId {
        let id = self.records.len() as RefId;
        let code = record.text("externalCode").or_else(|| record.text("code")).map(str::to_owned);
        if let Some(code) = code {
            self.by_code.insert((record.entity, code), id);
        }
        self.by_entity.entry(record.entity).or_default().push(id);
        self.records.push(record);
        id
    }

    /// The record with this id. Ids are only produced by [`RefData::push`].
    pub fn get(&self, id: RefId) -> &RefRecord {
        &self.records[id as usize]
    }

    /// The option with `external_code` in picklist `picklist`.
    pub fn option(&self, picklist: &str, external_code: &str) -> Option<RefId> {
        self.options_by_code.get(&(picklist.to_owned(), external_code.to_owned())).copied()
    }

    /// The `PicklistOption.id` of an option record.
    pub fn option_id(&self, option: RefId) -> i64 {
        match self.get(option).prop("id") {
            ODataValue::Int64(id) => id,
            _ => 0,
        }
    }

    /// The externalCode of an option record (`A`, `T`, `B`, ...).
    pub fn option_code(&self, option: RefId) -> &str {
        self.get(option).text("externalCode").unwrap_or("")
    }

    /// A FO object or position by its code.
    pub fn code(&self, entity: &'static str, code: &str) -> Option<RefId> {
        self.by_code.get(&(entity, code.to_owned())).copied()
    }
}

/// User account status as SuccessFactors reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
pub enum UserStatus {
    /// `active` (also `t` on write).
    #[serde(rename = "active", alias = "t")]
    Active,
    /// `inactive` (also `f` on write).
    #[serde(rename = "inactive", alias = "f")]
    Inactive,
    /// `active_external_suite` (`e`): Onboarding 2.0 pre-hire.
    #[serde(rename = "active_external_suite", alias = "e")]
    ActiveExternalSuite,
}

impl UserStatus {
    /// The wire text.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Inactive => "inactive",
            Self::ActiveExternalSuite => "active_external_suite",
        }
    }
}

/// Sparse custom fields (`custom01`..`custom15`, `customString1`..`customString15`):
/// (field number 1-15, value).
pub type Customs = Vec<(u8, Box<str>)>;

/// Looks up custom field `n` in a sparse list.
pub fn custom(customs: &Customs, n: u8) -> Option<&str> {
    customs.iter().find(|(k, _)| *k == n).map(|(_, v)| &**v)
}

/// Sets or clears custom field `n`.
pub fn set_custom(customs: &mut Customs, n: u8, value: Option<&str>) {
    customs.retain(|(k, _)| *k != n);
    if let Some(v) = value {
        customs.push((n, v.into()));
    }
}

/// A PerPersonal slice (names, effective-dated).
#[derive(Debug, Clone, Serialize)]
pub struct PersonalSlice {
    pub start: Day,
    pub last_modified: i64,
    pub first_name: String,
    pub last_name: String,
    pub middle_name: Option<String>,
    pub preferred_name: Option<String>,
    /// `M`, `F`, `U` or unset.
    pub gender: Option<char>,
    pub nationality: Option<&'static str>,
    pub marital_status: Option<&'static str>,
}

/// A PerEmail record; `email_type` is the picklist option id.
#[derive(Debug, Clone, Serialize)]
pub struct Email {
    pub email_type: i64,
    pub address: String,
    pub is_primary: bool,
    pub last_modified: i64,
    pub created: i64,
}

/// A PerPhone record; `phone_type` is the picklist option id.
#[derive(Debug, Clone, Serialize)]
pub struct Phone {
    pub phone_type: i64,
    pub country_code: Option<String>,
    pub area_code: Option<String>,
    pub number: String,
    pub extension: Option<String>,
    pub is_primary: bool,
    pub last_modified: i64,
    pub created: i64,
}

/// A User (one per employment; `None` on the old employment after a conversion).
#[derive(Debug, Clone, Serialize)]
pub struct User {
    pub username: Option<String>,
    pub status: UserStatus,
    pub email: Option<String>,
    pub first_name: String,
    pub last_name: String,
    pub display_name: String,
    pub manager_id: Option<String>,
    pub business_phone: Option<String>,
    pub cell_phone: Option<String>,
    pub title: Option<String>,
    pub department: Option<String>,
    pub location: Option<String>,
    pub custom: Customs,
    /// Upserted User properties the model has no field of its own for
    /// (`mi`, `homePhone`, `timeZone`, ...), by schema property name.
    pub extra: Vec<(&'static str, String)>,
    pub last_modified: i64,
}

/// An EmpJob slice (effective-dated). Reference fields point into [`RefData`].
#[derive(Debug, Clone, Serialize)]
pub struct JobSlice {
    pub start: Day,
    pub seq: i64,
    pub last_modified: i64,
    pub empl_status: RefId,
    pub event_reason: RefId,
    pub company: RefId,
    pub department: RefId,
    pub division: RefId,
    pub business_unit: RefId,
    pub cost_center: RefId,
    pub location: RefId,
    pub job_code: RefId,
    pub pay_grade: RefId,
    pub position: RefId,
    pub employment_type: RefId,
    pub employee_class: RefId,
    pub job_title: String,
    pub manager_id: Option<String>,
    pub fte: f32,
    pub custom: Customs,
}

/// EmpGlobalAssignment on a GA employment.
#[derive(Debug, Clone, Serialize)]
pub struct GlobalAssignment {
    pub assignment_type: RefId,
    pub start: Day,
    pub planned_end: Day,
    pub company: RefId,
    pub last_modified: i64,
}

/// `ST` (standard) or `GA` (global assignment).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum AssignmentClass {
    ST,
    GA,
}

/// An EmpEmployment with its User and EmpJob slices.
#[derive(Debug, Clone, Serialize)]
pub struct Employment {
    pub user_id: String,
    pub start: Day,
    /// Last day of employment; `None` while active.
    pub end: Option<Day>,
    pub original_start: Day,
    pub last_date_worked: Option<Day>,
    pub last_modified: i64,
    pub created: i64,
    pub assignment_class: AssignmentClass,
    pub is_contingent_worker: bool,
    pub hiring_not_completed: bool,
    pub job_number: i64,
    pub user: Option<User>,
    pub jobs: Vec<JobSlice>,
    pub global_assignment: Option<GlobalAssignment>,
    pub custom: Customs,
}

/// PersonEmpTerminationInfo.
#[derive(Debug, Clone, Serialize)]
pub struct TerminationInfo {
    pub active_employments_count: i32,
    pub latest_termination_date: Option<Day>,
    pub last_modified: i64,
}

/// The seeded HR scenario a person was generated for (or created by an event).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Scenario {
    Active,
    Manager,
    Terminated,
    TerminationInfoNull,
    PreHireActive,
    PreHireInactive,
    PreHireOnboarding,
    Rehire,
    Conversion,
    GlobalAssignment,
    ConcurrentJobs,
    PaidLeave,
    UnpaidLeave,
    FutureDatedChange,
    CreatedByEvent,
}

/// A PerPerson and everything below it.
#[derive(Debug, Clone, Serialize)]
pub struct Person {
    pub person_id_external: String,
    pub person_id: i64,
    pub uuid: String,
    pub date_of_birth: Option<Day>,
    pub country_of_birth: Option<&'static str>,
    pub last_modified: i64,
    pub created: i64,
    pub personal: Vec<PersonalSlice>,
    pub emails: Vec<Email>,
    pub phones: Vec<Phone>,
    pub employments: Vec<Employment>,
    pub termination: Option<TerminationInfo>,
    pub scenario: Scenario,
}

/// End date of slice `i` in a start-sorted slice list: the day before the next
/// slice starts, or 9999-12-31.
pub fn slice_end<T>(slices: &[T], i: usize, start: impl Fn(&T) -> Day) -> Day {
    slices.get(i + 1).map(|n| start(n) - 1).unwrap_or(END_OF_TIME)
}

/// Index of the slice valid on `day` in a start-sorted list.
pub fn slice_at<T>(slices: &[T], day: Day, start: impl Fn(&T) -> Day) -> Option<usize> {
    let n = slices.partition_point(|s| start(s) <= day);
    n.checked_sub(1)
}

impl Person {
    /// The PerPersonal slice valid on `day`.
    pub fn personal_at(&self, day: Day) -> Option<&PersonalSlice> {
        slice_at(&self.personal, day, |s| s.start).map(|i| &self.personal[i])
    }

    /// The most recent personal slice (for names used by events).
    pub fn latest_personal(&self) -> Option<&PersonalSlice> {
        self.personal.last()
    }

    /// The employment an event acts on: the active one, else the latest.
    pub fn current_employment(&self) -> Option<usize> {
        let active = self
            .employments
            .iter()
            .enumerate()
            .filter(|(_, e)| e.end.is_none() && e.assignment_class == AssignmentClass::ST)
            .max_by_key(|(_, e)| e.start);
        active
            .or_else(|| self.employments.iter().enumerate().max_by_key(|(_, e)| e.start))
            .map(|(i, _)| i)
    }
}

impl Employment {
    /// The EmpJob slice valid on `day`.
    pub fn job_at(&self, day: Day) -> Option<&JobSlice> {
        slice_at(&self.jobs, day, |s| s.start).map(|i| &self.jobs[i])
    }

    /// Inserts a job slice keeping start order; a slice on the same day as an
    /// existing one gets the next `seqNumber` and sorts after it.
    pub fn insert_job(&mut self, mut job: JobSlice) {
        job.seq =
            self.jobs.iter().filter(|j| j.start == job.start).map(|j| j.seq).max().unwrap_or(0) + 1;
        let at = self.jobs.partition_point(|j| j.start <= job.start);
        self.jobs.insert(at, job);
    }
}

/// The schema entries of the entity types the model's nodes report,
/// resolved once per tenant schema (every rendered entity asks for its type).
#[derive(Debug, Clone, Copy)]
pub struct Types {
    pub person: &'static EntityType,
    pub personal: &'static EntityType,
    pub email: &'static EntityType,
    pub phone: &'static EntityType,
    pub employment: &'static EntityType,
    pub user: &'static EntityType,
    pub job: &'static EntityType,
    pub termination: &'static EntityType,
    pub employment_termination: &'static EntityType,
    pub global_assignment: &'static EntityType,
}

impl Types {
    /// The types of `schema`. Every name exists in every tenant's schema (the
    /// tenant only adds or removes fields), checked by a test.
    pub fn of(schema: &'static Schema) -> Types {
        let t = |name: &str| schema.entity(name).unwrap_or(&schema.entities[0]);
        Types {
            person: t("PerPerson"),
            personal: t("PerPersonal"),
            email: t("PerEmail"),
            phone: t("PerPhone"),
            employment: t("EmpEmployment"),
            user: t("User"),
            job: t("EmpJob"),
            termination: t("PersonEmpTerminationInfo"),
            employment_termination: t("EmpEmploymentTermination"),
            global_assignment: t("EmpGlobalAssignment"),
        }
    }
}

impl Default for Types {
    fn default() -> Self {
        Types::of(sf_odata::edm::schema())
    }
}

/// The whole tenant: reference data, persons and lookup indexes.
#[derive(Debug, Default)]
pub struct Database {
    /// The tenant's schema (which tenant-configured fields exist).
    pub schema: TenantSchema,
    /// The data centre's wall clock, for `createdOn`/`lastModifiedOn`.
    pub local: LocalTime,
    pub refs: RefData,
    /// Reference records grouped for random picks by the generator and events.
    pub ref_index: crate::refdata::RefIndex,
    pub persons: Vec<Person>,
    /// personIdExternal → index in `persons`.
    pub person_index: HashMap<String, usize>,
    /// userId → (person index, employment index).
    pub user_index: HashMap<String, (usize, usize)>,
    /// Next personId / personIdExternal number for hires.
    pub next_person_number: u64,
}

/// A tenant schema with its resolved types.
#[derive(Debug, Clone, Copy)]
pub struct TenantSchema {
    pub schema: &'static Schema,
    pub types: Types,
    /// The type of each reference record, by [`RefId`] (parallel to
    /// `RefData::records`, filled by [`Database::set_schema`]).
    ref_types: &'static [&'static EntityType],
}

impl Default for TenantSchema {
    fn default() -> Self {
        let schema = sf_odata::edm::schema();
        TenantSchema { schema, types: Types::of(schema), ref_types: &[] }
    }
}

impl TenantSchema {
    /// The type of reference record `id`.
    pub fn ref_type(&self, id: RefId, refs: &RefData) -> &'static EntityType {
        match self.ref_types.get(id as usize) {
            Some(t) => t,
            None => {
                let name = refs.get(id).entity;
                self.schema.entity(name).unwrap_or(&self.schema.entities[0])
            }
        }
    }
}

impl Database {
    /// Serves the data under `schema` (a tenant configuration) and the
    /// wall clock of `data_centre`.
    pub fn set_schema(&mut self, schema: &'static Schema, data_centre: DataCentre) {
        // Built once per emulator start: a few hundred pointers.
        let ref_types: Vec<&'static EntityType> = self
            .refs
            .records
            .iter()
            .map(|r| schema.entity(r.entity).unwrap_or(&schema.entities[0]))
            .collect();
        self.schema = TenantSchema {
            schema,
            types: Types::of(schema),
            ref_types: Box::leak(ref_types.into_boxed_slice()),
        };
        self.local = LocalTime::new(data_centre);
    }

    /// The person with this personIdExternal.
    pub fn person(&self, id: &str) -> Option<&Person> {
        self.person_index.get(id).map(|&i| &self.persons[i])
    }

    /// The employment (and its person) owning `user_id`.
    pub fn employment_of_user(&self, user_id: &str) -> Option<(&Person, &Employment)> {
        let &(p, e) = self.user_index.get(user_id)?;
        let person = self.persons.get(p)?;
        Some((person, person.employments.get(e)?))
    }

    /// Adds a person and indexes it and its users.
    pub fn push_person(&mut self, person: Person) -> usize {
        let idx = self.persons.len();
        self.person_index.insert(person.person_id_external.clone(), idx);
        for (e, emp) in person.employments.iter().enumerate() {
            self.user_index.insert(emp.user_id.clone(), (idx, e));
        }
        self.persons.push(person);
        idx
    }

    /// Re-indexes the users of one person (after employments were added or reordered).
    pub fn reindex_users(&mut self, idx: usize) {
        let Some(person) = self.persons.get(idx) else { return };
        for (e, emp) in person.employments.iter().enumerate() {
            self.user_index.insert(emp.user_id.clone(), (idx, e));
        }
    }

    /// The largest lastModifiedDateTime anywhere (so the clock's later stamps exceed it).
    pub fn max_stamp(&self) -> i64 {
        let mut max = i64::MIN;
        for p in &self.persons {
            max = max.max(p.last_modified);
            for s in &p.personal {
                max = max.max(s.last_modified);
            }
            for e in &p.emails {
                max = max.max(e.last_modified);
            }
            for ph in &p.phones {
                max = max.max(ph.last_modified);
            }
            for emp in &p.employments {
                max = max.max(emp.last_modified);
                if let Some(u) = &emp.user {
                    max = max.max(u.last_modified);
                }
                for j in &emp.jobs {
                    max = max.max(j.last_modified);
                }
            }
            if let Some(t) = &p.termination {
                max = max.max(t.last_modified);
            }
        }
        max
    }
}

#[cfg(test)]
mod tests {
    use sf_odata::edm::{TenantFields, schema_for};

    use super::*;

    /// Every type the nodes report exists under its own name in every
    /// tenant's schema (`Types::of` falls back to the first type otherwise).
    #[test]
    fn node_types_resolve_in_every_tenant_schema() {
        for fields in [TenantFields::none(), TenantFields::emulator_default(), TenantFields::all()]
        {
            let s = schema_for(&fields);
            let t = Types::of(s);
            for (ty, name) in [
                (t.person, "PerPerson"),
                (t.personal, "PerPersonal"),
                (t.email, "PerEmail"),
                (t.phone, "PerPhone"),
                (t.employment, "EmpEmployment"),
                (t.user, "User"),
                (t.job, "EmpJob"),
                (t.termination, "PersonEmpTerminationInfo"),
                (t.employment_termination, "EmpEmploymentTermination"),
                (t.global_assignment, "EmpGlobalAssignment"),
            ] {
                assert_eq!(ty.name, name);
                assert!(s.entity(name).is_some_and(|e| std::ptr::eq(e, ty)));
            }
            // Reference records all name types of the schema.
            let (refs, _) = crate::refdata::build();
            for r in &refs.records {
                assert!(s.entity(r.entity).is_some(), "{}", r.entity);
            }
        }
    }
}
