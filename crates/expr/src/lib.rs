//! Microsoft Entra provisioning expression language: parser, static checks
//! and evaluator. No I/O: time, randomness and target uniqueness are injected.
//!
//! ```
//! use hrsync_expr::{parse, eval, EvalContext, FixedClock, SplitMix64, Outcome, Value};
//! use std::collections::HashMap;
//! let expr = parse(r#"Join(".", [givenName], [surname])"#).unwrap();
//! let attrs: HashMap<String, Value> = [("givenName".to_owned(), Value::from("John")), ("surname".to_owned(), Value::from("Doe"))].into();
//! let clock = FixedClock(jiff::Timestamp::UNIX_EPOCH);
//! let mut rng = SplitMix64(1);
//! let mut ctx = EvalContext::new(&clock, &mut rng, None);
//! assert_eq!(eval(&expr, &attrs, &mut ctx).unwrap(), Outcome::Value(Value::from("John.Doe")));
//! ```
//!
//! # Grammar
//! `[attribute]` references, `"strings"` with `\"` and `\\` escapes (other
//! backslashes are kept, so regex text like `"\d"` works), numbers (`12`,
//! `-3`, `1.5`), VB hex literals (`&HF`), bare identifiers `vbBinaryCompare`,
//! `vbTextCompare`, `True`, `False`, nested calls with empty argument slots
//! (`Replace([x], , "re", , "", , )`), and one comparison `= <> < <= > >=`
//! per argument (no AND/OR, as in Entra). Function names match in any case.
//! White space (including newlines) is free. At most 10,000 bytes and 128
//! nested calls.
//!
//! # Values and nulls
//! An absent attribute is [`Value::Null`], distinct from `""`. Booleans are
//! [`Value::Bool`] and read as `"True"`/`"False"`; dates are
//! [`Value::DateTime`] (UTC) and read as `M/d/yyyy h:mm:ss tt`. Numbers with a
//! fraction read in shortest round-trip form (`42568.75`). A multi-valued
//! attribute ([`Value::Array`]) reads as its values joined with `,` where a
//! single string is needed; string functions (ToLower, Replace, …) apply per value.
//!
//! Attribute names are looked up exactly first, then ASCII case-insensitively
//! (Entra's schema names are case-insensitive; a map holding two names that
//! differ only in case gets the exact one).
//!
//! # Decisions where Entra's reference is silent or contradictory
//! - Comparisons with a null operand are false (also `<>`), so a null inside an
//!   IIF condition takes the false branch, as the reference says the check
//!   "fails". Numbers compare numerically when one side is a number; otherwise
//!   strings compare ordinally and case-sensitively; booleans case-insensitively.
//! - IIF conditions are true for `Bool(true)`, `"True"` (any case) and non-zero numbers.
//! - `Switch` with a null source returns the default (key `""` matches only `""`).
//! - `Join` skips null and `""` arguments; it returns null when every value
//!   argument is null, `""` when some were `""`.
//! - `Append` treats null as `""` (.NET string concatenation); null only if both are null.
//! - `Split` does not trim: `"a, b"` split on `","` gives `"a"`, `" b"` (.NET
//!   `String.Split`); the doc example #49 output drops the space as shorthand.
//! - `Left`/`Mid`/`Word` of null give `""`; `Len(null)` is 0; `Count(null)` is 0;
//!   other string functions return null for null. Lengths count Unicode scalar values.
//! - `InStr` returns null when either string is null, 0 when not found.
//! - `Item(x, i)` with `i` < 1 or past the end gives null.
//! - `SelectUniqueValue` skips null/empty candidates; when every candidate is
//!   taken it fails (Entra escrows the object), and when every one is empty
//!   it fails saying so. Without a uniqueness callback nothing is taken.
//! - `CBool` of a non-boolean, non-numeric string is an error; `CBool(null)` is false.
//! - `IgnoreFlowIfNullOrEmpty` anywhere in the expression stops evaluation
//!   with [`Outcome::IgnoreFlow`].
//! - `SingleAppRoleAssignment` returns the first value; `(Assertive)AppRoleAssignmentsComplex`
//!   return all values as an array (the PATCH add/replace semantics belong to the SCIM connector).
//! - `DefaultDomain()` reads [`EvalContext::default_domain`]; unset is an error.
//! - `RandomString` special characters are ``!#$%&()*+,-./:;<=>?@[]^_{|}~``.
//! - `FormatDateTime` ignores its dateTimeStyles argument (Entra's default,
//!   RoundtripKind + leading/trailing white space, is always applied); text
//!   without an offset is UTC; output is UTC (`zzz` prints `+00:00`, `K` `Z`).
//!   A 3-argument form `(source, inputFormat, outputFormat)` is accepted.
//!
//! # Regular expressions
//! Patterns use the `regex` crate, which covers .NET named groups
//! `(?<name>…)`, classes and quantifiers. Lookahead/lookbehind,
//! backreferences and atomic groups are unsupported and give an evaluation
//! (and check) error naming the feature. Replacements follow .NET syntax:
//! `$1`, `${name}`, `$$`, `$&`, `` $` ``, `$'`, `$+`, `$_`. Literal patterns
//! are compiled once at parse time.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::fmt;

mod ast;
mod dates;
mod eval;
mod functions;
mod parser;
mod text;
mod tree;

pub use functions::{function_arity, function_names};
pub use parser::{MAX_DEPTH, MAX_EXPRESSION_LEN, ParseError, caret_snippet};
pub use tree::SourceNode;

use ast::{Kind, Node};

/// A value flowing through an expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Absent / null.
    Null,
    /// Text.
    String(String),
    /// A whole number.
    Int(i64),
    /// A non-integral number.
    Number(f64),
    /// A boolean.
    Bool(bool),
    /// An instant.
    DateTime(jiff::Timestamp),
    /// A multi-valued attribute.
    Array(Vec<Value>),
}

impl Value {
    /// Convert a JSON value: null → Null, bool → Bool, integral numbers that
    /// fit i64 → Int, other numbers → Number, string → String, array → Array
    /// (element-wise), object → String holding its compact JSON text.
    pub fn from_json(v: &serde_json::Value) -> Value {
        use serde_json::Value as J;
        match v {
            J::Null => Value::Null,
            J::Bool(b) => Value::Bool(*b),
            J::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None => Value::Number(n.as_f64().unwrap_or(f64::NAN)),
            },
            J::String(s) => Value::String(s.clone()),
            J::Array(a) => Value::Array(a.iter().map(Value::from_json).collect()),
            J::Object(_) => Value::String(v.to_string()),
        }
    }

    /// Convert to JSON: DateTime becomes its Entra text (`3/16/2020 7:00:00 AM`),
    /// a non-finite Number becomes its text; everything else maps directly.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Value::Null => J::Null,
            Value::String(s) => J::String(s.clone()),
            Value::Int(i) => J::from(*i),
            Value::Number(n) => {
                serde_json::Number::from_f64(*n).map_or_else(|| J::String(n.to_string()), J::Number)
            }
            Value::Bool(b) => J::Bool(*b),
            Value::DateTime(t) => J::String(dates::format_default(*t)),
            Value::Array(a) => J::Array(a.iter().map(Value::to_json).collect()),
        }
    }

    /// Entra's string view; `None` for Null. Bool → `True`/`False`,
    /// DateTime → `M/d/yyyy h:mm:ss tt` (UTC), Array → values joined with `,`.
    pub fn as_str_lossy(&self) -> Option<Cow<'_, str>> {
        Some(match self {
            Value::Null => return None,
            Value::String(s) => Cow::Borrowed(s.as_str()),
            Value::Int(i) => Cow::Owned(i.to_string()),
            Value::Number(n) => Cow::Owned(n.to_string()),
            Value::Bool(true) => Cow::Borrowed("True"),
            Value::Bool(false) => Cow::Borrowed("False"),
            Value::DateTime(t) => Cow::Owned(dates::format_default(*t)),
            Value::Array(a) => {
                let parts: Vec<Cow<'_, str>> = a.iter().filter_map(Value::as_str_lossy).collect();
                Cow::Owned(parts.join(","))
            }
        })
    }

    /// Null, empty string or empty array.
    pub fn is_null_or_empty(&self) -> bool {
        match self {
            Value::Null => true,
            Value::String(s) => s.is_empty(),
            Value::Array(a) => a.is_empty(),
            _ => false,
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}

/// A parsed expression: the syntax tree with byte spans into [`Expr::source`].
/// Parse once, evaluate many times.
#[derive(Debug, Clone)]
pub struct Expr {
    source: String,
    root: Node,
}

fn walk<'n>(node: &'n Node, f: &mut dyn FnMut(&'n Node)) {
    f(node);
    match &node.kind {
        Kind::Call(c) => c.args.iter().flatten().for_each(|a| walk(a, f)),
        Kind::Compare(l, _, r) => {
            walk(l, f);
            walk(r, f);
        }
        Kind::Attr(_) | Kind::Literal(_) | Kind::Ident(_) => {}
    }
}

impl Expr {
    /// Attribute names referenced with `[name]`, in source order, each once
    /// (as first written).
    pub fn attribute_refs(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        walk(&self.root, &mut |n| {
            if let Kind::Attr(name) = &n.kind
                && !out.contains(&name.as_str())
            {
                out.push(name);
            }
        });
        out
    }
    /// Whether the expression calls the function `name` (case-insensitive,
    /// as the language resolves names) anywhere in its tree. Read from the
    /// syntax tree, so a string literal or attribute named like the
    /// function does not count.
    pub fn calls(&self, name: &str) -> bool {
        let mut found = false;
        walk(&self.root, &mut |n| {
            if let Kind::Call(c) = &n.kind
                && c.func.is_some()
                && c.name.eq_ignore_ascii_case(name)
            {
                found = true;
            }
        });
        found
    }
    /// The expression text.
    pub fn source(&self) -> &str {
        &self.source
    }
}

/// Parse an expression (see the crate docs for the grammar).
pub fn parse(src: &str) -> Result<Expr, ParseError> {
    let root = parser::parse_node(src)?;
    Ok(Expr { source: src.to_owned(), root })
}

/// A static-check problem.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct CheckError {
    /// Byte range in the source.
    pub span: std::ops::Range<usize>,
    /// What is wrong.
    pub message: String,
}

/// Static checks for config load: unknown functions, wrong argument counts
/// (including Switch key/value pairing), unknown attribute references,
/// unknown bare identifiers and literal regex patterns that do not compile.
/// Returns every problem found, in source order.
pub fn check(expr: &Expr, is_known_attribute: &dyn Fn(&str) -> bool) -> Vec<CheckError> {
    let mut out = Vec::new();
    walk(&expr.root, &mut |n| {
        match &n.kind {
        Kind::Attr(name) if !is_known_attribute(name) => out.push(CheckError {
            span: n.span.clone(),
            message: format!("unknown attribute [{name}]"),
        }),
        Kind::Ident(name) if eval::ident_value(name).is_none() => out.push(CheckError {
            span: n.span.clone(),
            message: format!("unknown identifier '{name}' (expected vbBinaryCompare, vbTextCompare, True or False, or a function call)"),
        }),
        Kind::Call(c) => {
            let Some(f) = c.func else {
                out.push(CheckError { span: c.name_span.clone(), message: format!("unknown function '{}'", c.name) });
                return;
            };
            let (min, max) = f.arity();
            let got = c.args.len();
            if got < min || got > max {
                let want = if min == max {
                    format!("{min}")
                } else if max == usize::MAX {
                    format!("at least {min}")
                } else {
                    format!("{min} to {max}")
                };
                out.push(CheckError { span: n.span.clone(), message: format!("{} expects {want} arguments, got {got}", f.name()) });
            } else if f == functions::Func::Switch && !got.is_multiple_of(2) {
                out.push(CheckError {
                    span: n.span.clone(),
                    message: "Switch needs a source, a default and key/value pairs; the last key has no value".to_owned(),
                });
            }
            if let Some(Err(msg)) = &c.regex {
                let span = c.args.get(2).and_then(Option::as_ref).map_or(c.name_span.clone(), |a| a.span.clone());
                out.push(CheckError { span, message: format!("{}: {msg}", f.name()) });
            }
        }
        _ => {}
    }
    });
    out
}

/// Attribute values by name.
pub trait Attributes {
    /// Value of an attribute.
    fn get(&self, name: &str) -> Option<&Value>;
}

impl Attributes for HashMap<String, Value> {
    fn get(&self, name: &str) -> Option<&Value> {
        HashMap::get(self, name)
            .or_else(|| self.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v))
    }
}

impl Attributes for BTreeMap<String, Value> {
    fn get(&self, name: &str) -> Option<&Value> {
        BTreeMap::get(self, name)
            .or_else(|| self.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v))
    }
}

/// Source of the current time.
pub trait Clock {
    /// Now.
    fn now(&self) -> jiff::Timestamp;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> jiff::Timestamp {
        jiff::Timestamp::now()
    }
}

/// A fixed clock.
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub jiff::Timestamp);

impl Clock for FixedClock {
    fn now(&self) -> jiff::Timestamp {
        self.0
    }
}

/// Randomness.
pub trait RandomSource {
    /// Next 64 random bits.
    fn next_u64(&mut self) -> u64;
}

/// Seeded splitmix64.
#[derive(Debug, Clone)]
pub struct SplitMix64(pub u64);

impl RandomSource for SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// Target uniqueness for SelectUniqueValue.
pub trait Uniqueness {
    /// Whether the candidate is already taken.
    fn is_taken(&self, candidate: &str) -> Result<bool, String>;
}

/// Evaluation context.
pub struct EvalContext<'a> {
    /// Clock for Now/DateAdd.
    pub clock: &'a dyn Clock,
    /// Randomness for Guid/RandomString.
    pub random: &'a mut dyn RandomSource,
    /// Uniqueness for SelectUniqueValue.
    pub uniqueness: Option<&'a dyn Uniqueness>,
    /// The tenant's default verified domain, for `DefaultDomain()`.
    pub default_domain: Option<String>,
}

impl<'a> EvalContext<'a> {
    /// A context.
    pub fn new(
        clock: &'a dyn Clock,
        random: &'a mut dyn RandomSource,
        uniqueness: Option<&'a dyn Uniqueness>,
    ) -> Self {
        EvalContext { clock, random, uniqueness, default_domain: None }
    }

    /// Set the domain `DefaultDomain()` returns.
    pub fn with_default_domain(mut self, domain: impl Into<String>) -> Self {
        self.default_domain = Some(domain.into());
        self
    }
}

/// Result of evaluation.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// A value.
    Value(Value),
    /// IgnoreFlowIfNullOrEmpty fired.
    IgnoreFlow,
}

/// An evaluation error. `message` starts with the function and, when one
/// argument is at fault, its position and parameter name
/// (`Mid argument 2 (start): "x" is not a whole number`); `span` is the
/// offending argument or call in the source.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct EvalError {
    /// Function name.
    pub function: String,
    /// Byte range.
    pub span: std::ops::Range<usize>,
    /// Cause.
    pub message: String,
}

impl EvalError {
    /// The message followed by the source line and a caret under the span.
    pub fn render(&self, source: &str) -> String {
        let (line, column) = parser::line_column(source, self.span.start);
        format!(
            "{} at line {line}, column {column}\n{}",
            self.message,
            caret_snippet(source, self.span.clone())
        )
    }
}

fn finish(r: Result<Cow<'_, Value>, eval::Stop>) -> Result<Outcome, EvalError> {
    match r {
        Ok(v) => Ok(Outcome::Value(v.into_owned())),
        Err(eval::Stop::Ignore) => Ok(Outcome::IgnoreFlow),
        Err(eval::Stop::Error(e)) => Err(e),
    }
}

/// Evaluate against one record. Never panics; errors name the function,
/// argument and cause.
pub fn eval(
    expr: &Expr,
    attrs: &dyn Attributes,
    ctx: &mut EvalContext,
) -> Result<Outcome, EvalError> {
    let mut ev = eval::Evaluator { src: &expr.source, attrs, ctx, trace: None };
    finish(ev.eval(&expr.root))
}

/// Evaluation trace: the tree of evaluated sub-expressions. `nodes` holds the
/// root (one node); sub-expressions not evaluated (the untaken IIF branch,
/// Switch keys after the match) are absent. Values under `Redact` read `[Redact]`.
#[derive(Debug, Clone, Default)]
pub struct Trace {
    /// Nodes.
    pub nodes: Vec<TraceNode>,
}

/// One trace node.
#[derive(Debug, Clone)]
pub struct TraceNode {
    /// Sub-expression text.
    pub source: String,
    /// Its value, or the error / IgnoreFlow message.
    pub value: Result<Value, String>,
    /// Children.
    pub children: Vec<TraceNode>,
}

impl fmt::Display for Trace {
    /// One line per node, children indented two spaces:
    /// `Append([a], "x") => "ax"`, errors as `=> error: …`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn node(f: &mut fmt::Formatter<'_>, n: &TraceNode, depth: usize) -> fmt::Result {
            let src: String = n.source.split_whitespace().collect::<Vec<_>>().join(" ");
            match &n.value {
                Ok(v) => writeln!(f, "{:indent$}{src} => {}", "", v.to_json(), indent = depth * 2)?,
                Err(e) => writeln!(f, "{:indent$}{src} => error: {e}", "", indent = depth * 2)?,
            }
            n.children.iter().try_for_each(|c| node(f, c, depth + 1))
        }
        self.nodes.iter().try_for_each(|n| node(f, n, 0))
    }
}

/// [`eval`] that also records every evaluated sub-expression and its value.
pub fn eval_traced(
    expr: &Expr,
    attrs: &dyn Attributes,
    ctx: &mut EvalContext,
) -> (Result<Outcome, EvalError>, Trace) {
    let mut ev = eval::Evaluator { src: &expr.source, attrs, ctx, trace: Some(Vec::new()) };
    let r = ev.eval(&expr.root);
    let nodes = ev.trace.take().unwrap_or_default().into_iter().flatten().collect();
    (finish(r), Trace { nodes })
}
