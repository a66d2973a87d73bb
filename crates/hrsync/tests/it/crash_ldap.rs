//! Kill hrsync at many points of a full sync into a real slapd (after a page
//! is read, after an LDAP add before its commit, after a commit) and restart
//! it: the directory must end with exactly the entries of a clean run, no
//! duplicate and none missing. Each run has its own subtree (its own
//! uniqueness scope), so runs do not see each other's names.

use crate::common;

use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};

use common::{TempDir, hrsync, text};
use hrsync_testkit::Slapd;
use ldap3::adapters::{Adapter, EntriesOnly, PagedResults};
use ldap3::{LdapConnAsync, Scope, SearchEntry};
use sf_emulator::Emulator;

const WORKERS: usize = 300;
const SEED: u64 = 77;
const COMPANIES: [&str; 6] = ["ACE_US", "ACE_DE", "ACE_FR", "ACE_UK", "ACE_JP", "ACE_BR"];
pub(crate) const PASSWORD_VAR: &str = "HRSYNC_TEST_LDAP_PASSWORD";

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.expect("blocking task")
}

/// `ou=<run>` with the company and department OUs the mapping places into.
pub(crate) fn make_tree(slapd: &Slapd, run: &str) -> String {
    let base = format!("ou={run},{}", slapd.suffix());
    let ou =
        |dn: &str, name: &str| format!("dn: {dn}\nobjectClass: organizationalUnit\nou: {name}\n\n");
    let mut ldif = ou(&base, run);
    for c in COMPANIES {
        let company = format!("ou={c},{base}");
        ldif.push_str(&ou(&company, c));
        for d in 100..112 {
            ldif.push_str(&ou(&format!("ou=D{d},{company}"), &format!("D{d}")));
        }
    }
    slapd.add_ldif(&ldif).expect("run subtree");
    base
}

/// A config syncing the emulator into `base` with the built-in OpenLDAP
/// mapping, its container rewritten to `base`.
pub(crate) fn write_config(dir: &Path, emulator: &str, slapd: &Slapd, base: &str) -> PathBuf {
    let mapping =
        hrsync_mapping::mapping::SF_TO_OPENLDAP_TOML.replace("ou=people,dc=example,dc=org", base);
    std::fs::write(dir.join("mapping.toml"), mapping).expect("write mapping");
    let text = format!(
        r#"[source]
url = "{emulator}"
company_id = "{company}"
page_size = 40
timeout = "30s"
[source.auth]
method = "basic"
username = "{user}"
password_env = "HRSYNC_TEST_SF_PASSWORD"

[target]
kind = "ldap"
[target.connection]
url = "{url}"
bind_dn = "{bind}"
password_env = "{PASSWORD_VAR}"
base_dn = "{base}"
default_container = "{base}"
profile = "inet-org-person"
pool_size = 2
disable = {{ strategy = "attribute", attribute = "employeeType", value = "disabled" }}

[flow]
mapping = "mapping.toml"
time_zone = "UTC"
actions = ["create", "update", "disable"]

[state]
path = "state.sqlite"
"#,
        company = sf_emulator::DEFAULT_COMPANY_ID,
        user = sf_emulator::DEFAULT_USERNAME,
        url = slapd.url(),
        bind = slapd.service_dn(),
    );
    let path = dir.join("hrsync.toml");
    std::fs::write(&path, text).expect("write config");
    path
}

/// `hrsync sync --full`, aborted at the `crash_after`-th crash point if given.
async fn run(config: &Path, slapd: &Slapd, crash_after: Option<u64>) -> std::process::Output {
    let mut env = vec![(PASSWORD_VAR, slapd.service_password().to_owned())];
    if let Some(n) = crash_after {
        env.push(("HRSYNC_CRASH_AFTER", n.to_string()));
    }
    let config = config.to_path_buf();
    blocking(move || hrsync(&config, &["sync", "--full"], &env)).await
}

/// employeeNumber -> (DN and attribute values), with the run's base replaced
/// by `BASE` so runs compare. Panics on two entries for one worker.
pub(crate) async fn snapshot(
    slapd: &Slapd,
    base: &str,
) -> BTreeMap<String, BTreeMap<String, Vec<String>>> {
    let (conn, mut ldap) = LdapConnAsync::new(&slapd.url()).await.expect("connect");
    ldap3::drive!(conn);
    ldap.simple_bind(slapd.root_dn(), slapd.root_password())
        .await
        .expect("bind")
        .success()
        .expect("bind accepted");
    let adapters: Vec<Box<dyn Adapter<'_, &str, Vec<&str>>>> =
        vec![Box::new(EntriesOnly::new()), Box::new(PagedResults::new(500))];
    let mut stream = ldap
        .streaming_search_with(
            adapters,
            base,
            Scope::Subtree,
            "(objectClass=inetOrgPerson)",
            vec!["*"],
        )
        .await
        .expect("search");
    let relative = |s: &str| s.replace(base, "BASE");
    let mut out = BTreeMap::new();
    while let Some(re) = stream.next().await.expect("entry") {
        let e = SearchEntry::construct(re);
        let mut attrs: BTreeMap<String, Vec<String>> = e
            .attrs
            .into_iter()
            .map(|(k, mut v)| {
                (k.to_ascii_lowercase(), {
                    v.sort();
                    v.iter().map(|x| relative(x)).collect()
                })
            })
            .collect();
        attrs.insert("dn".into(), vec![relative(&e.dn)]);
        let number =
            attrs.get("employeenumber").and_then(|v| v.first()).cloned().unwrap_or_default();
        assert!(
            out.insert(number.clone(), attrs).is_none(),
            "two entries for employeeNumber {number}"
        );
    }
    let _ = stream.finish().await;
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_at_any_point_and_restarted_ends_with_the_clean_runs_entries() {
    let slapd = Slapd::start().expect("slapd starts (needs the slapd package)");
    let emu = Emulator::builder().workers(WORKERS).seed(SEED).start().await.expect("emulator");

    let clean = TempDir::new("ldap-clean");
    let base = make_tree(&slapd, "clean");
    let config = write_config(&clean.0, &emu.base_url(), &slapd, &base);
    let out = run(&config, &slapd, None).await;
    assert!(out.status.success(), "{}", text(&out));
    let want = snapshot(&slapd, &base).await;
    assert!(want.len() > WORKERS * 8 / 10, "{}", want.len());

    // Spread over the ~8 pages and ~300 adds of a full sync.
    for n in [1u64, 2, 3, 5, 8, 13, 30, 60, 100, 150, 220, 290] {
        let dir = TempDir::new("ldap-crash");
        let base = make_tree(&slapd, &format!("crash-{n}"));
        let config = write_config(&dir.0, &emu.base_url(), &slapd, &base);
        let out = run(&config, &slapd, Some(n)).await;
        assert_eq!(
            out.status.signal(),
            Some(6),
            "crash point {n} must abort the process: {}",
            text(&out)
        );
        let out = run(&config, &slapd, None).await;
        assert!(out.status.success(), "restart after crash point {n}: {}", text(&out));
        let got = snapshot(&slapd, &base).await;
        let missing: Vec<&String> = want.keys().filter(|k| !got.contains_key(*k)).collect();
        let extra: Vec<&String> = got.keys().filter(|k| !want.contains_key(*k)).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "crash point {n}: missing {missing:?}, extra {extra:?}"
        );
        for (k, v) in &want {
            assert_eq!(&got[k], v, "entry {k} after a crash at point {n} and a restart");
        }
    }
    emu.shutdown().await;
}
