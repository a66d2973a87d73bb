//! Property-based no-panic campaign for the parser and evaluator: random
//! text, random token soup, and random well-formed expressions over every
//! function with random attribute values. Errors are fine; panics are not.

use std::collections::HashMap;

use hrsync_expr::{
    EvalContext, FixedClock, SplitMix64, Uniqueness, Value, check, eval, eval_traced,
    function_arity, function_names, parse,
};
use proptest::prelude::*;

struct Odd;
impl Uniqueness for Odd {
    fn is_taken(&self, c: &str) -> Result<bool, String> {
        if c.len().is_multiple_of(7) { Err("flaky target".into()) } else { Ok(c.len() % 2 == 1) }
    }
}

fn run_all(src: &str, attrs: &HashMap<String, Value>) {
    let Ok(expr) = parse(src) else { return };
    let _ = check(&expr, &|a| a.len() < 3);
    let _ = expr.attribute_refs();
    let clock = FixedClock(jiff::Timestamp::UNIX_EPOCH);
    let mut rng = SplitMix64(3);
    let mut ctx = EvalContext::new(&clock, &mut rng, Some(&Odd));
    if let Err(e) = eval(&expr, attrs, &mut ctx) {
        let _ = e.render(src);
    }
    let (_, trace) = eval_traced(&expr, attrs, &mut ctx);
    let _ = trace.to_string();
}

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        ".{0,12}".prop_map(Value::String),
        "[0-9: TZ+/-]{0,25}".prop_map(Value::String),
        any::<i64>().prop_map(Value::Int),
        any::<f64>().prop_map(Value::Number),
        any::<bool>().prop_map(Value::Bool),
        (-200_000_000_000i64..200_000_000_000)
            .prop_map(|s| Value::DateTime(jiff::Timestamp::from_second(s).unwrap())),
    ];
    leaf.prop_recursive(2, 8, 4, |inner| prop::collection::vec(inner, 0..4).prop_map(Value::Array))
}

fn literal() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9 ,.;()<>+*?\\\\\\[\\]{}$^|-]{0,10}".prop_map(|s| format!("{s:?}")),
        prop::sample::select(vec![
            "\"yyyy-MM-dd\"",
            "\"d\"",
            "\"m\"",
            "\"ww\"",
            "\"yyyy\"",
            "\"h\"",
            "\"o\"",
            "\"(?<g>\\\\w+)\"",
            "\"g\"",
            "\"tr-TR\"",
            "\"2021-08-24\"",
            "\"${g}\"",
            "\"\"",
            "\"'x\"",
            "\"fffffff\"",
            "\"(?=a)\"",
            "\"[\"",
        ])
        .prop_map(str::to_owned),
        any::<i32>().prop_map(|i| i.to_string()),
        any::<i64>().prop_map(|i| i.to_string()),
        Just("&HFF".to_owned()),
        Just("vbTextCompare".to_owned()),
        Just("1.5".to_owned()),
        "[a-d]".prop_map(|a| format!("[{a}]")),
    ]
}

fn expression() -> impl Strategy<Value = String> {
    let names: Vec<&'static str> = function_names().collect();
    literal().prop_recursive(5, 40, 7, move |inner| {
        prop_oneof![
            // Mostly the right number of arguments so function bodies run; sometimes any number.
            (
                prop::sample::select(names.clone()),
                prop::collection::vec(prop::option::weighted(0.85, inner.clone()), 0..8),
                0..10u8
            )
                .prop_map(|(f, mut args, roll)| {
                    if roll > 0
                        && let Some((min, max)) = function_arity(f)
                    {
                        let max = max.unwrap_or(min + 4).min(min + 4);
                        let want = min + args.len() % (max - min + 1);
                        args.resize(want, Some("\"x\"".to_owned()));
                    }
                    format!(
                        "{f}({})",
                        args.into_iter()
                            .map(Option::unwrap_or_default)
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                }),
            (inner.clone(), prop::sample::select(vec!["=", "<>", "<", "<=", ">", ">="]), inner)
                .prop_map(|(a, op, b)| format!("IIF({a} {op} {b}, \"t\", \"f\")")),
        ]
    })
}

fn attrs() -> impl Strategy<Value = HashMap<String, Value>> {
    prop::collection::hash_map("[a-d]", value(), 0..5)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_text_never_panics(src in ".{0,80}", a in attrs()) {
        run_all(&src, &a);
    }

    #[test]
    fn token_soup_never_panics(
        toks in prop::collection::vec(prop::sample::select(vec![
            "(", ")", ",", "[a]", "[", "]", "\"", "\"x\"", "\\", "&H", "&HF", "=", "<>", "<", ">=", "-", "1", ".", "Mid", "IIF", "Replace", " ", "\n", "é",
        ]), 0..30),
        a in attrs(),
    ) {
        run_all(&toks.concat(), &a);
    }

    #[test]
    fn well_formed_expressions_never_panic(src in expression(), a in attrs()) {
        prop_assert!(parse(&src).is_ok() || src.len() > 10_000, "generator produced unparsable {src}");
        run_all(&src, &a);
    }
}
