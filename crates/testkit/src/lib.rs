//! Real servers for hrsync's tests, started on loopback without Docker.
//!
//! - [`Slapd`]: a private OpenLDAP server per test binary (or per test): its
//!   own generated `slapd.conf`, an mdb database with `dbnosync`, a free port
//!   on 127.0.0.1, an ACL that hides `userPassword`, and a service account
//!   that is *not* the rootdn, so size limits and ACLs apply to it as they
//!   would to hrsync in production.
//! - [`SambaDc`]: one Samba Active Directory DC per test process
//!   ([`SambaDc::shared`]), provisioned into a private directory and bound to
//!   its own loopback address (127.0.0.2 and up), with a test CA whose server
//!   certificate names that address, so LDAPS and StartTLS verify for real.
//!
//! - [`ScimServer`]: scim2-server (PyPI, from the private venv) with a
//!   bearer token and dynamic tenants, one tenant per test.
//! - [`proxy::Responder`]: a scripted HTTP responder in front of a real
//!   server, for answers the server cannot be made to give.
//!
//! Every server runs under a small `sh` watchdog that holds a pipe from the
//! test process: when the test process ends, however it ends, the pipe closes
//! and the watchdog stops the server (and, for the shared DC, removes its
//! directory). Nothing is skipped silently: a missing package, a missing root
//! privilege or a server that does not come up is an error naming the step
//! and carrying the server's output.

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

mod fixtures;
pub mod proxy;
mod samba;
mod scim;
mod slapd;

pub use fixtures::{TempDir, TestClock, sf_client};

pub use samba::SambaDc;
pub use scim::{SCIM_TOKEN, ScimServer};
pub use slapd::{Slapd, SlapdOptions};

/// Why a test server could not be provided. Each variant names the step.
#[derive(Debug, thiserror::Error)]
pub enum TestkitError {
    #[error("{step}: {tool} is not installed (run scripts/test.sh, which installs {package})")]
    NotInstalled { step: &'static str, tool: &'static str, package: &'static str },
    #[error("{step}: {message}")]
    Step { step: &'static str, message: String },
    #[error("{step}: {command} failed ({status}):\n{output}")]
    Command { step: &'static str, command: String, status: String, output: String },
    #[error("{step}: I/O error on {path}: {source}")]
    Io { step: &'static str, path: PathBuf, source: std::io::Error },
    #[error("{step}: the server did not become ready within {seconds} s; its output:\n{output}")]
    NotReady { step: &'static str, seconds: u64, output: String },
}

fn io_err(step: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> TestkitError {
    let path = path.to_owned();
    move |source| TestkitError::Io { step, path, source }
}

/// A fresh private directory under the system temp dir.
fn private_dir(kind: &str) -> Result<PathBuf, TestkitError> {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("hrsync-{kind}-{}-{n}", std::process::id()));
    if dir.exists() {
        std::fs::remove_dir_all(&dir).map_err(io_err("prepare directory", &dir))?;
    }
    std::fs::create_dir_all(&dir).map_err(io_err("prepare directory", &dir))?;
    Ok(dir)
}

fn require_tool(
    step: &'static str,
    tool: &'static str,
    package: &'static str,
) -> Result<PathBuf, TestkitError> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    // Debian keeps slapd and samba in /usr/sbin, which is not on every PATH.
    let extra = [PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")];
    std::env::split_paths(&path)
        .chain(extra)
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
        .ok_or(TestkitError::NotInstalled { step, tool, package })
}

/// Run a command to completion; a non-zero exit is an error carrying its output.
fn run(step: &'static str, cmd: &mut Command) -> Result<String, TestkitError> {
    let shown = format!("{cmd:?}");
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| TestkitError::Step { step, message: format!("{shown}: {e}") })?;
    let text =
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    if !out.status.success() {
        return Err(TestkitError::Command {
            step,
            command: shown,
            status: out.status.to_string(),
            output: text,
        });
    }
    Ok(text)
}

/// A port on 127.0.0.1 that was free a moment ago.
fn free_port() -> Result<u16, TestkitError> {
    let l = TcpListener::bind("127.0.0.1:0")
        .map_err(|e| TestkitError::Step { step: "pick a free port", message: e.to_string() })?;
    l.local_addr()
        .map(|a| a.port())
        .map_err(|e| TestkitError::Step { step: "pick a free port", message: e.to_string() })
}

fn listening(addr: SocketAddr) -> bool {
    TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
}

/// A server process under an `sh` watchdog: the watchdog stops the server
/// when its stdin (held by this process) closes, then runs `cleanup`.
struct Watched {
    child: Child,
    stdin: Option<ChildStdin>,
    log: PathBuf,
}

impl Watched {
    /// `server` is a shell command that stays in the foreground.
    fn spawn(
        step: &'static str,
        server: &str,
        cleanup: &str,
        log: &Path,
    ) -> Result<Self, TestkitError> {
        let script = format!(
            "{server} >>'{log}' 2>&1 </dev/null & pid=$!\n\
             read _ignored\n\
             kill -TERM $pid 2>/dev/null; wait $pid\n\
             {cleanup}\n",
            log = log.display()
        );
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| TestkitError::Step { step, message: format!("spawn sh: {e}") })?;
        let stdin = child.stdin.take();
        Ok(Watched { child, stdin, log: log.to_owned() })
    }

    fn output(&self) -> String {
        std::fs::read_to_string(&self.log)
            .unwrap_or_else(|e| format!("(no log at {}: {e})", self.log.display()))
    }

    fn exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// Wait until `ready` holds, failing early if the server exits.
    fn wait_ready(
        &mut self,
        step: &'static str,
        limit: Duration,
        mut ready: impl FnMut() -> bool,
    ) -> Result<(), TestkitError> {
        let start = Instant::now();
        loop {
            if ready() {
                return Ok(());
            }
            if self.exited() {
                return Err(TestkitError::Step {
                    step,
                    message: format!("the server exited; its output:\n{}", self.output()),
                });
            }
            if start.elapsed() > limit {
                return Err(TestkitError::NotReady {
                    step,
                    seconds: limit.as_secs(),
                    output: self.output(),
                });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stop the server and wait for the watchdog (and its cleanup) to finish.
    fn stop(&mut self) {
        if let Some(mut stdin) = self.stdin.take() {
            // The watchdog's `read` returns on a newline or on EOF: send both.
            let _ = stdin.write_all(b"\n");
        }
        let _ = self.child.wait();
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Quote a value for a POSIX shell command line.
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Run `ldapmodify -a` (or plain `ldapmodify` when `add` is false) with an
/// LDIF on stdin, for seeding test data as an administrator.
fn ldapmodify(
    step: &'static str,
    url: &str,
    bind_dn: &str,
    password: &str,
    ca_file: Option<&Path>,
    add: bool,
    ldif: &str,
) -> Result<String, TestkitError> {
    let tool = require_tool(step, "ldapmodify", "ldap-utils")?;
    let mut cmd = Command::new(tool);
    cmd.args(["-x", "-H", url, "-D", bind_dn, "-w", password]);
    if add {
        cmd.arg("-a");
    }
    if let Some(ca) = ca_file {
        cmd.env("LDAPTLS_CACERT", ca);
    }
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let shown = format!("ldapmodify -H {url} -D {bind_dn}");
    let mut child =
        cmd.spawn().map_err(|e| TestkitError::Step { step, message: format!("{shown}: {e}") })?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(ldif.as_bytes())
            .map_err(|e| TestkitError::Step { step, message: format!("{shown}: {e}") })?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| TestkitError::Step { step, message: format!("{shown}: {e}") })?;
    let text =
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    if !out.status.success() {
        return Err(TestkitError::Command {
            step,
            command: shown,
            status: out.status.to_string(),
            output: format!("{text}\nLDIF:\n{ldif}"),
        });
    }
    Ok(text)
}

/// A test CA and a server certificate for `ip` (and `dns`), made with the
/// `openssl` command line. Returns (ca.pem, cert.pem, key.pem).
fn make_certs(
    dir: &Path,
    ip: Ipv4Addr,
    dns: &str,
) -> Result<(PathBuf, PathBuf, PathBuf), TestkitError> {
    const STEP: &str = "make test TLS certificates";
    let openssl = require_tool(STEP, "openssl", "openssl")?;
    let ca_key = dir.join("ca.key");
    let ca = dir.join("ca.pem");
    let key = dir.join("key.pem");
    let csr = dir.join("server.csr");
    let cert = dir.join("cert.pem");
    let ext = dir.join("server.ext");
    std::fs::write(&ext, format!("subjectAltName=IP:{ip},DNS:{dns}\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n"))
        .map_err(io_err(STEP, &ext))?;
    run(
        STEP,
        Command::new(&openssl)
            .args([
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=hrsync test CA",
            ])
            .arg("-keyout")
            .arg(&ca_key)
            .arg("-out")
            .arg(&ca),
    )?;
    run(
        STEP,
        Command::new(&openssl)
            .args(["req", "-newkey", "rsa:2048", "-nodes", "-subj"])
            .arg(format!("/CN={dns}"))
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&csr),
    )?;
    run(
        STEP,
        Command::new(&openssl)
            .args(["x509", "-req", "-days", "2", "-set_serial", "2"])
            .arg("-in")
            .arg(&csr)
            .arg("-CA")
            .arg(&ca)
            .arg("-CAkey")
            .arg(&ca_key)
            .arg("-extfile")
            .arg(&ext)
            .arg("-out")
            .arg(&cert),
    )?;
    // Samba refuses a key file that others can read.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600))
            .map_err(io_err(STEP, &key))?;
    }
    Ok((ca, cert, key))
}
