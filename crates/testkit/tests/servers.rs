//! The servers come up, answer LDAP, and go away.

use std::process::Command;

use hrsync_testkit::{SambaDc, Slapd, SlapdOptions};

fn ldapsearch(
    url: &str,
    dn: &str,
    pw: &str,
    base: &str,
    ca: Option<&std::path::Path>,
    extra: &[&str],
) -> (bool, String) {
    let mut c = Command::new("ldapsearch");
    c.args(["-x", "-LLL", "-H", url, "-D", dn, "-w", pw, "-b", base]).args(extra);
    if let Some(ca) = ca {
        c.env("LDAPTLS_CACERT", ca);
    }
    let o = c.output().unwrap();
    (
        o.status.success(),
        format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr)),
    )
}

#[test]
fn slapd_serves_hides_passwords_limits_sizes_and_restarts() {
    let mut s = Slapd::start_with(&SlapdOptions { size_limit: 3 }).unwrap();
    let dir = s.dir().to_owned();
    // The service account sees the tree but not userPassword.
    let (ok, out) = ldapsearch(
        &s.url(),
        s.service_dn(),
        s.service_password(),
        "ou=services,dc=hrsync,dc=test",
        None,
        &["(cn=reader)", "userPassword", "cn"],
    );
    assert!(ok, "{out}");
    assert!(out.contains("cn: reader") && !out.contains("userPassword"), "{out}");
    // Unpaged searches stop at the size limit; paged ones do not.
    let (ok, out) = ldapsearch(
        &s.url(),
        s.service_dn(),
        s.service_password(),
        s.suffix(),
        None,
        &["(objectClass=*)", "dn"],
    );
    assert!(!ok && out.contains("Size limit exceeded"), "{out}");
    let (ok, out) = ldapsearch(
        &s.url(),
        s.service_dn(),
        s.service_password(),
        s.suffix(),
        None,
        &["-E", "pr=2/noprompt", "(objectClass=*)", "dn"],
    );
    assert!(ok, "{out}");
    assert_eq!(out.matches("dn: ").count(), 6, "{out}");
    // StartTLS and LDAPS verify against the test CA.
    let (ok, out) = ldapsearch(
        &s.url(),
        s.reader_dn(),
        s.reader_password(),
        s.suffix(),
        Some(&s.ca_file()),
        &["-ZZ", "-s", "base", "dn"],
    );
    assert!(ok, "{out}");
    let (ok, out) = ldapsearch(
        &s.ldaps_url(),
        s.reader_dn(),
        s.reader_password(),
        s.suffix(),
        Some(&s.ca_file()),
        &["-s", "base", "dn"],
    );
    assert!(ok, "{out}");
    // Data survives a restart on the same port.
    s.add_ldif("dn: cn=x,ou=people,dc=hrsync,dc=test\nobjectClass: person\ncn: x\nsn: y\n")
        .unwrap();
    let url = s.url();
    s.restart().unwrap();
    assert_eq!(s.url(), url);
    let (ok, out) = ldapsearch(
        &s.url(),
        s.root_dn(),
        s.root_password(),
        "ou=people,dc=hrsync,dc=test",
        None,
        &["(cn=x)", "sn"],
    );
    assert!(ok && out.contains("sn: y"), "{out}");
    drop(s);
    assert!(!dir.exists(), "the private directory is removed");
}

#[test]
fn samba_dc_answers_ldaps_and_starttls_with_a_verified_certificate() {
    let dc = SambaDc::shared().unwrap();
    let ou = dc.create_ou("testkit").unwrap();
    let (ok, out) = ldapsearch(
        &dc.ldaps_url(),
        &dc.admin_upn(),
        dc.admin_password(),
        &ou,
        Some(&dc.ca_file()),
        &["-s", "base", "ou"],
    );
    assert!(ok && out.contains("ou: testkit"), "{out}");
    let (ok, out) = ldapsearch(
        &dc.ldap_url(),
        &dc.admin_upn(),
        dc.admin_password(),
        dc.base_dn(),
        Some(&dc.ca_file()),
        &["-ZZ", "-s", "base", "dn"],
    );
    assert!(ok, "{out}");
    // Plain simple binds are refused, as on Windows AD.
    let (ok, out) = ldapsearch(
        &dc.ldap_url(),
        &dc.admin_upn(),
        dc.admin_password(),
        dc.base_dn(),
        None,
        &["-s", "base", "dn"],
    );
    assert!(!ok && out.contains("Strong(er) authentication required"), "{out}");
}
