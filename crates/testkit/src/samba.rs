//! A Samba Active Directory DC on its own loopback address.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use crate::{
    TestkitError, Watched, io_err, ldapmodify, listening, make_certs, private_dir, require_tool,
    run, sh_quote,
};

const REALM: &str = "HRSYNC.TEST";
const DOMAIN: &str = "HRSYNC";
const BASE_DN: &str = "DC=hrsync,DC=test";
const ADMIN_PASSWORD: &str = "Passw0rd!Test-1";

/// A running Samba AD DC for the domain `hrsync.test` (`DC=hrsync,DC=test`),
/// listening only on [`SambaDc::address`] (127.0.0.2 or the next free one),
/// with a certificate for that address issued by [`SambaDc::ca_file`].
///
/// Samba's LDAP ports are fixed at 389/636, so several DCs (several test
/// runs) coexist by address: each takes a lock file
/// `$TMPDIR/hrsync-samba-<addr>.lock` naming its process, and a lock whose
/// process is gone is taken over. The default password policy (complexity
/// on) is kept, so generated passwords are tested against it.
pub struct SambaDc {
    dir: PathBuf,
    address: Ipv4Addr,
    lock: PathBuf,
    server: Option<Watched>,
}

impl SambaDc {
    /// The DC shared by every test in this process: provisioned on first use
    /// (about 10 s) and stopped, with its directory removed, when the process
    /// exits. Tests share it by working in their own OU ([`SambaDc::create_ou`]).
    pub fn shared() -> Result<&'static SambaDc, TestkitError> {
        static SHARED: OnceLock<Result<SambaDc, String>> = OnceLock::new();
        SHARED.get_or_init(|| SambaDc::start().map_err(|e| e.to_string())).as_ref().map_err(
            |message| TestkitError::Step { step: "shared Samba AD DC", message: message.clone() },
        )
    }

    /// Provision and start a DC of its own (prefer [`SambaDc::shared`]).
    pub fn start() -> Result<SambaDc, TestkitError> {
        require_root()?;
        let samba = require_tool("start Samba AD DC", "samba", "samba-ad-dc")?;
        let samba_tool = require_tool("provision Samba AD DC", "samba-tool", "samba-ad-provision")?;
        require_tool("wait for Samba AD DC", "ldapsearch", "ldap-utils")?;
        let (address, lock) = claim_address()?;
        let dir = match private_dir("samba") {
            Ok(d) => d,
            Err(e) => {
                let _ = std::fs::remove_file(&lock);
                return Err(e);
            }
        };
        // From here on the value owns the lock and the directory, so every
        // early return cleans them up through Drop.
        let mut dc = SambaDc { dir, address, lock, server: None };
        dc.provision(&samba_tool)?;
        let d = dc.dir.display().to_string();
        let cmd = format!(
            "{} -i -M single -s {}",
            sh_quote(&samba.display().to_string()),
            sh_quote(&format!("{d}/etc/smb.conf"))
        );
        let cleanup =
            format!("rm -rf {}; rm -f {}", sh_quote(&d), sh_quote(&dc.lock.display().to_string()));
        let mut server =
            Watched::spawn("start Samba AD DC", &cmd, &cleanup, &dc.dir.join("samba.log"))?;
        let ldaps = SocketAddr::from((address, 636));
        let probe = dc.probe_command();
        let ready =
            server.wait_ready("wait for Samba AD DC (LDAPS)", Duration::from_secs(90), || {
                listening(ldaps) && probe_ok(&probe)
            });
        dc.server = Some(server);
        ready?;
        Ok(dc)
    }

    fn provision(&self, samba_tool: &Path) -> Result<(), TestkitError> {
        let d = self.dir.display().to_string();
        for sub in ["log", "run"] {
            let p = self.dir.join(sub);
            std::fs::create_dir_all(&p).map_err(io_err("prepare Samba directory", &p))?;
        }
        let certs = self.dir.join("certs");
        std::fs::create_dir_all(&certs).map_err(io_err("prepare Samba directory", &certs))?;
        let (ca, cert, key) = make_certs(&certs, self.address, "dc1.hrsync.test")?;
        let options = [
            format!("interfaces={}/8", self.address),
            "bind interfaces only=yes".to_owned(),
            format!("pid directory={d}/run"),
            format!("lock directory={d}/run"),
            format!("state directory={d}/state"),
            format!("cache directory={d}/cache"),
            format!("log file={d}/log/log.%m"),
            format!("ncalrpc dir={d}/run/ncalrpc"),
            format!("winbindd socket directory={d}/run/winbindd"),
            format!("ntp signd socket directory={d}/run/ntp_signd"),
            format!("smb passwd file={d}/private/smbpasswd"),
            format!("usershare path={d}/usershares"),
            // One process and only what LDAP needs: lighter on 2 cores.
            "server services=ldap,cldap,kdc,rpc,drepl,kcc".to_owned(),
        ];
        let mut cmd = Command::new(samba_tool);
        cmd.args(["domain", "provision"])
            .arg(format!("--targetdir={d}"))
            .arg(format!("--realm={REALM}"))
            .arg(format!("--domain={DOMAIN}"))
            .args(["--server-role=dc", "--dns-backend=NONE", "--use-rfc2307", "--host-name=dc1"])
            .arg(format!("--host-ip={}", self.address))
            .arg(format!("--adminpass={ADMIN_PASSWORD}"));
        for o in &options {
            cmd.arg(format!("--option={o}"));
        }
        run("provision Samba AD DC (samba-tool domain provision)", &mut cmd)?;
        // Provision does not write the TLS options it is given; put them in [global].
        let conf = self.dir.join("etc/smb.conf");
        let text = std::fs::read_to_string(&conf).map_err(io_err("configure Samba TLS", &conf))?;
        let tls = format!(
            "[global]\n\ttls enabled = yes\n\ttls keyfile = {}\n\ttls certfile = {}\n\ttls cafile = {}\n",
            key.display(),
            cert.display(),
            ca.display()
        );
        if !text.contains("[global]\n") {
            return Err(TestkitError::Step {
                step: "configure Samba TLS",
                message: format!("no [global] section in {}", conf.display()),
            });
        }
        std::fs::write(&conf, text.replacen("[global]\n", &tls, 1))
            .map_err(io_err("configure Samba TLS", &conf))?;
        Ok(())
    }

    fn probe_command(&self) -> Command {
        let mut cmd = Command::new("ldapsearch");
        cmd.args([
            "-x",
            "-H",
            &self.ldaps_url(),
            "-D",
            &self.admin_upn(),
            "-w",
            ADMIN_PASSWORD,
            "-s",
            "base",
            "-b",
            BASE_DN,
            "dn",
        ])
        .env("LDAPTLS_CACERT", self.ca_file());
        cmd
    }

    /// The loopback address the DC listens on.
    pub fn address(&self) -> Ipv4Addr {
        self.address
    }
    /// `ldaps://ADDR` (port 636).
    pub fn ldaps_url(&self) -> String {
        format!("ldaps://{}", self.address)
    }
    /// `ldap://ADDR` (port 389): Samba requires StartTLS here for simple binds.
    pub fn ldap_url(&self) -> String {
        format!("ldap://{}", self.address)
    }
    /// The PEM file of the CA that issued the DC's certificate.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.join("certs/ca.pem")
    }
    /// `DC=hrsync,DC=test`.
    pub fn base_dn(&self) -> &'static str {
        BASE_DN
    }
    /// `HRSYNC.TEST`.
    pub fn realm(&self) -> &'static str {
        REALM
    }
    pub fn admin_dn(&self) -> String {
        format!("CN=Administrator,CN=Users,{BASE_DN}")
    }
    pub fn admin_upn(&self) -> String {
        format!("Administrator@{REALM}")
    }
    pub fn admin_password(&self) -> &'static str {
        ADMIN_PASSWORD
    }
    /// The private directory (provisioned data, logs, certificates).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Create `OU=<name>` under the domain root and return its DN.
    pub fn create_ou(&self, name: &str) -> Result<String, TestkitError> {
        let dn = format!("OU={name},{BASE_DN}");
        self.add_ldif(&format!("dn: {dn}\nobjectClass: organizationalUnit\nou: {name}\n"))?;
        Ok(dn)
    }

    /// Add the entries of an LDIF as Administrator, over LDAPS.
    pub fn add_ldif(&self, ldif: &str) -> Result<(), TestkitError> {
        let ca = self.ca_file();
        ldapmodify(
            "add test entries to Samba",
            &self.ldaps_url(),
            &self.admin_upn(),
            ADMIN_PASSWORD,
            Some(&ca),
            true,
            ldif,
        )
        .map(|_| ())
    }

    /// Apply an LDIF of changes as Administrator, over LDAPS.
    pub fn modify_ldif(&self, ldif: &str) -> Result<(), TestkitError> {
        let ca = self.ca_file();
        ldapmodify(
            "modify test entries in Samba",
            &self.ldaps_url(),
            &self.admin_upn(),
            ADMIN_PASSWORD,
            Some(&ca),
            false,
            ldif,
        )
        .map(|_| ())
    }
}

impl Drop for SambaDc {
    fn drop(&mut self) {
        if let Some(mut s) = self.server.take() {
            s.stop();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
        let _ = std::fs::remove_file(&self.lock);
    }
}

fn probe_ok(cmd: &Command) -> bool {
    let mut c = Command::new(cmd.get_program());
    c.args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        if let Some(v) = v {
            c.env(k, v);
        }
    }
    c.stdin(std::process::Stdio::null()).output().is_ok_and(|o| o.status.success())
}

fn require_root() -> Result<(), TestkitError> {
    let out = run("check for root (Samba AD DC needs it)", Command::new("id").arg("-u"))?;
    if out.trim() != "0" {
        return Err(TestkitError::Step {
            step: "check for root",
            message: format!(
                "a Samba AD DC can only run as root, and this process runs as uid {}",
                out.trim()
            ),
        });
    }
    Ok(())
}

/// Take the first loopback address from 127.0.0.2 on that no other DC holds.
fn claim_address() -> Result<(Ipv4Addr, PathBuf), TestkitError> {
    const STEP: &str = "claim a loopback address for Samba";
    for last in 2..=254u8 {
        let addr = Ipv4Addr::new(127, 0, 0, last);
        let lock = std::env::temp_dir().join(format!("hrsync-samba-{addr}.lock"));
        let created = std::fs::OpenOptions::new().write(true).create_new(true).open(&lock);
        match created {
            Ok(mut f) => {
                use std::io::Write;
                f.write_all(std::process::id().to_string().as_bytes())
                    .map_err(io_err(STEP, &lock))?;
                if listening(SocketAddr::from((addr, 389))) {
                    // Someone else's server, started without our lock.
                    let _ = std::fs::remove_file(&lock);
                    continue;
                }
                return Ok((addr, lock));
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let holder = std::fs::read_to_string(&lock).unwrap_or_default();
                let alive = holder
                    .trim()
                    .parse::<u32>()
                    .is_ok_and(|pid| Path::new(&format!("/proc/{pid}")).exists());
                if !alive && !listening(SocketAddr::from((addr, 389))) {
                    // A stale lock from a killed run: take it over.
                    std::fs::write(&lock, std::process::id().to_string())
                        .map_err(io_err(STEP, &lock))?;
                    return Ok((addr, lock));
                }
            }
            Err(e) => return Err(TestkitError::Io { step: STEP, path: lock, source: e }),
        }
    }
    Err(TestkitError::Step {
        step: STEP,
        message: "every address 127.0.0.2-254 is taken by another DC".into(),
    })
}
