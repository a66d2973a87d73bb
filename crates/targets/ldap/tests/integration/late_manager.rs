//! A report written before its manager exists waits for a fix-up that lives
//! in the process. When the manager only comes in a later run (it failed, was
//! out of scope, or the process died first), the report must still get its
//! `manager`: the engine records the link as not exported, and the next
//! cycle, in a new process, sends it again.

use crate::common::{Harness, Reader, flow, hire, openldap_mapping, openldap_target};
use hrsync_engine::Action;
use hrsync_mapping::MappingConfig;
use hrsync_store::{CycleKind, Store};
use hrsync_testkit::Slapd;
use sf_emulator::Emulator;

const MANAGER: &str = "941001";
const REPORT: &str = "941002";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_gets_its_manager_when_the_manager_comes_in_a_later_run() {
    let slapd = Slapd::start().expect("slapd starts (needs the slapd package)");
    let (ldap, people) = openldap_target(&slapd);
    let reader = Reader {
        url: slapd.url(),
        bind_dn: slapd.root_dn().into(),
        password: slapd.root_password().into(),
        ca_file: None,
    };
    let mapping = openldap_mapping(&people);
    // First run: the manager is out of scope, so only the report is written.
    let without_manager: MappingConfig = {
        let mut m = mapping.clone();
        let scope: MappingConfig = MappingConfig::from_toml(&format!(
            "[[scope.groups]]\nname = \"all but the manager\"\n[[scope.groups.clauses]]\nattribute = \"personIdExternal\"\noperator = \"NOT EQUALS\"\nvalues = [\"{MANAGER}\"]\n"
        ))
        .expect("scope");
        m.scope = scope.scope;
        m
    };
    let mut h =
        Harness::start(Emulator::builder().workers(0).seed(7), flow(&without_manager), ldap).await;
    h.emu.apply(&hire(MANAGER, "Maria", "Manager", "ACE_DE", None)).expect("hire manager");
    h.emu
        .apply(&hire(REPORT, "Rupert", "Report", "ACE_DE", Some(MANAGER.into())))
        .expect("hire report");
    h.advance_ms(60_000);
    {
        let mut engine = h.engine();
        let report = engine.run_cycle(CycleKind::Full).await.expect("first run");
        assert_eq!(report.counts.get(&Action::Create), Some(&1), "{report:?}");
        // The link is not recorded as made: a later run sends it again.
        let state = engine.store().load(&[REPORT]).expect("load");
        let exported = &state[REPORT].join.as_ref().expect("report joined").exported;
        assert_eq!(exported.get("manager"), Some(&serde_json::Value::Null), "{exported:?}");
    }
    let entry = |n: &'static str| {
        let reader = &reader;
        let people = people.clone();
        async move { reader.search(&people, &format!("(employeeNumber={n})"), &["manager"]).await }
    };
    assert_eq!(entry(REPORT).await[0].first("manager"), None, "no manager yet");

    // Second run, a new process: the manager is in scope now.
    h.flow = flow(&mapping);
    h.advance_ms(60_000);
    let mut engine = h.engine();
    let report = engine.run_cycle(CycleKind::Full).await.expect("second run");
    assert_eq!(report.counts.get(&Action::Failed), None, "{report:?}");
    let manager_dn = entry(MANAGER).await.first().map(|e| e.dn.clone()).expect("manager created");
    assert_eq!(
        entry(REPORT).await[0].first("manager"),
        Some(manager_dn.as_str()),
        "the report points at its manager"
    );
    // And the store agrees with the directory now.
    h.advance_ms(60_000);
    let third = engine.run_cycle(CycleKind::Full).await.expect("third run");
    assert_eq!(
        (third.counts.get(&Action::Update), third.counts.get(&Action::Create)),
        (None, None),
        "{third:?}"
    );
}
