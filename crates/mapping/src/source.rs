//! Extracting source attributes from one SuccessFactors record.
//!
//! [`CompiledSource`] holds the compiled paths of the attributes a flow
//! actually uses; [`CompiledSource::extract`] runs each once over a parsed
//! record and converts the result to an expression [`Value`] by the
//! attribute's type:
//!
//! | type | JSON | Value |
//! |---|---|---|
//! | String, Reference | string | `String` as is |
//! | String, Reference | number / bool | `String` of its text (`True`/`False` for booleans) |
//! | Integer | number, or string holding an integer (Int64 is sent as a string) | `Value::from_json` of the number |
//! | Boolean | bool, or `"true"`/`"false"` any case | `Value::from_json` of the bool |
//! | DateTime | `/Date(ms)/`, `/Date(ms±hhmm)/`, ISO 8601 (offset, UTC date-time, or date) | `Value::DateTime` at that instant (UTC) |
//! | any | anything else (objects, unparsable text) | `Value::from_json` of the node, unchanged |
//!
//! `/Date(ms±hhmm)/`: the milliseconds are UTC (OData v2); the offset only
//! says which local time the server meant, so it does not move the instant.
//! A DateTime value is what `CDate` returns, so `CDate([startDate])`,
//! `FormatDateTime`, `DateAdd` and `DateDiff` work on it directly.
//!
//! Nulls follow the result rule of [`crate::path`]: no non-null match means
//! the attribute is null (absent for [`Attributes::get`]).

use std::collections::HashMap;
use std::sync::Arc;

use hrsync_expr::{Attributes, Value};
use serde_json::Value as Json;

use crate::catalog::{AttrType, AttributeDef, SchemaError, SourceSchema};
use crate::path::{Selected, SourcePath};

#[derive(Debug)]
struct CompiledAttr {
    def: AttributeDef,
    path: SourcePath,
}

#[derive(Debug)]
struct SourceInner {
    attrs: Vec<CompiledAttr>,
    index: HashMap<String, usize>,
    expand: Vec<String>,
}

/// The compiled source side of a flow: the attributes it uses, their paths,
/// and the `$expand` list that fetches them. Cheap to clone.
#[derive(Debug, Clone)]
pub struct CompiledSource {
    inner: Arc<SourceInner>,
}

impl SourceSchema {
    /// Compile the given attributes (duplicates ignored). An unknown name is
    /// an error naming it.
    pub fn compile<'a>(
        &self,
        attributes: impl IntoIterator<Item = &'a str>,
    ) -> Result<CompiledSource, SchemaError> {
        let mut attrs = Vec::new();
        let mut index = HashMap::new();
        for name in attributes {
            if index.contains_key(name) {
                continue;
            }
            let (def, path) =
                self.compiled_path(name).ok_or_else(|| SchemaError::Unknown(name.to_owned()))?;
            index.insert(name.to_owned(), attrs.len());
            attrs.push(CompiledAttr { def: def.clone(), path: path.clone() });
        }
        let expand = self.expand_for(attrs.iter().map(|a| a.def.name.as_str()));
        Ok(CompiledSource { inner: Arc::new(SourceInner { attrs, index, expand }) })
    }
}

/// Why an attribute has its value: for explain / on-demand output.
#[derive(Debug, Clone, PartialEq)]
pub struct AttributeExplain {
    /// Attribute name.
    pub name: String,
    /// The JSONPath as configured.
    pub jsonpath: String,
    /// Normalized paths of the nodes used (empty when nothing matched).
    pub matched: Vec<String>,
    /// The raw JSON used: the node for single-valued attributes, an array of
    /// nodes for multi-valued ones; `None` when nothing matched.
    pub raw: Option<Json>,
}

/// Source attribute values of one worker. Implements
/// [`hrsync_expr::Attributes`]; null attributes read as absent.
#[derive(Debug, Clone)]
pub struct SourceRecord {
    source: Arc<SourceInner>,
    values: Vec<Value>,
    explain: Option<Vec<AttributeExplain>>,
}

impl CompiledSource {
    /// The `$expand` entries the connector must request for these attributes.
    pub fn expand(&self) -> &[String] {
        &self.inner.expand
    }

    /// The `$select` entries that fetch exactly these attributes (see
    /// [`crate::select`]); `None` when a path cannot be bounded.
    pub fn select(&self) -> Option<Vec<String>> {
        crate::select::select_for_paths(self.inner.attrs.iter().map(|a| a.def.jsonpath.as_str()))
    }

    /// Names of the compiled attributes, in compile order.
    pub fn attribute_names(&self) -> impl Iterator<Item = &str> {
        self.inner.attrs.iter().map(|a| a.def.name.as_str())
    }

    /// Extract every compiled attribute from a parsed PerPerson record.
    pub fn extract(&self, record: &Json) -> SourceRecord {
        let values = self
            .inner
            .attrs
            .iter()
            .map(|a| match a.path.select(record, a.def.multivalued) {
                Selected::Nothing => Value::Null,
                Selected::One(v) => convert(a.def.ty, v),
                Selected::Many(vs) => {
                    Value::Array(vs.into_iter().map(|v| convert(a.def.ty, v)).collect())
                }
            })
            .collect();
        SourceRecord { source: Arc::clone(&self.inner), values, explain: None }
    }

    /// Like [`extract`](Self::extract), and also record for each attribute
    /// the matched normalized paths and raw JSON (slower: for explain and
    /// on-demand, not for bulk runs).
    pub fn extract_explained(&self, record: &Json) -> SourceRecord {
        let mut values = Vec::with_capacity(self.inner.attrs.len());
        let mut explain = Vec::with_capacity(self.inner.attrs.len());
        for a in &self.inner.attrs {
            let located: Vec<_> =
                a.path.query_located(record).into_iter().filter(|m| !m.value.is_null()).collect();
            let used: Vec<_> =
                if a.def.multivalued { located } else { located.into_iter().take(1).collect() };
            let value = match (a.def.multivalued, used.as_slice()) {
                (_, []) => Value::Null,
                (false, [one, ..]) => convert(a.def.ty, one.value),
                (true, many) => {
                    Value::Array(many.iter().map(|m| convert(a.def.ty, m.value)).collect())
                }
            };
            let raw = match (a.def.multivalued, used.as_slice()) {
                (_, []) => None,
                (false, [one, ..]) => Some(one.value.clone()),
                (true, many) => Some(Json::Array(many.iter().map(|m| m.value.clone()).collect())),
            };
            explain.push(AttributeExplain {
                name: a.def.name.clone(),
                jsonpath: a.def.jsonpath.clone(),
                matched: used.iter().map(|m| m.location.clone()).collect(),
                raw,
            });
            values.push(value);
        }
        SourceRecord { source: Arc::clone(&self.inner), values, explain: Some(explain) }
    }
}

impl SourceRecord {
    /// Value of an attribute, `Value::Null` when null; `None` if the
    /// attribute was not compiled.
    pub fn value(&self, name: &str) -> Option<&Value> {
        self.source.index.get(name).and_then(|&i| self.values.get(i))
    }

    /// Every compiled attribute with its value, in compile order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.source.attrs.iter().map(|a| a.def.name.as_str()).zip(self.values.iter())
    }

    /// Explanation of one attribute; `None` unless the record came from
    /// [`CompiledSource::extract_explained`].
    pub fn explain(&self, name: &str) -> Option<&AttributeExplain> {
        let i = *self.source.index.get(name)?;
        self.explain.as_ref()?.get(i)
    }

    /// Every explanation, in compile order (empty unless explained).
    pub fn explanations(&self) -> &[AttributeExplain] {
        self.explain.as_deref().unwrap_or(&[])
    }
}

impl Attributes for SourceRecord {
    fn get(&self, name: &str) -> Option<&Value> {
        self.value(name).filter(|v| !matches!(v, Value::Null))
    }
}

fn convert(ty: AttrType, v: &Json) -> Value {
    match (ty, v) {
        (AttrType::String | AttrType::Reference, Json::String(s)) => Value::String(s.clone()),
        (AttrType::String | AttrType::Reference, Json::Number(n)) => Value::String(n.to_string()),
        (AttrType::String | AttrType::Reference, Json::Bool(b)) => {
            Value::String(if *b { "True" } else { "False" }.to_owned())
        }
        (AttrType::Integer, Json::String(s)) => match s.trim().parse::<i64>() {
            Ok(n) => Value::from_json(&Json::from(n)),
            Err(_) => Value::String(s.clone()),
        },
        (AttrType::Boolean, Json::String(s)) if s.eq_ignore_ascii_case("true") => {
            Value::from_json(&Json::Bool(true))
        }
        (AttrType::Boolean, Json::String(s)) if s.eq_ignore_ascii_case("false") => {
            Value::from_json(&Json::Bool(false))
        }
        (AttrType::DateTime, Json::String(s)) => match parse_sf_datetime(s) {
            Some(ts) => datetime_value(ts),
            None => Value::String(s.clone()),
        },
        _ => Value::from_json(v),
    }
}

fn datetime_value(ts: jiff::Timestamp) -> Value {
    Value::DateTime(ts)
}

/// Parse a SuccessFactors date: `/Date(ms)/`, `/Date(ms+hhmm)/`,
/// `/Date(-ms)/` (pre-1970; the open end date 9999-12-31 becomes
/// jiff's last whole second), or ISO 8601 (`2024-01-01T00:00:00Z`, with any
/// offset; a date-time without offset or a bare date is taken as UTC).
/// `None` if it is none of these.
pub fn parse_sf_datetime(s: &str) -> Option<jiff::Timestamp> {
    let s = s.trim();
    if let Some(body) = s
        .strip_prefix("/Date(")
        .or_else(|| s.strip_prefix("\\/Date("))
        .and_then(|b| b.strip_suffix(")/").or_else(|| b.strip_suffix(")\\/")))
    {
        // Milliseconds are UTC; a trailing ±hhmm offset does not change the instant.
        let digits_end = body
            .char_indices()
            .skip(1)
            .find(|(_, c)| *c == '+' || *c == '-')
            .map_or(body.len(), |(i, _)| i);
        let (ms, offset) = body.split_at(digits_end);
        let offset_ok = offset.is_empty()
            || (offset.len() == 5 && offset[1..].bytes().all(|b| b.is_ascii_digit()));
        if !offset_ok {
            return None;
        }
        let ms: i64 = ms.parse().ok()?;
        // SuccessFactors' open end date, /Date(253402214400000)/ (9999-12-31),
        // lies past jiff's last instant (9999-12-30T22:00Z, which leaves room
        // for offsets): clamp instead of losing the date.
        let max = jiff::Timestamp::MAX.as_second() * 1000;
        let min = jiff::Timestamp::MIN.as_second() * 1000;
        return jiff::Timestamp::from_millisecond(ms.clamp(min, max)).ok();
    }
    if let Ok(ts) = s.parse::<jiff::Timestamp>() {
        return Some(ts);
    }
    if let Ok(dt) = s.parse::<jiff::civil::DateTime>() {
        return dt.to_zoned_datetime(jiff::tz::TimeZone::UTC).ok().map(|z| z.timestamp());
    }
    s.parse::<jiff::civil::Date>()
        .ok()
        .and_then(|d| d.to_zoned_datetime(jiff::tz::TimeZone::UTC).ok())
        .map(|z| z.timestamp())
}
