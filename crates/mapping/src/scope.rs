//! Scoping filters (Entra's "Source Object Scope"): which workers a flow
//! provisions.
//!
//! A filter is a list of groups; a worker is in scope when **any** group
//! passes (OR), and a group passes when **all** its clauses pass (AND). A
//! filter with no groups puts everyone in scope.
//!
//! # Operators and null semantics
//!
//! Operator names are accepted as Entra spells them (`EQUALS`, `NOT EQUALS`,
//! `Greater_Than_OR_EQUALS`, `&`, ...), case-insensitively, with spaces or
//! underscores (`NOT_EQUALS`, as Graph's `operatorName` writes it).
//!
//! An attribute that is absent, null or `""` makes every clause **false**
//! except `IS NULL` (true). So `NOT EQUALS`, `NOT REGEX MATCH` and `!&` do not
//! admit workers that lack the attribute, as in Entra. Comparisons are on the
//! attribute's text and case-sensitive. Clauses with several values
//! (Graph's `targetOperand.values`) pass when any value matches, and for the
//! negated operators when none does.
//!
//! - `EQUALS` / `NOT EQUALS`: exact text equality.
//! - `IS TRUE` / `IS FALSE`: boolean `true`/`false` or the text
//!   `True`/`False` (any case); anything else is neither.
//! - `IS NULL` / `IS NOT NULL`: absent, null or `""` / anything else.
//! - `REGEX MATCH` / `NOT REGEX MATCH`: the regex matches somewhere in the text
//!   (like .NET `Regex.IsMatch`; anchor with `^...$` for a full match).
//! - `Greater_Than`, `Greater_Than_OR_EQUALS`: integer comparison; a
//!   non-integer attribute value makes the clause false; the clause value must
//!   be an integer (checked when the filter is compiled).
//! - `Includes`: the text contains the value. `ENDS_WITH`: ends with it.
//! - `&` / `!&`: bitwise AND of the integer value and the clause's integer
//!   is non-zero / zero (AD `userAccountControl` style flags). Non-integers
//!   make the clause false.
//!
//! Multi-valued attributes cannot be used in a clause (compile error), as in
//! Entra.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use hrsync_expr::{Attributes, Value};
use regex::Regex;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::catalog::SourceSchema;

/// A scoping filter as config writes it: groups ORed, clauses ANDed.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScopingFilter {
    /// Groups (Entra "scoping filters"); any passing group admits the worker.
    #[serde(default)]
    pub groups: Vec<ScopeGroup>,
}

/// One group of clauses, all of which must pass.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScopeGroup {
    /// Title shown in on-demand output (Entra's "scoping filter title").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Clauses, ANDed.
    pub clauses: Vec<Clause>,
}

/// attribute + operator + values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Clause {
    /// Source attribute name.
    #[serde(alias = "sourceOperandName")]
    pub attribute: String,
    /// Operator.
    #[serde(alias = "operatorName")]
    pub operator: ScopeOperator,
    /// Values to compare with (none for the unary operators).
    #[serde(default)]
    pub values: Vec<String>,
}

/// Every scoping operator Entra documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScopeOperator {
    /// `EQUALS`
    Equals,
    /// `NOT EQUALS`
    NotEquals,
    /// `IS TRUE`
    IsTrue,
    /// `IS FALSE`
    IsFalse,
    /// `IS NULL`
    IsNull,
    /// `IS NOT NULL`
    IsNotNull,
    /// `REGEX MATCH`
    RegexMatch,
    /// `NOT REGEX MATCH`
    NotRegexMatch,
    /// `Greater_Than`
    GreaterThan,
    /// `Greater_Than_OR_EQUALS`
    GreaterThanOrEquals,
    /// `Includes`
    Includes,
    /// `&`
    BitAnd,
    /// `!&`
    NotBitAnd,
    /// `ENDS_WITH`
    EndsWith,
}

impl ScopeOperator {
    /// Every operator, for catalogues and tests.
    pub const ALL: [ScopeOperator; 14] = [
        Self::Equals,
        Self::NotEquals,
        Self::IsTrue,
        Self::IsFalse,
        Self::IsNull,
        Self::IsNotNull,
        Self::RegexMatch,
        Self::NotRegexMatch,
        Self::GreaterThan,
        Self::GreaterThanOrEquals,
        Self::Includes,
        Self::BitAnd,
        Self::NotBitAnd,
        Self::EndsWith,
    ];

    /// The name as Entra's portal spells it.
    pub fn entra_name(self) -> &'static str {
        match self {
            Self::Equals => "EQUALS",
            Self::NotEquals => "NOT EQUALS",
            Self::IsTrue => "IS TRUE",
            Self::IsFalse => "IS FALSE",
            Self::IsNull => "IS NULL",
            Self::IsNotNull => "IS NOT NULL",
            Self::RegexMatch => "REGEX MATCH",
            Self::NotRegexMatch => "NOT REGEX MATCH",
            Self::GreaterThan => "Greater_Than",
            Self::GreaterThanOrEquals => "Greater_Than_OR_EQUALS",
            Self::Includes => "Includes",
            Self::BitAnd => "&",
            Self::NotBitAnd => "!&",
            Self::EndsWith => "ENDS_WITH",
        }
    }

    fn is_unary(self) -> bool {
        matches!(self, Self::IsTrue | Self::IsFalse | Self::IsNull | Self::IsNotNull)
    }

    fn is_integer(self) -> bool {
        matches!(
            self,
            Self::GreaterThan | Self::GreaterThanOrEquals | Self::BitAnd | Self::NotBitAnd
        )
    }
}

impl fmt::Display for ScopeOperator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.entra_name())
    }
}

/// An operator name that is not one of Entra's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown scoping operator `{0}`")]
pub struct UnknownOperator(pub String);

impl FromStr for ScopeOperator {
    type Err = UnknownOperator;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let norm: String =
            s.trim().chars().map(|c| if c == ' ' { '_' } else { c.to_ascii_uppercase() }).collect();
        ScopeOperator::ALL
            .into_iter()
            .find(|op| op.entra_name().replace(' ', "_").to_ascii_uppercase() == norm)
            .ok_or_else(|| UnknownOperator(s.to_owned()))
    }
}

impl Serialize for ScopeOperator {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.entra_name())
    }
}

impl<'de> Deserialize<'de> for ScopeOperator {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = Cow::<str>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A scoping filter that cannot be compiled. Names group and clause (1-based).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("scoping filter group {group}, clause {clause} (`{attribute} {operator}`): {reason}")]
pub struct ScopeError {
    /// 1-based group number.
    pub group: usize,
    /// 1-based clause number (0 for a group-level problem).
    pub clause: usize,
    /// Attribute of the clause.
    pub attribute: String,
    /// Operator of the clause.
    pub operator: String,
    /// What is wrong.
    pub reason: String,
}

#[derive(Debug, Clone)]
enum Operand {
    None,
    Texts(Vec<String>),
    Regexes(Vec<Regex>),
    Integer(i64),
}

#[derive(Debug, Clone)]
struct CompiledClause {
    clause: Clause,
    operand: Operand,
}

/// A scoping filter with regexes compiled and operands validated.
#[derive(Debug, Clone, Default)]
pub struct CompiledScope {
    groups: Vec<(Option<String>, Vec<CompiledClause>)>,
}

impl ScopingFilter {
    /// Validate against the source schema (attribute known, not multi-valued;
    /// operand count and type; regex syntax) and compile.
    pub fn compile(&self, schema: &SourceSchema) -> Result<CompiledScope, ScopeError> {
        let mut groups = Vec::with_capacity(self.groups.len());
        for (gi, group) in self.groups.iter().enumerate() {
            if group.clauses.is_empty() {
                return Err(ScopeError {
                    group: gi + 1,
                    clause: 0,
                    attribute: String::new(),
                    operator: String::new(),
                    reason: "group has no clauses".into(),
                });
            }
            let mut clauses = Vec::with_capacity(group.clauses.len());
            for (ci, clause) in group.clauses.iter().enumerate() {
                let err = |reason: String| ScopeError {
                    group: gi + 1,
                    clause: ci + 1,
                    attribute: clause.attribute.clone(),
                    operator: clause.operator.to_string(),
                    reason,
                };
                match schema.get(&clause.attribute) {
                    None => return Err(err("unknown source attribute".into())),
                    Some(def) if def.multivalued => {
                        return Err(err("multi-valued attributes cannot be scoped on".into()));
                    }
                    Some(_) => {}
                }
                let op = clause.operator;
                let operand = if op.is_unary() {
                    if !clause.values.is_empty() {
                        return Err(err("this operator takes no value".into()));
                    }
                    Operand::None
                } else if clause.values.is_empty() {
                    return Err(err("a value is required".into()));
                } else if op.is_integer() {
                    let [v] = clause.values.as_slice() else {
                        return Err(err("exactly one integer value is required".into()));
                    };
                    Operand::Integer(
                        v.trim()
                            .parse()
                            .map_err(|_| err(format!("value `{v}` is not an integer")))?,
                    )
                } else if matches!(op, ScopeOperator::RegexMatch | ScopeOperator::NotRegexMatch) {
                    Operand::Regexes(
                        clause
                            .values
                            .iter()
                            .map(|v| Regex::new(v).map_err(|e| err(format!("bad regex: {e}"))))
                            .collect::<Result<_, _>>()?,
                    )
                } else {
                    Operand::Texts(clause.values.clone())
                };
                clauses.push(CompiledClause { clause: clause.clone(), operand });
            }
            groups.push((group.name.clone(), clauses));
        }
        Ok(CompiledScope { groups })
    }

    /// Every attribute the filter reads (for `$expand` derivation).
    pub fn attributes(&self) -> impl Iterator<Item = &str> {
        self.groups.iter().flat_map(|g| g.clauses.iter().map(|c| c.attribute.as_str()))
    }
}

/// The result of one clause, for on-demand/explain output.
#[derive(Debug, Clone, PartialEq)]
pub struct ClauseResult {
    /// The clause as configured.
    pub clause: Clause,
    /// The attribute's text as compared (`None` when null or empty).
    pub actual: Option<String>,
    /// Whether the clause passed.
    pub passed: bool,
}

/// The result of one group.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupResult {
    /// Group title.
    pub name: Option<String>,
    /// Whether every clause passed.
    pub passed: bool,
    /// Clauses evaluated, in order, up to and including the first failing
    /// one (later clauses cannot change the group's result).
    pub clauses: Vec<ClauseResult>,
}

/// Scoping decision with the reason.
#[derive(Debug, Clone, PartialEq)]
pub struct ScopeResult {
    /// Whether the worker is in scope.
    pub in_scope: bool,
    /// Groups evaluated, in order, up to and including the first passing one.
    /// Empty when the filter has no groups (everyone in scope).
    pub groups: Vec<GroupResult>,
}

impl ScopeResult {
    /// The clauses that decided: for an in-scope worker, every clause of the
    /// passing group; for an out-of-scope worker, the failing clause of each
    /// group.
    pub fn deciding_clauses(&self) -> Vec<&ClauseResult> {
        if self.in_scope {
            self.groups
                .iter()
                .find(|g| g.passed)
                .map(|g| g.clauses.iter().collect())
                .unwrap_or_default()
        } else {
            self.groups.iter().filter_map(|g| g.clauses.iter().find(|c| !c.passed)).collect()
        }
    }
}

/// For the provisioning log: which clauses decided, and the values they
/// saw (`in scope: group "Employees": emplStatus EQUALS [A] (was A)`, or
/// for a worker out of scope the failing clause of each group).
impl fmt::Display for ScopeResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.groups.is_empty() {
            return f.write_str("no scoping filter");
        }
        f.write_str(if self.in_scope { "in scope: " } else { "out of scope: " })?;
        let groups: Vec<&GroupResult> = if self.in_scope {
            self.groups.iter().filter(|g| g.passed).take(1).collect()
        } else {
            self.groups.iter().collect()
        };
        for (i, g) in groups.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            if let Some(name) = &g.name {
                write!(f, "group {name:?}: ")?;
            }
            let clauses: Vec<&ClauseResult> = if g.passed {
                g.clauses.iter().collect()
            } else {
                g.clauses.iter().filter(|c| !c.passed).collect()
            };
            for (j, c) in clauses.iter().enumerate() {
                if j > 0 {
                    f.write_str(" and ")?;
                }
                write!(f, "{} {}", c.clause.attribute, c.clause.operator)?;
                if !c.clause.values.is_empty() {
                    write!(f, " {:?}", c.clause.values)?;
                }
                match &c.actual {
                    Some(v) => write!(f, " (was {v:?})")?,
                    None => f.write_str(" (was empty)")?,
                }
                if !c.passed {
                    f.write_str(" failed")?;
                }
            }
        }
        Ok(())
    }
}

impl CompiledScope {
    /// Whether the filter has no groups (everyone in scope).
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// Fast path: in scope or not.
    pub fn is_in_scope(&self, attrs: &dyn Attributes) -> bool {
        self.groups.is_empty()
            || self.groups.iter().any(|(_, clauses)| {
                clauses.iter().all(|c| c.test(attrs.get(&c.clause.attribute)).1)
            })
    }

    /// Evaluate with the per-clause trace.
    pub fn evaluate(&self, attrs: &dyn Attributes) -> ScopeResult {
        if self.groups.is_empty() {
            return ScopeResult { in_scope: true, groups: Vec::new() };
        }
        let mut groups = Vec::new();
        for (name, clauses) in &self.groups {
            let mut results = Vec::new();
            let mut passed = true;
            for c in clauses {
                let (actual, ok) = c.test(attrs.get(&c.clause.attribute));
                results.push(ClauseResult { clause: c.clause.clone(), actual, passed: ok });
                if !ok {
                    passed = false;
                    break;
                }
            }
            groups.push(GroupResult { name: name.clone(), passed, clauses: results });
            if passed {
                return ScopeResult { in_scope: true, groups };
            }
        }
        ScopeResult { in_scope: false, groups }
    }
}

impl CompiledClause {
    /// Returns the compared text and whether the clause passed.
    fn test(&self, value: Option<&Value>) -> (Option<String>, bool) {
        let text = value.filter(|v| !v.is_null_or_empty()).and_then(|v| v.as_str_lossy());
        let Some(text) = text else {
            return (None, self.clause.operator == ScopeOperator::IsNull);
        };
        let t: &str = &text;
        let any_text = |f: &dyn Fn(&str) -> bool| match &self.operand {
            Operand::Texts(vs) => vs.iter().any(|v| f(v)),
            _ => false,
        };
        let int = || t.trim().parse::<i64>().ok();
        let passed = match (self.clause.operator, &self.operand) {
            (ScopeOperator::Equals, _) => any_text(&|v| t == v),
            (ScopeOperator::NotEquals, _) => !any_text(&|v| t == v),
            (ScopeOperator::IsTrue, _) => {
                matches!(value, Some(Value::Bool(true))) || t.eq_ignore_ascii_case("true")
            }
            (ScopeOperator::IsFalse, _) => {
                matches!(value, Some(Value::Bool(false))) || t.eq_ignore_ascii_case("false")
            }
            (ScopeOperator::IsNull, _) => false,
            (ScopeOperator::IsNotNull, _) => true,
            (ScopeOperator::RegexMatch, Operand::Regexes(rs)) => rs.iter().any(|r| r.is_match(t)),
            (ScopeOperator::NotRegexMatch, Operand::Regexes(rs)) => {
                !rs.iter().any(|r| r.is_match(t))
            }
            (ScopeOperator::GreaterThan, Operand::Integer(n)) => int().is_some_and(|v| v > *n),
            (ScopeOperator::GreaterThanOrEquals, Operand::Integer(n)) => {
                int().is_some_and(|v| v >= *n)
            }
            (ScopeOperator::BitAnd, Operand::Integer(n)) => int().is_some_and(|v| v & n != 0),
            (ScopeOperator::NotBitAnd, Operand::Integer(n)) => int().is_some_and(|v| v & n == 0),
            (ScopeOperator::Includes, _) => any_text(&|v| t.contains(v)),
            (ScopeOperator::EndsWith, _) => any_text(&|v| t.ends_with(v)),
            // compile() pairs every operator with its operand kind.
            _ => false,
        };
        (Some(t.to_owned()), passed)
    }
}
