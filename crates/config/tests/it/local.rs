//! `Config::load_local`: what `hrsync status` and `hrsync logs` load. Every
//! check but the secrets: no password, bind secret or OAuth key is read, so
//! reading the local state needs none of them.

use crate::common;

use common::*;
use hrsync_config::Config;

#[test]
fn local_load_reads_no_secret_but_checks_everything_else() {
    let dir = temp_dir("local");
    let unset = "HRSYNC_CONFIG_TEST_NEVER_SET";
    let cases = [
        with_lines(&[(10, &format!("password_env = \"{unset}\""))]),
        with_lines(&[(10, "password_file = \"missing-password\"")]),
        with_lines(&[
            (8, "method = \"saml-bearer\""),
            (9, "client_id = \"c\"\nuser_id = \"sfapi\""),
            (
                10,
                "private_key_file = \"keys/missing.pem\"\ncertificate_file = \"keys/missing-cert.pem\"",
            ),
        ]),
        with_lines(&[
            (13, "kind = \"ldap\""),
            (
                14,
                &format!(
                    "connection = {{ url = \"ldaps://dc1.example.com\", profile = \"active-directory\", base_dn = \"dc=example,dc=com\", bind_dn = \"cn=hrsync,dc=example,dc=com\", password_env = \"{unset}\" }}"
                ),
            ),
        ]),
    ];
    for (i, text) in cases.iter().enumerate() {
        let path = dir.join(format!("case{i}.toml"));
        std::fs::write(&path, text).expect("write");
        let full = common::load(&path).expect_err("the full load needs the secret");
        assert!(
            full.errors()
                .iter()
                .any(|e| e.cause.contains("not set") || e.cause.contains("cannot read")),
            "case {i}: {full}"
        );
        let local = Config::load_local(&path).unwrap_or_else(|e| panic!("case {i}: {e}"));
        assert!(!local.secrets_read, "case {i}");
        assert_eq!(local.state.path, dir.join("hrsync-state.sqlite"));
    }
    // Not a way around validation: other mistakes are still reported.
    let path = dir.join("bad.toml");
    std::fs::write(&path, with_lines(&[(4, "page_size = 5000")])).expect("write");
    let errs = Config::load_local(&path).expect_err("page_size checked");
    assert!(errs.to_string().contains("source.page_size"), "{errs}");
    // And the full load still reads the secret when it is there.
    let ok = parse(BASE).expect("base loads");
    assert!(ok.secrets_read);
}
