//! The pure half of the embedded target: how values become index keys
//! (lower case, arrays per element), how answers for folded keys go back
//! to the values as given, what an update does to an object's attributes,
//! and how account status is read from them. No SQL here.

use std::collections::{BTreeSet, HashMap};

use hrsync_target::{AttributeUpdate, Attributes, attr};
use serde_json::Value;

/// The index keys of a value: scalars as lower-case text, arrays per element.
pub(crate) fn index_keys(v: &Value) -> Vec<String> {
    match v {
        Value::Null => vec![],
        Value::String(s) => vec![s.to_lowercase()],
        Value::Array(items) => items.iter().flat_map(index_keys).collect(),
        other => vec![other.to_string().to_lowercase()],
    }
}

/// The value-index keys of an object: (attribute, lower-case value) for
/// every attribute in `indexed`, each once.
pub(crate) fn object_keys<'a>(
    indexed: &'a [String],
    attrs: &Attributes,
) -> BTreeSet<(&'a str, String)> {
    let mut out = BTreeSet::new();
    for name in indexed {
        if let Some(v) = attrs.get(name) {
            out.extend(index_keys(v).into_iter().map(|k| (name.as_str(), k)));
        }
    }
    out
}

/// Whether the attributes describe an enabled account: `accountDisabled`
/// is absent or not true (see [`attr::flag`]; a value it cannot read
/// leaves the account enabled).
pub(crate) fn is_enabled(attrs: &Attributes) -> bool {
    !attrs.get(attr::ACCOUNT_DISABLED).and_then(attr::flag).unwrap_or(false)
}

/// The change `disable` writes.
pub(crate) fn disable_change() -> AttributeUpdate {
    AttributeUpdate { name: attr::ACCOUNT_DISABLED.into(), value: attr::flag_value(true) }
}

/// Apply `changes` to an object's attributes: a value replaces, `null` removes.
pub(crate) fn apply(attrs: &mut Attributes, changes: &[AttributeUpdate]) {
    for c in changes {
        if c.value.is_null() {
            attrs.remove(&c.name);
        } else {
            attrs.insert(c.name.clone(), c.value.clone());
        }
    }
}

/// The given values grouped by their index key (lower case): case variants
/// of one value share a key and so the same answer.
pub(crate) fn by_key(values: &[String]) -> HashMap<String, Vec<&String>> {
    let mut out: HashMap<String, Vec<&String>> = HashMap::with_capacity(values.len());
    for v in values {
        out.entry(v.to_lowercase()).or_default().push(v);
    }
    out
}

/// Map lower-case keys back to the values as the caller gave them.
pub(crate) fn spread<T: Clone>(
    found: HashMap<String, T>,
    keys: &HashMap<String, Vec<&String>>,
) -> HashMap<String, T> {
    let mut out = HashMap::with_capacity(found.len());
    for (key, v) in found {
        for given in keys.get(&key).into_iter().flatten() {
            out.insert((*given).clone(), v.clone());
        }
    }
    out
}

/// `sql_head` followed by `IN (?2, ..., ?n)` with room for `len` values,
/// rounded up to a power of two (at most `max`) so that few distinct
/// statements are cached; the spare parameters stay NULL, which `IN` never
/// matches.
pub(crate) fn in_list(sql_head: &str, sql_tail: &str, len: usize, max: usize) -> (String, usize) {
    let slots = len.next_power_of_two().min(max);
    let params: Vec<String> = (2..slots + 2).map(|i| format!("?{i}")).collect();
    (format!("{sql_head} IN ({}){sql_tail}", params.join(", ")), slots)
}
