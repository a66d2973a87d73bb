//! The pure half of the batched lookups (`find_many`, `taken`): OR filters
//! over chunks of values, and the mapping of the entries a search returns
//! back to the values that were asked for.

use std::collections::{HashMap, HashSet};

use ldap3::SearchEntry;

/// Values per OR filter. Large enough that a page of workers takes a few
/// searches, small enough for any server's filter and time limits (AD
/// evaluates an OR of indexed equalities as that many index lookups).
pub const FILTER_CHUNK: usize = 100;

/// `(|t1 t2 ...)` of already escaped filter terms; a single term as is.
pub fn or_filter<'a>(terms: impl IntoIterator<Item = &'a str>) -> String {
    let terms: Vec<&str> = terms.into_iter().collect();
    match terms.as_slice() {
        [one] => (*one).to_owned(),
        many => format!("(|{})", many.concat()),
    }
}

/// Whether `name` can stand in a filter as an attribute description
/// (RFC 4512: a descriptor or an OID, with options): anything else would
/// change the filter's meaning.
pub fn is_attribute_description(name: &str) -> bool {
    !name.is_empty()
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b';' || b == b'.')
}

/// Entries grouped by the wanted keys they hold (`keys_of` gives an entry's
/// comparison keys for the searched attribute). The flag tells whether some
/// entry held none of them: the server then matched by a rule the keys do
/// not reproduce, and the caller must ask for the unmatched values alone.
pub fn group_by_key(
    entries: Vec<SearchEntry>,
    wanted: &HashSet<String>,
    keys_of: impl Fn(&SearchEntry) -> Vec<String>,
) -> (HashMap<String, Vec<SearchEntry>>, bool) {
    let mut by_key: HashMap<String, Vec<SearchEntry>> = HashMap::new();
    let mut unmatched = false;
    for entry in entries {
        let mut keys: Vec<String> =
            keys_of(&entry).into_iter().filter(|k| wanted.contains(k)).collect();
        keys.sort();
        keys.dedup();
        match keys.split_last() {
            None => unmatched = true,
            Some((last, rest)) => {
                for k in rest {
                    by_key.entry(k.clone()).or_default().push(entry.clone());
                }
                by_key.entry(last.clone()).or_default().push(entry);
            }
        }
    }
    (by_key, unmatched)
}
