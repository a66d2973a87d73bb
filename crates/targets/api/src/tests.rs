//! Unit tests: the attribute conventions, `Forward` and its hooks, and the
//! conformance suite itself: a small in-memory model target passes it, and
//! each deliberately broken variant fails the check meant to catch it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde_json::{Value, json};

use crate::testing::conformance::{self, CHECKS, Fixture, Manager};
use crate::testing::{Call, Forward, Hooks, Outcome};
use crate::{
    AttributeUpdate, Attributes, CheckStep, Comparison, Target, TargetError, TargetObject, attr,
};

#[test]
fn secrets_and_flags_follow_the_shared_conventions() {
    for name in ["unicodePwd", "UNICODEPWD", "userPassword", "userpassword", "password"] {
        assert!(attr::is_secret(name), "{name}");
    }
    for name in ["mail", "passwordLastSet", "accountDisabled", ""] {
        assert!(!attr::is_secret(name), "{name}");
    }
    for (v, want) in [
        (json!("True"), Some(true)),
        (json!("false"), Some(false)),
        (json!(true), Some(true)),
        (json!("1"), Some(true)),
        (json!(0), Some(false)),
        (json!(2), Some(true)),
        (json!(null), Some(false)),
        (json!(""), Some(false)),
        (json!("maybe"), None),
        (json!(1.5), None),
        (json!(["True"]), None),
    ] {
        assert_eq!(attr::flag(&v), want, "{v}");
    }
    assert_eq!(attr::flag_value(true), json!("True"));
    assert_eq!(attr::flag(&attr::flag_value(false)), Some(false));
}

/// Moved from `hrsync_plan::account` (the engine's guard and stored status
/// read the convention from here now), with every assertion it had.
#[test]
fn disabling_reads_account_disabled_and_user_account_control() {
    use attr::disabling;
    assert_eq!(disabling("accountDisabled", &json!("True")), Some(true));
    assert_eq!(disabling("AccountDisabled", &json!(false)), Some(false));
    assert_eq!(disabling("userAccountControl", &json!(514)), Some(true));
    assert_eq!(disabling("userAccountControl", &json!("512")), Some(false));
    assert_eq!(disabling("title", &json!("True")), None);
    assert_eq!(disabling("accountEnabled", &json!(false)), Some(true));
    assert_eq!(disabling("accountEnabled", &json!("True")), Some(false));
    assert_eq!(disabling("accountEnabled", &json!(null)), None);
    assert_eq!(disabling("accountDisabled", &json!("maybe")), None);
    // Removing the attribute says nothing about the account (as before the
    // move: `null` and "" were not understood).
    assert_eq!(disabling("accountDisabled", &json!(null)), None);
    assert_eq!(disabling("accountDisabled", &json!("")), None);
    assert_eq!(disabling("userAccountControl", &json!(null)), None);
}

/// What a model target does wrong, to prove the suite notices.
#[derive(Debug, Default, Clone, Copy)]
struct Flaws {
    /// Compares exactly while stating `CaseInsensitive`.
    case_exact: bool,
    /// States `Exact` while comparing case-insensitively.
    claims_exact: bool,
    /// `find_many` keys are the lower-cased values.
    lower_keys: bool,
    /// `find_many` keeps values without accounts, with an empty list.
    empty_lists: bool,
    /// Deleting a missing id succeeds.
    lenient_delete: bool,
    /// An update replaces every attribute with the given ones.
    replace_all: bool,
    /// `disable` does nothing.
    no_disable: bool,
    /// Another handle sees only what was there when it opened.
    snapshot_reader: bool,
    /// Secrets are handed back.
    echo_secrets: bool,
}

/// A directory in memory. `Exact` models state and apply `Comparison::Exact`.
struct Model {
    objects: Arc<Mutex<BTreeMap<String, (Attributes, bool)>>>,
    next: Arc<AtomicU32>,
    comparison: Comparison,
    flaws: Flaws,
}

impl Model {
    fn new(comparison: Comparison, flaws: Flaws) -> Model {
        Model { objects: Default::default(), next: Default::default(), comparison, flaws }
    }

    fn another(&self) -> Model {
        let objects = if self.flaws.snapshot_reader {
            Arc::new(Mutex::new(BTreeMap::new()))
        } else {
            self.objects.clone()
        };
        Model { objects, next: self.next.clone(), comparison: self.comparison, flaws: self.flaws }
    }

    fn same(&self, held: &str, asked: &str) -> bool {
        if self.comparison == Comparison::Exact || self.flaws.case_exact {
            held == asked
        } else {
            held.eq_ignore_ascii_case(asked)
        }
    }

    fn object(&self, id: &str, attrs: &Attributes, enabled: bool) -> TargetObject {
        let mut attributes = attrs.clone();
        if !self.flaws.echo_secrets {
            attributes.retain(|k, _| !attr::is_secret(k));
        }
        TargetObject { id: id.to_owned(), name: None, attributes, enabled: Some(enabled) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, (Attributes, bool)>> {
        self.objects.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl Target for Model {
    fn kind(&self) -> &'static str {
        "model"
    }
    fn comparison(&self) -> Comparison {
        if self.flaws.claims_exact { Comparison::Exact } else { self.comparison }
    }
    async fn check(&self) -> Vec<CheckStep> {
        vec![CheckStep { name: "model".into(), ok: true, detail: String::new() }]
    }
    async fn find(&self, attribute: &str, value: &str) -> Result<Vec<TargetObject>, TargetError> {
        let objects = self.lock();
        Ok(objects
            .iter()
            .filter(|(_, (a, _))| {
                a.get(attribute).and_then(Value::as_str).is_some_and(|h| self.same(h, value))
            })
            .map(|(id, (a, e))| self.object(id, a, *e))
            .collect())
    }
    async fn find_many(
        &self,
        attribute: &str,
        values: &[String],
    ) -> Result<HashMap<String, Vec<TargetObject>>, TargetError> {
        let mut out = HashMap::new();
        for v in values {
            let found = self.find(attribute, v).await?;
            let key = if self.flaws.lower_keys { v.to_lowercase() } else { v.clone() };
            if !found.is_empty() || self.flaws.empty_lists {
                out.insert(key, found);
            }
        }
        Ok(out)
    }
    async fn get(&self, id: &str) -> Result<Option<TargetObject>, TargetError> {
        Ok(self.lock().get(id).map(|(a, e)| self.object(id, a, *e)))
    }
    async fn create(&self, attributes: &Attributes) -> Result<TargetObject, TargetError> {
        let id = format!("m{:04}", self.next.fetch_add(1, Ordering::SeqCst));
        let enabled = !attributes.get(attr::ACCOUNT_DISABLED).and_then(attr::flag).unwrap_or(false);
        self.lock().insert(id.clone(), (attributes.clone(), enabled));
        Ok(self.object(&id, attributes, enabled))
    }
    async fn update(&self, id: &str, changes: &[AttributeUpdate]) -> Result<(), TargetError> {
        let mut objects = self.lock();
        let Some((a, enabled)) = objects.get_mut(id) else {
            return Err(TargetError::NotFound { operation: "update", id: id.to_owned() });
        };
        if self.flaws.replace_all {
            a.clear();
        }
        for c in changes {
            if c.value.is_null() {
                a.remove(&c.name);
            } else {
                a.insert(c.name.clone(), c.value.clone());
            }
            if c.name == attr::ACCOUNT_DISABLED {
                *enabled = !attr::flag(&c.value).unwrap_or(false);
            }
        }
        Ok(())
    }
    async fn disable(&self, id: &str) -> Result<(), TargetError> {
        if self.flaws.no_disable {
            return Ok(());
        }
        self.update(
            id,
            &[AttributeUpdate {
                name: attr::ACCOUNT_DISABLED.into(),
                value: attr::flag_value(true),
            }],
        )
        .await
        .map_err(|_| TargetError::NotFound { operation: "disable", id: id.to_owned() })
    }
    async fn delete(&self, id: &str) -> Result<(), TargetError> {
        match self.lock().remove(id) {
            Some(_) => Ok(()),
            None if self.flaws.lenient_delete => Ok(()),
            None => Err(TargetError::NotFound { operation: "delete", id: id.to_owned() }),
        }
    }
    async fn is_taken(
        &self,
        attribute: &str,
        value: &str,
        except_id: Option<&str>,
    ) -> Result<bool, TargetError> {
        Ok(self.find(attribute, value).await?.iter().any(|o| Some(o.id.as_str()) != except_id))
    }
}

struct ModelFixture {
    model: Model,
}

#[async_trait]
impl Fixture for ModelFixture {
    async fn open(&self) -> Box<dyn Target> {
        Box::new(self.model.another_handle())
    }
    async fn open_another(&self) -> Box<dyn Target> {
        Box::new(self.model.another())
    }
    fn account(&self, name: &str, value: &str) -> Attributes {
        [("cn", json!(name)), ("employeeNumber", json!(value))]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect()
    }
    fn matching_attribute(&self) -> &str {
        "employeeNumber"
    }
    fn text_attributes(&self) -> [&str; 2] {
        ["title", "description"]
    }
    fn manager(&self) -> Manager {
        Manager::AsWritten
    }
    fn secret(&self) -> Option<(&str, Value)> {
        Some((attr::PASSWORD, json!("Secret-1")))
    }
}

impl Model {
    /// The handle the checks run on: the same objects, flaws and all.
    fn another_handle(&self) -> Model {
        Model {
            objects: self.objects.clone(),
            next: self.next.clone(),
            comparison: self.comparison,
            flaws: self.flaws,
        }
    }
}

async fn report(comparison: Comparison, flaws: Flaws) -> conformance::Report {
    conformance::run(&ModelFixture { model: Model::new(comparison, flaws) }).await
}

#[tokio::test]
async fn a_correct_target_passes_every_check_either_comparison() {
    for comparison in [Comparison::CaseInsensitive, Comparison::Exact] {
        let r = report(comparison, Flaws::default()).await;
        r.assert_ok();
        assert_eq!(r.passed, CHECKS, "{comparison:?}");
    }
}

#[tokio::test]
async fn each_flaw_fails_the_check_meant_to_catch_it() {
    let cases: [(&str, Flaws); 8] = [
        ("find_many as given", Flaws { lower_keys: true, ..Flaws::default() }),
        ("find_many as given", Flaws { empty_lists: true, ..Flaws::default() }),
        ("taken case rule", Flaws { case_exact: true, ..Flaws::default() }),
        ("missing id", Flaws { lenient_delete: true, ..Flaws::default() }),
        ("update only given", Flaws { replace_all: true, ..Flaws::default() }),
        ("disable", Flaws { no_disable: true, ..Flaws::default() }),
        ("flush durability", Flaws { snapshot_reader: true, ..Flaws::default() }),
        ("secrets", Flaws { echo_secrets: true, ..Flaws::default() }),
    ];
    for (check, flaws) in cases {
        let r = report(Comparison::CaseInsensitive, flaws).await;
        assert!(r.failed(check), "{flaws:?} passes `{check}`: {r:?}");
    }
    // Stating the rule wrongly the other way is caught too.
    let lying =
        Model::new(Comparison::CaseInsensitive, Flaws { claims_exact: true, ..Flaws::default() });
    let r = conformance::run(&ModelFixture { model: lying }).await;
    assert!(r.failed("taken case rule") && r.failed("find_many as given"), "{r:?}");
    let panicked = std::panic::catch_unwind(|| r.assert_ok());
    assert!(panicked.is_err(), "assert_ok panics on failures");
}

/// Records calls and outcomes; refuses creates of `refuse`.
#[derive(Default)]
struct Recorder {
    calls: Mutex<Vec<String>>,
    created: Mutex<Vec<String>>,
    refuse: Option<&'static str>,
    in_flight: AtomicUsize,
}

#[async_trait]
impl Hooks for Recorder {
    fn kind(&self) -> Option<&'static str> {
        Some("recorded")
    }
    async fn before(&self, call: &Call<'_>) -> Result<(), TargetError> {
        self.calls.lock().expect("lock").push(call.operation().to_owned());
        if let (Call::Create { attributes }, Some(refused)) = (call, self.refuse)
            && attributes.get("cn") == Some(&json!(refused))
        {
            return Err(TargetError::Rejected {
                operation: "create",
                message: format!("{refused} refused"),
            });
        }
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
    async fn after(&self, call: &Call<'_>, outcome: Outcome<'_>) {
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        if let (Call::Create { .. }, Ok(Some(o))) = (call, outcome.result) {
            self.created.lock().expect("lock").push(o.id.clone());
        }
    }
}

#[tokio::test]
async fn forward_passes_every_call_through_its_hooks() {
    let hooks = Recorder { refuse: Some("bad"), ..Recorder::default() };
    let t = Forward::new(Model::new(Comparison::CaseInsensitive, Flaws::default()), hooks);
    assert_eq!(t.kind(), "recorded");
    let a: Attributes = [("cn".to_owned(), json!("ok")), ("uid".to_owned(), json!("Ana"))].into();
    let o = t.create(&a).await.expect("create");
    let refused = [("cn".to_owned(), json!("bad"))].into();
    assert!(matches!(t.create(&refused).await, Err(TargetError::Rejected { .. })));
    assert_eq!(t.inner.lock().len(), 1, "a refused create never reaches the inner target");
    assert_eq!(t.find("uid", "ANA").await.expect("find").len(), 1);
    let many = t.find_many("uid", &["ana".into(), "zed".into()]).await.expect("find_many");
    assert_eq!(many.keys().collect::<Vec<_>>(), ["ana"]);
    assert!(t.is_taken("uid", "ana", None).await.expect("is_taken"));
    assert_eq!(
        t.taken("uid", &["ANA".into()]).await.expect("taken"),
        HashSet::from(["ANA".to_owned()])
    );
    t.update(&o.id, &[AttributeUpdate { name: "title".into(), value: json!("x") }])
        .await
        .expect("update");
    t.disable(&o.id).await.expect("disable");
    assert_eq!(t.get(&o.id).await.expect("get").and_then(|o| o.enabled), Some(false));
    t.flush().await.expect("flush");
    assert!(t.check().await[0].ok);
    t.delete(&o.id).await.expect("delete");
    assert!(matches!(t.delete(&o.id).await, Err(TargetError::NotFound { .. })));
    let calls = t.hooks.calls.lock().expect("lock").clone();
    assert_eq!(
        calls,
        [
            "create",
            "create",
            "find",
            "find_many",
            "is_taken",
            "taken",
            "update",
            "disable",
            "get",
            "flush",
            "check",
            "delete",
            "delete"
        ]
    );
    assert_eq!(*t.hooks.created.lock().expect("lock"), std::slice::from_ref(&o.id));
    assert_eq!(t.hooks.in_flight.load(Ordering::SeqCst), 0, "after runs once for each call made");
    assert_eq!(t.comparison(), Comparison::CaseInsensitive);
    assert!(t.secret_attributes().is_empty() && t.unapplied().is_empty());
    // Without hooks the name is the inner target's.
    assert_eq!(Forward::new(Model::new(Comparison::Exact, Flaws::default()), ()).kind(), "model");
}

/// Every sabotage of a sound target fails the check meant for it, under
/// either comparison (the real targets run the same in their tests).
#[tokio::test]
async fn each_sabotage_of_a_sound_target_fails_its_check() {
    for comparison in [Comparison::CaseInsensitive, Comparison::Exact] {
        let fixture = ModelFixture { model: Model::new(comparison, Flaws::default()) };
        conformance::assert_each_check_can_fail(&fixture, &[]).await;
    }
}

/// A sabotage the suite would not notice makes the proof fail, naming it:
/// the secrets check cannot fail where the fixture offers no secret.
#[tokio::test]
async fn a_flaw_the_suite_misses_is_reported() {
    struct NoSecret(ModelFixture);
    #[async_trait]
    impl Fixture for NoSecret {
        async fn open(&self) -> Box<dyn Target> {
            self.0.open().await
        }
        async fn open_another(&self) -> Box<dyn Target> {
            self.0.open_another().await
        }
        fn account(&self, name: &str, value: &str) -> Attributes {
            self.0.account(name, value)
        }
        fn matching_attribute(&self) -> &str {
            self.0.matching_attribute()
        }
        fn text_attributes(&self) -> [&str; 2] {
            self.0.text_attributes()
        }
        fn manager(&self) -> Manager {
            self.0.manager()
        }
    }
    let fixture =
        NoSecret(ModelFixture { model: Model::new(Comparison::CaseInsensitive, Flaws::default()) });
    let proof = tokio::spawn(async move {
        conformance::assert_each_check_can_fail(&fixture, &[]).await;
    });
    let panic = proof.await.expect_err("a missed flaw fails the proof").into_panic();
    let message = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(message.contains("SecretsEchoed passes `secrets`"), "{message}");
}
