//! The SuccessFactors `$filter` language: lexer, parser, schema binder and
//! evaluator.
//!
//! # Syntax
//! OData v2 `$filter` as SuccessFactors accepts it: `and`, `or`, `not`,
//! parentheses; `eq ne lt le gt ge` and SuccessFactors' `like` (`%` wildcard);
//! SuccessFactors' `in` with a bare list (`personIdExternal in 'a','b'`; the
//! parenthesised form is rejected as the real API does); literals `'O''Neil'`,
//! `12`, `12L`, `1.5M`, `true`, `false`, `null`, `datetime'…'`,
//! `datetimeoffset'…'`; functions `startswith endswith substringof tolower
//! toupper trim length indexof concat`; navigation paths through to-one and
//! to-many navigations (`employmentNav/jobInfoNav/startDate`). Keywords are
//! accepted in any case (unverified against SuccessFactors; Entra sends
//! lower case).
//!
//! One deliberate irregularity: two parenthesised groups with no operator
//! between them, `(…) (…)`, parse as `or`. Microsoft's documented delta query
//! template lacks the `or` between its `employmentNav` group and its
//! `employmentNav/jobInfoNav/startDate` group, Entra sends that text, and
//! SuccessFactors answers it; only this exact adjacency is accepted.
//!
//! # Binding
//! Every path is resolved against the schema at parse time; an unknown
//! property or navigation fails with `COE_PROPERTY_NOT_FOUND` naming
//! `Entity/name`. Literals compared with a property are converted to the
//! property's type: `datetime'…'` and `datetimeoffset'…'` (and date-shaped
//! strings) compare with both Edm.DateTime and Edm.DateTimeOffset properties
//! as instants (Entra compares DateTime fields with datetimeoffset literals);
//! `User.status` accepts SuccessFactors' short codes `t` (active), `f`
//! (inactive), `e` (active_external_suite) and `d` (inactive_external_suite,
//! unverified) as KBA-3075524 and KBA-3575859 describe.
//!
//! # Evaluation semantics
//! Filters see every time slice ([`NavView::AllSlices`]), as SuccessFactors
//! does (KBA-2920680). Each navigation path prefix (`employmentNav`,
//! `employmentNav/jobInfoNav`, …) is a variable that is bound to ONE element
//! of its navigation; a whole `and`/`not`/comparison subtree sees the same
//! element, while the branches of an `or` bind independently ("there exists a
//! binding"):
//! - `or`: true if either branch is true, each enumerating its own bindings;
//! - any other node: enumerate the combinations of elements of the
//!   navigations referenced inside the node that are not yet bound (a nested
//!   path such as `employmentNav/jobInfoNav` enumerates per bound
//!   `employmentNav` element) and evaluate the node under that full binding;
//!   true if some combination makes it true.
//!
//! So `(jobInfoNav/lastModifiedDateTime ge A and jobInfoNav/startDate le B)`
//! is true only if the SAME jobInfo slice satisfies both: a future-dated change
//! appears in Entra's delta query once its start date is inside the window,
//! while a plain `lastModifiedDateTime` window still matches a slice that is
//! not the one a response returns. An empty navigation (to-many with no
//! elements, null to-one) binds to a virtual element whose properties are all
//! null, so `personEmpTerminationInfoNav/activeEmploymentsCount ne null` is
//! false for a person without termination info.
//!
//! As an optimisation an `and` node binds only the variables that two or more
//! of its operands share and lets each operand bind the rest; because the
//! operands then reference disjoint sets of unbound variables, "exists a
//! binding of all variables satisfying every operand" and "for the shared
//! binding, each operand has its own satisfying binding" are the same.
//!
//! Null handling follows OData v2: `eq`/`ne` treat null as a value
//! (`null eq null` is true, `'a' ne null` is true); `lt le gt ge`, `like` and
//! the boolean string functions are false when an operand is null.

use std::cmp::Ordering;

use crate::edm::{EdmType, EntityType, NavProperty, Property};
use crate::entity::{EntityNode, NavView};
use crate::error::ODataError;
use crate::value::{self, ODataValue};

/// Deepest nesting of parentheses/`not`/function calls accepted; deeper input
/// is rejected instead of exhausting the stack.
const MAX_DEPTH: usize = 64;

/// A parsed and schema-bound `$filter`.
#[derive(Debug, Clone)]
pub struct Filter {
    root: Node,
    vars: Vec<Var>,
    entity: &'static EntityType,
}

/// A navigation variable: one path prefix. Index 0 is the root entity.
#[derive(Debug, Clone)]
struct Var {
    /// Parent variable (0 for the root's own navigations); unused for 0.
    parent: usize,
    /// The navigation from the parent; `None` only for the root.
    nav: Option<&'static NavProperty>,
    /// Full prefix, e.g. `employmentNav/jobInfoNav`, for lookup while binding.
    path: String,
}

#[derive(Debug, Clone)]
struct Node {
    kind: Kind,
    /// Variables this node binds before evaluating (sorted, parents first).
    bind: Vec<usize>,
    /// All variables referenced in this subtree (sorted, parents first).
    refs: Vec<usize>,
}

#[derive(Debug, Clone)]
enum Kind {
    Lit(ODataValue),
    Prop { var: usize, prop: &'static Property },
    Cmp(CmpOp, Box<Node>, Box<Node>),
    In(Box<Node>, Vec<ODataValue>),
    Call(Func, Vec<Node>),
    And(Vec<Node>),
    Or(Vec<Node>),
    Not(Box<Node>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Like,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Func {
    StartsWith,
    EndsWith,
    SubstringOf,
    ToLower,
    ToUpper,
    Trim,
    Length,
    IndexOf,
    Concat,
}

impl Func {
    fn from_name(name: &str) -> Option<Func> {
        Some(match name.to_ascii_lowercase().as_str() {
            "startswith" => Func::StartsWith,
            "endswith" => Func::EndsWith,
            "substringof" => Func::SubstringOf,
            "tolower" => Func::ToLower,
            "toupper" => Func::ToUpper,
            "trim" => Func::Trim,
            "length" => Func::Length,
            "indexof" => Func::IndexOf,
            "concat" => Func::Concat,
            _ => return None,
        })
    }
    fn arity(self) -> usize {
        match self {
            Func::ToLower | Func::ToUpper | Func::Trim | Func::Length => 1,
            _ => 2,
        }
    }
    fn is_bool(self) -> bool {
        matches!(self, Func::StartsWith | Func::EndsWith | Func::SubstringOf)
    }
    fn name(self) -> &'static str {
        match self {
            Func::StartsWith => "startswith",
            Func::EndsWith => "endswith",
            Func::SubstringOf => "substringof",
            Func::ToLower => "tolower",
            Func::ToUpper => "toupper",
            Func::Trim => "trim",
            Func::Length => "length",
            Func::IndexOf => "indexof",
            Func::Concat => "concat",
        }
    }
}

impl Filter {
    /// Parses and binds `src` against `entity`. Errors are 400s:
    /// `COE_PROPERTY_NOT_FOUND` for unknown names, `COE_GENERAL_BAD_REQUEST`
    /// with the character position and what was expected for syntax.
    pub fn parse(src: &str, entity: &'static EntityType) -> Result<Filter, ODataError> {
        let tokens = lex(src)?;
        let mut p = Parser {
            src,
            tokens,
            pos: 0,
            depth: 0,
            entity,
            vars: vec![Var { parent: 0, nav: None, path: String::new() }],
        };
        let root = p.parse_or()?;
        if let Some(t) = p.tokens.get(p.pos) {
            return Err(p.err_at(t, "'and', 'or' or the end of the filter"));
        }
        if !root.is_bool() {
            return Err(ODataError::bad_filter_expression(
                "the filter is not a boolean expression",
            ));
        }
        let mut root = root;
        annotate(&mut root, &p.vars);
        Ok(Filter { root, vars: p.vars, entity })
    }

    /// The entity type the filter was bound to.
    pub fn entity(&self) -> &'static EntityType {
        self.entity
    }

    /// The string values the root entity's property `property` must take for
    /// the filter to match, when the filter's structure pins them: `p eq 'x'`
    /// (either side), `p in 'x','y'`, an `and` with such an operand, an `or`
    /// whose every branch is pinned (the union). `None` when it does not.
    ///
    /// A superset for indexing: every entity the filter matches has `property`
    /// equal (exactly, as `eq` compares strings) to one of the values, so a
    /// server may evaluate the filter on just those entities instead of the
    /// whole set. Values come in filter order and may repeat.
    pub fn pinned_root_values(&self, property: &str) -> Option<Vec<&str>> {
        pinned(&self.root, property)
    }

    /// Whether `node` (of the entity type the filter was bound to) matches,
    /// with the correlated "exists a binding" semantics of the module docs.
    pub fn matches(&self, node: &dyn EntityNode) -> bool {
        let frame = Frame { var: 0, node: Some(node), parent: None };
        self.eval_bool(&self.root, &frame)
    }

    fn eval_bool(&self, n: &Node, frame: &Frame<'_>) -> bool {
        if let Kind::Or(items) = &n.kind {
            return items.iter().any(|i| self.eval_bool(i, frame));
        }
        let unbound: Vec<usize> =
            n.bind.iter().copied().filter(|v| frame.lookup(*v).is_none()).collect();
        if unbound.is_empty() {
            self.eval_direct(n, frame)
        } else {
            self.enumerate(&unbound, frame, &mut |f| self.eval_direct(n, f))
        }
    }

    /// Binds `vars[0]`, then the rest, to every element in turn; true as soon
    /// as `f` is true under one full binding.
    fn enumerate(
        &self,
        vars: &[usize],
        frame: &Frame<'_>,
        f: &mut dyn FnMut(&Frame<'_>) -> bool,
    ) -> bool {
        let Some((&v, rest)) = vars.split_first() else { return f(frame) };
        let var = &self.vars[v];
        let parent = frame.lookup(var.parent).flatten();
        let (Some(parent), Some(nav)) = (parent, var.nav) else {
            // The parent is a virtual null element: so is this one.
            return self.enumerate(rest, &Frame { var: v, node: None, parent: Some(frame) }, f);
        };
        let mut found = false;
        let mut any = false;
        parent.navigate(nav.name, NavView::AllSlices, &mut |child| {
            any = true;
            if !found {
                found = self.enumerate(
                    rest,
                    &Frame { var: v, node: Some(child), parent: Some(frame) },
                    f,
                );
            }
        });
        if !any {
            found = self.enumerate(rest, &Frame { var: v, node: None, parent: Some(frame) }, f);
        }
        found
    }

    fn eval_direct(&self, n: &Node, frame: &Frame<'_>) -> bool {
        match &n.kind {
            Kind::And(items) => items.iter().all(|i| self.eval_bool(i, frame)),
            Kind::Or(items) => items.iter().any(|i| self.eval_bool(i, frame)),
            Kind::Not(inner) => !self.eval_bool(inner, frame),
            Kind::Cmp(op, a, b) => compare(*op, &self.value(a, frame), &self.value(b, frame)),
            Kind::In(a, list) => {
                let v = self.value(a, frame);
                list.iter().any(|l| compare(CmpOp::Eq, &v, l))
            }
            Kind::Lit(_) | Kind::Prop { .. } | Kind::Call(..) => {
                matches!(self.value(n, frame), ODataValue::Boolean(true))
            }
        }
    }

    fn value(&self, n: &Node, frame: &Frame<'_>) -> ODataValue {
        match &n.kind {
            Kind::Lit(v) => v.clone(),
            Kind::Prop { var, prop } => match frame.lookup(*var).flatten() {
                Some(node) => node.property(prop.name),
                None => ODataValue::Null,
            },
            Kind::Call(func, args) => {
                let vals: Vec<ODataValue> = args.iter().map(|a| self.value(a, frame)).collect();
                call(*func, &vals)
            }
            Kind::Cmp(..) | Kind::In(..) | Kind::And(_) | Kind::Or(_) | Kind::Not(_) => {
                ODataValue::Boolean(self.eval_bool(n, frame))
            }
        }
    }
}

/// One bound variable on the evaluation stack. `node: None` is the virtual
/// element of an empty navigation.
struct Frame<'a> {
    var: usize,
    node: Option<&'a dyn EntityNode>,
    parent: Option<&'a Frame<'a>>,
}

impl<'a> Frame<'a> {
    /// `None`: unbound; `Some(None)`: bound to the virtual null element.
    fn lookup(&self, var: usize) -> Option<Option<&'a dyn EntityNode>> {
        let mut f = Some(self);
        while let Some(fr) = f {
            if fr.var == var {
                return Some(fr.node);
            }
            f = fr.parent;
        }
        None
    }
}

/// See [`Filter::pinned_root_values`]. Only string literals pin: `eq` between
/// a string and anything else is never true, and `null` is not indexable.
fn pinned<'a>(n: &'a Node, property: &str) -> Option<Vec<&'a str>> {
    let root_prop =
        |n: &Node| matches!(&n.kind, Kind::Prop { var: 0, prop } if prop.name == property);
    let text = |n: &'a Node| match &n.kind {
        Kind::Lit(ODataValue::String(s)) => Some(s.as_str()),
        _ => None,
    };
    match &n.kind {
        Kind::Cmp(CmpOp::Eq, a, b) if root_prop(a) => text(b).map(|s| vec![s]),
        Kind::Cmp(CmpOp::Eq, a, b) if root_prop(b) => text(a).map(|s| vec![s]),
        Kind::In(a, list) if root_prop(a) => list
            .iter()
            .map(|v| match v {
                ODataValue::String(s) => Some(s.as_str()),
                _ => None,
            })
            .collect(),
        // The narrowest operand: each one alone already bounds the matches.
        Kind::And(items) => items.iter().filter_map(|i| pinned(i, property)).min_by_key(Vec::len),
        Kind::Or(items) => {
            let mut all = Vec::new();
            for i in items {
                all.extend(pinned(i, property)?);
            }
            Some(all)
        }
        _ => None,
    }
}

fn compare(op: CmpOp, a: &ODataValue, b: &ODataValue) -> bool {
    let a_null = matches!(a, ODataValue::Null);
    let b_null = matches!(b, ODataValue::Null);
    match op {
        CmpOp::Eq | CmpOp::Ne => {
            let eq = if a_null || b_null {
                a_null && b_null
            } else {
                order(a, b) == Some(Ordering::Equal)
            };
            eq == (op == CmpOp::Eq)
        }
        CmpOp::Like => match (a, b) {
            (ODataValue::String(s), ODataValue::String(p)) => like(s, p),
            _ => false,
        },
        _ => match order(a, b) {
            Some(o) => match op {
                CmpOp::Lt => o == Ordering::Less,
                CmpOp::Le => o != Ordering::Greater,
                CmpOp::Gt => o == Ordering::Greater,
                _ => o != Ordering::Less,
            },
            None => false,
        },
    }
}

fn number(v: &ODataValue) -> Option<f64> {
    match v {
        ODataValue::Int32(i) => Some(f64::from(*i)),
        // Precision loss above 2^53 is irrelevant for SuccessFactors ids.
        ODataValue::Int64(i) => Some(*i as f64),
        ODataValue::Decimal(d) => d.parse().ok(),
        ODataValue::Double(f) => Some(*f),
        _ => None,
    }
}

fn order(a: &ODataValue, b: &ODataValue) -> Option<Ordering> {
    use ODataValue as V;
    match (a, b) {
        (V::String(x), V::String(y)) => Some(x.cmp(y)),
        (V::Boolean(x), V::Boolean(y)) => Some(x.cmp(y)),
        (V::Int32(x), V::Int32(y)) => Some(x.cmp(y)),
        (V::Int64(x), V::Int64(y)) => Some(x.cmp(y)),
        (V::Int32(x), V::Int64(y)) => Some(i64::from(*x).cmp(y)),
        (V::Int64(x), V::Int32(y)) => Some(x.cmp(&i64::from(*y))),
        _ => {
            if let (Some(x), Some(y)) = (a.instant_ms(), b.instant_ms()) {
                return Some(x.cmp(&y));
            }
            let (x, y) = (number(a)?, number(b)?);
            x.partial_cmp(&y)
        }
    }
}

/// SQL-style `like` with `%` as "any run of characters"; other characters,
/// `_` included, match themselves (unverified against SuccessFactors).
fn like(s: &str, pattern: &str) -> bool {
    let parts: Vec<&str> = pattern.split('%').collect();
    let (first, rest) = match parts.split_first() {
        Some(x) => x,
        None => return s.is_empty(),
    };
    let Some(mut tail) = s.strip_prefix(first) else { return false };
    let Some((last, middle)) = rest.split_last() else { return tail.is_empty() };
    for m in middle {
        match tail.find(m) {
            Some(i) => tail = &tail[i + m.len()..],
            None => return false,
        }
    }
    tail.len() >= last.len() && tail.ends_with(last)
}

fn call(func: Func, args: &[ODataValue]) -> ODataValue {
    let s = |i: usize| match args.get(i) {
        Some(ODataValue::String(s)) => Some(s.as_str()),
        _ => None,
    };
    let b = ODataValue::Boolean;
    match func {
        Func::StartsWith => b(matches!((s(0), s(1)), (Some(x), Some(p)) if x.starts_with(p))),
        Func::EndsWith => b(matches!((s(0), s(1)), (Some(x), Some(p)) if x.ends_with(p))),
        // OData v2 order: substringof(needle, haystack).
        Func::SubstringOf => b(matches!((s(0), s(1)), (Some(n), Some(h)) if h.contains(n))),
        Func::ToLower => s(0).map_or(ODataValue::Null, |x| ODataValue::String(x.to_lowercase())),
        Func::ToUpper => s(0).map_or(ODataValue::Null, |x| ODataValue::String(x.to_uppercase())),
        Func::Trim => s(0).map_or(ODataValue::Null, |x| ODataValue::String(x.trim().to_owned())),
        Func::Length => s(0).map_or(ODataValue::Null, |x| {
            ODataValue::Int32(i32::try_from(x.chars().count()).unwrap_or(i32::MAX))
        }),
        Func::IndexOf => match (s(0), s(1)) {
            (Some(h), Some(n)) => ODataValue::Int32(
                h.find(n).map_or(-1, |i| i32::try_from(h[..i].chars().count()).unwrap_or(i32::MAX)),
            ),
            _ => ODataValue::Null,
        },
        Func::Concat => match (s(0), s(1)) {
            (Some(x), Some(y)) => ODataValue::String(format!("{x}{y}")),
            _ => ODataValue::Null,
        },
    }
}

// ---------------------------------------------------------------------------
// Variables per node.

fn merge(into: &mut Vec<usize>, from: &[usize]) {
    into.extend_from_slice(from);
    into.sort_unstable();
    into.dedup();
}

/// Fills `refs` and `bind` bottom-up. Variable ids are allocated prefix-first
/// while binding, so sorting by id puts parents before children.
fn annotate(n: &mut Node, vars: &[Var]) {
    let mut refs = Vec::new();
    match &mut n.kind {
        Kind::Lit(_) => {}
        Kind::Prop { var, .. } => {
            let mut v = *var;
            while v != 0 {
                refs.push(v);
                v = vars[v].parent;
            }
            refs.sort_unstable();
        }
        Kind::Cmp(_, a, b) => {
            annotate(a, vars);
            annotate(b, vars);
            merge(&mut refs, &a.refs);
            merge(&mut refs, &b.refs);
        }
        Kind::In(a, _) | Kind::Not(a) => {
            annotate(a, vars);
            merge(&mut refs, &a.refs);
        }
        Kind::Call(_, items) | Kind::And(items) | Kind::Or(items) => {
            for i in items.iter_mut() {
                annotate(i, vars);
                merge(&mut refs, &i.refs);
            }
        }
    }
    n.bind = match &n.kind {
        Kind::Or(_) => Vec::new(),
        Kind::And(items) => {
            let mut shared = Vec::new();
            for v in &refs {
                if items.iter().filter(|i| i.refs.binary_search(v).is_ok()).count() >= 2 {
                    shared.push(*v);
                }
            }
            shared
        }
        _ => refs.clone(),
    };
    n.refs = refs;
}

// ---------------------------------------------------------------------------
// Lexer.

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    LParen,
    RParen,
    Comma,
    /// Identifier or `/`-separated path.
    Name(String),
    Lit(ODataValue),
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    /// Byte offset in the source.
    at: usize,
}

fn char_pos(src: &str, byte: usize) -> usize {
    src.get(..byte).map_or(byte, |s| s.chars().count())
}

fn lex(src: &str) -> Result<Vec<Token>, ODataError> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let start = i;
        match c {
            b' ' | b'\t' | b'\r' | b'\n' => {
                i += 1;
                continue;
            }
            b'(' => {
                i += 1;
                out.push(Token { tok: Tok::LParen, at: start });
            }
            b')' => {
                i += 1;
                out.push(Token { tok: Tok::RParen, at: start });
            }
            b',' => {
                i += 1;
                out.push(Token { tok: Tok::Comma, at: start });
            }
            b'\'' => {
                let (s, next) = lex_string(src, i)?;
                i = next;
                out.push(Token { tok: Tok::Lit(ODataValue::String(s)), at: start });
            }
            b'-' | b'+' | b'0'..=b'9' => {
                i += 1;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'.') {
                    i += 1;
                }
                let text = &src[start..i];
                let v = ODataValue::parse_literal(text).map_err(|_| {
                    ODataError::bad_filter(
                        char_pos(src, start),
                        "a number literal",
                        &format!("'{text}'"),
                    )
                })?;
                out.push(Token { tok: Tok::Lit(v), at: start });
            }
            c if c.is_ascii_alphabetic() || c == b'_' || c == b'$' => {
                while i < b.len()
                    && (b[i].is_ascii_alphanumeric() || matches!(b[i], b'_' | b'/' | b'$' | b'.'))
                {
                    i += 1;
                }
                let name = &src[start..i];
                if b.get(i) == Some(&b'\'') {
                    // Typed literal: datetime'…', datetimeoffset'…'.
                    let (body, next) = lex_string(src, i)?;
                    let pos = char_pos(src, start);
                    let v = match name.to_ascii_lowercase().as_str() {
                        "datetime" => {
                            value::parse_datetime_body(&body)
                                .map(ODataValue::DateTime)
                                .map_err(|e| ODataError::bad_date("datetime literal", &e.0))?
                        }
                        "datetimeoffset" => value::parse_datetimeoffset_body(&body)
                            .map(|(ms, offset_minutes)| ODataValue::DateTimeOffset {
                                ms,
                                offset_minutes,
                            })
                            .map_err(|e| ODataError::bad_date("datetimeoffset literal", &e.0))?,
                        _ => {
                            return Err(ODataError::bad_filter(
                                pos,
                                "datetime'…' or datetimeoffset'…'",
                                &format!("{name}'…'"),
                            ));
                        }
                    };
                    i = next;
                    out.push(Token { tok: Tok::Lit(v), at: start });
                } else {
                    out.push(Token { tok: Tok::Name(name.to_owned()), at: start });
                }
            }
            _ => {
                let ch = src[i..].chars().next().unwrap_or('?');
                return Err(ODataError::bad_filter(
                    char_pos(src, i),
                    "a name, literal or '('",
                    &format!("'{ch}'"),
                ));
            }
        }
    }
    Ok(out)
}

/// Reads `'…'` starting at byte `i` (the opening quote); `''` is a quote.
fn lex_string(src: &str, i: usize) -> Result<(String, usize), ODataError> {
    let mut out = String::new();
    let rest = &src[i + 1..];
    let mut iter = rest.char_indices().peekable();
    while let Some((j, c)) = iter.next() {
        if c == '\'' {
            if let Some((_, '\'')) = iter.peek() {
                iter.next();
                out.push('\'');
            } else {
                return Ok((out, i + 1 + j + 1));
            }
        } else {
            out.push(c);
        }
    }
    Err(ODataError::bad_filter(
        char_pos(src, i),
        "a closing quote for the string literal",
        "the end of the filter",
    ))
}

// ---------------------------------------------------------------------------
// Parser + binder.

struct Parser<'s> {
    src: &'s str,
    tokens: Vec<Token>,
    pos: usize,
    depth: usize,
    entity: &'static EntityType,
    vars: Vec<Var>,
}

fn node(kind: Kind) -> Node {
    Node { kind, bind: Vec::new(), refs: Vec::new() }
}

impl Node {
    fn is_bool(&self) -> bool {
        match &self.kind {
            Kind::Lit(v) => matches!(v, ODataValue::Boolean(_)),
            Kind::Prop { prop, .. } => prop.ty == EdmType::Boolean,
            Kind::Call(f, _) => f.is_bool(),
            Kind::Cmp(..) | Kind::In(..) | Kind::And(_) | Kind::Or(_) | Kind::Not(_) => true,
        }
    }
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::LParen => "'('".into(),
        Tok::RParen => "')'".into(),
        Tok::Comma => "','".into(),
        Tok::Name(n) => format!("'{n}'"),
        Tok::Lit(v) => format!("literal {}", v.key_literal()),
    }
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.tokens.get(self.pos).map(|t| &t.tok)
    }
    fn peek_kw(&self, kw: &str) -> bool {
        matches!(self.peek(), Some(Tok::Name(n)) if n.eq_ignore_ascii_case(kw))
    }
    fn err_at(&self, t: &Token, expected: &str) -> ODataError {
        ODataError::bad_filter(char_pos(self.src, t.at), expected, &describe(&t.tok))
    }
    fn err_here(&self, expected: &str) -> ODataError {
        match self.tokens.get(self.pos) {
            Some(t) => self.err_at(t, expected),
            None => {
                ODataError::bad_filter(self.src.chars().count(), expected, "the end of the filter")
            }
        }
    }
    fn enter(&mut self) -> Result<(), ODataError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.err_here(&format!("at most {MAX_DEPTH} levels of nesting")));
        }
        Ok(())
    }

    fn parse_or(&mut self) -> Result<Node, ODataError> {
        let mut items = vec![self.parse_and()?];
        loop {
            if self.peek_kw("or") {
                self.pos += 1;
                items.push(self.parse_and()?);
            } else if self.adjacent_groups() {
                // `(…) (…)`: see the module docs (Entra's delta template).
                items.push(self.parse_and()?);
            } else {
                break;
            }
        }
        Ok(if items.len() == 1 { items.remove(0) } else { node(Kind::Or(items)) })
    }

    /// The previous token closed a parenthesised group and the next opens one.
    fn adjacent_groups(&self) -> bool {
        self.pos > 0
            && matches!(self.tokens.get(self.pos - 1).map(|t| &t.tok), Some(Tok::RParen))
            && matches!(self.peek(), Some(Tok::LParen))
            && self.closed_group(self.pos - 1)
    }

    /// Whether the `)` at token index `close` ends a group rather than a
    /// function call's argument list.
    fn closed_group(&self, close: usize) -> bool {
        let mut depth = 0usize;
        for i in (0..=close).rev() {
            match self.tokens[i].tok {
                Tok::RParen => depth += 1,
                Tok::LParen => {
                    depth -= 1;
                    if depth == 0 {
                        return !matches!(i.checked_sub(1).map(|j| &self.tokens[j].tok), Some(Tok::Name(n)) if Func::from_name(n).is_some());
                    }
                }
                _ => {}
            }
        }
        false
    }

    fn parse_and(&mut self) -> Result<Node, ODataError> {
        let mut items = vec![self.parse_unary()?];
        while self.peek_kw("and") {
            self.pos += 1;
            items.push(self.parse_unary()?);
        }
        Ok(if items.len() == 1 { items.remove(0) } else { node(Kind::And(items)) })
    }

    fn parse_unary(&mut self) -> Result<Node, ODataError> {
        if self.peek_kw("not") {
            self.pos += 1;
            self.enter()?;
            let inner = self.parse_unary()?;
            self.depth -= 1;
            if !inner.is_bool() {
                return Err(ODataError::bad_filter_expression("'not' needs a boolean operand"));
            }
            return Ok(node(Kind::Not(Box::new(inner))));
        }
        let left = self.parse_operand()?;
        let op = match self.peek() {
            Some(Tok::Name(n)) => match n.to_ascii_lowercase().as_str() {
                "eq" => Some(CmpOp::Eq),
                "ne" => Some(CmpOp::Ne),
                "lt" => Some(CmpOp::Lt),
                "le" => Some(CmpOp::Le),
                "gt" => Some(CmpOp::Gt),
                "ge" => Some(CmpOp::Ge),
                "like" => Some(CmpOp::Like),
                "in" => {
                    self.pos += 1;
                    return self.parse_in(left);
                }
                _ => None,
            },
            _ => None,
        };
        let Some(op) = op else {
            if left.is_bool() {
                return Ok(left);
            }
            return Err(self.err_here("a comparison operator (eq, ne, lt, le, gt, ge, like, in)"));
        };
        self.pos += 1;
        let right = self.parse_operand()?;
        let (left, right) = self.coerce_pair(left, right)?;
        Ok(node(Kind::Cmp(op, Box::new(left), Box::new(right))))
    }

    /// SuccessFactors' `x in 'a','b','c'` (bare list, no parentheses).
    fn parse_in(&mut self, left: Node) -> Result<Node, ODataError> {
        let mut list = Vec::new();
        loop {
            match self.tokens.get(self.pos) {
                Some(Token { tok: Tok::Lit(v), .. }) => {
                    list.push(v.clone());
                    self.pos += 1;
                }
                _ => {
                    return Err(
                        self.err_here("a literal after 'in' (SuccessFactors syntax: x in 'a','b')")
                    );
                }
            }
            if matches!(self.peek(), Some(Tok::Comma)) {
                self.pos += 1;
            } else {
                break;
            }
        }
        let list = match &left.kind {
            Kind::Prop { prop, var } => {
                let entity = self.var_entity(*var);
                list.into_iter().map(|v| coerce(v, prop, entity)).collect::<Result<_, _>>()?
            }
            _ => list,
        };
        Ok(node(Kind::In(Box::new(left), list)))
    }

    fn parse_operand(&mut self) -> Result<Node, ODataError> {
        let Some(t) = self.tokens.get(self.pos).cloned() else {
            return Err(self.err_here("a name, literal or '('"));
        };
        match t.tok {
            Tok::LParen => {
                self.pos += 1;
                self.enter()?;
                let inner = self.parse_or()?;
                self.depth -= 1;
                if !matches!(self.peek(), Some(Tok::RParen)) {
                    return Err(self.err_here("')'"));
                }
                self.pos += 1;
                Ok(inner)
            }
            Tok::Lit(v) => {
                self.pos += 1;
                Ok(node(Kind::Lit(v)))
            }
            Tok::Name(ref name) => {
                self.pos += 1;
                match name.to_ascii_lowercase().as_str() {
                    "null" => return Ok(node(Kind::Lit(ODataValue::Null))),
                    "true" => return Ok(node(Kind::Lit(ODataValue::Boolean(true)))),
                    "false" => return Ok(node(Kind::Lit(ODataValue::Boolean(false)))),
                    _ => {}
                }
                if matches!(self.peek(), Some(Tok::LParen)) {
                    let Some(func) = Func::from_name(name) else {
                        return Err(self.err_at(&t, "a known function (startswith, endswith, substringof, tolower, toupper, trim, length, indexof, concat)"));
                    };
                    return self.parse_call(func);
                }
                self.bind_path(name)
            }
            Tok::RParen | Tok::Comma => Err(self.err_at(&t, "a name, literal or '('")),
        }
    }

    fn parse_call(&mut self, func: Func) -> Result<Node, ODataError> {
        self.pos += 1; // '('
        self.enter()?;
        let mut args = Vec::new();
        if !matches!(self.peek(), Some(Tok::RParen)) {
            loop {
                args.push(self.parse_operand()?);
                if matches!(self.peek(), Some(Tok::Comma)) {
                    self.pos += 1;
                } else {
                    break;
                }
            }
        }
        if !matches!(self.peek(), Some(Tok::RParen)) {
            return Err(self.err_here("',' or ')' in the function's arguments"));
        }
        self.pos += 1;
        self.depth -= 1;
        if args.len() != func.arity() {
            return Err(ODataError::bad_filter_expression(&format!(
                "{} takes {} argument(s), got {}",
                func.name(),
                func.arity(),
                args.len()
            )));
        }
        Ok(node(Kind::Call(func, args)))
    }

    /// Converts a literal compared with a property to the property's type.
    fn coerce_pair(&self, left: Node, right: Node) -> Result<(Node, Node), ODataError> {
        let fix = |lit: Node, other: &Node| -> Result<Node, ODataError> {
            match (&lit.kind, &other.kind) {
                (Kind::Lit(v), Kind::Prop { prop, var }) => {
                    Ok(node(Kind::Lit(coerce(v.clone(), prop, self.var_entity(*var))?)))
                }
                _ => Ok(lit),
            }
        };
        let l = fix(left, &right)?;
        let r = fix(right, &l)?;
        Ok((l, r))
    }

    fn var_entity(&self, var: usize) -> &'static EntityType {
        self.vars[var].nav.and_then(|n| n.target_type()).unwrap_or(self.entity)
    }

    /// Resolves `a/b/c` against the schema, allocating a variable per
    /// navigation prefix.
    fn bind_path(&mut self, path: &str) -> Result<Node, ODataError> {
        let segments: Vec<&str> = path.split('/').collect();
        let Some((last, navs)) = segments.split_last() else {
            return Err(ODataError::property_not_found(self.entity.name, &[path]));
        };
        let mut var = 0usize;
        let mut ty = self.entity;
        let mut prefix = String::new();
        for seg in navs {
            let Some(nav) = ty.nav(seg) else {
                return Err(ODataError::property_not_found(ty.name, &[seg]));
            };
            let Some(target) = nav.target_type() else {
                return Err(ODataError::property_not_found(ty.name, &[seg]));
            };
            if !prefix.is_empty() {
                prefix.push('/');
            }
            prefix.push_str(seg);
            var = match self.vars.iter().position(|v| v.path == prefix) {
                Some(i) => i,
                None => {
                    self.vars.push(Var { parent: var, nav: Some(nav), path: prefix.clone() });
                    self.vars.len() - 1
                }
            };
            ty = target;
        }
        match ty.property(last) {
            Some(prop) => Ok(node(Kind::Prop { var, prop })),
            None if ty.nav(last).is_some() => Err(ODataError::bad_filter_expression(&format!(
                "{}/{last} is a navigation property; filter on one of its properties",
                ty.name
            ))),
            None => Err(ODataError::property_not_found(ty.name, &[last])),
        }
    }
}

fn coerce(
    v: ODataValue,
    prop: &'static Property,
    entity: &'static EntityType,
) -> Result<ODataValue, ODataError> {
    use ODataValue as V;
    let mismatch = |v: &V| {
        ODataError::bad_filter_expression(&format!(
            "{}/{} is {} and cannot be compared with {}",
            entity.name,
            prop.name,
            prop.ty.edm_name(),
            v.key_literal()
        ))
    };
    Ok(match (prop.ty, v) {
        (_, V::Null) => V::Null,
        (EdmType::String, V::String(s)) if entity.name == "User" && prop.name == "status" => {
            V::String(user_status_code(&s).map_or(s, str::to_owned))
        }
        (EdmType::String, V::String(s)) => V::String(s),
        // `emailType eq 8448`: picklist ids are strings on the wire.
        (EdmType::String, v @ (V::Int32(_) | V::Int64(_))) => V::String(match v {
            V::Int32(i) => i.to_string(),
            V::Int64(i) => i.to_string(),
            _ => String::new(),
        }),
        (
            EdmType::DateTime | EdmType::DateTimeOffset,
            v @ (V::DateTime(_) | V::DateTimeOffset { .. }),
        ) => v,
        // SuccessFactors also takes date-shaped strings (KBA-3575859:
        // `lastModifiedDateTime ge '2000-01-01'`).
        (EdmType::DateTime | EdmType::DateTimeOffset, V::String(s)) => {
            let ms = value::parse_day(&s)
                .or_else(|_| value::parse_datetimeoffset_body(&s).map(|(ms, _)| ms))
                .or_else(|_| value::parse_datetime_body(&s))
                .map_err(|_| ODataError::bad_date(&format!("{}/{}", entity.name, prop.name), &s))?;
            V::DateTime(ms)
        }
        (EdmType::Int32 | EdmType::Int64 | EdmType::Decimal | EdmType::Double, v)
            if number(&v).is_some() =>
        {
            v
        }
        (EdmType::Int32 | EdmType::Int64 | EdmType::Decimal | EdmType::Double, V::String(s)) => {
            match V::parse_literal(&s) {
                Ok(n) if number(&n).is_some() => n,
                _ => return Err(mismatch(&V::String(s))),
            }
        }
        (EdmType::Boolean, v @ V::Boolean(_)) => v,
        (_, v) => return Err(mismatch(&v)),
    })
}

/// SuccessFactors' one-letter `User.status` codes (KBA-3075524, KBA-2736579
/// via Microsoft's pre-hire docs; `d` from KBA-3575859, meaning unverified).
pub fn user_status_code(code: &str) -> Option<&'static str> {
    Some(match code {
        "t" => "active",
        "f" => "inactive",
        "e" => "active_external_suite",
        "d" => "inactive_external_suite",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns() {
        for (s, p, want) in [
            ("Anna", "A%", true),
            ("Anna", "%na", true),
            ("Anna", "%nn%", true),
            ("Anna", "Anna", true),
            ("Anna", "B%", false),
            ("Anna", "%x%", false),
            ("ab", "%ab%b", false),
            ("", "%", true),
        ] {
            assert_eq!(like(s, p), want, "{s} like {p}");
        }
    }
}
