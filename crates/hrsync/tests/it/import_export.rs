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
