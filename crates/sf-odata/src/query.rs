//! System query options of one request, parsed and validated against the schema.
//!
//! Option names are case-sensitive as in OData (`$filter`, `customPageSize`,
//! `asOfDate`). Unknown `$` options are rejected; other unknown parameters
//! (`processInactiveEmployees`, cache busters) are kept for `__next` and
//! otherwise ignored, as SuccessFactors tolerates them.

use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};

use crate::edm::{EntityType, NavProperty};
use crate::error::ODataError;
use crate::filter::Filter;

/// `$format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Atom,
}

/// `paging=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paging {
    Snapshot,
    Cursor,
}

/// The navigations to expand, as a tree rooted at the request's entity type.
#[derive(Debug, Clone, Default)]
pub struct ExpandTree {
    /// Expanded navigations of this level, in first-mention order.
    pub children: Vec<(&'static NavProperty, ExpandTree)>,
}

impl ExpandTree {
    /// The subtree for `nav`, if it is expanded at this level.
    pub fn child(&self, nav: &str) -> Option<&ExpandTree> {
        self.children.iter().find(|(n, _)| n.name == nav).map(|(_, t)| t)
    }
    /// Number of expanded navigations in the whole tree.
    pub fn len(&self) -> usize {
        self.children.iter().map(|(_, t)| 1 + t.len()).sum()
    }
    pub fn is_empty(&self) -> bool {
        self.children.is_empty()
    }
}

/// `$select` at one level: `None` at a level means "everything".
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Selection {
    /// `*` was named at this level.
    pub all: bool,
    /// Scalar properties named at this level.
    pub properties: Vec<&'static str>,
    /// Navigations named at this level (alone or as a path prefix), with the
    /// selection inside them (`None`: the whole target).
    pub navs: Vec<(&'static str, Option<Selection>)>,
}

impl Selection {
    /// Whether scalar `name` is written at this level.
    pub fn has_property(&self, name: &str) -> bool {
        self.all || self.properties.contains(&name)
    }
    /// `None` if `nav` is not selected; `Some(None)` whole target; `Some(Some(s))` nested selection.
    pub fn nav(&self, name: &str) -> Option<Option<&Selection>> {
        if let Some((_, s)) = self.navs.iter().find(|(n, _)| *n == name) {
            return Some(s.as_ref());
        }
        self.all.then_some(None)
    }
}

/// One `$orderby` key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderBy {
    /// Property path, e.g. `personIdExternal` or `employmentNav/startDate`.
    pub path: Vec<String>,
    pub descending: bool,
}

/// Every query option of a request.
#[derive(Debug, Clone)]
pub struct QueryOptions {
    pub format: Option<Format>,
    pub select: Option<Selection>,
    pub expand: ExpandTree,
    pub filter: Option<Filter>,
    pub top: Option<u64>,
    pub skip: Option<u64>,
    pub orderby: Vec<OrderBy>,
    /// `$inlinecount=allpages`.
    pub inline_count: bool,
    pub custom_page_size: Option<u32>,
    pub paging: Option<Paging>,
    pub skiptoken: Option<String>,
    /// Midnight UTC in ms.
    pub as_of_date: Option<i64>,
    pub from_date: Option<i64>,
    pub to_date: Option<i64>,
    /// Decoded parameters in request order, for `__next`.
    pub raw: Vec<(String, String)>,
}

/// Characters percent-encoded in re-encoded query values: what would end or
/// confuse a parameter (`&`, `#`, `+`, `%`), whitespace and controls; `$ ' ( ) , / : =`
/// stay readable as SuccessFactors leaves them.
const QUERY_VALUE: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'&')
    .add(b'+')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'|')
    .add(b'\\')
    .add(b'^')
    .add(b'[')
    .add(b']');

/// Decodes one query component: `+` is a space, `%XX` a byte; the result must be UTF-8.
fn decode(s: &str) -> Result<String, ODataError> {
    let spaced = s.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .map(|c| c.into_owned())
        .map_err(|_| ODataError::bad_option_value("query string", s, "percent-encoded UTF-8"))
}

impl QueryOptions {
    /// Parses a raw query string (without `?`) for a request on `entity`.
    pub fn parse(raw_query: &str, entity: &'static EntityType) -> Result<QueryOptions, ODataError> {
        let mut q = QueryOptions {
            format: None,
            select: None,
            expand: ExpandTree::default(),
            filter: None,
            top: None,
            skip: None,
            orderby: Vec::new(),
            inline_count: false,
            custom_page_size: None,
            paging: None,
            skiptoken: None,
            as_of_date: None,
            from_date: None,
            to_date: None,
            raw: Vec::new(),
        };
        let mut seen: Vec<String> = Vec::new();
        for part in raw_query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = part.split_once('=').unwrap_or((part, ""));
            let (key, value) = (decode(k)?, decode(v)?);
            let known = matches!(
                key.as_str(),
                "$format"
                    | "$select"
                    | "$expand"
                    | "$filter"
                    | "$top"
                    | "$skip"
                    | "$orderby"
                    | "$inlinecount"
                    | "$skiptoken"
                    | "customPageSize"
                    | "paging"
                    | "asOfDate"
                    | "fromDate"
                    | "toDate"
            );
            if known {
                if seen.contains(&key) {
                    return Err(ODataError::bad_option_value(
                        &key,
                        &value,
                        "a single occurrence of the option",
                    ));
                }
                seen.push(key.clone());
            }
            match key.as_str() {
                "$format" => {
                    q.format = Some(match value.to_ascii_lowercase().as_str() {
                        "json" => Format::Json,
                        "atom" | "xml" => Format::Atom,
                        _ => {
                            return Err(ODataError::bad_option_value(&key, &value, "json or atom"));
                        }
                    })
                }
                "$select" => q.select = Some(parse_select(&value, entity)?),
                "$expand" => q.expand = parse_expand(&value, entity)?,
                "$filter" => q.filter = Some(Filter::parse(&value, entity)?),
                "$top" => q.top = Some(parse_count(&key, &value)?),
                "$skip" => q.skip = Some(parse_count(&key, &value)?),
                "$orderby" => q.orderby = parse_orderby(&value, entity)?,
                "$inlinecount" => {
                    q.inline_count = match value.as_str() {
                        "allpages" => true,
                        "none" => false,
                        _ => {
                            return Err(ODataError::bad_option_value(
                                &key,
                                &value,
                                "allpages or none",
                            ));
                        }
                    }
                }
                "$skiptoken" => q.skiptoken = Some(value.clone()),
                "customPageSize" => {
                    let n = parse_count(&key, &value)?;
                    q.custom_page_size = match u32::try_from(n) {
                        Ok(n) if n > 0 => Some(n),
                        _ => {
                            return Err(ODataError::bad_option_value(
                                &key,
                                &value,
                                "a positive integer",
                            ));
                        }
                    };
                }
                "paging" => {
                    q.paging = Some(match value.to_ascii_lowercase().as_str() {
                        "snapshot" => Paging::Snapshot,
                        "cursor" => Paging::Cursor,
                        _ => {
                            return Err(ODataError::bad_option_value(
                                &key,
                                &value,
                                "snapshot or cursor",
                            ));
                        }
                    })
                }
                "asOfDate" => q.as_of_date = Some(parse_day_param(&key, &value)?),
                "fromDate" => q.from_date = Some(parse_day_param(&key, &value)?),
                "toDate" => q.to_date = Some(parse_day_param(&key, &value)?),
                k if k.starts_with('$') => return Err(ODataError::unknown_system_option(k)),
                _ => {}
            }
            q.raw.push((key, value));
        }
        if q.paging == Some(Paging::Snapshot) && (q.top.is_some() || q.skip.is_some()) {
            return Err(ODataError::unsupported_combination(
                "paging=snapshot does not support $top or $skip",
            ));
        }
        if q.paging == Some(Paging::Cursor) && !q.orderby.is_empty() {
            return Err(ODataError::unsupported_combination(
                "paging=cursor does not support $orderby",
            ));
        }
        if q.as_of_date.is_some() && (q.from_date.is_some() || q.to_date.is_some()) {
            return Err(ODataError::unsupported_combination(
                "use either asOfDate or fromDate/toDate, not both",
            ));
        }
        if let (Some(f), Some(t)) = (q.from_date, q.to_date)
            && f > t
        {
            return Err(ODataError::unsupported_combination("fromDate is after toDate"));
        }
        Ok(q)
    }

    /// The absolute `__next` URL: `base_url` + `path` + the request's
    /// parameters re-encoded in request order, any old `$skiptoken` dropped
    /// and `$skiptoken=<skiptoken>` appended.
    pub fn next_link(&self, base_url: &str, path: &str, skiptoken: &str) -> String {
        let mut url = String::with_capacity(base_url.len() + path.len() + 256);
        url.push_str(base_url.trim_end_matches('/'));
        if !path.starts_with('/') {
            url.push('/');
        }
        url.push_str(path);
        let mut sep = '?';
        for (k, v) in self.raw.iter().filter(|(k, _)| k != "$skiptoken") {
            url.push(sep);
            sep = '&';
            url.extend(utf8_percent_encode(k, QUERY_VALUE));
            url.push('=');
            url.extend(utf8_percent_encode(v, QUERY_VALUE));
        }
        url.push(sep);
        url.push_str("$skiptoken=");
        url.extend(utf8_percent_encode(skiptoken, QUERY_VALUE));
        url
    }
}

fn parse_count(key: &str, value: &str) -> Result<u64, ODataError> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ODataError::bad_option_value(key, value, "a non-negative integer"));
    }
    value.parse().map_err(|_| ODataError::bad_option_value(key, value, "a non-negative integer"))
}

fn parse_day_param(key: &str, value: &str) -> Result<i64, ODataError> {
    crate::value::parse_day(value)
        .map_err(|_| ODataError::bad_date(key, &format!("'{value}' (expected yyyy-MM-dd)")))
}

fn split_list(value: &str) -> impl Iterator<Item = &str> {
    value.split(',').map(str::trim).filter(|s| !s.is_empty())
}

/// `$expand=a/b,a/c` into a tree; every segment must be a navigation.
fn parse_expand(value: &str, entity: &'static EntityType) -> Result<ExpandTree, ODataError> {
    let mut tree = ExpandTree::default();
    for path in split_list(value) {
        let mut level = &mut tree;
        let mut ty = entity;
        for seg in path.split('/') {
            let Some(nav) = ty.nav(seg) else {
                if ty.property(seg).is_some() {
                    return Err(ODataError::expand_non_navigation(ty.name, seg));
                }
                return Err(ODataError::property_not_found(ty.name, &[seg]));
            };
            let Some(target) = nav.target_type() else {
                return Err(ODataError::property_not_found(ty.name, &[seg]));
            };
            let idx = match level.children.iter().position(|(n, _)| n.name == seg) {
                Some(i) => i,
                None => {
                    level.children.push((nav, ExpandTree::default()));
                    level.children.len() - 1
                }
            };
            level = &mut level.children[idx].1;
            ty = target;
        }
    }
    Ok(tree)
}

/// `$select=a,b/c,*` into a tree; every segment but the last must be a
/// navigation, the last a property, a navigation or `*`.
fn parse_select(value: &str, entity: &'static EntityType) -> Result<Selection, ODataError> {
    let mut root = Selection::default();
    for path in split_list(value) {
        let segs: Vec<&str> = path.split('/').collect();
        add_select(&mut root, entity, &segs)?;
    }
    Ok(root)
}

fn add_select(
    sel: &mut Selection,
    ty: &'static EntityType,
    segs: &[&str],
) -> Result<(), ODataError> {
    let Some((&first, rest)) = segs.split_first() else { return Ok(()) };
    if first == "*" && rest.is_empty() {
        sel.all = true;
        return Ok(());
    }
    if let Some(p) = ty.property(first) {
        if !rest.is_empty() {
            return Err(ODataError::property_not_found(ty.name, &[&segs.join("/")]));
        }
        if !sel.properties.contains(&p.name) {
            sel.properties.push(p.name);
        }
        return Ok(());
    }
    let (Some(nav), Some(target)) = (ty.nav(first), ty.nav(first).and_then(|n| n.target_type()))
    else {
        return Err(ODataError::property_not_found(ty.name, &[first]));
    };
    let idx = match sel.navs.iter().position(|(n, _)| *n == nav.name) {
        Some(i) => i,
        None => {
            sel.navs.push((nav.name, Some(Selection::default())));
            sel.navs.len() - 1
        }
    };
    let entry = &mut sel.navs[idx].1;
    if rest.is_empty() {
        // The bare navigation selects its whole target.
        *entry = None;
    } else if let Some(inner) = entry {
        add_select(inner, target, rest)?;
    } else {
        // Already whole; still validate the longer path.
        add_select(&mut Selection::default(), target, rest)?;
    }
    Ok(())
}

/// `$orderby=a desc,b/c` (SuccessFactors: not supported on EC entities,
/// KBA-2954606; parsed and validated so the server can apply it best-effort).
fn parse_orderby(value: &str, entity: &'static EntityType) -> Result<Vec<OrderBy>, ODataError> {
    let mut out = Vec::new();
    for item in split_list(value) {
        let mut words = item.split_whitespace();
        let path_text = words.next().unwrap_or_default();
        let descending = match words.next() {
            None => false,
            Some(w) if w.eq_ignore_ascii_case("asc") => false,
            Some(w) if w.eq_ignore_ascii_case("desc") => true,
            Some(_) => {
                return Err(ODataError::bad_option_value("$orderby", item, "path [asc|desc]"));
            }
        };
        if words.next().is_some() {
            return Err(ODataError::bad_option_value("$orderby", item, "path [asc|desc]"));
        }
        let segs: Vec<&str> = path_text.split('/').collect();
        let mut ty = entity;
        for (i, seg) in segs.iter().enumerate() {
            if i + 1 == segs.len() {
                if ty.property(seg).is_none() {
                    return Err(ODataError::property_not_found(ty.name, &[seg]));
                }
            } else {
                match ty.nav(seg).and_then(|n| n.target_type()) {
                    Some(t) => ty = t,
                    None => return Err(ODataError::property_not_found(ty.name, &[seg])),
                }
            }
        }
        out.push(OrderBy { path: segs.iter().map(|s| (*s).to_owned()).collect(), descending });
    }
    Ok(out)
}
