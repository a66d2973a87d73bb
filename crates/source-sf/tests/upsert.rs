//! Upserts, picklists and contact reads against the emulator. Results are
//! read back through OData, not from the emulator's request log.

use std::time::Duration;

use hrsync_source_sf::{
    Credentials, PersonQuery, RetryPolicy, SfClient, SourceConfig, UpsertOutcome,
};
use secrecy::SecretString;
use serde_json::{Value, json};
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
