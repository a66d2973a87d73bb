//! The connector against the emulator: paging, retries under faults, errors,
//! escaping. The emulator shares no code with the connector, so agreement
//! here means both follow SuccessFactors.

use std::collections::HashSet;
use std::time::Duration;

use hrsync_source_sf::{
    CmpOp, Credentials, Filter, PersonQuery, RetryPolicy, SfClient, SourceConfig, SourceError,
    filter,
};
use secrecy::SecretString;
use sf_emulator::{DEFAULT_COMPANY_ID, DEFAULT_PASSWORD, DEFAULT_USERNAME, Emulator};

fn config(base: &str, password: &str) -> SourceConfig {
    let mut c = SourceConfig::new(
        base,
        Credentials::Basic {
            username: DEFAULT_USERNAME.into(),
            company_id: DEFAULT_COMPANY_ID.into(),
            password: SecretString::from(password.to_owned()),
        },
    );
    c.retry = RetryPolicy {
        max_attempts: 12,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(50),
        max_retry_after: Duration::from_secs(2),
    };
    c
}

fn full_query(page_size: u32) -> PersonQuery {
    PersonQuery {
        filter: Some(filter::full_sync(
            jiff::Timestamp::now().checked_add(jiff::SignedDuration::from_hours(24 * 365)).unwrap(),
        )),
        expand: vec![
            "employmentNav".into(),
            "employmentNav/userNav".into(),
            "personEmpTerminationInfoNav".into(),
        ],
        page_size,
        snapshot: true,
        ..Default::default()
    }
}

async fn read_all(client: &SfClient, q: &PersonQuery) -> Result<Vec<String>, SourceError> {
    let mut ids = Vec::new();
    let mut pages = client.persons(q)?;
    while let Some(page) = pages.next_page().await? {
        for r in page.records {
            ids.push(r["personIdExternal"].as_str().unwrap_or_default().to_owned());
        }
    }
    Ok(ids)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_paging_reads_everyone_once_and_count_agrees() {
    let emu = Emulator::builder().workers(1200).seed(3).start().await.unwrap();
    let client = SfClient::new(&config(&emu.base_url(), DEFAULT_PASSWORD)).unwrap();
    let q = full_query(100);
    let ids = read_all(&client, &q).await.unwrap();
    let unique: HashSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "no person twice");
    assert_eq!(client.count(&q).await.unwrap(), ids.len() as u64);
    assert!(ids.len() > 1000, "{}", ids.len());
    // Pages of 100 and one $count: the log shows exactly what was sent.
    let reqs = emu.requests();
    let pages = reqs.iter().filter(|r| r.url.contains("/PerPerson?")).count();
    assert_eq!(pages, ids.len().div_ceil(100));
    assert!(reqs.iter().all(|r| r.status == 200), "{reqs:?}");
    assert!(reqs[1].url.contains("$skiptoken="), "follows __next: {}", reqs[1].url);
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_are_retried_and_retry_after_is_honoured() {
    let spec = "429@0.25,503@0.15,drop@0.15,truncate@0.15".parse().unwrap();
    let emu = Emulator::builder()
        .workers(600)
        .seed(5)
        .faults(spec)
        .retry_after_secs(1)
        .start()
        .await
        .unwrap();
    let client = SfClient::new(&config(&emu.base_url(), DEFAULT_PASSWORD)).unwrap();
    let q = full_query(20);
    let started = std::time::Instant::now();
    let ids = read_all(&client, &q).await.unwrap();
    let unique: HashSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len());
    let reqs = emu.requests();
    let faulted: Vec<_> = reqs.iter().filter(|r| r.fault.is_some()).collect();
    assert!(!faulted.is_empty(), "the fault rates must have fired");
    let throttled = reqs.iter().filter(|r| r.status == 429).count();
    let kinds: HashSet<&str> = faulted.iter().filter_map(|r| r.fault).collect();
    assert!(
        throttled >= 1 && kinds.len() == 4,
        "every fault kind must fire: {kinds:?}, {throttled} x 429"
    );
    // Every 429 asked for one second; the client waited at least that long overall.
    assert!(
        started.elapsed() >= Duration::from_secs(throttled as u64),
        "{throttled} x 429 in {:?}",
        started.elapsed()
    );
    // Without faults the same read gives the same people.
    let clean =
        Emulator::builder().workers(600).seed(5).now_ms(emu.now_ms()).start().await.unwrap();
    let clean_client = SfClient::new(&config(&clean.base_url(), DEFAULT_PASSWORD)).unwrap();
    let mut a = ids.clone();
    let mut b = read_all(&clean_client, &q).await.unwrap();
    a.sort();
    b.sort();
    assert_eq!(a, b);
    emu.shutdown().await;
    clean.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_reported_with_what_successfactors_said() {
    let emu = Emulator::builder().workers(50).seed(1).start().await.unwrap();
    let bad = SfClient::new(&config(&emu.base_url(), "wrong password")).unwrap();
    match read_all(&bad, &full_query(10)).await {
        Err(SourceError::Unauthorized { status: 401, .. }) => {}
        other => panic!("expected 401, got {other:?}"),
    }
    let client = SfClient::new(&config(&emu.base_url(), DEFAULT_PASSWORD)).unwrap();
    let q = PersonQuery {
        filter: Some(Filter::cmp("noSuchProperty", CmpOp::Eq, "x")),
        page_size: 10,
        ..Default::default()
    };
    match read_all(&client, &q).await {
        Err(SourceError::Rejected { status: 400, code, message, .. }) => {
            assert_eq!(code, "COE_PROPERTY_NOT_FOUND");
            assert!(message.contains("noSuchProperty"), "{message}");
        }
        other => panic!("expected a 400, got {other:?}"),
    }
    // A 4xx is not retried.
    assert_eq!(emu.requests().iter().filter(|r| r.status == 400).count(), 1);
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn literals_with_quotes_and_non_ascii_round_trip() {
    let emu = Emulator::builder().workers(400).seed(9).start().await.unwrap();
    let client = SfClient::new(&config(&emu.base_url(), DEFAULT_PASSWORD)).unwrap();
    // Find seeded awkward last names in the data, then ask for each by name.
    let q = PersonQuery {
        expand: vec!["personalInfoNav".into()],
        page_size: 1000,
        ..Default::default()
    };
    let mut pages = client.persons(&q).unwrap();
    let mut awkward = Vec::new();
    while let Some(page) = pages.next_page().await.unwrap() {
        for r in page.records {
            for p in r["personalInfoNav"]["results"].as_array().into_iter().flatten() {
                if let Some(last) = p["lastName"].as_str()
                    && (last.contains('\'')
                        || last.contains('"')
                        || !last.is_ascii()
                        || last.contains('&'))
                {
                    awkward.push((
                        r["personIdExternal"].as_str().unwrap_or_default().to_owned(),
                        last.to_owned(),
                    ));
                }
            }
        }
    }
    assert!(
        awkward.iter().any(|(_, l)| l.contains('\'')),
        "population must have apostrophes: {awkward:?}"
    );
    assert!(awkward.iter().any(|(_, l)| !l.is_ascii()), "population must have non-ASCII names");
    for (id, last) in awkward.iter().take(20) {
        let q = PersonQuery {
            filter: Some(Filter::cmp("personalInfoNav/lastName", CmpOp::Eq, last.as_str())),
            page_size: 100,
            ..Default::default()
        };
        let ids = read_all(&client, &q).await.unwrap();
        assert!(ids.contains(id), "{last:?} should find {id}, got {ids:?}");
    }
    emu.shutdown().await;
}

/// Keeping `$select`'s paths on our side gives the records the server gives
/// for that `$select`: the projection can stand in for it under Entra's
/// query shape (no `$select` sent).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn projection_equals_the_servers_select() {
    let emu = Emulator::builder().workers(300).seed(8).start().await.unwrap();
    let client = SfClient::new(&config(&emu.base_url(), DEFAULT_PASSWORD)).unwrap();
    let paths: Vec<String> = [
        "personIdExternal",
        "personalInfoNav/firstName",
        "personalInfoNav/lastName",
        "emailNav/emailAddress",
        "emailNav/isPrimary",
        "employmentNav/startDate",
        "employmentNav/userId",
        "employmentNav/jobInfoNav/jobTitle",
        "employmentNav/jobInfoNav/emplStatusNav/externalCode",
        "employmentNav/userNav/username",
        "employmentNav/userNav/manager/empInfo/personIdExternal",
        "personEmpTerminationInfoNav/activeEmploymentsCount",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    let mut q = full_query(50);
    q.expand = [
        "emailNav",
        "employmentNav",
        "employmentNav/jobInfoNav",
        "employmentNav/jobInfoNav/emplStatusNav",
        "employmentNav/userNav",
        "employmentNav/userNav/manager/empInfo",
        "personEmpTerminationInfoNav",
        "personalInfoNav",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    let read = |q: PersonQuery| {
        let client = &client;
        async move {
            let mut out = Vec::new();
            let mut pages = client.persons(&q).unwrap();
            while let Some(page) = pages.next_page().await.unwrap() {
                out.extend(page.records);
            }
            out
        }
    };
    let served = read(PersonQuery { select: paths.clone(), ..q.clone() }).await;
    let projected = read(PersonQuery {
        keep: Some(std::sync::Arc::new(hrsync_source_sf::wire::Projection::from_paths(&paths))),
        ..q.clone()
    })
    .await;
    let whole = read(q).await;
    assert!(served.len() > 250, "{}", served.len());
    assert_eq!(projected.len(), served.len());
    for (p, s) in projected.iter().zip(&served) {
        assert_eq!(p, s, "record {}", s["personIdExternal"]);
    }
    // And it did drop something: the whole records are larger.
    let size =
        |v: &Vec<serde_json::Value>| serde_json::to_string(v).map(|s| s.len()).unwrap_or_default();
    assert!(size(&whole) > 2 * size(&projected), "{} vs {}", size(&whole), size(&projected));
    emu.shutdown().await;
}
