//! `$filter` expressions built from typed parts, so every literal that crosses
//! into SuccessFactors is escaped in exactly one place.

use std::fmt::{self, Display, Write as _};

use jiff::Timestamp;
use jiff::civil::Date;

/// A comparison operator of OData v2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    fn as_str(self) -> &'static str {
        match self {
            CmpOp::Eq => "eq",
            CmpOp::Ne => "ne",
            CmpOp::Lt => "lt",
            CmpOp::Le => "le",
            CmpOp::Gt => "gt",
            CmpOp::Ge => "ge",
        }
    }
}

/// A literal on the right-hand side of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Null,
    Bool(bool),
    Int(i64),
    /// Rendered as `'text'` with `'` doubled (`'O''Neil'`).
    String(String),
    /// Rendered as `datetimeoffset'2024-01-01T00:00:00Z'`, whole seconds, UTC.
    /// Entra compares `Edm.DateTime` fields with these literals too, and
    /// SuccessFactors accepts that, so this one literal serves every date field.
    DateTimeOffset(Timestamp),
}

impl Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Null => f.write_str("null"),
            Literal::Bool(b) => write!(f, "{b}"),
            Literal::Int(i) => write!(f, "{i}"),
            Literal::String(s) => {
                f.write_char('\'')?;
                for c in s.chars() {
                    if c == '\'' {
                        f.write_str("''")?;
                    } else {
                        f.write_char(c)?;
                    }
                }
                f.write_char('\'')
            }
            Literal::DateTimeOffset(ts) => {
                write!(f, "datetimeoffset'{}'", ts.strftime("%Y-%m-%dT%H:%M:%SZ"))
            }
        }
    }
}

impl From<&str> for Literal {
    fn from(s: &str) -> Self {
        Literal::String(s.to_owned())
    }
}

impl From<Timestamp> for Literal {
    fn from(ts: Timestamp) -> Self {
        Literal::DateTimeOffset(ts)
    }
}

/// A `$filter` expression. `Display` renders it with every group parenthesised,
/// which is how Entra writes its queries and what SuccessFactors parses best.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    Cmp {
        path: String,
        op: CmpOp,
        value: Literal,
    },
    /// SuccessFactors' own `in` operator: `personIdExternal in 'a','b'`
    /// (no parentheses: the parenthesised form is rejected with 400).
    In {
        path: String,
        values: Vec<Literal>,
    },
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Not(Box<Filter>),
}

impl Filter {
    pub fn cmp(path: impl Into<String>, op: CmpOp, value: impl Into<Literal>) -> Filter {
        Filter::Cmp { path: path.into(), op, value: value.into() }
    }

    pub fn is_in<I, L>(path: impl Into<String>, values: I) -> Filter
    where
        I: IntoIterator<Item = L>,
        L: Into<Literal>,
    {
        Filter::In { path: path.into(), values: values.into_iter().map(Into::into).collect() }
    }

    /// `path ge from and path le to`: an inclusive time window.
    pub fn window(path: &str, from: Timestamp, to: Timestamp) -> Filter {
        Filter::And(vec![Filter::cmp(path, CmpOp::Ge, from), Filter::cmp(path, CmpOp::Le, to)])
    }
}

impl Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Filter::Cmp { path, op, value } => write!(f, "{path} {} {value}", op.as_str()),
            Filter::In { path, values } => {
                write!(f, "{path} in ")?;
                for (i, v) in values.iter().enumerate() {
                    if i > 0 {
                        f.write_char(',')?;
                    }
                    write!(f, "{v}")?;
                }
                Ok(())
            }
            Filter::And(parts) => join(f, parts, " and "),
            Filter::Or(parts) => join(f, parts, " or "),
            Filter::Not(inner) => write!(f, "not ({inner})"),
        }
    }
}

fn join(f: &mut fmt::Formatter<'_>, parts: &[Filter], sep: &str) -> fmt::Result {
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            f.write_str(sep)?;
        }
        match part {
            Filter::Cmp { .. } | Filter::In { .. } | Filter::Not(_) => write!(f, "{part}")?,
            Filter::And(_) | Filter::Or(_) => write!(f, "({part})")?,
        }
    }
    Ok(())
}

/// Entra's full-sync filter: every worker, active or terminated, last modified
/// no later than the cycle start (changes after it belong to the next delta).
pub fn full_sync(cycle_start: Timestamp) -> Filter {
    Filter::And(vec![
        Filter::cmp("personEmpTerminationInfoNav/activeEmploymentsCount", CmpOp::Ne, Literal::Null),
        Filter::cmp("lastModifiedDateTime", CmpOp::Le, cycle_start),
    ])
}

/// Workers whose `personEmpTerminationInfoNav` is null. Entra's full-sync
/// filter drops them (and with them their terminations); hrsync reads them
/// separately and decides their status from the employment itself.
pub fn missing_termination_info(cycle_start: Timestamp) -> Filter {
    Filter::And(vec![
        Filter::cmp("personEmpTerminationInfoNav/activeEmploymentsCount", CmpOp::Eq, Literal::Null),
        Filter::cmp("lastModifiedDateTime", CmpOp::Le, cycle_start),
    ])
}

/// The incremental (delta) filter over `[from, to]`, clause for clause the one
/// Entra documents, with the `or` its published template lacks restored:
/// modification windows on every expanded entity, start-date windows so that a
/// future-dated slice is picked up when it becomes effective, and the
/// termination date. `activeEmploymentsCount ne null` is deliberately not
/// ANDed in, so a worker whose termination info is null is not hidden.
pub fn delta(from: Timestamp, to: Timestamp) -> Filter {
    // A slice modified in the window counts only if it is the one in effect
    // now; a future slice is caught by its start-date window instead.
    let effective_now = |nav: &str| {
        Filter::And(vec![
            Filter::window(&format!("{nav}/lastModifiedDateTime"), from, to),
            Filter::cmp(format!("{nav}/startDate"), CmpOp::Le, to),
            Filter::Or(vec![
                Filter::cmp(format!("{nav}/endDate"), CmpOp::Ge, to),
                Filter::cmp(format!("{nav}/endDate"), CmpOp::Eq, Literal::Null),
            ]),
        ])
    };
    Filter::Or(vec![
        Filter::window("lastModifiedDateTime", from, to),
        Filter::window("personalInfoNav/startDate", from, to),
        effective_now("personalInfoNav"),
        Filter::window("employmentNav/startDate", from, to),
        effective_now("employmentNav"),
        Filter::window("employmentNav/jobInfoNav/startDate", from, to),
        effective_now("employmentNav/jobInfoNav"),
        Filter::window("phoneNav/lastModifiedDateTime", from, to),
        Filter::window("emailNav/lastModifiedDateTime", from, to),
        Filter::window("personEmpTerminationInfoNav/latestTerminationDate", from, to),
        Filter::window("employmentNav/userNav/lastModifiedDateTime", from, to),
    ])
}

/// The pre-hire re-query Entra sends (with `asOfDate` = the start date):
/// the given persons, if their user is active, inactive or an Onboarding 2.0
/// pre-hire (`t`, `f`, `e`). Onboarding pre-hires are read even when a flow
/// excludes them, so that each exclusion is logged with its reason instead
/// of the worker silently not coming back.
pub fn prehire(person_ids: &[&str]) -> Filter {
    Filter::And(vec![
        Filter::is_in("personIdExternal", person_ids.iter().copied()),
        Filter::is_in("employmentNav/userNav/status", ["t", "f", "e"]),
    ])
}

/// One person by id. `eq` rather than `in`: Microsoft notes `in` can fail on
/// some tenants and suggests `eq`.
pub fn person(person_id: &str) -> Filter {
    Filter::cmp("personIdExternal", CmpOp::Eq, person_id)
}

/// Render a date as SuccessFactors' `asOfDate`/`fromDate` parameter value.
pub fn date_param(date: Date) -> String {
    date.strftime("%Y-%m-%d").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn string_literals_double_quotes() {
        let f = Filter::cmp("lastName", CmpOp::Eq, "O'Neil");
        assert_eq!(f.to_string(), "lastName eq 'O''Neil'");
        let f = Filter::cmp("lastName", CmpOp::Eq, "''");
        assert_eq!(f.to_string(), "lastName eq ''''''");
    }

    #[test]
    fn full_sync_matches_entra_shape() {
        let f = full_sync(ts("2024-05-02T08:30:00.750Z"));
        assert_eq!(
            f.to_string(),
            "personEmpTerminationInfoNav/activeEmploymentsCount ne null and \
             lastModifiedDateTime le datetimeoffset'2024-05-02T08:30:00Z'"
        );
    }

    #[test]
    fn in_operator_has_no_parentheses() {
        let f = prehire(&["1234", "O'Hara"]);
        assert_eq!(
            f.to_string(),
            "personIdExternal in '1234','O''Hara' and employmentNav/userNav/status in 't','f','e'"
        );
    }

    #[test]
    fn delta_groups_are_parenthesised_and_ored() {
        let s = delta(ts("2024-01-01T00:00:00Z"), ts("2024-01-02T00:00:00Z")).to_string();
        assert!(s.starts_with("(lastModifiedDateTime ge datetimeoffset'2024-01-01T00:00:00Z' and"));
        assert_eq!(s.matches(") or (").count(), 10, "{s}");
        assert!(s.contains(
            "(employmentNav/jobInfoNav/endDate ge datetimeoffset'2024-01-02T00:00:00Z' or employmentNav/jobInfoNav/endDate eq null)"
        ));
    }

    #[test]
    fn not_wraps_its_operand() {
        let f = Filter::Not(Box::new(Filter::cmp("a", CmpOp::Eq, Literal::Bool(true))));
        assert_eq!(f.to_string(), "not (a eq true)");
    }
}
