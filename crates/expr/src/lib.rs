//! Microsoft Entra provisioning expression language: parser, static checks
//! and evaluator. No I/O: time, randomness and target uniqueness are injected.
//! (Skeleton: bodies being filled in.)

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::fmt;

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
    /// Convert a JSON value.
    pub fn from_json(v: &serde_json::Value) -> Value {
        let _ = v;
        todo!()
    }
    /// Convert to JSON.
    pub fn to_json(&self) -> serde_json::Value {
        todo!()
    }
    /// Entra's string view; `None` for Null.
    pub fn as_str_lossy(&self) -> Option<Cow<'_, str>> {
        todo!()
    }
    /// Null, empty string or empty array.
    pub fn is_null_or_empty(&self) -> bool {
        todo!()
    }
}

/// A parsed expression.
#[derive(Debug, Clone)]
pub struct Expr {
    source: String,
}

impl Expr {
    /// Attribute names referenced with `[name]`.
    pub fn attribute_refs(&self) -> Vec<&str> {
        todo!()
    }
    /// The expression text.
    pub fn source(&self) -> &str {
        &self.source
    }
}

/// A parse error.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct ParseError {
    message: String,
    offset: usize,
}

impl ParseError {
    /// Byte offset of the offending text.
    pub fn offset(&self) -> usize {
        self.offset
    }
}

/// Parse an expression.
pub fn parse(src: &str) -> Result<Expr, ParseError> {
    let _ = src;
    todo!()
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

/// Static checks.
pub fn check(expr: &Expr, is_known_attribute: &dyn Fn(&str) -> bool) -> Vec<CheckError> {
    let _ = (expr, is_known_attribute);
    todo!()
}

/// Attribute values by name.
pub trait Attributes {
    /// Value of an attribute.
    fn get(&self, name: &str) -> Option<&Value>;
}

impl Attributes for HashMap<String, Value> {
    fn get(&self, name: &str) -> Option<&Value> {
        HashMap::get(self, name)
    }
}

impl Attributes for BTreeMap<String, Value> {
    fn get(&self, name: &str) -> Option<&Value> {
        BTreeMap::get(self, name)
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
}

impl<'a> EvalContext<'a> {
    /// A context.
    pub fn new(
        clock: &'a dyn Clock,
        random: &'a mut dyn RandomSource,
        uniqueness: Option<&'a dyn Uniqueness>,
    ) -> Self {
        EvalContext { clock, random, uniqueness }
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

/// An evaluation error.
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

/// Evaluate.
pub fn eval(expr: &Expr, attrs: &dyn Attributes, ctx: &mut EvalContext) -> Result<Outcome, EvalError> {
    let _ = (expr, attrs, ctx);
    todo!()
}

/// Evaluation trace.
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
    /// Its value.
    pub value: Result<Value, String>,
    /// Children.
    pub children: Vec<TraceNode>,
}

impl fmt::Display for Trace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let _ = f;
        todo!()
    }
}

/// Evaluate with trace.
pub fn eval_traced(expr: &Expr, attrs: &dyn Attributes, ctx: &mut EvalContext) -> (Result<Outcome, EvalError>, Trace) {
    let _ = (expr, attrs, ctx);
    todo!()
}
