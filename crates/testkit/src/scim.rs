//! A private scim2-server (PyPI), in-memory, on a free loopback port.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use crate::{TestkitError, Watched, free_port, listening, private_dir, sh_quote};

/// A running scim2-server with `--bearer-token` and `--dynamic-tenants`:
/// each test takes a tenant of its own ([`ScimServer::tenant_url`]), so
/// tests share one server without seeing each other's users.
pub struct ScimServer {
    dir: PathBuf,
    port: u16,
    server: Option<Watched>,
}

/// The token the server accepts.
pub const SCIM_TOKEN: &str = "hrsync-test-scim-token";

/// The scim2-server executable: `HRSYNC_SCIM2_SERVER`, else the private
/// venv scripts/test.sh makes (`target/pyvenv`, or `$CARGO_TARGET_DIR/pyvenv`).
fn executable() -> Result<PathBuf, TestkitError> {
    let mut candidates = Vec::new();
    if let Some(p) = std::env::var_os("HRSYNC_SCIM2_SERVER") {
        candidates.push(PathBuf::from(p));
    }
    if let Some(t) = std::env::var_os("CARGO_TARGET_DIR") {
        candidates.push(PathBuf::from(t).join("pyvenv/bin/scim2-server"));
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    candidates.push(root.join("target/pyvenv/bin/scim2-server"));
    candidates.into_iter().find(|p| p.is_file()).ok_or(TestkitError::NotInstalled {
        step: "start scim2-server",
        tool: "scim2-server",
        package: "scim2-server (PyPI, into target/pyvenv)",
    })
}

impl ScimServer {
    /// One server shared by every test in this process.
    pub fn shared() -> Result<&'static ScimServer, TestkitError> {
        static SHARED: std::sync::OnceLock<Result<ScimServer, String>> = std::sync::OnceLock::new();
        SHARED.get_or_init(|| ScimServer::start().map_err(|e| e.to_string())).as_ref().map_err(
            |message| TestkitError::Step { step: "shared scim2-server", message: message.clone() },
        )
    }

    /// Start a server of its own (stopped when dropped).
    pub fn start() -> Result<ScimServer, TestkitError> {
        Self::start_with(None)
    }

    /// Start a server of its own serving these schemas and resource types
    /// (JSON, as `GET /Schemas` and `GET /ResourceTypes` list them) instead
    /// of its defaults: scim2-server builds its models from them, so a
    /// schema's `"required": true` is enforced (`--schema`, `--resource-type`).
    pub fn start_with_schemas(
        schemas: &serde_json::Value,
        resource_types: &serde_json::Value,
    ) -> Result<ScimServer, TestkitError> {
        Self::start_with(Some((schemas, resource_types)))
    }

    fn start_with(
        files: Option<(&serde_json::Value, &serde_json::Value)>,
    ) -> Result<ScimServer, TestkitError> {
        let exe = executable()?;
        let dir = private_dir("scim")?;
        let mut extra = String::new();
        if let Some((schemas, types)) = files {
            for (name, flag, v) in
                [("schemas.json", "--schema", schemas), ("types.json", "--resource-type", types)]
            {
                let path = dir.join(name);
                std::fs::write(&path, v.to_string()).map_err(|e| TestkitError::Step {
                    step: "write the scim2-server schema",
                    message: format!("{}: {e}", path.display()),
                })?;
                extra.push_str(&format!(" {flag} {}", sh_quote(&path.display().to_string())));
            }
        }
        let mut last = None;
        // Another process may take the port between the probe and the bind.
        for _ in 0..5 {
            let port = free_port()?;
            let cmd = format!(
                "{} --hostname 127.0.0.1 --port {port} --bearer-token {} --dynamic-tenants{extra}",
                sh_quote(&exe.display().to_string()),
                sh_quote(SCIM_TOKEN)
            );
            let mut server = Watched::spawn("start scim2-server", &cmd, "", &dir.join("scim.log"))?;
            let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
            match server
                .wait_ready("wait for scim2-server", Duration::from_secs(30), || listening(addr))
            {
                Ok(()) => return Ok(ScimServer { dir, port, server: Some(server) }),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or(TestkitError::Step {
            step: "start scim2-server",
            message: "no attempt made".into(),
        }))
    }

    /// The SCIM base URL of a tenant (created on first use).
    pub fn tenant_url(&self, tenant: &str) -> String {
        format!("http://127.0.0.1:{}/{tenant}/v2", self.port)
    }

    pub fn token(&self) -> &'static str {
        SCIM_TOKEN
    }
}

impl Drop for ScimServer {
    fn drop(&mut self) {
        if let Some(mut s) = self.server.take() {
            s.stop();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
