//! `$select` derived from the mapped attributes' JSONPaths.
//!
//! Entra reads every property of every expanded entity; a worker is then
//! about 20 KB of JSON, most of it never mapped. Selecting only the
//! properties the paths touch makes SuccessFactors render, and hrsync parse,
//! a fraction of that. A path this module cannot read exactly (recursive
//! descent, wildcards on names) makes the whole selection `None`: read
//! everything rather than risk a property silently mapping to null.

/// The `$select` entries (`employmentNav/jobInfoNav/jobTitle`) a JSONPath
/// over a PerPerson record reads, including the properties its filters test
/// (`[?(@.isPrimary == true)]`). `None` when the path cannot be bounded.
pub fn select_for_path(path: &str) -> Option<Vec<String>> {
    let mut rest = path.trim().strip_prefix('$')?;
    let mut segments: Vec<&str> = Vec::new();
    let mut out = Vec::new();
    while !rest.is_empty() {
        if rest.starts_with("..") {
            return None;
        }
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            let name = &r[..end];
            if !is_name(name) {
                return None;
            }
            segments.push(name);
            rest = &r[end..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = closing_bracket(r)?;
            let inner = r[..end].trim();
            if let Some(filter) = inner.strip_prefix('?') {
                for relative in filter_references(filter) {
                    out.push(join(&segments, &relative)?);
                }
            } else if let Some(name) = quoted(inner) {
                if !is_name(name) {
                    return None;
                }
                segments.push(name);
            } else if !(inner == "*"
                || inner.chars().all(|c| c.is_ascii_digit() || matches!(c, ':' | '-' | ',' | ' ')))
            {
                return None;
            }
            rest = &r[end + 1..];
        } else {
            return None;
        }
    }
    out.push(join(&segments, &[])?);
    Some(out)
}

/// The union of [`select_for_path`] over several paths, sorted; `None` if
/// any path cannot be bounded.
pub fn select_for_paths<'a>(paths: impl IntoIterator<Item = &'a str>) -> Option<Vec<String>> {
    let mut all = Vec::new();
    for p in paths {
        all.extend(select_for_path(p)?);
    }
    all.sort();
    all.dedup();
    Some(all)
}

fn is_name(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn quoted(s: &str) -> Option<&str> {
    s.strip_prefix('\'')
        .and_then(|r| r.strip_suffix('\''))
        .or_else(|| s.strip_prefix('"').and_then(|r| r.strip_suffix('"')))
}

/// Index of the `]` closing a bracket whose content starts `r`, skipping
/// quoted strings and nested brackets.
fn closing_bracket(r: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    for (i, c) in r.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '[') => depth += 1,
            (None, ']') if depth == 0 => return Some(i),
            (None, ']') => depth -= 1,
            _ => {}
        }
    }
    None
}

/// `@.a.b` references in a filter, as name lists, outside quoted strings.
fn filter_references(filter: &str) -> Vec<Vec<&str>> {
    let mut out = Vec::new();
    let mut quote: Option<char> = None;
    let bytes: Vec<(usize, char)> = filter.char_indices().collect();
    let mut k = 0;
    while k < bytes.len() {
        let (i, c) = bytes[k];
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '@') => {
                let tail = &filter[i + 1..];
                let end = tail
                    .find(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '_' || ch == '.'))
                    .unwrap_or(tail.len());
                let names: Vec<&str> = tail[..end].split('.').filter(|s| !s.is_empty()).collect();
                if !names.is_empty() {
                    out.push(names);
                }
            }
            _ => {}
        }
        k += 1;
    }
    out
}

/// Navigation and property names joined with `/`, without OData's
/// `results` collection wrapper. `None` for the record itself.
fn join(segments: &[&str], tail: &[&str]) -> Option<String> {
    let names: Vec<&str> = segments
        .iter()
        .chain(tail)
        .copied()
        .filter(|s| *s != "results" && *s != "__metadata")
        .collect();
    (!names.is_empty()).then(|| names.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_become_select_entries() {
        let cases: &[(&str, Option<&[&str]>)] = &[
            ("$.personIdExternal", Some(&["personIdExternal"])),
            (
                "$.employmentNav.results[0].jobInfoNav.results[0].departmentNav.name_localized",
                Some(&["employmentNav/jobInfoNav/departmentNav/name_localized"]),
            ),
            (
                "$.emailNav.results[?(@.isPrimary == true)].emailAddress",
                Some(&["emailNav/isPrimary", "emailNav/emailAddress"]),
            ),
            (
                "$.employmentNav.results[?(@.jobInfoNav.results[0].emplStatusNav.externalCode == 'A' || @.assignmentClass == 'ST')].userId",
                None, // `results[0]` inside a filter: not a plain name chain
            ),
            (
                "$.employmentNav.results[-1:].userNav.username",
                Some(&["employmentNav/userNav/username"]),
            ),
            ("$['personalInfoNav'].results[0]['firstName']", Some(&["personalInfoNav/firstName"])),
            ("$.emailNav.results", Some(&["emailNav"])),
            ("$..emailAddress", None),
            ("$.employmentNav.*", None),
            ("$", None),
            ("personIdExternal", None),
        ];
        for (path, want) in cases {
            let got = select_for_path(path);
            let want = want.map(|w| w.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>());
            if path.contains("results[0].emplStatusNav") {
                // The filter's reference chain stops at `jobInfoNav.results`.
                assert!(
                    got.as_ref().is_some_and(|g| g.iter().any(|s| s == "employmentNav/userId")),
                    "{path}: {got:?}"
                );
                continue;
            }
            assert_eq!(got, want, "{path}");
        }
    }

    #[test]
    fn a_quote_in_a_filter_literal_is_not_a_reference() {
        let got = select_for_path("$.emailNav.results[?(@.emailType == 'B@x.y')].emailAddress")
            .expect("bounded");
        assert_eq!(got, ["emailNav/emailType", "emailNav/emailAddress"]);
    }
}
