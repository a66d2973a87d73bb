//! The target conformance suite against the embedded target, with the
//! matching attribute in the value index and without it (the scan path).

use std::path::PathBuf;

use async_trait::async_trait;
use hrsync_target::testing::conformance::{self, Fixture, Manager};
use hrsync_target::testing::sabotage::Flaw;
use hrsync_target::{Attributes, Target};
use hrsync_target_embedded::EmbeddedTarget;
use serde_json::json;

struct Embedded {
    path: PathBuf,
    indexed: bool,
}

#[async_trait]
impl Fixture for Embedded {
    async fn open(&self) -> Box<dyn Target> {
        let indexed: &[&str] = if self.indexed { &["employeeID"] } else { &[] };
        Box::new(EmbeddedTarget::open_indexed(&self.path, &["cn"], indexed).expect("open"))
    }
    async fn open_another(&self) -> Box<dyn Target> {
        Box::new(EmbeddedTarget::open_read_only(&self.path).expect("open read-only"))
    }
    fn account(&self, name: &str, value: &str) -> Attributes {
        [("cn".to_owned(), json!(name)), ("employeeID".to_owned(), json!(value))].into()
    }
    fn matching_attribute(&self) -> &str {
        "employeeID"
    }
    fn text_attributes(&self) -> [&str; 2] {
        ["title", "department"]
    }
    fn manager(&self) -> Manager {
        Manager::AsWritten
    }
}

#[tokio::test]
async fn the_embedded_target_conforms_with_and_without_an_index() {
    for indexed in [true, false] {
        let path = crate::temp_file(&format!("conformance-{indexed}"));
        let report = conformance::run(&Embedded { path, indexed }).await;
        report.assert_ok();
        assert_eq!(report.passed.len(), conformance::CHECKS.len(), "{report:?}");
    }
}

/// Each check fails against the embedded target broken on purpose (one
/// flaw at a time through `Sabotaged`): the suite looks at this target.
#[tokio::test]
async fn each_conformance_check_fails_against_a_sabotaged_embedded_target() {
    let path = crate::temp_file("conformance-sabotaged");
    let fixture = Embedded { path, indexed: true };
    let not_applicable = [(
        Flaw::SecretsEchoed,
        "the embedded target stores and reads back every attribute as written, so its fixture offers no secret",
    )];
    conformance::assert_each_check_can_fail(&fixture, &not_applicable).await;
}
