//! Graph's documented value rules for users (graph-docs-contrib
//! `api-reference/v1.0/api/user-post-users.md`, `resources/user.md`), as
//! pure checks. Each error is the message the double puts in Graph's
//! `Request_BadRequest` body.

/// `userPrincipalName`: `alias@domain`, alias characters
/// `A-Z a-z 0-9 ' . - _ ! # ^ ~` only, domain one of the tenant's verified
/// domains (compared without case, as Entra does).
pub fn check_upn(upn: &str, verified_domains: &[String]) -> Result<(), String> {
    let Some((alias, domain)) = upn.rsplit_once('@') else {
        return Err(format!("Property userPrincipalName '{upn}' has no '@domain'."));
    };
    if alias.is_empty() {
        return Err("Property userPrincipalName has an empty alias.".into());
    }
    if let Some(bad) =
        alias.chars().find(|c| !(c.is_ascii_alphanumeric() || "'.-_!#^~".contains(*c)))
    {
        return Err(format!("Property userPrincipalName contains the invalid character '{bad}'."));
    }
    if !verified_domains.iter().any(|d| d.eq_ignore_ascii_case(domain)) {
        return Err(format!(
            "The domain portion of the userPrincipalName property is invalid. You must use one of the verified domain names in your organization: '{domain}' is not one."
        ));
    }
    Ok(())
}

/// `mailNickname`: none of `@ ( ) \ [ ] " ; : < > ,` or space.
pub fn check_mail_nickname(nick: &str) -> Result<(), String> {
    if nick.is_empty() {
        return Err("Property mailNickname is empty.".into());
    }
    match nick.chars().find(|c| "@()\\[]\";:<>, ".contains(*c)) {
        Some(bad) => Err(format!("Property mailNickname contains the invalid character '{bad}'.")),
        None => Ok(()),
    }
}

/// `employeeId`: at most 16 characters.
pub fn check_employee_id(id: &str) -> Result<(), String> {
    let n = id.chars().count();
    if n > 16 {
        return Err(format!("Property employeeId is {n} characters long; at most 16 are allowed."));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upn_rules() {
        let d = vec!["contoso.com".to_owned()];
        assert!(check_upn("o'neil.j-s_x!#^~9@contoso.com", &d).is_ok());
        assert!(check_upn("A@CONTOSO.COM", &d).is_ok());
        assert!(check_upn("a b@contoso.com", &d).is_err());
        assert!(check_upn("jürgen@contoso.com", &d).is_err());
        assert!(check_upn("a+b@contoso.com", &d).is_err());
        assert!(check_upn("a@fabrikam.com", &d).is_err());
        assert!(check_upn("nodomain", &d).is_err());
        assert!(check_upn("@contoso.com", &d).is_err());
    }

    #[test]
    fn mail_nickname_and_employee_id_rules() {
        assert!(check_mail_nickname("jane.doe").is_ok());
        for bad in ["jane doe", "a@b", "a;b", "a,b", "(a)", ""] {
            assert!(check_mail_nickname(bad).is_err(), "{bad}");
        }
        assert!(check_employee_id("1234567890123456").is_ok());
        assert!(check_employee_id("12345678901234567").is_err());
        assert!(check_employee_id("ääääääääääääääää").is_ok());
    }
}
