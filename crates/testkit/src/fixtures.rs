//! Small fixtures every end-to-end test needs: a private directory, a
//! clock the test steps (shared by the engine and, through the test, the
//! emulator) and a SuccessFactors client for a running emulator.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use hrsync_expr::Clock;
use hrsync_source_sf::{Credentials, RetryPolicy, SfClient, SourceConfig};
use secrecy::SecretString;
use sf_emulator::{DEFAULT_COMPANY_ID, DEFAULT_PASSWORD, DEFAULT_USERNAME, RunningEmulator};

/// A client for `emu` with its default credentials and quick retries (the
/// fault-injection tests retry often; waiting seconds each time would only
/// slow them). Panics if the client cannot be built.
pub fn sf_client(emu: &RunningEmulator) -> SfClient {
    let mut c = SourceConfig::new(
        emu.base_url(),
        Credentials::Basic {
            username: DEFAULT_USERNAME.into(),
            company_id: DEFAULT_COMPANY_ID.into(),
            password: SecretString::from(DEFAULT_PASSWORD.to_owned()),
        },
    );
    c.retry = RetryPolicy {
        max_attempts: 12,
        base_delay: std::time::Duration::from_millis(5),
        max_delay: std::time::Duration::from_millis(50),
        max_retry_after: std::time::Duration::from_secs(2),
    };
    SfClient::new(&c).unwrap_or_else(|e| panic!("SuccessFactors client for the emulator: {e}"))
}

/// A private directory under the system temp dir, removed on drop.
#[derive(Debug)]
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// A fresh, empty directory named after `tag`, this process and a counter.
    /// Panics if it cannot be created: tests have nothing to do without it.
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "hrsync-test-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)
            .unwrap_or_else(|e| panic!("create temp dir {}: {e}", dir.display()));
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A clock at a fixed instant (ms since the epoch) that the test moves.
#[derive(Debug)]
pub struct TestClock(AtomicI64);

impl TestClock {
    pub fn new(ms: i64) -> Arc<Self> {
        Arc::new(TestClock(AtomicI64::new(ms)))
    }
    pub fn ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
    pub fn set(&self, ms: i64) {
        self.0.store(ms, Ordering::SeqCst);
    }
}

impl Clock for TestClock {
    fn now(&self) -> jiff::Timestamp {
        jiff::Timestamp::from_millisecond(self.ms()).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
    }
}
