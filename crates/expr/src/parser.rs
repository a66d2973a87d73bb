//! Hand-written lexer and recursive-descent parser (see `ecosystem.md` §1.5:
//! exact spans and good errors matter more than a grammar DSL).

use crate::Value;
use crate::ast::{Call, CmpOp, Kind, Node};
use crate::functions::Func;

/// Longest accepted expression, as in Entra.
pub const MAX_EXPRESSION_LEN: usize = 10_000;
/// Deepest accepted call nesting; keeps recursion bounded on hostile input.
pub const MAX_DEPTH: usize = 128;

/// A syntax error: what was expected, where, and the offending text.
///
/// `Display` renders `<message> at line L, column C`, then the source line
/// and a caret line (`^^^`) under the offending text.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message} at line {line}, column {column}\n{snippet}")]
pub struct ParseError {
    message: String,
    offset: usize,
    line: usize,
    column: usize,
    snippet: String,
}

/// Line/column (1-based, column in characters) of a byte offset.
pub(crate) fn line_column(src: &str, offset: usize) -> (usize, usize) {
    let offset = floor_boundary(src, offset);
    let line_start = src[..offset].rfind('\n').map_or(0, |i| i + 1);
    (src[..offset].matches('\n').count() + 1, src[line_start..offset].chars().count() + 1)
}

fn floor_boundary(src: &str, mut offset: usize) -> usize {
    offset = offset.min(src.len());
    while !src.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// The source line holding `span.start` and a caret line under the span
/// (clipped to that line; at least one caret).
pub fn caret_snippet(src: &str, span: std::ops::Range<usize>) -> String {
    let start = floor_boundary(src, span.start);
    let line_start = src[..start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = src[start..].find('\n').map_or(src.len(), |i| start + i);
    let end = floor_boundary(src, span.end.max(start)).min(line_end);
    let pad = src[line_start..start].chars().count();
    let width = src[start..end].chars().count().max(1);
    format!(
        "  {}\n  {}{}",
        src[line_start..line_end].replace('\t', " "),
        " ".repeat(pad),
        "^".repeat(width)
    )
}

impl ParseError {
    fn new(src: &str, offset: usize, len: usize, message: String) -> Self {
        let offset = floor_boundary(src, offset);
        let (line, column) = line_column(src, offset);
        ParseError {
            message,
            offset,
            line,
            column,
            snippet: caret_snippet(src, offset..offset + len.max(1)),
        }
    }

    /// Byte offset of the offending text.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// The bare message (what was expected / found), without the snippet.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// 1-based line and column (in characters) of the offending text.
    pub fn line_column(&self) -> (usize, usize) {
        (self.line, self.column)
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Attr(String),
    Str(String),
    Int(i64),
    Num(f64),
    Ident(String),
    LParen,
    RParen,
    Comma,
    Cmp(CmpOp),
    Eof,
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Attr(n) => format!("attribute [{n}]"),
        Tok::Str(_) => "a string".into(),
        Tok::Int(_) | Tok::Num(_) => "a number".into(),
        Tok::Ident(n) => format!("'{n}'"),
        Tok::LParen => "'('".into(),
        Tok::RParen => "')'".into(),
        Tok::Comma => "','".into(),
        Tok::Cmp(op) => format!("'{}'", op.symbol()),
        Tok::Eof => "end of input".into(),
    }
}

struct Lexer<'s> {
    src: &'s str,
    pos: usize,
}

impl<'s> Lexer<'s> {
    fn err(&self, at: usize, len: usize, msg: impl Into<String>) -> ParseError {
        ParseError::new(self.src, at, len, msg.into())
    }

    fn peek_char(&self) -> Option<char> {
        self.src[self.pos..].chars().next()
    }

    /// Next token and its span.
    fn next(&mut self) -> Result<(Tok, std::ops::Range<usize>), ParseError> {
        while let Some(c) = self.peek_char() {
            if c.is_whitespace() {
                self.pos += c.len_utf8();
            } else {
                break;
            }
        }
        let start = self.pos;
        let Some(c) = self.peek_char() else {
            return Ok((Tok::Eof, start..start));
        };
        let bytes = self.src.as_bytes();
        let tok = match c {
            '(' => {
                self.pos += 1;
                Tok::LParen
            }
            ')' => {
                self.pos += 1;
                Tok::RParen
            }
            ',' => {
                self.pos += 1;
                Tok::Comma
            }
            '=' => {
                self.pos += 1;
                Tok::Cmp(CmpOp::Eq)
            }
            '<' | '>' => {
                self.pos += 1;
                let next = bytes.get(self.pos).copied();
                let op = match (c, next) {
                    ('<', Some(b'>')) => Some(CmpOp::Ne),
                    ('<', Some(b'=')) => Some(CmpOp::Le),
                    ('>', Some(b'=')) => Some(CmpOp::Ge),
                    _ => None,
                };
                match op {
                    Some(op) => {
                        self.pos += 1;
                        Tok::Cmp(op)
                    }
                    None if c == '<' => Tok::Cmp(CmpOp::Lt),
                    None => Tok::Cmp(CmpOp::Gt),
                }
            }
            '[' => {
                let rest = &self.src[start + 1..];
                let Some(end) = rest.find([']', '\n']).filter(|&i| rest.as_bytes()[i] == b']')
                else {
                    return Err(self.err(
                        start,
                        1,
                        "unterminated attribute reference: expected ']'",
                    ));
                };
                let name = rest[..end].trim();
                if name.is_empty() {
                    return Err(self.err(
                        start,
                        end + 2,
                        "empty attribute reference: expected a name inside [ ]",
                    ));
                }
                self.pos = start + 1 + end + 1;
                Tok::Attr(name.to_owned())
            }
            '"' => {
                self.pos += 1;
                let mut s = String::new();
                loop {
                    let Some(ch) = self.peek_char() else {
                        return Err(self.err(
                            start,
                            1,
                            "unterminated string: expected a closing '\"'",
                        ));
                    };
                    self.pos += ch.len_utf8();
                    match ch {
                        '"' => break,
                        '\\' => match self.peek_char() {
                            Some(e @ ('"' | '\\')) => {
                                self.pos += 1;
                                s.push(e);
                            }
                            // Entra keeps unknown escapes verbatim (regex text such as "\d").
                            _ => s.push('\\'),
                        },
                        _ => s.push(ch),
                    }
                }
                Tok::Str(s)
            }
            '&' => {
                let rest = &self.src[start + 1..];
                if !rest.starts_with(['H', 'h']) {
                    return Err(self.err(
                        start,
                        1,
                        "unexpected '&': expected a hex literal such as &HFF",
                    ));
                }
                let digits: &str = &rest[1..rest[1..]
                    .find(|ch: char| !ch.is_ascii_hexdigit())
                    .map_or(rest.len(), |i| i + 1)];
                let len = 2 + digits.len();
                if digits.is_empty() {
                    return Err(self.err(start, 2, "expected hex digits after &H"));
                }
                let v = i64::from_str_radix(digits, 16).map_err(|_| {
                    self.err(start, len, "hex literal out of range (max 64-bit signed)")
                })?;
                self.pos = start + len;
                Tok::Int(v)
            }
            c if c.is_ascii_digit() || c == '-' || c == '.' => {
                let rest = &self.src[start..];
                let mut end = usize::from(c == '-');
                let b = rest.as_bytes();
                while end < b.len() && (b[end].is_ascii_digit() || b[end] == b'.') {
                    end += 1;
                }
                let text = &rest[..end];
                let tok = if let Ok(i) = text.parse::<i64>() {
                    Tok::Int(i)
                } else if let Ok(f) = text
                    .parse::<f64>()
                    .map_err(|_| ())
                    .and_then(|f| if f.is_finite() && text != "-" { Ok(f) } else { Err(()) })
                {
                    Tok::Num(f)
                } else {
                    return Err(self.err(start, end.max(1), format!("invalid number '{text}'")));
                };
                self.pos = start + end;
                tok
            }
            c if c.is_alphabetic() || c == '_' => {
                let rest = &self.src[start..];
                let end = rest
                    .find(|ch: char| !(ch.is_alphanumeric() || ch == '_'))
                    .unwrap_or(rest.len());
                self.pos = start + end;
                Tok::Ident(rest[..end].to_owned())
            }
            other => {
                return Err(self.err(
                    start,
                    other.len_utf8(),
                    format!("unexpected character '{other}': expected an attribute [name], a \"string\", a number or a function call"),
                ));
            }
        };
        Ok((tok, start..self.pos))
    }
}

struct Parser<'s> {
    lex: Lexer<'s>,
    tok: Tok,
    span: std::ops::Range<usize>,
    depth: usize,
}

impl<'s> Parser<'s> {
    fn bump(&mut self) -> Result<(), ParseError> {
        let (t, s) = self.lex.next()?;
        self.tok = t;
        self.span = s;
        Ok(())
    }

    fn unexpected(&self, expected: &str) -> ParseError {
        let len = self.span.len();
        self.lex.err(
            self.span.start,
            len,
            format!("expected {expected}, found {}", describe(&self.tok)),
        )
    }

    fn expr(&mut self) -> Result<Node, ParseError> {
        let lhs = self.operand()?;
        if let Tok::Cmp(op) = self.tok {
            self.bump()?;
            let rhs = self.operand()?;
            let span = lhs.span.start..rhs.span.end;
            return Ok(Node { kind: Kind::Compare(Box::new(lhs), op, Box::new(rhs)), span });
        }
        Ok(lhs)
    }

    fn operand(&mut self) -> Result<Node, ParseError> {
        let span = self.span.clone();
        let kind = match std::mem::replace(&mut self.tok, Tok::Eof) {
            Tok::Attr(n) => Kind::Attr(n),
            Tok::Str(s) => Kind::Literal(Value::String(s)),
            Tok::Int(i) => Kind::Literal(Value::Int(i)),
            Tok::Num(f) => Kind::Literal(Value::Number(f)),
            Tok::Ident(name) => {
                self.bump()?;
                if self.tok != Tok::LParen {
                    return Ok(Node { kind: Kind::Ident(name), span });
                }
                return self.call(name, span);
            }
            other => {
                self.tok = other;
                return Err(self
                    .unexpected("an attribute [name], a \"string\", a number or a function call"));
            }
        };
        self.bump()?;
        Ok(Node { kind, span })
    }

    /// Called with the current token on '('.
    fn call(
        &mut self,
        name: String,
        name_span: std::ops::Range<usize>,
    ) -> Result<Node, ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.lex.err(
                name_span.start,
                name_span.len(),
                format!("nesting deeper than {MAX_DEPTH} calls"),
            ));
        }
        self.bump()?;
        let mut args = Vec::new();
        if self.tok == Tok::RParen {
            // `f()` has no arguments, not one omitted one.
        } else {
            loop {
                if matches!(self.tok, Tok::Comma | Tok::RParen) {
                    args.push(None);
                } else {
                    args.push(Some(self.expr()?));
                }
                match self.tok {
                    Tok::Comma => self.bump()?,
                    Tok::RParen => break,
                    _ => {
                        return Err(self.unexpected(&format!(
                            "',' or ')' to continue the arguments of {name}"
                        )));
                    }
                }
            }
        }
        let end = self.span.end;
        self.bump()?;
        self.depth -= 1;
        let func = Func::lookup(&name);
        let regex = func.and_then(|f| f.regex_arg(args.len())).and_then(|i| match args.get(i) {
            Some(Some(Node { kind: Kind::Literal(Value::String(p)), .. })) => {
                Some(crate::eval::compile_regex(p))
            }
            _ => None,
        });
        Ok(Node {
            span: name_span.start..end,
            kind: Kind::Call(Box::new(Call { name, name_span, func, args, regex })),
        })
    }
}

/// Parse a whole expression.
pub(crate) fn parse_node(src: &str) -> Result<Node, ParseError> {
    if src.len() > MAX_EXPRESSION_LEN {
        return Err(ParseError::new(
            src,
            MAX_EXPRESSION_LEN,
            1,
            format!("expression longer than {MAX_EXPRESSION_LEN} bytes"),
        ));
    }
    let mut p = Parser { lex: Lexer { src, pos: 0 }, tok: Tok::Eof, span: 0..0, depth: 0 };
    p.bump()?;
    let node = p.expr()?;
    if p.tok != Tok::Eof {
        return Err(p.unexpected("end of expression"));
    }
    Ok(node)
}
