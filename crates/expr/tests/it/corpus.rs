//! The conformance corpus (`corpus.json`): every documented example from
//! `shared/entra-expression-examples.md` and `shared/entra-mapping.md`.

use std::collections::HashMap;

use hrsync_expr::{EvalContext, FixedClock, Outcome, SplitMix64, Uniqueness, Value, eval, parse};
use serde_json::Value as Json;

struct Taken(Vec<String>);

impl Uniqueness for Taken {
    fn is_taken(&self, candidate: &str) -> Result<bool, String> {
        Ok(self.0.iter().any(|t| t == candidate))
    }
}

#[test]
fn corpus() {
    let cases: Vec<Json> =
        serde_json::from_str(include_str!("../corpus.json")).expect("corpus.json is valid JSON");
    let mut failures = Vec::new();
    for case in &cases {
        let id = case["id"].as_str().unwrap_or("?");
        let src = case["expr"].as_str().expect("expr");
        let attrs: HashMap<String, Value> = case
            .get("attrs")
            .and_then(Json::as_object)
            .map(|o| o.iter().map(|(k, v)| (k.clone(), Value::from_json(v))).collect())
            .unwrap_or_default();
        let now = case.get("now").and_then(Json::as_str).unwrap_or("2026-01-01T00:00:00Z");
        let clock = FixedClock(now.parse().expect("now"));
        let taken = Taken(
            case.get("taken")
                .and_then(Json::as_array)
                .map(|a| a.iter().filter_map(|t| t.as_str().map(str::to_owned)).collect())
                .unwrap_or_default(),
        );
        let mut rng = SplitMix64(7);
        let mut ctx = EvalContext::new(&clock, &mut rng, Some(&taken));
        let expr = match parse(src) {
            Ok(e) => e,
            Err(e) => {
                failures.push(format!("#{id}: parse error {e}"));
                continue;
            }
        };
        let got = eval(&expr, &attrs, &mut ctx);
        let ok = match (&got, case.get("ignore")) {
            (Ok(Outcome::IgnoreFlow), Some(Json::Bool(true))) => true,
            (Ok(Outcome::Value(v)), None) => v.to_json() == case["expected"],
            _ => false,
        };
        if !ok {
            failures.push(format!(
                "#{id}: {src}\n   expected {:?} ignore={:?}\n   got {got:?}",
                case.get("expected"),
                case.get("ignore")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} corpus cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
