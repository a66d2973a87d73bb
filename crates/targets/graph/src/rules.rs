//! Microsoft Graph's documented rules for the properties of a user, as
//! [`Requirement`]s the engine checks before anything is sent (pure; no
//! I/O), so `hrsync check` and `hrsync plan` report per worker what Entra ID
//! would refuse with a 400.
//!
//! Sources (Microsoft Learn):
//! - the `user` resource type (`graph/api/resources/user`): required
//!   properties, maximum lengths, the UPN character set and verified
//!   domain, read-only properties;
//! - "Password policies and account restrictions in Microsoft Entra ID"
//!   (`entra/identity/authentication/concept-sspr-policy`), username
//!   policies: the UPN characters, no `@` but the separator, no `.`
//!   immediately before the `@`, at most 113 characters in all, 64 before
//!   the `@` and 48 after it;
//! - "Update user" (`graph/api/user-update`): the profile properties an
//!   app-only caller cannot set (aboutMe, birthday, hireDate, interests,
//!   mySite, pastProjects, preferredName, responsibilities, schools,
//!   skills);
//! - the `group` resource type for the `mailNickname` character set (ASCII
//!   0-127 except `@ () \ [] " ; : <> ,` and space): the user page states
//!   only its 64-character limit, and Graph refuses the same characters for
//!   a user's alias ("Invalid value specified for property 'mailNickname'").
//!
//! Not checked here: `accountEnabled` and `passwordProfile` are required by
//! `POST /users`, but the target supplies them itself
//! ([`crate::request_builder::create_body`] defaults `accountEnabled` to
//! `true` and generates the password), so a mapping need not write them;
//! `onPremisesImmutableId` is required only for federated UPN domains,
//! which hrsync does not know; `businessPhones` holds at most one number;
//! the extension attributes of an on-premises synced user are read-only,
//! which depends on the account, not the mapping.

use hrsync_target::requirements::{Requirement, Rule};

/// Characters a UPN may contain besides ASCII letters and digits (the `@`
/// separating the user name from the domain is checked by
/// [`Rule::Address`]).
pub const UPN_CHARACTERS: &str = "'.-_!#^~@";
/// Characters a mailNickname may not contain (besides non-ASCII and
/// control characters).
pub const MAIL_NICKNAME_FORBIDDEN: &str = "@()\\[]\";:<>, ";
/// Graph's limit of an employeeId.
pub const EMPLOYEE_ID_MAX: usize = 16;
/// The number of `onPremisesExtensionAttributes.extensionAttributeN`.
pub const EXTENSION_ATTRIBUTES: usize = 15;

/// Maximum lengths the `user` resource documents, by property.
const MAX_LENGTHS: &[(&str, usize)] = &[
    ("displayName", 256),
    ("givenName", 64),
    ("surname", 64),
    ("jobTitle", 128),
    ("department", 64),
    ("companyName", 64),
    ("city", 128),
    ("state", 128),
    ("country", 128),
    ("postalCode", 40),
    ("streetAddress", 1024),
    ("mobilePhone", 64),
    ("otherMails", 250),
];

/// Properties the service owns (documented "Read-only"), or that Graph
/// does not let a client write through the user object.
const READ_ONLY: &[(&str, &str)] = &[
    ("id", "read-only, assigned by the directory"),
    ("createdDateTime", "read-only, set when the user is created"),
    ("creationType", "read-only"),
    ("deletedDateTime", "set by the directory when the user is deleted"),
    ("lastPasswordChangeDateTime", "set by the directory"),
    ("assignedPlans", "read-only"),
    ("provisionedPlans", "read-only"),
    ("licenseAssignmentStates", "read-only"),
    ("imAddresses", "read-only"),
    (
        "legalAgeGroupClassification",
        "read-only, computed from ageGroup and consentProvidedForMinor",
    ),
    ("proxyAddresses", "read-only in Microsoft Graph (changes to mail update it)"),
    ("refreshTokensValidFromDateTime", "read-only"),
    ("signInSessionsValidFromDateTime", "read-only (reset with revokeSignInSessions)"),
    ("signInActivity", "read-only"),
    ("securityIdentifier", "read-only"),
    ("externalUserState", "set by the invitation API"),
    ("externalUserStateChangeDateTime", "set by the invitation API"),
    ("onPremisesDistinguishedName", "read-only, synchronized from on-premises AD"),
    ("onPremisesDomainName", "read-only, synchronized from on-premises AD"),
    ("onPremisesLastSyncDateTime", "read-only, synchronized from on-premises AD"),
    ("onPremisesSamAccountName", "read-only, synchronized from on-premises AD"),
    ("onPremisesSecurityIdentifier", "read-only, synchronized from on-premises AD"),
    ("onPremisesSyncEnabled", "read-only, set by directory synchronization"),
    ("onPremisesUserPrincipalName", "read-only, synchronized from on-premises AD"),
    ("onPremisesProvisioningErrors", "read-only, reported by directory synchronization"),
    ("serviceProvisioningErrors", "read-only, reported by federated services"),
    (
        "showInAddressList",
        "not to be set through Microsoft Graph (managed in the Microsoft 365 admin center)",
    ),
];

/// Profile properties only a delegated (signed-in user) caller may set;
/// hrsync calls Graph app-only.
const DELEGATED_ONLY: &[&str] = &[
    "aboutMe",
    "birthday",
    "hireDate",
    "interests",
    "mySite",
    "pastProjects",
    "preferredName",
    "responsibilities",
    "schools",
    "skills",
];

fn req(attribute: &str, rule: Rule, by: String) -> Requirement {
    Requirement { attribute: attribute.to_owned(), rule, by }
}

/// Graph's rules for a user's properties. `verified_domains` are the
/// tenant's verified domains (`GET /domains`, `isVerified`); when empty the
/// UPN domain is not checked.
pub fn requirements(verified_domains: &[String]) -> Vec<Requirement> {
    let by = |what: &str| format!("Microsoft Graph: {what}");
    let mut out = Vec::new();

    for attribute in ["displayName", "mailNickname", "userPrincipalName"] {
        out.push(req(attribute, Rule::Required, by(&format!("{attribute} is required on create"))));
    }

    // userPrincipalName: Entra ID username policies.
    let upn = "userPrincipalName";
    out.push(req(
        upn,
        Rule::AllowedChars(UPN_CHARACTERS.into()),
        by("userPrincipalName characters"),
    ));
    out.push(req(
        upn,
        Rule::Address { local_max: 64, domain_max: 48 },
        by("userPrincipalName format (one @, at most 64 characters before it and 48 after)"),
    ));
    out.push(req(
        upn,
        Rule::Excludes(".@".into()),
        by("userPrincipalName may not end its user name with a period"),
    ));
    out.push(req(upn, Rule::MaxLength(113), by("userPrincipalName length")));
    if !verified_domains.is_empty() {
        out.push(req(
            upn,
            Rule::DomainOneOf(verified_domains.to_vec()),
            by("userPrincipalName domain must be a verified domain of the tenant"),
        ));
    }

    let nick = "mailNickname";
    out.push(req(nick, Rule::Ascii, by("mailNickname characters")));
    out.push(req(
        nick,
        Rule::ForbiddenChars(MAIL_NICKNAME_FORBIDDEN.into()),
        by("mailNickname characters"),
    ));
    out.push(req(nick, Rule::MaxLength(64), by("mailNickname length")));

    out.push(req("employeeId", Rule::MaxLength(EMPLOYEE_ID_MAX), by("employeeId length")));
    for (attribute, max) in MAX_LENGTHS {
        out.push(req(attribute, Rule::MaxLength(*max), by(&format!("{attribute} length"))));
    }
    out.push(req("mail", Rule::Ascii, by("mail can't contain accent characters")));
    out.push(req("otherMails", Rule::Ascii, by("otherMails can't contain accent characters")));
    out.push(req(
        "onPremisesImmutableId",
        Rule::ForbiddenChars("$_".into()),
        by("onPremisesImmutableId can't contain $ or _"),
    ));
    out.push(req(
        "usageLocation",
        Rule::MaxLength(2),
        by("usageLocation is a two-letter country code"),
    ));
    out.push(req(
        "usageLocation",
        Rule::AllowedChars(String::new()),
        by("usageLocation is a two-letter country code"),
    ));
    for n in 1..=EXTENSION_ATTRIBUTES {
        let attribute = format!("onPremisesExtensionAttributes.extensionAttribute{n}");
        out.push(req(
            &attribute,
            Rule::MaxLength(1024),
            by(&format!("extensionAttribute{n} length (Exchange custom attribute)")),
        ));
    }

    for (attribute, why) in READ_ONLY {
        out.push(req(attribute, Rule::ReadOnly, by(&format!("{attribute} is {why}"))));
    }
    for attribute in DELEGATED_ONLY {
        out.push(req(
            attribute,
            Rule::ReadOnly,
            by(&format!(
                "{attribute} can't be set by an app-only caller (only by a signed-in user)"
            )),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use hrsync_target::Attributes;
    use hrsync_target::requirements::{Violation, unmapped, violations};
    use proptest::prelude::*;
    use serde_json::{Value, json};

    fn domains() -> Vec<String> {
        vec!["contoso.com".into(), "contoso.onmicrosoft.com".into()]
    }

    fn valid() -> Attributes {
        [
            ("displayName", json!("Jürgen Müller")),
            ("mailNickname", json!("juergen.mueller")),
            ("userPrincipalName", json!("juergen.mueller@contoso.com")),
            ("employeeId", json!("1001")),
            ("jobTitle", json!("Engineer")),
            ("accountEnabled", json!(true)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    fn with(pairs: &[(&str, Value)]) -> Attributes {
        let mut a = valid();
        for (k, v) in pairs {
            a.insert((*k).to_owned(), v.clone());
        }
        a
    }

    fn create(a: &Attributes) -> Vec<Violation> {
        violations(&requirements(&domains()), a, true)
    }

    /// The only violation is on `attribute`, and its cause contains `text`.
    fn refused(v: &[Violation], attribute: &str, text: &str) {
        assert!(!v.is_empty(), "expected a violation on {attribute}");
        assert!(v.iter().all(|x| x.attribute == attribute), "{v:?}");
        assert!(v.iter().any(|x| x.cause.contains(text)), "{text:?} not in {v:?}");
    }

    #[test]
    fn a_valid_user_passes() {
        assert_eq!(create(&valid()), vec![]);
        let ok = with(&[
            ("userPrincipalName", json!("o'brien_j-x!#^~@Contoso.COM")),
            ("employeeId", json!("1234567890123456")),
            ("onPremisesExtensionAttributes.extensionAttribute15", json!("x".repeat(1024))),
            ("usageLocation", json!("DE")),
        ]);
        assert_eq!(create(&ok), vec![]);
    }

    #[test]
    fn required_properties_must_be_mapped() {
        let r = requirements(&[]);
        let missing: Vec<&str> =
            unmapped(&r, &["displayName"]).iter().map(|r| r.attribute.as_str()).collect();
        assert_eq!(missing, ["mailNickname", "userPrincipalName"]);
        let mut a = valid();
        a.remove("mailNickname");
        refused(&create(&a), "mailNickname", "Microsoft Graph: mailNickname is required on create");
        // An update may not clear the display name.
        let clear: Attributes = [("displayName".to_owned(), Value::Null)].into_iter().collect();
        refused(&violations(&r, &clear, false), "displayName", "required");
    }

    #[test]
    fn upn_with_a_space_or_an_umlaut_is_refused() {
        let v = create(&with(&[("userPrincipalName", json!("juergen mueller@contoso.com"))]));
        refused(&v, "userPrincipalName", "Microsoft Graph: userPrincipalName characters");
        assert!(v[0].cause.contains("' '"), "{v:?}");
        let v = create(&with(&[("userPrincipalName", json!("jürgen@contoso.com"))]));
        refused(&v, "userPrincipalName", "'ü'");
        let v = create(&with(&[("userPrincipalName", json!("a&b@contoso.com"))]));
        refused(&v, "userPrincipalName", "'&'");
    }

    #[test]
    fn upn_with_two_at_signs_or_none_is_refused() {
        let v = create(&with(&[("userPrincipalName", json!("a@b@contoso.com"))]));
        refused(&v, "userPrincipalName", "more than one @");
        let v = create(&with(&[("userPrincipalName", json!("juergen.mueller"))]));
        refused(&v, "userPrincipalName", "has no @");
    }

    #[test]
    fn upn_in_an_unverified_domain_is_refused() {
        let v = create(&with(&[("userPrincipalName", json!("j@fabrikam.com"))]));
        refused(&v, "userPrincipalName", "\"fabrikam.com\"");
        assert!(v[0].cause.contains("verified domain") && v[0].cause.contains("contoso.com"));
        // Subdomains are domains of their own.
        refused(
            &create(&with(&[("userPrincipalName", json!("j@sales.contoso.com"))])),
            "userPrincipalName",
            "verified domain",
        );
        // Without configured domains the domain is not checked.
        let a = with(&[("userPrincipalName", json!("j@fabrikam.com"))]);
        assert_eq!(violations(&requirements(&[]), &a, true), vec![]);
    }

    #[test]
    fn upn_lengths_and_the_period_before_the_at() {
        let local = "a".repeat(65);
        refused(
            &create(&with(&[("userPrincipalName", json!(format!("{local}@contoso.com")))])),
            "userPrincipalName",
            "65 characters before the @",
        );
        assert_eq!(
            create(&with(&[(
                "userPrincipalName",
                json!(format!("{}@contoso.com", "a".repeat(64)))
            )])),
            vec![]
        );
        // 64 + 1 + 48 = 113 is the most; the domain part beyond 48 is refused.
        let long_domain = format!("{}.com", "d".repeat(44));
        let d = vec![long_domain.clone()];
        let a = with(&[("userPrincipalName", json!(format!("{}@{long_domain}", "a".repeat(64))))]);
        assert_eq!(violations(&requirements(&d), &a, true), vec![]);
        let longer = format!("{}.com", "d".repeat(45));
        let a = with(&[("userPrincipalName", json!(format!("a@{longer}")))]);
        refused(
            &violations(&requirements(&[]), &a, true),
            "userPrincipalName",
            "49 characters after",
        );
        refused(
            &create(&with(&[("userPrincipalName", json!("juergen.@contoso.com"))])),
            "userPrincipalName",
            "period",
        );
    }

    #[test]
    fn employee_id_of_17_characters_is_refused() {
        let v = create(&with(&[("employeeId", json!("12345678901234567"))]));
        refused(&v, "employeeId", "17 characters");
        assert!(
            v[0].cause.contains("at most 16") && v[0].cause.contains("Microsoft Graph: employeeId")
        );
    }

    #[test]
    fn mail_nickname_characters_and_length() {
        for bad in
            ["juergen mueller", "j@m", "j(m)", "j\\m", "j[m]", "j\"m", "j;m", "j:m", "j<m>", "j,m"]
        {
            let v = create(&with(&[("mailNickname", json!(bad))]));
            refused(&v, "mailNickname", "Microsoft Graph: mailNickname characters");
        }
        refused(&create(&with(&[("mailNickname", json!("jürgen"))])), "mailNickname", "ASCII");
        refused(
            &create(&with(&[("mailNickname", json!("a".repeat(65)))])),
            "mailNickname",
            "at most 64",
        );
        assert_eq!(create(&with(&[("mailNickname", json!("j.m-1_x'~"))])), vec![]);
    }

    #[test]
    fn documented_maximum_lengths() {
        refused(
            &create(&with(&[("displayName", json!("x".repeat(257)))])),
            "displayName",
            "at most 256",
        );
        refused(&create(&with(&[("jobTitle", json!("x".repeat(129)))])), "jobTitle", "at most 128");
        refused(
            &create(&with(&[("department", json!("x".repeat(65)))])),
            "department",
            "at most 64",
        );
        refused(
            &create(&with(&[("postalCode", json!("x".repeat(41)))])),
            "postalCode",
            "at most 40",
        );
        refused(
            &create(&with(&[(
                "onPremisesExtensionAttributes.extensionAttribute3",
                json!("x".repeat(1025)),
            )])),
            "onPremisesExtensionAttributes.extensionAttribute3",
            "at most 1024",
        );
        refused(&create(&with(&[("usageLocation", json!("DEU"))])), "usageLocation", "at most 2");
    }

    #[test]
    fn read_only_and_delegated_only_properties_are_refused() {
        let v = create(&with(&[("createdDateTime", json!("2020-01-01T00:00:00Z"))]));
        refused(&v, "createdDateTime", "Microsoft Graph: createdDateTime is read-only");
        refused(
            &create(&with(&[("onPremisesSamAccountName", json!("jm"))])),
            "onPremisesSamAccountName",
            "on-premises",
        );
        refused(
            &create(&with(&[("signInActivity", json!({"lastSignInDateTime": "x"}))])),
            "signInActivity",
            "read-only",
        );
        let v = create(&with(&[("birthday", json!("1990-01-01T00:00:00Z"))]));
        refused(&v, "birthday", "app-only");
        // On update, clearing one is a write too.
        let clear: Attributes = [("skills".to_owned(), Value::Null)].into_iter().collect();
        refused(&violations(&requirements(&[]), &clear, false), "skills", "app-only");
    }

    #[test]
    fn immutable_id_forbids_dollar_and_underscore() {
        refused(
            &create(&with(&[("onPremisesImmutableId", json!("ab_c"))])),
            "onPremisesImmutableId",
            "'_'",
        );
        refused(
            &create(&with(&[("onPremisesImmutableId", json!("ab$c"))])),
            "onPremisesImmutableId",
            "'$'",
        );
        assert_eq!(create(&with(&[("onPremisesImmutableId", json!("aGVsbG8="))])), vec![]);
    }

    proptest! {
        /// A UPN of allowed characters, at most 64 before the @, not ending
        /// its user name with a period, in a verified domain, passes; the
        /// same with any character outside the set does not.
        #[test]
        fn upns_of_the_allowed_alphabet_pass(
            local in "[A-Za-z0-9'_!#^~-][A-Za-z0-9'._!#^~-]{0,62}[A-Za-z0-9'_!#^~-]",
            bad in proptest::char::any().prop_filter("outside the set", |c| {
                !c.is_ascii_alphanumeric() && !UPN_CHARACTERS.contains(*c)
            }),
        ) {
            let ok = with(&[("userPrincipalName", json!(format!("{local}@contoso.com")))]);
            prop_assert_eq!(create(&ok), vec![]);
            let refused = with(&[("userPrincipalName", json!(format!("{local}{bad}@contoso.com")))]);
            prop_assert!(!create(&refused).is_empty());
        }
    }

    #[test]
    fn every_requirement_names_microsoft_graph() {
        for r in requirements(&domains()) {
            assert!(r.by.starts_with("Microsoft Graph: "), "{r:?}");
        }
    }
}
