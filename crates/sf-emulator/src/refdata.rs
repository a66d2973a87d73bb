//! The fixed reference data of the emulated tenant: countries, companies,
//! locations with corporate addresses, departments, divisions, business units,
//! cost centers, job codes, pay grades, positions with localized names, event
//! reasons and picklists.
//!
//! Picklist option ids follow the values seen in Microsoft's documentation
//! (ecEmailType B=8448, P=8449; ecPhoneType B=10605, C=10606, H=10607;
//! emplStatus A=4595) so examples from the docs work verbatim.

use sf_odata::value::ODataValue;

use crate::model::{RefData, RefId, RefRecord};
use crate::time::{END_OF_TIME, day_ms, days_from_civil};

/// The picklist id of the employment status picklist (`EmpJob.emplStatus`).
pub const EMPL_STATUS: &str = "employee-status";
/// Business/personal email types.
pub const EMAIL_TYPE: &str = "ecEmailType";
/// Business/cell/home phone types.
pub const PHONE_TYPE: &str = "ecPhoneType";
/// `EmpJob.employmentType`.
pub const EMPLOYMENT_TYPE: &str = "employmentType";
/// `EmpJob.employeeClass`.
pub const EMPLOYEE_CLASS: &str = "EMPLOYEECLASS";
/// `EmpGlobalAssignment.assignmentType`.
pub const ASSIGNMENT_TYPE: &str = "assignmentType";
/// `EmpJob.event` / `FOEventReason.event` (SuccessFactors' `event` picklist).
pub const EVENT: &str = "event";
/// Countries (`EmpJob.countryOfCompany`, corporate address `countryNav`).
pub const COUNTRY_LIST: &str = "ISOCountryList";
/// States and regions of corporate addresses (`stateNav`).
pub const STATE: &str = "STATE";

fn s(v: &str) -> ODataValue {
    ODataValue::String(v.to_owned())
}

/// FO objects are effective-dated in SuccessFactors; ours have one slice from 1900-01-01.
fn fo_dates() -> [(&'static str, ODataValue); 3] {
    [
        ("startDate", ODataValue::DateTime(day_ms(days_from_civil(1900, 1, 1)))),
        ("endDate", ODataValue::DateTime(day_ms(END_OF_TIME))),
        ("status", s("A")),
    ]
}

fn fo(
    entity: &'static str,
    code: &str,
    name: &str,
    extra: Vec<(&'static str, ODataValue)>,
) -> RefRecord {
    let mut props = vec![
        ("externalCode", s(code)),
        ("name", s(name)),
        ("name_localized", s(name)),
        ("name_defaultValue", s(name)),
        ("name_en_US", s(name)),
        ("description", s(name)),
    ];
    props.extend(fo_dates());
    props.extend(extra);
    RefRecord { entity, props, navs: Vec::new() }
}

fn picklist(refs: &mut RefData, id: &str, options: &[(i64, &str, &str)]) {
    let mut option_ids = Vec::new();
    for (sort, &(opt_id, code, label)) in options.iter().enumerate() {
        let label_id = refs.push(RefRecord {
            entity: "PicklistLabel",
            props: vec![
                ("optionId", ODataValue::Int64(opt_id)),
                ("locale", s("en_US")),
                ("label", s(label)),
            ],
            navs: Vec::new(), // `picklistOption` is linked below
        });
        let option = refs.push(RefRecord {
            entity: "PicklistOption",
            props: vec![
                ("id", ODataValue::Int64(opt_id)),
                ("externalCode", s(code)),
                ("localeLabel", s(label)),
                ("status", s("ACTIVE")),
                ("sortOrder", ODataValue::Int32(sort as i32)),
                ("minValue", ODataValue::Null),
                ("maxValue", ODataValue::Null),
                ("optionValue", ODataValue::Null),
            ],
            navs: vec![("picklistLabels", vec![label_id])],
        });
        refs.records[label_id as usize].navs.push(("picklistOption", vec![option]));
        refs.options_by_code.insert((id.to_owned(), code.to_owned()), option);
        refs.options_by_id.insert(opt_id, option);
        option_ids.push(option);
    }
    let list = refs.push(RefRecord {
        entity: "Picklist",
        props: vec![("picklistId", s(id)), ("name", s(id)), ("status", s("ACTIVE"))],
        navs: vec![("picklistOptions", option_ids.clone())],
    });
    for o in option_ids {
        refs.records[o as usize].navs.push(("picklist", vec![list]));
    }
    refs.picklists.insert(id.to_owned(), list);
}

/// Country code, name, ISO-2, company code, company name, currency, phone prefix,
/// and (city, state, zip, street) of the company's locations.
type CountrySpec = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str, &'static str, &'static str)],
);

const COUNTRIES: &[CountrySpec] = &[
    (
        "USA",
        "United States",
        "US",
        "ACE_US",
        "ACE Corporation",
        "USD",
        "1",
        &[
            ("New York", "NY", "10001", "350 Fifth Avenue"),
            ("San Francisco", "CA", "94105", "1 Market Street"),
            ("Chicago", "IL", "60606", "233 S Wacker Drive"),
        ],
    ),
    (
        "DEU",
        "Germany",
        "DE",
        "ACE_DE",
        "ACE Deutschland GmbH",
        "EUR",
        "49",
        &[
            ("Berlin", "BE", "10117", "Unter den Linden 1"),
            ("München", "BY", "80331", "Marienplatz 8"),
        ],
    ),
    (
        "FRA",
        "France",
        "FR",
        "ACE_FR",
        "ACE France SAS",
        "EUR",
        "33",
        &[("Paris", "IDF", "75008", "12 Rue de l'Élysée")],
    ),
    (
        "GBR",
        "United Kingdom",
        "GB",
        "ACE_UK",
        "ACE UK Ltd",
        "GBP",
        "44",
        &[("London", "LND", "EC2V 7HH", "1 King's Arms Yard")],
    ),
    (
        "JPN",
        "Japan",
        "JP",
        "ACE_JP",
        "ACE Japan K.K.",
        "JPY",
        "81",
        &[("東京", "13", "100-0005", "丸の内1-1-1")],
    ),
    (
        "BRA",
        "Brazil",
        "BR",
        "ACE_BR",
        "ACE Brasil Ltda",
        "BRL",
        "55",
        &[("São Paulo", "SP", "01310-100", "Avenida Paulista 1000")],
    ),
];

/// Indexes into reference data that the generator and events pick from.
#[derive(Debug, Default)]
pub struct RefIndex {
    /// Per country (same order as companies): company, locations, phone prefix.
    pub companies: Vec<(RefId, Vec<RefId>, &'static str)>,
    pub departments: Vec<RefId>,
    pub divisions: Vec<RefId>,
    pub business_units: Vec<RefId>,
    pub cost_centers: Vec<RefId>,
    pub job_codes: Vec<RefId>,
    pub pay_grades: Vec<RefId>,
    pub positions: Vec<RefId>,
}

const DEPARTMENTS: &[&str] = &[
    "Engineering",
    "Finance",
    "Human Resources",
    "Sales",
    "Marketing",
    "Legal",
    "IT Operations",
    "Customer Support",
    "Research & Development",
    "Procurement",
    "Logistics",
    "Facilities",
];
const DIVISIONS: &[&str] =
    &["Corporate", "Products", "Services", "Manufacturing", "Retail", "Research"];
const BUSINESS_UNITS: &[&str] =
    &["Enterprise", "Consumer", "Public Sector", "Shared Services", "Digital"];
const JOBS: &[(&str, &str, &str, &str)] = &[
    // (english, german, french, level)
    ("Software Engineer", "Softwareentwickler", "Ingénieur logiciel", "L2"),
    ("Senior Software Engineer", "Senior Softwareentwickler", "Ingénieur logiciel senior", "L3"),
    ("Accountant", "Buchhalter", "Comptable", "L2"),
    ("HR Business Partner", "HR-Businesspartner", "Partenaire RH", "L3"),
    ("Account Executive", "Kundenbetreuer", "Chargé de clientèle", "L2"),
    ("Marketing Specialist", "Marketingspezialist", "Spécialiste marketing", "L2"),
    ("Legal Counsel", "Rechtsberater", "Juriste", "L4"),
    ("Systems Administrator", "Systemadministrator", "Administrateur systèmes", "L2"),
    ("Support Analyst", "Supportanalyst", "Analyste support", "L1"),
    ("Research Scientist", "Wissenschaftler", "Chercheur", "L3"),
    ("Buyer", "Einkäufer", "Acheteur", "L1"),
    ("Warehouse Associate", "Lagerist", "Magasinier", "L1"),
    ("Engineering Manager", "Engineering-Manager", "Responsable ingénierie", "L5"),
    ("Director", "Direktor", "Directeur", "L6"),
    ("Vice President", "Vizepräsident", "Vice-président", "L7"),
];

/// Builds the tenant's reference data.
pub fn build() -> (RefData, RefIndex) {
    let mut refs = RefData::default();
    let mut index = RefIndex::default();

    picklist(&mut refs, EMAIL_TYPE, &[(8448, "B", "Business"), (8449, "P", "Personal")]);
    picklist(
        &mut refs,
        PHONE_TYPE,
        &[(10605, "B", "Business"), (10606, "C", "Cell"), (10607, "H", "Home")],
    );
    picklist(
        &mut refs,
        EMPL_STATUS,
        &[
            (4595, "A", "Active"),
            (4596, "U", "Unpaid Leave"),
            (4597, "P", "Paid Leave"),
            (4598, "S", "Suspended"),
            (4599, "F", "Furlough"),
            (4600, "D", "Dormant"),
            (4601, "O", "Discarded"),
            (4602, "R", "Retired"),
            (4603, "T", "Terminated"),
        ],
    );
    picklist(
        &mut refs,
        EMPLOYMENT_TYPE,
        &[(5001, "FT", "Full-Time"), (5002, "PT", "Part-Time"), (5003, "TMP", "Temporary")],
    );
    picklist(
        &mut refs,
        EMPLOYEE_CLASS,
        &[(6001, "1", "Employee"), (6002, "2", "Contractor"), (6003, "3", "Intern")],
    );
    picklist(
        &mut refs,
        ASSIGNMENT_TYPE,
        &[(7001, "GA", "Global Assignment"), (7002, "BT", "Business Travel")],
    );
    picklist(
        &mut refs,
        "ISOCountryList",
        &COUNTRIES.iter().enumerate().map(|(i, c)| (9001 + i as i64, c.0, c.1)).collect::<Vec<_>>(),
    );

    // The `event` picklist: option ids as R3's FOEventReason shows them
    // ("event":"1051"); external codes are the emulator's own.
    picklist(
        &mut refs,
        EVENT,
        &[
            (1051, "H", "Hire"),
            (1052, "R", "Rehire"),
            (1053, "26", "Termination"),
            (1054, "5", "Data Change"),
            (1055, "JC", "Job Change"),
            (1056, "10", "Leave of Absence"),
            (1057, "22", "Return to Work"),
            (1058, "GA", "Global Assignment"),
        ],
    );
    for &(reason, name, status, event) in &[
        ("HIRE", "New Hire", "A", "H"),
        ("REHIRE", "Rehire", "A", "R"),
        ("TERMRES", "Resignation", "T", "26"),
        ("DATACHG", "Data Change", "A", "5"),
        ("TRANSFER", "Transfer", "A", "JC"),
        ("PROMO", "Promotion", "A", "JC"),
        ("LOAPAID", "Leave of Absence (paid)", "P", "10"),
        ("LOAUNPAID", "Leave of Absence (unpaid)", "U", "10"),
        ("RETLOA", "Return from Leave", "A", "22"),
        ("CONV", "Worker Conversion", "A", "H"),
        ("GASTART", "Global Assignment Start", "A", "GA"),
    ] {
        let status_opt = refs.option(EMPL_STATUS, status);
        let event_opt = refs.option(EVENT, event);
        let id_of = |o: Option<RefId>| o.map(|o| refs.option_id(o)).unwrap_or(0).to_string();
        let mut record = fo(
            "FOEventReason",
            reason,
            name,
            vec![("event", s(&id_of(event_opt))), ("emplStatus", s(&id_of(status_opt)))],
        );
        record.navs.extend(event_opt.map(|o| ("eventNav", vec![o])));
        record.navs.extend(status_opt.map(|o| ("emplStatusNav", vec![o])));
        refs.push(record);
    }
    let mut states = Vec::new();
    for c in COUNTRIES {
        for site in c.7 {
            if !states.iter().any(|(code, _)| *code == site.1) {
                states.push((site.1, site.0));
            }
        }
    }
    picklist(
        &mut refs,
        STATE,
        &states
            .iter()
            .enumerate()
            .map(|(i, (code, city))| (9101 + i as i64, *code, *city))
            .collect::<Vec<_>>(),
    );

    for (i, &(code, name, iso2, company, company_name, currency, phone, sites)) in
        COUNTRIES.iter().enumerate()
    {
        let country = refs.push(RefRecord {
            entity: "Country",
            props: vec![
                ("code", s(code)),
                ("effectiveStartDate", ODataValue::DateTime(day_ms(days_from_civil(1900, 1, 1)))),
                ("effectiveEndDate", ODataValue::DateTime(day_ms(END_OF_TIME))),
                ("effectiveStatus", s("A")),
                ("externalName_localized", s(name)),
                ("externalName_defaultValue", s(name)),
                ("externalName_en_US", s(name)),
                ("twoCharCountryCode", s(iso2)),
                ("currency", s(currency)),
            ],
            navs: Vec::new(),
        });
        let mut c = fo(
            "FOCompany",
            company,
            company_name,
            vec![
                ("country", s(code)),
                ("currency", s(currency)),
                ("defaultLocation", s(&format!("{iso2}-{:02}", 1))),
                ("standardHours", ODataValue::Double(40.0)),
            ],
        );
        c.navs.push(("countryOfRegistrationNav", vec![country]));
        let company_id = refs.push(c);
        let mut locations = Vec::new();
        for (j, &(city, state, zip, street)) in sites.iter().enumerate() {
            let loc_code = format!("{iso2}-{:02}", j + 1);
            let address = refs.push(RefRecord {
                entity: "FOCorporateAddressDEFLT",
                props: vec![
                    ("addressId", s(&format!("{}", 1000 + i * 10 + j))),
                    ("address1", s(street)),
                    ("address2", ODataValue::Null),
                    ("city", s(city)),
                    ("state", s(state)),
                    ("zipCode", s(zip)),
                    ("country", s(code)),
                ],
                navs: [
                    ("stateNav", refs.option(STATE, state)),
                    ("countryNav", refs.option(COUNTRY_LIST, code)),
                ]
                .into_iter()
                .filter_map(|(n, o)| o.map(|o| (n, vec![o])))
                .collect(),
            });
            let mut loc = fo(
                "FOLocation",
                &loc_code,
                &format!("{city} Office"),
                vec![
                    ("timezone", s("UTC")),
                    ("locationGroup", s(iso2)),
                    ("addressId", s(&format!("{}", 1000 + i * 10 + j))),
                ],
            );
            loc.navs.push(("addressNavDEFLT", vec![address]));
            locations.push(refs.push(loc));
        }
        index.companies.push((company_id, locations, phone));
    }

    for (i, name) in DEPARTMENTS.iter().enumerate() {
        let cc = refs.push(fo(
            "FOCostCenter",
            &format!("CC{:04}", 1000 + i * 10),
            &format!("{name} Cost Center"),
            vec![("costcenterManager", ODataValue::Null)],
        ));
        index.cost_centers.push(cc);
        let dep = refs.push(fo(
            "FODepartment",
            &format!("D{:03}", 100 + i),
            name,
            vec![
                ("costCenter", s(&format!("CC{:04}", 1000 + i * 10))),
                ("parent", ODataValue::Null),
                ("headOfUnit", ODataValue::Null),
            ],
        ));
        index.departments.push(dep);
    }
    for (i, name) in DIVISIONS.iter().enumerate() {
        index.divisions.push(refs.push(fo(
            "FODivision",
            &format!("DIV{:02}", i + 1),
            name,
            vec![],
        )));
    }
    for (i, name) in BUSINESS_UNITS.iter().enumerate() {
        index.business_units.push(refs.push(fo(
            "FOBusinessUnit",
            &format!("BU{:02}", i + 1),
            name,
            vec![],
        )));
    }
    for g in 1..=10 {
        index.pay_grades.push(refs.push(fo(
            "FOPayGrade",
            &format!("GR{g:02}"),
            &format!("Grade {g}"),
            vec![("paygradeLevel", ODataValue::Int64(g))],
        )));
    }
    for (i, &(en, de, fr, level)) in JOBS.iter().enumerate() {
        let jc = format!("JC{:03}", 100 + i);
        index.job_codes.push(refs.push(fo(
            "FOJobCode",
            &jc,
            en,
            vec![
                ("name_de_DE", s(de)),
                ("name_fr_FR", s(fr)),
                ("grade", s(level)),
                ("jobFunction", s("GEN")),
                ("isFulltimeEmployee", ODataValue::Boolean(true)),
            ],
        )));
        // Four positions per job, spread over departments.
        for k in 0..4 {
            let code = format!("P{:05}", 10_000 + i * 10 + k);
            let effective = day_ms(days_from_civil(2010, 1, 1));
            index.positions.push(refs.push(RefRecord {
                entity: "Position",
                props: vec![
                    ("code", s(&code)),
                    ("effectiveStartDate", ODataValue::DateTime(effective)),
                    ("effectiveEndDate", ODataValue::DateTime(day_ms(END_OF_TIME))),
                    ("effectiveStatus", s("A")),
                    ("externalName_localized", s(en)),
                    ("externalName_defaultValue", s(en)),
                    ("externalName_en_US", s(en)),
                    ("externalName_de_DE", s(de)),
                    ("externalName_fr_FR", s(fr)),
                    ("jobLevel", s(level)),
                    ("jobCode", s(&jc)),
                    ("department", s(&format!("D{:03}", 100 + (i + k) % DEPARTMENTS.len()))),
                    ("vacant", ODataValue::Boolean(false)),
                ],
                navs: Vec::new(),
            }));
        }
    }
    (refs, index)
}
