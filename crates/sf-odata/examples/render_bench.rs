//! Rendering and filter benchmark: 1,000 fully expanded workers.
//!
//! Run: `CARGO_TARGET_DIR=/work/target-odata cargo run --release -p sf-odata --example render_bench`

#[path = "../tests/it/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::{Toy, date, worker};
use sf_odata::edm::schema;
use sf_odata::render::{RenderContext, write_collection_page};
use sf_odata::{Filter, QueryOptions};

const EXPAND: &str = "employmentNav/userNav,employmentNav/jobInfoNav,personalInfoNav,personEmpTerminationInfoNav,phoneNav,emailNav,employmentNav/userNav/manager/empInfo,employmentNav/jobInfoNav/companyNav/countryOfRegistrationNav,employmentNav/jobInfoNav/departmentNav,employmentNav/jobInfoNav/divisionNav,employmentNav/jobInfoNav/locationNav/addressNavDEFLT,employmentNav/jobInfoNav/emplStatusNav,employmentNav/jobInfoNav/positionNav,employmentNav/jobInfoNav/managerUserNav,employmentNav/empGlobalAssignmentNav/assignmentTypeNav";

fn fo(ty: &str, code: &str) -> Toy {
    Toy::new(ty)
        .s("externalCode", code)
        .p("startDate", date("2000-01-01"))
        .s("name", code)
        .s("name_localized", code)
}

/// `worker()` with foundation objects, picklists and a position on every job slice.
fn full_worker(i: usize) -> Toy {
    // Old root timestamp, so a delta filter has to look past the first branch.
    let mut w = worker(&format!("{}", 100_000 + i))
        .set("lastModifiedDateTime", common::dto("2020-01-01T00:00:00Z"));
    for (name, emps) in w.navs.iter_mut() {
        if *name != "employmentNav" {
            continue;
        }
        for e in emps.iter_mut() {
            for (n, jobs) in e.navs.iter_mut() {
                if *n != "jobInfoNav" {
                    continue;
                }
                for j in jobs.iter_mut() {
                    let company = fo("FOCompany", "ACE_DE").one(
                        "countryOfRegistrationNav",
                        Toy::new("Country")
                            .s("code", "DEU")
                            .p("effectiveStartDate", date("1990-01-01")),
                    );
                    let location = fo("FOLocation", "BER").one(
                        "addressNavDEFLT",
                        Toy::new("FOCorporateAddressDEFLT")
                            .s("addressId", "A1")
                            .s("city", "Berlin"),
                    );
                    let navs = vec![
                        ("companyNav", vec![company]),
                        ("departmentNav", vec![fo("FODepartment", "D100")]),
                        ("divisionNav", vec![fo("FODivision", "DIV1")]),
                        ("locationNav", vec![location]),
                        (
                            "emplStatusNav",
                            vec![
                                Toy::new("PicklistOption")
                                    .p("id", sf_odata::ODataValue::Int64(4595))
                                    .s("externalCode", "A"),
                            ],
                        ),
                        (
                            "positionNav",
                            vec![
                                Toy::new("Position")
                                    .s("code", "P-300")
                                    .p("effectiveStartDate", date("2000-01-01"))
                                    .s("externalName_localized", "Engineer II"),
                            ],
                        ),
                        (
                            "managerUserNav",
                            vec![Toy::new("User").s("userId", "100057").s("username", "jboss")],
                        ),
                    ];
                    j.navs.extend(navs);
                }
            }
        }
    }
    w
}

fn time(label: &str, runs: usize, mut f: impl FnMut() -> usize) {
    let mut samples: Vec<Duration> = Vec::with_capacity(runs);
    let mut size = 0;
    for _ in 0..runs {
        let t = Instant::now();
        size = f();
        samples.push(t.elapsed());
    }
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{label}: min {:.2} ms, median {:.2} ms, max {:.2} ms ({size})",
        ms(samples[0]),
        ms(samples[runs / 2]),
        ms(samples[runs - 1])
    );
}

fn main() {
    let person = schema().entity("PerPerson").expect("PerPerson");
    let workers: Vec<Toy> = (0..1000).map(full_worker).collect();
    let q =
        QueryOptions::parse(&format!("$format=json&customPageSize=1000&$expand={EXPAND}"), person)
            .expect("query");
    let ctx = RenderContext {
        service_root: "https://api4.successfactors.com:443/odata/v2",
        as_of_date: None,
        today: common::day("2024-05-01"),
    };

    time("render 1000 fully expanded workers", 30, || {
        let mut out = String::with_capacity(8 << 20);
        write_collection_page(
            &mut out,
            workers.iter(),
            &ctx,
            None,
            &q.expand,
            Some("https://x/next"),
            None,
        );
        out.len()
    });

    let delta = include_str!("../tests/fixtures/entra_delta_filter.txt")
        .replace("<LastExecutionTimestamp>", "2024-05-02T00:00:00Z")
        .replace("<CurrentExecutionTime>", "2024-05-03T00:00:00Z")
        .replace("<previousDayDateStartTime24hrs>", "2024-05-01T00:00:00Z")
        .replace("<previousDayDateTime24hrs>", "2024-05-01T23:59:59Z");
    let f = Filter::parse(&delta, person).expect("delta filter");
    time("Entra delta filter over 1000 workers", 30, || {
        workers.iter().filter(|w| f.matches(*w)).count()
    });
    time("parse Entra delta filter", 30, || Filter::parse(&delta, person).map(|_| 1).unwrap_or(0));
}
