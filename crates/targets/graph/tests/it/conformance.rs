//! The target conformance suite against the Graph double.

use async_trait::async_trait;
use graph_emulator::server::RunningGraph;
use hrsync_target::testing::conformance::{self, Fixture, Manager};
use hrsync_target::{Attributes, Target, attr};
use serde_json::{Value, json};

use crate::common;

struct Graph {
    double: RunningGraph,
}

#[async_trait]
impl Fixture for Graph {
    async fn open(&self) -> Box<dyn Target> {
        Box::new(common::target(&self.double, ""))
    }
    async fn open_another(&self) -> Box<dyn Target> {
        self.open().await
    }
    fn account(&self, name: &str, value: &str) -> Attributes {
        let mut a = Attributes::new();
        a.insert("displayName".into(), json!(name));
        a.insert("mailNickname".into(), json!(name));
        a.insert("userPrincipalName".into(), json!(format!("{name}@contoso.example")));
        a.insert("employeeId".into(), json!(value));
        a
    }
    fn matching_attribute(&self) -> &str {
        "employeeId"
    }
    fn text_attributes(&self) -> [&str; 2] {
        ["jobTitle", "department"]
    }
    fn manager(&self) -> Manager {
        Manager::ResolvedByMatching
    }
    fn secret(&self) -> Option<(&str, Value)> {
        Some((attr::PASSWORD, json!("Conf0rm!Pass-1x")))
    }
}

#[tokio::test]
async fn the_graph_target_conforms_against_the_graph_double() {
    let report = conformance::run(&Graph { double: common::start().await }).await;
    report.assert_ok();
    assert_eq!(report.passed.len(), conformance::CHECKS.len());
}

#[tokio::test]
async fn each_conformance_check_fails_against_a_sabotaged_graph_target() {
    conformance::assert_each_check_can_fail(&Graph { double: common::start().await }, &[]).await;
}
