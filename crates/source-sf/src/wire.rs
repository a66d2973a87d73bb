//! What SuccessFactors sends back: collection pages, `/Date(..)/` values and
//! error bodies. Parsed defensively: nothing here trusts the server's JSON.

use jiff::Timestamp;
use std::collections::BTreeMap;

use serde_json::Value;

/// One page of a collection: `{"d":{"results":[...],"__next":"..."}}`.
#[derive(Debug)]
pub struct Page {
    /// The records, each a raw `PerPerson` (or other entity) JSON object.
    pub records: Vec<Value>,
    /// The absolute URL of the next page, to be followed verbatim. Absent on
    /// the last page.
    pub next: Option<String>,
}

/// Why a response body is not a collection page.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    #[error("response is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("response JSON has no `d.results` array")]
    Shape,
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
    // Straight into the page: going through a `Value` first doubled the
    // parse cost (megabytes of expanded records).
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let parsed = serde::de::DeserializeSeed::deserialize(PageSeed(keep), &mut de)
        .and_then(|p| de.end().map(|()| p));
    match parsed {
        Ok(page) => Ok(page),
        // JSON that parsed but has the wrong shape is a protocol problem,
        // not a truncation; say so distinctly.
        Err(e) if e.classify() == serde_json::error::Category::Data => Err(PageError::Shape),
        Err(e) => Err(PageError::Json(e)),
    }
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
        Ok(Page { records, next })
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
        assert!(matches!(parse_page(br#"{"d":{}}"#), Err(PageError::Shape)));
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
    fn error_bodies() {
        let e = parse_error_body(
            br#"{"error":{"code":"COE_PROPERTY_NOT_FOUND","message":{"lang":"en-US","value":"[COE0021]Invalid property names: EmpJob/x."}}}"#,
        )
        .unwrap();
        assert_eq!(e.code, "COE_PROPERTY_NOT_FOUND");
        assert!(e.message.contains("EmpJob/x"));
        assert!(parse_error_body(b"<html>").is_none());
    }
}
