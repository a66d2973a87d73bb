//! `is_taken` remembers values it saw taken (and values it created) but
//! never remembers a free value: against a real slapd, with entries added
//! and deleted behind the target's back.

use hrsync_target::{Attributes, Target};
use hrsync_target_ldap::{LdapConfig, LdapTarget, Profile};
use hrsync_testkit::Slapd;
use secrecy::SecretString;
use serde_json::json;

#[tokio::test]
async fn taken_values_are_remembered_free_ones_are_not() {
    let s = Slapd::shared().expect("slapd");
    let ou = format!("ou=taken-cache,{}", s.suffix());
    s.add_ldif(&format!("dn: {ou}\nobjectClass: organizationalUnit\nou: taken-cache\n"))
        .expect("OU");
    let mut c = LdapConfig::new(
        s.url(),
        s.service_dn(),
        SecretString::from(s.service_password()),
        ou.clone(),
        Profile::InetOrgPerson,
    );
    c.default_container = Some(ou.clone());
    let t = LdapTarget::new(c).expect("config");

    // Free, then taken by someone else: a free answer is not remembered.
    assert!(!t.is_taken("uid", "ext.user", None).await.expect("search"));
    let ext = format!("cn=Ext User,{ou}");
    s.add_ldif(&format!(
        "dn: {ext}\nobjectClass: inetOrgPerson\ncn: Ext User\nsn: User\nuid: ext.user\n"
    ))
    .expect("add");
    assert!(t.is_taken("uid", "ext.user", None).await.expect("search"));

    // Deleted behind our back: still reported taken (a later candidate is
    // used: never a duplicate); asking with except_id searches again.
    s.modify_ldif(&format!("dn: {ext}\nchangetype: delete\n")).expect("delete");
    assert!(
        t.is_taken("uid", "EXT.USER", None).await.expect("cached"),
        "remembered, case-insensitively"
    );
    assert!(
        !t.is_taken("uid", "ext.user", Some("00000000-0000-0000-0000-000000000000"))
            .await
            .expect("search")
    );

    // A value this target creates is taken from then on.
    let mut a = Attributes::new();
    for (k, v) in
        [("cn", "Own User"), ("sn", "User"), ("uid", "own.user"), ("employeeNumber", "tc-1")]
    {
        a.insert(k.into(), json!(v));
    }
    let created = t.create(&a).await.expect("create");
    assert!(t.is_taken("uid", "own.user", None).await.expect("taken"));
    assert!(
        !t.is_taken("uid", "own.user", Some(&created.id)).await.expect("search"),
        "except the object itself"
    );
    assert!(!t.is_taken("uid", "other.user", None).await.expect("search"));
}
