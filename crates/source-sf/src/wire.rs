//! What SuccessFactors sends back: collection pages, `/Date(..)/` values and
//! error bodies. Parsed defensively: nothing here trusts the server's JSON.

use jiff::Timestamp;
use std::collections::BTreeMap;

use serde_json::Value;

/// One page of a collection: `{"d":{"results":[...],"__next":"..."}}`.
#[derive(Debug)]
pub struct Page {
    /// The records, each a raw `PerPerson` (or other entity) JSON object,
    /// in page order, without the [`Page::rejected`] ones.
    pub records: Vec<Value>,
    /// Records that could not be read as text (a byte that is not UTF-8, a
    /// lone UTF-16 surrogate escape such as `\ud800`) in a property that is
    /// kept: each is left out of [`Page::records`] and named here, so one
    /// bad record does not fail the page. A bad byte in a property no
    /// mapping reads (dropped by the [`Projection`]) rejects nothing.
    pub rejected: Vec<RecordError>,
    /// The absolute URL of the next page, to be followed verbatim. Absent on
    /// the last page.
    pub next: Option<String>,
}

impl Page {
    /// Records read from the server, good and rejected.
    pub fn len(&self) -> usize {
        self.records.len() + self.rejected.len()
    }

    /// Whether the page held no record at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A record of a page that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordError {
    /// Its `personIdExternal`, when that itself could be read.
    pub person_id: Option<String>,
    /// Its position in the page's `results` (0-based, rejected ones counted).
    pub index: usize,
    /// Where in the record, as `/`-separated property names and array
    /// positions (`employmentNav/results/0/userNav/lastName`).
    pub path: String,
    pub cause: RecordFault,
}

impl std::fmt::Display for RecordError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.person_id {
            Some(id) => write!(
                f,
                "record {} of the page (personIdExternal `{}`)",
                self.index,
                hrsync_display::escape(id)
            )?,
            None => write!(f, "record {} of the page (personIdExternal unreadable)", self.index)?,
        }
        write!(f, ": {} in `{}`", self.cause, hrsync_display::escape(&self.path))
    }
}

impl std::error::Error for RecordError {}

/// What was wrong with a [`RecordError`]'s value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RecordFault {
    #[error("bytes that are not UTF-8")]
    InvalidUtf8,
    #[error("a lone UTF-16 surrogate escape (\\uD800-\\uDFFF without its pair)")]
    LoneSurrogate,
}

/// Why a response body is not a collection page.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    #[error("response is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("response JSON is not an OData page with a `d.results` array: {0}")]
    Shape(String),
    #[error("the page's `__next` link is not valid text")]
    NextNotText,
}

impl PageError {
    /// Whether the body looks cut short in transit (worth another request),
    /// rather than well-formed but wrong (the same again next time).
    pub fn is_truncation(&self) -> bool {
        matches!(self, PageError::Json(e) if e.classify() == serde_json::error::Category::Eof)
    }
}

/// Parse a collection page, keeping every property of its records (but not
/// OData's bookkeeping, see [`parse_page_keeping`]).
pub fn parse_page(bytes: &[u8]) -> Result<Page, PageError> {
    parse_page_keeping(bytes, None)
}

/// Parse a collection page, keeping of each record only what `keep` names
/// (everything when `None`). OData's bookkeeping is always dropped:
/// `__metadata` (every entity's URI and type) and `__deferred` (a link for
/// every navigation that was not expanded); no mapping reads them, and they
/// are about a third of an expanded record. A deferred navigation reads as an
/// empty object, which no JSONPath below it matches, as before.
pub fn parse_page_keeping(bytes: &[u8], keep: Option<&Projection>) -> Result<Page, PageError> {
    let strict = parse_strict(bytes, keep);
    match strict {
        Err(PageError::Json(e)) if e.classify() == serde_json::error::Category::Syntax => {
            // A string that is not text fails serde_json's whole parse. Only
            // then (it costs a copy of the body) is the body read again with
            // each bad spot replaced by a marker, and the records holding a
            // marker set aside.
            let Some(clean) = Sanitized::of(bytes) else { return Err(PageError::Json(e)) };
            let page = parse_strict(&clean.bytes, keep).map_err(|_| PageError::Json(e))?;
            clean.split(page)
        }
        other => other,
    }
}

fn parse_strict(bytes: &[u8], keep: Option<&Projection>) -> Result<Page, PageError> {
    // Straight into the page: going through a `Value` first doubled the
    // parse cost (megabytes of expanded records).
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let parsed = serde::de::DeserializeSeed::deserialize(PageSeed(keep), &mut de)
        .and_then(|p| de.end().map(|()| p));
    match parsed {
        Ok(page) => Ok(page),
        // JSON that parsed but has the wrong shape is a protocol problem,
        // not a truncation; say so distinctly.
        Err(e) if e.classify() == serde_json::error::Category::Data => {
            Err(PageError::Shape(e.to_string()))
        }
        Err(e) => Err(PageError::Json(e)),
    }
}

/// A body with its bad spots replaced: every run of bytes that is not UTF-8
/// by one marker character, every lone surrogate escape inside a string by
/// another. The markers are Unicode noncharacters the body does not
/// contain (raw or escaped), so a marker in a parsed value can only come
/// from a replacement.
struct Sanitized {
    bytes: Vec<u8>,
    invalid_utf8: char,
    lone_surrogate: char,
}

impl Sanitized {
    /// `None` when there is nothing to replace (the parse failed for another
    /// reason) or, absurdly, every candidate marker occurs in the body.
    fn of(bytes: &[u8]) -> Option<Sanitized> {
        let mut free = ('\u{fdd0}'..='\u{fdef}').filter(|&c| !mentions(bytes, c));
        let (invalid_utf8, lone_surrogate) = (free.next()?, free.next()?);
        let mut utf8 = Vec::with_capacity(bytes.len());
        let mut marker = [0u8; 4];
        let mut replaced = false;
        for chunk in bytes.utf8_chunks() {
            utf8.extend_from_slice(chunk.valid().as_bytes());
            if !chunk.invalid().is_empty() {
                utf8.extend_from_slice(invalid_utf8.encode_utf8(&mut marker).as_bytes());
                replaced = true;
            }
        }
        let (bytes, lone) = replace_lone_surrogates(&utf8, lone_surrogate);
        (replaced || lone).then_some(Sanitized { bytes, invalid_utf8, lone_surrogate })
    }

    /// Move the records holding a marker from `records` to `rejected`.
    fn split(&self, page: Page) -> Result<Page, PageError> {
        let marked = |s: &str| s.contains([self.invalid_utf8, self.lone_surrogate]);
        if page.next.as_deref().is_some_and(marked) {
            return Err(PageError::NextNotText);
        }
        let mut records = Vec::with_capacity(page.records.len());
        let mut rejected = Vec::new();
        for (index, record) in page.records.into_iter().enumerate() {
            let mut path = Vec::new();
            match self.find(&record, &mut path) {
                None => records.push(record),
                Some(cause) => {
                    let person_id = record
                        .get("personIdExternal")
                        .and_then(Value::as_str)
                        .filter(|id| !marked(id))
                        .map(str::to_owned);
                    let path = path
                        .join("/")
                        .replace([self.invalid_utf8, self.lone_surrogate], "\u{fffd}");
                    rejected.push(RecordError { person_id, index, path, cause });
                }
            }
        }
        Ok(Page { records, rejected, next: page.next })
    }

    /// The first marker in `v` (keys included), its path left in `path`.
    fn find(&self, v: &Value, path: &mut Vec<String>) -> Option<RecordFault> {
        let fault = |s: &str| {
            if s.contains(self.invalid_utf8) {
                Some(RecordFault::InvalidUtf8)
            } else if s.contains(self.lone_surrogate) {
                Some(RecordFault::LoneSurrogate)
            } else {
                None
            }
        };
        match v {
            Value::String(s) => fault(s),
            Value::Array(items) => items.iter().enumerate().find_map(|(i, item)| {
                path.push(i.to_string());
                let found = self.find(item, path);
                if found.is_none() {
                    path.pop();
                }
                found
            }),
            Value::Object(map) => map.iter().find_map(|(k, item)| {
                path.push(k.clone());
                let found = fault(k).or_else(|| self.find(item, path));
                if found.is_none() {
                    path.pop();
                }
                found
            }),
            _ => None,
        }
    }
}

/// Whether `c` occurs in `bytes`, raw or as a `\uXXXX` escape.
fn mentions(bytes: &[u8], c: char) -> bool {
    let mut raw = [0u8; 4];
    let raw = c.encode_utf8(&mut raw).as_bytes();
    let escaped = format!("\\u{:04x}", c as u32);
    bytes.windows(raw.len()).any(|w| w == raw)
        || bytes.windows(escaped.len()).any(|w| w.eq_ignore_ascii_case(escaped.as_bytes()))
}

/// `bytes` (valid UTF-8) with every `\uD800`-`\uDFFF` escape inside a JSON
/// string that is not half of a high-low pair replaced by `marker`; and
/// whether there was one.
fn replace_lone_surrogates(bytes: &[u8], marker: char) -> (Vec<u8>, bool) {
    let hex4 = |at: usize| -> Option<u32> {
        let digits = std::str::from_utf8(bytes.get(at..at + 4)?).ok()?;
        if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        u32::from_str_radix(digits, 16).ok()
    };
    let escape_at = |at: usize| -> Option<u32> {
        (bytes.get(at) == Some(&b'\\') && bytes.get(at + 1) == Some(&b'u'))
            .then(|| hex4(at + 2))
            .flatten()
    };
    let mut out = Vec::with_capacity(bytes.len());
    let mut mark = [0u8; 4];
    let mark = marker.encode_utf8(&mut mark).as_bytes();
    let mut found = false;
    let mut in_string = false;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if !in_string {
            in_string = b == b'"';
            out.push(b);
            i += 1;
            continue;
        }
        match b {
            b'"' => {
                in_string = false;
                out.push(b);
                i += 1;
            }
            b'\\' => match escape_at(i) {
                Some(0xd800..=0xdbff)
                    if escape_at(i + 6).is_some_and(|lo| (0xdc00..=0xdfff).contains(&lo)) =>
                {
                    out.extend_from_slice(&bytes[i..i + 12]);
                    i += 12;
                }
                Some(0xd800..=0xdfff) => {
                    out.extend_from_slice(mark);
                    found = true;
                    i += 6;
                }
                Some(_) => {
                    out.extend_from_slice(&bytes[i..i + 6]);
                    i += 6;
                }
                // Any other escape: the backslash and the character escaped
                // (a `"` there does not end the string).
                None => {
                    out.extend_from_slice(&bytes[i..(i + 2).min(bytes.len())]);
                    i += 2;
                }
            },
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    (out, found)
}

/// The properties of a record to keep while parsing it: the paths of a
/// `$select` (`employmentNav/jobInfoNav/startDate`), applied on our side.
/// With Entra's query (no `$select`, everything expanded) most of a record
/// is properties no mapping reads; not building them is most of the parse.
/// A path's last segment keeps that property whole; `results` (the wrapper
/// of a to-many navigation) is transparent.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Projection {
    whole: bool,
    children: BTreeMap<String, Projection>,
}

impl Projection {
    /// The projection of `$select`-style paths. No paths keep nothing but
    /// the record itself: pass `None` to [`parse_page_keeping`] to keep all.
    pub fn from_paths<S: AsRef<str>>(paths: impl IntoIterator<Item = S>) -> Projection {
        let mut root = Projection::default();
        for p in paths {
            let mut node = &mut root;
            for seg in p.as_ref().split('/').filter(|s| !s.is_empty()) {
                node = node.children.entry(seg.to_owned()).or_default();
            }
            node.whole = true;
        }
        root
    }

    /// What to keep of the value of `key` inside an object kept with `self`:
    /// `None` skip it, `Some(None)` keep it whole, `Some(Some(p))` keep `p` of it.
    fn child(&self, key: &str) -> Option<Option<&Projection>> {
        if key == "results" {
            return Some(Some(self));
        }
        self.children.get(key).map(|c| if c.whole { None } else { Some(c) })
    }
}

/// `{"d":{"results":[...],"__next":"..."}}`.
struct PageSeed<'p>(Option<&'p Projection>);

impl<'de> serde::de::DeserializeSeed<'de> for PageSeed<'_> {
    type Value = Page;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Page, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> serde::de::Visitor<'de> for PageSeed<'_> {
    type Value = Page;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str(r#"an OData page {"d":{"results":[...]}}"#)
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Page, A::Error> {
        let mut page = None;
        while let Some(key) = map.next_key::<String>()? {
            if key == "d" {
                page = Some(map.next_value_seed(BodySeed(self.0))?);
            } else {
                map.next_value::<serde::de::IgnoredAny>()?;
            }
        }
        page.ok_or_else(|| serde::de::Error::missing_field("d"))
    }
}

struct BodySeed<'p>(Option<&'p Projection>);

impl<'de> serde::de::DeserializeSeed<'de> for BodySeed<'_> {
    type Value = Page;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Page, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> serde::de::Visitor<'de> for BodySeed<'_> {
    type Value = Page;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str(r#"an OData collection {"results":[...]}"#)
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Page, A::Error> {
        let mut records = None;
        let mut next = None;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "results" => records = Some(map.next_value_seed(RecordsSeed(self.0))?),
                "__next" => next = map.next_value::<Option<String>>()?,
                _ => {
                    map.next_value::<serde::de::IgnoredAny>()?;
                }
            }
        }
        let records = records.ok_or_else(|| serde::de::Error::missing_field("results"))?;
        Ok(Page { records, rejected: Vec::new(), next })
    }
}

struct RecordsSeed<'p>(Option<&'p Projection>);

impl<'de> serde::de::DeserializeSeed<'de> for RecordsSeed<'_> {
    type Value = Vec<Value>;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Vec<Value>, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> serde::de::Visitor<'de> for RecordsSeed<'_> {
    type Value = Vec<Value>;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an array of records")
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Value>, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(v) = seq.next_element_seed(Shape(self.0))? {
            out.push(v);
        }
        Ok(out)
    }
}

/// A JSON value, kept as a [`Projection`] says (`None`: all of it).
#[derive(Clone, Copy)]
struct Shape<'p>(Option<&'p Projection>);

impl<'de> serde::de::DeserializeSeed<'de> for Shape<'_> {
    type Value = Value;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Shape<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(v) = seq.next_element_seed(self)? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = serde_json::Map::new();
        while let Some(key) = map.next_key_seed(KeySeed(self.0))? {
            match key {
                Key::Skip => {
                    map.next_value::<serde::de::IgnoredAny>()?;
                }
                Key::Keep(k, shape) => {
                    let v = map.next_value_seed(Shape(shape))?;
                    out.insert(k, v);
                }
            }
        }
        Ok(Value::Object(out))
    }
}

/// A property name, decided on before it is allocated.
enum Key<'p> {
    Skip,
    Keep(String, Option<&'p Projection>),
}

struct KeySeed<'p>(Option<&'p Projection>);

impl<'de, 'p> serde::de::DeserializeSeed<'de> for KeySeed<'p> {
    type Value = Key<'p>;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Key<'p>, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'p> serde::de::Visitor<'_> for KeySeed<'p> {
    type Value = Key<'p>;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a property name")
    }
    fn visit_str<E>(self, v: &str) -> Result<Key<'p>, E> {
        if v == "__metadata" || v == "__deferred" {
            return Ok(Key::Skip);
        }
        Ok(match self.0 {
            None => Key::Keep(v.to_owned(), None),
            Some(p) => match p.child(v) {
                None => Key::Skip,
                Some(shape) => Key::Keep(v.to_owned(), shape),
            },
        })
    }
}

/// SuccessFactors' error body: `{"error":{"code":"...","message":{"lang":"en-US","value":"..."}}}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SfErrorBody {
    pub code: String,
    pub message: String,
}

/// Extract code and message from an error body, if it has SuccessFactors' shape.
pub fn parse_error_body(bytes: &[u8]) -> Option<SfErrorBody> {
    let v: Value = serde_json::from_slice(bytes).ok()?;
    let err = v.get("error")?;
    let code = err.get("code").and_then(Value::as_str).unwrap_or_default().to_owned();
    let message = match err.get("message") {
        Some(Value::String(s)) => s.clone(),
        Some(m) => m.get("value").and_then(Value::as_str).unwrap_or_default().to_owned(),
        None => String::new(),
    };
    Some(SfErrorBody { code, message })
}

/// Extract code and message from the XML error body of OData v2's Atom
/// format (`<error><code>..</code><message lang="en-US">..</message></error>`,
/// what SuccessFactors and its gateways send when JSON was not negotiated).
pub fn parse_xml_error_body(bytes: &[u8]) -> Option<SfErrorBody> {
    use quick_xml::events::Event;
    let text = std::str::from_utf8(bytes).ok()?;
    let mut reader = quick_xml::Reader::from_str(text);
    // The element path below the root, by local name.
    let mut path: Vec<String> = Vec::new();
    let (mut code, mut message) = (String::new(), String::new());
    let mut seen_root = false;
    loop {
        let event = reader.read_event().ok()?;
        let field = match path.as_slice() {
            [root, child] if root == "error" && child == "code" => Some(&mut code),
            [root, child] if root == "error" && child == "message" => Some(&mut message),
            _ => None,
        };
        match event {
            Event::Start(e) => {
                if path.is_empty() {
                    if seen_root || e.local_name().as_ref() != "error" {
                        return None;
                    }
                    seen_root = true;
                }
                path.push(e.local_name().as_ref().to_owned());
            }
            Event::End(_) => {
                path.pop();
            }
            Event::Text(t) => {
                if let Some(f) = field {
                    f.push_str(&t.xml10_content());
                }
            }
            Event::CData(t) => {
                if let Some(f) = field {
                    f.push_str(&t.xml10_content());
                }
            }
            Event::GeneralRef(r) => {
                if let Some(f) = field {
                    match r.resolve_char_ref() {
                        Ok(Some(c)) => f.push(c),
                        _ => f.push_str(
                            quick_xml::escape::resolve_predefined_entity(&r.xml10_content())
                                .unwrap_or("\u{fffd}"),
                        ),
                    }
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    (seen_root && !(code.is_empty() && message.is_empty()))
        .then(|| SfErrorBody { code: code.trim().to_owned(), message: message.trim().to_owned() })
}

/// Parse SuccessFactors' JSON date forms: `/Date(1672531200000)/` (Edm.DateTime)
/// and `/Date(1587072082000+0000)/` (Edm.DateTimeOffset, any `±hhmm`). The
/// milliseconds are UTC in both; the offset only says where the value was
/// entered, so it does not shift the instant. Negative epochs are valid.
///
/// SuccessFactors' open end date 9999-12-31 lies just past the range of
/// `jiff::Timestamp` (which keeps room for any offset), so values beyond the
/// range saturate to `Timestamp::MAX`/`MIN`: still "open end" to every caller.
pub fn parse_sf_date(s: &str) -> Option<Timestamp> {
    let inner = s.strip_prefix("/Date(")?.strip_suffix(")/")?;
    // The sign of the epoch is at position 0; an offset sign comes later.
    let split = inner.char_indices().skip(1).find(|&(_, c)| c == '+' || c == '-').map(|(i, _)| i);
    let (ms, offset) = match split {
        Some(i) => (&inner[..i], Some(&inner[i + 1..])),
        None => (inner, None),
    };
    if let Some(off) = offset
        && (off.len() != 4 || !off.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    let ms: i64 = ms.parse().ok()?;
    Some(Timestamp::from_millisecond(ms).unwrap_or(if ms > 0 {
        Timestamp::MAX
    } else {
        Timestamp::MIN
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        let t = parse_sf_date("/Date(1672531200000)/").unwrap();
        assert_eq!(t.to_string(), "2023-01-01T00:00:00Z");
        let t = parse_sf_date("/Date(1587072082000+0000)/").unwrap();
        assert_eq!(t.as_millisecond(), 1587072082000);
        let t = parse_sf_date("/Date(1587072082000-0500)/").unwrap();
        assert_eq!(t.as_millisecond(), 1587072082000);
        let t = parse_sf_date("/Date(-31536000000)/").unwrap();
        assert_eq!(t.to_string(), "1969-01-01T00:00:00Z");
        assert_eq!(parse_sf_date("/Date(253402214400000)/"), Some(Timestamp::MAX));
        for bad in ["", "/Date()/", "/Date(abc)/", "Date(1)", "/Date(1+00)/", "/Date(1+00:00)/"] {
            assert!(parse_sf_date(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn pages() {
        let p = parse_page(br#"{"d":{"results":[{"a":1}],"__next":"http://x/next"}}"#).unwrap();
        assert_eq!(p.records.len(), 1);
        assert_eq!(p.next.as_deref(), Some("http://x/next"));
        let p = parse_page(br#"{"d":{"results":[]}}"#).unwrap();
        assert!(p.next.is_none());
        assert!(matches!(parse_page(br#"{"d":{"results":[{"a":1}"#), Err(PageError::Json(_))));
        assert!(matches!(parse_page(br#"{"d":{}}"#), Err(PageError::Shape(_))));
    }

    #[test]
    fn projection_keeps_named_paths_whole_and_sees_through_results() {
        let page = br#"{"d":{"results":[{"personIdExternal":"1","dropped":"x",
            "employmentNav":{"results":[{"userId":"u1","other":1,"jobInfoNav":{"results":[{"jobTitle":"T","seq":2}]},"userNav":{"a":{"b":1},"c":2}}]},
            "personalInfoNav":null,"emailNav":{"__deferred":{"uri":"u"}}}]}}"#;
        let keep = Projection::from_paths([
            "personIdExternal",
            "employmentNav/userId",
            "employmentNav/jobInfoNav/jobTitle",
            "employmentNav/userNav",
            "personalInfoNav/firstName",
            "emailNav/emailAddress",
        ]);
        let p = parse_page_keeping(page, Some(&keep)).unwrap();
        let want = serde_json::json!({
            "personIdExternal": "1",
            "employmentNav": {"results": [{"userId": "u1", "jobInfoNav": {"results": [{"jobTitle": "T"}]}, "userNav": {"a": {"b": 1}, "c": 2}}]},
            "personalInfoNav": null,
            "emailNav": {}
        });
        assert_eq!(p.records, vec![want]);
    }

    #[test]
    fn records_lose_only_odata_bookkeeping() {
        let page = br#"{"d":{"results":[{"__metadata":{"uri":"http://x/PerPerson('1')","type":"SFOData.PerPerson"},
            "personIdExternal":"1","n":-5,"big":18446744073709551615,"f":1.5,"t":true,"z":null,"esc":"a\"\u00e9",
            "phoneNav":{"__deferred":{"uri":"http://x/PerPerson('1')/phoneNav"}},
            "employmentNav":{"results":[{"__metadata":{"uri":"u","type":"SFOData.EmpEmployment"},"userId":"u1","list":[1,"two",null,{"__metadata":{}}]}]}}]}}"#;
        let p = parse_page(page).unwrap();
        let want = serde_json::json!({
            "personIdExternal": "1", "n": -5, "big": 18446744073709551615u64, "f": 1.5, "t": true, "z": null, "esc": "a\"é",
            "phoneNav": {},
            "employmentNav": {"results": [{"userId": "u1", "list": [1, "two", null, {}]}]}
        });
        assert_eq!(p.records, vec![want]);
    }

    #[test]
    fn a_record_that_is_not_text_is_set_aside_with_its_id_and_position() {
        let mut page = br#"{"d":{"results":[{"personIdExternal":"1","a":"ok"},{"personIdExternal":"2","n":{"results":[{"x":"M"#.to_vec();
        page.push(0xc3); // a lead byte without its continuation
        page.extend_from_slice(br#"ller"}]}},{"personIdExternal":"3\ud800","a":"x"},{"personIdExternal":"4","a":"\udc00"},{"personIdExternal":"5","a":"\ud83d\ude00 \\ud800 \u00e9"}],"__next":"http://x/next"}}"#);
        assert!(parse_strict(&page, None).is_err(), "serde_json alone fails the page");
        let p = parse_page(&page).unwrap();
        let ids: Vec<&str> =
            p.records.iter().filter_map(|r| r["personIdExternal"].as_str()).collect();
        assert_eq!(ids, ["1", "5"]);
        assert_eq!(p.records[1]["a"], "😀 \\ud800 é", "pairs and escaped backslashes are text");
        assert_eq!(p.next.as_deref(), Some("http://x/next"));
        assert_eq!(
            p.rejected,
            vec![
                RecordError {
                    person_id: Some("2".into()),
                    index: 1,
                    path: "n/results/0/x".into(),
                    cause: RecordFault::InvalidUtf8
                },
                RecordError {
                    person_id: None,
                    index: 2,
                    path: "personIdExternal".into(),
                    cause: RecordFault::LoneSurrogate
                },
                RecordError {
                    person_id: Some("4".into()),
                    index: 3,
                    path: "a".into(),
                    cause: RecordFault::LoneSurrogate
                },
            ]
        );
        assert_eq!(p.len(), 5);
        let shown = p.rejected[1].to_string();
        assert!(shown.contains("record 2") && shown.contains("unreadable"), "{shown}");
    }

    #[test]
    fn bad_text_in_a_dropped_property_rejects_nothing() {
        let mut page =
            br#"{"d":{"results":[{"personIdExternal":"1","unread":"\ud800","other":"x"#.to_vec();
        page.push(0xff);
        page.extend_from_slice(br#""}]}}"#);
        let keep = Projection::from_paths(["personIdExternal"]);
        let p = parse_page_keeping(&page, Some(&keep)).unwrap();
        assert_eq!(p.records, vec![serde_json::json!({"personIdExternal": "1"})]);
        assert!(p.rejected.is_empty());
    }

    #[test]
    fn markers_are_never_taken_from_the_data() {
        // A body already holding the first candidate markers (raw and
        // escaped) still gets markers of its own.
        let mut page = "{\"d\":{\"results\":[{\"personIdExternal\":\"1\",\"a\":\"\u{fdd0}\\ufdd1\"},{\"personIdExternal\":\"2\",\"a\":\"".as_bytes().to_vec();
        page.push(0xff);
        page.extend_from_slice(br#""}]}}"#);
        let p = parse_page(&page).unwrap();
        assert_eq!(p.records.len(), 1);
        assert_eq!(p.records[0]["a"], "\u{fdd0}\u{fdd1}");
        assert_eq!(p.rejected.len(), 1);
        assert_eq!(p.rejected[0].person_id.as_deref(), Some("2"));
        // Bad bytes outside strings are still a broken page.
        let mut broken = br#"{"d":{"results":[1"#.to_vec();
        broken.push(0xff);
        broken.extend_from_slice(b"]}}");
        assert!(matches!(parse_page(&broken), Err(PageError::Json(_))));
    }

    #[test]
    fn error_bodies() {
        let e = parse_error_body(
            br#"{"error":{"code":"COE_PROPERTY_NOT_FOUND","message":{"lang":"en-US","value":"[COE0021]Invalid property names: EmpJob/x."}}}"#,
        )
        .unwrap();
        assert_eq!(e.code, "COE_PROPERTY_NOT_FOUND");
        assert!(e.message.contains("EmpJob/x"));
        assert!(parse_error_body(b"<html>").is_none());
        let x = parse_xml_error_body(
            br#"<?xml version="1.0" encoding="utf-8"?><error xmlns="http://schemas.microsoft.com/ado/2007/08/dataservices/metadata"><code>COE_GENERAL_SERVER_FAILURE</code><message xml:lang="en-US">Unable to &quot;serve&quot; &#233;</message></error>"#,
        )
        .unwrap();
        assert_eq!(x.code, "COE_GENERAL_SERVER_FAILURE");
        assert_eq!(x.message, "Unable to \"serve\" é");
        assert!(parse_xml_error_body(b"<html><body>x</body></html>").is_none());
        assert!(parse_xml_error_body(b"not xml").is_none());
    }
}
