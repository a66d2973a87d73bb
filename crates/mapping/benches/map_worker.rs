//! Mapping throughput: for one realistic expanded PerPerson record (~12 KB,
//! wire-shaped), parse the JSON bytes, extract the attributes the default
//! SuccessFactors-to-AD mapping uses (40 targets) and evaluate every mapping.
//! Single-threaded; goal ≥ 20,000 workers/s.
//!
//! Run: `CARGO_TARGET_DIR=/work/target-mapping cargo bench -p hrsync-mapping --bench map_worker`

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hrsync_expr::{EvalContext, FixedClock, Outcome, SplitMix64, Uniqueness};
use hrsync_mapping::{CompiledMapping, MappingConfig, Phase, SourceSchema};

struct NothingTaken;
impl Uniqueness for NothingTaken {
    fn is_taken(&self, _candidate: &str) -> Result<bool, String> {
        Ok(false)
    }
}

fn bench(c: &mut Criterion) {
    let pretty: serde_json::Value =
        serde_json::from_slice(include_bytes!("../tests/fixtures/standard_worker.json"))
            .expect("fixture");
    // Compact, as the wire sends it.
    let bytes = serde_json::to_vec(&pretty).expect("serialize");

    let config = MappingConfig::sf_to_ad().expect("default mapping");
    let schema = SourceSchema::builtin().expect("catalog");
    let mapping = CompiledMapping::compile(&config.mappings, &schema).expect("mapping compiles");
    let source = schema.compile(mapping.referenced_attributes()).expect("source compiles");
    let uniqueness = NothingTaken;
    let clock = FixedClock(jiff::Timestamp::UNIX_EPOCH);

    let mut group = c.benchmark_group("map_worker");
    group.throughput(Throughput::Elements(1));
    group.bench_function(
        format!(
            "parse+extract+evaluate ({} bytes, {} mappings)",
            bytes.len(),
            mapping.mappings().len()
        ),
        |b| {
            b.iter(|| {
                let record: serde_json::Value =
                    serde_json::from_slice(black_box(&bytes)).expect("json");
                let attrs = source.extract(&record);
                let mut random = SplitMix64(7);
                let mut ctx = EvalContext::new(&clock, &mut random, Some(&uniqueness));
                let out = mapping.evaluate(&attrs, &mut ctx, Phase::Create);
                black_box(out.iter().filter(|t| matches!(t.outcome, Ok(Outcome::Value(_)))).count())
            })
        },
    );
    group.bench_function("parse only", |b| {
        b.iter(|| serde_json::from_slice::<serde_json::Value>(black_box(&bytes)).expect("json"))
    });
    group.bench_function("extract only", |b| b.iter(|| source.extract(black_box(&pretty))));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
