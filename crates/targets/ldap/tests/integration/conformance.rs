//! The target conformance suite (`hrsync_target::testing::conformance`)
//! against a real slapd and a real Samba AD DC. Each run works in an OU of
//! its own, with names and values tagged per run.

use async_trait::async_trait;
use hrsync_target::testing::conformance::{self, Fixture, Manager};
use hrsync_target::{Attributes, Target, attr};
use hrsync_target_ldap::{DisableStrategy, LdapConfig, LdapTarget, Profile};
use hrsync_testkit::{SambaDc, Slapd};
use secrecy::SecretString;
use serde_json::{Value, json};

/// Either directory, as the suite sees it.
struct Directory {
    config: LdapConfig,
}

impl Directory {
    fn target(&self) -> Box<dyn Target> {
        Box::new(LdapTarget::new(self.config.clone()).expect("valid target config"))
    }
    fn is_ad(&self) -> bool {
        self.config.profile == Profile::ActiveDirectory
    }
}

#[async_trait]
impl Fixture for Directory {
    async fn open(&self) -> Box<dyn Target> {
        self.target()
    }
    /// A new target: its own pool and no caches.
    async fn open_another(&self) -> Box<dyn Target> {
        self.target()
    }
    fn account(&self, name: &str, value: &str) -> Attributes {
        let mut a = Attributes::new();
        a.insert("cn".into(), json!(name));
        a.insert("sn".into(), json!("Conformance"));
        if self.is_ad() {
            a.insert("sAMAccountName".into(), json!(name));
            a.insert("employeeID".into(), json!(value));
        } else {
            a.insert("employeeNumber".into(), json!(value));
        }
        a
    }
    fn matching_attribute(&self) -> &str {
        // The manager match attribute of each profile.
        if self.is_ad() { "employeeID" } else { "employeeNumber" }
    }
    fn text_attributes(&self) -> [&str; 2] {
        if self.is_ad() { ["title", "department"] } else { ["title", "description"] }
    }
    fn manager(&self) -> Manager {
        Manager::ResolvedByMatching
    }
    fn secret(&self) -> Option<(&str, Value)> {
        Some(if self.is_ad() {
            (attr::UNICODE_PWD, json!("Conf0rm!Pass-1x"))
        } else {
            (attr::USER_PASSWORD, json!("Conf0rm!Pass-1x"))
        })
    }
}

/// The shared slapd, searches kept in an OU of their own (`ou`): other
/// tests share the server.
fn openldap(name: &str) -> Directory {
    let s = Slapd::shared().expect("slapd");
    let ou = format!("ou={name},{}", s.suffix());
    s.add_ldif(&format!("dn: {ou}\nobjectClass: organizationalUnit\nou: {name}\n")).expect("OU");
    let mut config = LdapConfig::new(
        s.url(),
        s.service_dn(),
        SecretString::from(s.service_password()),
        ou.clone(),
        Profile::InetOrgPerson,
    );
    config.default_container = Some(ou);
    config.disable = Some(DisableStrategy::Attribute {
        attribute: "employeeType".into(),
        value: "disabled".into(),
    });
    config.pool_size = 2;
    Directory { config }
}

/// The shared Samba AD DC, in an OU of its own named `ou`.
fn active_directory(ou: &str) -> Directory {
    let dc = SambaDc::shared()
        .unwrap_or_else(|e| panic!("the Samba AD DC is required for this test: {e}"));
    let ou = dc.create_ou(ou).expect("OU");
    let mut config = LdapConfig::new(
        dc.ldaps_url(),
        dc.admin_upn(),
        SecretString::from(dc.admin_password()),
        dc.base_dn(),
        Profile::ActiveDirectory,
    );
    config.ca_file = Some(dc.ca_file());
    config.default_container = Some(ou);
    config.pool_size = 2;
    Directory { config }
}

#[tokio::test]
async fn the_ldap_target_conforms_against_openldap() {
    let report = conformance::run(&openldap("conformance")).await;
    report.assert_ok();
    assert_eq!(report.passed.len(), conformance::CHECKS.len());
}

/// Each check fails against slapd behind a target broken on purpose (one
/// flaw at a time): the suite looks at what this target does.
#[tokio::test]
async fn each_conformance_check_fails_against_a_sabotaged_openldap_target() {
    conformance::assert_each_check_can_fail(&openldap("conformance-sabotaged"), &[]).await;
}

#[tokio::test]
async fn the_ldap_target_conforms_against_active_directory() {
    let report = conformance::run(&active_directory("conformance")).await;
    report.assert_ok();
    assert_eq!(report.passed.len(), conformance::CHECKS.len());
}

#[tokio::test]
async fn each_conformance_check_fails_against_a_sabotaged_active_directory_target() {
    conformance::assert_each_check_can_fail(&active_directory("conformance-sabotaged"), &[]).await;
}
