//! Wire formatting and literal parsing.

use sf_odata::value::*;

#[test]
fn wire_dates_format_and_parse() {
    assert_eq!(format_wire_datetime(1_672_531_200_000), "/Date(1672531200000)/");
    assert_eq!(format_wire_datetime(-123_456_000_000), "/Date(-123456000000)/");
    assert_eq!(format_wire_datetime(OPEN_END_MS), "/Date(253402214400000)/");
    assert_eq!(format_wire_datetimeoffset(1_587_072_082_000, 0), "/Date(1587072082000+0000)/");
    assert_eq!(format_wire_datetimeoffset(1_587_072_082_000, 330), "/Date(1587072082000+0530)/");
    assert_eq!(format_wire_datetimeoffset(1_587_072_082_000, -300), "/Date(1587072082000-0500)/");

    let ok = [
        ("/Date(1672531200000)/", (1_672_531_200_000, None)),
        ("/Date(-123456000000)/", (-123_456_000_000, None)),
        ("/Date(253402214400000)/", (OPEN_END_MS, None)),
        ("/Date(1587072082000+0000)/", (1_587_072_082_000, Some(0))),
        ("/Date(1587072082000+0200)/", (1_587_072_082_000, Some(120))),
        ("/Date(-1000-0130)/", (-1000, Some(-90))),
    ];
    for (text, want) in ok {
        assert_eq!(parse_wire_date(text), Ok(want), "{text}");
    }
    for bad in [
        "",
        "/Date()/",
        "/Date(12a)/",
        "Date(1)",
        "/Date(1+00)/",
        "/Date(1+2400)/",
        "/Date(--1)/",
        "/Date(1+01:00)/",
    ] {
        assert!(parse_wire_date(bad).is_err(), "{bad} should fail");
    }
}

#[test]
fn open_end_is_9999_12_31() {
    assert_eq!(parse_day("9999-12-31"), Ok(OPEN_END_MS));
    assert_eq!(parse_day("1970-01-01"), Ok(0));
    assert_eq!(parse_day("1969-12-31"), Ok(-86_400_000));
    for bad in ["2024-1-01", "2024-02-30", "20240101", "2024-01-01T00:00", ""] {
        assert!(parse_day(bad).is_err(), "{bad}");
    }
}

#[test]
fn json_of_values() {
    let cases: Vec<(ODataValue, &str)> = vec![
        (ODataValue::Null, "null"),
        (ODataValue::Boolean(true), "true"),
        (ODataValue::Int32(1), "1"),
        (ODataValue::Int64(467), "\"467\""),
        (ODataValue::Decimal("1.0".into()), "\"1.0\""),
        (ODataValue::Double(2.5), "2.5"),
        (ODataValue::DateTime(-31_536_000_000), "\"/Date(-31536000000)/\""),
        (
            ODataValue::DateTimeOffset { ms: 1_714_638_600_000, offset_minutes: 0 },
            "\"/Date(1714638600000+0000)/\"",
        ),
        (ODataValue::DateTimeOffset { ms: -5, offset_minutes: -330 }, "\"/Date(-5-0530)/\""),
        (ODataValue::DateTimeOffset { ms: 0, offset_minutes: 9 * 60 + 45 }, "\"/Date(0+0945)/\""),
        (ODataValue::DateTimeOffset { ms: 1, offset_minutes: i16::MIN }, "\"/Date(1-54608)/\""),
        (ODataValue::Int32(i32::MIN), "-2147483648"),
        (ODataValue::Int64(i64::MIN), "\"-9223372036854775808\""),
        (
            ODataValue::String("plain ascii, no escapes: /Date(1)/".into()),
            "\"plain ascii, no escapes: /Date(1)/\"",
        ),
        (
            ODataValue::String("O\"Neil \\ \n\t\u{1}é😀".into()),
            "\"O\\\"Neil \\\\ \\n\\t\\u0001é😀\"",
        ),
    ];
    for (v, want) in cases {
        let mut out = String::new();
        v.write_json(&mut out);
        assert_eq!(out, want, "{v:?}");
    }
    // The escaped string is valid JSON that reads back to the original.
    let mut out = String::new();
    write_json_string(&mut out, "a\u{7f}\u{1f}\"\\\r\u{8}\u{c}z");
    let back: String = serde_json::from_str(&out).expect("valid JSON");
    assert_eq!(back, "a\u{7f}\u{1f}\"\\\r\u{8}\u{c}z");
}

#[test]
fn literals() {
    use ODataValue as V;
    let ok: Vec<(&str, ODataValue)> = vec![
        ("'O''Neil'", V::String("O'Neil".into())),
        ("''", V::String(String::new())),
        ("'Müller'", V::String("Müller".into())),
        ("12", V::Int32(12)),
        ("-12", V::Int32(-12)),
        ("12L", V::Int64(12)),
        ("3000000000", V::Int64(3_000_000_000)),
        ("1.5M", V::Decimal("1.5".into())),
        ("1.5m", V::Decimal("1.5".into())),
        ("1.5", V::Decimal("1.5".into())),
        ("2.5d", V::Double(2.5)),
        ("true", V::Boolean(true)),
        ("false", V::Boolean(false)),
        ("null", V::Null),
        ("datetime'2024-01-01T00:00:00'", V::DateTime(1_704_067_200_000)),
        ("datetime'2024-01-01T00:00'", V::DateTime(1_704_067_200_000)),
        ("datetime'2024-01-01T00:00:00.5'", V::DateTime(1_704_067_200_500)),
        ("datetime'2024-01-01T00:00:00.1234567'", V::DateTime(1_704_067_200_123)),
        (
            "datetimeoffset'2024-01-01T00:00:00Z'",
            V::DateTimeOffset { ms: 1_704_067_200_000, offset_minutes: 0 },
        ),
        (
            "datetimeoffset'2024-01-01T00:00Z'",
            V::DateTimeOffset { ms: 1_704_067_200_000, offset_minutes: 0 },
        ),
        (
            "datetimeoffset'2024-01-01T02:00:00+02:00'",
            V::DateTimeOffset { ms: 1_704_067_200_000, offset_minutes: 120 },
        ),
        (
            "datetimeoffset'2023-12-31T19:00:00.000-05:00'",
            V::DateTimeOffset { ms: 1_704_067_200_000, offset_minutes: -300 },
        ),
    ];
    for (text, want) in ok {
        assert_eq!(ODataValue::parse_literal(text), Ok(want), "{text}");
    }
    for bad in [
        "'unterminated",
        "'a'b'",
        "12X",
        "datetime'2024-13-01T00:00:00'",
        "datetime'2024-01-01'x",
        "datetime'2024-01-01T25:00:00'",
        "datetimeoffset'2024-01-01T00:00:00'",
        "datetimeoffset'2024-01-01T00:00:00+2:00'",
        "datetimeoffset'2024-01-01T00:00:00+12:3:4'",
        "datetimeoffset'2024-01-01T00:00:00+é:00'",
        "datetime'2024-01-01T00:00:00+02:00'",
        "1.",
        "",
    ] {
        assert!(ODataValue::parse_literal(bad).is_err(), "{bad} should fail");
    }
}

#[test]
fn key_literals() {
    use ODataValue as V;
    assert_eq!(V::String("O'Neil".into()).key_literal(), "'O''Neil'");
    assert_eq!(V::Int64(1).key_literal(), "1L");
    assert_eq!(V::DateTime(1_704_067_200_000).key_literal(), "datetime'2024-01-01T00:00:00'");
    assert_eq!(V::DateTime(-1).key_literal(), "datetime'1969-12-31T23:59:59.999'");
    assert_eq!(
        V::DateTime(i64::MAX).key_literal(),
        format!("datetime'{}'", i64::MAX),
        "out of the calendar's range: the raw ms"
    );
    assert_eq!(
        V::DateTimeOffset { ms: 0, offset_minutes: -90 }.key_literal(),
        "datetimeoffset'1969-12-31T22:30:00-01:30'"
    );
    assert_eq!(V::String("''".into()).key_literal(), "''''''", "each quote doubled, then quoted");
    assert_eq!(V::Int32(-7).key_literal(), "-7");
    assert_eq!(V::Decimal("1.50".into()).key_literal(), "1.50M");
    assert_eq!(
        V::DateTimeOffset { ms: 1_704_067_200_000, offset_minutes: 120 }.key_literal(),
        "datetimeoffset'2024-01-01T02:00:00+02:00'"
    );
    // Round trip through the parser.
    for v in
        [V::DateTime(1_704_067_200_000), V::Int64(7), V::String("a''b".into()), V::Boolean(false)]
    {
        assert_eq!(V::parse_literal(&v.key_literal()), Ok(v.clone()));
    }
}
