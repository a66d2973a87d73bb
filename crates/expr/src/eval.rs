//! The evaluator. Values are borrowed from the syntax tree (literals) and the
//! attribute map wherever possible (`Cow`) so evaluation allocates only for
//! values a function actually builds.

use std::borrow::Cow;
use std::ops::Range;

use base64::Engine as _;
use jiff::Timestamp;

use crate::ast::{Call, CmpOp, Kind, Node};
use crate::functions::Func;
use crate::{Attributes, EvalContext, EvalError, TraceNode, Value, dates, text};

static NULL: Value = Value::Null;

/// Why evaluation stopped early.
pub(crate) enum Stop {
    Error(EvalError),
    /// IgnoreFlowIfNullOrEmpty fired: the whole attribute is not flowed.
    Ignore,
}

impl From<EvalError> for Stop {
    fn from(e: EvalError) -> Self {
        Stop::Error(e)
    }
}

type R<'e> = Result<Cow<'e, Value>, Stop>;

/// Compile a .NET-flavoured pattern. The `regex` crate has no lookaround,
/// backreferences or atomic groups; those get a clear message instead.
pub(crate) fn compile_regex(pattern: &str) -> Result<regex::Regex, String> {
    regex::RegexBuilder::new(&dotnet_to_rust_regex(pattern)).size_limit(1 << 22).build().map_err(
        |e| {
            let unsupported = [
                ("(?=", "lookahead"),
                ("(?!", "negative lookahead"),
                ("(?<=", "lookbehind"),
                ("(?<!", "negative lookbehind"),
                ("(?>", "atomic group"),
            ]
            .iter()
            .find(|(p, _)| pattern.contains(p))
            .map(|(_, what)| *what)
            .or_else(|| {
                let b = pattern.as_bytes();
                b.windows(2)
                    .any(|w| w[0] == b'\\' && w[1].is_ascii_digit() && w[1] != b'0')
                    .then_some("backreference")
            });
            match unsupported {
                Some(what) => {
                    format!("regex '{pattern}' uses a .NET feature that is not supported ({what})")
                }
                None => format!(
                    "invalid regex '{pattern}': {}",
                    e.to_string().lines().last().unwrap_or("")
                ),
            }
        },
    )
}

/// .NET lets `\<` / `\>` mean literal angle brackets (the sAMAccountName
/// sanitiser uses them); in the `regex` crate they are word boundaries.
fn dotnet_to_rust_regex(pattern: &str) -> Cow<'_, str> {
    if !pattern.contains("\\<") && !pattern.contains("\\>") {
        return Cow::Borrowed(pattern);
    }
    let mut out = String::with_capacity(pattern.len());
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some(e @ ('<' | '>')) => out.push(e),
            Some(e) => {
                out.push('\\');
                out.push(e);
            }
            None => out.push('\\'),
        }
    }
    Cow::Owned(out)
}

pub(crate) struct Evaluator<'e, 'x, 'c> {
    pub src: &'e str,
    pub attrs: &'e dyn Attributes,
    pub ctx: &'x mut EvalContext<'c>,
    /// `Some` when tracing: a stack of sibling lists being built.
    pub trace: Option<Vec<Vec<TraceNode>>>,
}

fn fname(c: &Call) -> String {
    c.func.map_or_else(|| c.name.clone(), |f| f.name().to_owned())
}

fn show(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::String(s) => format!("{s:?}"),
        other => other.as_str_lossy().map(|s| s.into_owned()).unwrap_or_default(),
    }
}

/// Entra's truthiness for IIF conditions: `True` (any case), non-zero numbers.
fn truthy(v: &Value) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::String(s) => {
            let t = s.trim();
            t.eq_ignore_ascii_case("true") || t.parse::<f64>().is_ok_and(|n| n != 0.0)
        }
        Value::Int(i) => *i != 0,
        Value::Number(n) => *n != 0.0,
        _ => false,
    }
}

fn as_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Int(i) => Some(*i as f64),
        Value::Number(n) => Some(*n),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn compare(a: &Value, op: CmpOp, b: &Value) -> bool {
    use std::cmp::Ordering;
    if matches!(a, Value::Null) || matches!(b, Value::Null) {
        return false;
    }
    let numeric = matches!(a, Value::Int(_) | Value::Number(_))
        || matches!(b, Value::Int(_) | Value::Number(_));
    let ord = match (a, b) {
        (Value::DateTime(x), Value::DateTime(y)) => Some(x.cmp(y)),
        (Value::DateTime(x), other) | (other, Value::DateTime(x)) => {
            let y = other.as_str_lossy().and_then(|s| dates::parse_loose(&s).ok());
            let flip = matches!(b, Value::DateTime(_)) && !matches!(a, Value::DateTime(_));
            y.map(|y| if flip { y.cmp(x) } else { x.cmp(&y) })
        }
        (Value::Bool(_), _) | (_, Value::Bool(_)) => {
            let (x, y) =
                (a.as_str_lossy().unwrap_or_default(), b.as_str_lossy().unwrap_or_default());
            Some(x.to_ascii_lowercase().cmp(&y.to_ascii_lowercase()))
        }
        _ if numeric => match (as_f64(a), as_f64(b)) {
            (Some(x), Some(y)) => x.partial_cmp(&y),
            _ => None,
        },
        _ => None,
    };
    let ord = match ord {
        Some(o) => o,
        None => {
            let (x, y) =
                (a.as_str_lossy().unwrap_or_default(), b.as_str_lossy().unwrap_or_default());
            x.as_ref().cmp(y.as_ref())
        }
    };
    match op {
        CmpOp::Eq => ord == Ordering::Equal,
        CmpOp::Ne => ord != Ordering::Equal,
        CmpOp::Lt => ord == Ordering::Less,
        CmpOp::Le => ord != Ordering::Greater,
        CmpOp::Gt => ord == Ordering::Greater,
        CmpOp::Ge => ord != Ordering::Less,
    }
}

/// Whole number view of a value; `Ok(None)` for null.
fn to_int(v: &Value) -> Result<Option<i64>, String> {
    let bad = || format!("{} is not a whole number", show(v));
    match v {
        Value::Null => Ok(None),
        Value::Int(i) => Ok(Some(*i)),
        Value::Number(n) if n.is_finite() && n.abs() < 9.2e18 => Ok(Some(n.round() as i64)),
        Value::String(s) => {
            let t = s.trim();
            if let Ok(i) = t.parse::<i64>() {
                return Ok(Some(i));
            }
            match t.parse::<f64>() {
                Ok(n) if n.is_finite() && n.abs() < 9.2e18 => Ok(Some(n.round() as i64)),
                _ => Err(bad()),
            }
        }
        _ => Err(bad()),
    }
}

fn to_timestamp(v: &Value) -> Result<Option<Timestamp>, String> {
    match v {
        Value::Null => Ok(None),
        Value::DateTime(t) => Ok(Some(*t)),
        Value::String(s) => dates::parse_loose(s).map(Some),
        other => Err(format!("{} is not a date", show(other))),
    }
}

/// Apply a string function to a value; multi-valued inputs map per value.
fn map_str(v: &Value, mut f: impl FnMut(&str) -> Result<String, String>) -> Result<Value, String> {
    match v {
        Value::Null => Ok(Value::Null),
        Value::Array(items) => items
            .iter()
            .map(|i| match i.as_str_lossy() {
                None => Ok(Value::Null),
                Some(s) => f(&s).map(Value::String),
            })
            .collect::<Result<_, _>>()
            .map(Value::Array),
        other => f(&other.as_str_lossy().unwrap_or_default()).map(Value::String),
    }
}

/// .NET `Regex.Replace` replacement syntax: `$1`, `${name}`, `$$`, `$&`, `` $` ``, `$'`, `$+`, `$_`.
fn expand_dotnet(repl: &str, caps: &regex::Captures, input: &str, out: &mut String) {
    let mut rest = repl;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let whole = caps.get(0);
        let (consumed, text): (usize, Option<&str>) = match after.as_bytes().first() {
            Some(b'$') => (1, Some("$")),
            Some(b'&') => (1, whole.map(|m| m.as_str())),
            Some(b'`') => (1, whole.map(|m| &input[..m.start()])),
            Some(b'\'') => (1, whole.map(|m| &input[m.end()..])),
            Some(b'_') => (1, Some(input)),
            Some(b'+') => (
                1,
                (1..caps.len()).rev().find_map(|g| caps.get(g)).map(|m| m.as_str()).or(Some("")),
            ),
            Some(b'{') => match after.find('}') {
                Some(end) => {
                    let name = &after[1..end];
                    let m =
                        name.parse::<usize>().ok().map_or_else(|| caps.name(name), |n| caps.get(n));
                    (end + 1, Some(m.map_or("", |m| m.as_str())))
                }
                None => (0, None),
            },
            Some(d) if d.is_ascii_digit() => {
                let n = after.bytes().take_while(u8::is_ascii_digit).count();
                match after[..n].parse::<usize>() {
                    Ok(g) if g < caps.len() => (n, Some(caps.get(g).map_or("", |m| m.as_str()))),
                    _ => (0, None),
                }
            }
            _ => (0, None),
        };
        match text {
            Some(t) => {
                out.push_str(t);
                rest = &after[consumed..];
            }
            None => {
                out.push('$');
                rest = after;
            }
        }
    }
    out.push_str(rest);
}

impl<'e> Evaluator<'e, '_, '_> {
    pub(crate) fn eval(&mut self, node: &'e Node) -> R<'e> {
        if self.trace.is_none() {
            return self.inner(node);
        }
        if let Some(stack) = self.trace.as_mut() {
            stack.push(Vec::new());
        }
        let result = self.inner(node);
        if let Some(stack) = self.trace.as_mut() {
            let mut children = stack.pop().unwrap_or_default();
            let mut value = match &result {
                Ok(v) => Ok(v.as_ref().clone()),
                Err(Stop::Error(e)) => Err(e.message.clone()),
                Err(Stop::Ignore) => {
                    Err("IgnoreFlowIfNullOrEmpty: attribute not flowed".to_owned())
                }
            };
            if let Kind::Call(c) = &node.kind
                && c.func == Some(Func::Redact)
            {
                fn redact(n: &mut TraceNode) {
                    n.value = Ok(Value::String("[Redact]".into()));
                    n.children.iter_mut().for_each(redact);
                }
                value = value.map(|_| Value::String("[Redact]".into()));
                children.iter_mut().for_each(redact);
            }
            let source = self.src.get(node.span.clone()).unwrap_or("").to_owned();
            let tn = TraceNode { source, value, children };
            match stack.last_mut() {
                Some(parent) => parent.push(tn),
                None => stack.push(vec![tn]),
            }
        }
        result
    }

    fn inner(&mut self, node: &'e Node) -> R<'e> {
        match &node.kind {
            Kind::Attr(name) => Ok(Cow::Borrowed(self.attrs.get(name).unwrap_or(&NULL))),
            Kind::Literal(v) => Ok(Cow::Borrowed(v)),
            Kind::Ident(name) => match ident_value(name) {
                Some(v) => Ok(Cow::Owned(v)),
                None => Err(Stop::Error(EvalError {
                    function: String::new(),
                    span: node.span.clone(),
                    message: format!(
                        "unknown identifier '{name}' (expected vbBinaryCompare, vbTextCompare, True or False)"
                    ),
                })),
            },
            Kind::Compare(l, op, r) => {
                let a = self.eval(l)?;
                let b = self.eval(r)?;
                Ok(Cow::Owned(Value::Bool(compare(&a, *op, &b))))
            }
            Kind::Call(c) => self.call(node, c),
        }
    }

    fn fail(&self, c: &Call, span: Range<usize>, msg: impl std::fmt::Display) -> Stop {
        let f = fname(c);
        Stop::Error(EvalError { message: format!("{f}: {msg}"), function: f, span })
    }

    fn arg_fail(&self, c: &Call, i: usize, msg: impl std::fmt::Display) -> Stop {
        let span =
            c.args.get(i).and_then(|a| a.as_ref()).map_or(c.name_span.clone(), |n| n.span.clone());
        let f = fname(c);
        let param = c.func.map_or("argument", |func| func.param(i));
        Stop::Error(EvalError {
            message: format!("{f} argument {} ({param}): {msg}", i + 1),
            function: f,
            span,
        })
    }

    fn present(c: &Call, i: usize) -> bool {
        matches!(c.args.get(i), Some(Some(_)))
    }

    fn arg(&mut self, c: &'e Call, i: usize) -> R<'e> {
        match c.args.get(i) {
            Some(Some(n)) => self.eval(n),
            _ => Ok(Cow::Borrowed(&NULL)),
        }
    }

    fn int_arg(&mut self, c: &'e Call, i: usize) -> Result<Option<i64>, Stop> {
        let v = self.arg(c, i)?;
        to_int(&v).map_err(|m| self.arg_fail(c, i, m))
    }

    fn required_int(&mut self, c: &'e Call, i: usize) -> Result<i64, Stop> {
        self.int_arg(c, i)?.ok_or_else(|| self.arg_fail(c, i, "a number is required, got null"))
    }

    fn str_arg(&mut self, c: &'e Call, i: usize) -> Result<Option<String>, Stop> {
        let v = self.arg(c, i)?;
        Ok(v.as_str_lossy().map(Cow::into_owned))
    }

    fn date_arg(&mut self, c: &'e Call, i: usize) -> Result<Option<Timestamp>, Stop> {
        let v = self.arg(c, i)?;
        to_timestamp(&v).map_err(|m| self.arg_fail(c, i, m))
    }

    fn call(&mut self, node: &'e Node, c: &'e Call) -> R<'e> {
        let Some(func) = c.func else {
            return Err(self.fail(
                c,
                c.name_span.clone(),
                format!("unknown function '{}'", c.name),
            ));
        };
        let (min, max) = func.arity();
        if c.args.len() < min || c.args.len() > max {
            let want = if min == max {
                format!("{min}")
            } else if max == usize::MAX {
                format!("at least {min}")
            } else {
                format!("{min} to {max}")
            };
            return Err(self.fail(
                c,
                node.span.clone(),
                format!("expects {want} arguments, got {}", c.args.len()),
            ));
        }
        let owned = |v: Value| -> R<'e> { Ok(Cow::Owned(v)) };
        match func {
            Func::Append => {
                let a = self.arg(c, 0)?;
                let b = self.arg(c, 1)?;
                match (a.as_str_lossy(), b.as_str_lossy()) {
                    (None, None) => owned(Value::Null),
                    (x, y) => owned(Value::String(format!(
                        "{}{}",
                        x.unwrap_or_default(),
                        y.unwrap_or_default()
                    ))),
                }
            }
            Func::AppRoleAssignmentsComplex | Func::AssertiveAppRoleAssignmentsComplex => {
                let v = self.arg(c, 0)?;
                owned(match v.into_owned() {
                    Value::Null => Value::Null,
                    Value::Array(a) => Value::Array(a),
                    other => Value::Array(vec![other]),
                })
            }
            Func::SingleAppRoleAssignment => {
                let v = self.arg(c, 0)?;
                match v {
                    Cow::Borrowed(Value::Array(a)) => Ok(Cow::Borrowed(
                        a.iter().find(|x| !matches!(x, Value::Null)).unwrap_or(&NULL),
                    )),
                    Cow::Owned(Value::Array(a)) => owned(
                        a.into_iter().find(|x| !matches!(x, Value::Null)).unwrap_or(Value::Null),
                    ),
                    other => Ok(other),
                }
            }
            Func::BitAnd => {
                let a = self.int_arg(c, 0)?;
                let b = self.int_arg(c, 1)?;
                owned(match (a, b) {
                    (Some(a), Some(b)) => Value::Int(a & b),
                    _ => Value::Null,
                })
            }
            Func::CBool => {
                let v = self.arg(c, 0)?;
                let b = match v.as_ref() {
                    Value::Null => false,
                    Value::Bool(b) => *b,
                    Value::Int(i) => *i != 0,
                    Value::Number(n) => *n != 0.0,
                    Value::String(s) => {
                        let t = s.trim();
                        if t.eq_ignore_ascii_case("true") {
                            true
                        } else if t.eq_ignore_ascii_case("false") {
                            false
                        } else if let Ok(n) = t.parse::<f64>() {
                            n != 0.0
                        } else {
                            return Err(self.arg_fail(
                                c,
                                0,
                                format!("{} is not a boolean", show(&v)),
                            ));
                        }
                    }
                    other => {
                        return Err(self.arg_fail(
                            c,
                            0,
                            format!("{} is not a boolean", show(other)),
                        ));
                    }
                };
                owned(Value::Bool(b))
            }
            Func::CDate => {
                let t = self.date_arg(c, 0)?;
                owned(t.map_or(Value::Null, Value::DateTime))
            }
            Func::Coalesce => {
                for i in 0..c.args.len() {
                    let v = self.arg(c, i)?;
                    if !matches!(v.as_ref(), Value::Null) {
                        return Ok(v);
                    }
                }
                owned(Value::Null)
            }
            Func::ConvertToBase64 => {
                let v = self.arg(c, 0)?;
                let r = map_str(&v, |s| {
                    let bytes: Vec<u8> = s.encode_utf16().flat_map(u16::to_le_bytes).collect();
                    Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
                });
                r.map(Cow::Owned).map_err(|m| self.arg_fail(c, 0, m))
            }
            Func::ConvertToUtf8Hex => {
                let v = self.arg(c, 0)?;
                let r = map_str(&v, |s| {
                    use std::fmt::Write;
                    let mut out = String::with_capacity(s.len() * 2);
                    for b in s.bytes() {
                        let _ = write!(out, "{b:02X}");
                    }
                    Ok(out)
                });
                r.map(Cow::Owned).map_err(|m| self.arg_fail(c, 0, m))
            }
            Func::Count => {
                let v = self.arg(c, 0)?;
                owned(Value::Int(match v.as_ref() {
                    Value::Null => 0,
                    Value::Array(a) => {
                        a.iter().filter(|x| !matches!(x, Value::Null)).count() as i64
                    }
                    _ => 1,
                }))
            }
            Func::CStr => {
                let v = self.arg(c, 0)?;
                if let Value::String(_) | Value::Null = v.as_ref() {
                    return Ok(v);
                }
                owned(Value::String(v.as_str_lossy().map(Cow::into_owned).unwrap_or_default()))
            }
            Func::DateAdd => {
                let interval = self
                    .str_arg(c, 0)?
                    .ok_or_else(|| self.arg_fail(c, 0, "an interval is required, got null"))?;
                let n = self.arg(c, 1)?;
                let n = to_int(&n).map_err(|m| self.arg_fail(c, 1, m))?;
                let Some(t) = self.date_arg(c, 2)? else { return owned(Value::Null) };
                let Some(n) = n else { return owned(Value::Null) };
                dates::add(t, &interval, n)
                    .map(|t| Cow::Owned(Value::DateTime(t)))
                    .map_err(|m| self.arg_fail(c, 0, m))
            }
            Func::DateDiff => {
                let interval = self
                    .str_arg(c, 0)?
                    .ok_or_else(|| self.arg_fail(c, 0, "an interval is required, got null"))?;
                let a = self.date_arg(c, 1)?;
                let b = self.date_arg(c, 2)?;
                let (Some(a), Some(b)) = (a, b) else { return owned(Value::Null) };
                dates::diff(&interval, a, b)
                    .map(|d| Cow::Owned(Value::Int(d)))
                    .map_err(|m| self.arg_fail(c, 0, m))
            }
            Func::DateFromNum => {
                let Some(n) = self.int_arg(c, 0)? else { return owned(Value::Null) };
                dates::from_filetime(n)
                    .map(|t| Cow::Owned(Value::DateTime(t)))
                    .map_err(|m| self.arg_fail(c, 0, m))
            }
            Func::DefaultDomain => match self.ctx.default_domain.as_deref() {
                Some(d) => owned(Value::String(d.to_owned())),
                None => Err(self.fail(
                    c,
                    node.span.clone(),
                    "no default domain is configured for this tenant",
                )),
            },
            Func::FormatDateTime => self.format_date_time(c),
            Func::Guid => {
                let hi = self.ctx.random.next_u64();
                let lo = self.ctx.random.next_u64();
                let hi = (hi & !0xF000) | 0x4000;
                let lo = (lo & !(0b11 << 62)) | (0b10 << 62);
                owned(Value::String(format!(
                    "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
                    hi >> 32,
                    (hi >> 16) & 0xFFFF,
                    hi & 0xFFFF,
                    lo >> 48,
                    lo & 0xFFFF_FFFF_FFFF
                )))
            }
            Func::IgnoreFlowIfNullOrEmpty => {
                let v = self.arg(c, 0)?;
                if v.is_null_or_empty() { Err(Stop::Ignore) } else { Ok(v) }
            }
            Func::Iif => {
                let cond = self.arg(c, 0)?;
                if truthy(&cond) { self.arg(c, 1) } else { self.arg(c, 2) }
            }
            Func::InStr => {
                let hay = self.str_arg(c, 0)?;
                let needle = self.str_arg(c, 1)?;
                let start = self.int_arg(c, 2)?.unwrap_or(1);
                let cmp = self.int_arg(c, 3)?.unwrap_or(0);
                if start < 1 {
                    return Err(self.arg_fail(
                        c,
                        2,
                        format!("start must be at least 1, got {start}"),
                    ));
                }
                let (Some(hay), Some(needle)) = (hay, needle) else { return owned(Value::Null) };
                let (hay, needle) = match cmp {
                    0 => (hay, needle),
                    1 => (text::to_lower(&hay, text::Culture::Invariant), text::to_lower(&needle, text::Culture::Invariant)),
                    other => return Err(self.arg_fail(c, 3, format!("compare type must be 0 (vbBinaryCompare) or 1 (vbTextCompare), got {other}"))),
                };
                let skip = usize::try_from(start - 1).unwrap_or(usize::MAX);
                let Some((byte, _)) = hay
                    .char_indices()
                    .nth(skip)
                    .or((skip == hay.chars().count()).then_some((hay.len(), ' ')))
                else {
                    return owned(Value::Int(0));
                };
                owned(Value::Int(match hay[byte..].find(&needle) {
                    Some(i) => (skip + hay[byte..byte + i].chars().count() + 1) as i64,
                    None => 0,
                }))
            }
            Func::IsNull => {
                let v = self.arg(c, 0)?;
                owned(Value::Bool(matches!(v.as_ref(), Value::Null)))
            }
            Func::IsNullOrEmpty => {
                let v = self.arg(c, 0)?;
                owned(Value::Bool(v.is_null_or_empty()))
            }
            Func::IsPresent => {
                let v = self.arg(c, 0)?;
                owned(Value::Bool(!v.is_null_or_empty()))
            }
            Func::IsString => {
                let v = self.arg(c, 0)?;
                owned(Value::Bool(matches!(v.as_ref(), Value::String(_))))
            }
            Func::Item => {
                let v = self.arg(c, 0)?;
                let i = self.required_int(c, 1)?;
                let idx = usize::try_from(i).ok().and_then(|i| i.checked_sub(1));
                owned(match (v.as_ref(), idx) {
                    (_, None) => Value::Null,
                    (Value::Array(a), Some(i)) => a.get(i).cloned().unwrap_or(Value::Null),
                    (other, Some(0)) => other.clone(),
                    _ => Value::Null,
                })
            }
            Func::Join => {
                let sep = self.str_arg(c, 0)?.unwrap_or_default();
                let mut out = String::new();
                let mut parts = 0usize;
                let mut any_value = false;
                for i in 1..c.args.len() {
                    let v = self.arg(c, i)?;
                    let mut push = |x: &Value| {
                        if let Some(s) = x.as_str_lossy() {
                            any_value = true;
                            if !s.is_empty() {
                                if parts > 0 {
                                    out.push_str(&sep);
                                }
                                out.push_str(&s);
                                parts += 1;
                            }
                        }
                    };
                    match v.as_ref() {
                        Value::Array(items) => items.iter().for_each(&mut push),
                        other => push(other),
                    }
                }
                owned(if any_value { Value::String(out) } else { Value::Null })
            }
            Func::Left => {
                let s = self.str_arg(c, 0)?;
                let n = self.required_int(c, 1)?;
                let s = s.unwrap_or_default();
                owned(Value::String(if n < 0 {
                    s
                } else {
                    s.chars().take(usize::try_from(n).unwrap_or(usize::MAX)).collect()
                }))
            }
            Func::Len => {
                let v = self.arg(c, 0)?;
                owned(Value::Int(v.as_str_lossy().map_or(0, |s| s.chars().count()) as i64))
            }
            Func::Mid => {
                let s = self.str_arg(c, 0)?;
                let start = self.required_int(c, 1)?;
                let len = self.required_int(c, 2)?;
                if start < 1 {
                    return Err(self.arg_fail(
                        c,
                        1,
                        format!("start must be at least 1, got {start}"),
                    ));
                }
                if len < 0 {
                    return Err(self.arg_fail(
                        c,
                        2,
                        format!("length must not be negative, got {len}"),
                    ));
                }
                let s = s.unwrap_or_default();
                let skip = usize::try_from(start - 1).unwrap_or(usize::MAX);
                let take = usize::try_from(len).unwrap_or(usize::MAX);
                owned(Value::String(s.chars().skip(skip).take(take).collect()))
            }
            Func::NormalizeDiacritics => {
                let v = self.arg(c, 0)?;
                if let Value::String(s) = v.as_ref()
                    && s.is_ascii()
                {
                    return Ok(v);
                }
                let r = map_str(&v, |s| Ok(text::normalize_diacritics(s)));
                r.map(Cow::Owned).map_err(|m| self.arg_fail(c, 0, m))
            }
            Func::Not => {
                let v = self.arg(c, 0)?;
                let is_true = match v.as_ref() {
                    Value::Bool(b) => *b,
                    Value::String(s) => s.trim().eq_ignore_ascii_case("true"),
                    _ => false,
                };
                owned(Value::Bool(!is_true))
            }
            Func::Now => owned(Value::DateTime(self.ctx.clock.now())),
            Func::NumFromDate => {
                let Some(t) = self.date_arg(c, 0)? else { return owned(Value::Null) };
                dates::to_filetime(t)
                    .map(|n| Cow::Owned(Value::Int(n)))
                    .map_err(|m| self.arg_fail(c, 0, m))
            }
            Func::PCase => {
                let v = self.arg(c, 0)?;
                let seps = self.str_arg(c, 1)?;
                let r = map_str(&v, |s| Ok(text::pcase(s, seps.as_deref())));
                r.map(Cow::Owned).map_err(|m| self.arg_fail(c, 0, m))
            }
            Func::RandomString => self.random_string(c),
            Func::Redact => self.arg(c, 0),
            Func::RemoveDuplicates => {
                let v = self.arg(c, 0)?;
                match v.as_ref() {
                    Value::Array(items) => {
                        let mut out: Vec<Value> = Vec::with_capacity(items.len());
                        for it in items {
                            if !out.contains(it) {
                                out.push(it.clone());
                            }
                        }
                        owned(Value::Array(out))
                    }
                    _ => Ok(v),
                }
            }
            Func::Replace => self.replace(c),
            Func::SelectUniqueValue => {
                let mut any = false;
                for i in 0..c.args.len() {
                    let v = self.arg(c, i)?;
                    let Some(s) = v.as_str_lossy().filter(|s| !s.is_empty()) else { continue };
                    any = true;
                    let taken = match self.ctx.uniqueness {
                        Some(u) => u.is_taken(&s).map_err(|m| {
                            self.arg_fail(c, i, format!("uniqueness check for {s:?} failed: {m}"))
                        })?,
                        None => false,
                    };
                    if !taken {
                        return owned(Value::String(s.into_owned()));
                    }
                }
                // Saying "taken" when nothing was asked about would send the
                // operator to the target instead of to the worker's data.
                if !any {
                    return Err(self.fail(c, node.span.clone(), "every candidate value is empty (the attributes it is built from leave nothing usable)"));
                }
                Err(self.fail(c, node.span.clone(), "every candidate value is already taken in the target (Entra escrows the object)"))
            }
            Func::Split => {
                let v = self.arg(c, 0)?;
                let delim = self.str_arg(c, 1)?.unwrap_or_default();
                let split = |s: &str, out: &mut Vec<Value>| {
                    if delim.is_empty() {
                        out.push(Value::String(s.to_owned()));
                    } else {
                        out.extend(s.split(delim.as_str()).map(|p| Value::String(p.to_owned())));
                    }
                };
                let mut out = Vec::new();
                match v.as_ref() {
                    Value::Null => return owned(Value::Null),
                    Value::Array(items) => items
                        .iter()
                        .filter_map(|i| i.as_str_lossy())
                        .for_each(|s| split(&s, &mut out)),
                    other => split(&other.as_str_lossy().unwrap_or_default(), &mut out),
                }
                owned(Value::Array(out))
            }
            Func::StripSpaces => {
                let v = self.arg(c, 0)?;
                let r = map_str(&v, |s| Ok(s.replace(' ', "")));
                r.map(Cow::Owned).map_err(|m| self.arg_fail(c, 0, m))
            }
            Func::Switch => {
                if !c.args.len().is_multiple_of(2) {
                    return Err(self.fail(
                        c,
                        node.span.clone(),
                        "needs a source, a default and key/value pairs (a key has no value)",
                    ));
                }
                let src = self.arg(c, 0)?;
                let Some(src) = src.as_str_lossy() else { return self.arg(c, 1) };
                let src = src.into_owned();
                for k in (2..c.args.len()).step_by(2) {
                    let key = self.arg(c, k)?;
                    if key.as_str_lossy().is_some_and(|k| k == src) {
                        return self.arg(c, k + 1);
                    }
                }
                self.arg(c, 1)
            }
            Func::ToLower | Func::ToUpper => {
                let v = self.arg(c, 0)?;
                let culture = match self.str_arg(c, 1)? {
                    Some(tag) => text::culture(&tag).map_err(|m| self.arg_fail(c, 1, m))?,
                    None => text::Culture::Invariant,
                };
                let upper = func == Func::ToUpper;
                let r = map_str(&v, |s| {
                    Ok(if upper { text::to_upper(s, culture) } else { text::to_lower(s, culture) })
                });
                r.map(Cow::Owned).map_err(|m| self.arg_fail(c, 0, m))
            }
            Func::Word => {
                let s = self.str_arg(c, 0)?;
                let n = self.required_int(c, 1)?;
                let delims = self.str_arg(c, 2)?.unwrap_or_default();
                let word = match (s, usize::try_from(n).ok().and_then(|n| n.checked_sub(1))) {
                    (Some(s), Some(idx)) => s
                        .split(|ch: char| delims.contains(ch))
                        .filter(|w| !w.is_empty())
                        .nth(idx)
                        .unwrap_or("")
                        .to_owned(),
                    _ => String::new(),
                };
                owned(Value::String(word))
            }
        }
    }

    fn format_date_time(&mut self, c: &'e Call) -> R<'e> {
        // 4-argument form has dateTimeStyles second; guides also use 3 arguments.
        let (in_i, out_i) = if c.args.len() == 4 { (2, 3) } else { (1, 2) };
        let src = self.arg(c, 0)?;
        let in_fmt = self.str_arg(c, in_i)?;
        let out_fmt = self
            .str_arg(c, out_i)?
            .ok_or_else(|| self.arg_fail(c, out_i, "an output format is required, got null"))?;
        let ts = match src.as_ref() {
            Value::Null => return Ok(Cow::Owned(Value::Null)),
            Value::DateTime(t) => *t,
            other => {
                let s = other.as_str_lossy().unwrap_or_default();
                let parsed = match in_fmt.as_deref() {
                    Some(f) if !f.is_empty() => dates::parse_exact(&s, f),
                    _ => dates::parse_loose(&s),
                };
                parsed.map_err(|m| self.arg_fail(c, 0, m))?
            }
        };
        dates::format(ts, &out_fmt)
            .map(|s| Cow::Owned(Value::String(s)))
            .map_err(|m| self.arg_fail(c, out_i, m))
    }

    fn random_string(&mut self, c: &'e Call) -> R<'e> {
        const DIGITS: &str = "0123456789";
        const SPECIAL: &str = "!#$%&()*+,-./:;<=>?@[]^_{|}~";
        const UPPER: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
        const LOWER: &str = "abcdefghijklmnopqrstuvwxyz";
        let mut n = [0i64; 5];
        for (i, slot) in n.iter_mut().enumerate() {
            *slot = self.required_int(c, i)?;
            if *slot < 0 {
                return Err(self.arg_fail(c, i, format!("must not be negative, got {slot}")));
            }
        }
        let avoid = self.str_arg(c, 5)?.unwrap_or_default();
        let len = n[0];
        if len > 256 {
            return Err(self.arg_fail(c, 0, format!("length must be at most 256, got {len}")));
        }
        if n[1..].iter().try_fold(0i64, |acc, &x| acc.checked_add(x)).is_none_or(|sum| sum > len) {
            return Err(self.fail(
                c,
                c.name_span.clone(),
                format!("the minimum counts add up to more than the length {len}"),
            ));
        }
        let classes: Vec<Vec<char>> = [DIGITS, SPECIAL, UPPER, LOWER]
            .iter()
            .map(|cl| cl.chars().filter(|ch| !avoid.contains(*ch)).collect())
            .collect();
        let all: Vec<char> = classes.iter().flatten().copied().collect();
        let mut out: Vec<char> = Vec::with_capacity(len as usize);
        for (k, class) in classes.iter().enumerate() {
            if n[k + 1] > 0 && class.is_empty() {
                return Err(self.arg_fail(
                    c,
                    k + 1,
                    "every character of this class is in charactersToAvoid",
                ));
            }
            for _ in 0..n[k + 1] {
                out.push(class[self.uniform(class.len())]);
            }
        }
        if all.is_empty() && (out.len() as i64) < len {
            return Err(self.arg_fail(c, 5, "every character is avoided"));
        }
        while (out.len() as i64) < len {
            out.push(all[self.uniform(all.len())]);
        }
        for i in (1..out.len()).rev() {
            let j = self.uniform(i + 1);
            out.swap(i, j);
        }
        Ok(Cow::Owned(Value::String(out.into_iter().collect())))
    }

    fn uniform(&mut self, n: usize) -> usize {
        (self.ctx.random.next_u64() % (n.max(1) as u64)) as usize
    }

    fn regex_for(&mut self, c: &'e Call, i: usize) -> Result<Option<Cow<'e, regex::Regex>>, Stop> {
        if let Some(compiled) = &c.regex {
            return compiled
                .as_ref()
                .map(|r| Some(Cow::Borrowed(r)))
                .map_err(|m| self.arg_fail(c, i, m));
        }
        match self.str_arg(c, i)? {
            None => Ok(None),
            Some(p) => {
                compile_regex(&p).map(|r| Some(Cow::Owned(r))).map_err(|m| self.arg_fail(c, i, m))
            }
        }
    }

    /// Replace(source, oldValue, regexPattern, regexGroupName, replacementValue,
    /// replacementAttributeName, template); the 3-argument legacy form is
    /// (source, find, replacement).
    fn replace(&mut self, c: &'e Call) -> R<'e> {
        let src = self.arg(c, 0)?;
        if c.args.len() == 3 {
            let old = self.str_arg(c, 1)?;
            let new = self.str_arg(c, 2)?.unwrap_or_default();
            return self.replace_plain(c, &src, old, |s, old| s.replace(old, &new));
        }
        let old = self.str_arg(c, 1)?;
        if old.is_some() {
            if Self::present(c, 6) {
                let template = self.str_arg(c, 6)?.unwrap_or_default();
                return self.replace_plain(c, &src, old, |s, old| template.replace(old, s));
            }
            let new = self.str_arg(c, 4)?.unwrap_or_default();
            return self.replace_plain(c, &src, old, |s, old| s.replace(old, &new));
        }
        let Some(re) = self.regex_for(c, 2)? else {
            return Err(self.fail(
                c,
                c.name_span.clone(),
                "needs either oldValue (argument 2) or regexPattern (argument 3)",
            ));
        };
        let group = self.str_arg(c, 3)?;
        if let Some(g) = &group
            && re.capture_names().flatten().all(|n| n != g)
            && g.parse::<usize>().map_or(true, |n| n >= re.captures_len())
        {
            return Err(self.arg_fail(c, 3, format!("the pattern has no group named '{g}'")));
        }
        if let Some(g) = &group
            && !Self::present(c, 4)
            && Self::present(c, 5)
        {
            if !src.is_null_or_empty() {
                return Ok(src);
            }
            let other = self.str_arg(c, 5)?;
            let found = other.and_then(|o| {
                re.captures(&o)
                    .and_then(|caps| group_match(&caps, g))
                    .map(|m| m.as_str().to_owned())
            });
            return Ok(Cow::Owned(found.map_or(Value::Null, Value::String)));
        }
        let repl = self.str_arg(c, 4)?.unwrap_or_default();
        let r = map_str(&src, |s| {
            let mut out = String::with_capacity(s.len());
            let mut last = 0;
            for caps in re.captures_iter(s) {
                let Some(whole) = caps.get(0) else { continue };
                match &group {
                    Some(g) => {
                        if let Some(m) = group_match(&caps, g) {
                            out.push_str(&s[last..m.start()]);
                            out.push_str(&repl);
                            last = m.end();
                        }
                    }
                    None => {
                        out.push_str(&s[last..whole.start()]);
                        expand_dotnet(&repl, &caps, s, &mut out);
                        last = whole.end();
                    }
                }
            }
            out.push_str(&s[last..]);
            Ok(out)
        });
        r.map(Cow::Owned).map_err(|m| self.arg_fail(c, 0, m))
    }

    fn replace_plain(
        &self,
        c: &'e Call,
        src: &Value,
        old: Option<String>,
        f: impl Fn(&str, &str) -> String,
    ) -> R<'e> {
        let Some(old) = old else { return Ok(Cow::Owned(src.clone())) };
        if old.is_empty() {
            return Err(self.arg_fail(c, 1, "oldValue must not be empty"));
        }
        map_str(src, |s| Ok(f(s, &old))).map(Cow::Owned).map_err(|m| self.arg_fail(c, 0, m))
    }
}

fn group_match<'h>(caps: &regex::Captures<'h>, g: &str) -> Option<regex::Match<'h>> {
    g.parse::<usize>().ok().map_or_else(|| caps.name(g), |n| caps.get(n))
}

/// Bare identifiers Entra accepts as arguments.
pub(crate) fn ident_value(name: &str) -> Option<Value> {
    Some(match name.to_ascii_lowercase().as_str() {
        "vbbinarycompare" => Value::Int(0),
        "vbtextcompare" => Value::Int(1),
        "vbdatabasecompare" => Value::Int(2),
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        _ => return None,
    })
}
