//! Syntax tree. Every node keeps its byte span in the source so errors,
//! checks and traces can point at the exact text.

use std::ops::Range;

use crate::Value;
use crate::functions::Func;

/// Comparison operators allowed inside conditions (`IIF([c]="x", …)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    pub(crate) fn symbol(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::Ne => "<>",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }
}

/// One syntax node.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub kind: Kind,
    pub span: Range<usize>,
}

#[derive(Debug, Clone)]
pub(crate) enum Kind {
    /// `[name]`
    Attr(String),
    /// String, number or hex literal, already converted.
    Literal(Value),
    /// A bare identifier such as `vbTextCompare`.
    Ident(String),
    /// A function call. `args[i] == None` is an omitted slot (`f(a, , b)`).
    Call(Box<Call>),
    /// `lhs op rhs`
    Compare(Box<Node>, CmpOp, Box<Node>),
}

#[derive(Debug, Clone)]
pub(crate) struct Call {
    /// Name as written.
    pub name: String,
    /// Span of the name only (checks point there).
    pub name_span: Range<usize>,
    /// Resolved function; `None` when unknown (reported by `check`, fails at eval).
    pub func: Option<Func>,
    pub args: Vec<Option<Node>>,
    /// Regex compiled at parse time when the pattern argument is a literal.
    pub regex: Option<Result<regex::Regex, String>>,
}
