//! The writeback target against the SuccessFactors emulator. Results are
//! read back through OData (`PerPerson` with `emailNav`/`phoneNav`), not
//! from the emulator's request log; the log only counts upserts.

use std::time::Duration;

use hrsync_source_sf::{
    Credentials, PersonQuery, PrimaryPolicy, RetryPolicy, SfClient, SourceConfig,
};
use hrsync_target::{AttributeUpdate, Attributes, Target, TargetError};
use hrsync_target_sf_writeback::{SfWritebackConfig, SfWritebackTarget};
use secrecy::SecretString;
use serde_json::json;
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

fn upserts(emu: &RunningEmulator) -> usize {
    emu.requests().iter().filter(|r| r.method == "POST" && r.url.contains("upsert")).count()
}

fn change(name: &str, value: serde_json::Value) -> AttributeUpdate {
    AttributeUpdate { name: name.into(), value }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_business_email_lands_with_one_primary_and_is_not_sent_twice() {
    let emu = Emulator::builder().workers(10).seed(21).start().await.expect("emulator");
    let c = client(&emu.base_url());
    let all = some_person_ids(&c, 10).await;
    let held =
        c.contact_records(&all.iter().map(String::as_str).collect::<Vec<_>>()).await.expect("read");
    // Persons whose one primary is the business email: no conflict under keep.
    let ids: Vec<String> = all
        .iter()
        .filter(|p| {
            let e = &held[p.as_str()].emails;
            e.iter().filter(|e| e.is_primary).count() == 1
                && e.iter().any(|e| e.email_type == "8448" && e.is_primary)
        })
        .take(2)
        .cloned()
        .collect();
    assert_eq!(ids.len(), 2, "{held:?}");
    let t = SfWritebackTarget::new(client(&emu.base_url()), SfWritebackConfig::default());

    let found = t.find("personIdExternal", &ids[0]).await.expect("find");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].id, ids[0]);
    assert_eq!(found[0].attributes["personIdExternal"], json!(ids[0]));
    assert!(t.find("personIdExternal", "no-such-person").await.expect("find").is_empty());
    let many = t.find_many("personIdExternal", &ids).await.expect("find_many");
    assert_eq!(many.len(), 2);

    let changes = [
        change("email", json!("new.mail@example.com")),
        change("emailType", json!("Business")),
        change("isPrimaryEmail", json!("true")),
    ];
    emu.clear_requests();
    t.update(&ids[0], &changes).await.expect("update");
    assert!(upserts(&emu) >= 1);
    let after = c.contact_records(&[ids[0].as_str()]).await.expect("read");
    let p = &after[ids[0].as_str()];
    let business = p.emails.iter().find(|e| e.email_type == "8448").expect("business email");
    assert_eq!(business.address, "new.mail@example.com");
    assert!(business.is_primary);
    assert_eq!(p.emails.iter().filter(|e| e.is_primary).count(), 1, "{p:?}");

    let got = t.get(&ids[0]).await.expect("get").expect("person");
    assert_eq!(got.attributes["email"], json!("new.mail@example.com"));
    assert_eq!(got.attributes["emailType"], json!("Business"));
    assert_eq!(got.attributes["isPrimaryEmail"], json!("true"));

    emu.clear_requests();
    t.update(&ids[0], &changes).await.expect("update again");
    assert_eq!(upserts(&emu), 0, "nothing changed: no upsert");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_hr_set_primary_is_a_rejection_under_keep_and_demoted_under_take() {
    let emu = Emulator::builder().workers(10).seed(22).start().await.expect("emulator");
    let c = client(&emu.base_url());
    let ids = some_person_ids(&c, 1).await;
    let pid = ids[0].as_str();
    emu.apply(&HrEvent::EmailChange {
        person_id_external: pid.into(),
        email_type: "P".into(),
        address: Some("home@example.org".into()),
        is_primary: Some(true),
    })
    .expect("event");
    let changes =
        [change("email", json!("work@example.com")), change("isPrimaryEmail", json!("true"))];
    let keep = SfWritebackTarget::new(client(&emu.base_url()), SfWritebackConfig::default());
    emu.clear_requests();
    match keep.update(pid, &changes).await {
        Err(TargetError::Rejected { message, .. }) => {
            assert!(message.contains("conflict") && message.contains("8449"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(upserts(&emu), 0);
    let before = c.contact_records(&[pid]).await.expect("read");
    assert!(before[pid].emails.iter().any(|e| e.email_type == "8449" && e.is_primary));

    let take = SfWritebackTarget::new(
        client(&emu.base_url()),
        SfWritebackConfig { primary: PrimaryPolicy::Take, ..Default::default() },
    );
    take.update(pid, &changes).await.expect("update under take");
    let after = c.contact_records(&[pid]).await.expect("read");
    let primaries: Vec<_> = after[pid].emails.iter().filter(|e| e.is_primary).collect();
    assert_eq!(primaries.len(), 1, "{:?}", after[pid]);
    assert_eq!(primaries[0].address, "work@example.com");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_type_that_is_no_email_type_is_refused_and_users_lead_to_persons() {
    let emu = Emulator::builder().workers(10).seed(23).start().await.expect("emulator");
    let c = client(&emu.base_url());
    let ids = some_person_ids(&c, 1).await;
    let t = SfWritebackTarget::new(client(&emu.base_url()), SfWritebackConfig::default());
    // A phone type id that is not an ecEmailType option: refused before
    // anything is sent, naming it.
    match t
        .update(
            &ids[0],
            &[change("email", json!("x@example.com")), change("emailType", json!("10605"))],
        )
        .await
    {
        Err(TargetError::Rejected { message, .. }) => {
            assert!(message.contains("10605"), "{message}")
        }
        other => panic!("{other:?}"),
    }

    let w = emu.worker(&ids[0]).expect("worker");
    let user = w.employments.first().expect("employment").user_id.clone();
    let found = t.find("userId", &user).await.expect("find");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].id, ids[0]);
    assert_eq!(found[0].attributes["userId"], json!(user));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writeback_never_creates_disables_or_deletes() {
    let emu = Emulator::builder().workers(3).seed(24).start().await.expect("emulator");
    let t = SfWritebackTarget::new(client(&emu.base_url()), SfWritebackConfig::default());
    assert!(matches!(t.create(&Attributes::new()).await, Err(TargetError::Rejected { .. })));
    assert!(matches!(t.disable("x").await, Err(TargetError::Rejected { .. })));
    assert!(matches!(t.delete("x").await, Err(TargetError::Rejected { .. })));
    assert!(t.check().await.iter().all(|s| s.ok));
}
