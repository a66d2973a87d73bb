//! Shared helpers for the HR scenario tests: load a wire-shaped fixture,
//! build the default SuccessFactors-to-AD flow over a (possibly edited)
//! schema, extract and evaluate.
#![allow(dead_code)]

use std::collections::BTreeMap;

use hrsync_expr::{Attributes, Outcome, Value};
use hrsync_mapping::{
    AttributeMapping, Catalog, CompiledMapping, CompiledSource, MappingConfig, Phase,
    SourceAttributeConfig, SourceRecord, SourceSchema,
};

pub fn fixture(name: &str) -> serde_json::Value {
    let path = format!("{}/tests/fixtures/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The built-in schema plus extra source attributes.
pub fn schema_with(extra: &[(&str, &str)]) -> SourceSchema {
    let config: Vec<SourceAttributeConfig> = extra
        .iter()
        .map(|(name, path)| SourceAttributeConfig {
            name: (*name).into(),
            jsonpath: Some((*path).into()),
            ..Default::default()
        })
        .collect();
    SourceSchema::new(Catalog::builtin().clone(), &config).expect("schema")
}

/// Attributes the scenarios assert on even when no mapping reads them.
const OBSERVED: [&str; 6] = [
    "username",
    "latestTerminationDate",
    "startDate",
    "globalAssignmentDepartment",
    "secondJobDepartment",
    "middleName",
];

pub struct TestFlow {
    pub source: CompiledSource,
    pub mapping: CompiledMapping,
}

/// The default SF-to-AD mapping with some targets replaced or added.
pub fn flow(schema: &SourceSchema, overrides: &[(&str, &str)]) -> TestFlow {
    let mut config = MappingConfig::sf_to_ad().expect("default mapping parses");
    for (target, expression) in overrides {
        let m = AttributeMapping {
            target: (*target).into(),
            expression: Some((*expression).into()),
            default: None,
            matching: None,
            apply: Default::default(),
            flow: Default::default(),
            required: false,
            secret: false,
        };
        match config.mappings.iter_mut().find(|x| x.target == *target) {
            Some(slot) => *slot = m,
            None => config.mappings.push(m),
        }
    }
    let mapping = CompiledMapping::compile(&config.mappings, schema).unwrap_or_else(|errors| {
        panic!("{}", errors.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"))
    });
    // The mapped attributes plus the ones the scenarios look at directly.
    let observed = OBSERVED.iter().copied().filter(|n| schema.contains(n));
    let source = schema
        .compile(mapping.referenced_attributes().into_iter().chain(observed))
        .expect("source compiles");
    TestFlow { source, mapping }
}

/// Text of an extracted attribute (`None` when null).
pub fn text(record: &SourceRecord, name: &str) -> Option<String> {
    record.get(name).and_then(|v| v.as_str_lossy()).map(|c| c.into_owned())
}

pub fn text_of(record: &SourceRecord, name: &str) -> String {
    text(record, name).unwrap_or_else(|| panic!("attribute {name} is null"))
}

pub fn datetime(record: &SourceRecord, name: &str) -> jiff::Timestamp {
    match record.get(name) {
        Some(Value::DateTime(ts)) => *ts,
        other => panic!("{name} is not a DateTime: {other:?}"),
    }
}

pub fn ms(ms: i64) -> jiff::Timestamp {
    jiff::Timestamp::from_millisecond(ms).unwrap()
}

pub struct NoneTaken;
impl hrsync_expr::Uniqueness for NoneTaken {
    fn is_taken(&self, _candidate: &str) -> Result<bool, String> {
        Ok(false)
    }
}

/// Evaluate on create; target => text (`None` for null or IgnoreFlow).
pub fn targets(flow: &TestFlow, record: &SourceRecord) -> BTreeMap<String, Option<String>> {
    let uniqueness = NoneTaken;
    let clock = clock();
    let mut random = hrsync_expr::SplitMix64(7);
    let mut ctx = hrsync_expr::EvalContext::new(&clock, &mut random, Some(&uniqueness));
    flow.mapping
        .evaluate(record, &mut ctx, Phase::Create)
        .into_iter()
        .map(|t| {
            let target = t.target.to_owned();
            (target, value_text(t.outcome))
        })
        .collect()
}

/// Text of an outcome (`None` for null or IgnoreFlow); panics on errors.
pub fn value_text(outcome: Result<Outcome, hrsync_expr::EvalError>) -> Option<String> {
    match outcome {
        Ok(Outcome::Value(v)) => v.as_str_lossy().map(|c| c.into_owned()),
        Ok(Outcome::IgnoreFlow) => None,
        Err(e) => panic!("evaluation failed: {e}"),
    }
}

pub fn target(map: &BTreeMap<String, Option<String>>, name: &str) -> String {
    map.get(name)
        .unwrap_or_else(|| panic!("no mapping for {name}"))
        .clone()
        .unwrap_or_else(|| panic!("{name} is null"))
}

/// A fixed clock (2025-06-01T00:00Z) so evaluation is deterministic.
pub fn clock() -> hrsync_expr::FixedClock {
    hrsync_expr::FixedClock(ms(1748736000000))
}

pub const D2020: i64 = 1577836800000;
pub const D2022: i64 = 1640995200000;
pub const D2023: i64 = 1672531200000;
pub const D2024: i64 = 1704067200000;
pub const D2025: i64 = 1735689600000;
