//! Which attribute changes take an account out of use, or back into it,
//! whatever target carries them: the accidental-deletion guard counts them
//! like disables, and the store records the account's status from them.

use serde_json::Value;

/// The cross-target pseudo-attribute that disables (`"True"`) or enables
/// (`"False"`) an account; each target turns it into its own mechanism
/// (AD `userAccountControl`, an LDAP attribute or move, SCIM `active`).
pub const ACCOUNT_DISABLED: &str = "accountDisabled";

/// AD's `userAccountControl` bit for a disabled account.
const UAC_ACCOUNTDISABLE: i64 = 0x2;

/// `Some(true)` when writing `value` to `attribute` disables the account,
/// `Some(false)` when it enables it, `None` when the attribute says nothing
/// about it (or the value is not understood).
pub fn disabling(attribute: &str, value: &Value) -> Option<bool> {
    if attribute.eq_ignore_ascii_case(ACCOUNT_DISABLED) {
        return match value {
            Value::Bool(b) => Some(*b),
            Value::String(s) if s.eq_ignore_ascii_case("true") || s == "1" => Some(true),
            Value::String(s) if s.eq_ignore_ascii_case("false") || s == "0" => Some(false),
            Value::Number(n) => n.as_i64().map(|n| n != 0),
            _ => None,
        };
    }
    if attribute.eq_ignore_ascii_case("userAccountControl") {
        let n = match value {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }?;
        return Some(n & UAC_ACCOUNTDISABLE != 0);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn conventions() {
        assert_eq!(disabling("accountDisabled", &json!("True")), Some(true));
        assert_eq!(disabling("AccountDisabled", &json!(false)), Some(false));
        assert_eq!(disabling("userAccountControl", &json!(514)), Some(true));
        assert_eq!(disabling("userAccountControl", &json!("512")), Some(false));
        assert_eq!(disabling("title", &json!("True")), None);
        assert_eq!(disabling("accountDisabled", &json!("maybe")), None);
    }
}
