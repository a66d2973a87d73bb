//! One test per parse error kind: message, offset and caret position.

use hrsync_expr::parse;

/// Asserts the error offset, that the message contains `msg`, and that the
/// rendered caret line starts under `caret_col` (0-based char column) with `width` carets.
fn assert_err(src: &str, offset: usize, msg: &str, caret_col: usize, width: usize) {
    let e = parse(src).expect_err(src);
    assert_eq!(e.offset(), offset, "{src}: {e}");
    assert!(e.message().contains(msg), "{src}: {:?} lacks {msg:?}", e.message());
    let text = e.to_string();
    let caret = text.lines().last().unwrap_or("");
    let want = format!("  {}{}", " ".repeat(caret_col), "^".repeat(width));
    assert_eq!(caret, want, "{src}:\n{text}");
}

#[test]
fn unterminated_string() {
    assert_err(r#"Append([a], "abc)"#, 12, "unterminated string", 12, 1);
}

#[test]
fn unterminated_attribute() {
    assert_err("Append([abc, \"x\")", 7, "unterminated attribute reference", 7, 1);
}

#[test]
fn empty_attribute() {
    assert_err("Len([ ])", 4, "empty attribute reference", 4, 3);
}

#[test]
fn unexpected_character() {
    assert_err("Len([a]) ; 1", 9, "unexpected character ';'", 9, 1);
}

#[test]
fn missing_close_paren() {
    let e = parse("Mid([x], 1, 3").unwrap_err();
    assert!(
        e.message()
            .contains("expected ',' or ')' to continue the arguments of Mid, found end of input"),
        "{e}"
    );
    assert_eq!(e.offset(), 13);
}

#[test]
fn missing_comma_between_arguments() {
    assert_err(r#"Join("," [a])"#, 9, "expected ',' or ')'", 9, 3);
}

#[test]
fn trailing_text() {
    assert_err(r#"Len([a]) "x""#, 9, "expected end of expression, found a string", 9, 3);
}

#[test]
fn empty_expression() {
    assert_err(
        "",
        0,
        "expected an attribute [name], a \"string\", a number or a function call, found end of input",
        0,
        1,
    );
}

#[test]
fn comparison_without_right_operand() {
    assert_err(r#"IIF([a]=, "t", "f")"#, 8, "expected an attribute [name]", 8, 1);
}

#[test]
fn bad_hex_literal() {
    assert_err("BitAnd(&G1, 1)", 7, "expected a hex literal", 7, 1);
    assert_err("BitAnd(&H, 1)", 7, "expected hex digits after &H", 7, 2);
}

#[test]
fn bad_number() {
    assert_err("Left([a], 1.2.3)", 10, "invalid number '1.2.3'", 10, 5);
}

#[test]
fn too_long_and_too_deep() {
    let long = format!("\"{}\"", "a".repeat(10_001));
    assert!(parse(&long).unwrap_err().message().contains("longer than 10000 bytes"));
    let deep = format!("{}[a]{}", "Len(".repeat(200), ")".repeat(200));
    let e = parse(&deep).unwrap_err();
    assert!(e.message().contains("nesting deeper than 128"), "{e}");
}

#[test]
fn caret_on_second_line_and_after_multibyte_text() {
    let src = "Join(\"é\",\n  [a] [b])";
    let e = parse(src).unwrap_err();
    assert_eq!(e.line_column(), (2, 7));
    let text = e.to_string();
    assert!(text.ends_with("\n    [a] [b])\n        ^^^"), "{text}");
    let e = parse("Append(\"ééé\", #)").unwrap_err();
    assert_eq!(e.line_column(), (1, 15));
    assert!(e.to_string().ends_with("\n  Append(\"ééé\", #)\n                ^"), "{e}");
}

#[test]
fn accepted_syntax() {
    for ok in [
        r#"Replace([x], , "re", , "", , )"#,
        r#"Switch([Active], , "0", "True")"#,
        "Append (\n  [a],\n  \"b\"\n)",
        r#"switch([a], "d")"#,
        r#"InStr([a], "b", 1, vbTextCompare)"#,
        r#"DateAdd("d", -10, Now())"#,
        r#"Mid([x], "1", "1")"#,
        r#"[extension_0123abc_costCenter]"#,
        r#""say \"hi\" \\ \d""#,
        "Guid()",
    ] {
        parse(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
    }
}
