//! Rough evaluation throughput on typical mapping expressions (not a test;
//! the mapping crate owns the real benchmark).
//! Run: `cargo run --release -p hrsync-expr --example evalspeed`

use std::collections::HashMap;
use std::time::Instant;

use hrsync_expr::{EvalContext, FixedClock, SplitMix64, Value, eval, parse};

fn main() {
    let exprs = [
        r#"Join("@", NormalizeDiacritics(StripSpaces(Join(".", [givenName], [surname]))), "contoso.com")"#,
        r#"Switch([emplStatus], "True", "A", "False", "U", "False", "P", "False")"#,
        r#"Replace([telephoneNumber], , "[()\\s-]+", , "", , )"#,
        r#"IIF(IsPresent([mail]), [mail], Append([givenName], "@x.com"))"#,
        r#"FormatDateTime([startDate], , "yyyy-MM-dd", "yyyyMMdd")"#,
        r#"Mid(ToLower([surname]), 1, 8)"#,
        "[givenName]",
        r#"PCase(Join(" ", [givenName], [surname]))"#,
    ];
    let parsed: Vec<_> = exprs.iter().map(|e| parse(e).unwrap()).collect();
    let attrs: HashMap<String, Value> = [
        ("givenName", "Zoë"),
        ("surname", "Van Der Berg"),
        ("emplStatus", "U"),
        ("telephoneNumber", "+1 (555) 123-4567"),
        ("startDate", "2024-03-01"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), Value::from(v)))
    .collect();
    let clock = FixedClock(jiff::Timestamp::UNIX_EPOCH);
    let mut rng = SplitMix64(1);
    let mut ctx = EvalContext::new(&clock, &mut rng, None);
    let rounds = 200_000;
    let start = Instant::now();
    let mut n = 0usize;
    for _ in 0..rounds {
        for e in &parsed {
            if eval(e, &attrs, &mut ctx).is_ok() {
                n += 1;
            }
        }
    }
    let el = start.elapsed();
    println!("{n} evaluations in {el:?}: {:.0} ns/eval", el.as_nanos() as f64 / n as f64);
}
