//! Text that came from outside (a SuccessFactors error body, a worker's
//! name, a target's message) made safe to print on a terminal or store in a
//! cycle message: control characters and invisible direction overrides are
//! written as `\u{..}` escapes, so an ESC sequence cannot recolour, move or
//! clear a terminal and a bidi override cannot make `txt.exe` read as
//! `exe.txt`. Everything else, non-ASCII letters included, is left as it is.
//!
//! One function, [`escape`] (and its line-keeping variant
//! [`escape_keeping_lines`] for our own multi-line reports), used wherever
//! such text is displayed.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Whether `c` must not reach a terminal as it is: C0 and C1 controls and
/// DEL, the Unicode direction marks, embeddings, overrides and isolates, the
/// line and paragraph separators, and the zero-width characters that make
/// two different strings look the same.
pub fn is_unsafe(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{1f}'
        | '\u{7f}'..='\u{9f}'
        | '\u{61c}'
        | '\u{200b}'..='\u{200f}'
        | '\u{2028}'..='\u{202e}'
        | '\u{2060}'..='\u{2069}'
        | '\u{feff}'
    )
}

/// `s` with every [`is_unsafe`] character written as `\u{hex}`. Borrows
/// when there is nothing to escape (the common case).
pub fn escape(s: &str) -> Cow<'_, str> {
    escape_where(s, is_unsafe)
}

/// Like [`escape`] but keeps line feeds: for our own multi-line text (a
/// cycle summary, an error chain) whose parts came from outside.
pub fn escape_keeping_lines(s: &str) -> Cow<'_, str> {
    escape_where(s, |c| c != '\n' && is_unsafe(c))
}

fn escape_where(s: &str, unsafe_char: impl Fn(char) -> bool) -> Cow<'_, str> {
    let Some(first) = s.find(&unsafe_char) else { return Cow::Borrowed(s) };
    let mut out = String::with_capacity(s.len() + 8);
    out.push_str(&s[..first]);
    for c in s[first..].chars() {
        if unsafe_char(c) {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_bidi_are_escaped_letters_are_not() {
        assert!(matches!(escape("Zoë O'Brien 李"), Cow::Borrowed(_)));
        assert_eq!(escape("\u{1b}[31mred\u{1b}[0m"), "\\u{1b}[31mred\\u{1b}[0m");
        assert_eq!(escape("invoice\u{202e}txt.exe"), "invoice\\u{202e}txt.exe");
        assert_eq!(
            escape("a\r\nb\tc\u{0}\u{9b}d\u{2066}"),
            "a\\u{d}\\u{a}b\\u{9}c\\u{0}\\u{9b}d\\u{2066}"
        );
        assert_eq!(escape("zero\u{200b}width\u{feff}"), "zero\\u{200b}width\\u{feff}");
        assert_eq!(escape_keeping_lines("one\ntwo\u{1b}]0;t\u{7}"), "one\ntwo\\u{1b}]0;t\\u{7}");
    }
}
