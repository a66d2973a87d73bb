//! Benchmark: a full sync of N emulated SuccessFactors workers by the engine
//! into a fresh slapd (built-in OpenLDAP mapping) or a fresh Samba AD DC
//! (default AD mapping, with passwords), against `ldapadd -c` of an LDIF of
//! the same entries into a second, identically configured, fresh server,
//! in the same run. Prints wall times, the ratio and where hrsync's target
//! time goes (per Target operation).
//!
//! ```text
//! cargo run --release -p hrsync-target-ldap --example bench_ldap -- openldap 10000 100000 ad 2000
//! ```

#[path = "../tests/common/mod.rs"]
mod common;

use hrsync_engine::Action;
use std::collections::{BTreeMap, HashMap};
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use base64::Engine as _;
use common::{
    Entry, Harness, Reader, ad_mapping, ad_target, flow, openldap_mapping, openldap_ous_ldif,
    openldap_target,
};
use hrsync_engine::cycle::Engine;
use hrsync_store::CycleKind;
use hrsync_store_sqlite::SqliteStore;
use hrsync_target::TargetError;
use hrsync_target::testing::{Call, Forward, Hooks, Outcome};
use hrsync_target_ldap::LdapTarget;
use hrsync_testkit::{SambaDc, Slapd};
use sf_emulator::Emulator;

// The allocator the hrsync binary ships with: the benchmark measures the
// product, not glibc's malloc under a JSON-heavy load.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Wall time during which at least one operation of a kind is in flight.
#[derive(Default)]
struct Busy {
    in_flight: usize,
    since: Option<Instant>,
    total: Duration,
}

impl Busy {
    fn begin(&mut self, now: Instant) {
        if self.in_flight == 0 {
            self.since = Some(now);
        }
        self.in_flight += 1;
    }

    fn end(&mut self) {
        self.in_flight = self.in_flight.saturating_sub(1);
        if self.in_flight == 0
            && let Some(since) = self.since.take()
        {
            self.total += since.elapsed();
        }
    }
}

/// Hooks adding up the wall time of each operation, and the wall time
/// during which at least one operation (and at least one write) was in
/// flight: the engine issues a page's writes concurrently, so
/// per-operation times overlap.
#[derive(Default)]
struct Timings {
    stats: Mutex<BTreeMap<&'static str, (u64, Duration)>>,
    /// Any operation; creates and updates only.
    busy: Mutex<(Busy, Busy)>,
}

/// The LDAP target with [`Timings`] around it.
type Timed = Forward<LdapTarget, Timings>;

impl Timings {
    /// The label an operation is reported under, and whether it is a write
    /// (`None`: not timed).
    fn label(call: &Call<'_>) -> Option<(&'static str, bool)> {
        Some(match call {
            Call::Find { .. } => ("find (matching)", false),
            Call::Get { .. } => ("get", false),
            Call::Create { .. } => ("create (manager lookup, add, read-back)", true),
            Call::Update { .. } => ("update", true),
            Call::IsTaken { .. } => ("is_taken (SelectUniqueValue)", false),
            Call::FindMany { .. } => ("find_many (matching, per page)", false),
            Call::Taken { .. } => ("taken (SelectUniqueValue, per page)", false),
            _ => return None,
        })
    }

    /// (any operation in flight, a write in flight).
    fn busy(&self) -> (Duration, Duration) {
        let b = self.busy.lock().unwrap_or_else(|p| p.into_inner());
        (b.0.total, b.1.total)
    }
}

#[async_trait]
impl Hooks for Timings {
    async fn before(&self, call: &Call<'_>) -> Result<(), TargetError> {
        if let Some((_, write)) = Timings::label(call) {
            let now = Instant::now();
            let mut b = self.busy.lock().unwrap_or_else(|p| p.into_inner());
            b.0.begin(now);
            if write {
                b.1.begin(now);
            }
        }
        Ok(())
    }

    async fn after(&self, call: &Call<'_>, outcome: Outcome<'_>) {
        let Some((op, write)) = Timings::label(call) else { return };
        {
            let mut b = self.busy.lock().unwrap_or_else(|p| p.into_inner());
            b.0.end();
            if write {
                b.1.end();
            }
        }
        let mut s = self.stats.lock().unwrap_or_else(|p| p.into_inner());
        let e = s.entry(op).or_default();
        e.0 += 1;
        e.1 += outcome.elapsed;
    }
}

/// One LDIF value line: base64 unless it is a SAFE-STRING (RFC 2849).
fn ldif_line(out: &mut String, name: &str, value: &str) {
    let safe = value.bytes().all(|b| b.is_ascii() && b != b'\n' && b != b'\r' && b != 0)
        && !value.starts_with([' ', ':', '<'])
        && !value.ends_with(' ');
    if safe {
        out.push_str(&format!("{name}: {value}\n"));
    } else {
        out.push_str(&format!(
            "{name}:: {}\n",
            base64::engine::general_purpose::STANDARD.encode(value)
        ));
    }
}

/// The entries as LDIF adds, in creation order; a manager not added yet
/// when its report is goes into a modify at the end (as hrsync's fix-up
/// does). `extra` adds raw LDIF lines per entry (AD: class and password).
fn to_ldif(entries: &[Entry], skip: &[&str], extra: &dyn Fn(&Entry) -> Vec<String>) -> String {
    let mut out = String::new();
    let mut later = String::new();
    let mut added: std::collections::HashSet<String> = std::collections::HashSet::new();
    for e in entries {
        ldif_line(&mut out, "dn", &e.dn);
        for (name, values) in &e.attrs {
            if skip.contains(&name.as_str()) {
                continue;
            }
            if name == "manager"
                && values.first().is_some_and(|m| !added.contains(&m.to_lowercase()))
            {
                ldif_line(&mut later, "dn", &e.dn);
                later.push_str("changetype: modify\nreplace: manager\n");
                for v in values {
                    ldif_line(&mut later, "manager", v);
                }
                later.push_str("-\n\n");
                continue;
            }
            for v in values {
                ldif_line(&mut out, name, v);
            }
        }
        for line in extra(e) {
            out.push_str(&line);
            out.push('\n');
        }
        out.push('\n');
        added.insert(e.dn.to_lowercase());
    }
    out.push_str(&later);
    out
}

/// `ldapadd -c` of `ldif`; the wall time and the number of failed records.
fn ldapadd(
    url: &str,
    bind_dn: &str,
    password: &str,
    ca: Option<&std::path::Path>,
    ldif: &str,
) -> (Duration, usize) {
    let file = std::env::temp_dir().join(format!("hrsync-bench-{}.ldif", std::process::id()));
    std::fs::write(&file, ldif).expect("write LDIF");
    let mut cmd = Command::new("ldapadd");
    cmd.args(["-c", "-x", "-H", url, "-D", bind_dn, "-w", password, "-f"]).arg(&file);
    if let Some(ca) = ca {
        cmd.env("LDAPTLS_CACERT", ca);
    }
    let t = Instant::now();
    let out = cmd.output().expect("run ldapadd (ldap-utils)");
    let took = t.elapsed();
    let _ = std::fs::remove_file(&file);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let failed = stderr
        .lines()
        .filter(|l| l.starts_with("ldap_add:") || l.starts_with("ldap_modify:"))
        .count();
    if failed > 0 {
        eprintln!(
            "ldapadd errors (first lines):\n{}",
            stderr.lines().take(12).collect::<Vec<_>>().join("\n")
        );
    }
    (took, failed)
}

fn print_stats(
    label: &str,
    hrsync: Duration,
    workers: u64,
    stats: &BTreeMap<&'static str, (u64, Duration)>,
    (busy, writing): (Duration, Duration),
) {
    println!(
        "  {label}: hrsync {:.1} s ({:.0} workers/s)",
        hrsync.as_secs_f64(),
        workers as f64 / hrsync.as_secs_f64()
    );
    println!(
        "    (per operation: the sum of its calls' wall times; concurrent calls overlap, so the shares can add up to more than 100%)"
    );
    for (op, (n, d)) in stats {
        println!(
            "    {op:<42} {n:>7} calls {:>8.1} s {:>5.0}% of the sync, {:>6.0} us/call",
            d.as_secs_f64(),
            100.0 * d.as_secs_f64() / hrsync.as_secs_f64(),
            d.as_micros() as f64 / (*n).max(1) as f64
        );
    }
    println!(
        "    {:<42} {:>21.1} s {:>5.0}%",
        "some target operation in flight",
        busy.as_secs_f64(),
        100.0 * busy.as_secs_f64() / hrsync.as_secs_f64()
    );
    println!(
        "    {:<42} {:>21.1} s {:>5.0}%",
        "a create or update in flight",
        writing.as_secs_f64(),
        100.0 * writing.as_secs_f64() / hrsync.as_secs_f64()
    );
    let rest = hrsync.saturating_sub(busy);
    println!(
        "    {:<42} {:>21.1} s {:>5.0}% (source read, mapping, store)",
        "outside the target",
        rest.as_secs_f64(),
        100.0 * rest.as_secs_f64() / hrsync.as_secs_f64()
    );
}

/// CPU time (user + system) of a process so far, from /proc; zero where
/// /proc cannot tell.
fn cpu_of(pid: &str) -> Duration {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return Duration::ZERO;
    };
    // Fields after the command name, which may hold spaces: utime and stime
    // are the 12th and 13th of them, in clock ticks (100 per second here).
    let Some((_, rest)) = stat.rsplit_once(") ") else { return Duration::ZERO };
    let f: Vec<u64> = rest.split(' ').map(|x| x.parse().unwrap_or(0)).collect();
    Duration::from_millis((f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0)) * 10)
}

/// The pid of the slapd serving from `dir`, found by its config path.
fn slapd_pid(dir: &std::path::Path) -> Option<String> {
    let conf = dir.join("slapd.conf").display().to_string();
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let name = e.file_name().into_string().ok()?;
        let cmd = std::fs::read(e.path().join("cmdline")).ok()?;
        let cmd = String::from_utf8_lossy(&cmd);
        (name.bytes().all(|b| b.is_ascii_digit())
            && cmd.starts_with("/")
            && cmd.contains("slapd\0")
            && cmd.contains(&conf))
        .then_some(name)
    })
}

/// Run one full cycle; its wall time, workers and the target's stats.
async fn sync(
    h: &Harness,
) -> (Duration, u64, BTreeMap<&'static str, (u64, Duration)>, (Duration, Duration)) {
    let store =
        SqliteStore::open(&h.dir.0.join("state.sqlite"), hrsync_store::INBOUND).expect("store");
    let mut ldap = h.ldap.clone();
    // `BENCH_POOL=connections:in_flight` tries another connection pool.
    let pool = std::env::var("BENCH_POOL").ok().and_then(|v| {
        let (connections, in_flight) = v.split_once(':')?;
        Some((connections.parse().ok()?, in_flight.parse().ok()?))
    });
    if let Some((connections, in_flight)) = pool {
        (ldap.pool_size, ldap.in_flight_per_connection) = (connections, in_flight);
    }
    let target: Timed =
        Forward::new(LdapTarget::new(ldap).expect("target config"), Timings::default());
    let mut settings = h.settings.clone();
    // `BENCH_CONCURRENCY` and `BENCH_PAGE_SIZE` try other `[target]
    // concurrency` and `[source] page_size` values.
    if let Some(n) = std::env::var("BENCH_CONCURRENCY").ok().and_then(|v| v.parse().ok()) {
        settings.concurrency = n;
    }
    if let Some(n) = std::env::var("BENCH_PAGE_SIZE").ok().and_then(|v| v.parse().ok()) {
        settings.page_size = n;
    }
    let mut engine = Engine::new(
        common::sf_client(&h.emu),
        h.flow.clone(),
        store,
        target,
        h.clock.clone(),
        settings,
    );
    let t = Instant::now();
    let report = engine.run_cycle(CycleKind::Full).await.expect("cycle");
    let took = t.elapsed();
    let failed = report.counts.get(&Action::Failed).copied().unwrap_or(0);
    if failed > 0 {
        eprintln!(
            "warning: {failed} workers failed: {:?}",
            common::failures(&engine, report.cycle_id).into_iter().take(5).collect::<Vec<_>>()
        );
    }
    let timings = &engine.target().hooks;
    let stats = timings.stats.lock().unwrap_or_else(|p| p.into_inner()).clone();
    (took, report.counts.get(&Action::Create).copied().unwrap_or(0), stats, timings.busy())
}

async fn openldap(workers: usize) {
    println!("OpenLDAP, {workers} workers");
    let t = Instant::now();
    let emu = Emulator::builder().workers(workers).seed(1);
    let a = Slapd::start().expect("slapd A");
    let (ldap, people) = openldap_target(&a);
    let h = Harness::start(emu, flow(&openldap_mapping(&people)), ldap).await;
    println!("  set-up (emulator data, slapd) {:.1} s", t.elapsed().as_secs_f64());
    let pid_a = slapd_pid(a.dir()).unwrap_or_default();
    let (own0, slapd0) = (cpu_of("self"), cpu_of(&pid_a));
    let (took, created, stats, busy) = sync(&h).await;
    let (own, slapd_a) = (cpu_of("self") - own0, cpu_of(&pid_a) - slapd0);

    let reader = Reader {
        url: a.url(),
        bind_dn: a.root_dn().into(),
        password: a.root_password().into(),
        ca_file: None,
    };
    let mut entries =
        reader.search(&people, "(objectClass=inetOrgPerson)", &["*", "entryCSN"]).await;
    entries.sort_by(|x, y| x.first("entryCSN").cmp(&y.first("entryCSN")));
    let ldif = to_ldif(&entries, &["entrycsn"], &|_| Vec::new());
    drop(a);

    let b = Slapd::start().expect("slapd B");
    b.add_ldif(&openldap_ous_ldif(&people)).expect("OUs");
    let pid_b = slapd_pid(b.dir()).unwrap_or_default();
    let slapd0 = cpu_of(&pid_b);
    let (add, failed) = ldapadd(&b.url(), b.service_dn(), b.service_password(), None, &ldif);
    let slapd_b = cpu_of(&pid_b) - slapd0;
    let count = Reader {
        url: b.url(),
        bind_dn: b.root_dn().into(),
        password: b.root_password().into(),
        ca_file: None,
    }
    .search(&people, "(objectClass=inetOrgPerson)", &["1.1"])
    .await
    .len();
    print_stats("sync", took, created, &stats, busy);
    println!(
        "    CPU: hrsync and the emulator {:.2} s, slapd {:.2} s",
        own.as_secs_f64(),
        slapd_a.as_secs_f64()
    );
    println!(
        "  ldapadd -c: {:.1} s ({:.0} entries/s), {count} entries, {failed} failed records",
        add.as_secs_f64(),
        entries.len() as f64 / add.as_secs_f64()
    );
    println!("    CPU: slapd {:.2} s", slapd_b.as_secs_f64());
    println!("  ratio hrsync / ldapadd = {:.2}", took.as_secs_f64() / add.as_secs_f64());
}

async fn active_directory(workers: usize) {
    println!("Samba AD, {workers} workers (each with a password)");
    let a = SambaDc::start().expect("Samba DC A");
    let (ldap, root) = ad_target(&a, "bench");
    let realm = a.realm().to_lowercase();
    let mapping = ad_mapping(&root, &realm);
    let names: Vec<String> = mapping.mappings.iter().map(|m| m.target.to_lowercase()).collect();
    let h =
        Harness::start(Emulator::builder().workers(workers).seed(1), flow(&mapping), ldap).await;
    let (took, created, stats, busy) = sync(&h).await;

    let reader = Reader {
        url: a.ldaps_url(),
        bind_dn: a.admin_upn(),
        password: a.admin_password().into(),
        ca_file: Some(a.ca_file()),
    };
    let mut entries = reader.search(&root, "(&(objectClass=user)(employeeID=*))", &["*"]).await;
    entries.sort_by_key(|e| e.first("uSNCreated").and_then(|u| u.parse::<u64>().ok()));
    // The mapped attributes as written, plus what the target adds: the
    // classes, userAccountControl and a password.
    let keep: HashMap<String, ()> =
        names.iter().cloned().chain(["useraccountcontrol".to_owned()]).map(|n| (n, ())).collect();
    for e in &mut entries {
        e.attrs.retain(|k, _| keep.contains_key(k.as_str()));
    }
    let password = |_: &Entry| {
        let quoted: Vec<u8> =
            "\"Bench-Passw0rd!x\"".encode_utf16().flat_map(u16::to_le_bytes).collect();
        vec![
            "objectClass: user".to_owned(),
            format!("unicodePwd:: {}", base64::engine::general_purpose::STANDARD.encode(quoted)),
        ]
    };
    let ldif = to_ldif(&entries, &[], &password);
    drop(h);
    drop(a);

    let b = SambaDc::start().expect("Samba DC B");
    let (_, root_b) = ad_target(&b, "bench");
    assert_eq!(root_b, root, "identical trees");
    let (add, failed) =
        ldapadd(&b.ldaps_url(), &b.admin_upn(), b.admin_password(), Some(&b.ca_file()), &ldif);
    print_stats("sync", took, created, &stats, busy);
    println!(
        "  ldapadd -c: {:.1} s ({:.0} entries/s), {failed} failed records",
        add.as_secs_f64(),
        entries.len() as f64 / add.as_secs_f64()
    );
    println!("  ratio hrsync / ldapadd = {:.2}", took.as_secs_f64() / add.as_secs_f64());
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args = if args.is_empty() {
        vec!["openldap".into(), "10000".into(), "100000".into(), "ad".into(), "2000".into()]
    } else {
        args
    };
    let mut kind = "openldap".to_owned();
    for a in args {
        match a.parse::<usize>() {
            Ok(n) if kind == "ad" => active_directory(n).await,
            Ok(n) => openldap(n).await,
            Err(_) => kind = a,
        }
    }
}
