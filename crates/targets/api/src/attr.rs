//! The attribute conventions every target shares, defined once.
//!
//! Mappings write these names whatever the target (they follow Entra's
//! Active Directory mapping); each target translates them into its own
//! protocol (LDAP: `userAccountControl` or a disable strategy, a modDN for
//! the parent; SCIM: `active`, `manager.value`; the embedded target stores
//! them as given).

use serde_json::Value;

/// Account status: `"True"` disables the account, `"False"` enables it
/// (any case; booleans, `1`/`0` too, see [`flag`]). Targets that read an
/// account's status back report it here and in `TargetObject::enabled`.
pub const ACCOUNT_DISABLED: &str = "accountDisabled";

/// Microsoft Graph's account status: `true` enables the account, `false`
/// disables it (the inverse of [`ACCOUNT_DISABLED`]). Mappings into Entra
/// ID write it directly, so the engine reads it as a status too.
pub const ACCOUNT_ENABLED: &str = "accountEnabled";

/// Active Directory's account control flags; its [`UAC_ACCOUNTDISABLE`] bit
/// is the account's status there, so writing it disables or enables too.
pub const USER_ACCOUNT_CONTROL: &str = "userAccountControl";

/// The ACCOUNTDISABLE bit of [`USER_ACCOUNT_CONTROL`] (MS-ADTS 2.2.16).
pub const UAC_ACCOUNTDISABLE: u32 = 0x2;

/// The container of the object, as a distinguished name: on create it picks
/// where the object goes; a changed value moves the object.
pub const PARENT: &str = "parentDistinguishedName";

/// The worker's manager: a reference to another object (a DN as written, or
/// the value of the manager's matching attribute, which the target resolves).
pub const MANAGER: &str = "manager";

/// Active Directory's password attribute (plain text in the mapping).
pub const UNICODE_PWD: &str = "unicodePwd";

/// The LDAP password attribute.
pub const USER_PASSWORD: &str = "userPassword";

/// The SCIM password attribute.
pub const PASSWORD: &str = "password";

/// The value written for "true" in [`ACCOUNT_DISABLED`].
pub const TRUE: &str = "True";

/// The value written for "false" in [`ACCOUNT_DISABLED`].
pub const FALSE: &str = "False";

/// Attribute names that are secrets on every target: written, but never
/// stored in hrsync's state or provisioning log and never printed.
pub const WELL_KNOWN_SECRETS: [&str; 3] = [UNICODE_PWD, USER_PASSWORD, PASSWORD];

/// Whether `name` is one of the [`WELL_KNOWN_SECRETS`] (compared
/// case-insensitively, as LDAP attribute names are). A target may declare
/// more with `Target::secret_attributes`.
pub fn is_secret(name: &str) -> bool {
    WELL_KNOWN_SECRETS.iter().any(|s| s.eq_ignore_ascii_case(name))
}

/// A flag value such as [`ACCOUNT_DISABLED`]'s: `"True"`/`"False"` in any
/// case, `"1"`/`"0"`, booleans, integers (non-zero is true); `null` and `""`
/// are false. `None` for anything else (the caller decides whether that is
/// an error).
pub fn flag(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::Null => Some(false),
        Value::String(s) if s.eq_ignore_ascii_case("true") || s == "1" => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") || s == "0" || s.is_empty() => {
            Some(false)
        }
        Value::Number(n) => n.as_i64().map(|n| n != 0),
        _ => None,
    }
}

/// The [`ACCOUNT_DISABLED`] value for a status.
pub fn flag_value(disabled: bool) -> Value {
    Value::String(if disabled { TRUE } else { FALSE }.to_owned())
}

/// Whether writing `value` to `attribute` takes an account out of use
/// (`Some(true)`) or back into it (`Some(false)`), whatever target carries
/// it: [`ACCOUNT_DISABLED`] read as a [`flag`], [`ACCOUNT_ENABLED`] read as
/// an inverted one, or the ACCOUNTDISABLE bit of
/// [`USER_ACCOUNT_CONTROL`]. `None` when the attribute says nothing about the
/// status, or the value is not understood or empty: removing the attribute
/// (`null`, `""`) is no statement about the account, so the engine's
/// deletion guard does not count it and the stored status stays as it was.
pub fn disabling(attribute: &str, value: &Value) -> Option<bool> {
    if attribute.eq_ignore_ascii_case(ACCOUNT_DISABLED) {
        return match value {
            Value::Null => None,
            Value::String(s) if s.is_empty() => None,
            v => flag(v),
        };
    }
    if attribute.eq_ignore_ascii_case(ACCOUNT_ENABLED) {
        return match value {
            Value::Null => None,
            Value::String(s) if s.is_empty() => None,
            v => flag(v).map(|enabled| !enabled),
        };
    }
    if attribute.eq_ignore_ascii_case(USER_ACCOUNT_CONTROL) {
        let n = match value {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }?;
        return Some(n & i64::from(UAC_ACCOUNTDISABLE) != 0);
    }
    None
}
