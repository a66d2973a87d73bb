//! The function catalogue: names (matched case-insensitively) and arities.

/// Every function the language knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Func {
    Append,
    AppRoleAssignmentsComplex,
    AssertiveAppRoleAssignmentsComplex,
    BitAnd,
    CBool,
    CDate,
    Coalesce,
    ConvertToBase64,
    ConvertToUtf8Hex,
    Count,
    CStr,
    DateAdd,
    DateDiff,
    DateFromNum,
    DefaultDomain,
    FormatDateTime,
    Guid,
    IgnoreFlowIfNullOrEmpty,
    Iif,
    InStr,
    IsNull,
    IsNullOrEmpty,
    IsPresent,
    IsString,
    Item,
    Join,
    Left,
    Len,
    Mid,
    NormalizeDiacritics,
    Not,
    Now,
    NumFromDate,
    PCase,
    RandomString,
    Redact,
    RemoveDuplicates,
    Replace,
    SelectUniqueValue,
    SingleAppRoleAssignment,
    Split,
    StripSpaces,
    Switch,
    ToLower,
    ToUpper,
    Word,
}

/// Unbounded upper arity.
const MANY: usize = usize::MAX;

/// (canonical name, function, min args, max args, parameter names)
const TABLE: &[(&str, Func, usize, usize, &[&str])] = &[
    ("Append", Func::Append, 2, 2, &["source", "suffix"]),
    ("AppRoleAssignmentsComplex", Func::AppRoleAssignmentsComplex, 1, 1, &["appRoleAssignments"]),
    (
        "AssertiveAppRoleAssignmentsComplex",
        Func::AssertiveAppRoleAssignmentsComplex,
        1,
        1,
        &["appRoleAssignments"],
    ),
    ("BitAnd", Func::BitAnd, 2, 2, &["value1", "value2"]),
    ("CBool", Func::CBool, 1, 1, &["expression"]),
    ("CDate", Func::CDate, 1, 1, &["expression"]),
    ("Coalesce", Func::Coalesce, 1, MANY, &["source"]),
    ("ConvertToBase64", Func::ConvertToBase64, 1, 1, &["source"]),
    ("ConvertToUTF8Hex", Func::ConvertToUtf8Hex, 1, 1, &["source"]),
    ("Count", Func::Count, 1, 1, &["attribute"]),
    ("CStr", Func::CStr, 1, 1, &["value"]),
    ("DateAdd", Func::DateAdd, 3, 3, &["interval", "value", "dateTime"]),
    ("DateDiff", Func::DateDiff, 3, 3, &["interval", "date1", "date2"]),
    ("DateFromNum", Func::DateFromNum, 1, 1, &["value"]),
    ("DefaultDomain", Func::DefaultDomain, 0, 0, &[]),
    (
        "FormatDateTime",
        Func::FormatDateTime,
        3,
        4,
        &["source", "dateTimeStyles", "inputFormat", "outputFormat"],
    ),
    ("Guid", Func::Guid, 0, 0, &[]),
    ("IgnoreFlowIfNullOrEmpty", Func::IgnoreFlowIfNullOrEmpty, 1, 1, &["expression"]),
    ("IIF", Func::Iif, 3, 3, &["condition", "valueIfTrue", "valueIfFalse"]),
    ("InStr", Func::InStr, 2, 4, &["value1", "value2", "start", "compareType"]),
    ("IsNull", Func::IsNull, 1, 1, &["expression"]),
    ("IsNullOrEmpty", Func::IsNullOrEmpty, 1, 1, &["expression"]),
    ("IsPresent", Func::IsPresent, 1, 1, &["expression"]),
    ("IsString", Func::IsString, 1, 1, &["expression"]),
    ("Item", Func::Item, 2, 2, &["attribute", "index"]),
    ("Join", Func::Join, 1, MANY, &["separator", "source"]),
    ("Left", Func::Left, 2, 2, &["string", "numChars"]),
    ("Len", Func::Len, 1, 1, &["source"]),
    ("Mid", Func::Mid, 3, 3, &["source", "start", "length"]),
    ("NormalizeDiacritics", Func::NormalizeDiacritics, 1, 1, &["source"]),
    ("Not", Func::Not, 1, 1, &["source"]),
    ("Now", Func::Now, 0, 0, &[]),
    ("NumFromDate", Func::NumFromDate, 1, 1, &["value"]),
    ("PCase", Func::PCase, 1, 2, &["source", "wordSeparators"]),
    (
        "RandomString",
        Func::RandomString,
        5,
        6,
        &[
            "length",
            "minimumNumbers",
            "minimumSpecialCharacters",
            "minimumCapital",
            "minimumLowerCase",
            "charactersToAvoid",
        ],
    ),
    ("Redact", Func::Redact, 1, 1, &["source"]),
    ("RemoveDuplicates", Func::RemoveDuplicates, 1, 1, &["attribute"]),
    (
        "Replace",
        Func::Replace,
        3,
        7,
        &[
            "source",
            "oldValue",
            "regexPattern",
            "regexGroupName",
            "replacementValue",
            "replacementAttributeName",
            "template",
        ],
    ),
    ("SelectUniqueValue", Func::SelectUniqueValue, 2, MANY, &["uniqueValueRule"]),
    ("SingleAppRoleAssignment", Func::SingleAppRoleAssignment, 1, 1, &["appRoleAssignments"]),
    ("Split", Func::Split, 2, 2, &["source", "delimiter"]),
    ("StripSpaces", Func::StripSpaces, 1, 1, &["source"]),
    ("Switch", Func::Switch, 2, MANY, &["source", "defaultValue", "key", "value"]),
    ("ToLower", Func::ToLower, 1, 2, &["source", "culture"]),
    ("ToUpper", Func::ToUpper, 1, 2, &["source", "culture"]),
    ("Word", Func::Word, 3, 3, &["string", "wordNumber", "delimiters"]),
];

fn entry(f: Func) -> &'static (&'static str, Func, usize, usize, &'static [&'static str]) {
    // Every variant has a row; fall back to the first row rather than panic.
    TABLE.iter().find(|e| e.1 == f).unwrap_or(&TABLE[0])
}

impl Func {
    /// Resolve a function name, any case.
    pub(crate) fn lookup(name: &str) -> Option<Func> {
        TABLE.iter().find(|e| e.0.eq_ignore_ascii_case(name)).map(|e| e.1)
    }

    /// The documented spelling.
    pub(crate) fn name(self) -> &'static str {
        entry(self).0
    }

    /// (min, max) argument count; max is `usize::MAX` for variadic functions.
    pub(crate) fn arity(self) -> (usize, usize) {
        let e = entry(self);
        (e.2, e.3)
    }

    /// Name of the parameter at `index` (variadic tails repeat the last name).
    pub(crate) fn param(self, index: usize) -> &'static str {
        let names = entry(self).4;
        match self {
            Func::Switch if index >= 2 => {
                if index.is_multiple_of(2) {
                    "key"
                } else {
                    "value"
                }
            }
            _ => names.get(index).or(names.last()).copied().unwrap_or("argument"),
        }
    }

    /// Index of the argument holding a regex pattern, for parse-time compilation.
    pub(crate) fn regex_arg(self, argc: usize) -> Option<usize> {
        match self {
            Func::Replace if argc > 3 => Some(2),
            _ => None,
        }
    }
}

/// Every documented function name (for docs and tests).
pub fn function_names() -> impl Iterator<Item = &'static str> {
    TABLE.iter().map(|e| e.0)
}

/// Argument count range of a function (any case): `(min, Some(max))`, or
/// `(min, None)` for variadic functions; `None` for an unknown name.
pub fn function_arity(name: &str) -> Option<(usize, Option<usize>)> {
    Func::lookup(name).map(|f| {
        let (min, max) = f.arity();
        (min, (max != usize::MAX).then_some(max))
    })
}
