//! Distinguished names (RFC 4514) and filter values (RFC 4515).
//!
//! Escaping uses ldap3's functions, which follow the RFCs in full: DN values
//! escape `" + , ; < = > \` and NUL everywhere, a leading space or `#` and a
//! trailing space (all as `\XX` hex pairs, which every server accepts);
//! filter values escape `* ( ) \` and NUL. Non-ASCII text is sent as UTF-8
//! unchanged, as both RFCs allow. The tests in `tests.rs` pin each case.
//!
//! Parsing is ours (ldap3 has none): servers return DNs in their own spelling
//! (`\,` or `\2C`, `CN=` or `cn=`), so DNs are compared after parsing, with
//! attribute types and values compared case-insensitively as AD and the
//! usual OpenLDAP attributes (`cn`, `ou`, `dc`, `uid`) do.

use std::borrow::Cow;
use std::fmt;

/// Escape one attribute value for use in a DN (RFC 4514 §2.4).
pub fn escape_dn_value(value: &str) -> Cow<'_, str> {
    ldap3::dn_escape(value)
}

/// Escape one assertion value for use in a search filter (RFC 4515 §3).
pub fn escape_filter_value(value: &str) -> Cow<'_, str> {
    ldap3::ldap_escape(value)
}

/// Escape raw bytes (a binary GUID) for a filter: every byte as `\XX`.
pub fn escape_filter_bytes(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("\\{b:02x}")).collect()
}

/// One `type=value` pair of an RDN; the value is unescaped text.
#[derive(Debug, Clone)]
pub struct Ava {
    pub attribute: String,
    pub value: String,
}

/// A parsed distinguished name: RDNs from the leaf up, each one or more
/// `type=value` pairs (multi-valued RDNs are joined by `+`).
#[derive(Debug, Clone, Default)]
pub struct Dn {
    pub rdns: Vec<Vec<Ava>>,
}

/// Why a string is not a DN.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at byte {position}: {reason}")]
pub struct DnError {
    pub position: usize,
    pub reason: String,
}

fn err(position: usize, reason: impl Into<String>) -> DnError {
    DnError { position, reason: reason.into() }
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

impl Dn {
    /// Parse an RFC 4514 string (also the RFC 2253 leftovers servers still
    /// send: `;` separators, quoted values, spaces around separators).
    pub fn parse(s: &str) -> Result<Dn, DnError> {
        let bytes = s.as_bytes();
        let mut rdns = Vec::new();
        let mut rdn = Vec::new();
        let mut i = 0;
        if s.trim().is_empty() {
            return Ok(Dn::default());
        }
        loop {
            // attribute type
            while i < bytes.len() && bytes[i] == b' ' {
                i += 1;
            }
            let start = i;
            while i < bytes.len() && bytes[i] != b'=' {
                if matches!(bytes[i], b',' | b'+' | b';' | b'\\' | b'"') {
                    return Err(err(
                        i,
                        format!("unexpected {:?} in an attribute type", bytes[i] as char),
                    ));
                }
                i += 1;
            }
            if i >= bytes.len() {
                return Err(err(start, "an RDN has no '='"));
            }
            let attribute = s[start..i].trim().to_owned();
            if attribute.is_empty() {
                return Err(err(start, "empty attribute type"));
            }
            i += 1; // '='
            // value
            let mut value: Vec<u8> = Vec::new();
            while i < bytes.len() && bytes[i] == b' ' {
                i += 1;
            }
            if i < bytes.len() && bytes[i] == b'"' {
                i += 1;
                loop {
                    match bytes.get(i) {
                        None => return Err(err(i, "unterminated quoted value")),
                        Some(b'"') => {
                            i += 1;
                            break;
                        }
                        Some(b'\\') => {
                            let c = *bytes
                                .get(i + 1)
                                .ok_or_else(|| err(i, "a backslash ends the DN"))?;
                            value.push(c);
                            i += 2;
                        }
                        Some(&c) => {
                            value.push(c);
                            i += 1;
                        }
                    }
                }
                while i < bytes.len() && bytes[i] == b' ' {
                    i += 1;
                }
            } else {
                let mut kept = 0; // length of the value up to its last escaped or non-space byte
                while i < bytes.len() && !matches!(bytes[i], b',' | b'+' | b';') {
                    let c = bytes[i];
                    if c == b'\\' {
                        let next =
                            *bytes.get(i + 1).ok_or_else(|| err(i, "a backslash ends the DN"))?;
                        match (hex(next), bytes.get(i + 2).and_then(|b| hex(*b))) {
                            (Some(h), Some(l)) => {
                                value.push(h << 4 | l);
                                i += 3;
                            }
                            (Some(_), None) => {
                                return Err(err(
                                    i,
                                    "a backslash is followed by one hex digit only",
                                ));
                            }
                            _ => {
                                value.push(next);
                                i += 2;
                            }
                        }
                        kept = value.len();
                    } else {
                        value.push(c);
                        i += 1;
                        if c != b' ' {
                            kept = value.len();
                        }
                    }
                }
                value.truncate(kept);
            }
            let value = String::from_utf8(value)
                .map_err(|_| err(i, format!("the value of {attribute} is not UTF-8")))?;
            rdn.push(Ava { attribute, value });
            match bytes.get(i) {
                None => {
                    rdns.push(rdn);
                    return Ok(Dn { rdns });
                }
                Some(b'+') => {}
                Some(b',' | b';') => rdns.push(std::mem::take(&mut rdn)),
                Some(&c) => {
                    return Err(err(i, format!("unexpected {:?} after a value", c as char)));
                }
            }
            i += 1;
        }
    }

    pub fn is_empty(&self) -> bool {
        self.rdns.is_empty()
    }

    /// The DN without its first RDN.
    pub fn parent(&self) -> Dn {
        Dn { rdns: self.rdns.iter().skip(1).cloned().collect() }
    }

    /// The first RDN's first value, if its type is `attribute`.
    pub fn rdn_value(&self, attribute: &str) -> Option<&str> {
        self.rdns
            .first()?
            .iter()
            .find(|a| a.attribute.eq_ignore_ascii_case(attribute))
            .map(|a| a.value.as_str())
    }

    /// The trailing `DC=` components: the domain root of an AD DN.
    pub fn domain_root(&self) -> Dn {
        let n = self
            .rdns
            .iter()
            .rev()
            .take_while(|r| r.len() == 1 && r[0].attribute.eq_ignore_ascii_case("dc"))
            .count();
        Dn { rdns: self.rdns[self.rdns.len() - n..].to_vec() }
    }

    /// Whether `self` is `other` or lies below it.
    pub fn is_within(&self, other: &Dn) -> bool {
        self.rdns.len() >= other.rdns.len()
            && Dn { rdns: self.rdns[self.rdns.len() - other.rdns.len()..].to_vec() } == *other
    }

    /// The parent part of a DN string as the server spelled it (after the
    /// first unescaped, unquoted separator); empty for a one-RDN DN.
    pub fn raw_parent(dn: &str) -> &str {
        let bytes = dn.as_bytes();
        let (mut i, mut quoted) = (0, false);
        while i < bytes.len() {
            match bytes[i] {
                b'\\' => i += 1,
                b'"' => quoted = !quoted,
                b',' | b';' if !quoted => return dn[i + 1..].trim_start(),
                _ => {}
            }
            i += 1;
        }
        ""
    }

    /// A new DN with `rdn` (already escaped, `type=value`) above `parent`.
    pub fn child_string(rdn: &str, parent: &str) -> String {
        if parent.trim().is_empty() { rdn.to_owned() } else { format!("{rdn},{parent}") }
    }
}

impl PartialEq for Dn {
    fn eq(&self, other: &Dn) -> bool {
        self.rdns.len() == other.rdns.len()
            && self.rdns.iter().zip(&other.rdns).all(|(a, b)| {
                a.len() == b.len()
                    && a.iter().all(|x| {
                        b.iter().any(|y| {
                            x.attribute.eq_ignore_ascii_case(&y.attribute)
                                && x.value.to_lowercase() == y.value.to_lowercase()
                        })
                    })
            })
    }
}

impl fmt::Display for Dn {
    /// The canonical spelling: the types as given, values escaped by ldap3.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, rdn) in self.rdns.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            for (j, ava) in rdn.iter().enumerate() {
                if j > 0 {
                    f.write_str("+")?;
                }
                write!(f, "{}={}", ava.attribute, escape_dn_value(&ava.value))?;
            }
        }
        Ok(())
    }
}
