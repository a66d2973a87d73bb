//! Query evaluation over the database: which rows of an entity set a request
//! matches (top-level effective dating plus `$filter`), by-key lookup, and
//! rendering a page through `sf-odata`.

use sf_odata::edm::{EdmType, EntityType};
use sf_odata::entity::{EntityNode, NavView};
use sf_odata::error::ODataError;
use sf_odata::filter::Filter;
use sf_odata::query::QueryOptions;
use sf_odata::render::{self, RenderContext};
use sf_odata::value::ODataValue;

use crate::model::*;
use crate::nodes::*;
use crate::time::{Day, day_ms, ms_day};

/// A stable reference to one entity instance of a set. Person indexes never
/// change (persons are only appended), so PerPerson rows survive HR events;
/// rows of nested entities are positions and may shift when events insert slices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Row {
    Person(u32),
    Personal(u32, u16),
    Email(u32, u16),
    Phone(u32, u16),
    Employment(u32, u16),
    User(u32, u16),
    Job(u32, u16, u16),
    Termination(u32),
    EmploymentTermination(u32, u16),
    GlobalAssignment(u32, u16),
    Ref(RefId),
}

/// Any node, so heterogeneous rows render through one type.
pub enum AnyNode<'a> {
    Person(PersonNode<'a>),
    Personal(PersonalNode<'a>),
    Email(EmailNode<'a>),
    Phone(PhoneNode<'a>),
    Employment(EmploymentNode<'a>),
    User(UserNode<'a>),
    Job(JobNode<'a>),
    Termination(TerminationNode<'a>),
    EmploymentTermination(EmploymentTerminationNode<'a>),
    GlobalAssignment(GlobalAssignmentNode<'a>),
    Ref(RefNode<'a>),
}

impl AnyNode<'_> {
    fn inner(&self) -> &dyn EntityNode {
        match self {
            AnyNode::Person(n) => n,
            AnyNode::Personal(n) => n,
            AnyNode::Email(n) => n,
            AnyNode::Phone(n) => n,
            AnyNode::Employment(n) => n,
            AnyNode::User(n) => n,
            AnyNode::Job(n) => n,
            AnyNode::Termination(n) => n,
            AnyNode::EmploymentTermination(n) => n,
            AnyNode::GlobalAssignment(n) => n,
            AnyNode::Ref(n) => n,
        }
    }
}

impl EntityNode for AnyNode<'_> {
    fn entity_type(&self) -> &'static EntityType {
        self.inner().entity_type()
    }
    fn property(&self, name: &str) -> ODataValue {
        self.inner().property(name)
    }
    fn navigate(&self, nav: &str, view: NavView, visit: &mut dyn FnMut(&dyn EntityNode)) {
        self.inner().navigate(nav, view, visit)
    }
    fn fragment_key(&self) -> Option<usize> {
        self.inner().fragment_key()
    }
}

/// The node a row refers to, if it still exists.
pub fn node(db: &Database, row: Row) -> Option<AnyNode<'_>> {
    let person = |i: u32| db.persons.get(i as usize);
    Some(match row {
        Row::Person(i) => AnyNode::Person(PersonNode { db, p: person(i)? }),
        Row::Personal(i, s) => {
            let p = person(i)?;
            p.personal.get(s as usize)?;
            AnyNode::Personal(PersonalNode { db, p, i: s as usize })
        }
        Row::Email(i, k) => {
            let p = person(i)?;
            AnyNode::Email(EmailNode { db, p, e: p.emails.get(k as usize)? })
        }
        Row::Phone(i, k) => {
            let p = person(i)?;
            AnyNode::Phone(PhoneNode { db, p, ph: p.phones.get(k as usize)? })
        }
        Row::Employment(i, k) => {
            let p = person(i)?;
            AnyNode::Employment(EmploymentNode { db, p, e: p.employments.get(k as usize)? })
        }
        Row::User(i, k) => {
            let p = person(i)?;
            let e = p.employments.get(k as usize)?;
            AnyNode::User(UserNode { db, p, e, u: e.user.as_ref()? })
        }
        Row::Job(i, k, j) => {
            let p = person(i)?;
            let e = p.employments.get(k as usize)?;
            e.jobs.get(j as usize)?;
            AnyNode::Job(JobNode { db, p, e, i: j as usize })
        }
        Row::Termination(i) => {
            let p = person(i)?;
            AnyNode::Termination(TerminationNode { db, p, t: p.termination.as_ref()? })
        }
        Row::EmploymentTermination(i, k) => {
            let p = person(i)?;
            let e = p.employments.get(k as usize).filter(|e| e.end.is_some())?;
            AnyNode::EmploymentTermination(EmploymentTerminationNode { db, p, e })
        }
        Row::GlobalAssignment(i, k) => {
            let p = person(i)?;
            let e = p.employments.get(k as usize)?;
            AnyNode::GlobalAssignment(GlobalAssignmentNode {
                db,
                p,
                e,
                ga: e.global_assignment.as_ref()?,
            })
        }
        Row::Ref(id) => {
            if id as usize >= db.refs.records.len() {
                return None;
            }
            AnyNode::Ref(RefNode { db, id })
        }
    })
}

/// Top-level effective dating of an effective-dated set (KBA-2853045):
/// `asOfDate` (default today) keeps the slice valid that day; `fromDate`/`toDate`
/// keep slices overlapping the range.
#[derive(Debug, Clone, Copy)]
enum Window {
    AsOf(Day),
    Range(Day, Day),
}

impl Window {
    fn of(opts: &QueryOptions, today: Day) -> Window {
        if opts.from_date.is_some() || opts.to_date.is_some() {
            let from = opts.from_date.map(ms_day).unwrap_or(Day::MIN);
            let to = opts.to_date.map(ms_day).unwrap_or(Day::MAX);
            Window::Range(from, to)
        } else {
            Window::AsOf(opts.as_of_date.map(ms_day).unwrap_or(today))
        }
    }

    fn keeps(self, start: Day, end: Day) -> bool {
        match self {
            Window::AsOf(d) => start <= d && d <= end,
            Window::Range(from, to) => start <= to && end >= from,
        }
    }
}

/// Whether `set` is one of the person-scoped sets (rows come from persons,
/// not from reference data).
fn person_scoped(set: &EntityType) -> bool {
    matches!(
        set.name,
        "PerPerson"
            | "PerPersonal"
            | "PerEmail"
            | "PerPhone"
            | "PersonEmpTerminationInfo"
            | "EmpEmployment"
            | "User"
            | "EmpJob"
            | "EmpGlobalAssignment"
            | "EmpEmploymentTermination"
            | "PerNationalId"
            | "PerAddressDEFLT"
            | "UpsertResult"
    )
}

/// The rows of person `pi` in `set`, after top-level effective dating.
fn person_rows(db: &Database, set: &EntityType, window: Window, pi: usize, rows: &mut Vec<Row>) {
    let Some(p) = db.persons.get(pi) else { return };
    let pi = pi as u32;
    match set.name {
        "PerPerson" => rows.push(Row::Person(pi)),
        "PerPersonal" => {
            for i in 0..p.personal.len() {
                if window.keeps(p.personal[i].start, slice_end(&p.personal, i, |s| s.start)) {
                    rows.push(Row::Personal(pi, i as u16));
                }
            }
        }
        "PerEmail" => rows.extend((0..p.emails.len()).map(|k| Row::Email(pi, k as u16))),
        "PerPhone" => rows.extend((0..p.phones.len()).map(|k| Row::Phone(pi, k as u16))),
        "PersonEmpTerminationInfo" if p.termination.is_some() => rows.push(Row::Termination(pi)),
        "EmpEmployment"
        | "User"
        | "EmpJob"
        | "EmpGlobalAssignment"
        | "EmpEmploymentTermination" => {
            for (k, e) in p.employments.iter().enumerate() {
                let k = k as u16;
                match set.name {
                    "EmpEmployment" => rows.push(Row::Employment(pi, k)),
                    "EmpEmploymentTermination" if e.end.is_some() => {
                        rows.push(Row::EmploymentTermination(pi, k))
                    }
                    "User" if e.user.is_some() => rows.push(Row::User(pi, k)),
                    "EmpGlobalAssignment" if e.global_assignment.is_some() => {
                        rows.push(Row::GlobalAssignment(pi, k))
                    }
                    "EmpJob" => {
                        for j in 0..e.jobs.len() {
                            if window.keeps(e.jobs[j].start, slice_end(&e.jobs, j, |s| s.start)) {
                                rows.push(Row::Job(pi, k, j as u16));
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        _ => {}
    }
}

/// Every row of `set`, after top-level effective dating, before `$filter`.
fn candidates(db: &Database, set: &'static EntityType, window: Window) -> Vec<Row> {
    let mut rows = Vec::new();
    if person_scoped(set) {
        for pi in 0..db.persons.len() {
            person_rows(db, set, window, pi, &mut rows);
        }
    } else if let Some(ids) = db.refs.by_entity.get(set.name) {
        rows.extend(ids.iter().map(|&id| Row::Ref(id)));
    }
    rows
}

/// The rows of `set` matching the request, in the set's natural order.
pub fn matching_rows(
    db: &Database,
    set: &'static EntityType,
    opts: &QueryOptions,
    today: Day,
) -> Vec<Row> {
    let Some(filter) = &opts.filter else { return candidates(db, set, Window::of(opts, today)) };
    // A re-query by personIdExternal (Entra's pre-hire query, hrsync's
    // per-worker reads) evaluates the filter on the pinned persons only, not
    // on the whole population: one request per pre-hire must not cost
    // O(population). Same rows, same order as the full scan.
    let rows = match pinned_persons(db, set, filter) {
        Some(rows) => rows,
        None => candidates(db, set, Window::of(opts, today)),
    };
    rows.into_iter().filter(|&row| node(db, row).is_some_and(|n| filter.matches(&n))).collect()
}

/// The PerPerson rows a filter can match when it pins `personIdExternal` to
/// literals, in person order without repeats; `None` for other sets and filters.
fn pinned_persons(db: &Database, set: &'static EntityType, filter: &Filter) -> Option<Vec<Row>> {
    if set.name != "PerPerson" {
        return None;
    }
    let ids = filter.pinned_root_values("personIdExternal")?;
    let mut idx: Vec<usize> =
        ids.into_iter().filter_map(|id| db.person_index.get(id).copied()).collect();
    idx.sort_unstable();
    idx.dedup();
    Some(idx.into_iter().map(|i| Row::Person(i as u32)).collect())
}

/// A key predicate parsed into (key property, value) pairs, in the set's
/// key order.
pub type KeyValues = Vec<(&'static str, ODataValue)>;

/// Parses the text between the parentheses of `Set(…)`: a bare literal for
/// a single-key set (`'x'`, `8448L`), otherwise `name=literal` pairs in any
/// order. Values are parsed as OData literals and converted to the key
/// property's type: `1` and `1L` for Edm.Int64, `datetime'…'` with or without
/// fractional seconds (or `datetimeoffset'…'`) for Edm.DateTime, quoted
/// strings only for Edm.String (`PerPerson(100000)` is refused).
pub fn parse_key(set: &'static EntityType, text: &str) -> Result<KeyValues, ODataError> {
    let bad = |why: String| {
        ODataError::new(
            400,
            "COE_GENERAL_BAD_REQUEST",
            format!("[COE0019]Invalid key predicate {}({text}): {why}", set.name),
        )
    };
    let parts = split_top_level(text);
    let mut out: KeyValues = Vec::with_capacity(set.keys.len());
    for part in &parts {
        let (name, literal) = match split_assignment(part) {
            Some((n, v)) => (n.trim(), v.trim()),
            None if parts.len() == 1 && set.keys.len() == 1 => (set.keys[0], part.trim()),
            None => return Err(bad(format!("`{part}` is not name=value"))),
        };
        let Some(&key) = set.keys.iter().find(|k| **k == name) else {
            return Err(bad(format!("`{name}` is not a key property of {}", set.name)));
        };
        if out.iter().any(|(k, _)| *k == key) {
            return Err(bad(format!("`{key}` is given twice")));
        }
        let value = ODataValue::parse_literal(literal).map_err(|e| bad(e.to_string()))?;
        let ty = set.property(key).map(|p| p.ty);
        let value = match (ty, value) {
            (Some(EdmType::String), v @ ODataValue::String(_)) => v,
            (Some(EdmType::Int64 | EdmType::Int32), ODataValue::Int32(i)) => {
                ODataValue::Int64(i64::from(i))
            }
            (Some(EdmType::Int64 | EdmType::Int32), v @ ODataValue::Int64(_)) => v,
            (
                Some(EdmType::DateTime | EdmType::DateTimeOffset),
                v @ (ODataValue::DateTime(_) | ODataValue::DateTimeOffset { .. }),
            ) => ODataValue::DateTime(v.instant_ms().unwrap_or_default()),
            (Some(EdmType::Boolean), v @ ODataValue::Boolean(_)) => v,
            (Some(EdmType::Decimal | EdmType::Double), v)
                if v.edm_type().is_some_and(|t| t != EdmType::String) =>
            {
                v
            }
            (Some(t), v) => {
                return Err(bad(format!(
                    "{key} is {} and cannot take {}",
                    t.edm_name(),
                    v.key_literal()
                )));
            }
            (None, _) => return Err(bad(format!("`{key}` has no type"))),
        };
        out.push((key, value));
    }
    if out.len() != set.keys.len() {
        return Err(bad(format!("expected every key of {}: {}", set.name, set.keys.join(", "))));
    }
    out.sort_by_key(|(k, _)| set.keys.iter().position(|x| x == k));
    Ok(out)
}

/// Splits on commas outside quotes.
fn split_top_level(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut quoted, mut start) = (false, 0);
    for (i, c) in text.char_indices() {
        match c {
            '\'' => quoted = !quoted,
            ',' if !quoted => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

/// `name=value` with `=` outside quotes (a quoted string may contain `=`).
fn split_assignment(part: &str) -> Option<(&str, &str)> {
    let eq = part.find('=')?;
    let quote = part.find('\'').unwrap_or(usize::MAX);
    (eq < quote).then(|| (&part[..eq], &part[eq + 1..]))
}

/// Whether a node's key property value equals a parsed key value.
fn key_matches(node_value: &ODataValue, wanted: &ODataValue) -> bool {
    match (node_value, wanted) {
        (ODataValue::String(a), ODataValue::String(b)) => a == b,
        (ODataValue::Int64(a), ODataValue::Int64(b)) => a == b,
        (ODataValue::Int32(a), ODataValue::Int64(b)) => i64::from(*a) == *b,
        (ODataValue::Boolean(a), ODataValue::Boolean(b)) => a == b,
        (a, b) => match (a.instant_ms(), b.instant_ms()) {
            (Some(x), Some(y)) => x == y,
            _ => a == b,
        },
    }
}

/// The row of `set` whose key is `key` (parsed by [`parse_key`]).
pub fn find_by_key(db: &Database, set: &'static EntityType, key: &KeyValues) -> Option<Row> {
    let text_of = |name: &str| -> Option<String> {
        key.iter().find(|(k, _)| *k == name).and_then(|(_, v)| match v {
            ODataValue::String(s) => Some(s.clone()),
            ODataValue::Int64(i) => Some(i.to_string()),
            _ => None,
        })
    };
    match set.name {
        "PerPerson" => {
            return db
                .person_index
                .get(&text_of("personIdExternal")?)
                .map(|&i| Row::Person(i as u32));
        }
        "User" => {
            let &(p, e) = db.user_index.get(&text_of("userId")?)?;
            db.persons.get(p)?.employments.get(e)?.user.as_ref()?;
            return Some(Row::User(p as u32, e as u16));
        }
        "PersonEmpTerminationInfo" => {
            let &i = db.person_index.get(&text_of("personIdExternal")?)?;
            db.persons.get(i)?.termination.as_ref()?;
            return Some(Row::Termination(i as u32));
        }
        "Picklist" => {
            return db.refs.picklists.get(&text_of("picklistId")?).map(|&id| Row::Ref(id));
        }
        "PicklistOption" => {
            let id: i64 = text_of("id")?.parse().ok()?;
            return db.refs.options_by_id.get(&id).map(|&id| Row::Ref(id));
        }
        _ => {}
    }
    let matches = |row: Row| {
        node(db, row).is_some_and(|n| key.iter().all(|(k, v)| key_matches(&n.property(k), v)))
    };
    // Person-scoped sets: only that person's (or that user's person's) rows.
    let person = text_of("personIdExternal")
        .and_then(|id| db.person_index.get(&id).copied())
        .or_else(|| text_of("userId").and_then(|u| db.user_index.get(&u).map(|&(p, _)| p)));
    let window = Window::Range(Day::MIN, Day::MAX);
    match person {
        Some(p) if set.name != "EmpJob" || text_of("userId").is_some() => {
            let mut rows = Vec::new();
            person_rows(db, set, window, p, &mut rows);
            rows.into_iter().find(|&r| matches(r))
        }
        _ => candidates(db, set, window).into_iter().find(|&r| matches(r)),
    }
}

/// Render context for a request.
pub fn render_context<'a>(
    service_root: &'a str,
    opts: &QueryOptions,
    today: Day,
) -> RenderContext<'a> {
    RenderContext { service_root, as_of_date: opts.as_of_date, today: day_ms(today) }
}

/// Writes one page of `rows` as an OData collection.
pub fn write_page(
    out: &mut String,
    db: &Database,
    rows: &[Row],
    ctx: &RenderContext<'_>,
    opts: &QueryOptions,
    next: Option<&str>,
    count: Option<u64>,
) {
    let nodes = rows.iter().filter_map(|&row| node(db, row));
    render::write_collection_page(out, nodes, ctx, opts.select.as_ref(), &opts.expand, next, count);
}

#[cfg(test)]
mod tests {
    use sf_odata::edm::schema;

    use super::*;
    use crate::events::HrEvent;
    use crate::generate::{PopulationConfig, generate};
    use crate::time::{Clock, days_from_civil};

    /// The pinned-person path returns exactly what scanning every person does,
    /// in the same order, including persons hired after generation.
    #[test]
    fn pinned_person_filters_match_the_full_scan() {
        let today = days_from_civil(2025, 3, 1);
        let mut db = generate(&PopulationConfig { workers: 200, seed: 7, today });
        let clock = Clock::new(Some(day_ms(today) + 3_600_000));
        let hire = HrEvent::Hire {
            person_id_external: Some("zz-late".into()),
            first_name: None,
            last_name: None,
            start_date: None,
            company: None,
            manager_id: None,
        };
        if let Err(e) = db.apply(&hire, &clock, 1) {
            panic!("hire: {e}");
        }
        let ids: Vec<String> = db.persons.iter().map(|p| p.person_id_external.clone()).collect();
        let (a, b, c, last) = (&ids[5], &ids[17], &ids[120], &ids[ids.len() - 1]);
        let set = schema().entity_set("PerPerson").unwrap_or_else(|| panic!("PerPerson"));
        let cases = [
            format!("personIdExternal eq '{a}'"),
            format!("'{b}' eq personIdExternal"),
            format!("personIdExternal in '{c}','{a}','{last}','{a}','nobody'"),
            format!("personIdExternal in '{a}','{b}' and employmentNav/userNav/status in 't','f'"),
            format!(
                "(personIdExternal eq '{c}' or personIdExternal eq '{b}') and personEmpTerminationInfoNav/activeEmploymentsCount ne null"
            ),
            format!("personIdExternal eq '{c}' or personalInfoNav/firstName ne 'x'"),
            format!("not (personIdExternal eq '{a}')"),
            format!("personIdExternal ne '{a}'"),
            format!("personIdExternal eq '{}'", a.to_uppercase() + " "),
            "personIdExternal eq 'nobody'".to_owned(),
            "personIdExternal eq null".to_owned(),
        ];
        let mut pinned_cases = Vec::new();
        for text in &cases {
            let query = format!("$filter={}", text.replace(' ', "%20").replace('\'', "%27"));
            let opts = QueryOptions::parse(&query, set).unwrap_or_else(|e| panic!("{text}: {e}"));
            let Some(filter) = &opts.filter else { panic!("{text}: no filter") };
            pinned_cases.push(pinned_persons(&db, set, filter).is_some());
            let scanned: Vec<Row> = candidates(&db, set, Window::of(&opts, today))
                .into_iter()
                .filter(|&r| node(&db, r).is_some_and(|n| filter.matches(&n)))
                .collect();
            assert_eq!(matching_rows(&db, set, &opts, today), scanned, "{text}");
        }
        let t = true;
        assert_eq!(
            pinned_cases,
            [t, t, t, t, t, false, false, false, t, t, false],
            "which filters take the pinned path"
        );
        let in_order = format!("personIdExternal in '{last}','{a}'");
        let opts = QueryOptions::parse(&format!("$filter={}", in_order.replace(' ', "%20")), set)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            matching_rows(&db, set, &opts, today),
            vec![Row::Person(5), Row::Person(ids.len() as u32 - 1)],
            "person order, the late hire included"
        );
    }
}
