//! Per-function null, edge and error cases (a table per behaviour), static
//! checks, traces and parse-error carets.

use std::collections::HashMap;

use hrsync_expr::{
    EvalContext, FixedClock, Outcome, SplitMix64, Uniqueness, Value, check, eval, eval_traced,
    parse,
};
use serde_json::{Value as Json, json};

fn attrs() -> HashMap<String, Value> {
    let j = json!({
        "s": "Hello World", "empty": "", "n": 42, "f": 1.5, "b": true, "dt": "2021-08-24T10:30:00Z",
        "multi": ["a", "b", "a", ""], "upper": "ÉCOLE", "ws": "  a b  ", "Mixed": "case"
    });
    j.as_object().unwrap().iter().map(|(k, v)| (k.clone(), Value::from_json(v))).collect()
}

fn run_with(src: &str, uniq: Option<&dyn Uniqueness>) -> Result<Outcome, String> {
    let clock = FixedClock("2026-03-05T14:07:09Z".parse().unwrap());
    let mut rng = SplitMix64(42);
    let mut ctx = EvalContext::new(&clock, &mut rng, uniq).with_default_domain("contoso.com");
    let expr = parse(src).map_err(|e| format!("parse: {e}"))?;
    eval(&expr, &attrs(), &mut ctx).map_err(|e| e.message)
}

fn run(src: &str) -> Result<Json, String> {
    match run_with(src, None)? {
        Outcome::Value(v) => Ok(v.to_json()),
        Outcome::IgnoreFlow => Ok(json!("<ignore>")),
    }
}

#[test]
fn values_and_nulls() {
    let cases: &[(&str, Json)] = &[
        // Append
        (r#"Append([missing], "x")"#, json!("x")),
        (r#"Append("x", [missing])"#, json!("x")),
        (r#"Append([missing], [missing2])"#, json!(null)),
        (r#"Append([n], "!")"#, json!("42!")),
        // BitAnd / CBool
        ("BitAnd(12, 10)", json!(8)),
        (r#"BitAnd([missing], 1)"#, json!(null)),
        (r#"BitAnd("6", "3")"#, json!(2)),
        ("CBool([missing])", json!(false)),
        (r#"CBool("TRUE")"#, json!(true)),
        (r#"CBool("0")"#, json!(false)),
        ("CBool([n])", json!(true)),
        (r#"CBool([s]="Hello World")"#, json!(true)),
        // CDate / dates
        ("CDate([missing])", json!(null)),
        ("CDate([dt])", json!("8/24/2021 10:30:00 AM")),
        (r#"CDate("3/16/2020 7:00:00 AM")"#, json!("3/16/2020 7:00:00 AM")),
        (r#"CDate("/Date(1577836800000)/")"#, json!("1/1/2020 12:00:00 AM")),
        (r#"DateAdd("yyyy", -1, [dt])"#, json!("8/24/2020 10:30:00 AM")),
        (r#"DateAdd("h", 14, [dt])"#, json!("8/25/2021 12:30:00 AM")),
        (r#"DateAdd("ww", 1, [dt])"#, json!("8/31/2021 10:30:00 AM")),
        (r#"DateAdd("d", 1, [missing])"#, json!(null)),
        (r#"DateDiff("m", "2021-01-31", "2021-02-01")"#, json!(1)),
        (r#"DateDiff("yyyy", "2021-12-31", "2022-01-01")"#, json!(1)),
        (r#"DateDiff("d", "2021-08-24T23:00:00Z", "2021-08-25T01:00:00Z")"#, json!(0)),
        // 2021-08-28 is a Saturday, 08-29 a Sunday: one Sunday boundary.
        (r#"DateDiff("ww", "2021-08-28", "2021-08-29")"#, json!(1)),
        (r#"DateDiff("ww", "2021-08-29", "2021-09-04")"#, json!(0)),
        (r#"DateDiff("d", "2021-08-31", "2021-08-18")"#, json!(-13)),
        (r#"DateDiff("d", [missing], "2021-08-18")"#, json!(null)),
        ("DateFromNum([missing])", json!(null)),
        ("DateFromNum(0)", json!("1/1/1601 12:00:00 AM")),
        ("NumFromDate([missing])", json!(null)),
        ("NumFromDate(DateFromNum(129699324000000000))", json!(129699324000000000i64)),
        (r#"FormatDateTime([dt], , "yyyy-MM-ddTHH:mm:ssZ", "yyyyMMdd")"#, json!("20210824")),
        (
            r#"FormatDateTime("20150123105347.1Z", "yyyyMMddHHmmss.fZ", "dddd, MMMM d yyyy h:mm tt")"#,
            json!("Friday, January 23 2015 10:53 AM"),
        ),
        (
            r#"FormatDateTime("2015-01-23T10:53:47.1234567+02:00", , "o", "o")"#,
            json!("2015-01-23T08:53:47.1234567Z"),
        ),
        (
            r#"FormatDateTime("23/01/2015", , "dd/MM/yyyy", "'Day' d 'of' MMM\, yy")"#,
            json!("Day 23 of Jan, 15"),
        ),
        (
            r#"FormatDateTime("2015-01-23 8:05:03 PM", , "yyyy-MM-dd h:mm:ss tt", "HH:mm:ss zzz K")"#,
            json!("20:05:03 +00:00 Z"),
        ),
        (r#"FormatDateTime([missing], , "yyyy", "yyyy")"#, json!(null)),
        (r#"FormatDateTime(Now(), , "", "s")"#, json!("2026-03-05T14:07:09")),
        ("Now()", json!("3/5/2026 2:07:09 PM")),
        // Coalesce
        (r#"Coalesce([missing], [empty], "d")"#, json!("")),
        (r#"Coalesce([missing], [missing2])"#, json!(null)),
        (r#"Coalesce([missing], [missing2], "default")"#, json!("default")),
        // Conversions
        ("ConvertToBase64([missing])", json!(null)),
        (r#"ConvertToBase64("é")"#, json!("6QA=")),
        (r#"ConvertToUTF8Hex("é")"#, json!("C3A9")),
        ("Count([multi])", json!(4)),
        ("Count([missing])", json!(0)),
        ("Count([s])", json!(1)),
        ("CStr([missing])", json!(null)),
        ("CStr([n])", json!("42")),
        ("CStr([b])", json!("True")),
        ("CStr([f])", json!("1.5")),
        // DefaultDomain / Guid shape
        ("DefaultDomain()", json!("contoso.com")),
        // IgnoreFlow
        ("IgnoreFlowIfNullOrEmpty([missing])", json!("<ignore>")),
        ("IgnoreFlowIfNullOrEmpty([empty])", json!("<ignore>")),
        (r#"Append("x", IgnoreFlowIfNullOrEmpty([missing]))"#, json!("<ignore>")),
        ("IgnoreFlowIfNullOrEmpty([s])", json!("Hello World")),
        // IIF and comparisons
        (r#"IIF([missing]="", "t", "f")"#, json!("f")),
        (r#"IIF([missing]<>"x", "t", "f")"#, json!("f")),
        (r#"IIF(IsPresent([s]), "t", "f")"#, json!("t")),
        (r#"IIF([n] > 5, "t", "f")"#, json!("t")),
        (r#"IIF([n] >= "100", "t", "f")"#, json!("f")),
        (r#"IIF([s] = "hello world", "t", "f")"#, json!("f")),
        (r#"IIF([b] = "true", "t", "f")"#, json!("t")),
        (r#"IIF("1", "t", "f")"#, json!("t")),
        (r#"IIF([s], "t", "f")"#, json!("f")),
        (r#"IIF(CDate([dt]) < CDate("2022-01-01"), "t", "f")"#, json!("t")),
        // IIF is lazy: the error in the untaken branch never happens.
        (r#"IIF("True", "ok", Mid("x", 0, 1))"#, json!("ok")),
        // InStr
        (r#"InStr([s], "World")"#, json!(7)),
        (r#"InStr([s], "world")"#, json!(0)),
        (r#"InStr([s], "world", 1, vbTextCompare)"#, json!(7)),
        (r#"InStr([s], "o", 6)"#, json!(8)),
        (r#"InStr([s], "o", 100)"#, json!(0)),
        (r#"InStr([missing], "o")"#, json!(null)),
        // Is*
        ("IsNull([missing])", json!(true)),
        ("IsNull([empty])", json!(false)),
        ("IsNullOrEmpty([empty])", json!(true)),
        ("IsNullOrEmpty([s])", json!(false)),
        ("IsPresent([missing])", json!(false)),
        ("IsPresent([n])", json!(true)),
        ("IsString([s])", json!(true)),
        ("IsString([n])", json!(false)),
        ("IsString([missing])", json!(false)),
        // Item
        ("Item([multi], 2)", json!("b")),
        ("Item([multi], 0)", json!(null)),
        ("Item([multi], 9)", json!(null)),
        ("Item([s], 1)", json!("Hello World")),
        ("Item([missing], 1)", json!(null)),
        // Join
        (r#"Join(",", [multi], [missing], "z")"#, json!("a,b,a,z")),
        (r#"Join(",", [missing], [missing2])"#, json!(null)),
        (r#"Join(",", [empty])"#, json!("")),
        (r#"Join([missing], "a", "b")"#, json!("ab")),
        (r#"Join("-", 1, [b])"#, json!("1-True")),
        // Left / Mid / Len / Word
        ("Left([s], 0)", json!("")),
        ("Left([s], -1)", json!("Hello World")),
        ("Left([s], 100)", json!("Hello World")),
        ("Left([missing], 3)", json!("")),
        ("Left([upper], 2)", json!("ÉC")),
        ("Len([missing])", json!(0)),
        ("Len([empty])", json!(0)),
        ("Len([upper])", json!(5)),
        ("Mid([s], 7, 100)", json!("World")),
        (r#"Mid([s], "1", "1")"#, json!("H")),
        ("Mid([s], 50, 2)", json!("")),
        ("Mid([missing], 1, 2)", json!("")),
        (r#"Word("a,,b;c", 2, ",;")"#, json!("b")),
        (r#"Word("a b", 0, " ")"#, json!("")),
        (r#"Word("a b", 3, " ")"#, json!("")),
        (r#"Word([missing], 1, " ")"#, json!("")),
        // Normalize / case / PCase / StripSpaces
        (
            r#"NormalizeDiacritics("Ærøskøbing Łódź Straße İıčćđ àáâãäåāąă")"#,
            json!("AEroeskoebing Lodz Strasse Iiccd aaaaaaaaa"),
        ),
        ("NormalizeDiacritics([missing])", json!(null)),
        (r#"NormalizeDiacritics("a̱ ā")"#, json!("a a")),
        ("ToLower([upper])", json!("école")),
        (r#"ToUpper("straße")"#, json!("STRAßE")),
        (r#"ToUpper("istanbul", "tr-TR")"#, json!("İSTANBUL")),
        (r#"ToLower("ISTANBUL", "tr-TR")"#, json!("ıstanbul")),
        (r#"ToUpper("istanbul", "en-US")"#, json!("ISTANBUL")),
        ("ToLower([missing])", json!(null)),
        ("ToUpper([multi])", json!(["A", "B", "A", ""])),
        ("PCase([missing])", json!(null)),
        (r#"PCase("mary-jane o'neil")"#, json!("Mary-Jane O'Neil")),
        (r#"PCase("mary-jane o'neil", " ")"#, json!("Mary-jane O'neil")),
        ("StripSpaces([ws])", json!("ab")),
        ("StripSpaces([missing])", json!(null)),
        // Not
        (r#"Not("True")"#, json!(false)),
        (r#"Not("False")"#, json!(true)),
        (r#"Not("anything")"#, json!(true)),
        ("Not([missing])", json!(true)),
        ("Not(IsPresent([s]))", json!(false)),
        // Redact / RemoveDuplicates
        ("Redact([s])", json!("Hello World")),
        ("RemoveDuplicates([multi])", json!(["a", "b", ""])),
        ("RemoveDuplicates([s])", json!("Hello World")),
        // Replace
        (r#"Replace([missing], "a", , , "b", , )"#, json!(null)),
        (r#"Replace([s], "o", , , "0", , )"#, json!("Hell0 W0rld")),
        (r#"Replace([s], "o", , , , , )"#, json!("Hell Wrld")),
        (r#"Replace([s], "O", , , "0", , )"#, json!("Hello World")),
        (r#"Replace([s], "l", "L")"#, json!("HeLLo WorLd")),
        (
            r#"Replace([s], , "(?<first>\\w+) (?<second>\\w+)", , "${second} $1 $$ $&", , )"#,
            json!("World Hello $ Hello World"),
        ),
        (
            r#"Replace([s], , "(?<first>\\w+) (?<second>\\w+)", "second", "Earth", , )"#,
            json!("Hello Earth"),
        ),
        (r#"Replace([s], , "(?<user>\\w+)@", "user", , [other], )"#, json!("Hello World")),
        (
            r#"Replace([missing], , "(?<user>\\w+)@", "user", , "jdoe@contoso.com", )"#,
            json!("jdoe"),
        ),
        (r#"Replace([missing], , "(?<user>\\w+)@", "user", , "nomatch", )"#, json!(null)),
        (r#"Replace([multi], , "a", , "x", , )"#, json!(["x", "b", "x", ""])),
        (r#"Replace("a<b>c", , "[\\<\\>]", , "", , )"#, json!("abc")),
        // SelectUniqueValue without a target
        (r#"SelectUniqueValue([missing], [empty], "x", "y")"#, json!("x")),
        // Split
        (r#"Split("a,b,,c", ",")"#, json!(["a", "b", "", "c"])),
        (r#"Split([missing], ",")"#, json!(null)),
        (r#"Split("abc", "")"#, json!(["abc"])),
        // Switch
        (r#"Switch([missing], "default", "", "empty")"#, json!("default")),
        (r#"Switch([missing], , "", "empty")"#, json!(null)),
        (r#"Switch([n], "d", "42", "answer")"#, json!("answer")),
        (r#"Switch([s], "d", "hello world", "lower")"#, json!("d")),
        // Case-insensitive names and attributes
        (r#"toupper(mid([mixed], 1, 2))"#, json!("CA")),
        // App role assignments
        ("SingleAppRoleAssignment([multi])", json!("a")),
        ("AppRoleAssignmentsComplex([s])", json!(["Hello World"])),
        ("AppRoleAssignmentsComplex([missing])", json!(null)),
    ];
    let mut failures = Vec::new();
    for (src, want) in cases {
        match run(src) {
            Ok(got) if &got == want => {}
            other => failures.push(format!("{src}\n   want {want}\n   got  {other:?}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn evaluation_errors_name_function_argument_and_cause() {
    let cases: &[(&str, &str)] = &[
        (r#"Mid([s], "x", 2)"#, "Mid argument 2 (start): \"x\" is not a whole number"),
        ("Mid([s], 0, 2)", "Mid argument 2 (start): start must be at least 1, got 0"),
        ("Mid([s], 1, -2)", "Mid argument 3 (length): length must not be negative"),
        ("Left([s], [missing])", "Left argument 2 (numChars): a number is required"),
        (r#"CBool("maybe")"#, "CBool argument 1 (expression): \"maybe\" is not a boolean"),
        (
            r#"CDate("yesterday")"#,
            "CDate argument 1 (expression): cannot convert 'yesterday' to a date",
        ),
        (r#"CDate("2021-02-30")"#, "day 30 out of range"),
        (r#"DateAdd("x", 1, "2021-01-01")"#, "DateAdd argument 1 (interval): unknown interval 'x'"),
        (r#"DateDiff("q2", "2021-01-01", "2021-01-01")"#, "unknown interval 'q2'"),
        ("DateFromNum(9223372036854775807)", "outside the supported date range"),
        (r#"FormatDateTime("2015", , "yyyyMMdd", "yyyy")"#, "does not match format 'yyyyMMdd'"),
        (r#"FormatDateTime("2015", , "yyyy", "'unterminated")"#, "unterminated quoted literal"),
        (r#"Replace([s], , "(?=x)", , "", , )"#, "not supported (lookahead)"),
        (r#"Replace([s], , "(a)\\1", , "", , )"#, "not supported (backreference)"),
        (r#"Replace([s], , "(", , "", , )"#, "invalid regex '('"),
        (
            r#"Replace([s], , "(?<a>x)", "b", "", , )"#,
            "Replace argument 4 (regexGroupName): the pattern has no group named 'b'",
        ),
        (r#"Replace([s], , , , "", , )"#, "needs either oldValue"),
        (r#"Replace([s], "", , , "x", , )"#, "oldValue must not be empty"),
        (r#"ToUpper("a", "not a culture!")"#, "not an RFC 4646 culture name"),
        (r#"InStr("abc", "b", 0)"#, "InStr argument 3 (start): start must be at least 1"),
        (r#"InStr("abc", "b", 1, 7)"#, "compare type must be 0"),
        ("RandomString(300, 0, 0, 0, 0)", "length must be at most 256"),
        ("RandomString(3, 2, 2, 0, 0)", "add up to more than the length 3"),
        (
            "RandomString(3, 9223372036854775807, 9223372036854775807, 0, 0)",
            "add up to more than the length 3",
        ),
        (r#"RandomString(3, 1, 0, 0, 0, "0123456789")"#, "every character of this class"),
        ("Nope([s])", "unknown function 'Nope'"),
        ("Mid([s], 1)", "Mid: expects 3 arguments, got 2"),
        (r#"Switch([s], "d", "k")"#, "key/value pairs"),
        ("Left([s], someName)", "unknown identifier 'someName'"),
    ];
    let mut failures = Vec::new();
    for (src, want) in cases {
        match run(src) {
            Err(msg) if msg.contains(want) => {}
            other => failures
                .push(format!("{src}\n   want error containing {want:?}\n   got  {other:?}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn error_span_points_at_the_argument() {
    let src = r#"Append("a", Mid([s], "x", 2))"#;
    let expr = parse(src).unwrap();
    let clock = FixedClock(jiff::Timestamp::UNIX_EPOCH);
    let mut rng = SplitMix64(1);
    let mut ctx = EvalContext::new(&clock, &mut rng, None);
    let err = eval(&expr, &attrs(), &mut ctx).unwrap_err();
    assert_eq!(err.function, "Mid");
    assert_eq!(&src[err.span.clone()], "\"x\"");
    let rendered = err.render(src);
    assert!(
        rendered.ends_with("\n  Append(\"a\", Mid([s], \"x\", 2))\n                       ^^^"),
        "{rendered}"
    );
}

struct Taken(&'static [&'static str]);
impl Uniqueness for Taken {
    fn is_taken(&self, c: &str) -> Result<bool, String> {
        Ok(self.0.contains(&c))
    }
}
struct Broken;
impl Uniqueness for Broken {
    fn is_taken(&self, _: &str) -> Result<bool, String> {
        Err("LDAP server down".into())
    }
}

#[test]
fn select_unique_value_asks_the_target() {
    let src = r#"SelectUniqueValue("a", [missing], "b", "c")"#;
    assert_eq!(run_with(src, Some(&Taken(&["a"]))), Ok(Outcome::Value(Value::from("b"))));
    assert_eq!(run_with(src, Some(&Taken(&["a", "b"]))), Ok(Outcome::Value(Value::from("c"))));
    let all = run_with(src, Some(&Taken(&["a", "b", "c"]))).unwrap_err();
    assert!(all.contains("already taken"), "{all}");
    let broken = run_with(src, Some(&Broken)).unwrap_err();
    assert!(broken.contains("uniqueness check for \"a\" failed: LDAP server down"), "{broken}");
    // Nothing to ask about is not "taken": the worker's data is at fault.
    let empty = run_with(r#"SelectUniqueValue("", [missing])"#, Some(&Taken(&[]))).unwrap_err();
    assert!(empty.contains("every candidate value is empty"), "{empty}");
}

#[test]
fn random_functions_use_the_injected_source() {
    let guid = run("Guid()").unwrap();
    let g = guid.as_str().unwrap();
    assert_eq!(g.len(), 36);
    assert_eq!(g.as_bytes()[14], b'4', "version nibble: {g}");
    assert!(matches!(g.as_bytes()[19], b'8' | b'9' | b'a' | b'b'), "variant: {g}");
    // Same seed, same value: the source really is the injected one.
    assert_eq!(run("Guid()").unwrap(), guid);

    let s = run(r#"RandomString(20, 3, 2, 4, 5, "aeiou")"#).unwrap();
    let s = s.as_str().unwrap();
    assert_eq!(s.chars().count(), 20);
    assert!(s.chars().filter(char::is_ascii_digit).count() >= 3, "{s}");
    assert!(s.chars().filter(char::is_ascii_uppercase).count() >= 4, "{s}");
    assert!(s.chars().filter(char::is_ascii_lowercase).count() >= 5, "{s}");
    assert!(s.chars().filter(|c| !c.is_ascii_alphanumeric()).count() >= 2, "{s}");
    assert!(!s.contains(['a', 'e', 'i', 'o', 'u']), "{s}");
    assert_eq!(run("RandomString(0, 0, 0, 0, 0)").unwrap(), json!(""));
}

#[test]
fn default_domain_without_configuration_is_an_error() {
    let clock = FixedClock(jiff::Timestamp::UNIX_EPOCH);
    let mut rng = SplitMix64(1);
    let mut ctx = EvalContext::new(&clock, &mut rng, None);
    let err = eval(&parse("DefaultDomain()").unwrap(), &attrs(), &mut ctx).unwrap_err();
    assert!(err.message.contains("no default domain"), "{}", err.message);
}

#[test]
fn static_checks() {
    let known = |a: &str| ["s", "n"].contains(&a);
    let cases: &[(&str, &[(&str, &str)])] = &[
        (r#"Join(",", [s], [n])"#, &[]),
        ("Frobnicate([s])", &[("Frobnicate", "unknown function 'Frobnicate'")]),
        ("Mid([s], 1)", &[("Mid([s], 1)", "Mid expects 3 arguments, got 2")]),
        ("Now(1)", &[("Now(1)", "Now expects 0 arguments, got 1")]),
        ("Join()", &[("Join()", "Join expects at least 1 arguments, got 0")]),
        ("Append([s], [nope])", &[("[nope]", "unknown attribute [nope]")]),
        (r#"Switch([s], "d", "k")"#, &[(r#"Switch([s], "d", "k")"#, "key/value pairs")]),
        (
            r#"Replace([s], , "(?<=a)b", , "", , )"#,
            &[(r#""(?<=a)b""#, "not supported (lookbehind)")],
        ),
        (
            "InStr([s], [n], 1, vbTextComparez)",
            &[("vbTextComparez", "unknown identifier 'vbTextComparez'")],
        ),
        (
            "Nope([x], Mid([y]))",
            &[
                ("Nope", "unknown function"),
                ("[x]", "unknown attribute [x]"),
                ("Mid([y])", "Mid expects 3"),
                ("[y]", "unknown attribute [y]"),
            ],
        ),
    ];
    for (src, want) in cases {
        let expr = parse(src).unwrap();
        let got: Vec<(&str, String)> =
            check(&expr, &known).into_iter().map(|e| (&src[e.span], e.message)).collect();
        assert_eq!(got.len(), want.len(), "{src}: {got:?}");
        for ((gs, gm), (ws, wm)) in got.iter().zip(want.iter()) {
            assert_eq!(gs, ws, "{src}: span");
            assert!(gm.contains(wm), "{src}: {gm:?} lacks {wm:?}");
        }
    }
}

#[test]
fn attribute_refs_in_source_order_once() {
    let e = parse(r#"Join(".", [b], IIF([a]="x", [b], [c]), [a])"#).unwrap();
    assert_eq!(e.attribute_refs(), vec!["b", "a", "c"]);
    assert_eq!(e.source(), r#"Join(".", [b], IIF([a]="x", [b], [c]), [a])"#);
}

#[test]
fn trace_shows_evaluated_subexpressions_and_redacts() {
    let src = r#"IIF(IsPresent([s]), Append(Redact([s]), "!"), [n])"#;
    let expr = parse(src).unwrap();
    let clock = FixedClock(jiff::Timestamp::UNIX_EPOCH);
    let mut rng = SplitMix64(1);
    let mut ctx = EvalContext::new(&clock, &mut rng, None);
    let (out, trace) = eval_traced(&expr, &attrs(), &mut ctx);
    assert_eq!(out, Ok(Outcome::Value(Value::from("Hello World!"))));
    let text = trace.to_string();
    let want = "\
IIF(IsPresent([s]), Append(Redact([s]), \"!\"), [n]) => \"Hello World!\"
  IsPresent([s]) => true
    [s] => \"Hello World\"
  Append(Redact([s]), \"!\") => \"Hello World!\"
    Redact([s]) => \"[Redact]\"
      [s] => \"[Redact]\"
    \"!\" => \"!\"
";
    assert_eq!(text, want);
    // The untaken branch ([n]) is absent.
    assert!(!text.contains("[n] =>"));
}

#[test]
fn trace_records_errors() {
    let expr = parse(r#"Append("a", Mid("b", 0, 1))"#).unwrap();
    let clock = FixedClock(jiff::Timestamp::UNIX_EPOCH);
    let mut rng = SplitMix64(1);
    let mut ctx = EvalContext::new(&clock, &mut rng, None);
    let (out, trace) = eval_traced(&expr, &attrs(), &mut ctx);
    assert!(out.is_err());
    assert!(
        trace.to_string().contains("  Mid(\"b\", 0, 1) => error: Mid argument 2 (start)"),
        "{trace}"
    );
}
