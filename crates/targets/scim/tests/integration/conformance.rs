//! The target conformance suite against a real scim2-server, a tenant per run.

use async_trait::async_trait;
use hrsync_target::testing::conformance::{self, Fixture, Manager};
use hrsync_target::{Attributes, Target, attr};
use hrsync_target_scim::{ScimConfig, ScimTarget};
use hrsync_testkit::ScimServer;
use secrecy::SecretString;
use serde_json::{Value, json};

struct Scim {
    config: ScimConfig,
}

fn scim(tenant: &str) -> Scim {
    let s = ScimServer::shared().unwrap_or_else(|e| panic!("scim2-server is required: {e}"));
    Scim { config: ScimConfig::bearer(s.tenant_url(tenant), SecretString::from(s.token())) }
}

#[async_trait]
impl Fixture for Scim {
    async fn open(&self) -> Box<dyn Target> {
        Box::new(ScimTarget::new(self.config.clone()).expect("valid config"))
    }
    async fn open_another(&self) -> Box<dyn Target> {
        self.open().await
    }
    fn account(&self, name: &str, value: &str) -> Attributes {
        let mut a = Attributes::new();
        a.insert("userName".into(), json!(name));
        a.insert("externalId".into(), json!(value));
        a
    }
    fn matching_attribute(&self) -> &str {
        "externalId"
    }
    fn text_attributes(&self) -> [&str; 2] {
        ["title", "nickName"]
    }
    fn manager(&self) -> Manager {
        Manager::ResolvedByMatching
    }
    fn secret(&self) -> Option<(&str, Value)> {
        Some((attr::PASSWORD, json!("Conf0rm!Pass-1x")))
    }
}

#[tokio::test]
async fn the_scim_target_conforms_against_scim2_server() {
    let report = conformance::run(&scim("conformance")).await;
    report.assert_ok();
    assert_eq!(report.passed.len(), conformance::CHECKS.len());
}

#[tokio::test]
async fn each_conformance_check_fails_against_a_sabotaged_scim_target() {
    conformance::assert_each_check_can_fail(&scim("conformance-sabotaged"), &[]).await;
}
