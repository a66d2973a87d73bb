//! What SuccessFactors sends back: collection pages, `/Date(..)/` values and
//! error bodies. Parsed defensively: nothing here trusts the server's JSON.

use jiff::Timestamp;
use serde::Deserialize;
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

#[derive(Deserialize)]
struct Envelope {
    d: Body,
}

#[derive(Deserialize)]
struct Body {
    results: Vec<Lean>,
    #[serde(rename = "__next")]
    next: Option<String>,
}

/// Parse a collection page.
pub fn parse_page(bytes: &[u8]) -> Result<Page, PageError> {
    // Straight into the envelope: going through a `Value` first doubled the
    // parse cost of a page (megabytes of expanded records).
    match serde_json::from_slice::<Envelope>(bytes) {
        Ok(env) => Ok(Page { records: env.d.results.into_iter().map(|r| r.0).collect(), next: env.d.next }),
        // JSON that parsed but has the wrong shape is a protocol problem,
        // not a truncation; say so distinctly.
        Err(e) if e.classify() == serde_json::error::Category::Data => Err(PageError::Shape),
        Err(e) => Err(PageError::Json(e)),
    }
}

/// A record as JSON without OData's bookkeeping: `__metadata` (every
/// entity's URI and type) and `__deferred` (every navigation property that
/// was not expanded, as a link) are dropped while parsing. No mapping reads
/// them, and an expanded record is about a third bookkeeping: building and
/// freeing it was a large share of a page's parse. A deferred navigation
/// reads as an empty object, which no JSONPath below it matches, as before.
struct Lean(Value);

impl<'de> Deserialize<'de> for Lean {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(LeanVisitor).map(Lean)
    }
}

struct LeanVisitor;

impl<'de> serde::de::Visitor<'de> for LeanVisitor {
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
        Lean::deserialize(d).map(|l| l.0)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(Lean(v)) = seq.next_element()? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = serde_json::Map::new();
        while let Some(key) = map.next_key::<LeanKey>()? {
            match key {
                LeanKey::Bookkeeping => {
                    map.next_value::<serde::de::IgnoredAny>()?;
                }
                LeanKey::Name(k) => {
                    let Lean(v) = map.next_value()?;
                    out.insert(k, v);
                }
            }
        }
        Ok(Value::Object(out))
    }
}

/// A property name; `__metadata` and `__deferred` are recognised without
/// allocating.
enum LeanKey {
    Bookkeeping,
    Name(String),
}

impl<'de> Deserialize<'de> for LeanKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = LeanKey;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a property name")
            }
            fn visit_str<E>(self, v: &str) -> Result<LeanKey, E> {
                Ok(if v == "__metadata" || v == "__deferred" { LeanKey::Bookkeeping } else { LeanKey::Name(v.to_owned()) })
            }
            fn visit_string<E>(self, v: String) -> Result<LeanKey, E> {
                Ok(if v == "__metadata" || v == "__deferred" { LeanKey::Bookkeeping } else { LeanKey::Name(v) })
            }
        }
        d.deserialize_str(V)
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
        && (off.len() != 4 || !off.bytes().all(|b| b.is_ascii_digit())) {
            return None;
        }
    let ms: i64 = ms.parse().ok()?;
    Some(Timestamp::from_millisecond(ms).unwrap_or(if ms > 0 { Timestamp::MAX } else { Timestamp::MIN }))
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
