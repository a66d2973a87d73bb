//! End-to-end harness: the SuccessFactors emulator, the engine with a SQLite
//! store in a private directory and an [`LdapTarget`], one clock stepped
//! for the engine and the emulator; and plain ldap3 reads of the directory
//! (what an administrator would see), independent of the target's code.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use hrsync_engine::cycle::{CompiledFlow, Engine, Settings};
use hrsync_mapping::{MappingConfig, SourceSchema};
use hrsync_store::{CycleId, LogQuery, Store};
use hrsync_store_sqlite::SqliteStore;
use hrsync_target_ldap::{DisableStrategy, LdapConfig, LdapTarget, Profile};
pub use hrsync_testkit::{TempDir, TestClock, sf_client};
use ldap3::adapters::{Adapter, EntriesOnly, PagedResults};
use ldap3::{LdapConnAsync, LdapConnSettings, Scope, SearchEntry};
use sf_emulator::{EmulatorBuilder, RunningEmulator};

/// 2026-11-24T10:00:00Z.
pub const T0_MS: i64 = 1_795_514_400_000;
pub const DAY_MS: i64 = 86_400_000;

/// The company codes and department codes of the emulator's reference data.
pub const COMPANIES: [&str; 6] = ["ACE_US", "ACE_DE", "ACE_FR", "ACE_UK", "ACE_JP", "ACE_BR"];
pub fn departments() -> Vec<String> {
    (100..112).map(|n| format!("D{n}")).collect()
}

/// The OUs the built-in OpenLDAP mapping places entries in, under `people`,
/// as LDIF (the container itself included).
pub fn openldap_ous_ldif(people: &str) -> String {
    let ou =
        |dn: &str, name: &str| format!("dn: {dn}\nobjectClass: organizationalUnit\nou: {name}\n\n");
    let first = people
        .split(',')
        .next()
        .and_then(|r| r.split_once('='))
        .map(|(_, v)| v)
        .unwrap_or("people");
    let mut out = ou(people, first);
    for c in COMPANIES {
        let company = format!("ou={c},{people}");
        out.push_str(&ou(&company, c));
        for d in departments() {
            out.push_str(&ou(&format!("ou={d},{company}"), &d));
        }
    }
    out
}

/// The built-in OpenLDAP mapping with its people container replaced.
/// A slapd prepared for the built-in OpenLDAP mapping: the OUs under
/// `ou=hr`, and the target's config (service account, people container,
/// disabling by `employeeType`). Returns the config and the people DN.
pub fn openldap_target(slapd: &hrsync_testkit::Slapd) -> (LdapConfig, String) {
    let people = format!("ou=hr,{}", slapd.suffix());
    slapd.add_ldif(&openldap_ous_ldif(&people)).expect("OUs");
    let mut ldap = LdapConfig::new(
        slapd.url(),
        slapd.service_dn(),
        secrecy::SecretString::from(slapd.service_password()),
        slapd.suffix(),
        Profile::InetOrgPerson,
    );
    ldap.default_container = Some(people.clone());
    ldap.disable = Some(DisableStrategy::Attribute {
        attribute: "employeeType".into(),
        value: "disabled".into(),
    });
    (ldap, people)
}

/// An OU of its own on the Samba DC, prepared for the AD mapping: `OU=Users`
/// with one OU per country, and the target's config (LDAPS with the DC's CA,
/// `OU=Users` as the default container). Returns the config and the OU's DN.
pub fn ad_target(dc: &hrsync_testkit::SambaDc, ou: &str) -> (LdapConfig, String) {
    let root = dc.create_ou(ou).expect("test OU");
    let users = format!("OU=Users,{root}");
    let mut ldif = format!("dn: {users}\nobjectClass: organizationalUnit\nou: Users\n\n");
    for country in ["Germany", "United States", "France"] {
        ldif.push_str(&format!(
            "dn: OU={country},{users}\nobjectClass: organizationalUnit\nou: {country}\n\n"
        ));
    }
    dc.add_ldif(&ldif).expect("country OUs");
    let mut ldap = LdapConfig::new(
        dc.ldaps_url(),
        dc.admin_upn(),
        secrecy::SecretString::from(dc.admin_password()),
        dc.base_dn(),
        Profile::ActiveDirectory,
    );
    ldap.ca_file = Some(dc.ca_file());
    ldap.default_container = Some(users);
    (ldap, root)
}

pub fn openldap_mapping(people: &str) -> MappingConfig {
    let text =
        hrsync_mapping::mapping::SF_TO_OPENLDAP_TOML.replace("ou=people,dc=example,dc=org", people);
    MappingConfig::from_toml(&text).expect("rewritten OpenLDAP mapping parses")
}

/// cn names an AD user (the RDN) and AD caps it at 64 characters: unique
/// across the domain so namesakes in one OU do not collide, and cut to fit.
const UNIQUE_CN: &str = r#"SelectUniqueValue(
  Mid(Coalesce([displayName], Join(" ", [firstName], [lastName])), 1, 64),
  Join(" ", Mid(Coalesce([displayName], Join(" ", [firstName], [lastName])), 1, 48), Join("", "(", [personIdExternal], ")")))"#;

/// The default AD mapping for a domain `realm` with its OUs under `root`,
/// without extensionAttribute1-15 (Samba has no Exchange schema), and with
/// the fixes without which AD refuses part of the emulated population: cn
/// unique, cn, sn and givenName at most 64 characters (AD's rangeUpper),
/// and `"` stripped from sAMAccountName like the other characters AD
/// forbids there.
pub fn ad_mapping(root: &str, realm: &str) -> MappingConfig {
    let text = hrsync_mapping::mapping::SF_TO_AD_TOML
        .replace("DC=contoso,DC=com", root)
        .replace("contoso.com", realm)
        .replace(r#"\\?\\<\\>])"#, r#"\\?\\<\\>\"])"#);
    let mut config = MappingConfig::from_toml(&text).expect("rewritten AD mapping parses");
    config.mappings.retain(|m| !m.target.starts_with("extensionAttribute"));
    for m in &mut config.mappings {
        match m.target.as_str() {
            "cn" => m.expression = Some(UNIQUE_CN.into()),
            "sn" => m.expression = Some("Mid([lastName], 1, 64)".into()),
            "givenName" => m.expression = Some("Mid([firstName], 1, 64)".into()),
            _ => {}
        }
    }
    config
}

/// A hire starting today.
pub fn hire(
    pid: &str,
    first: &str,
    last: &str,
    company: &str,
    manager: Option<String>,
) -> sf_emulator::events::HrEvent {
    sf_emulator::events::HrEvent::Hire {
        person_id_external: Some(pid.into()),
        first_name: Some(first.into()),
        last_name: Some(last.into()),
        start_date: None,
        company: Some(company.into()),
        manager_id: manager,
    }
}

pub fn flow(config: &MappingConfig) -> CompiledFlow {
    let schema = SourceSchema::builtin().expect("builtin schema");
    CompiledFlow::compile(&schema, config).expect("mapping compiles")
}

pub type LdapEngine = Engine<SqliteStore, LdapTarget>;

/// The emulator, the flow, the LDAP config and the store's directory.
pub struct Harness {
    pub emu: RunningEmulator,
    pub clock: Arc<TestClock>,
    pub dir: TempDir,
    pub settings: Settings,
    pub flow: CompiledFlow,
    pub ldap: LdapConfig,
}

impl Harness {
    pub async fn start(builder: EmulatorBuilder, flow: CompiledFlow, ldap: LdapConfig) -> Harness {
        let emu = builder.now_ms(T0_MS).start().await.expect("emulator starts");
        let settings = Settings { page_size: 500, ..Settings::default() };
        Harness {
            emu,
            clock: TestClock::new(T0_MS),
            dir: TempDir::new("e2e"),
            settings,
            flow,
            ldap,
        }
    }

    /// A fresh engine (and a fresh target: pending manager fill-ins are
    /// per process) over the harness's store.
    pub fn engine(&self) -> LdapEngine {
        self.engine_with_store("state.sqlite")
    }

    /// An engine over the store file `name` in the harness's directory.
    pub fn engine_with_store(&self, name: &str) -> LdapEngine {
        let store =
            SqliteStore::open(&self.dir.0.join(name), hrsync_store::INBOUND).expect("store opens");
        let target = LdapTarget::new(self.ldap.clone()).expect("target config is valid");
        Engine::new(
            sf_client(&self.emu),
            self.flow.clone(),
            store,
            target,
            self.clock.clone(),
            self.settings.clone(),
        )
    }

    /// Step the engine's and the emulator's clocks together.
    pub fn advance_ms(&self, ms: i64) {
        self.clock.set(self.clock.ms() + ms);
        self.emu.set_now_ms(self.clock.ms());
    }

    /// Today in the emulator (UTC) as yyyy-MM-dd, plus `days`.
    pub fn day(&self, days: i64) -> String {
        let ts =
            jiff::Timestamp::from_millisecond(self.clock.ms() + days * DAY_MS).expect("in range");
        ts.to_zoned_datetime(jiff::tz::TimeZone::UTC).date().to_string()
    }

    /// Company and department codes of a worker's current job, from the model.
    pub fn org_of(&self, person: &str) -> Option<(String, String)> {
        let p = self.emu.worker(person)?;
        let e = p.current_employment()?;
        let today = self.clock.ms().div_euclid(DAY_MS);
        let job = p.employments[e].jobs.iter().rfind(|j| i64::from(j.start) <= today)?;
        let db = self.emu.shared().read();
        let code = |id| db.refs.get(id).text("externalCode").map(str::to_owned);
        Some((code(job.company)?, code(job.department)?))
    }
}

/// The manager of `person` as the emulator renders it for the primary
/// employment: `(manager's personIdExternal, manager's userId)`. The two
/// differ for a manager who was rehired or converted.
pub fn manager_of(emu: &RunningEmulator, person: &str) -> Option<(String, String)> {
    let db = emu.shared().read();
    let p = db.person(person)?;
    let user = p.employments.get(p.current_employment()?)?.user.as_ref()?;
    let manager_user = user.manager_id.clone()?;
    let (manager, _) = db.employment_of_user(&manager_user)?;
    Some((manager.person_id_external.clone(), manager_user))
}

/// `(person, error)` of every worker that failed in the cycle.
pub fn failures<T: hrsync_target::Target + 'static>(
    engine: &Engine<SqliteStore, T>,
    cycle: CycleId,
) -> Vec<(String, String)> {
    let log = engine
        .store()
        .log(&LogQuery {
            cycle_id: Some(cycle),
            status: Some(hrsync_store::LogStatus::Failure),
            ..Default::default()
        })
        .expect("log");
    log.into_iter().map(|e| (e.person_id, e.error.unwrap_or_default())).collect()
}

/// How the tests read the directory: their own connection, not the target's.
#[derive(Clone)]
pub struct Reader {
    pub url: String,
    pub bind_dn: String,
    pub password: String,
    pub ca_file: Option<PathBuf>,
}

/// One entry as read: DN and attribute -> values, names lower-cased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub dn: String,
    pub attrs: BTreeMap<String, Vec<String>>,
}

impl Entry {
    pub fn first(&self, name: &str) -> Option<&str> {
        self.attrs.get(&name.to_ascii_lowercase()).and_then(|v| v.first()).map(String::as_str)
    }
    pub fn all(&self, name: &str) -> &[String] {
        self.attrs.get(&name.to_ascii_lowercase()).map(Vec::as_slice).unwrap_or(&[])
    }
}

impl Reader {
    /// Every entry below `base` matching `filter` (paged).
    pub async fn search(&self, base: &str, filter: &str, attrs: &[&str]) -> Vec<Entry> {
        let mut settings = LdapConnSettings::new();
        if let Some(ca) = &self.ca_file {
            let pem = std::fs::read(ca).expect("read CA file");
            let mut roots = rustls::RootCertStore::empty();
            for cert in rustls_pemfile_certs(&pem) {
                roots.add(cert).expect("CA certificate");
            }
            let tls =
                rustls::ClientConfig::builder().with_root_certificates(roots).with_no_client_auth();
            settings = settings.set_config(Arc::new(tls));
        }
        let (conn, mut ldap) =
            LdapConnAsync::with_settings(settings, &self.url).await.expect("connect");
        ldap3::drive!(conn);
        ldap.simple_bind(&self.bind_dn, &self.password)
            .await
            .expect("bind")
            .success()
            .expect("bind accepted");
        let adapters: Vec<Box<dyn Adapter<'_, &str, Vec<&str>>>> =
            vec![Box::new(EntriesOnly::new()), Box::new(PagedResults::new(500))];
        let mut stream = ldap
            .streaming_search_with(adapters, base, Scope::Subtree, filter, attrs.to_vec())
            .await
            .expect("search starts");
        let mut out = Vec::new();
        while let Some(re) = stream.next().await.expect("search entry") {
            let e = SearchEntry::construct(re);
            let attrs = e.attrs.into_iter().map(|(k, v)| (k.to_ascii_lowercase(), v)).collect();
            out.push(Entry { dn: e.dn, attrs });
        }
        let _ = stream.finish().await;
        let _ = ldap.unbind().await;
        out
    }
}

/// The certificates of a PEM bundle.
fn rustls_pemfile_certs(pem: &[u8]) -> Vec<rustls::pki_types::CertificateDer<'static>> {
    use rustls::pki_types::pem::PemObject;
    rustls::pki_types::CertificateDer::pem_slice_iter(pem).filter_map(Result::ok).collect()
}
