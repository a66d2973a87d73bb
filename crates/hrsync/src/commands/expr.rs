//! `hrsync expr '<expression>' [--attrs '<json object>'] [--now <RFC3339>]`:
//! evaluate one Entra expression and print the result.
//!
//! Contract (external conformance checks rely on it): stdout gets one line,
//! the compact JSON of the result (`"text"`, `null`, `true`, a number or an
//! array; dates print as Entra's text `3/16/2020 7:00:00 AM`). When
//! IgnoreFlowIfNullOrEmpty fires, stdout gets `null`, stderr a one-line note,
//! and the exit code is 0. A parse or evaluation error (message with a caret
//! under the offending text), invalid `--attrs` JSON or an invalid `--now`
//! goes to stderr as `error: ...` with exit code 2. No target is attached, so
//! SelectUniqueValue finds nothing taken; Guid/RandomString are seeded from
//! the system clock.

use std::collections::HashMap;
use std::process::ExitCode;

use hrsync_expr::{EvalContext, FixedClock, Outcome, SplitMix64, Value};

/// Arguments of `hrsync expr`.
#[derive(clap::Args)]
pub struct ExprArgs {
    /// The expression, e.g. `Join(".", [givenName], [surname])`.
    expression: String,
    /// Attribute values as a JSON object, e.g. `{"givenName":"John"}`.
    #[arg(long)]
    attrs: Option<String>,
    /// The instant `Now()` returns (RFC 3339); default: the system clock.
    #[arg(long)]
    now: Option<String>,
    /// Also print the evaluation trace (every sub-expression and its value) to stderr.
    #[arg(long)]
    explain: bool,
}

/// Run the command. Usage and expression errors are reported here with exit
/// code 2, so `Err` is never returned in practice.
pub fn run(args: ExprArgs) -> anyhow::Result<ExitCode> {
    match evaluate(&args) {
        Ok(Some(v)) => {
            println!("{}", v.to_json());
            Ok(ExitCode::SUCCESS)
        }
        Ok(None) => {
            println!("null");
            eprintln!("note: IgnoreFlowIfNullOrEmpty: the attribute would not be flowed");
            Ok(ExitCode::SUCCESS)
        }
        Err(message) => {
            eprintln!("error: {message}");
            Ok(ExitCode::from(2))
        }
    }
}

/// `Ok(None)` means IgnoreFlow.
fn evaluate(args: &ExprArgs) -> Result<Option<Value>, String> {
    let attrs: HashMap<String, Value> = match args.attrs.as_deref() {
        None => HashMap::new(),
        Some(text) => match serde_json::from_str::<serde_json::Value>(text) {
            Ok(serde_json::Value::Object(map)) => {
                map.iter().map(|(k, v)| (k.clone(), Value::from_json(v))).collect()
            }
            Ok(_) => return Err("--attrs must be a JSON object of attribute values".to_owned()),
            Err(e) => return Err(format!("--attrs is not valid JSON: {e}")),
        },
    };
    let now = match args.now.as_deref() {
        None => jiff::Timestamp::now(),
        Some(t) => t
            .parse::<jiff::Timestamp>()
            .map_err(|e| format!("--now '{t}' is not an RFC 3339 instant: {e}"))?,
    };
    let expr = hrsync_expr::parse(&args.expression).map_err(|e| e.to_string())?;
    let clock = FixedClock(now);
    let seed = jiff::Timestamp::now().as_nanosecond() as u64;
    let mut random = SplitMix64(seed);
    let mut ctx = EvalContext::new(&clock, &mut random, None);
    let outcome = if args.explain {
        let (outcome, trace) = hrsync_expr::eval_traced(&expr, &attrs, &mut ctx);
        eprint!("{trace}");
        outcome
    } else {
        hrsync_expr::eval(&expr, &attrs, &mut ctx)
    };
    match outcome.map_err(|e| e.render(&args.expression))? {
        Outcome::Value(v) => Ok(Some(v)),
        Outcome::IgnoreFlow => Ok(None),
    }
}
