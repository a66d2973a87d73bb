//! Text helpers with Entra/.NET behaviour: NormalizeDiacritics, PCase and
//! culture-aware simple case mapping.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// Letters NFD does not decompose but Entra's documentation maps.
fn special(c: char) -> Option<&'static str> {
    Some(match c {
        'æ' => "ae",
        'Æ' => "AE",
        'ø' => "oe",
        'Ø' => "OE",
        'ß' => "ss",
        'ł' => "l",
        'Ł' => "L",
        'ı' => "i",
        // Not in Entra's list; mapped like its neighbours ď→d rather than left as is.
        'đ' => "d",
        'Đ' => "D",
        _ => return None,
    })
}

/// Entra's NormalizeDiacritics: the documented table for letters without a
/// decomposition, then NFD with combining marks (accents, macron/underline
/// forms) removed. Non-Latin letters keep their base letter (`ά` → `α`).
pub(crate) fn normalize_diacritics(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_ascii() {
            out.push(c);
        } else if let Some(r) = special(c) {
            out.push_str(r);
        } else {
            for d in std::iter::once(c).nfd() {
                if !is_combining_mark(d) {
                    out.push(d);
                }
            }
        }
    }
    out
}

/// Culture argument of ToUpper/ToLower: only Turkish/Azeri change results
/// under .NET simple case mapping; everything else behaves as invariant.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Culture {
    Invariant,
    Turkic,
}

/// Accepts RFC 4646-shaped tags (`en-US`, `tr-TR`, `az-Latn-AZ`) and `""`.
pub(crate) fn culture(tag: &str) -> Result<Culture, String> {
    let t = tag.trim();
    if t.is_empty() {
        return Ok(Culture::Invariant);
    }
    let well_formed = t
        .split(['-', '_'])
        .all(|p| !p.is_empty() && p.len() <= 8 && p.chars().all(|c| c.is_ascii_alphanumeric()));
    if !well_formed {
        return Err(format!("'{tag}' is not an RFC 4646 culture name"));
    }
    let lang = t.split(['-', '_']).next().unwrap_or("");
    Ok(if lang.eq_ignore_ascii_case("tr") || lang.eq_ignore_ascii_case("az") {
        Culture::Turkic
    } else {
        Culture::Invariant
    })
}

/// .NET uses simple (1:1) case mapping: `ß` stays `ß` when upper-cased.
pub(crate) fn to_upper(s: &str, culture: Culture) -> String {
    if s.is_ascii() && culture == Culture::Invariant {
        return s.to_ascii_uppercase();
    }
    s.chars().map(|c| upper_char(c, culture)).collect()
}

/// See [`to_upper`].
pub(crate) fn to_lower(s: &str, culture: Culture) -> String {
    if s.is_ascii() && culture == Culture::Invariant {
        return s.to_ascii_lowercase();
    }
    s.chars().map(|c| lower_char(c, culture)).collect()
}

fn upper_char(c: char, culture: Culture) -> char {
    if culture == Culture::Turkic && c == 'i' {
        return 'İ';
    }
    let mut it = c.to_uppercase();
    match (it.next(), it.next()) {
        (Some(u), None) => u,
        _ => c,
    }
}

fn lower_char(c: char, culture: Culture) -> char {
    if culture == Culture::Turkic {
        match c {
            'I' => return 'ı',
            'İ' => return 'i',
            _ => {}
        }
    }
    let mut it = c.to_lowercase();
    match (it.next(), it.next()) {
        (Some(u), None) => u,
        _ => c,
    }
}

/// PCase: each word gets an upper-case first letter and lower-case rest.
/// Default separators are every character that is not a letter, digit or
/// combining mark (Unicode white space, control, punctuation and symbols), so
/// `'` splits words (`st john's` → `St John'S`, as Entra does). With explicit
/// separators only those characters split.
pub(crate) fn pcase(s: &str, seps: Option<&str>) -> String {
    let is_sep = |c: char| match seps {
        Some(set) => set.contains(c),
        None => !(c.is_alphanumeric() || is_combining_mark(c)),
    };
    let mut out = String::with_capacity(s.len());
    let mut start = true;
    for c in s.chars() {
        if is_sep(c) {
            out.push(c);
            start = true;
        } else if start {
            out.push(upper_char(c, Culture::Invariant));
            start = false;
        } else {
            out.push(lower_char(c, Culture::Invariant));
        }
    }
    out
}
