//! Helpers the test modules share: key sets on disk and configs.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use hrsync_sf_auth::keys::{self, GeneratedKeys, Validity};
use hrsync_target_graph::GraphConfig;

pub const CLIENT: &str = "11111111-2222-3333-4444-555555555555";
pub const TENANT: &str = "contoso-tenant";

/// A fresh directory under the system temp dir.
pub fn temp_dir(tag: &str) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "hrsync-graph-{tag}-{}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed),
        jiff::Timestamp::now().as_nanosecond()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// What `hrsync keys generate` writes, in a fresh directory.
pub struct KeySet {
    pub keys: GeneratedKeys,
    pub dir: PathBuf,
}

impl KeySet {
    pub fn new() -> KeySet {
        let keys = keys::generate("hrsync graph test", Validity::years_from_today(1)).unwrap();
        let dir = temp_dir("keys");
        keys::write(&dir, &keys).unwrap();
        KeySet { keys, dir }
    }
    pub fn certificate_file(&self) -> PathBuf {
        self.dir.join(keys::CERTIFICATE_FILE)
    }
    pub fn private_key_file(&self) -> PathBuf {
        self.dir.join(keys::PRIVATE_KEY_FILE)
    }
}

/// A config with no credential, pointed at `base` (the double's URL).
pub fn bare_config(base: &str) -> GraphConfig {
    GraphConfig {
        tenant_id: TENANT.into(),
        client_id: CLIENT.into(),
        certificate_file: None,
        private_key_file: None,
        federated_token_file: None,
        assertion_key_file: None,
        assertion_issuer: None,
        assertion_subject: None,
        assertion_audience: None,
        client_secret: None,
        graph_url: base.into(),
        login_url: base.into(),
        domain: None,
        concurrency: 4,
        write_budget: 2_500,
        tls_insecure: false,
    }
}

/// A certificate config for `keys`.
pub fn cert_config(base: &str, keys: &KeySet) -> GraphConfig {
    GraphConfig {
        certificate_file: Some(keys.certificate_file()),
        private_key_file: Some(keys.private_key_file()),
        ..bare_config(base)
    }
}
