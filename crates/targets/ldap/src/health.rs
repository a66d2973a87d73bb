//! `check` of the LDAP target (`hrsync check`): connect and bind, whether
//! passwords can be sent (AD), the base DN and default container exist, and
//! whether the account may create objects there, without writing anything.

use hrsync_target::CheckStep;
use ldap3::Scope;

use crate::config::Profile;
use crate::request_builder::{AttrList, add_attribute, raw_values};
use crate::service::{Context, OpError, map_error, success};
use crate::target::LdapTarget;

/// OpenLDAP's No-Op control (draft-zeilenga-ldap-noop).
const NOOP_CONTROL: &str = "1.3.6.1.4.1.4203.666.5.2";

impl LdapTarget {
    /// Run the check steps; see [`Target::check`].
    pub(crate) async fn run_check(&self) -> Vec<CheckStep> {
        let c = &self.config;
        let mut steps = Vec::new();
        let step =
            |name: &str, ok: bool, detail: String| CheckStep { name: name.to_owned(), ok, detail };
        let tls = if c.url.to_ascii_lowercase().starts_with("ldaps://") {
            "LDAPS"
        } else if c.starttls {
            "StartTLS"
        } else {
            "no TLS"
        };
        match self.pool.connect().await {
            Ok(_) => steps.push(step(
                "connect and bind",
                true,
                format!("bound to {} as {:?} ({tls})", c.url, c.bind_dn),
            )),
            Err(e) => {
                let e = map_error(&Context { operation: "bind", dn: &c.bind_dn, id: None }, e);
                steps.push(step("connect and bind", false, e.to_string()));
                return steps;
            }
        }
        if c.profile == Profile::ActiveDirectory {
            steps.push(step(
                "protected connection (passwords)",
                c.is_protected(),
                if c.is_protected() {
                    format!("{tls}: unicodePwd can be set")
                } else {
                    "AD refuses unicodePwd without LDAPS or StartTLS".into()
                },
            ));
        }
        for (name, dn) in
            [("read base DN", c.base_dn.as_str()), ("read default container", c.container())]
        {
            match self.read_dn("check", dn).await {
                Ok(Some(_)) => steps.push(step(name, true, format!("{dn} exists"))),
                Ok(None) => steps.push(step(
                    name,
                    false,
                    format!("{dn} does not exist or is not visible to {}", c.bind_dn),
                )),
                Err(e) => steps.push(step(name, false, e.to_string())),
            }
        }
        steps.push(self.check_write(c.container()).await);
        steps
    }

    /// Whether the bound account may create objects in `container`, without
    /// creating one. AD: `allowedChildClassesEffective` lists the classes the
    /// account may create there. Others: an add with the No-Op control
    /// (OpenLDAP), which runs every check, access included, then discards
    /// the change: noOperation (16654) means yes, insufficientAccess (50) no.
    /// (An assertion control would not do: slapd tests it before access.)
    async fn check_write(&self, container: &str) -> CheckStep {
        let name = "write permission on default container";
        let step = |ok: bool, detail: String| CheckStep { name: name.to_owned(), ok, detail };
        let classes = self.config.classes();
        let class = classes.last().cloned().unwrap_or_default();
        if self.config.profile == Profile::ActiveDirectory {
            let attrs = ["allowedChildClassesEffective".to_owned()];
            return match self
                .search("check", container, Scope::Base, "(objectClass=*)", &attrs)
                .await
            {
                Ok(v) => {
                    let allowed = v
                        .first()
                        .map(|e| raw_values(e, "allowedChildClassesEffective"))
                        .unwrap_or_default();
                    let ok = allowed
                        .iter()
                        .any(|a| String::from_utf8_lossy(a).eq_ignore_ascii_case(&class));
                    step(
                        ok,
                        if ok {
                            format!("may create {class} objects in {container}")
                        } else {
                            format!("may not create {class} objects in {container}")
                        },
                    )
                }
                Err(e) => step(false, e.to_string()),
            };
        }
        // slapd 2.5's back-mdb registers an attribute the database has never
        // stored inside the write transaction of the add; a No-Op add
        // discards that transaction but keeps the registration, and every
        // later modify of an entry with that attribute then fails (seen on
        // 2.5.13: "object class 'inetOrgPerson' requires attribute 'sn'" for
        // entries created after a check of an empty directory). So the probe
        // is sent only when each of its attributes is already stored.
        // (objectClass is on every entry, the base DN's too.)
        let probe_attrs = [self.config.naming_attribute.as_str(), "sn"];
        for attr in probe_attrs {
            match self.stored_anywhere(attr).await {
                Ok(true) => {}
                Ok(false) => {
                    return step(
                        false,
                        format!(
                            "not verified: no entry under {} has {attr} yet, and a No-Op add on such a directory breaks OpenLDAP's back-mdb (later modifies fail); run check again after the first entry with {attr} exists. The check writes nothing",
                            self.config.base_dn
                        ),
                    );
                }
                Err(e) => return step(false, e.to_string()),
            }
        }
        let probe = format!("{}=hrsync-check-probe,{container}", self.config.naming_attribute);
        let attrs: AttrList = vec![
            add_attribute("objectClass", classes.iter().map(|c| c.clone().into_bytes())),
            add_attribute(&self.config.naming_attribute, [b"hrsync-check-probe".to_vec()]),
            add_attribute("sn", [b"probe".to_vec()]),
        ];
        let r = self
            .pool
            .run(false, |mut l| {
                let attrs = attrs.clone();
                let probe = probe.clone();
                async move {
                    let noop = ldap3::controls::RawControl {
                        ctype: NOOP_CONTROL.into(),
                        crit: true,
                        val: None,
                    };
                    let r = l.with_controls(noop).add(&probe, attrs).await?;
                    Ok(r)
                }
            })
            .await;
        match r {
            Ok(r) if r.rc == 16654 => step(
                true,
                format!("may create {class} objects in {container} (No-Op probe, nothing written)"),
            ),
            Ok(r) if r.rc == 12 => step(
                false,
                format!(
                    "not verified: the server does not support the No-Op control ({NOOP_CONTROL}): {}; the check writes nothing",
                    r.text
                ),
            ),
            Ok(r) if r.rc == 50 => {
                step(false, format!("may not create objects in {container}: {}", r.text))
            }
            Ok(r) if r.rc == 0 => {
                // The server ignored the control: remove the probe again.
                let _ = self
                    .pool
                    .run(false, |mut l| {
                        let probe = probe.clone();
                        async move { success(l.delete(&probe).await?) }
                    })
                    .await;
                step(
                    true,
                    format!(
                        "may create objects in {container} (the server ignored the No-Op control; the probe was removed)"
                    ),
                )
            }
            Ok(r) => step(
                false,
                format!(
                    "probe add in {container}: {} ({}): {}",
                    crate::service::code_name(r.rc),
                    r.rc,
                    r.text
                ),
            ),
            Err(e) => step(
                false,
                map_error(&Context { operation: "check", dn: &probe, id: None }, e).to_string(),
            ),
        }
    }
}

impl LdapTarget {
    /// Whether some entry under the base DN holds `attr` (one entry is enough).
    async fn stored_anywhere(&self, attr: &str) -> Result<bool, hrsync_target::TargetError> {
        let base = self.config.base_dn.clone();
        let filter = format!("({attr}=*)");
        self.pool
            .run(true, |mut l| {
                let base = base.clone();
                let filter = filter.clone();
                async move {
                    let r = l
                        .with_search_options(ldap3::SearchOptions::new().sizelimit(1))
                        .search(&base, Scope::Subtree, &filter, vec!["1.1"])
                        .await?;
                    // sizeLimitExceeded (4): more than one entry matched, a yes.
                    if r.1.rc == 0 || r.1.rc == 4 {
                        Ok(!r.0.is_empty())
                    } else {
                        Err(OpError::Server(r.1))
                    }
                }
            })
            .await
            .map_err(|e| map_error(&Context { operation: "check", dn: &base, id: None }, e))
    }
}
