//! Typed OData v2 scalar values as SuccessFactors puts them on the wire.

/// One property value. Dates are milliseconds since the Unix epoch (UTC).
#[derive(Debug, Clone, PartialEq)]
pub enum ODataValue {
    Null,
    String(String),
    Boolean(bool),
    /// Edm.Int32: a JSON number on the wire.
    Int32(i32),
    /// Edm.Int64: a JSON *string* on the wire (`"seqNumber":"1"`).
    Int64(i64),
    /// Edm.Decimal: a JSON string on the wire; kept as its canonical text.
    Decimal(String),
    Double(f64),
    /// Edm.DateTime: `/Date(ms)/`, no offset.
    DateTime(i64),
    /// Edm.DateTimeOffset: `/Date(ms+0000)/`; the offset is in minutes.
    DateTimeOffset {
        ms: i64,
        offset_minutes: i16,
    },
}

use std::fmt::Write as _;

use crate::edm::EdmType;

/// Why a literal or wire value could not be parsed; the text says what was
/// wrong and quotes the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ValueError(pub String);

/// Midnight UTC of 9999-12-31: SuccessFactors' open end date.
pub const OPEN_END_MS: i64 = 253_402_214_400_000;

const MS_PER_DAY: i64 = 86_400_000;

impl ODataValue {
    /// The Edm type this value carries (`None` for `Null`).
    pub fn edm_type(&self) -> Option<EdmType> {
        Some(match self {
            ODataValue::Null => return None,
            ODataValue::String(_) => EdmType::String,
            ODataValue::Boolean(_) => EdmType::Boolean,
            ODataValue::Int32(_) => EdmType::Int32,
            ODataValue::Int64(_) => EdmType::Int64,
            ODataValue::Decimal(_) => EdmType::Decimal,
            ODataValue::Double(_) => EdmType::Double,
            ODataValue::DateTime(_) => EdmType::DateTime,
            ODataValue::DateTimeOffset { .. } => EdmType::DateTimeOffset,
        })
    }

    /// Appends the SuccessFactors wire JSON for this value: Int32 and Double
    /// as numbers, Int64 and Decimal as JSON strings, `"/Date(ms)/"`,
    /// `"/Date(ms+hhmm)/"`.
    pub fn write_json(&self, out: &mut String) {
        match self {
            ODataValue::Null => out.push_str("null"),
            ODataValue::String(s) => write_json_string(out, s),
            ODataValue::Boolean(b) => out.push_str(if *b { "true" } else { "false" }),
            ODataValue::Int32(i) => out.push_str(itoa::Buffer::new().format(*i)),
            ODataValue::Int64(i) => {
                out.push('"');
                out.push_str(itoa::Buffer::new().format(*i));
                out.push('"');
            }
            ODataValue::Decimal(d) => write_json_string(out, d),
            // JSON has no NaN/Infinity; SuccessFactors has no such values either.
            ODataValue::Double(f) if !f.is_finite() => out.push_str("null"),
            ODataValue::Double(f) => {
                let _ = write!(out, "{f:?}");
            }
            ODataValue::DateTime(ms) => {
                out.push('"');
                push_wire_datetime(out, *ms);
                out.push('"');
            }
            ODataValue::DateTimeOffset { ms, offset_minutes } => {
                out.push('"');
                push_wire_datetimeoffset(out, *ms, *offset_minutes);
                out.push('"');
            }
        }
    }

    /// Parses one complete OData v2 URI literal: `'O''Neil'`, `12` (Int32, or
    /// Int64 when it does not fit), `12L`, `1.5M`/`1.5m`/`1.5` (Decimal),
    /// `1.5d` (Double), `true`/`false`, `null`, `datetime'…'`,
    /// `datetimeoffset'…'`.
    pub fn parse_literal(src: &str) -> Result<ODataValue, ValueError> {
        let s = src.trim();
        if s == "null" {
            return Ok(ODataValue::Null);
        }
        if s == "true" {
            return Ok(ODataValue::Boolean(true));
        }
        if s == "false" {
            return Ok(ODataValue::Boolean(false));
        }
        if let Some(body) = quoted_after(s, "datetimeoffset") {
            let (ms, off) = parse_datetimeoffset_body(&body)?;
            return Ok(ODataValue::DateTimeOffset { ms, offset_minutes: off });
        }
        if let Some(body) = quoted_after(s, "datetime") {
            return Ok(ODataValue::DateTime(parse_datetime_body(&body)?));
        }
        if s.starts_with('\'') {
            return unquote(s).map(ODataValue::String);
        }
        parse_number(s)
    }

    /// The URI literal for this value as written in key predicates:
    /// `'x'` (with `'` doubled), `1L`, `1.5M`, `datetime'2024-01-01T00:00:00'`,
    /// `datetimeoffset'2024-01-01T00:00:00Z'`.
    pub fn key_literal(&self) -> String {
        let mut out = String::new();
        self.push_key_literal(&mut out);
        out
    }

    /// Appends [`ODataValue::key_literal`] to `out`.
    pub fn push_key_literal(&self, out: &mut String) {
        match self {
            ODataValue::Null => out.push_str("null"),
            ODataValue::String(s) => push_quoted(out, s, |out, part| out.push_str(part)),
            ODataValue::Boolean(b) => out.push_str(if *b { "true" } else { "false" }),
            ODataValue::Int32(i) => out.push_str(itoa::Buffer::new().format(*i)),
            ODataValue::Int64(i) => {
                out.push_str(itoa::Buffer::new().format(*i));
                out.push('L');
            }
            ODataValue::Decimal(d) => {
                out.push_str(d);
                out.push('M');
            }
            ODataValue::Double(f) => {
                let _ = write!(out, "{f:?}d");
            }
            ODataValue::DateTime(ms) => {
                out.push_str("datetime'");
                push_iso_civil(out, *ms);
                out.push('\'');
            }
            ODataValue::DateTimeOffset { ms, offset_minutes } => {
                let local = ms.saturating_add(i64::from(*offset_minutes) * 60_000);
                out.push_str("datetimeoffset'");
                push_iso_civil(out, local);
                if *offset_minutes == 0 {
                    out.push('Z');
                } else {
                    out.push(if *offset_minutes < 0 { '-' } else { '+' });
                    let a = offset_minutes.unsigned_abs();
                    push_two_digits(out, a / 60);
                    out.push(':');
                    push_two_digits(out, a % 60);
                }
                out.push('\'');
            }
        }
    }

    /// The instant in ms for DateTime (read as UTC) and DateTimeOffset values.
    pub fn instant_ms(&self) -> Option<i64> {
        match self {
            ODataValue::DateTime(ms) | ODataValue::DateTimeOffset { ms, .. } => Some(*ms),
            _ => None,
        }
    }
}

/// `/Date(ms)/`.
pub fn format_wire_datetime(ms: i64) -> String {
    let mut s = String::with_capacity(24);
    push_wire_datetime(&mut s, ms);
    s
}

/// `/Date(ms+hhmm)/` (offset in minutes, any sign).
pub fn format_wire_datetimeoffset(ms: i64, offset_minutes: i16) -> String {
    let mut s = String::with_capacity(28);
    push_wire_datetimeoffset(&mut s, ms, offset_minutes);
    s
}

fn push_wire_datetime(out: &mut String, ms: i64) {
    out.push_str("/Date(");
    out.push_str(itoa::Buffer::new().format(ms));
    out.push_str(")/");
}

fn push_wire_datetimeoffset(out: &mut String, ms: i64, offset_minutes: i16) {
    let sign = if offset_minutes < 0 { '-' } else { '+' };
    let a = offset_minutes.unsigned_abs();
    out.push_str("/Date(");
    out.push_str(itoa::Buffer::new().format(ms));
    out.push(sign);
    push_two_digits(out, a / 60);
    push_two_digits(out, a % 60);
    out.push_str(")/");
}

/// `'text'` with every `'` doubled; `push_part` writes the runs between quotes
/// (a key predicate percent-encodes them, `'` itself is never encoded).
pub(crate) fn push_quoted(
    out: &mut String,
    text: &str,
    mut push_part: impl FnMut(&mut String, &str),
) {
    out.push('\'');
    for (i, part) in text.split('\'').enumerate() {
        if i > 0 {
            out.push_str("''");
        }
        push_part(out, part);
    }
    out.push('\'');
}

/// `{:02}`: at least two digits, zero-padded.
fn push_two_digits(out: &mut String, n: u16) {
    if n < 10 {
        out.push('0');
    }
    out.push_str(itoa::Buffer::new().format(n));
}

/// Parses `/Date(ms)/` or `/Date(ms±hhmm)/` into (ms, offset minutes if any).
/// The ms count is UTC in both forms; the offset only says where the value
/// was recorded.
pub fn parse_wire_date(s: &str) -> Result<(i64, Option<i16>), ValueError> {
    let bad = || ValueError(format!("not a /Date(ms)/ value: {s:?}"));
    let inner = s.strip_prefix("/Date(").and_then(|r| r.strip_suffix(")/")).ok_or_else(bad)?;
    // The first character may be a '-' of a negative epoch; an offset sign
    // can only come later.
    let split = inner.char_indices().skip(1).find(|(_, c)| *c == '+' || *c == '-').map(|(i, _)| i);
    let (ms_txt, off_txt) = match split {
        Some(i) => (&inner[..i], Some(&inner[i..])),
        None => (inner, None),
    };
    if ms_txt.is_empty() || !ms_txt.trim_start_matches('-').bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let ms: i64 = ms_txt.parse().map_err(|_| bad())?;
    let off = match off_txt {
        None => None,
        // The wire form is `±hhmm` only.
        Some(o) if o.len() == 5 => Some(parse_offset(o).ok_or_else(bad)?),
        Some(_) => return Err(bad()),
    };
    Ok((ms, off))
}

/// `±hhmm` or `±hh:mm` into signed minutes.
fn parse_offset(text: &str) -> Option<i16> {
    let (sign, rest) = text.split_at_checked(1)?;
    let digits = match rest.len() {
        4 => rest.to_owned(),
        5 if rest.as_bytes()[2] == b':' => format!("{}{}", &rest[..2], &rest[3..]),
        _ => return None,
    };
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let h: i16 = digits[..2].parse().ok()?;
    let m: i16 = digits[2..].parse().ok()?;
    if h > 23 || m > 59 {
        return None;
    }
    match sign {
        "+" => Some(h * 60 + m),
        "-" => Some(-(h * 60 + m)),
        _ => None,
    }
}

/// Parses the body of a `datetime'…'` literal: `yyyy-MM-ddTHH:mm[:ss[.fff…]]`,
/// read as UTC. A trailing `Z` is tolerated (it is UTC anyway); any other
/// offset is rejected.
pub fn parse_datetime_body(s: &str) -> Result<i64, ValueError> {
    let civil = s.strip_suffix('Z').unwrap_or(s);
    civil_ms(civil).ok_or_else(|| {
        ValueError(format!(
            "invalid datetime literal '{s}': expected yyyy-MM-ddTHH:mm[:ss[.fffffff]]"
        ))
    })
}

/// Parses the body of a `datetimeoffset'…'` literal:
/// `yyyy-MM-ddTHH:mm[:ss[.fff…]]` followed by `Z` or `±hh:mm` (also `±hhmm`).
/// Returns (UTC ms, offset minutes).
pub fn parse_datetimeoffset_body(s: &str) -> Result<(i64, i16), ValueError> {
    let bad = || {
        ValueError(format!(
            "invalid datetimeoffset literal '{s}': expected yyyy-MM-ddTHH:mm[:ss[.fffffff]] followed by Z or ±hh:mm"
        ))
    };
    let (civil, off) = if let Some(c) = s.strip_suffix('Z').or_else(|| s.strip_suffix('z')) {
        (c, 0i16)
    } else {
        let t = s.find('T').ok_or_else(bad)?;
        let i = s[t..].rfind(['+', '-']).map(|i| i + t).ok_or_else(bad)?;
        (&s[..i], parse_offset(&s[i..]).ok_or_else(bad)?)
    };
    let local = civil_ms(civil).ok_or_else(bad)?;
    Ok((local - i64::from(off) * 60_000, off))
}

/// Parses `yyyy-MM-dd` (asOfDate, fromDate, toDate) into midnight UTC ms.
pub fn parse_day(s: &str) -> Result<i64, ValueError> {
    let b = s.as_bytes();
    let shape_ok = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter().enumerate().all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    let day = shape_ok.then(|| s.parse::<jiff::civil::Date>().ok()).flatten();
    day.map(date_ms).ok_or_else(|| ValueError(format!("invalid date '{s}': expected yyyy-MM-dd")))
}

fn date_ms(d: jiff::civil::Date) -> i64 {
    let epoch = jiff::civil::date(1970, 1, 1);
    i64::from((d - epoch).get_days()) * MS_PER_DAY
}

/// `yyyy-MM-ddTHH:mm[:ss[.f…]]` as if UTC. Shape is checked by hand because
/// jiff also accepts forms OData does not (`20240101`, a space separator).
fn civil_ms(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 16 || b[10] != b'T' || b[13] != b':' || !s.is_ascii() {
        return None;
    }
    let day_ms = parse_day(&s[..10]).ok()?;
    let two = |i: usize| -> Option<i64> {
        let t = s.get(i..i + 2)?;
        t.bytes().all(|c| c.is_ascii_digit()).then(|| t.parse().ok()).flatten()
    };
    let (h, mi) = (two(11)?, two(14)?);
    let mut ms = 0i64;
    let mut sec = 0i64;
    match b.len() {
        16 => {}
        n if n >= 19 && b[16] == b':' => {
            sec = two(17)?;
            if n > 19 {
                let frac = s.get(20..)?;
                if b[19] != b'.'
                    || frac.is_empty()
                    || frac.len() > 9
                    || !frac.bytes().all(|c| c.is_ascii_digit())
                {
                    return None;
                }
                let padded = format!("{frac:0<3}");
                ms = padded[..3].parse().ok()?;
            }
        }
        _ => return None,
    }
    if h > 23 || mi > 59 || sec > 59 {
        return None;
    }
    Some(day_ms + ((h * 60 + mi) * 60 + sec) * 1000 + ms)
}

/// Appends `yyyy-MM-ddTHH:mm:ss[.fff]` for a UTC instant (ms precision kept only if non-zero).
pub(crate) fn push_iso_civil(out: &mut String, ms: i64) {
    let days = ms.div_euclid(MS_PER_DAY);
    let rem = ms.rem_euclid(MS_PER_DAY);
    let date = i32::try_from(days)
        .ok()
        .and_then(|d| jiff::civil::date(1970, 1, 1).checked_add(jiff::Span::new().days(d)).ok());
    let Some(date) = date else {
        // Out of jiff's range (beyond year ±9999): not a value SuccessFactors holds.
        out.push_str(itoa::Buffer::new().format(ms));
        return;
    };
    let (h, m, s, f) = (rem / 3_600_000, rem / 60_000 % 60, rem / 1000 % 60, rem % 1000);
    let _ = write!(
        out,
        "{:04}-{:02}-{:02}T{h:02}:{m:02}:{s:02}",
        date.year(),
        date.month(),
        date.day()
    );
    if f != 0 {
        let _ = write!(out, ".{f:03}");
    }
}

/// The `'…'` body after `prefix`, with `''` undoubled.
fn quoted_after(s: &str, prefix: &str) -> Option<String> {
    let rest = s.strip_prefix(prefix)?;
    rest.starts_with('\'').then(|| unquote(rest).ok()).flatten()
}

/// `'O''Neil'` → `O'Neil`.
fn unquote(s: &str) -> Result<String, ValueError> {
    let bad =
        || ValueError(format!("invalid string literal {s}: expected '…' with ' written as ''"));
    let inner = s
        .strip_prefix('\'')
        .and_then(|r| r.strip_suffix('\''))
        .filter(|_| s.len() >= 2)
        .ok_or_else(bad)?;
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\'' && chars.next() != Some('\'') {
            return Err(bad());
        }
        out.push(c);
    }
    Ok(out)
}

fn parse_number(s: &str) -> Result<ODataValue, ValueError> {
    let bad = || ValueError(format!("invalid literal {s:?}"));
    let (body, suffix) = match s.as_bytes().last() {
        Some(c @ (b'L' | b'l' | b'M' | b'm' | b'd' | b'D' | b'f' | b'F')) => {
            (&s[..s.len() - 1], Some(c.to_ascii_uppercase()))
        }
        _ => (s, None),
    };
    let digits = body.strip_prefix(['-', '+']).unwrap_or(body);
    let int_like = !digits.is_empty() && digits.bytes().all(|c| c.is_ascii_digit());
    let dec_like = {
        let mut parts = digits.splitn(2, '.');
        let a = parts.next().unwrap_or("");
        let b = parts.next();
        !a.is_empty()
            && a.bytes().all(|c| c.is_ascii_digit())
            && b.is_some_and(|b| !b.is_empty() && b.bytes().all(|c| c.is_ascii_digit()))
    };
    match suffix {
        None if int_like => match body.parse::<i32>() {
            Ok(i) => Ok(ODataValue::Int32(i)),
            Err(_) => body.parse::<i64>().map(ODataValue::Int64).map_err(|_| bad()),
        },
        Some(b'L') if int_like => body.parse::<i64>().map(ODataValue::Int64).map_err(|_| bad()),
        None | Some(b'M') if int_like || dec_like => {
            Ok(ODataValue::Decimal(body.trim_start_matches('+').to_owned()))
        }
        Some(b'D' | b'F') if int_like || dec_like => {
            body.parse::<f64>().map(ODataValue::Double).map_err(|_| bad())
        }
        _ => Err(bad()),
    }
}

/// Appends `s` as a JSON string: `"` and `\` escaped, control characters as
/// `\n`/`\uXXXX`, everything else (non-ASCII included) as UTF-8.
pub fn write_json_string(out: &mut String, s: &str) {
    out.reserve(s.len() + 2);
    out.push('"');
    push_json_escaped(out, s);
    out.push('"');
}

/// The inside of [`write_json_string`] (no quotes). Escaping is byte by byte,
/// so the escape of a concatenation is the concatenation of the escapes.
pub fn push_json_escaped(out: &mut String, s: &str) {
    // Most values (names, codes, dates, URIs) need no escape: one scan, one copy.
    // No early exit: the scan vectorises.
    if !s.bytes().fold(false, |any, b| any | (b < 0x20) | (b == b'"') | (b == b'\\')) {
        out.push_str(s);
        return;
    }
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let esc: Option<&str> = match b {
            b'"' => Some("\\\""),
            b'\\' => Some("\\\\"),
            b'\n' => Some("\\n"),
            b'\r' => Some("\\r"),
            b'\t' => Some("\\t"),
            0x08 => Some("\\b"),
            0x0c => Some("\\f"),
            0..=0x1f => None,
            _ => continue,
        };
        out.push_str(&s[start..i]);
        match esc {
            Some(e) => out.push_str(e),
            None => {
                let _ = write!(out, "\\u{b:04x}");
            }
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
}
