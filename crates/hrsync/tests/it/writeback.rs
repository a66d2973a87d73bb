//! The writeback flow end to end, with the real binary: an inbound sync
//! from the emulator into the embedded target, directory changes made in
//! the embedded target, then `hrsync sync --flow writeback`. SuccessFactors'
//! records are read back through OData (`PerPerson` with `emailNav`,
//! `phoneNav`); the emulator's request log only counts upserts.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use hrsync_source_sf::{ContactRecords, Credentials, RetryPolicy, SfClient, SourceConfig};
use hrsync_target::{AttributeUpdate, Target};
use hrsync_target_embedded::EmbeddedTarget;
use secrecy::SecretString;
use serde_json::json;
use sf_emulator::{
    DEFAULT_COMPANY_ID, DEFAULT_PASSWORD, DEFAULT_USERNAME, Emulator, RunningEmulator,
};

use crate::common::{TempDir, hrsync, text, write_config};

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

fn upserts(emu: &RunningEmulator) -> usize {
    emu.requests().iter().filter(|r| r.method == "POST" && r.url.contains("upsert")).count()
}

async fn run(config: &Path, args: &'static [&'static str]) -> std::process::Output {
    let c = config.to_owned();
    tokio::task::spawn_blocking(move || hrsync(&c, args, &[])).await.expect("task")
}

/// Every joined account of the embedded target: employeeID -> (id, attributes).
fn accounts(dir: &Path) -> BTreeMap<String, (String, hrsync_target::Attributes)> {
    let t =
        EmbeddedTarget::open(&dir.join("target.sqlite"), &["userPrincipalName", "sAMAccountName"])
            .expect("open target");
    t.all()
        .expect("list")
        .into_iter()
        .filter_map(|o| {
            let pid = o.attributes.get("employeeID")?.as_str()?.to_owned();
            Some((pid, (o.id, o.attributes)))
        })
        .collect()
}

/// Set attributes of accounts in the embedded target (the directory change).
async fn change(dir: &Path, changes: &[(&str, &str, serde_json::Value)]) {
    let ids = accounts(dir);
    let t =
        EmbeddedTarget::open(&dir.join("target.sqlite"), &["userPrincipalName", "sAMAccountName"])
            .expect("open target");
    for (pid, attribute, value) in changes {
        let id = &ids[*pid].0;
        t.update(id, &[AttributeUpdate { name: (*attribute).into(), value: value.clone() }])
            .await
            .expect("update the directory");
    }
    t.flush().await.expect("flush");
}

/// Persons whose business email is their one primary (the ones a
/// `primary = "keep"` writeback may write without a conflict).
fn business_primary(records: &BTreeMap<String, ContactRecords>) -> Vec<String> {
    records
        .values()
        .filter(|r| {
            r.emails.iter().filter(|e| e.is_primary).count() == 1
                && r.emails.iter().any(|e| e.email_type == "8448" && e.is_primary)
        })
        .map(|r| r.person_id_external.clone())
        .collect()
}

fn with_writeback(config: &Path, section: &str) {
    let mut t = std::fs::read_to_string(config).expect("read config");
    t.push_str(section);
    std::fs::write(config, t).expect("write config");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn directory_mail_is_written_back_as_the_business_email_once() {
    let emu = Emulator::builder().workers(20).seed(41).start().await.expect("emulator");
    let dir = TempDir::new("writeback-email");
    let config = write_config(&dir.0, &emu.base_url(), 50);
    with_writeback(&config, "\n[writeback]\nmapping = \"builtin:writeback-email\"\n");

    let out = run(&config, &["sync", "--flow", "inbound", "--full"]).await;
    assert!(out.status.success(), "{}", text(&out));
    let joined = accounts(&dir.0);
    let sf = client(&emu.base_url());
    let pids: Vec<&str> = joined.keys().map(String::as_str).collect();
    let before = sf.contact_records(&pids).await.expect("read persons");
    let ready = business_primary(&before);
    assert!(ready.len() >= 4, "{ready:?}");
    let (a, b) = (ready[0].clone(), ready[1].clone());
    change(
        &dir.0,
        &[
            (a.as_str(), "mail", json!("first.changed@ace.example.com")),
            (b.as_str(), "mail", json!("second.changed@ace.example.com")),
        ],
    )
    .await;

    emu.clear_requests();
    let out = run(&config, &["sync", "--flow", "writeback"]).await;
    // 3: persons whose HR-set personal email is primary are reported as
    // conflicts (primary = "keep") and escrowed; the others complete.
    assert!(matches!(out.status.code(), Some(0 | 3)), "{}", text(&out));
    assert!(upserts(&emu) >= 1, "{}", text(&out));

    let after = sf.contact_records(&pids).await.expect("read persons");
    for (pid, mail) in
        [(&a, "first.changed@ace.example.com"), (&b, "second.changed@ace.example.com")]
    {
        let p = &after[pid.as_str()];
        let business = p.emails.iter().find(|e| e.email_type == "8448").expect("business email");
        assert_eq!(business.address, mail, "{p:?}");
        assert!(business.is_primary, "{p:?}");
        assert_eq!(p.emails.iter().filter(|e| e.is_primary).count(), 1, "{p:?}");
        assert_eq!(p.phones, before[pid.as_str()].phones, "phones untouched");
    }
    for (pid, was) in &before {
        if pid != &a && pid != &b {
            assert_eq!(&after[pid], was, "{pid} untouched");
        }
    }

    // Nothing changed since: no upsert.
    emu.clear_requests();
    let out = run(&config, &["sync", "--flow", "writeback"]).await;
    assert!(matches!(out.status.code(), Some(0 | 3)), "{}", text(&out));
    assert_eq!(upserts(&emu), 0, "{}", text(&out));
    assert_eq!(sf.contact_records(&pids).await.expect("read"), after);

    // plan shows a directory change and sends nothing; on-demand writes it.
    let c = ready[2].clone();
    change(&dir.0, &[(c.as_str(), "mail", json!("third.changed@ace.example.com"))]).await;
    emu.clear_requests();
    let out = run(&config, &["plan", "--flow", "writeback"]).await;
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(c.as_str()) && stdout.contains("third.changed@ace.example.com"),
        "{stdout}"
    );
    assert_eq!(upserts(&emu), 0, "a plan writes nothing");
    let cfg = config.clone();
    let pid = c.clone();
    let out = tokio::task::spawn_blocking(move || {
        hrsync(&cfg, &["on-demand", "--flow", "writeback", pid.as_str()], &[])
    })
    .await
    .expect("task");
    assert!(out.status.success(), "{}", text(&out));
    let now = sf.contact_records(&[c.as_str()]).await.expect("read");
    let business =
        now[c.as_str()].emails.iter().find(|e| e.email_type == "8448").expect("business");
    assert_eq!(business.address, "third.changed@ace.example.com");

    // The writeback flow keeps its own state and status.
    let out = run(&config, &["status", "--flow", "writeback", "--json"]).await;
    assert!(out.status.success(), "{}", text(&out));
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(status["flow"], "writeback");
    assert!(status["watermark"].is_string(), "{status}");
    // Persons whose HR-set personal email is primary are reported with the
    // conflict (primary = "keep") and their records left as they were.
    let escrow = status["escrow"].as_array().expect("escrow");
    assert!(!escrow.is_empty(), "seed 41 has HR-set personal primaries: {status}");
    for e in escrow {
        let error = e["error"].as_str().unwrap_or_default();
        assert!(error.contains("conflict") && error.contains("8449"), "{status}");
        let p = e["person"].as_str().unwrap_or_default();
        assert!(p != a && p != b && p != c, "{status}");
        assert_eq!(after[p], before[p], "{p} left alone");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn telephone_number_and_mobile_become_business_and_cell_phones() {
    let emu = Emulator::builder().workers(20).seed(42).start().await.expect("emulator");
    let dir = TempDir::new("writeback-phones");
    let config = write_config(&dir.0, &emu.base_url(), 50);
    with_writeback(&config, "\n[writeback]\nmapping = \"builtin:writeback-email-phone\"\n");

    let out = run(&config, &["sync", "--flow", "inbound", "--full"]).await;
    assert!(out.status.success(), "{}", text(&out));
    let joined = accounts(&dir.0);
    let sf = client(&emu.base_url());
    let pids: Vec<&str> = joined.keys().map(String::as_str).collect();
    let before = sf.contact_records(&pids).await.expect("read persons");
    // Persons with no phone marked primary by HR on another type: the
    // business phone may take the primary under "keep".
    let ready: Vec<String> = business_primary(&before)
        .into_iter()
        .filter(|p| before[p].phones.iter().all(|ph| !ph.is_primary || ph.phone_type == "10605"))
        .collect();
    assert!(!ready.is_empty(), "{before:?}");
    let a = ready[0].clone();
    change(
        &dir.0,
        &[
            (a.as_str(), "telephoneNumber", json!("+49 30 1234567")),
            (a.as_str(), "mobile", json!("+49 170 7654321")),
        ],
    )
    .await;

    let out = run(&config, &["sync", "--flow", "writeback"]).await;
    assert!(matches!(out.status.code(), Some(0 | 3)), "{}", text(&out));
    let after = sf.contact_records(&pids).await.expect("read persons");
    let p = &after[a.as_str()];
    let business = p.phones.iter().find(|ph| ph.phone_type == "10605").expect("business phone");
    assert_eq!(business.number, "+49 30 1234567", "{p:?}");
    assert!(business.is_primary, "{p:?}");
    let cell = p.phones.iter().find(|ph| ph.phone_type == "10606").expect("cell phone");
    assert_eq!(cell.number, "+49 170 7654321", "{p:?}");
    assert!(!cell.is_primary, "{p:?}");
    assert_eq!(p.phones.iter().filter(|ph| ph.is_primary).count(), 1, "{p:?}");
    assert_eq!(p.emails.iter().filter(|e| e.is_primary).count(), 1, "{p:?}");

    emu.clear_requests();
    let out = run(&config, &["sync", "--flow", "writeback"]).await;
    assert!(matches!(out.status.code(), Some(0 | 3)), "{}", text(&out));
    assert_eq!(upserts(&emu), 0, "{}", text(&out));

    // Every flow, writeback last: the inbound flow reads back what was
    // written (the same values the directory has), and writeback then has
    // nothing to send: no ping-pong.
    emu.clear_requests();
    let out = run(&config, &["sync"]).await;
    assert!(matches!(out.status.code(), Some(0 | 3)), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("flow inbound: ") && stdout.contains("flow writeback: "), "{stdout}");
    assert_eq!(upserts(&emu), 0, "{}", text(&out));
    let again = sf.contact_records(&pids).await.expect("read persons");
    assert_eq!(again[a.as_str()], after[a.as_str()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_resolves_the_writeback_types_and_names_an_unknown_one() {
    let emu = Emulator::builder().workers(3).seed(43).start().await.expect("emulator");
    let dir = TempDir::new("writeback-check");
    let config = write_config(&dir.0, &emu.base_url(), 50);
    let base = std::fs::read_to_string(&config).expect("read config");
    with_writeback(&config, "\n[writeback]\nmapping = \"builtin:writeback-email-phone\"\n");
    let out = run(&config, &["check"]).await;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(stdout.contains("ok   writeback picklists"), "{}", text(&out));
    assert!(stdout.contains("ok   writeback mapping"), "{}", text(&out));

    std::fs::write(&config, base).expect("write config");
    with_writeback(
        &config,
        r#"
[writeback]
[[writeback.mapping]]
target = "personIdExternal"
expression = '[personIdExternal]'
matching = 1
[[writeback.mapping]]
target = "email"
expression = '[mail]'
[[writeback.mapping]]
target = "emailType"
expression = '"Fax"'
"#,
    );
    let out = run(&config, &["check"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("FAIL writeback mapping") && stdout.contains("Fax"), "{stdout}");
    assert!(stdout.contains("business"), "the known types are listed: {stdout}");
}

/// The email part every scenario's mapping file shares (scenario 1).
const EMAIL_MAPPING: &str = r#"
[[mapping]]
target = "personIdExternal"
expression = '[personIdExternal]'
matching = 1

[[mapping]]
target = "email"
expression = '[mail]'

[[mapping]]
target = "emailType"
expression = '"Business"'

[[mapping]]
target = "isPrimaryEmail"
expression = '"true"'
"#;

/// A writeback mapping file (`EMAIL_MAPPING` plus `phones`) written next
/// to the config, and the `[writeback]` section naming it.
fn with_mapping_file(dir: &Path, config: &Path, phones: &str, extra: &str) {
    std::fs::write(dir.join("writeback.toml"), format!("{EMAIL_MAPPING}{phones}"))
        .expect("write mapping");
    with_writeback(config, &format!("\n[writeback]\nmapping = \"writeback.toml\"\n{extra}"));
}

/// Emulator, inbound full sync, and the persons' records before writeback.
struct Setup {
    emu: RunningEmulator,
    dir: TempDir,
    config: std::path::PathBuf,
    sf: SfClient,
    pids: Vec<String>,
    before: BTreeMap<String, ContactRecords>,
}

impl Setup {
    async fn new(seed: u64, name: &str, writeback: impl FnOnce(&Path, &Path)) -> Setup {
        let emu = Emulator::builder().workers(20).seed(seed).start().await.expect("emulator");
        let dir = TempDir::new(name);
        let config = write_config(&dir.0, &emu.base_url(), 50);
        writeback(&dir.0, &config);
        let out = run(&config, &["sync", "--flow", "inbound", "--full"]).await;
        assert!(out.status.success(), "{}", text(&out));
        let pids: Vec<String> = accounts(&dir.0).into_keys().collect();
        let sf = client(&emu.base_url());
        let before = sf.contact_records(&refs(&pids)).await.expect("read persons");
        Setup { emu, dir, config, sf, pids, before }
    }

    async fn read(&self) -> BTreeMap<String, ContactRecords> {
        self.sf.contact_records(&refs(&self.pids)).await.expect("read persons")
    }

    async fn writeback(&self) -> std::process::Output {
        let out = run(&self.config, &["sync", "--flow", "writeback"]).await;
        assert!(matches!(out.status.code(), Some(0 | 3)), "{}", text(&out));
        out
    }

    async fn status(&self) -> serde_json::Value {
        let out = run(&self.config, &["status", "--flow", "writeback", "--json"]).await;
        assert!(out.status.success(), "{}", text(&out));
        serde_json::from_slice(&out.stdout).expect("json")
    }
}

fn refs(pids: &[String]) -> Vec<&str> {
    pids.iter().map(String::as_str).collect()
}

/// Persons whose business email is their one primary and whose phones
/// have no primary outside the business and cell types: the ones a
/// phone mapping may write under `primary = "keep"`.
fn phone_ready(records: &BTreeMap<String, ContactRecords>, allowed: &[&str]) -> Vec<String> {
    business_primary(records)
        .into_iter()
        .filter(|p| {
            records[p]
                .phones
                .iter()
                .all(|ph| !ph.is_primary || allowed.contains(&ph.phone_type.as_str()))
        })
        .collect()
}

fn phone<'a>(r: &'a ContactRecords, ty: &str) -> Option<&'a hrsync_source_sf::PhoneRecord> {
    r.phones.iter().find(|ph| ph.phone_type == ty)
}

fn escrowed(status: &serde_json::Value, pid: &str) -> Option<String> {
    status["escrow"]
        .as_array()
        .expect("escrow")
        .iter()
        .find(|e| e["person"] == pid)
        .map(|e| e["error"].as_str().unwrap_or_default().to_owned())
}

/// At most one primary phone and one primary email, for every person.
fn one_primary_each(records: &BTreeMap<String, ContactRecords>) {
    for r in records.values() {
        assert!(r.phones.iter().filter(|p| p.is_primary).count() <= 1, "{r:?}");
        assert!(r.emails.iter().filter(|e| e.is_primary).count() <= 1, "{r:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_3_cell_phone_is_primary_business_phone_is_not() {
    let s = Setup::new(44, "writeback-s3", |dir, config| {
        with_mapping_file(
            dir,
            config,
            r#"
[[mapping]]
target = "businessPhone"
expression = '[telephoneNumber]'
[[mapping]]
target = "businessPhoneType"
expression = '"Business"'
[[mapping]]
target = "isBusinessPhonePrimary"
expression = '"false"'
[[mapping]]
target = "cellPhone"
expression = '[mobile]'
[[mapping]]
target = "cellPhoneType"
expression = '"Cell"'
[[mapping]]
target = "isCellPhonePrimary"
expression = '"true"'
"#,
            "",
        )
    })
    .await;
    let ready = phone_ready(&s.before, &["10605", "10606"]);
    assert!(!ready.is_empty(), "{:?}", s.before);
    let a = ready[0].clone();
    change(
        &s.dir.0,
        &[
            (a.as_str(), "telephoneNumber", json!("+49 30 3333333")),
            (a.as_str(), "mobile", json!("+49 170 3333333")),
        ],
    )
    .await;
    s.writeback().await;
    let after = s.read().await;
    let p = &after[a.as_str()];
    let business = phone(p, "10605").expect("business phone");
    assert_eq!(business.number, "+49 30 3333333", "{p:?}");
    assert!(!business.is_primary, "{p:?}");
    let cell = phone(p, "10606").expect("cell phone");
    assert_eq!(cell.number, "+49 170 3333333", "{p:?}");
    assert!(cell.is_primary, "{p:?}");
    assert_eq!(p.phones.iter().filter(|ph| ph.is_primary).count(), 1, "{p:?}");
    one_primary_each(&after);

    s.emu.clear_requests();
    s.writeback().await;
    assert_eq!(upserts(&s.emu), 0, "settled: nothing to send");
}

/// Scenario 4's flags, as Entra documents them.
const SCENARIO_4: &str = r#"
[[mapping]]
target = "businessPhone"
expression = '[telephoneNumber]'
[[mapping]]
target = "businessPhoneType"
expression = '"Business"'
[[mapping]]
target = "isBusinessPhonePrimary"
expression = 'IIF(IsPresent([telephoneNumber]), IIF(IsPresent([mobile]),"false","true"), "false")'
[[mapping]]
target = "cellPhone"
expression = '[mobile]'
[[mapping]]
target = "cellPhoneType"
expression = '"Cell"'
[[mapping]]
target = "isCellPhonePrimary"
expression = 'IIF(IsPresent([mobile]),"false", "true")'
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_4_business_phone_is_primary_only_without_a_mobile() {
    let s = Setup::new(45, "writeback-s4", |dir, config| {
        with_mapping_file(dir, config, SCENARIO_4, "")
    })
    .await;
    // a: a telephone number and no mobile; b: both, and no primary phone
    // of the mapped types in SuccessFactors (both flags are "false").
    let ready = phone_ready(&s.before, &["10605"]);
    assert!(!ready.is_empty(), "{:?}", s.before);
    let a = ready[0].clone();
    let b = phone_ready(&s.before, &[])
        .into_iter()
        .find(|p| *p != a)
        .expect("a person without a primary phone");
    change(
        &s.dir.0,
        &[
            (a.as_str(), "telephoneNumber", json!("+49 30 4444444")),
            (a.as_str(), "mobile", serde_json::Value::Null),
            (b.as_str(), "telephoneNumber", json!("+49 30 5555555")),
            (b.as_str(), "mobile", json!("+49 170 5555555")),
        ],
    )
    .await;
    s.writeback().await;
    let after = s.read().await;
    let pa = &after[a.as_str()];
    let business = phone(pa, "10605").expect("business phone");
    assert_eq!(business.number, "+49 30 4444444", "{pa:?}");
    assert!(business.is_primary, "{pa:?}");
    assert_eq!(phone(pa, "10606"), phone(&s.before[a.as_str()], "10606"), "no mobile: untouched");
    let pb = &after[b.as_str()];
    let business = phone(pb, "10605").expect("business phone");
    assert_eq!(business.number, "+49 30 5555555", "{pb:?}");
    assert!(!business.is_primary, "{pb:?}");
    let cell = phone(pb, "10606").expect("cell phone");
    assert_eq!(cell.number, "+49 170 5555555", "{pb:?}");
    assert!(!cell.is_primary, "{pb:?}");
    one_primary_each(&after);
    let status = s.status().await;
    assert_eq!(escrowed(&status, &a), None, "{status}");
    assert_eq!(escrowed(&status, &b), None, "{status}");

    // a gains a mobile: both flags turn "false", which would leave a with
    // no primary phone. The business phone keeps its primary (a conflict,
    // escrowed); the cell phone is written, not primary.
    change(&s.dir.0, &[(a.as_str(), "mobile", json!("+49 170 4444444"))]).await;
    s.writeback().await;
    let now = s.read().await;
    let pa = &now[a.as_str()];
    let business = phone(pa, "10605").expect("business phone");
    assert_eq!(business.number, "+49 30 4444444", "{pa:?}");
    assert!(business.is_primary, "kept: {pa:?}");
    let cell = phone(pa, "10606").expect("cell phone");
    assert_eq!(cell.number, "+49 170 4444444", "{pa:?}");
    assert!(!cell.is_primary, "{pa:?}");
    let status = s.status().await;
    let error = escrowed(&status, &a).expect("a is escrowed");
    assert!(error.contains("conflict") && error.contains("10605"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_5_mobile_else_telephone_number_becomes_the_business_phone() {
    let s = Setup::new(46, "writeback-s5", |dir, config| {
        with_mapping_file(
            dir,
            config,
            r#"
[[mapping]]
target = "businessPhone"
expression = 'IIF(IsPresent([mobile]), [mobile], [telephoneNumber])'
[[mapping]]
target = "businessPhoneType"
expression = '"Business"'
[[mapping]]
target = "isBusinessPhonePrimary"
expression = '"true"'
"#,
            "",
        )
    })
    .await;
    let ready = phone_ready(&s.before, &["10605"]);
    assert!(ready.len() >= 2, "{:?}", s.before);
    let (a, b) = (ready[0].clone(), ready[1].clone());
    change(
        &s.dir.0,
        &[
            (a.as_str(), "telephoneNumber", json!("+49 30 6666666")),
            (a.as_str(), "mobile", json!("+49 170 6666666")),
            (b.as_str(), "telephoneNumber", json!("+49 30 7777777")),
            (b.as_str(), "mobile", serde_json::Value::Null),
        ],
    )
    .await;
    s.writeback().await;
    let after = s.read().await;
    for (pid, number) in [(&a, "+49 170 6666666"), (&b, "+49 30 7777777")] {
        let p = &after[pid.as_str()];
        let business = phone(p, "10605").expect("business phone");
        assert_eq!(business.number, number, "{p:?}");
        assert!(business.is_primary, "{p:?}");
        assert_eq!(p.phones.iter().filter(|ph| ph.is_primary).count(), 1, "{p:?}");
        assert_eq!(
            phone(p, "10606"),
            phone(&s.before[pid.as_str()], "10606"),
            "no cell phone mapped: untouched"
        );
    }
    one_primary_each(&after);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn primary_take_demotes_an_hr_set_personal_email() {
    let s = Setup::new(41, "writeback-take", |_, config| {
        with_writeback(
            config,
            "\n[writeback]\nmapping = \"builtin:writeback-email\"\nprimary = \"take\"\n",
        )
    })
    .await;
    let personal: Vec<String> = s
        .before
        .values()
        .filter(|r| r.emails.iter().any(|e| e.email_type == "8449" && e.is_primary))
        .filter(|r| r.emails.iter().any(|e| e.email_type == "8448"))
        .map(|r| r.person_id_external.clone())
        .collect();
    assert!(!personal.is_empty(), "seed 41 has HR-set personal primaries");
    let a = personal[0].clone();
    change(&s.dir.0, &[(a.as_str(), "mail", json!("taken.primary@ace.example.com"))]).await;
    let out = s.writeback().await;
    assert_eq!(out.status.code(), Some(0), "no conflict under take: {}", text(&out));
    let after = s.read().await;
    let p = &after[a.as_str()];
    let business = p.emails.iter().find(|e| e.email_type == "8448").expect("business email");
    assert_eq!(business.address, "taken.primary@ace.example.com", "{p:?}");
    assert!(business.is_primary, "{p:?}");
    assert_eq!(p.emails.iter().filter(|e| e.is_primary).count(), 1, "{p:?}");
    let was = s.before[a.as_str()].emails.iter().find(|e| e.email_type == "8449").expect("had");
    let now = p.emails.iter().find(|e| e.email_type == "8449").expect("personal email kept");
    assert_eq!(now.address, was.address, "only the flag changes");
    assert!(!now.is_primary, "{p:?}");
    one_primary_each(&after);
    let status = s.status().await;
    assert_eq!(status["escrow"].as_array().map(Vec::len), Some(0), "{status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_record_is_escrowed_and_lands_once_fixed() {
    let s = Setup::new(47, "writeback-refused", |_, config| {
        with_writeback(config, "\n[writeback]\nmapping = \"builtin:writeback-email\"\n")
    })
    .await;
    let ready = business_primary(&s.before);
    assert!(ready.len() >= 2, "{:?}", s.before);
    let (a, b) = (ready[0].clone(), ready[1].clone());
    // SuccessFactors refuses an address without `@`.
    change(
        &s.dir.0,
        &[
            (a.as_str(), "mail", json!("not-an-address")),
            (b.as_str(), "mail", json!("lands@ace.example.com")),
        ],
    )
    .await;
    let out = s.writeback().await;
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let after = s.read().await;
    assert_eq!(after[a.as_str()], s.before[a.as_str()], "refused: left as it was");
    let pb = &after[b.as_str()];
    let business = pb.emails.iter().find(|e| e.email_type == "8448").expect("business");
    assert_eq!(business.address, "lands@ace.example.com", "{pb:?}");
    let status = s.status().await;
    let error = escrowed(&status, &a).expect("a is escrowed");
    assert!(error.contains("not a valid email address"), "SuccessFactors' message: {error}");
    assert_eq!(escrowed(&status, &b), None, "{status}");
    let cfg = s.config.clone();
    let pid = a.clone();
    let out = tokio::task::spawn_blocking(move || {
        hrsync(&cfg, &["logs", "--flow", "writeback", "--person", pid.as_str(), "--json"], &[])
    })
    .await
    .expect("task");
    assert!(out.status.success(), "{}", text(&out));
    let logs = String::from_utf8_lossy(&out.stdout);
    assert!(logs.contains("failure") && logs.contains("not a valid email address"), "{logs}");

    // The cause removed: the next run writes it and clears the escrow.
    change(&s.dir.0, &[(a.as_str(), "mail", json!("fixed@ace.example.com"))]).await;
    s.writeback().await;
    let now = s.read().await;
    let pa = &now[a.as_str()];
    let business = pa.emails.iter().find(|e| e.email_type == "8448").expect("business");
    assert_eq!(business.address, "fixed@ace.example.com", "{pa:?}");
    assert!(business.is_primary, "{pa:?}");
    let status = s.status().await;
    assert_eq!(escrowed(&status, &a), None, "{status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unmapped_directory_change_sends_nothing() {
    let s = Setup::new(48, "writeback-unmapped", |_, config| {
        with_writeback(config, "\n[writeback]\nmapping = \"builtin:writeback-email-phone\"\n")
    })
    .await;
    // Settle: the first cycle writes whatever the mapping wants.
    s.writeback().await;
    let settled = s.read().await;
    s.emu.clear_requests();
    s.writeback().await;
    assert_eq!(upserts(&s.emu), 0, "settled");

    let a = business_primary(&settled).into_iter().next().expect("a business primary");
    change(&s.dir.0, &[(a.as_str(), "title", json!("Chief Unmapped Officer"))]).await;
    s.emu.clear_requests();
    s.writeback().await;
    assert_eq!(upserts(&s.emu), 0, "title is not mapped: no upsert");
    assert_eq!(s.read().await, settled);

    // The control: a mapped attribute of the same person is sent.
    change(&s.dir.0, &[(a.as_str(), "mail", json!("mapped.change@ace.example.com"))]).await;
    s.emu.clear_requests();
    s.writeback().await;
    assert!(upserts(&s.emu) >= 1, "mail is mapped");
}
