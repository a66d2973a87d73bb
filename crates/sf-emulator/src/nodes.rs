//! Borrowing views of the data model that the protocol layer reads through
//! [`EntityNode`]: filters and JSON rendering never see the model types.
//!
//! Properties the schema declares but the model does not hold read as `Null`;
//! navigations to nothing visit nothing (to-one → JSON `null`). Which
//! properties exist at all is the tenant schema's business
//! ([`crate::model::TenantSchema`]): a node is only asked for those.

use sf_odata::edm::EntityType;
use sf_odata::entity::{EntityNode, NavView};
use sf_odata::value::ODataValue;

use crate::model::*;
use crate::refdata;
use crate::time::{Day, day_ms};

const SYSTEM_USER: &str = "sfadmin";

fn s(v: &str) -> ODataValue {
    ODataValue::String(v.to_owned())
}
fn opt_s(v: Option<&str>) -> ODataValue {
    v.map(s).unwrap_or(ODataValue::Null)
}
fn date(d: Day) -> ODataValue {
    ODataValue::DateTime(day_ms(d))
}
fn opt_date(d: Option<Day>) -> ODataValue {
    d.map(date).unwrap_or(ODataValue::Null)
}
fn dto(ms: i64) -> ODataValue {
    ODataValue::DateTimeOffset { ms, offset_minutes: 0 }
}
/// `lastModifiedOn`/`createdOn`: Edm.DateTime in the data centre's local
/// time written as if UTC (R3 shows +2 h in April on a European data
/// centre, R4 0 h elsewhere); reproduced so that a connector using them for
/// watermarks is caught.
fn local(db: &Database, ms: i64) -> ODataValue {
    ODataValue::DateTime(db.local.local(ms))
}

/// SuccessFactors' audit fields (every entity with `createdBy`..`lastModifiedOn`);
/// `Null` for any other name.
fn audit(db: &Database, name: &str, modified: i64, created: i64) -> ODataValue {
    match name {
        "lastModifiedDateTime" => dto(modified),
        "lastModifiedOn" => local(db, modified),
        "createdDateTime" => dto(created),
        "createdOn" => local(db, created),
        "lastModifiedBy" | "createdBy" => s(SYSTEM_USER),
        _ => ODataValue::Null,
    }
}

/// Parses `customString7` / `custom07` style names to the field number.
fn custom_number(name: &str, prefix: &str) -> Option<u8> {
    let n: u8 = name.strip_prefix(prefix)?.parse().ok()?;
    (1..=15).contains(&n).then_some(n)
}

/// Applies `visit` to the slices of an effective-dated list that `view` selects.
fn visit_slices<T>(
    slices: &[T],
    start: impl Fn(&T) -> Day,
    view: NavView,
    mut each: impl FnMut(usize),
) {
    match view {
        NavView::AllSlices => (0..slices.len()).for_each(&mut each),
        NavView::AsOf(ms) => {
            if let Some(i) = slice_at(slices, crate::time::ms_day(ms), start) {
                each(i);
            }
        }
    }
}

/// A reference-data record (FO object, position, picklist, option, label,
/// country, address).
pub struct RefNode<'a> {
    pub db: &'a Database,
    pub id: RefId,
}

impl EntityNode for RefNode<'_> {
    fn entity_type(&self) -> &'static EntityType {
        self.db.schema.ref_type(self.id, &self.db.refs)
    }
    fn property(&self, name: &str) -> ODataValue {
        self.db.refs.get(self.id).prop(name)
    }
    /// Reference records are shared by many workers of a page.
    fn fragment_key(&self) -> Option<usize> {
        Some(self.id as usize)
    }
    fn navigate(&self, nav: &str, _view: NavView, visit: &mut dyn FnMut(&dyn EntityNode)) {
        let record = self.db.refs.get(self.id);
        if let Some((_, targets)) = record.navs.iter().find(|(n, _)| *n == nav) {
            for &id in targets {
                visit(&RefNode { db: self.db, id });
            }
        }
    }
}

/// The root: a PerPerson.
pub struct PersonNode<'a> {
    pub db: &'a Database,
    pub p: &'a Person,
}

impl EntityNode for PersonNode<'_> {
    fn entity_type(&self) -> &'static EntityType {
        self.db.schema.types.person
    }
    fn property(&self, name: &str) -> ODataValue {
        let p = self.p;
        match name {
            "personIdExternal" => s(&p.person_id_external),
            "personId" => ODataValue::Int64(p.person_id),
            "perPersonUuid" => s(&p.uuid),
            "dateOfBirth" => opt_date(p.date_of_birth),
            "countryOfBirth" => opt_s(p.country_of_birth),
            _ => audit(self.db, name, p.last_modified, p.created),
        }
    }
    fn navigate(&self, nav: &str, view: NavView, visit: &mut dyn FnMut(&dyn EntityNode)) {
        let (db, p) = (self.db, self.p);
        match nav {
            "personalInfoNav" => {
                visit_slices(&p.personal, |s| s.start, view, |i| visit(&PersonalNode { db, p, i }))
            }
            "emailNav" => p.emails.iter().for_each(|e| visit(&EmailNode { db, p, e })),
            "phoneNav" => p.phones.iter().for_each(|ph| visit(&PhoneNode { db, p, ph })),
            "employmentNav" => {
                p.employments.iter().for_each(|e| visit(&EmploymentNode { db, p, e }))
            }
            "personEmpTerminationInfoNav" => {
                if let Some(t) = &p.termination {
                    visit(&TerminationNode { db, p, t });
                }
            }
            // nationalIdNav, homeAddressNavDEFLT: the emulated tenant keeps
            // no national ids or home addresses (an empty `results`).
            _ => {}
        }
    }
}

/// A PerPersonal slice.
pub struct PersonalNode<'a> {
    pub db: &'a Database,
    pub p: &'a Person,
    pub i: usize,
}

impl EntityNode for PersonalNode<'_> {
    fn entity_type(&self) -> &'static EntityType {
        self.db.schema.types.personal
    }
    fn property(&self, name: &str) -> ODataValue {
        let Some(sl) = self.p.personal.get(self.i) else { return ODataValue::Null };
        match name {
            "personIdExternal" => s(&self.p.person_id_external),
            "startDate" => date(sl.start),
            "endDate" => date(slice_end(&self.p.personal, self.i, |s| s.start)),
            "firstName" => s(&sl.first_name),
            "lastName" => s(&sl.last_name),
            "middleName" => opt_s(sl.middle_name.as_deref()),
            "preferredName" => opt_s(sl.preferred_name.as_deref()),
            "displayName" => s(&format!(
                "{} {}",
                sl.preferred_name.as_deref().unwrap_or(&sl.first_name),
                sl.last_name
            )),
            "formalName" => s(&format!("{} {}", sl.first_name, sl.last_name)),
            "gender" => sl.gender.map(|g| s(&g.to_string())).unwrap_or(ODataValue::Null),
            "nationality" => opt_s(sl.nationality),
            "maritalStatus" => opt_s(sl.marital_status),
            _ => audit(self.db, name, sl.last_modified, sl.last_modified),
        }
    }
    fn navigate(&self, nav: &str, _view: NavView, visit: &mut dyn FnMut(&dyn EntityNode)) {
        if nav == "personNav" {
            visit(&PersonNode { db: self.db, p: self.p });
        }
    }
}

/// A PerEmail.
pub struct EmailNode<'a> {
    pub db: &'a Database,
    pub p: &'a Person,
    pub e: &'a Email,
}

impl EntityNode for EmailNode<'_> {
    fn entity_type(&self) -> &'static EntityType {
        self.db.schema.types.email
    }
    fn property(&self, name: &str) -> ODataValue {
        let e = self.e;
        match name {
            "personIdExternal" => s(&self.p.person_id_external),
            "emailType" => s(&e.email_type.to_string()),
            "emailAddress" => s(&e.address),
            "isPrimary" => ODataValue::Boolean(e.is_primary),
            _ => audit(self.db, name, e.last_modified, e.created),
        }
    }
    fn navigate(&self, nav: &str, _view: NavView, visit: &mut dyn FnMut(&dyn EntityNode)) {
        match nav {
            "emailTypeNav" => {
                if let Some(&id) = self.db.refs.options_by_id.get(&self.e.email_type) {
                    visit(&RefNode { db: self.db, id });
                }
            }
            "personNav" => visit(&PersonNode { db: self.db, p: self.p }),
            _ => {}
        }
    }
}

/// A PerPhone.
pub struct PhoneNode<'a> {
    pub db: &'a Database,
    pub p: &'a Person,
    pub ph: &'a Phone,
}

impl EntityNode for PhoneNode<'_> {
    fn entity_type(&self) -> &'static EntityType {
        self.db.schema.types.phone
    }
    fn property(&self, name: &str) -> ODataValue {
        let ph = self.ph;
        match name {
            "personIdExternal" => s(&self.p.person_id_external),
            "phoneType" => s(&ph.phone_type.to_string()),
            "phoneNumber" => s(&ph.number),
            "areaCode" => opt_s(ph.area_code.as_deref()),
            "countryCode" => opt_s(ph.country_code.as_deref()),
            "extension" => opt_s(ph.extension.as_deref()),
            "isPrimary" => ODataValue::Boolean(ph.is_primary),
            _ => audit(self.db, name, ph.last_modified, ph.created),
        }
    }
    fn navigate(&self, nav: &str, _view: NavView, visit: &mut dyn FnMut(&dyn EntityNode)) {
        match nav {
            "phoneTypeNav" => {
                if let Some(&id) = self.db.refs.options_by_id.get(&self.ph.phone_type) {
                    visit(&RefNode { db: self.db, id });
                }
            }
            "personNav" => visit(&PersonNode { db: self.db, p: self.p }),
            _ => {}
        }
    }
}

/// PersonEmpTerminationInfo (R1: exactly personIdExternal,
/// activeEmploymentsCount, latestTerminationDate).
pub struct TerminationNode<'a> {
    pub db: &'a Database,
    pub p: &'a Person,
    pub t: &'a TerminationInfo,
}

impl EntityNode for TerminationNode<'_> {
    fn entity_type(&self) -> &'static EntityType {
        self.db.schema.types.termination
    }
    fn property(&self, name: &str) -> ODataValue {
        match name {
            "personIdExternal" => s(&self.p.person_id_external),
            "activeEmploymentsCount" => ODataValue::Int32(self.t.active_employments_count),
            "latestTerminationDate" => opt_date(self.t.latest_termination_date),
            _ => ODataValue::Null,
        }
    }
    fn navigate(&self, _nav: &str, _view: NavView, _visit: &mut dyn FnMut(&dyn EntityNode)) {}
}

/// An EmpEmployment.
pub struct EmploymentNode<'a> {
    pub db: &'a Database,
    pub p: &'a Person,
    pub e: &'a Employment,
}

impl EntityNode for EmploymentNode<'_> {
    fn entity_type(&self) -> &'static EntityType {
        self.db.schema.types.employment
    }
    fn property(&self, name: &str) -> ODataValue {
        let e = self.e;
        if let Some(n) = custom_number(name, "customString") {
            return opt_s(custom(&e.custom, n));
        }
        match name {
            "personIdExternal" => s(&self.p.person_id_external),
            "userId" => s(&e.user_id),
            "startDate" => date(e.start),
            "endDate" => opt_date(e.end),
            "originalStartDate" => date(e.original_start),
            "seniorityDate" => date(e.original_start),
            "lastDateWorked" => opt_date(e.last_date_worked),
            "assignmentClass" => s(match e.assignment_class {
                AssignmentClass::ST => "ST",
                AssignmentClass::GA => "GA",
            }),
            "isContingentWorker" => ODataValue::Boolean(e.is_contingent_worker),
            "hiringNotCompleted" => ODataValue::Boolean(e.hiring_not_completed),
            "jobNumber" => ODataValue::Int64(e.job_number),
            "okToRehire" => ODataValue::Boolean(true),
            _ => audit(self.db, name, e.last_modified, e.created),
        }
    }
    fn navigate(&self, nav: &str, view: NavView, visit: &mut dyn FnMut(&dyn EntityNode)) {
        let (db, p, e) = (self.db, self.p, self.e);
        match nav {
            "userNav" => {
                if let Some(u) = &e.user {
                    visit(&UserNode { db, p, e, u });
                }
            }
            "jobInfoNav" => {
                visit_slices(&e.jobs, |j| j.start, view, |i| visit(&JobNode { db, p, e, i }))
            }
            "empGlobalAssignmentNav" => {
                if let Some(ga) = &e.global_assignment {
                    visit(&GlobalAssignmentNode { db, p, e, ga });
                }
            }
            "personNav" => visit(&PersonNode { db, p }),
            _ => {}
        }
    }
}

/// An EmpEmploymentTermination: one per ended employment, keyed by its last
/// day (R1 `EmpEmploymentTermination.ts`).
pub struct EmploymentTerminationNode<'a> {
    pub db: &'a Database,
    pub p: &'a Person,
    pub e: &'a Employment,
}

impl EmploymentTerminationNode<'_> {
    /// The job slice the termination starts (the first after the last day).
    fn termination_slice(&self) -> Option<usize> {
        let end = self.e.end?;
        self.e.jobs.iter().position(|j| j.start > end)
    }
}

impl EntityNode for EmploymentTerminationNode<'_> {
    fn entity_type(&self) -> &'static EntityType {
        self.db.schema.types.employment_termination
    }
    fn property(&self, name: &str) -> ODataValue {
        let e = self.e;
        match name {
            "endDate" => opt_date(e.end),
            "personIdExternal" => s(&self.p.person_id_external),
            "userId" => s(&e.user_id),
            "eventReason" => match self.termination_slice().and_then(|i| e.jobs.get(i)) {
                Some(j) => self.db.refs.get(j.event_reason).prop("externalCode"),
                None => ODataValue::Null,
            },
            "payrollEndDate" => opt_date(e.end),
            _ => audit(self.db, name, e.last_modified, e.created),
        }
    }
    fn navigate(&self, nav: &str, _view: NavView, visit: &mut dyn FnMut(&dyn EntityNode)) {
        let (db, p, e) = (self.db, self.p, self.e);
        match nav {
            "employmentNav" => visit(&EmploymentNode { db, p, e }),
            "jobInfoNav" => {
                if let Some(i) = self.termination_slice() {
                    visit(&JobNode { db, p, e, i });
                }
            }
            "personNav" => visit(&PersonNode { db, p }),
            "userNav" => {
                if let Some(u) = &e.user {
                    visit(&UserNode { db, p, e, u });
                }
            }
            _ => {}
        }
    }
}

/// A User.
pub struct UserNode<'a> {
    pub db: &'a Database,
    pub p: &'a Person,
    pub e: &'a Employment,
    pub u: &'a User,
}

impl<'a> UserNode<'a> {
    /// The User with `user_id`, if it exists.
    pub fn find(db: &'a Database, user_id: &str) -> Option<Self> {
        let (p, e) = db.employment_of_user(user_id)?;
        let u = e.user.as_ref()?;
        Some(UserNode { db, p, e, u })
    }
}

impl EntityNode for UserNode<'_> {
    fn entity_type(&self) -> &'static EntityType {
        self.db.schema.types.user
    }
    fn property(&self, name: &str) -> ODataValue {
        let u = self.u;
        if let Some(n) = custom_number(name, "custom") {
            return opt_s(custom(&u.custom, n));
        }
        if let Some((_, v)) = u.extra.iter().find(|(n, _)| *n == name) {
            return s(v);
        }
        match name {
            "userId" => s(&self.e.user_id),
            "username" => opt_s(u.username.as_deref()),
            "status" => s(u.status.as_str()),
            "email" => opt_s(u.email.as_deref()),
            "firstName" => s(&u.first_name),
            "lastName" => s(&u.last_name),
            "defaultFullName" => s(&u.display_name),
            "empId" => s(&self.p.person_id_external),
            "businessPhone" => opt_s(u.business_phone.as_deref()),
            "cellPhone" => opt_s(u.cell_phone.as_deref()),
            "title" => opt_s(u.title.as_deref()),
            "department" => opt_s(u.department.as_deref()),
            "location" => opt_s(u.location.as_deref()),
            "hireDate" => date(self.e.start),
            "timeZone" => s("UTC"),
            "lastModifiedDateTime" => dto(u.last_modified),
            "lastModified" => local(self.db, u.last_modified),
            _ => ODataValue::Null,
        }
    }
    /// A manager's User is expanded under each of their reports. The record's
    /// address identifies it (and its employment and person) while the data
    /// is read-locked for the response.
    fn fragment_key(&self) -> Option<usize> {
        Some(std::ptr::from_ref(self.u) as usize)
    }
    fn navigate(&self, nav: &str, _view: NavView, visit: &mut dyn FnMut(&dyn EntityNode)) {
        match nav {
            "manager" => {
                if let Some(m) =
                    self.u.manager_id.as_deref().and_then(|m| UserNode::find(self.db, m))
                {
                    visit(&m);
                }
            }
            "empInfo" => visit(&EmploymentNode { db: self.db, p: self.p, e: self.e }),
            "personKeyNav" => visit(&PersonNode { db: self.db, p: self.p }),
            _ => {}
        }
    }
}

/// An EmpJob slice.
pub struct JobNode<'a> {
    pub db: &'a Database,
    pub p: &'a Person,
    pub e: &'a Employment,
    pub i: usize,
}

impl JobNode<'_> {
    /// The picklist option of the slice's event (`EmpJob.event`, `eventNav`):
    /// the event its event reason belongs to.
    fn event_option(&self, j: &JobSlice) -> Option<RefId> {
        let reason = self.db.refs.get(j.event_reason);
        reason.navs.iter().find(|(n, _)| *n == "eventNav").and_then(|(_, t)| t.first().copied())
    }
    /// The company's country as an `ISOCountryList` option (`countryOfCompanyNav`).
    fn country_option(&self, j: &JobSlice) -> Option<RefId> {
        let refs = &self.db.refs;
        refs.get(j.company).text("country").and_then(|c| refs.option(refdata::COUNTRY_LIST, c))
    }
}

impl EntityNode for JobNode<'_> {
    fn entity_type(&self) -> &'static EntityType {
        self.db.schema.types.job
    }
    fn property(&self, name: &str) -> ODataValue {
        let Some(j) = self.e.jobs.get(self.i) else { return ODataValue::Null };
        if let Some(n) = custom_number(name, "customString") {
            return opt_s(custom(&j.custom, n));
        }
        let refs = &self.db.refs;
        let code = |id: RefId| {
            opt_s(refs.get(id).text("externalCode").or_else(|| refs.get(id).text("code")))
        };
        match name {
            "userId" => s(&self.e.user_id),
            "seqNumber" => ODataValue::Int64(j.seq),
            "startDate" => date(j.start),
            "endDate" => date(slice_end(&self.e.jobs, self.i, |j| j.start)),
            "emplStatus" => s(&refs.option_id(j.empl_status).to_string()),
            "eventReason" => code(j.event_reason),
            // A picklist option id, as `emplStatus` (R3: FOEventReason "event":"1051").
            "event" => match self.event_option(j) {
                Some(o) => s(&refs.option_id(o).to_string()),
                None => ODataValue::Null,
            },
            "company" => code(j.company),
            "department" => code(j.department),
            "division" => code(j.division),
            "businessUnit" => code(j.business_unit),
            "costCenter" => code(j.cost_center),
            "location" => code(j.location),
            "jobCode" => code(j.job_code),
            "payGrade" => code(j.pay_grade),
            "position" => code(j.position),
            "employmentType" => s(&refs.option_id(j.employment_type).to_string()),
            "employeeClass" => s(&refs.option_id(j.employee_class).to_string()),
            "jobTitle" => s(&j.job_title),
            "managerId" => s(j.manager_id.as_deref().unwrap_or("NO_MANAGER")),
            "fte" => ODataValue::Double(f64::from(j.fte)),
            "standardHours" => ODataValue::Double(f64::from(j.fte) * 40.0),
            "isFulltimeEmployee" => ODataValue::Boolean(j.fte >= 1.0),
            "countryOfCompany" => refs.get(j.company).prop("country"),
            _ => audit(self.db, name, j.last_modified, j.last_modified),
        }
    }
    fn navigate(&self, nav: &str, _view: NavView, visit: &mut dyn FnMut(&dyn EntityNode)) {
        let Some(j) = self.e.jobs.get(self.i) else { return };
        let db = self.db;
        let target = match nav {
            "companyNav" => Some(j.company),
            "departmentNav" => Some(j.department),
            "divisionNav" => Some(j.division),
            "businessUnitNav" => Some(j.business_unit),
            "costCenterNav" => Some(j.cost_center),
            "locationNav" => Some(j.location),
            "jobCodeNav" => Some(j.job_code),
            "payGradeNav" => Some(j.pay_grade),
            "positionNav" => Some(j.position),
            "eventReasonNav" => Some(j.event_reason),
            "eventNav" => self.event_option(j),
            "emplStatusNav" => Some(j.empl_status),
            "employmentTypeNav" => Some(j.employment_type),
            "employeeClassNav" => Some(j.employee_class),
            "countryOfCompanyNav" => self.country_option(j),
            // Entra's table lists the corporate address directly under jobInfoNav.
            "addressNavDEFLT" => db
                .refs
                .get(j.location)
                .navs
                .iter()
                .find(|(n, _)| *n == "addressNavDEFLT")
                .and_then(|(_, t)| t.first().copied()),
            "managerUserNav" => {
                if let Some(m) = j.manager_id.as_deref().and_then(|m| UserNode::find(db, m)) {
                    visit(&m);
                }
                None
            }
            "managerEmploymentNav" => {
                if let Some(m) = j.manager_id.as_deref().and_then(|m| UserNode::find(db, m)) {
                    visit(&EmploymentNode { db, p: m.p, e: m.e });
                }
                None
            }
            "userNav" => {
                if let Some(u) = &self.e.user {
                    visit(&UserNode { db, p: self.p, e: self.e, u });
                }
                None
            }
            "employmentNav" => {
                visit(&EmploymentNode { db, p: self.p, e: self.e });
                None
            }
            _ => None,
        };
        if let Some(id) = target {
            visit(&RefNode { db, id });
        }
    }
}

/// An EmpGlobalAssignment.
pub struct GlobalAssignmentNode<'a> {
    pub db: &'a Database,
    pub p: &'a Person,
    pub e: &'a Employment,
    pub ga: &'a GlobalAssignment,
}

impl EntityNode for GlobalAssignmentNode<'_> {
    fn entity_type(&self) -> &'static EntityType {
        self.db.schema.types.global_assignment
    }
    fn property(&self, name: &str) -> ODataValue {
        let ga = self.ga;
        match name {
            "userId" => s(&self.e.user_id),
            "personIdExternal" => s(&self.p.person_id_external),
            "assignmentClass" => s("GA"),
            "assignmentType" => s(&self.db.refs.option_id(ga.assignment_type).to_string()),
            "startDate" => date(ga.start),
            "plannedEndDate" => date(ga.planned_end),
            "endDate" => opt_date(self.e.end),
            _ => audit(self.db, name, ga.last_modified, ga.last_modified),
        }
    }
    fn navigate(&self, nav: &str, _view: NavView, visit: &mut dyn FnMut(&dyn EntityNode)) {
        let (db, p, e) = (self.db, self.p, self.e);
        match nav {
            "assignmentTypeNav" => visit(&RefNode { db, id: self.ga.assignment_type }),
            "employmentNav" => visit(&EmploymentNode { db, p, e }),
            "userNav" => {
                if let Some(u) = &e.user {
                    visit(&UserNode { db, p, e, u });
                }
            }
            _ => {}
        }
    }
}
