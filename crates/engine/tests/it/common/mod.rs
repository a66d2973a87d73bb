//! Test harness: the emulator, an engine with an embedded target and a
//! SQLite store in a private directory, and one clock stepped for both.

#![allow(dead_code)]

use std::sync::Arc;

use hrsync_engine::cycle::{CompiledFlow, Engine, Settings};
use hrsync_mapping::{MappingConfig, SourceSchema};
use hrsync_store_sqlite::SqliteStore;
use hrsync_target::{Target, TargetObject};
use hrsync_target_embedded::EmbeddedTarget;
pub use hrsync_testkit::{TempDir, TestClock, sf_client};
use sf_emulator::{Emulator, EmulatorBuilder, RunningEmulator};

/// 2026-11-24T10:00:00Z: a Tuesday, mid-morning in Europe.
pub const T0_MS: i64 = 1_795_514_400_000;
pub const DAY_MS: i64 = 86_400_000;

pub fn default_flow() -> CompiledFlow {
    let schema = SourceSchema::builtin().expect("builtin schema");
    let config = MappingConfig::sf_to_ad().expect("default mapping");
    flow_from(&schema, &config)
}

pub fn flow_from(schema: &SourceSchema, config: &MappingConfig) -> CompiledFlow {
    CompiledFlow::compile(schema, config).expect("mapping compiles")
}

pub const UNIQUE: &[&str] = &["sAMAccountName", "userPrincipalName"];

pub type TestEngine = Engine<SqliteStore, EmbeddedTarget>;

/// Everything one test needs; the engine can be rebuilt over the same files
/// (a restart).
pub struct Harness {
    pub emu: RunningEmulator,
    pub clock: Arc<TestClock>,
    pub dir: TempDir,
    pub settings: Settings,
    pub flow: CompiledFlow,
}

impl Harness {
    pub async fn start(workers: usize, seed: u64) -> Harness {
        Self::start_with(Emulator::builder().workers(workers).seed(seed)).await
    }

    pub async fn start_with(builder: EmulatorBuilder) -> Harness {
        let emu = builder.now_ms(T0_MS).start().await.expect("emulator starts");
        let settings = Settings { page_size: 200, ..Settings::default() };
        Harness {
            emu,
            clock: TestClock::new(T0_MS),
            dir: TempDir::new("e2e"),
            settings,
            flow: default_flow(),
        }
    }

    /// A fresh engine over the harness's store and target files.
    pub fn engine(&self) -> TestEngine {
        let store = SqliteStore::open(&self.dir.0.join("state.sqlite"), hrsync_store::INBOUND)
            .expect("store opens");
        let target = EmbeddedTarget::open_indexed(
            &self.dir.0.join("target.sqlite"),
            UNIQUE,
            &self.flow.lookup_attributes(),
        )
        .expect("target opens");
        Engine::new(
            sf_client(&self.emu),
            self.flow.clone(),
            store,
            target,
            self.clock.clone(),
            self.settings.clone(),
        )
    }

    /// Step the engine's and the emulator's clocks together.
    pub fn advance_ms(&self, ms: i64) {
        self.clock.set(self.clock.ms() + ms);
        self.emu.set_now_ms(self.clock.ms());
    }

    /// Set both clocks.
    pub fn set_ms(&self, ms: i64) {
        self.clock.set(ms);
        self.emu.set_now_ms(ms);
    }

    /// Today in the emulator (UTC) as yyyy-MM-dd, plus `days`.
    pub fn day(&self, days: i64) -> String {
        let ts =
            jiff::Timestamp::from_millisecond(self.clock.ms() + days * DAY_MS).expect("in range");
        ts.to_zoned_datetime(jiff::tz::TimeZone::UTC).date().to_string()
    }
}

/// The target objects whose employeeID is `person`.
pub async fn by_employee(engine: &TestEngine, person: &str) -> Vec<TargetObject> {
    engine.target().find("employeeID", person).await.expect("find")
}

pub async fn one(engine: &TestEngine, person: &str) -> TargetObject {
    let found = by_employee(engine, person).await;
    assert_eq!(found.len(), 1, "exactly one account for {person}: {found:?}");
    found.into_iter().next().expect("one")
}

pub fn attr<'a>(o: &'a TargetObject, name: &str) -> Option<&'a str> {
    o.attributes.get(name).and_then(|v| v.as_str())
}
