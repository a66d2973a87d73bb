//! The pure half of the LDAP target: how changes become LDAP requests
//! ([`classify_create`], [`classify_update`], [`status_change`],
//! [`dn_change`]: what to add, modify and rename, before any I/O), and the
//! value conversions underneath: value lists, `accountDisabled` ↔
//! `userAccountControl`, AD passwords, GUIDs, and entries read back into
//! [`TargetObject`]s.
//!
//! The cross-target conventions (`parentDistinguishedName`,
//! `accountDisabled`, `manager`, the password attributes) are
//! [`hrsync_target::attr`]'s; re-exported here under the names this crate
//! has always used.

use std::collections::{HashMap, HashSet};

use hrsync_target::{AttributeUpdate, Attributes, TargetError, TargetObject, attr};
use ldap3::{Mod, SearchEntry};
use rand::TryRng;
use rand::rngs::SysRng;
use serde_json::Value;

use crate::config::{DisableStrategy, LdapConfig, Profile};
use crate::dn::{Dn, escape_dn_value};

/// Pseudo-attribute: `"True"` disables the account, `"False"` enables it.
pub use hrsync_target::attr::ACCOUNT_DISABLED;
/// Pseudo-attribute: the DN of the container; a change moves the object.
pub use hrsync_target::attr::PARENT as PARENT_DN;
/// AD password attribute: a plain-text password in the mapping, sent as
/// UTF-16LE of the quoted string, and only over a protected connection.
pub use hrsync_target::attr::UNICODE_PWD;
/// AD account control flags: the account status on Active Directory.
pub use hrsync_target::attr::USER_ACCOUNT_CONTROL as UAC;
pub use hrsync_target::attr::{MANAGER, USER_PASSWORD};

/// The attributes of an add: name and values, as ldap3 takes them.
pub type AttrList = Vec<(Vec<u8>, HashSet<Vec<u8>>)>;

/// One attribute of an [`AttrList`].
pub fn add_attribute(
    name: &str,
    vals: impl IntoIterator<Item = Vec<u8>>,
) -> (Vec<u8>, HashSet<Vec<u8>>) {
    (name.as_bytes().to_vec(), vals.into_iter().collect())
}

fn rejected(operation: &'static str, message: String) -> TargetError {
    TargetError::Rejected { operation, message }
}

/// The refusal of an `inet-org-person` target without a disable strategy
/// asked to change account status.
pub fn no_strategy(operation: &'static str) -> TargetError {
    rejected(
        operation,
        "accountDisabled needs a disable strategy for an inet-org-person target (attribute or move-to)".into(),
    )
}

/// AD only accepts passwords over TLS; refuse before sending one.
pub fn require_protected(config: &LdapConfig, operation: &'static str) -> Result<(), TargetError> {
    if config.is_protected() {
        return Ok(());
    }
    Err(rejected(
        operation,
        format!(
            "Active Directory only accepts passwords over LDAPS or StartTLS, and {} is neither; use ldaps:// or starttls",
            config.url
        ),
    ))
}

/// A `parentDistinguishedName` value: `None` when empty, an error when it
/// is not a DN.
pub fn parent_value(operation: &'static str, value: &Value) -> Result<Option<String>, TargetError> {
    let Some(p) = single(PARENT_DN, value)? else { return Ok(None) };
    Dn::parse(&p).map_err(|e| {
        rejected(operation, format!("{PARENT_DN} {p:?} is not a distinguished name: {e}"))
    })?;
    Ok(Some(p))
}

/// An add, sorted out before any I/O.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateRequest {
    /// The new entry's DN (naming attribute under the parent, or under the
    /// disabled container for a move-to strategy).
    pub dn: String,
    /// Everything to add but the manager, which needs a lookup first.
    pub attributes: AttrList,
    /// A `manager` value to resolve (a DN, or a match value).
    pub manager: Option<String>,
    /// The new entry's manager match value: reports waiting for it can be
    /// linked once it exists.
    pub match_value: Option<String>,
}

/// How a create becomes an add: the naming attribute names the entry under
/// `parentDistinguishedName` (default: the default container), the
/// pseudo-attributes are translated (`accountDisabled` into
/// `userAccountControl` or the disable strategy, `unicodePwd` into AD's
/// encoding; a random password when AD gets none), empty values are left
/// out, and `objectClass` defaults per profile.
pub fn classify_create(
    config: &LdapConfig,
    attributes: &Attributes,
) -> Result<CreateRequest, TargetError> {
    const OP: &str = "create";
    let c = config;
    let naming = attributes
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(&c.naming_attribute))
        .map(|(k, v)| single(k, v))
        .transpose()?
        .flatten()
        .ok_or_else(|| {
            rejected(OP, format!("{} (the naming attribute) has no value", c.naming_attribute))
        })?;
    let mut parent = match attributes.iter().find(|(k, _)| k.eq_ignore_ascii_case(PARENT_DN)) {
        Some((_, v)) => parent_value(OP, v)?.unwrap_or_else(|| c.container().to_owned()),
        None => c.container().to_owned(),
    };
    let disabled = match attributes.iter().find(|(k, _)| k.eq_ignore_ascii_case(ACCOUNT_DISABLED)) {
        Some((_, v)) => parse_disabled(v)?,
        None => false,
    };
    let mut list: AttrList = Vec::new();
    let mut has_class = false;
    let mut uac: Option<u32> = None;
    let mut password: Option<String> = None;
    let mut manager: Option<String> = None;
    let mut match_value: Option<String> = None;
    for (name, value) in attributes {
        let n = name.as_str();
        if n.eq_ignore_ascii_case(PARENT_DN) || n.eq_ignore_ascii_case(ACCOUNT_DISABLED) {
            continue;
        }
        if n.eq_ignore_ascii_case(UNICODE_PWD) {
            if c.profile != Profile::ActiveDirectory {
                return Err(rejected(
                    OP,
                    "unicodePwd is an Active Directory attribute; use userPassword".into(),
                ));
            }
            password = single(n, value)?;
            continue;
        }
        if n.eq_ignore_ascii_case(UAC) && c.profile == Profile::ActiveDirectory {
            let v = single(n, value)?.unwrap_or_default();
            uac =
                Some(v.parse().map_err(|_| {
                    rejected(OP, format!("userAccountControl {v:?} is not a number"))
                })?);
            continue;
        }
        if n.eq_ignore_ascii_case(MANAGER) {
            manager = single(n, value)?;
            continue;
        }
        let vals = values(n, value)?;
        if vals.is_empty() {
            continue;
        }
        has_class |= n.eq_ignore_ascii_case("objectClass");
        if n.eq_ignore_ascii_case(c.manager_attribute()) {
            match_value = vals.first().cloned();
        }
        list.push(add_attribute(n, vals.into_iter().map(String::into_bytes)));
    }
    if !has_class {
        list.push(add_attribute("objectClass", c.classes().into_iter().map(String::into_bytes)));
    }
    match (c.profile, c.disable.as_ref()) {
        (Profile::ActiveDirectory, _) => {
            require_protected(c, OP)?;
            list.push(add_attribute(
                UAC,
                [apply_disabled(uac.unwrap_or(UAC_NORMAL_ACCOUNT), disabled)
                    .to_string()
                    .into_bytes()],
            ));
            let pw = match password {
                Some(p) => p,
                None => generate_password()?,
            };
            list.push(add_attribute(UNICODE_PWD, [ad_password_bytes(&pw)]));
        }
        (Profile::InetOrgPerson, _) if !disabled => {}
        (Profile::InetOrgPerson, Some(DisableStrategy::Attribute { attribute, value })) => {
            list.push(add_attribute(attribute, [value.clone().into_bytes()]))
        }
        (Profile::InetOrgPerson, Some(DisableStrategy::MoveTo { container })) => {
            parent = container.clone()
        }
        (Profile::InetOrgPerson, None) => return Err(no_strategy(OP)),
    }
    let dn =
        Dn::child_string(&format!("{}={}", c.naming_attribute, escape_dn_value(&naming)), &parent);
    Ok(CreateRequest { dn, attributes: list, manager, match_value })
}

/// An update, sorted by how each change reaches the directory.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct UpdateRequest {
    /// `parentDistinguishedName` given (and a DN); `None` also when empty.
    pub new_parent: Option<String>,
    /// The naming attribute's new value (a rename).
    pub new_rdn_value: Option<String>,
    /// `accountDisabled` given.
    pub disabled: Option<bool>,
    /// Plain attribute replaces and the AD password, in the order given.
    pub mods: Vec<Mod<Vec<u8>>>,
    /// `manager` given: `Some(None)` clears it, `Some(Some(v))` sets it to
    /// `v` once resolved (a DN, or a match value to look up).
    pub manager: Option<Option<String>>,
    /// The entry's new manager match value: reports waiting for it can be
    /// linked now.
    pub new_match_value: Option<String>,
}

/// Sort an update's changes (see [`UpdateRequest`]): pseudo-attributes
/// apart, `unicodePwd` encoded (AD over TLS only), every other attribute a
/// replace with its values (`null`/`""` removes it). The naming attribute
/// cannot be removed.
pub fn classify_update(
    config: &LdapConfig,
    operation: &'static str,
    changes: &[AttributeUpdate],
) -> Result<UpdateRequest, TargetError> {
    let c = config;
    let mut out = UpdateRequest::default();
    for ch in changes {
        let name = ch.name.as_str();
        if name.eq_ignore_ascii_case(PARENT_DN) {
            out.new_parent = parent_value(operation, &ch.value)?;
        } else if name.eq_ignore_ascii_case(&c.naming_attribute) {
            out.new_rdn_value = Some(single(name, &ch.value)?.ok_or_else(|| {
                rejected(operation, format!("{name} names the object and cannot be removed"))
            })?);
        } else if name.eq_ignore_ascii_case(ACCOUNT_DISABLED) {
            out.disabled = Some(parse_disabled(&ch.value)?);
        } else if name.eq_ignore_ascii_case(UNICODE_PWD) {
            if c.profile != Profile::ActiveDirectory {
                return Err(rejected(
                    operation,
                    "unicodePwd is an Active Directory attribute; use userPassword".into(),
                ));
            }
            require_protected(c, operation)?;
            if let Some(pw) = single(name, &ch.value)? {
                out.mods.push(Mod::Replace(
                    UNICODE_PWD.as_bytes().to_vec(),
                    HashSet::from([ad_password_bytes(&pw)]),
                ));
            }
        } else if name.eq_ignore_ascii_case(MANAGER) {
            out.manager = Some(single(name, &ch.value)?);
        } else {
            let vals = values(name, &ch.value)?;
            if name.eq_ignore_ascii_case(c.manager_attribute()) {
                out.new_match_value = vals.first().cloned();
            }
            out.mods.push(Mod::Replace(
                name.as_bytes().to_vec(),
                vals.into_iter().map(String::into_bytes).collect(),
            ));
        }
    }
    Ok(out)
}

/// What [`status_change`] decides: the modifications, and the parent the
/// entry must end up under (`None`: no move for status).
pub type StatusChange = (Vec<Mod<Vec<u8>>>, Option<String>);

/// Account status as writes: the modifications, and the parent the entry
/// must end up under (`None`: no move for status). AD flips the
/// ACCOUNTDISABLE bit of the entry's `userAccountControl` (nothing when it
/// already has the wanted value); the attribute strategy writes or removes
/// its attribute; the move-to strategy parks a disabled entry in its
/// container and brings an enabled one back to `new_parent` (or the
/// default container). While disabled by a move, a new parent alone does
/// not move the entry out.
pub fn status_change(
    config: &LdapConfig,
    operation: &'static str,
    entry: &SearchEntry,
    disabled: Option<bool>,
    new_parent: Option<String>,
) -> Result<StatusChange, TargetError> {
    let c = config;
    let strategy = c.disable.as_ref();
    let currently_disabled = entry_disabled(entry, c.profile, strategy);
    let mut mods = Vec::new();
    let mut target_parent = new_parent.clone();
    if let Some(d) = disabled {
        match (c.profile, strategy) {
            (Profile::ActiveDirectory, _) => {
                let uac = first_text(entry, UAC)
                    .and_then(|u| u.parse::<u32>().ok())
                    .unwrap_or(UAC_NORMAL_ACCOUNT);
                let new = apply_disabled(uac, d);
                if new != uac {
                    mods.push(Mod::Replace(
                        UAC.as_bytes().to_vec(),
                        HashSet::from([new.to_string().into_bytes()]),
                    ));
                }
            }
            (Profile::InetOrgPerson, Some(DisableStrategy::Attribute { attribute, value })) => {
                let vals =
                    if d { HashSet::from([value.clone().into_bytes()]) } else { HashSet::new() };
                mods.push(Mod::Replace(attribute.as_bytes().to_vec(), vals));
            }
            (Profile::InetOrgPerson, Some(DisableStrategy::MoveTo { container })) => {
                if d {
                    target_parent = Some(container.clone());
                } else if currently_disabled == Some(true) {
                    target_parent = Some(new_parent.unwrap_or_else(|| c.container().to_owned()));
                }
            }
            (Profile::InetOrgPerson, None) => return Err(no_strategy(operation)),
        }
    }
    if let (Some(DisableStrategy::MoveTo { .. }), None, Some(true)) =
        (strategy, disabled, currently_disabled)
    {
        target_parent = None;
    }
    Ok((mods, target_parent))
}

/// A rename and/or move: one modDN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModDn {
    /// The new RDN (`cn=New Name`), the current one when only moving.
    pub rdn: String,
    /// The new parent, when moving.
    pub new_superior: Option<String>,
    /// The entry's DN afterwards.
    pub new_dn: String,
}

/// The modDN that gives the entry at `dn` the RDN value `new_rdn_value`
/// (its current RDN attribute kept) under `target_parent`: `None` when
/// both are what the entry already has (parents compared as DNs).
pub fn dn_change(
    config: &LdapConfig,
    operation: &'static str,
    dn: &str,
    new_rdn_value: Option<String>,
    target_parent: Option<String>,
) -> Result<Option<ModDn>, TargetError> {
    let current = Dn::parse(dn).map_err(|e| {
        rejected(operation, format!("the server returned a DN we cannot parse, {dn:?}: {e}"))
    })?;
    let rdn_attr = current
        .rdns
        .first()
        .and_then(|r| r.first())
        .map(|a| a.attribute.clone())
        .unwrap_or_else(|| config.naming_attribute.clone());
    let rename =
        new_rdn_value.filter(|v| current.rdn_value(&rdn_attr).is_none_or(|cur| cur != v.as_str()));
    let parent_dn = match &target_parent {
        Some(p) => {
            Some(Dn::parse(p).map_err(|e| rejected(operation, format!("{PARENT_DN} {p:?}: {e}")))?)
        }
        None => None,
    };
    let move_to =
        target_parent.filter(|_| parent_dn.as_ref().is_some_and(|p| *p != current.parent()));
    if rename.is_none() && move_to.is_none() {
        return Ok(None);
    }
    let rdn_value =
        rename.or_else(|| current.rdn_value(&rdn_attr).map(str::to_owned)).unwrap_or_default();
    let rdn = format!("{rdn_attr}={}", escape_dn_value(&rdn_value));
    let parent = move_to.clone().unwrap_or_else(|| Dn::raw_parent(dn).to_owned());
    let new_dn = Dn::child_string(&rdn, &parent);
    Ok(Some(ModDn { rdn, new_superior: move_to, new_dn }))
}

/// `userAccountControl` bits (MS-ADTS 2.2.16).
pub use hrsync_target::attr::UAC_ACCOUNTDISABLE;
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

/// `accountDisabled` as a boolean (see [`attr::flag`]: `"True"`/`"False"`
/// in any case, booleans, `1`/`0`); anything else is refused.
pub fn parse_disabled(value: &Value) -> Result<bool, TargetError> {
    attr::flag(value).ok_or_else(|| TargetError::Rejected {
        operation: "convert attribute",
        message: format!("{ACCOUNT_DISABLED}: {value} is not \"True\" or \"False\""),
    })
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
        attributes.insert(ACCOUNT_DISABLED.to_owned(), attr::flag_value(d));
    }
    Some(TargetObject {
        id,
        name: Some(entry.dn.clone()),
        attributes,
        enabled: disabled.map(|d| !d),
    })
}
