//! Workload identity with AT1 issued by Microsoft Entra ID (issue 22),
//! through the command line: the Graph double is the customer's Entra
//! tenant (it issues AT1 to an app with a certificate), the emulator's IAS
//! trusts that issuer by its JWKS URI and exchanges AT1 for AT2, and AT2
//! calls OData. Tokens of both hops live 3 seconds.

use crate::common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{TempDir, hrsync, text, write_config};
use graph_emulator::issuer::service_principal_id;
use graph_emulator::server::{GraphEmulator, RunningGraph};
use hrsync_sf_auth::keys::{self, GeneratedKeys, Validity};
use sf_emulator::oauth::{IasTrust, OAuthConfig};
use sf_emulator::{Emulator, RunningEmulator};

const TENANT: &str = "11111111-aaaa-bbbb-cccc-222222222222";
const APP: &str = "aaaaaaaa-1111-2222-3333-444444444444";
const IAS_CLIENT: &str = "ias-client";
const AUDIENCE: &str = "api://sap-ias-trust";
const SELF_ISSUER: &str = "https://hrsync.example";
const SELF_SUBJECT: &str = "hrsync";
const SELF_AUDIENCE: &str = "https://ias.example";
const BASIC_BLOCK: &str = "[source.auth]\nmethod = \"basic\"\nusername = \"sfapi\"\npassword_env = \"HRSYNC_TEST_SF_PASSWORD\"\n";

struct Doubles {
    graph: RunningGraph,
    sf: RunningEmulator,
    keys: GeneratedKeys,
}

/// `keys/` holds the app's certificate and key (also the self-signed AT1's key).
async fn doubles(dir: &Path, lifetime: Duration, workers: usize, latency: Duration) -> Doubles {
    doubles_with(dir, lifetime, workers, latency, |_| {}).await
}

/// [`doubles`] with the IAS/SuccessFactors set-up changed by `setup`.
async fn doubles_with(
    dir: &Path,
    lifetime: Duration,
    workers: usize,
    latency: Duration,
    setup: impl FnOnce(&mut OAuthConfig),
) -> Doubles {
    let generated = keys::generate("hrsync", Validity::years_from_today(1)).expect("keys");
    keys::write(&dir.join("keys"), &generated).expect("write keys");
    let graph = GraphEmulator::new("127.0.0.1:0".parse().expect("addr"))
        .app_with_certificate(APP, generated.certificate_pem.clone())
        .token_lifetime(lifetime)
        .start()
        .await
        .expect("graph double");
    let mut oauth = OAuthConfig {
        ias: vec![
            IasTrust {
                client_id: IAS_CLIENT.into(),
                issuer: graph.issuer(TENANT),
                jwks: String::new(),
                jwks_uri: Some(graph.jwks_uri(TENANT)),
                subject: service_principal_id(APP),
                audience: AUDIENCE.into(),
            },
            IasTrust {
                client_id: IAS_CLIENT.into(),
                issuer: SELF_ISSUER.into(),
                jwks: generated.jwks.to_string(),
                jwks_uri: None,
                subject: SELF_SUBJECT.into(),
                audience: SELF_AUDIENCE.into(),
            },
        ],
        oidc_mappings: vec![(IAS_CLIENT.into(), sf_emulator::DEFAULT_USERNAME.into())],
        token_lifetime: lifetime,
        ..OAuthConfig::default()
    };
    setup(&mut oauth);
    let sf = Emulator::builder()
        .workers(workers)
        .seed(22)
        .basic_auth(false)
        .latency(latency)
        .oauth(oauth)
        .start()
        .await
        .expect("emulator");
    Doubles { graph, sf, keys: generated }
}

fn entra_block(d: &Doubles) -> String {
    format!(
        "[source.auth]\nmethod = \"workload-identity\"\nias_url = \"{}\"\nclient_id = \"{IAS_CLIENT}\"\ndependency = \"SF-EC-TA\"\n\
         [source.auth.assertion]\ntype = \"entra\"\ntenant_id = \"{TENANT}\"\nclient_id = \"{APP}\"\ncertificate_file = \"keys/{}\"\nprivate_key_file = \"keys/{}\"\nlogin_url = \"{}\"\nscope = \"{AUDIENCE}/.default\"\n",
        d.sf.base_url(),
        keys::CERTIFICATE_FILE,
        keys::PRIVATE_KEY_FILE,
        d.graph.base_url()
    )
}

fn self_signed_block(d: &Doubles) -> String {
    format!(
        "[source.auth]\nmethod = \"workload-identity\"\nias_url = \"{}\"\nclient_id = \"{IAS_CLIENT}\"\ndependency = \"SF-EC-TA\"\n\
         [source.auth.assertion]\ntype = \"self-signed\"\nprivate_key_file = \"keys/{}\"\nkey_id = \"{}\"\nissuer = \"{SELF_ISSUER}\"\nsubject = \"{SELF_SUBJECT}\"\naudience = \"{SELF_AUDIENCE}\"\n",
        d.sf.base_url(),
        keys::PRIVATE_KEY_FILE,
        d.keys.key_id
    )
}

fn write_auth_config(
    dir: &Path,
    base_url: &str,
    page_size: u32,
    block: &str,
) -> std::path::PathBuf {
    let path = write_config(dir, base_url, page_size);
    let basic = std::fs::read_to_string(&path).expect("read config");
    let replaced = basic.replace(BASIC_BLOCK, block);
    assert_ne!(replaced, basic, "the basic auth block was replaced");
    std::fs::write(&path, replaced).expect("write config");
    path
}

async fn run(
    config: &Path,
    args: &'static [&'static str],
    env: Vec<(&'static str, String)>,
) -> std::process::Output {
    let config = config.to_owned();
    tokio::task::spawn_blocking(move || hrsync(&config, args, &env)).await.expect("task")
}

async fn graph_tokens_issued(g: &RunningGraph) -> u64 {
    let stats: serde_json::Value = reqwest::get(format!("{}/_emulator/stats", g.base_url()))
        .await
        .expect("stats")
        .json()
        .await
        .expect("stats JSON");
    stats["tokens_issued"].as_u64().expect("tokens_issued")
}

/// A full sync whose tokens (AT1 and AT2) expire every 3 s while it runs:
/// every OData request succeeds, and no token is replaced before its
/// refresh point (so no more refreshes than the run's lifetimes need).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_sync_through_entra_at1_ias_at2_odata_with_short_lived_tokens() {
    let dir = TempDir::new("entra-e2e");
    let lifetime = Duration::from_secs(3);
    let d = doubles(&dir.0, lifetime, 150, Duration::from_millis(300)).await;
    let config = write_auth_config(&dir.0, &d.sf.base_url(), 5, &entra_block(&d));

    let check = run(&config, &["check"], vec![]).await;
    assert!(check.status.success(), "{}", text(&check));
    let out = text(&check);
    for step in [
        "acquire AT1 from Microsoft Entra ID",
        "exchange AT1 for AT2 at SAP Cloud Identity Service",
        "call OData PerPerson?$top=1",
    ] {
        assert!(out.contains(step), "check shows `{step}`: {out}");
    }
    let (at2_before, at1_before) =
        (d.sf.oauth().expect("oauth").tokens_issued(), graph_tokens_issued(&d.graph).await);
    d.sf.clear_requests();

    let started = Instant::now();
    let sync = run(&config, &["sync", "--full", "--json"], vec![]).await;
    let elapsed = started.elapsed();
    assert!(sync.status.success(), "{}", text(&sync));
    assert!(
        elapsed > lifetime * 2,
        "the sync outlives at least two token lifetimes ({elapsed:?}); raise workers or latency"
    );
    let accounts = common::snapshot(&dir.0);
    assert!(accounts.len() > 100, "{} accounts", accounts.len());

    let failed: Vec<String> =
        d.sf.requests()
            .into_iter()
            .filter(|r| r.url.contains("/odata/v2/") && r.status >= 400)
            .map(|r| format!("{} {} -> {}", r.method, r.url, r.status))
            .collect();
    assert!(failed.is_empty(), "failed OData requests: {failed:?}");

    let oauth = d.sf.oauth().expect("oauth");
    let at2 = oauth.tokens_issued() - at2_before;
    let at1 = graph_tokens_issued(&d.graph).await - at1_before;
    // Refreshed at lifetime - lifetime/5: a token replaced earlier than
    // that (less some scheduling slack) would be a redundant refresh.
    let refresh_after = lifetime - lifetime / 5 - Duration::from_millis(300);
    let times = oauth.issue_times();
    let run_times: Vec<&Instant> = times.iter().rev().take(at2 as usize).collect();
    for w in run_times.windows(2) {
        let gap = w[0].saturating_duration_since(*w[1]);
        assert!(gap >= refresh_after, "an AT2 was replaced after {gap:?} (< {refresh_after:?})");
    }
    let lifetimes_elapsed = elapsed.as_secs_f64() / (lifetime - lifetime / 5).as_secs_f64();
    assert!(at2 >= 2, "the sync needed new AT2s ({at2})");
    assert!(
        (at2 as f64) <= lifetimes_elapsed.ceil() + 1.0,
        "{at2} AT2s in {elapsed:?} ({lifetimes_elapsed:.1} refresh periods)"
    );
    eprintln!("sync {elapsed:?}: {at2} AT2, {at1} AT1 for {lifetime:?} tokens");
    assert!(at1 <= at2, "AT1 ({at1}) is only requested when AT2 is ({at2})");
    assert!(at1 >= 1);
    d.sf.shutdown().await;
    d.graph.shutdown().await;
}

/// Switching an existing config from self-signed workload identity to
/// `type = "entra"` keeps the state: the next sync is incremental and
/// changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn switching_from_self_signed_to_entra_keeps_watermarks_and_joins() {
    let dir = TempDir::new("entra-switch");
    let d = doubles(&dir.0, Duration::from_secs(3600), 40, Duration::ZERO).await;
    let config = write_auth_config(&dir.0, &d.sf.base_url(), 10, &self_signed_block(&d));
    let full = run(&config, &["sync", "--full"], vec![]).await;
    assert!(full.status.success(), "{}", text(&full));
    let before = common::snapshot(&dir.0);
    assert!(!before.is_empty());

    let config = write_auth_config(&dir.0, &d.sf.base_url(), 10, &entra_block(&d));
    d.sf.clear_requests();
    let next = run(&config, &["sync", "--json"], vec![]).await;
    assert!(next.status.success(), "{}", text(&next));
    let report: serde_json::Value = serde_json::from_slice(&next.stdout).expect("report JSON");
    assert_eq!(report["kind"], "incremental", "no full resync after switching: {report}");
    assert_eq!(report["workers"], 0, "{report}");
    assert_eq!(common::snapshot(&dir.0), before);
    assert!(graph_tokens_issued(&d.graph).await >= 1, "the second sync got AT1 from Entra");
    d.sf.shutdown().await;
    d.graph.shutdown().await;
}

/// `hrsync check` stops at the exchange when the IAS trust rule's subject
/// is not AT1's, exits 1 and says what to compare (the seed's first row;
/// every row is covered against the library's check in sf-auth's tests).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_explains_a_subject_mismatch_in_admin_terms() {
    let dir = TempDir::new("entra-check-sub");
    let d = doubles_with(&dir.0, Duration::from_secs(3600), 5, Duration::ZERO, |o| {
        o.ias[0].subject = "another-service-principal".into();
    })
    .await;
    let config = write_auth_config(&dir.0, &d.sf.base_url(), 10, &entra_block(&d));
    let check = run(&config, &["check"], vec![]).await;
    assert_eq!(check.status.code(), Some(1), "{}", text(&check));
    let out = text(&check);
    assert!(out.contains("acquire AT1 from Microsoft Entra ID"), "{out}");
    assert!(out.contains("invalid_client_assertion"), "{out}");
    assert!(out.contains("Subject and Audience of the JWT Trust-by-Issuer rule"), "{out}");
    d.sf.shutdown().await;
    d.graph.shutdown().await;
}
