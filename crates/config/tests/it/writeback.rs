//! `[writeback]`: the flow `writeback` (directory -> SuccessFactors), its
//! built-in mappings, `actions` (update only) and `primary`; errors at
//! `file:line:col` with the field.

use crate::common;

use common::*;
use hrsync_config::MappingOrigin;
use hrsync_source_sf::PrimaryPolicy;

/// BASE (26 lines) and `extra` from line 27 on.
fn with(extra: &str) -> String {
    format!("{BASE}{extra}\n")
}

#[test]
fn no_section_no_writeback_flow() {
    assert!(parse(BASE).expect("loads").writeback.is_none());
}

#[test]
fn the_builtins_load_with_update_only_and_keep() {
    for (name, phones) in
        [("builtin:writeback-email", false), ("builtin:writeback-email-phone", true)]
    {
        let c = parse(&with(&format!("[writeback]\nmapping = \"{name}\""))).expect("loads");
        let w = c.writeback.expect("writeback");
        assert_eq!(w.origin, MappingOrigin::Builtin(name.into()));
        assert_eq!(w.primary, PrimaryPolicy::Keep);
        assert!(w.actions.update && !w.actions.create && !w.actions.disable && !w.actions.delete);
        let targets: Vec<&str> = w.mapping.mappings.iter().map(|m| m.target.as_str()).collect();
        assert!(targets.contains(&"email") && targets.contains(&"personIdExternal"), "{targets:?}");
        assert_eq!(targets.contains(&"businessPhone"), phones, "{targets:?}");
        // Directory names: `[mail]` is the record's own `mail`.
        assert!(w.schema.contains("mail"));
        assert_eq!(w.schema.contains("telephoneNumber"), phones);
        assert_eq!(w.compiled.matching().len(), 1);
    }
    // The default is scenario 1.
    let c = parse(&with("[writeback]\nprimary = \"take\"")).expect("loads");
    let w = c.writeback.expect("writeback");
    assert_eq!(w.origin, MappingOrigin::Builtin("builtin:writeback-email".into()));
    assert_eq!(w.primary, PrimaryPolicy::Take);
}

#[test]
fn an_inline_mapping_with_a_scope_and_scenario_4_expressions_loads() {
    let text = with(
        r#"[writeback]
actions = ["update"]
[[writeback.mapping]]
target = "personIdExternal"
expression = '[personIdExternal]'
matching = 1
[[writeback.mapping]]
target = "businessPhone"
expression = '[telephoneNumber]'
[[writeback.mapping]]
target = "isBusinessPhonePrimary"
expression = 'IIF(IsPresent([telephoneNumber]), IIF(IsPresent([mobile]), "false", "true"), "false")'
[[writeback.scope.groups]]
clauses = [{ attribute = "department", operator = "EQUALS", values = ["IT"] }]"#,
    );
    let c = parse(&text).expect("loads");
    let w = c.writeback.expect("writeback");
    assert_eq!(w.origin, MappingOrigin::Inline);
    for n in ["telephoneNumber", "mobile", "department", "personIdExternal"] {
        assert!(w.schema.contains(n), "{n}");
    }
}

#[test]
fn bad_sections_name_line_column_and_field() {
    // Line 27 is `[writeback]`.
    let cases: &[(&str, &str, &str, &str)] = &[
        (
            "[writeback]\nactions = [\"update\", \"create\"]",
            "28:22",
            "writeback.actions[1]",
            "writeback only updates persons",
        ),
        ("[writeback]\nactions = [\"delete\"]", "28:12", "writeback.actions[0]", "never creates"),
        (
            "[writeback]\nprimary = \"steal\"",
            "28:11",
            "writeback.primary",
            "expected \"keep\" or \"take\"",
        ),
        (
            "[writeback]\nmapping = \"builtin:sf-to-ad\"",
            "28:11",
            "writeback.mapping",
            "builtin:writeback-email",
        ),
        ("[writeback]\nspeed = 3", "28:1", "writeback.speed", "unknown field `speed`"),
        (
            "[writeback]\n[[writeback.mapping]]\ntarget = \"personIdExternal\"\nexpression = '[personIdExternal]'\nmatching = 1\n[[writeback.mapping]]\ntarget = \"homeAddress\"\nexpression = '[street]'",
            "33:10",
            "writeback.mapping[1].target",
            "not a SuccessFactors Writeback attribute",
        ),
        (
            "[writeback]\n[[writeback.mapping]]\ntarget = \"email\"\nexpression = '[mail]'",
            "28:1",
            "writeback.mapping",
            "no matching attribute",
        ),
    ];
    for (extra, at, field, cause) in cases {
        assert_error_at(&with(extra), at, field, cause);
    }
}
