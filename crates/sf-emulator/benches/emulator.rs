//! Emulator benchmarks: generating 100,000 workers, and serving one page of
//! 1,000 fully expanded workers (in-process render, and over HTTP).
//!
//! Run: `CARGO_TARGET_DIR=/work/target-emu cargo bench -p sf-emulator --bench emulator`

use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};
use sf_emulator::engine;
use sf_emulator::generate::{PopulationConfig, generate};
use sf_emulator::time::days_from_civil;
use sf_odata::edm::schema;
use sf_odata::query::QueryOptions;

/// Every navigation of Entra's 26-entity table.
const FULL_EXPAND: &str = "personalInfoNav,phoneNav,emailNav,employmentNav,employmentNav/userNav,employmentNav/jobInfoNav,personEmpTerminationInfoNav,employmentNav/userNav/manager/empInfo,employmentNav/jobInfoNav/companyNav/countryOfRegistrationNav,employmentNav/jobInfoNav/departmentNav,employmentNav/jobInfoNav/businessUnitNav,employmentNav/jobInfoNav/costCenterNav,employmentNav/jobInfoNav/divisionNav,employmentNav/jobInfoNav/jobCodeNav,employmentNav/jobInfoNav/payGradeNav,employmentNav/jobInfoNav/locationNav/addressNavDEFLT,employmentNav/jobInfoNav/addressNavDEFLT,employmentNav/jobInfoNav/eventReasonNav,employmentNav/empGlobalAssignmentNav/assignmentTypeNav,employmentNav/jobInfoNav/employmentTypeNav,employmentNav/jobInfoNav/employeeClassNav,employmentNav/jobInfoNav/emplStatusNav,employmentNav/jobInfoNav/positionNav,employmentNav/jobInfoNav/managerUserNav";

fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

fn benches(c: &mut Criterion) {
    let today = days_from_civil(2025, 3, 1);
    let config = PopulationConfig { workers: 100_000, seed: 42, today };

    let rss_before = rss_kib();
    let started = Instant::now();
    let db = generate(&config);
    let once = started.elapsed();
    let rss_after = rss_kib();
    eprintln!(
        "generate 100k workers once: {:?}; RSS before {:?} KiB, after {:?} KiB (delta {:?} MiB)",
        once,
        rss_before,
        rss_after,
        rss_before.zip(rss_after).map(|(a, b)| (b.saturating_sub(a)) / 1024)
    );

    let mut group = c.benchmark_group("emulator");
    group.sample_size(10);
    group.bench_function("generate_100k_workers", |b| b.iter(|| black_box(generate(&config))));

    let set = schema().entity_set("PerPerson").unwrap_or_else(|| panic!("PerPerson in schema"));
    let query = format!("$format=json&customPageSize=1000&$expand={FULL_EXPAND}");
    let opts = QueryOptions::parse(&query, set).unwrap_or_else(|e| panic!("{e}"));
    let rows = engine::matching_rows(&db, set, &opts, today);
    let page = &rows[..1000];
    let ctx = engine::render_context("http://127.0.0.1:8080/odata/v2", &opts, today);
    let mut out = String::new();
    engine::write_page(&mut out, &db, page, &ctx, &opts, Some("next"), None);
    eprintln!("one page of 1,000 fully expanded workers: {} bytes", out.len());
    group.bench_function("render_1000_expanded_in_process", |b| {
        b.iter(|| {
            let mut out = String::with_capacity(8 << 20);
            engine::write_page(&mut out, &db, page, &ctx, &opts, Some("next"), None);
            black_box(out.len())
        })
    });
    drop(db);

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let emu = rt
        .block_on(sf_emulator::Emulator::builder().workers(100_000).seed(42).start())
        .unwrap_or_else(|e| panic!("{e}"));
    let url = format!("{}/odata/v2/PerPerson?{query}", emu.base_url());
    let client = reqwest::Client::new();
    group.bench_function("http_get_1000_expanded_of_100k", |b| {
        b.iter(|| {
            rt.block_on(async {
                let r = client
                    .get(&url)
                    .basic_auth("sfapi@HRSYNCTEST", Some("hrsync-emulator"))
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("{e}"));
                black_box(r.bytes().await.map(|b| b.len()).unwrap_or(0))
            })
        })
    });
    let filter = "(personEmpTerminationInfoNav/activeEmploymentsCount ne null) and (lastModifiedDateTime le datetimeoffset'2030-01-01T00:00:00Z')";
    let filtered = format!("{url}&$filter={}", filter.replace(' ', "%20").replace('\'', "%27"));
    group.bench_function("http_get_1000_expanded_of_100k_with_full_sync_filter", |b| {
        b.iter(|| {
            rt.block_on(async {
                let r = client
                    .get(&filtered)
                    .basic_auth("sfapi@HRSYNCTEST", Some("hrsync-emulator"))
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("{e}"));
                black_box(r.bytes().await.map(|b| b.len()).unwrap_or(0))
            })
        })
    });
    group.finish();
    rt.block_on(emu.shutdown());
}

criterion_group!(emulator, benches);
criterion_main!(emulator);
