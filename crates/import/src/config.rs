//! The `hrsync.toml` written next to the mapping: the source (a placeholder
//! pointing at hrsync's SuccessFactors emulator), the target kind from the
//! target directory, the flow (mapping file, actions from `flowTypes`) and
//! the matching order, each commented with where it came from.

use serde_json::Value;

use crate::{MAPPING_FILE, toml_str};

/// The hrsync target an Entra target directory corresponds to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetKind {
    /// On-premises Active Directory: `kind = "ldap"`, AD profile.
    ActiveDirectory,
    /// Another LDAP directory (Entra's ECMA host "Generic LDAP" connector):
    /// `kind = "ldap"`, inetOrgPerson profile.
    Ldap,
    /// Microsoft Entra ID: `kind = "graph"`.
    EntraId,
    /// Any other app: Entra provisions apps over SCIM 2.0.
    Scim,
}

/// Classifies the target directory by its name (Entra names them
/// "Active Directory", "Azure Active Directory" / "Microsoft Entra ID", and
/// the app's name for SCIM apps; any name with "LDAP" in it is taken for
/// the generic LDAP connector).
pub fn target_kind(name: &str) -> TargetKind {
    let n = name.to_ascii_lowercase();
    if n.contains("azure active directory")
        || n.contains("entra")
        || n.contains("azure ad")
        || n == "aad"
    {
        TargetKind::EntraId
    } else if n.contains("active directory") || n == "ad" {
        TargetKind::ActiveDirectory
    } else if n.contains("ldap") {
        TargetKind::Ldap
    } else {
        TargetKind::Scim
    }
}

/// What the config is made from.
pub(crate) struct ConfigInput<'a> {
    pub rule_label: String,
    pub source_name: &'a str,
    pub target_name: Option<&'a str>,
    /// `flowTypes` of the first objectMapping and its JSON path.
    pub flow_types: Option<(&'a Value, String)>,
    /// (matching precedence, target attribute, JSON path), unsorted.
    pub matching: Vec<(u32, String, String)>,
}

/// Entra's target object actions to hrsync's: Add -> create,
/// Update -> update, Delete -> disable (Entra deprovisions HR-driven
/// accounts by disabling them; hrsync's `delete` stays off).
fn actions(input: &ConfigInput<'_>, warnings: &mut Vec<String>) -> (Vec<&'static str>, String) {
    let Some((v, path)) = &input.flow_types else {
        return (
            vec!["create", "update", "disable"],
            "# flowTypes not given: Entra's default \"Add, Update, Delete\"\n".to_string(),
        );
    };
    let Some(text) = v.as_str() else {
        warnings.push(format!(
            "{path}: not a string ({v}); Entra's default \"Add, Update, Delete\" used"
        ));
        return (vec!["create", "update", "disable"], format!("# {path} unreadable: default\n"));
    };
    let mut out = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let a = match part.to_ascii_lowercase().as_str() {
            "add" => "create",
            "update" => "update",
            "delete" => "disable",
            _ => {
                warnings.push(format!(
                    "{path}: target object action {part:?} unknown (Add, Update, Delete); not carried"
                ));
                continue;
            }
        };
        if !out.contains(&a) {
            out.push(a);
        }
    }
    (
        out,
        format!(
            "# from {path} = {text:?} (Add -> create, Update -> update, Delete -> disable:\n# Entra deprovisions by disabling; add \"delete\" to remove accounts instead)\n"
        ),
    )
}

/// The config TOML.
pub(crate) fn config_toml(input: &ConfigInput<'_>, warnings: &mut Vec<String>) -> String {
    let mut t = String::new();
    t.push_str(&format!(
        "# hrsync configuration imported by `hrsync import entra-schema` from\n# {} ({} -> {}).\n# Placeholders to replace before a real run are marked TODO.\n\n",
        input.rule_label,
        input.source_name,
        input.target_name.unwrap_or("?")
    ));
    t.push_str(&format!(
        "# --- source: the schema's source directory {:?} ---\n",
        input.source_name
    ));
    t.push_str(
        "# The export holds no SuccessFactors address or credentials. These settings\n\
         # point at hrsync's SuccessFactors emulator (`hrsync emulator`, its\n\
         # defaults) for a first `hrsync plan --full`. TODO: your API server (https),\n\
         # company id and an OAuth method (`hrsync init` writes a commented example).\n",
    );
    t.push_str("[source]\n");
    t.push_str("url = \"http://127.0.0.1:8080\"\n");
    t.push_str("company_id = \"HRSYNCTEST\"\n");
    t.push_str("page_size = 500\n");
    t.push_str("[source.auth]\n");
    t.push_str("method = \"basic\"\n");
    t.push_str("username = \"sfapi\"\n");
    t.push_str("password_env = \"HRSYNC_SF_PASSWORD\"\n\n");

    let kind = input.target_name.map_or(TargetKind::Scim, target_kind);
    t.push_str(&format!(
        "# --- target: the schema's target directory {:?} ---\n",
        input.target_name.unwrap_or("?")
    ));
    match kind {
        TargetKind::ActiveDirectory => {
            t.push_str(
                "# Active Directory: hrsync's ldap target with the AD profile (sAMAccountName,\n\
                 # userAccountControl, unicodePwd rules, parentDistinguishedName placement).\n\
                 # TODO: your domain controller, service account and base DN.\n",
            );
            t.push_str("[target]\nkind = \"ldap\"\n[target.connection]\n");
            t.push_str("url = \"ldaps://dc.contoso.com\"\n");
            t.push_str("bind_dn = \"CN=hrsync,OU=Service Accounts,DC=contoso,DC=com\"\n");
            t.push_str("password_env = \"HRSYNC_AD_PASSWORD\"\n");
            t.push_str("base_dn = \"DC=contoso,DC=com\"\n");
            t.push_str("profile = \"active-directory\"\n\n");
        }
        TargetKind::Ldap => {
            t.push_str(
                "# An LDAP directory: hrsync's ldap target with the inetOrgPerson profile\n\
                 # (OpenLDAP and friends). TODO: your server, bind DN and base DN.\n",
            );
            t.push_str("[target]\nkind = \"ldap\"\n[target.connection]\n");
            t.push_str("url = \"ldaps://ldap.example.org\"\n");
            t.push_str("bind_dn = \"cn=hrsync,ou=services,dc=example,dc=org\"\n");
            t.push_str("password_env = \"HRSYNC_LDAP_PASSWORD\"\n");
            t.push_str("base_dn = \"dc=example,dc=org\"\n");
            t.push_str("profile = \"inet-org-person\"\n\n");
        }
        TargetKind::EntraId => {
            t.push_str(
                "# Entra ID: hrsync's graph target (Microsoft Graph v1.0 users).\n\
                 # TODO: your tenant, the app registration's client id, its certificate\n\
                 # and private key, and a verified domain for userPrincipalName.\n",
            );
            t.push_str("[target]\nkind = \"graph\"\n[target.connection]\n");
            t.push_str("tenant_id = \"contoso.onmicrosoft.com\"\n");
            t.push_str("client_id = \"00000000-0000-0000-0000-000000000000\"\n");
            t.push_str("certificate_file = \"keys/graph-certificate.pem\"\n");
            t.push_str("private_key_file = \"keys/graph-private-key.pem\"\n");
            t.push_str("domain = \"contoso.com\"\n\n");
        }
        TargetKind::Scim => {
            t.push_str(
                "# An app Entra provisions over SCIM 2.0: hrsync's scim target.\n\
                 # TODO: the app's SCIM base URL and its secret token.\n",
            );
            t.push_str("[target]\nkind = \"scim\"\n[target.connection]\n");
            t.push_str("url = \"https://app.example.com/scim/v2\"\n");
            t.push_str("token_env = \"HRSYNC_SCIM_TOKEN\"\n");
            if input.target_name.is_some_and(|n| n.to_ascii_lowercase().contains("salesforce")) {
                t.push_str("# Salesforce: its required user fields are checked before sending.\n");
                t.push_str("profile = \"salesforce\"\n");
            }
            t.push('\n');
        }
    }

    t.push_str("# --- flow ---\n[flow]\n");
    t.push_str("# The attribute mappings, source attributes and scoping filter.\n");
    t.push_str(&format!("mapping = {}\n", toml_str(MAPPING_FILE)));
    t.push_str("# Entra evaluates dates in UTC; TODO: your HR time zone if it differs.\n");
    t.push_str("time_zone = \"UTC\"\n");
    let (acts, comment) = actions(input, warnings);
    t.push_str(&comment);
    let list: Vec<String> = acts.iter().map(|a| toml_str(a)).collect();
    t.push_str(&format!("actions = [{}]\n", list.join(", ")));
    let mut matching = input.matching.clone();
    matching.sort();
    if matching.is_empty() {
        t.push_str("# No matchingPriority > 0 in the schema: hrsync matches on nothing.\n");
    } else {
        t.push_str(
            "# Matching (matchingPriority, lowest first, `matching = N` in mapping.toml):\n",
        );
        for (p, target, path) in &matching {
            t.push_str(&format!("#   {p}. {target} (from {path})\n"));
        }
    }
    t.push_str("\n[state]\npath = \"hrsync-state.sqlite\"\n");
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_kinds_and_actions() {
        for (name, kind) in [
            ("Active Directory", TargetKind::ActiveDirectory),
            ("Azure Active Directory", TargetKind::EntraId),
            ("Microsoft Entra ID", TargetKind::EntraId),
            ("salesforce.com", TargetKind::Scim),
            ("Generic LDAP", TargetKind::Ldap),
        ] {
            assert_eq!(target_kind(name), kind, "{name}");
        }
        let v = Value::String("Add, Update, Delete, Merge".into());
        let input = ConfigInput {
            rule_label: "r".into(),
            source_name: "SuccessFactors",
            target_name: Some("Active Directory"),
            flow_types: Some((&v, "x.flowTypes".into())),
            matching: vec![],
        };
        let mut w = Vec::new();
        let (acts, _) = actions(&input, &mut w);
        assert_eq!(acts, ["create", "update", "disable"]);
        assert!(
            w.len() == 1 && w[0].starts_with("x.flowTypes:") && w[0].contains("Merge"),
            "{w:?}"
        );
    }
}
