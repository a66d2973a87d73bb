//! A private OpenLDAP slapd.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::{
    TestkitError, Watched, free_port, io_err, ldapmodify, listening, make_certs, private_dir,
    require_tool, run, sh_quote,
};

/// How to configure a [`Slapd`].
#[derive(Debug, Clone)]
pub struct SlapdOptions {
    /// Entries one unpaged search may return to the service and reader
    /// accounts (the rootdn is never limited). Paged searches may return any
    /// number in total, at most this many per page.
    pub size_limit: u32,
}

impl Default for SlapdOptions {
    fn default() -> Self {
        // slapd's own default, the limit that bites connectors in production.
        SlapdOptions { size_limit: 500 }
    }
}

/// A running private slapd on 127.0.0.1 with a fresh database.
///
/// The tree: `dc=hrsync,dc=test` with `ou=people`, `ou=disabled` and
/// `ou=services`. [`Slapd::service_dn`] may write everywhere (but only write,
/// never read, `userPassword`); [`Slapd::reader_dn`] may only read. The server
/// speaks plain LDAP, StartTLS and LDAPS on two free ports, with a certificate
/// for 127.0.0.1 issued by [`Slapd::ca_file`].
pub struct Slapd {
    dir: PathBuf,
    port: u16,
    tls_port: u16,
    server: Option<Watched>,
    /// The shared instance is never dropped: its watchdog removes the directory.
    remove_on_exit: bool,
}

const SUFFIX: &str = "dc=hrsync,dc=test";
const ROOT_DN: &str = "cn=admin,dc=hrsync,dc=test";
const ROOT_PASSWORD: &str = "admin-secret";
const SERVICE_DN: &str = "cn=hrsync,ou=services,dc=hrsync,dc=test";
const SERVICE_PASSWORD: &str = "service-secret";
const READER_DN: &str = "cn=reader,ou=services,dc=hrsync,dc=test";
const READER_PASSWORD: &str = "reader-secret";

impl Slapd {
    /// One slapd with the default options shared by every test in this
    /// process, stopped and removed when the process exits. Tests that
    /// restart the server or need other options start their own.
    pub fn shared() -> Result<&'static Slapd, TestkitError> {
        static SHARED: std::sync::OnceLock<Result<Slapd, String>> = std::sync::OnceLock::new();
        SHARED
            .get_or_init(|| {
                Slapd::start_inner(&SlapdOptions::default(), true).map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(|message| TestkitError::Step {
                step: "shared slapd",
                message: message.clone(),
            })
    }

    /// Start a slapd with the default options.
    pub fn start() -> Result<Slapd, TestkitError> {
        Slapd::start_with(&SlapdOptions::default())
    }

    /// Generate a config and a seeded database in a private directory, start
    /// slapd on free ports and wait until it accepts connections.
    pub fn start_with(options: &SlapdOptions) -> Result<Slapd, TestkitError> {
        Slapd::start_inner(options, false)
    }

    fn start_inner(options: &SlapdOptions, remove_on_exit: bool) -> Result<Slapd, TestkitError> {
        require_tool("start slapd", "slapd", "slapd")?;
        let slapadd = require_tool("seed slapd", "slapadd", "slapd")?;
        let dir = private_dir("slapd")?;
        let data = dir.join("data");
        std::fs::create_dir_all(&data).map_err(io_err("prepare slapd directory", &data))?;
        let (ca, cert, key) = make_certs(&dir, Ipv4Addr::LOCALHOST, "localhost")?;
        let conf = dir.join("slapd.conf");
        std::fs::write(&conf, config(&dir, &ca, &cert, &key, options.size_limit))
            .map_err(io_err("write slapd.conf", &conf))?;
        let seed = dir.join("seed.ldif");
        std::fs::write(&seed, SEED).map_err(io_err("write seed LDIF", &seed))?;
        run(
            "seed slapd (slapadd)",
            Command::new(slapadd).arg("-q").arg("-f").arg(&conf).arg("-l").arg(&seed),
        )?;
        let mut slapd = Slapd { dir, port: 0, tls_port: 0, server: None, remove_on_exit };
        slapd.launch()?;
        Ok(slapd)
    }

    fn launch(&mut self) -> Result<(), TestkitError> {
        // Another process may take a port between the probe and slapd's bind;
        // slapd then exits at once and we try other ports.
        let mut last = None;
        for _ in 0..5 {
            let (port, tls_port) = if self.port != 0 {
                (self.port, self.tls_port)
            } else {
                (free_port()?, free_port()?)
            };
            let slapd = require_tool("start slapd", "slapd", "slapd")?;
            let urls = format!("ldap://127.0.0.1:{port}/ ldaps://127.0.0.1:{tls_port}/");
            let cmd = format!(
                "{} -d 0 -f {} -h {}",
                sh_quote(&slapd.display().to_string()),
                sh_quote(&self.dir.join("slapd.conf").display().to_string()),
                sh_quote(&urls)
            );
            let cleanup = if self.remove_on_exit {
                format!("rm -rf {}", sh_quote(&self.dir.display().to_string()))
            } else {
                String::new()
            };
            let mut server =
                Watched::spawn("start slapd", &cmd, &cleanup, &self.dir.join("slapd.log"))?;
            let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
            match server.wait_ready("wait for slapd", Duration::from_secs(20), || listening(addr)) {
                Ok(()) => {
                    self.port = port;
                    self.tls_port = tls_port;
                    self.server = Some(server);
                    return Ok(());
                }
                Err(e) => {
                    last = Some(e);
                    if self.port != 0 {
                        // A restart must keep its port; retrying elsewhere would hide the failure.
                        std::thread::sleep(Duration::from_millis(300));
                    }
                }
            }
        }
        Err(last.unwrap_or(TestkitError::Step {
            step: "start slapd",
            message: "no attempt made".into(),
        }))
    }

    /// Stop the server (SIGTERM, wait) and start it again on the same ports
    /// with the same data, for tests of connection recovery.
    pub fn restart(&mut self) -> Result<(), TestkitError> {
        self.stop();
        self.launch()
    }

    /// Stop the server; the data stays until the value is dropped.
    pub fn stop(&mut self) {
        if let Some(mut s) = self.server.take() {
            s.stop();
        }
    }

    /// `ldap://127.0.0.1:PORT` (plain, StartTLS-capable).
    pub fn url(&self) -> String {
        format!("ldap://127.0.0.1:{}", self.port)
    }
    /// `ldaps://127.0.0.1:PORT`.
    pub fn ldaps_url(&self) -> String {
        format!("ldaps://127.0.0.1:{}", self.tls_port)
    }
    /// The PEM file of the CA that issued the server certificate.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }
    pub fn suffix(&self) -> &'static str {
        SUFFIX
    }
    pub fn root_dn(&self) -> &'static str {
        ROOT_DN
    }
    pub fn root_password(&self) -> &'static str {
        ROOT_PASSWORD
    }
    /// The account hrsync binds as: write access, subject to size limits.
    pub fn service_dn(&self) -> &'static str {
        SERVICE_DN
    }
    pub fn service_password(&self) -> &'static str {
        SERVICE_PASSWORD
    }
    /// A read-only account, for permission checks.
    pub fn reader_dn(&self) -> &'static str {
        READER_DN
    }
    pub fn reader_password(&self) -> &'static str {
        READER_PASSWORD
    }
    /// The private directory (config, data, log).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Add the entries of an LDIF as the rootdn.
    pub fn add_ldif(&self, ldif: &str) -> Result<(), TestkitError> {
        ldapmodify(
            "add test entries to slapd",
            &self.url(),
            ROOT_DN,
            ROOT_PASSWORD,
            None,
            true,
            ldif,
        )
        .map(|_| ())
    }

    /// Apply an LDIF of changes (`changetype: ...`) as the rootdn.
    pub fn modify_ldif(&self, ldif: &str) -> Result<(), TestkitError> {
        ldapmodify(
            "modify test entries in slapd",
            &self.url(),
            ROOT_DN,
            ROOT_PASSWORD,
            None,
            false,
            ldif,
        )
        .map(|_| ())
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn config(dir: &Path, ca: &Path, cert: &Path, key: &Path, size_limit: u32) -> String {
    let d = dir.display();
    format!(
        r#"include         /etc/ldap/schema/core.schema
include         /etc/ldap/schema/cosine.schema
include         /etc/ldap/schema/inetorgperson.schema
include         /etc/ldap/schema/nis.schema
pidfile         {d}/slapd.pid
argsfile        {d}/slapd.args
modulepath      /usr/lib/ldap
moduleload      back_mdb
TLSCACertificateFile  {ca}
TLSCertificateFile    {cert}
TLSCertificateKeyFile {key}
sizelimit       {size_limit}

database        mdb
maxsize         1073741824
suffix          "{SUFFIX}"
rootdn          "{ROOT_DN}"
rootpw          {ROOT_PASSWORD}
directory       {d}/data
dbnosync
index           objectClass eq
index           uid,cn,mail,employeeNumber,entryUUID eq
# Paged searches may return any total; one page or one unpaged search at most {size_limit}.
limits users size.soft={size_limit} size.hard={size_limit} size.pr={size_limit} size.prtotal=unlimited
# Without these, anyone (anonymous included) can read userPassword.
access to attrs=userPassword
        by self write
        by dn.exact="{SERVICE_DN}" =w
        by anonymous auth
        by * none
access to *
        by dn.exact="{SERVICE_DN}" write
        by users read
        by * none
"#,
        ca = ca.display(),
        cert = cert.display(),
        key = key.display(),
    )
}

const SEED: &str = "dn: dc=hrsync,dc=test
objectClass: dcObject
objectClass: organization
dc: hrsync
o: hrsync test

dn: ou=people,dc=hrsync,dc=test
objectClass: organizationalUnit
ou: people

dn: ou=disabled,dc=hrsync,dc=test
objectClass: organizationalUnit
ou: disabled

dn: ou=services,dc=hrsync,dc=test
objectClass: organizationalUnit
ou: services

dn: cn=hrsync,ou=services,dc=hrsync,dc=test
objectClass: applicationProcess
objectClass: simpleSecurityObject
cn: hrsync
userPassword: service-secret

dn: cn=reader,ou=services,dc=hrsync,dc=test
objectClass: applicationProcess
objectClass: simpleSecurityObject
cn: reader
userPassword: reader-secret
";
