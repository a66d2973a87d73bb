//! A toy in-memory `EntityNode` for the tests: a tree of typed property
//! values and navigation lists, with effective-dated slice selection.
#![allow(dead_code)]

use sf_odata::edm::{EntityType, schema};
use sf_odata::entity::{EntityNode, NavView};
use sf_odata::value::{ODataValue, parse_datetimeoffset_body, parse_day};

pub struct Toy {
    pub ty: &'static EntityType,
    pub props: Vec<(&'static str, ODataValue)>,
    pub navs: Vec<(&'static str, Vec<Toy>)>,
}

impl Toy {
    pub fn new(ty: &str) -> Toy {
        let ty = schema().entity(ty).unwrap_or_else(|| panic!("test uses unknown entity {ty}"));
        Toy { ty, props: Vec::new(), navs: Vec::new() }
    }
    pub fn p(mut self, name: &'static str, v: ODataValue) -> Toy {
        assert!(
            self.ty.property(name).is_some(),
            "test sets unknown property {}/{name}",
            self.ty.name
        );
        self.props.push((name, v));
        self
    }
    /// Replaces (or adds) a property value.
    pub fn set(mut self, name: &'static str, v: ODataValue) -> Toy {
        self.props.retain(|(n, _)| *n != name);
        self.p(name, v)
    }
    pub fn s(self, name: &'static str, v: &str) -> Toy {
        self.p(name, ODataValue::String(v.to_owned()))
    }
    pub fn nav(mut self, name: &'static str, children: Vec<Toy>) -> Toy {
        assert!(self.ty.nav(name).is_some(), "test sets unknown nav {}/{name}", self.ty.name);
        self.navs.push((name, children));
        self
    }
    pub fn one(self, name: &'static str, child: Toy) -> Toy {
        self.nav(name, vec![child])
    }
}

impl EntityNode for Toy {
    fn entity_type(&self) -> &'static EntityType {
        self.ty
    }
    fn property(&self, name: &str) -> ODataValue {
        self.props
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
            .unwrap_or(ODataValue::Null)
    }
    fn navigate(&self, nav: &str, view: NavView, visit: &mut dyn FnMut(&dyn EntityNode)) {
        let Some((_, children)) = self.navs.iter().find(|(n, _)| *n == nav) else { return };
        match view {
            NavView::AllSlices => children.iter().for_each(|c| visit(c)),
            NavView::AsOf(day) => {
                let eff = children.first().is_some_and(|c| c.ty.effective_dated);
                if !eff {
                    children.iter().for_each(|c| visit(c));
                    return;
                }
                // The slice with the latest start on or before `day`.
                let start = |c: &Toy| {
                    c.ty.effective_start_property()
                        .and_then(|p| c.property(p).instant_ms())
                        .unwrap_or(i64::MIN)
                };
                if let Some(c) =
                    children.iter().filter(|c| start(c) <= day).max_by_key(|c| start(c))
                {
                    visit(c);
                }
            }
        }
    }
}

/// Midnight UTC of `yyyy-MM-dd` as an Edm.DateTime value.
pub fn date(d: &str) -> ODataValue {
    ODataValue::DateTime(day(d))
}

pub fn day(d: &str) -> i64 {
    parse_day(d).unwrap_or_else(|e| panic!("{e}"))
}

/// `yyyy-MM-ddTHH:mm:ssZ` as an Edm.DateTimeOffset value.
pub fn dto(t: &str) -> ODataValue {
    let (ms, offset_minutes) = parse_datetimeoffset_body(t).unwrap_or_else(|e| panic!("{e}"));
    ODataValue::DateTimeOffset { ms, offset_minutes }
}

pub fn s(v: &str) -> ODataValue {
    ODataValue::String(v.to_owned())
}

/// A small realistic worker: one person, one employment with two job slices
/// (the second future-dated), user, emails, phone, termination info.
pub fn worker(id: &str) -> Toy {
    Toy::new("PerPerson")
        .s("personIdExternal", id)
        .p("personId", ODataValue::Int64(467))
        .p("dateOfBirth", date("1960-05-01"))
        .p("lastModifiedDateTime", dto("2024-05-02T08:30:00Z"))
        .nav(
            "personalInfoNav",
            vec![
                Toy::new("PerPersonal")
                    .s("personIdExternal", id)
                    .p("startDate", date("2023-01-01"))
                    .p("endDate", date("9999-12-31"))
                    .s("firstName", "Ana")
                    .s("lastName", "Müller")
                    .p("lastModifiedDateTime", dto("2023-01-01T09:00:00Z")),
            ],
        )
        .nav(
            "emailNav",
            vec![
                Toy::new("PerEmail")
                    .s("personIdExternal", id)
                    .s("emailType", "8448")
                    .s("emailAddress", "ana.mueller@example.com")
                    .p("isPrimary", ODataValue::Boolean(true))
                    .p("lastModifiedDateTime", dto("2023-01-01T09:00:00Z")),
            ],
        )
        .nav(
            "phoneNav",
            vec![
                Toy::new("PerPhone")
                    .s("personIdExternal", id)
                    .s("phoneType", "10605")
                    .s("phoneNumber", "5550101")
                    .p("lastModifiedDateTime", dto("2023-01-01T09:00:00Z")),
            ],
        )
        .one(
            "personEmpTerminationInfoNav",
            Toy::new("PersonEmpTerminationInfo")
                .s("personIdExternal", id)
                .p("activeEmploymentsCount", ODataValue::Int32(1)),
        )
        .nav(
            "employmentNav",
            vec![
                Toy::new("EmpEmployment")
                    .s("personIdExternal", id)
                    .s("userId", id)
                    .p("startDate", date("2023-01-01"))
                    .p("lastModifiedDateTime", dto("2023-01-01T09:00:00Z"))
                    .one(
                        "userNav",
                        Toy::new("User")
                            .s("userId", id)
                            .s("username", "amueller")
                            .s("status", "active")
                            .p("lastModifiedDateTime", dto("2023-01-01T09:00:00Z")),
                    )
                    .nav(
                        "jobInfoNav",
                        vec![
                            job(
                                id,
                                1,
                                "2023-01-01",
                                "2024-06-30",
                                "2023-01-01T09:00:00Z",
                                "Engineer",
                            ),
                            job(
                                id,
                                1,
                                "2024-07-01",
                                "9999-12-31",
                                "2024-05-02T08:30:00Z",
                                "Senior Engineer",
                            ),
                        ],
                    ),
            ],
        )
}

pub fn job(user: &str, seq: i64, start: &str, end: &str, modified: &str, title: &str) -> Toy {
    Toy::new("EmpJob")
        .s("userId", user)
        .p("seqNumber", ODataValue::Int64(seq))
        .p("startDate", date(start))
        .p("endDate", date(end))
        .s("jobTitle", title)
        .p("lastModifiedDateTime", dto(modified))
}
