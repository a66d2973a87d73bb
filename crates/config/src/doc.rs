//! A parsed TOML document that keeps every key's and value's byte span, so
//! errors found after deserialization (semantic checks, mapping compilation)
//! can still point at a line and name the field.

use std::fmt::Write as _;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

use crate::error::{ConfigError, Position};

/// One step of a field path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Seg {
    Key(String),
    Index(usize),
}

/// A field path, displayed as `flow.mapping[3].expression`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct FieldPath(pub Vec<Seg>);

impl FieldPath {
    pub fn key(&self, k: &str) -> FieldPath {
        let mut p = self.clone();
        p.0.push(Seg::Key(k.to_owned()));
        p
    }

    pub fn index(&self, i: usize) -> FieldPath {
        let mut p = self.clone();
        p.0.push(Seg::Index(i));
        p
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        for seg in &self.0 {
            match seg {
                Seg::Key(k) if out.is_empty() => out.push_str(k),
                Seg::Key(k) => {
                    out.push('.');
                    out.push_str(k);
                }
                Seg::Index(i) => {
                    let _ = write!(out, "[{i}]");
                }
            }
        }
        out
    }
}

/// Build a [`FieldPath`] from dotted keys.
pub(crate) fn path(keys: &[&str]) -> FieldPath {
    FieldPath(keys.iter().map(|k| Seg::Key((*k).to_owned())).collect())
}

/// A TOML document with its origin (for error messages) and spans.
pub(crate) struct Doc<'i> {
    pub origin: PathBuf,
    pub text: &'i str,
    pub root: Spanned<DeTable<'i>>,
}

impl<'i> Doc<'i> {
    /// Parse TOML syntax only; a syntax error names its position and the
    /// key it is in when that can be told.
    pub fn parse(origin: &Path, text: &'i str) -> Result<Self, ConfigError> {
        let (root, errors) = DeTable::parse_recoverable(text);
        let Some(e) = errors.first() else {
            return Ok(Doc { origin: origin.to_owned(), text, root });
        };
        // The partial document tells which key the syntax error is in.
        // Errors often point just past the broken value (end of line), so
        // look back along the line for the key.
        let mut field = FieldPath::default();
        if let Some(span) = e.span() {
            let start = span.start.min(text.len());
            let line_start = text.get(..start).and_then(|t| t.rfind('\n')).map_or(0, |i| i + 1);
            for offset in (line_start..=start).rev() {
                if path_in_table(root.get_ref(), offset, &mut field.0) {
                    break;
                }
            }
        }
        Err(ConfigError {
            file: origin.to_owned(),
            position: e.span().map(|s| Position::of_offset(text, s.start)),
            field: (!field.0.is_empty()).then(|| field.render()),
            cause: format!("TOML syntax: {}", e.message().trim_end()),
        })
    }

    /// An error at a span.
    pub fn error_at(
        &self,
        span: Range<usize>,
        field: &FieldPath,
        cause: impl Into<String>,
    ) -> ConfigError {
        ConfigError {
            file: self.origin.clone(),
            position: Some(Position::of_offset(self.text, span.start)),
            field: (!field.0.is_empty()).then(|| field.render()),
            cause: cause.into(),
        }
    }

    /// An error at a field: positioned at the field's value when present,
    /// else at the nearest enclosing table that exists.
    pub fn error(&self, field: &FieldPath, cause: impl Into<String>) -> ConfigError {
        let span = self.nearest_span(field);
        self.error_at(span, field, cause)
    }

    /// The value at `field`, if present.
    pub fn get(&self, field: &FieldPath) -> Option<&Spanned<DeValue<'i>>> {
        let (first, rest) = field.0.split_first()?;
        let Seg::Key(k) = first else { return None };
        let mut cur = table_get(self.root.get_ref(), k)?;
        for seg in rest {
            cur = match (seg, cur.get_ref()) {
                (Seg::Key(k), DeValue::Table(t)) => table_get(t, k)?,
                (Seg::Index(i), DeValue::Array(a)) => a.get(*i)?,
                _ => return None,
            };
        }
        Some(cur)
    }

    /// The span of the key naming `field` (its last segment), if present.
    pub fn key_span(&self, field: &FieldPath) -> Option<Range<usize>> {
        let (last, parent) = field.0.split_last()?;
        let Seg::Key(k) = last else { return None };
        let table = if parent.is_empty() {
            self.root.get_ref()
        } else {
            self.get(&FieldPath(parent.to_vec()))?.get_ref().as_table()?
        };
        table.iter().find(|(key, _)| key.get_ref() == k).map(|(key, _)| key.span())
    }

    fn nearest_span(&self, field: &FieldPath) -> Range<usize> {
        let mut segs = field.0.clone();
        loop {
            let p = FieldPath(segs.clone());
            if let Some(v) = self.get(&p) {
                return v.span();
            }
            if segs.pop().is_none() {
                return self.root.span().start..self.root.span().start;
            }
        }
    }

    /// Deserialize the value at `field` (absent: `Ok(None)`). A serde error
    /// is reported at its own span, with the field path found from it.
    pub fn de<T: DeserializeOwned>(&self, field: &FieldPath) -> Result<Option<T>, ConfigError> {
        match self.get(field) {
            None => Ok(None),
            Some(v) => self.de_value(v).map(Some),
        }
    }

    pub fn de_value<T: DeserializeOwned>(
        &self,
        v: &Spanned<DeValue<'i>>,
    ) -> Result<T, ConfigError> {
        T::deserialize(ValueDeserializer::from(v.clone()))
            .map_err(|e| self.serde_error(&e, v.span()))
    }

    /// Like [`Doc::de_value`], with the deserializing done by `f` (for
    /// types chosen at run time, such as a target kind's connection).
    pub fn de_value_with<T>(
        &self,
        v: &Spanned<DeValue<'i>>,
        f: impl FnOnce(ValueDeserializer<'i>) -> Result<T, toml::de::Error>,
    ) -> Result<T, ConfigError> {
        f(ValueDeserializer::from(v.clone())).map_err(|e| self.serde_error(&e, v.span()))
    }

    fn serde_error(&self, e: &toml::de::Error, fallback: Range<usize>) -> ConfigError {
        let span = e.span().unwrap_or(fallback);
        let mut field = FieldPath::default();
        path_in_table(self.root.get_ref(), span.start, &mut field.0);
        let message = e.message().trim_end();
        // serde names a missing field only in the message; the span is the table's.
        if let Some(name) =
            message.strip_prefix("missing field `").and_then(|m| m.strip_suffix('`'))
        {
            field.0.push(Seg::Key(name.to_owned()));
        }
        self.error_at(span, &field, sanitize(message))
    }
}

/// serde's type errors quote the offending value; values can be secrets
/// pasted into the wrong key, so only the expectation is kept.
fn sanitize(message: &str) -> String {
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some(rest) = message.strip_prefix(prefix) {
            let kind = prefix.trim_end_matches(": ");
            return match rest.rfind(", expected ") {
                Some(i) => format!("{kind}, expected {}", &rest[i + ", expected ".len()..]),
                None => kind.to_owned(),
            };
        }
    }
    message.to_owned()
}

fn table_get<'a, 'i>(t: &'a DeTable<'i>, k: &str) -> Option<&'a Spanned<DeValue<'i>>> {
    t.iter().find(|(key, _)| key.get_ref() == k).map(|(_, v)| v)
}

/// Find the deepest key or value containing `offset`; push its path.
fn path_in_table(t: &DeTable<'_>, offset: usize, out: &mut Vec<Seg>) -> bool {
    for (k, v) in t.iter() {
        if k.span().contains(&offset) {
            out.push(Seg::Key(k.get_ref().to_string()));
            return true;
        }
        out.push(Seg::Key(k.get_ref().to_string()));
        if path_in_value(v, offset, out) || v.span().contains(&offset) {
            return true;
        }
        out.pop();
    }
    false
}

fn path_in_value(v: &Spanned<DeValue<'_>>, offset: usize, out: &mut Vec<Seg>) -> bool {
    match v.get_ref() {
        DeValue::Table(t) => path_in_table(t, offset, out),
        DeValue::Array(a) => {
            for (i, e) in a.iter().enumerate() {
                out.push(Seg::Index(i));
                if path_in_value(e, offset, out) || e.span().contains(&offset) {
                    return true;
                }
                out.pop();
            }
            false
        }
        _ => false,
    }
}

/// Byte offset in the file of byte `offset` inside a string value, when the
/// value's text in the file is exactly its content (literal strings, basic
/// strings without escapes); otherwise the value's start.
pub(crate) fn offset_in_string(
    text: &str,
    span: Range<usize>,
    content: &str,
    offset: usize,
) -> usize {
    let Some(raw) = text.get(span.clone()) else { return span.start };
    let quote = if raw.starts_with("'''") || raw.starts_with("\"\"\"") { 3 } else { 1 };
    if raw.len() < 2 * quote {
        return span.start;
    }
    let mut start = span.start + quote;
    let mut inner = &raw[quote..raw.len() - quote];
    // A newline right after a multi-line string's opening quotes is not part of it.
    if quote == 3 {
        for nl in ["\r\n", "\n"] {
            if let Some(rest) = inner.strip_prefix(nl) {
                inner = rest;
                start += nl.len();
                break;
            }
        }
    }
    if inner == content { start + offset.min(inner.len()) } else { span.start }
}
