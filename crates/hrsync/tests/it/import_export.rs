//! `hrsync export entra-schema` through the binary: a built-in or a
//! config's flow written as a synchronizationSchema, what Entra cannot
//! express warned with its config path, bad input exit 2 with nothing
//! written.

use std::path::Path;
use std::process::{Command, Output};

use crate::common::{BIN, TempDir, text};
use crate::import_cli::{fixture, import};

pub fn export(args: &[&str]) -> Output {
    Command::new(BIN).args(["export", "entra-schema"]).args(args).output().expect("run hrsync")
}

fn path(p: &Path) -> &str {
    p.to_str().expect("UTF-8 temp path")
}

#[test]
fn a_builtin_exports_to_stdout_and_bad_input_exits_2() {
    let o = export(&["--mapping", "builtin:sf-to-ad"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(!String::from_utf8_lossy(&o.stderr).contains("warning"), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("schema JSON");
    assert_eq!(v["synchronizationRules"][0]["targetDirectoryName"], "Active Directory");

    let dir = TempDir::new("export-bad");
    let out = dir.0.join("schema.json");
    for (mapping, says) in [
        ("builtin:sf-to-nowhere", "the built-in mappings are builtin:sf-to-ad"),
        ("no-such-mapping.toml", "cannot read"),
    ] {
        let o = export(&["--mapping", mapping, "--out", path(&out)]);
        assert_eq!(o.status.code(), Some(2), "{}", text(&o));
        assert!(String::from_utf8_lossy(&o.stderr).contains(says), "{}", text(&o));
        assert!(!out.exists());
    }
    let bad = dir.0.join("bad.toml");
    std::fs::write(&bad, "[[mapping]]\ntarget = \"a\"\nexpression = \"Foo(\"\n").expect("write");
    let o = export(&["--mapping", path(&bad), "--out", path(&out)]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("mapping[0] (target \"a\").expression"));
    assert!(!out.exists());
}

#[test]
fn a_config_exports_its_flow_and_warns_what_entra_cannot_express() {
    let dir = TempDir::new("export-config");
    let o = import(&fixture("sf-to-ad-edited.json"), &dir.0);
    assert!(o.status.success(), "{}", text(&o));
    let config = dir.0.join("hrsync.toml");
    let t = std::fs::read_to_string(&config).expect("config");
    std::fs::write(&config, t.replace("time_zone = \"UTC\"", "time_zone = \"Europe/Paris\""))
        .expect("write");
    let out = dir.0.join("schema.json");
    let o = export(&["--config", path(&config), "--out", path(&out)]);
    assert!(o.status.success(), "{}", text(&o));
    let stderr = String::from_utf8_lossy(&o.stderr);
    let warnings: Vec<&str> = stderr.lines().filter(|l| l.starts_with("warning: ")).collect();
    assert_eq!(warnings.len(), 1, "{warnings:#?}");
    assert!(warnings[0].starts_with("warning: flow.time_zone: Europe/Paris"), "{warnings:#?}");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).expect("written")).expect("JSON");
    let om = &v["synchronizationRules"][0]["objectMappings"][0];
    assert_eq!(om["flowTypes"], "Add, Update");
    assert_eq!(om["scope"]["groups"][0]["name"], "Onboarding");
    let attrs = v["directories"][0]["objects"][0]["attributes"].as_array().expect("attributes");
    assert!(attrs.iter().any(|a| a["name"] == "empJobNavCustomString35"));
}

/// The round trip of every built-in: `export entra-schema --mapping
/// builtin:NAME`, then `import entra-schema`, then `plan --full --format
/// json` against the emulator gives the same plan, worker by worker and
/// attribute by attribute, as the built-in itself. Both plans use the
/// imported config (actions, time zone) with the source at the emulator and
/// an empty embedded target; the imported config's own target kind and
/// actions are checked against the built-in's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_builtin_round_trips_to_an_identical_plan() {
    use hrsync_config::TargetConfig;

    use crate::import_plan::{adapted, diff, plan};

    let emu = sf_emulator::Emulator::builder().workers(150).seed(19).start().await.expect("emu");
    let url = emu.base_url();
    let cases: [(&str, &[&str], &str); 5] = [
        ("sf-to-ad", &["userPrincipalName", "sAMAccountName"], "ldap active-directory"),
        ("sf-to-openldap", &["uid"], "ldap inet-org-person"),
        ("sf-to-scim", &["userName"], "scim"),
        ("sf-to-salesforce", &["userName"], "scim salesforce"),
        ("sf-to-entra", &["userPrincipalName", "mailNickname"], "graph"),
    ];
    let mut summary = Vec::new();
    for (name, unique, kind) in cases {
        let dir = TempDir::new(&format!("roundtrip-{name}"));
        let schema = dir.0.join("schema.json");
        let o = export(&["--mapping", &format!("builtin:{name}"), "--out", path(&schema)]);
        assert!(o.status.success(), "{name}: {}", text(&o));
        assert!(!String::from_utf8_lossy(&o.stderr).contains("warning"), "{name}: {}", text(&o));
        let o = import(&schema, &dir.0);
        assert!(o.status.success(), "{name}: {}", text(&o));
        assert!(!String::from_utf8_lossy(&o.stderr).contains("warning"), "{name}: {}", text(&o));

        // The imported config: the built-in's target kind and hrsync's
        // default actions (Entra's "Add, Update, Delete").
        let config_path = dir.0.join("hrsync.toml");
        let config = match hrsync_config::Config::load_local(&config_path) {
            Ok(c) => c,
            Err(e) => panic!("{name}: {e}"),
        };
        let got = match &config.target {
            TargetConfig::Ldap(c) => format!("ldap {:?}", c.profile),
            TargetConfig::Scim(c) => format!("scim {:?}", c.profile),
            TargetConfig::Graph(_) => "graph".into(),
            _ => "other".into(),
        };
        let want = match kind {
            "ldap active-directory" => "ldap ActiveDirectory",
            "ldap inet-org-person" => "ldap InetOrgPerson",
            "scim" => "scim None",
            "scim salesforce" => "scim Some(Salesforce)",
            other => other,
        };
        assert_eq!(got, want, "{name}");
        let a = config.flow.actions;
        assert!(a.create && a.update && a.disable && !a.delete, "{name}: {a:?}");

        let imported: toml::Table =
            toml::from_str(&std::fs::read_to_string(&config_path).expect("config")).expect("TOML");
        let builtin = format!("builtin:{name}");
        let configs =
            [("imported-plan.toml", "mapping.toml".to_string()), ("builtin-plan.toml", builtin)];
        for (file, mapping) in &configs {
            std::fs::write(dir.0.join(file), adapted(&imported, &url, mapping, unique))
                .expect("write");
        }
        let d = dir.0.clone();
        let [imp, bi] = tokio::task::spawn_blocking(move || {
            [plan(&d.join("imported-plan.toml")), plan(&d.join("builtin-plan.toml"))]
        })
        .await
        .expect("task");
        let creates = imp.values().filter(|(a, _, _)| a == "create").count();
        assert!(creates >= 100, "{name}: {creates} creates");
        let (attrs, persons) = diff(&imp, &bi);
        assert!(persons.is_empty(), "{name}: round trip vs built-in, workers: {persons:#?}");
        assert!(attrs.is_empty(), "{name}: round trip vs built-in, attributes: {attrs:#?}");
        let values: usize = imp.values().map(|(_, v, _)| v.len()).sum();
        summary.push(format!("{name}: {} workers, {creates} creates, {values} values", imp.len()));
    }
    eprintln!("round trip export -> import -> plan identical: {}", summary.join("; "));
}

/// A config's round trip, not only a built-in's: the SF-to-AD fixture with
/// its edits (source attribute overrides and new attributes, the Onboarding
/// scoping filter, defaults, on-create and FlowAlways mappings, a None
/// mapping, "Add, Update") imported, exported with `--config`, imported
/// again: the second import plans exactly as the first, and the export
/// warns about nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_imported_config_round_trips_to_an_identical_plan() {
    use crate::import_plan::{adapted, diff, plan};

    let emu = sf_emulator::Emulator::builder().workers(150).seed(22).start().await.expect("emu");
    let first = TempDir::new("roundtrip-config-1");
    let second = TempDir::new("roundtrip-config-2");
    let o = import(&fixture("sf-to-ad-edited.json"), &first.0);
    assert!(o.status.success(), "{}", text(&o));
    let schema = first.0.join("exported.json");
    let o = export(&["--config", path(&first.0.join("hrsync.toml")), "--out", path(&schema)]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(!String::from_utf8_lossy(&o.stderr).contains("warning"), "{}", text(&o));
    let o = import(&schema, &second.0);
    assert!(o.status.success(), "{}", text(&o));
    assert!(!String::from_utf8_lossy(&o.stderr).contains("warning"), "{}", text(&o));
    let url = emu.base_url();
    let unique = ["userPrincipalName", "sAMAccountName"];
    for d in [&first.0, &second.0] {
        let imported: toml::Table =
            toml::from_str(&std::fs::read_to_string(d.join("hrsync.toml")).expect("config"))
                .expect("TOML");
        std::fs::write(d.join("plan.toml"), adapted(&imported, &url, "mapping.toml", &unique))
            .expect("write");
    }
    let (a, b) = (first.0.join("plan.toml"), second.0.join("plan.toml"));
    let [p1, p2] = tokio::task::spawn_blocking(move || [plan(&a), plan(&b)]).await.expect("task");
    let skips = p1.values().filter(|(a, _, _)| a == "skip").count();
    assert!(skips >= 1, "the Onboarding filter scopes someone out");
    let (attrs, persons) = diff(&p1, &p2);
    assert!(persons.is_empty(), "first vs second import, workers: {persons:#?}");
    assert!(attrs.is_empty(), "first vs second import, attributes: {attrs:#?}");
    for f in ["hrsync.toml", "mapping.toml"] {
        let one: toml::Table =
            toml::from_str(&std::fs::read_to_string(first.0.join(f)).expect("read")).expect("TOML");
        let two: toml::Table =
            toml::from_str(&std::fs::read_to_string(second.0.join(f)).expect("read"))
                .expect("TOML");
        assert_eq!(one, two, "{f}: the second import writes the same settings");
    }
    eprintln!("config round trip: {} workers ({skips} scoped out), identical plans", p1.len());
}
