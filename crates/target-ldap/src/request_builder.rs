//! Pure conversions between the engine's JSON attribute values and LDAP
//! values: value lists, `accountDisabled` ↔ `userAccountControl`, AD
//! passwords, GUIDs, and entries read back into [`TargetObject`]s.

use std::collections::HashMap;

use hrsync_target::{Attributes, TargetError, TargetObject};
use ldap3::SearchEntry;
use rand::TryRng;
use rand::rngs::SysRng;
use serde_json::Value;

use crate::config::{DisableStrategy, Profile};
use crate::dn::Dn;

/// Pseudo-attribute: the DN of the container; a change moves the object.
pub const PARENT_DN: &str = "parentDistinguishedName";
/// Pseudo-attribute: `"True"` disables the account, `"False"` enables it.
pub const ACCOUNT_DISABLED: &str = "accountDisabled";
/// AD password attribute: a plain-text password in the mapping, sent as
/// UTF-16LE of the quoted string, and only over a protected connection.
pub const UNICODE_PWD: &str = "unicodePwd";
pub const MANAGER: &str = "manager";
pub const UAC: &str = "userAccountControl";

/// `userAccountControl` bits (MS-ADTS 2.2.16).
pub const UAC_ACCOUNTDISABLE: u32 = 0x2;
pub const UAC_NORMAL_ACCOUNT: u32 = 0x200;

/// The LDAP values of a JSON attribute value. `null`, `""` and `[]` mean no
/// value (delete); arrays are multi-valued; booleans are LDAP's `TRUE`/`FALSE`.
pub fn values(attribute: &str, value: &Value) -> Result<Vec<String>, TargetError> {
    let mut out = Vec::new();
    push_values(attribute, value, &mut out, true)?;
    Ok(out)
}

fn push_values(
    attribute: &str,
    value: &Value,
    out: &mut Vec<String>,
    top: bool,
) -> Result<(), TargetError> {
    match value {
        Value::Null => {}
        Value::String(s) if s.is_empty() => {}
        Value::String(s) => out.push(s.clone()),
        Value::Bool(b) => out.push(if *b { "TRUE" } else { "FALSE" }.to_owned()),
        Value::Number(n) => out.push(n.to_string()),
        Value::Array(items) if top => {
            for item in items {
                push_values(attribute, item, out, false)?;
            }
        }
        Value::Array(_) | Value::Object(_) => {
            return Err(TargetError::Rejected {
                operation: "convert attribute",
                message: format!(
                    "{attribute}: {value} is not a value LDAP can store (nested arrays and objects are not)"
                ),
            });
        }
    }
    Ok(())
}

/// The value as one string, if it is a single value.
pub fn single(attribute: &str, value: &Value) -> Result<Option<String>, TargetError> {
    let mut v = values(attribute, value)?;
    match v.len() {
        0 => Ok(None),
        1 => Ok(v.pop()),
        n => Err(TargetError::Rejected {
            operation: "convert attribute",
            message: format!("{attribute} takes one value, got {n}"),
        }),
    }
}

/// `accountDisabled` as a boolean: `"True"`/`"False"` (any case), booleans, `1`/`0`.
pub fn parse_disabled(value: &Value) -> Result<bool, TargetError> {
    let bad = || TargetError::Rejected {
        operation: "convert attribute",
        message: format!("{ACCOUNT_DISABLED}: {value} is not \"True\" or \"False\""),
    };
    match value {
        Value::Bool(b) => Ok(*b),
        Value::Null => Ok(false),
        Value::String(s) if s.eq_ignore_ascii_case("true") || s == "1" => Ok(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") || s == "0" || s.is_empty() => {
            Ok(false)
        }
        Value::Number(n) => n.as_i64().map(|n| n != 0).ok_or_else(bad),
        _ => Err(bad()),
    }
}

/// `userAccountControl` with the ACCOUNTDISABLE bit set or cleared and every
/// other bit kept (0 becomes NORMAL_ACCOUNT, as AD requires an account type).
pub fn apply_disabled(uac: u32, disabled: bool) -> u32 {
    let base = if uac == 0 { UAC_NORMAL_ACCOUNT } else { uac };
    if disabled { base | UAC_ACCOUNTDISABLE } else { base & !UAC_ACCOUNTDISABLE }
}

/// AD's `unicodePwd` encoding: the password in double quotes, UTF-16LE.
pub fn ad_password_bytes(password: &str) -> Vec<u8> {
    format!("\"{password}\"").encode_utf16().flat_map(u16::to_le_bytes).collect()
}

/// A random password that meets AD's default complexity rules (three of
/// four character classes, here all four) with room to spare: 24
/// characters from the OS random source. It is never logged or returned.
pub fn generate_password() -> Result<String, TargetError> {
    const CLASSES: [&[u8]; 4] =
        [b"ABCDEFGHJKLMNPQRSTUVWXYZ", b"abcdefghijkmnopqrstuvwxyz", b"23456789", b"!#%+-.:=?@^_~"];
    let mut rng = Unbiased::new()?;
    let mut chars: Vec<u8> = Vec::with_capacity(24);
    for class in CLASSES {
        chars.push(class[rng.below(class.len())?]);
    }
    let all: Vec<u8> = CLASSES.concat();
    while chars.len() < 24 {
        chars.push(all[rng.below(all.len())?]);
    }
    // Shuffle so the class order does not show.
    for i in (1..chars.len()).rev() {
        chars.swap(i, rng.below(i + 1)?);
    }
    Ok(chars.into_iter().map(char::from).collect())
}

/// Uniform small numbers from the OS random source, by rejection sampling.
struct Unbiased {
    buf: [u8; 64],
    pos: usize,
}

impl Unbiased {
    fn new() -> Result<Self, TargetError> {
        let mut u = Unbiased { buf: [0; 64], pos: 64 };
        u.refill()?;
        Ok(u)
    }

    fn refill(&mut self) -> Result<(), TargetError> {
        SysRng.try_fill_bytes(&mut self.buf).map_err(|e| TargetError::Unavailable {
            operation: "generate password",
            message: format!("OS random source: {e}"),
        })?;
        self.pos = 0;
        Ok(())
    }

    /// A number in `0..n`, for `1 <= n <= 256`.
    fn below(&mut self, n: usize) -> Result<usize, TargetError> {
        let limit = 256 - 256 % n.clamp(1, 256);
        loop {
            if self.pos == self.buf.len() {
                self.refill()?;
            }
            let b = usize::from(self.buf[self.pos]);
            self.pos += 1;
            if b < limit {
                return Ok(b % n.clamp(1, 256));
            }
        }
    }
}

/// AD's `objectGUID` bytes in the usual text form (the first three groups
/// are little-endian): `{3,2,1,0}-{5,4}-{7,6}-{8,9}-{10..16}`.
pub fn guid_to_string(b: &[u8]) -> Option<String> {
    let b: &[u8; 16] = b.try_into().ok()?;
    Some(format!(
        "{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
        b[3],
        b[2],
        b[1],
        b[0],
        b[5],
        b[4],
        b[7],
        b[6],
        b[8],
        b[9],
        b[10],
        b[11],
        b[12],
        b[13],
        b[14],
        b[15]
    ))
}

/// The inverse of [`guid_to_string`]; `None` if `s` is not a GUID.
pub fn guid_from_string(s: &str) -> Option<[u8; 16]> {
    let hex: String =
        s.trim_matches(|c| c == '{' || c == '}').chars().filter(|c| *c != '-').collect();
    if hex.len() != 32
        || !hex.chars().all(|c| c.is_ascii_hexdigit())
        || s.trim_matches(|c| c == '{' || c == '}').len() != 36
    {
        return None;
    }
    let mut t = [0u8; 16];
    for (i, byte) in t.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some([
        t[3], t[2], t[1], t[0], t[5], t[4], t[7], t[6], t[8], t[9], t[10], t[11], t[12], t[13],
        t[14], t[15],
    ])
}

/// Whether `s` looks like an RFC 4122 UUID (OpenLDAP's entryUUID).
pub fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| {
            if matches!(i, 8 | 13 | 18 | 23) { c == '-' } else { c.is_ascii_hexdigit() }
        })
}

/// The attribute holding the stable id.
pub fn id_attribute(profile: Profile) -> &'static str {
    match profile {
        Profile::ActiveDirectory => "objectGUID",
        Profile::InetOrgPerson => "entryUUID",
    }
}

/// The values of `name` in an entry, looked up case-insensitively, as bytes
/// (ldap3 puts a value in `attrs` when it happens to be UTF-8, even a GUID).
pub fn raw_values<'a>(entry: &'a SearchEntry, name: &str) -> Vec<&'a [u8]> {
    let mut out: Vec<&[u8]> = Vec::new();
    for (k, vs) in &entry.attrs {
        if k.eq_ignore_ascii_case(name) {
            out.extend(vs.iter().map(|v| v.as_bytes()));
        }
    }
    for (k, vs) in &entry.bin_attrs {
        if k.eq_ignore_ascii_case(name) {
            out.extend(vs.iter().map(Vec::as_slice));
        }
    }
    out
}

pub fn first_text(entry: &SearchEntry, name: &str) -> Option<String> {
    raw_values(entry, name).first().map(|v| String::from_utf8_lossy(v).into_owned())
}

/// The stable id of an entry.
pub fn entry_id(entry: &SearchEntry, profile: Profile) -> Option<String> {
    let raw = raw_values(entry, id_attribute(profile));
    let first = raw.first()?;
    match profile {
        Profile::ActiveDirectory => guid_to_string(first),
        Profile::InetOrgPerson => std::str::from_utf8(first).ok().map(str::to_owned),
    }
}

/// How the object's account status is read back.
pub fn entry_disabled(
    entry: &SearchEntry,
    profile: Profile,
    strategy: Option<&DisableStrategy>,
) -> Option<bool> {
    match (profile, strategy) {
        (Profile::ActiveDirectory, _) => first_text(entry, UAC)
            .and_then(|u| u.parse::<u32>().ok())
            .map(|u| u & UAC_ACCOUNTDISABLE != 0),
        (Profile::InetOrgPerson, Some(DisableStrategy::Attribute { attribute, value })) => Some(
            raw_values(entry, attribute)
                .iter()
                .any(|v| String::from_utf8_lossy(v).eq_ignore_ascii_case(value)),
        ),
        (Profile::InetOrgPerson, Some(DisableStrategy::MoveTo { container })) => {
            let parent = Dn::parse(&entry.dn).ok()?.parent();
            Some(Dn::parse(container).is_ok_and(|c| parent == c))
        }
        (Profile::InetOrgPerson, None) => None,
    }
}

/// An entry as the engine sees it: text attributes (one value as a string,
/// several as an array), the id attribute as text, the
/// `parentDistinguishedName` and `accountDisabled` pseudo-attributes, and
/// no other binary attribute.
pub fn to_object(
    entry: &SearchEntry,
    profile: Profile,
    strategy: Option<&DisableStrategy>,
) -> Option<TargetObject> {
    let id = entry_id(entry, profile)?;
    let id_attr = id_attribute(profile);
    let mut attributes = Attributes::new();
    let mut text: HashMap<&String, &Vec<String>> = entry.attrs.iter().collect();
    text.retain(|k, _| !k.eq_ignore_ascii_case(id_attr));
    for (k, vs) in text {
        let v = match vs.as_slice() {
            [one] => Value::String(one.clone()),
            many => Value::Array(many.iter().cloned().map(Value::String).collect()),
        };
        attributes.insert(k.clone(), v);
    }
    attributes.insert(id_attr.to_owned(), Value::String(id.clone()));
    attributes.insert(PARENT_DN.to_owned(), Value::String(Dn::raw_parent(&entry.dn).to_owned()));
    let disabled = entry_disabled(entry, profile, strategy);
    if let Some(d) = disabled {
        attributes.insert(
            ACCOUNT_DISABLED.to_owned(),
            Value::String(if d { "True" } else { "False" }.to_owned()),
        );
    }
    Some(TargetObject {
        id,
        name: Some(entry.dn.clone()),
        attributes,
        enabled: disabled.map(|d| !d),
    })
}
