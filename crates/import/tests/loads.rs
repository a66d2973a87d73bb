//! The produced mapping TOML must be a valid hrsync mapping, not just text.

#[test]
fn imported_mapping_loads_with_hrsync_mapping() {
    let schema = r#"{"directories":[{"name":"SuccessFactors","objects":[]}],
      "synchronizationRules":[{"sourceDirectoryName":"SuccessFactors","objectMappings":[{"attributeMappings":[
        {"targetAttributeName":"employeeID","matchingPriority":1,"flowType":"Always",
         "source":{"type":"Attribute","name":"personIdExternal","expression":"[personIdExternal]"}},
        {"targetAttributeName":"displayName","flowType":"ObjectAddOnly",
         "source":{"type":"Function","name":"Join","parameters":[
            {"key":"separator","value":{"type":"Constant","name":" "}},
            {"key":"source1","value":{"type":"Attribute","name":"firstName"}},
            {"key":"source2","value":{"type":"Attribute","name":"lastName"}}]}}]}]}]}"#;
    let r = hrsync_import::import_schema(schema).unwrap();
    let m = hrsync_mapping::MappingConfig::from_toml(&r.mapping_toml);
    assert!(m.is_ok(), "{:?}\n{}", m.err(), r.mapping_toml);
    assert!(
        r.mapping_toml.contains("Join(\\\" \\\", [firstName], [lastName])"),
        "{}",
        r.mapping_toml
    );
    // No target directory named: a SCIM app is assumed.
    assert!(r.config_toml.contains("kind = \"scim\""), "{}", r.config_toml);
}
