//! The starter config `hrsync init` writes loads cleanly, both with the
//! built-in mapping and with the mapping copy written beside it.

mod common;

use common::*;
use hrsync_config::{Config, InitError, MAPPING_FILE_NAME, MappingOrigin, STARTER, TargetSettings, write_starter};
use hrsync_mapping::MappingConfig;

#[test]
fn starter_loads_with_the_builtin_mapping() {
    setup();
    let config = Config::parse(STARTER, "/etc/hrsync/hrsync.toml").unwrap_or_else(|e| panic!("starter does not load:\n{e}"));
    assert_eq!(config.flow.origin, MappingOrigin::Builtin("builtin:sf-to-ad".into()));
    assert_eq!(config.flow.mapping, MappingConfig::sf_to_ad().expect("shipped mapping"));
    assert!(matches!(config.target, TargetSettings::Embedded { ref unique, .. } if unique.len() == 2));
    assert!(!config.source.client.danger_accept_invalid_certs);
    assert!(!format!("{config:?}").contains(PASSWORD));
}

#[test]
fn starter_keeps_secrets_out_and_explains_every_section() {
    assert!(STARTER.contains("password_env = \"HRSYNC_SF_PASSWORD\""));
    assert!(!STARTER.lines().any(|l| l.trim_start().starts_with("password =")), "no inline password, even commented");
    // Each section header is introduced by a comment.
    let lines: Vec<&str> = STARTER.lines().collect();
    for (i, line) in lines.iter().enumerate().filter(|(_, l)| l.starts_with('[')) {
        let above = lines[..i].iter().rev().find(|l| !l.trim().is_empty()).copied().unwrap_or("");
        assert!(above.starts_with('#'), "section `{line}` has no comment above it");
    }
}

#[test]
fn init_writes_config_and_mapping_copy_and_refuses_to_overwrite() {
    setup();
    let dir = temp_dir("init");
    let config_path = dir.join("hrsync.toml");
    let written = write_starter(&config_path, false).expect("first write");
    assert_eq!(written, vec![config_path.clone(), dir.join(MAPPING_FILE_NAME)]);
    assert_eq!(std::fs::read_to_string(&config_path).expect("config written"), STARTER);

    // The starter loads as written, and pointed at the mapping copy.
    let builtin = Config::load(&config_path).unwrap_or_else(|e| panic!("{e}"));
    let switched = STARTER.replace("mapping = \"builtin:sf-to-ad\"", "mapping = \"hrsync-mapping.toml\"");
    assert_ne!(switched, STARTER);
    std::fs::write(&config_path, &switched).expect("switch mapping");
    let copy = Config::load(&config_path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(copy.flow.origin, MappingOrigin::File(dir.join(MAPPING_FILE_NAME)));
    assert_eq!(copy.flow.mapping, builtin.flow.mapping);

    // Without --force nothing is touched, whichever file exists.
    match write_starter(&config_path, false) {
        Err(InitError::Exists(p)) => assert_eq!(p, config_path),
        other => panic!("expected Exists, got {other:?}"),
    }
    assert_eq!(std::fs::read_to_string(&config_path).expect("kept"), switched);
    std::fs::remove_file(&config_path).expect("remove config");
    match write_starter(&config_path, false) {
        Err(InitError::Exists(p)) => assert_eq!(p, dir.join(MAPPING_FILE_NAME)),
        other => panic!("expected Exists, got {other:?}"),
    }
    assert!(!config_path.exists(), "config must not be written when the mapping copy exists");

    std::fs::write(&config_path, "garbage").expect("garbage");
    write_starter(&config_path, true).expect("force overwrites");
    assert_eq!(std::fs::read_to_string(&config_path).expect("rewritten"), STARTER);
}
