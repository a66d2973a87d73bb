//! Grep-style check: a whole OAuth flow (both token methods, refreshes after
//! expiry, a failing set-up) logged at TRACE contains no secret. In its own
//! test binary so the global subscriber sees every thread.

mod oauth_common;

use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hrsync_sf_auth::AuthConfig;
use hrsync_sf_auth::keys;
use hrsync_source_sf::PersonQuery;
use oauth_common::{client, emulator, read_all, setup};
use secrecy::ExposeSecret;

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn pem_lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("-----") && l.len() > 20)
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn no_secret_appears_in_trace_logs() {
    let capture = Capture::default();
    let writer = capture.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();

    let s = setup("logs");
    let emu = emulator(&s, 30, Duration::ZERO).await;
    let mut secrets: Vec<String> = pem_lines(&s.dir.join(keys::PRIVATE_KEY_FILE));
    for auth in [s.saml(), s.workload(&emu.base_url())] {
        let client = client(&emu, &auth);
        read_all(&client, &PersonQuery { page_size: 7, ..Default::default() }).await.unwrap();
        let provider = client.token_provider().unwrap();
        secrets.push(provider.bearer().await.unwrap().expose_secret().to_owned());
        emu.oauth().unwrap().expire_all();
        read_all(&client, &PersonQuery { page_size: 7, ..Default::default() }).await.unwrap();
        secrets.push(provider.bearer().await.unwrap().expose_secret().to_owned());
        if let AuthConfig::SamlBearer { .. } = auth {
            secrets.push(provider.saml_assertion().unwrap().expose_secret().to_owned());
        } else {
            secrets.push(provider.at1().unwrap().expose_secret().to_owned());
        }
    }
    // A failing flow logs too: its errors must not carry secrets either.
    let mut bad = s.saml();
    if let AuthConfig::SamlBearer { user_id, .. } = &mut bad {
        *user_id = "nobody".into();
    }
    let err = read_all(&client(&emu, &bad), &PersonQuery::default()).await.unwrap_err();
    tracing::error!(error = %err, "sync failed");
    emu.shutdown().await;

    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("TRACE"), "trace level was captured");
    assert!(logs.contains("Token request"), "token requests are logged (without secrets)");
    for secret in &secrets {
        assert!(!secret.is_empty());
        assert!(
            !logs.contains(secret.as_str()),
            "a secret leaked into the logs: {}…",
            &secret[..12.min(secret.len())]
        );
    }
    // Generic shapes: JWT headers (`{"alg"` = `eyJhbGci`; a bare `eyJ` is also the emulator's base64-JSON $skiptoken), base64 SAML (`PHNhbWwy` = `<saml2`), PEM headers, form fields.
    for shape in
        ["eyJhbGci", "PHNhbWwy", "PRIVATE KEY", "assertion=", "client_assertion=", "Bearer "]
    {
        assert!(!logs.contains(shape), "`{shape}` appears in the logs");
    }
    let _ = std::fs::remove_dir_all(&s.dir);
}
