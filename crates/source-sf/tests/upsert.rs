//! Upserts, picklists and contact reads against the emulator. Results are
//! read back through OData, not from the emulator's request log.

use std::time::Duration;

use hrsync_source_sf::writeback::{apply, plan};
use hrsync_source_sf::{
    Credentials, Desired, PersonQuery, PrimaryPolicy, RetryPolicy, SfClient, SourceConfig,
    UpsertOutcome, Want,
};
use secrecy::SecretString;
use serde_json::{Value, json};
use sf_emulator::events::HrEvent;
use sf_emulator::{
    DEFAULT_COMPANY_ID, DEFAULT_PASSWORD, DEFAULT_USERNAME, Emulator, RunningEmulator,
};

fn client(base: &str) -> SfClient {
    let mut c = SourceConfig::new(
        base,
        Credentials::Basic {
            username: DEFAULT_USERNAME.into(),
            company_id: DEFAULT_COMPANY_ID.into(),
            password: SecretString::from(DEFAULT_PASSWORD.to_owned()),
        },
    );
    c.retry = RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
        max_retry_after: Duration::from_secs(1),
    };
    SfClient::new(&c).expect("client")
}

async fn some_person_ids(c: &SfClient, n: u32) -> Vec<String> {
    let q =
        PersonQuery { page_size: n, select: vec!["personIdExternal".into()], ..Default::default() };
    let mut pages = c.persons(&q).expect("query");
    let page = pages.next_page().await.expect("page").expect("a page");
    page.records.iter().filter_map(|r| r["personIdExternal"].as_str().map(str::to_owned)).collect()
}

fn email(pid: &str, ty: &str, address: &str, primary: bool) -> Value {
    json!({
        "__metadata": {"uri": format!("PerEmail(emailType='{ty}',personIdExternal='{}')", pid.replace('\'', "''")), "type": "SFOData.PerEmail"},
        "emailAddress": address,
        "isPrimary": primary,
    })
}

fn upserts(emu: &RunningEmulator) -> usize {
    emu.requests().iter().filter(|r| r.method == "POST" && r.url.contains("upsert")).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn picklists_resolve_names_to_the_tenants_ids() {
    let emu = Emulator::builder().workers(5).seed(1).start().await.expect("emulator");
    let c = client(&emu.base_url());
    let types = c.contact_types().await.expect("picklists");
    assert_eq!(types.email_type("business"), Ok("8448"));
    assert_eq!(types.email_type("Personal"), Ok("8449"));
    assert_eq!(types.phone_type("business"), Ok("10605"));
    assert_eq!(types.phone_type("cell"), Ok("10606"));
    assert_eq!(types.phone_type("C"), Ok("10606"));
    let e = types.phone_type("fax").unwrap_err().to_string();
    assert!(e.contains("`fax`") && e.contains("cell (C, 10606)"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upserted_business_email_reads_back_through_odata() {
    let emu = Emulator::builder().workers(20).seed(2).start().await.expect("emulator");
    let c = client(&emu.base_url());
    let ids = some_person_ids(&c, 3).await;
    let pid = ids[0].as_str();
    let before = c.contact_records(&[pid]).await.expect("read");
    let primary_business =
        before[pid].emails.iter().any(|e| e.email_type == "8448" && e.is_primary)
            || !before[pid].emails.iter().any(|e| e.is_primary);

    let record = email(pid, "8448", "written.back@example.com", primary_business);
    let statuses = c.upsert(&[record]).await.expect("upsert");
    assert_eq!(statuses.len(), 1);
    assert!(statuses[0].is_ok(), "{statuses:?}");
    assert!(statuses[0].key.contains(pid), "{}", statuses[0].key);

    let after = c.contact_records(&[pid, ids[1].as_str(), "nobody-here"]).await.expect("read");
    assert!(!after.contains_key("nobody-here"));
    let business = after[pid].emails.iter().find(|e| e.email_type == "8448").expect("business");
    assert_eq!(business.address, "written.back@example.com");
    assert_eq!(business.is_primary, primary_business);
    assert_eq!(after[pid].phones, before[pid].phones);
    assert!(after.contains_key(ids[1].as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_refused_record_leaves_the_others_written_with_successfactors_message() {
    let emu = Emulator::builder().workers(20).seed(3).start().await.expect("emulator");
    let c = client(&emu.base_url());
    let ids = some_person_ids(&c, 3).await;
    let before =
        c.contact_records(&ids.iter().map(String::as_str).collect::<Vec<_>>()).await.expect("read");
    let flag =
        |pid: &str| before[pid].emails.iter().any(|e| e.email_type == "8448" && e.is_primary);
    let records = vec![
        email(&ids[0], "8448", "first@example.com", flag(&ids[0])),
        // 10605 is a phone type: not an ecEmailType option.
        email(&ids[1], "10605", "second@example.com", false),
        email(&ids[2], "8448", "third@example.com", flag(&ids[2])),
    ];
    emu.clear_requests();
    // Two records per request: the refused one shares its request with a
    // good one, the third goes alone.
    let statuses = c.upsert_chunked(&records, 2).await.expect("upsert");
    assert_eq!(upserts(&emu), 2);
    assert_eq!(statuses.iter().map(|s| s.index).collect::<Vec<_>>(), vec![0, 1, 2]);
    assert!(statuses[0].is_ok() && statuses[2].is_ok(), "{statuses:?}");
    match &statuses[1].outcome {
        UpsertOutcome::Refused { message, .. } => {
            assert!(message.contains("10605") && message.contains("with the index 1"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    let after =
        c.contact_records(&ids.iter().map(String::as_str).collect::<Vec<_>>()).await.expect("read");
    let business = |pid: &str| {
        after[pid].emails.iter().find(|e| e.email_type == "8448").map(|e| e.address.clone())
    };
    assert_eq!(business(&ids[0]).as_deref(), Some("first@example.com"));
    assert_eq!(business(&ids[2]).as_deref(), Some("third@example.com"));
    assert!(!after[ids[1].as_str()].emails.iter().any(|e| e.address == "second@example.com"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_refused_as_a_whole_fails_only_its_records() {
    let emu = Emulator::builder().workers(20).seed(4).start().await.expect("emulator");
    let c = client(&emu.base_url());
    let ids = some_person_ids(&c, 2).await;
    let before = c.contact_records(&[&ids[0], &ids[1]]).await.expect("read");
    let flag =
        |pid: &str| before[pid].emails.iter().any(|e| e.email_type == "8448" && e.is_primary);
    let mut bad = email(&ids[0], "8448", "bad@example.com", flag(&ids[0]));
    // Not upsertable: the whole request is refused (COE0030).
    bad["lastModifiedDateTime"] = json!("/Date(1700000000000)/");
    let good = email(&ids[1], "8448", "good@example.com", flag(&ids[1]));
    let statuses = c.upsert_chunked(&[bad, good], 1).await.expect("upsert");
    assert!(
        matches!(&statuses[0].outcome, UpsertOutcome::RequestFailed { message } if message.contains("COE0030") || message.contains("insertable")),
        "{statuses:?}"
    );
    assert!(statuses[1].is_ok(), "{statuses:?}");
    let after = c.contact_records(&[&ids[0], &ids[1]]).await.expect("read");
    assert!(after[ids[1].as_str()].emails.iter().any(|e| e.address == "good@example.com"));
    assert!(!after[ids[0].as_str()].emails.iter().any(|e| e.address == "bad@example.com"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_than_a_thousand_records_go_in_several_requests() {
    let emu = Emulator::builder().workers(30).seed(5).start().await.expect("emulator");
    let c = client(&emu.base_url());
    let ids = some_person_ids(&c, 1).await;
    // The same non-primary personal email 1,001 times: each lands.
    let records: Vec<Value> =
        (0..1001).map(|i| email(&ids[0], "8449", &format!("p{i}@example.com"), false)).collect();
    emu.clear_requests();
    let statuses = c.upsert(&records).await.expect("upsert");
    assert_eq!(upserts(&emu), 2);
    assert_eq!(statuses.len(), 1001);
    assert!(statuses.iter().all(|s| s.is_ok()), "{:?}", statuses.iter().find(|s| !s.is_ok()));
}

fn desired_business_email(address: &str) -> Desired {
    Desired {
        emails: vec![Want {
            type_id: "8448".into(),
            value: address.into(),
            is_primary: Some(true),
        }],
        phones: Vec::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_planned_writeback_lands_and_a_second_cycle_sends_nothing() {
    let emu = Emulator::builder().workers(20).seed(6).start().await.expect("emulator");
    let c = client(&emu.base_url());
    let ids = some_person_ids(&c, 2).await;
    let pid = ids[0].as_str();
    // Business email primary, as scenario 1 wants it (HR data may differ).
    emu.apply(&HrEvent::EmailChange {
        person_id_external: pid.into(),
        email_type: "B".into(),
        address: Some("before@example.com".into()),
        is_primary: Some(true),
    })
    .expect("event");
    let desired = desired_business_email("after@example.com");

    let current = c.contact_records(&[pid]).await.expect("read");
    let p = plan(&current[pid], &desired, PrimaryPolicy::Keep);
    assert_eq!(p.records.len(), 1, "{p:?}");
    let statuses = c.write_plans(std::slice::from_ref(&p)).await.expect("write");
    assert!(statuses.iter().all(|s| s.status.is_ok()), "{statuses:?}");

    let after = c.contact_records(&[pid]).await.expect("read");
    assert_eq!(after[pid], apply(&current[pid], &p));
    let business = after[pid].emails.iter().find(|e| e.email_type == "8448").expect("business");
    assert_eq!((business.address.as_str(), business.is_primary), ("after@example.com", true));

    // Nothing changed: the plan is empty and no upsert is sent.
    emu.clear_requests();
    let again = plan(&after[pid], &desired, PrimaryPolicy::Keep);
    assert!(again.is_empty() && again.conflicts.is_empty(), "{again:?}");
    let statuses = c.write_plans(&[again]).await.expect("write");
    assert!(statuses.is_empty());
    assert_eq!(upserts(&emu), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_hr_set_primary_is_kept_unless_take_then_exactly_one_remains() {
    let emu = Emulator::builder().workers(20).seed(7).start().await.expect("emulator");
    let c = client(&emu.base_url());
    let ids = some_person_ids(&c, 1).await;
    let pid = ids[0].as_str();
    // HR marks the personal email primary (the HR UI demotes the business one).
    emu.apply(&HrEvent::EmailChange {
        person_id_external: pid.into(),
        email_type: "P".into(),
        address: Some("home@example.org".into()),
        is_primary: Some(true),
    })
    .expect("event");
    let desired = desired_business_email("work@example.com");

    let current = c.contact_records(&[pid]).await.expect("read");
    let keep = plan(&current[pid], &desired, PrimaryPolicy::Keep);
    assert!(keep.is_empty(), "{keep:?}");
    assert_eq!(keep.conflicts.len(), 1);
    assert!(keep.conflicts[0].reason.contains("8449"), "{}", keep.conflicts[0]);
    emu.clear_requests();
    c.write_plans(&[keep]).await.expect("write");
    assert_eq!(upserts(&emu), 0);

    let take = plan(&current[pid], &desired, PrimaryPolicy::Take);
    assert_eq!(take.demote.len(), 1);
    let statuses = c.write_plans(std::slice::from_ref(&take)).await.expect("write");
    assert!(statuses.iter().all(|s| s.status.is_ok()), "{statuses:?}");
    assert_eq!(upserts(&emu), 2, "demotion first, then the new primary");
    let after = c.contact_records(&[pid]).await.expect("read");
    let primaries: Vec<_> = after[pid].emails.iter().filter(|e| e.is_primary).collect();
    assert_eq!(primaries.len(), 1, "{:?}", after[pid]);
    assert_eq!(
        (primaries[0].email_type.as_str(), primaries[0].address.as_str()),
        ("8448", "work@example.com")
    );
    let home = after[pid].emails.iter().find(|e| e.email_type == "8449").expect("personal kept");
    assert_eq!(home.address, "home@example.org");
    assert!(plan(&after[pid], &desired, PrimaryPolicy::Take).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_lead_to_their_persons() {
    let emu = Emulator::builder().workers(10).seed(8).start().await.expect("emulator");
    let c = client(&emu.base_url());
    let ids = some_person_ids(&c, 2).await;
    let w = emu.worker(&ids[0]).expect("worker");
    let user_ids: Vec<String> = w.employments.iter().map(|e| e.user_id.clone()).collect();
    assert!(!user_ids.is_empty());
    let mut ask: Vec<&str> = user_ids.iter().map(String::as_str).collect();
    ask.push("no-such-user");
    let found = c.person_ids_of_users(&ask).await.expect("read");
    for u in &user_ids {
        assert_eq!(found.get(u), Some(&ids[0]), "{found:?}");
    }
    assert!(!found.contains_key("no-such-user"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moving_the_primary_phone_from_business_to_cell_demotes_first() {
    let emu = Emulator::builder().workers(10).seed(9).start().await.expect("emulator");
    let c = client(&emu.base_url());
    let ids = some_person_ids(&c, 1).await;
    let pid = ids[0].as_str();
    for (ty, number, primary) in [("B", "+1 555 0100", true), ("C", "+1 555 0199", false)] {
        emu.apply(&HrEvent::PhoneChange {
            person_id_external: pid.into(),
            phone_type: ty.into(),
            number: Some(number.into()),
            is_primary: Some(primary),
        })
        .expect("event");
    }
    // Scenario 3: business phone not primary, cell phone primary.
    let desired = Desired {
        emails: Vec::new(),
        phones: vec![
            Want { type_id: "10605".into(), value: "+1 555 0100".into(), is_primary: Some(false) },
            Want { type_id: "10606".into(), value: "+1 555 0200".into(), is_primary: Some(true) },
        ],
    };
    let current = c.contact_records(&[pid]).await.expect("read");
    let p = plan(&current[pid], &desired, PrimaryPolicy::Keep);
    assert_eq!((p.demote.len(), p.records.len()), (1, 1), "{p:?}");
    emu.clear_requests();
    let statuses = c.write_plans(std::slice::from_ref(&p)).await.expect("write");
    assert!(statuses.iter().all(|s| s.status.is_ok()), "{statuses:?}");
    assert_eq!(upserts(&emu), 2);
    let after = c.contact_records(&[pid]).await.expect("read");
    let primaries: Vec<_> = after[pid].phones.iter().filter(|p| p.is_primary).collect();
    assert_eq!(primaries.len(), 1, "{:?}", after[pid]);
    assert_eq!(
        (primaries[0].phone_type.as_str(), primaries[0].number.as_str()),
        ("10606", "+1 555 0200")
    );
    assert!(plan(&after[pid], &desired, PrimaryPolicy::Keep).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upserts_are_retried_through_unavailability_drops_and_cut_answers() {
    let spec = "503@0.25,drop@0.2,truncate@0.2".parse().expect("faults");
    let emu =
        Emulator::builder().workers(20).seed(10).faults(spec).start().await.expect("emulator");
    let mut config = SourceConfig::new(
        emu.base_url(),
        Credentials::Basic {
            username: DEFAULT_USERNAME.into(),
            company_id: DEFAULT_COMPANY_ID.into(),
            password: SecretString::from(DEFAULT_PASSWORD.to_owned()),
        },
    );
    config.retry = RetryPolicy {
        max_attempts: 20,
        base_delay: Duration::from_millis(2),
        max_delay: Duration::from_millis(10),
        max_retry_after: Duration::from_secs(1),
    };
    let c = SfClient::new(&config).expect("client");
    let ids = some_person_ids(&c, 10).await;
    let records: Vec<Value> =
        ids.iter().map(|pid| email(pid, "8449", &format!("{pid}@home.example"), false)).collect();
    let statuses = c.upsert_chunked(&records, 2).await.expect("upsert");
    assert!(statuses.iter().all(|s| s.is_ok()), "{statuses:?}");
    let kinds: std::collections::BTreeSet<&str> = emu
        .requests()
        .iter()
        .filter(|r| r.method == "POST")
        .filter_map(|r| r.fault)
        .collect::<Vec<_>>()
        .into_iter()
        .collect();
    assert!(
        kinds.contains("truncate") && kinds.len() >= 2,
        "the faults must have hit upserts: {kinds:?}"
    );
    let after =
        c.contact_records(&ids.iter().map(String::as_str).collect::<Vec<_>>()).await.expect("read");
    for pid in &ids {
        let home =
            after[pid.as_str()].emails.iter().find(|e| e.email_type == "8449").expect("personal");
        assert_eq!(home.address, format!("{pid}@home.example"));
    }
}
