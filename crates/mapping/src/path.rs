//! `SourcePath`: a compiled JSONPath over one SuccessFactors record, in
//! Entra's dialect.
//!
//! Entra evaluates its SuccessFactors "API expressions" with Json.NET's
//! `SelectTokens`. We evaluate them with `serde_json_path` (RFC 9535), after
//! [`translate_entra_dialect`] rewrites the few spellings RFC 9535 rejects.
//! Everything Entra's integration reference documents (`[0]`, `[-1:]`, `[1]`,
//! `..`, `[?(@.a == 'A' || @.a == 'U')]`, nested filters as existence tests)
//! is already RFC 9535 and passes through unchanged.
//!
//! # Result rule
//!
//! A path yields a *nodelist* (every node it selects, in document order).
//! [`SourcePath::select`] turns it into at most one value per attribute:
//!
//! - nothing matched, or every match is JSON `null` ⇒ no value (the attribute
//!   is *null* in the expression language: `IsPresent` is false);
//! - single-valued attribute ⇒ the **first non-null match** in document order.
//!   This is what `[0]` would give, and it is deterministic where Json.NET's
//!   `SelectToken` would throw on several matches (e.g. two active employments
//!   matching the active-employment filter: the first one listed wins);
//! - multi-valued attribute ⇒ every non-null match, in document order.

use std::borrow::Cow;
use std::fmt;

use serde_json::Value as Json;
use serde_json_path::JsonPath;

/// A JSONPath that failed to compile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid JSONPath `{path}`: {message}")]
pub struct PathError {
    /// The path as the admin wrote it.
    pub path: String,
    /// The parser's explanation, with the position in the translated path.
    pub message: String,
}

/// Longest JSONPath accepted, in bytes. The catalog's longest is about 100;
/// the limit keeps a hostile or mistaken config from making every start
/// slow (checked before parsing, as [`hrsync_expr::MAX_EXPRESSION_LEN`] is
/// for expressions).
pub const MAX_PATH_LEN: usize = 4_096;

/// Deepest nesting of brackets and parentheses accepted. The JSONPath
/// parser recurses per level: 5,000 nested parentheses overflowed the stack.
pub const MAX_PATH_DEPTH: usize = 32;

/// Deepest nesting of filters (`[?(...)]` inside `[?(...)]`) accepted. The
/// parser's time doubles per nested filter (20 took 4 s); Entra's
/// documented paths nest two.
pub const MAX_FILTER_DEPTH: usize = 5;

/// One JSONPath source expression, compiled once and run against many records.
///
/// Wraps `serde_json_path::JsonPath` so that the JSONPath engine can be swapped
/// without touching callers.
#[derive(Clone)]
pub struct SourcePath {
    source: String,
    compiled: JsonPath,
}

impl fmt::Debug for SourcePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SourcePath").field(&self.source).finish()
    }
}

/// A node selected by a path, with its RFC 9535 normalized path
/// (`$['employmentNav']['results'][0]['userId']`) for explain output.
#[derive(Debug, Clone, PartialEq)]
pub struct LocatedMatch<'a> {
    /// Normalized path of the node.
    pub location: String,
    /// The node itself.
    pub value: &'a Json,
}

impl SourcePath {
    /// Compile a path written in Entra's dialect.
    pub fn parse(path: &str) -> Result<Self, PathError> {
        check_limits(path).map_err(|message| PathError { path: shorten(path), message })?;
        let translated = translate_entra_dialect(path);
        let compiled = JsonPath::parse(&translated)
            .map_err(|e| PathError { path: path.to_owned(), message: e.to_string() })?;
        Ok(Self { source: path.to_owned(), compiled })
    }

    /// The path as written (before dialect translation).
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Every node the path selects, in document order (nulls included).
    pub fn query<'a>(&self, record: &'a Json) -> Vec<&'a Json> {
        self.compiled.query(record).all()
    }

    /// Every node the path selects, with its normalized path.
    pub fn query_located<'a>(&self, record: &'a Json) -> Vec<LocatedMatch<'a>> {
        self.compiled
            .query_located(record)
            .into_iter()
            .map(|node| LocatedMatch { location: node.location().to_string(), value: node.node() })
            .collect()
    }

    /// The first non-null match (the result rule for single-valued attributes).
    pub fn first<'a>(&self, record: &'a Json) -> Option<&'a Json> {
        self.compiled.query(record).into_iter().find(|v| !v.is_null())
    }

    /// The first non-null match with its normalized path.
    pub fn first_located<'a>(&self, record: &'a Json) -> Option<LocatedMatch<'a>> {
        self.compiled
            .query_located(record)
            .into_iter()
            .find(|n| !n.node().is_null())
            .map(|node| LocatedMatch { location: node.location().to_string(), value: node.node() })
    }

    /// Apply the result rule: first non-null match for single-valued
    /// attributes, every non-null match for multi-valued ones.
    pub fn select<'a>(&self, record: &'a Json, multivalued: bool) -> Selected<'a> {
        if multivalued {
            let all: Vec<&Json> =
                self.compiled.query(record).into_iter().filter(|v| !v.is_null()).collect();
            if all.is_empty() { Selected::Nothing } else { Selected::Many(all) }
        } else {
            match self.first(record) {
                Some(v) => Selected::One(v),
                None => Selected::Nothing,
            }
        }
    }
}

/// [`MAX_PATH_LEN`], [`MAX_PATH_DEPTH`] and [`MAX_FILTER_DEPTH`], checked
/// on the text before the parser sees it. Brackets inside string literals
/// (`'...'`, `"..."`) and regex literals do not count.
fn check_limits(path: &str) -> Result<(), String> {
    if path.len() > MAX_PATH_LEN {
        return Err(format!(
            "JSONPath of {} bytes is longer than the limit of {MAX_PATH_LEN} bytes",
            path.len()
        ));
    }
    // Open brackets and parentheses; `true` for a bracket holding a filter.
    let mut open: Vec<(u8, bool)> = Vec::new();
    let mut quote: Option<u8> = None;
    let mut escaped = false;
    for (i, b) in path.bytes().enumerate() {
        if let Some(q) = quote {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                _ if b == q => quote = None,
                _ => {}
            }
            continue;
        }
        match b {
            b'\'' | b'"' => quote = Some(b),
            // A regex literal after Json.NET's `=~`: its brackets are not nesting.
            b'/' if path[..i].trim_end().ends_with("=~") => quote = Some(b'/'),
            b'[' | b'(' => {
                open.push((b, false));
                if open.len() > MAX_PATH_DEPTH {
                    return Err(format!(
                        "brackets and parentheses nested deeper than {MAX_PATH_DEPTH} (at byte {i})"
                    ));
                }
            }
            b']' | b')' => {
                open.pop();
            }
            b'?' => {
                if let Some(bracket) = open.iter_mut().rev().find(|(c, _)| *c == b'[') {
                    bracket.1 = true;
                }
                let filters = open.iter().filter(|(_, filter)| *filter).count();
                if filters > MAX_FILTER_DEPTH {
                    return Err(format!(
                        "filters nested deeper than {MAX_FILTER_DEPTH} (at byte {i})"
                    ));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// A path for an error message: whole up to 200 characters.
fn shorten(path: &str) -> String {
    const KEEP: usize = 200;
    if path.chars().count() <= KEEP {
        return path.to_owned();
    }
    let head: String = path.chars().take(KEEP).collect();
    format!("{head}…({} bytes)", path.len())
}

/// What [`SourcePath::select`] found.
#[derive(Debug, Clone, PartialEq)]
pub enum Selected<'a> {
    /// No non-null match.
    Nothing,
    /// Single-valued attribute: the first non-null match.
    One(&'a Json),
    /// Multi-valued attribute: every non-null match.
    Many(Vec<&'a Json>),
}

/// Rewrite the parts of Entra's (Json.NET) JSONPath dialect that RFC 9535
/// rejects into their RFC 9535 equivalent. The only place dialect differences
/// are handled.
///
/// - Surrounding whitespace is dropped (the Entra schema editor keeps pasted
///   spaces; Json.NET ignores them).
/// - A path without the `$` root (`employmentNav.results[0]`, accepted by
///   Json.NET's `SelectToken`) gets `$.` (or `$` before `[`) prepended.
/// - Json.NET's regex comparison `@.x =~ /re/` becomes `search(@.x, 're')`.
///   Flags after the closing slash are not supported (Json.NET only knows `i`,
///   which RFC 9535 I-Regexp cannot express) and are left in place, so the
///   parser reports them.
///
/// Not translated (documented divergences): Json.NET's loose comparisons
/// between a number and a string (`@.seqNumber == 1` when SuccessFactors sends
/// `"seqNumber": "1"`): in RFC 9535 they are simply false.
pub fn translate_entra_dialect(path: &str) -> Cow<'_, str> {
    let trimmed = path.trim();
    let mut out: Cow<'_, str> = Cow::Borrowed(trimmed);
    if !trimmed.starts_with('$') {
        let sep = if trimmed.starts_with('[') { "$" } else { "$." };
        out = Cow::Owned(format!("{sep}{trimmed}"));
    }
    if out.contains("=~") {
        out = Cow::Owned(translate_regex_comparisons(&out));
    }
    out
}

/// `@.a.b =~ /re/` ⇒ `search(@.a.b, 're')`. Works on the operand text
/// directly before `=~` (an `@` or `$` query without spaces) and the
/// slash-delimited literal after it; anything else is left for the parser to
/// reject.
fn translate_regex_comparisons(path: &str) -> String {
    let mut out = String::with_capacity(path.len() + 16);
    let mut rest = path;
    while let Some(op) = rest.find("=~") {
        let (before, after) = rest.split_at(op);
        let after = &after[2..];
        let before_trimmed = before.trim_end();
        let operand_start = before_trimmed
            .rfind(|c: char| c.is_whitespace() || c == '(' || c == '!' || c == '&' || c == '|')
            .map_or(0, |i| i + 1);
        let operand = &before_trimmed[operand_start..];
        let after_trimmed = after.trim_start();
        let literal = after_trimmed.strip_prefix('/').and_then(|body| {
            find_unescaped_slash(body).map(|end| (&body[..end], &body[end + 1..]))
        });
        match literal {
            Some((regex, tail)) if operand.starts_with('@') || operand.starts_with('$') => {
                out.push_str(&before_trimmed[..operand_start]);
                out.push_str("search(");
                out.push_str(operand);
                out.push_str(", '");
                // The regex becomes a single-quoted JSONPath string literal:
                // unescape `\/`, escape `'`, and keep other backslashes
                // (doubled, since the string literal unescapes them once).
                let mut chars = regex.chars().peekable();
                while let Some(c) = chars.next() {
                    match c {
                        '\\' if chars.peek() == Some(&'/') => {}
                        '\\' => out.push_str("\\\\"),
                        '\'' => out.push_str("\\'"),
                        c => out.push(c),
                    }
                }
                out.push_str("')");
                rest = tail;
            }
            _ => {
                out.push_str(before);
                out.push_str("=~");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn find_unescaped_slash(s: &str) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match c {
            '\\' if !escaped => escaped = true,
            '/' if !escaped => return Some(i),
            _ => escaped = false,
        }
    }
    None
}
