//! hrsync's durable state, behind the [`Store`] trait.
//!
//! What is kept: the watermark per source scope, the join and last-exported
//! values per worker ([`Account`]), failed workers awaiting retry
//! ([`Escrow`]), instants at which a worker must be looked at again
//! ([`Wakeup`]), the cycle history and the provisioning log.
//!
//! Contract the engine relies on:
//! - [`Store::commit`] applies a batch of worker outcomes atomically: either
//!   every account, escrow, wake-up and log change of the batch is durable, or
//!   none is.
//! - [`Store::finish_cycle`] records the cycle's end and advances the
//!   watermark in the same transaction, so a watermark never moves without
//!   the cycle that earned it.
//! - Time is always passed in; the store never reads a clock.
//!
//! The store is synchronous: SQLite answers in microseconds and the engine
//! batches per page. A PostgreSQL implementation for teams running several
//! instances implements the same trait.

use std::collections::HashMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

mod sqlite;

pub use sqlite::SqliteStore;

/// A cycle's id in the history.
pub type CycleId = i64;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("state store {path}: {source}")]
    Open { path: String, source: rusqlite::Error },
    #[error("state store {path}: starting its WAL checkpoint thread: {source}")]
    Checkpointer { path: String, source: std::io::Error },
    #[error("state store {path}: migrating the schema: {source}")]
    Migrate { path: String, source: rusqlite_migration::Error },
    #[error("state store: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("state store: corrupt {what} for {key}: {cause}")]
    Corrupt { what: &'static str, key: String, cause: String },
}

/// The account status hrsync last left in the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccountStatus {
    Active,
    Disabled,
    Deleted,
}

impl AccountStatus {
    fn as_str(self) -> &'static str {
        match self {
            AccountStatus::Active => "active",
            AccountStatus::Disabled => "disabled",
            AccountStatus::Deleted => "deleted",
        }
    }
}

/// A worker hrsync manages in the target.
#[derive(Debug, Clone, PartialEq)]
pub struct Account {
    /// `personIdExternal`.
    pub person_id: String,
    /// The target's stable id of the object (entryUUID/objectGUID, SCIM id, ...).
    /// Renames and moves in the target do not change it.
    pub target_id: String,
    pub status: AccountStatus,
    /// Target attribute -> value last exported (JSON).
    pub exported: serde_json::Map<String, serde_json::Value>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A worker whose processing failed and waits for a retry.
#[derive(Debug, Clone, PartialEq)]
pub struct Escrow {
    pub person_id: String,
    pub attempts: u32,
    pub first_failed_at: Timestamp,
    pub last_failed_at: Timestamp,
    pub next_attempt_at: Timestamp,
    pub last_error: String,
    /// Failed too often: a human should look.
    pub flagged: bool,
}

/// An instant at which a worker must be processed again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wakeup {
    pub person_id: String,
    pub at: Timestamp,
    pub reason: String,
}

/// What a cycle does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CycleKind {
    Full,
    Incremental,
    OnDemand,
}

/// How a cycle ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CycleStatus {
    Running,
    Completed,
    /// Some workers failed and were escrowed; the watermark still advanced.
    CompletedWithErrors,
    /// The accidental-deletion guard stopped it before any action.
    Guarded,
    Failed,
    /// Interrupted (signal or crash); found running at the next start.
    Aborted,
    /// A dry run (`hrsync plan`): decided, nothing applied. Never stored.
    Planned,
}

impl CycleKind {
    /// The stable name (as stored and printed).
    pub fn as_str(self) -> &'static str {
        match self {
            CycleKind::Full => "full",
            CycleKind::Incremental => "incremental",
            CycleKind::OnDemand => "on-demand",
        }
    }
}

impl std::fmt::Display for CycleKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl CycleStatus {
    /// The stable name (as stored and printed).
    pub fn as_str(self) -> &'static str {
        match self {
            CycleStatus::Running => "running",
            CycleStatus::Completed => "completed",
            CycleStatus::CompletedWithErrors => "completed-with-errors",
            CycleStatus::Guarded => "guarded",
            CycleStatus::Failed => "failed",
            CycleStatus::Aborted => "aborted",
            CycleStatus::Planned => "planned",
        }
    }
}

impl std::fmt::Display for CycleStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One row of the cycle history.
#[derive(Debug, Clone, PartialEq)]
pub struct Cycle {
    pub id: CycleId,
    pub kind: CycleKind,
    pub started_at: Timestamp,
    pub finished_at: Option<Timestamp>,
    pub status: CycleStatus,
    pub window: Option<(Timestamp, Timestamp)>,
    /// Counts per action, errors, requests, duration: engine-defined JSON.
    pub summary: serde_json::Value,
    pub message: Option<String>,
}

/// One attribute's change, as shown in plans and logs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttributeChange {
    pub attribute: String,
    pub old: serde_json::Value,
    pub new: serde_json::Value,
}

/// One step of processing a worker (import, scope, match, action, ...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    pub name: String,
    pub status: String,
    pub detail: String,
}

/// The provisioning log entry of one worker in one cycle.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogEntry {
    pub id: i64,
    pub cycle_id: CycleId,
    pub person_id: String,
    pub at: Timestamp,
    /// create, update, move, disable, delete, skip, none.
    pub action: String,
    /// success, failure, skipped, warning.
    pub status: String,
    pub target_id: Option<String>,
    pub steps: Vec<Step>,
    pub modified: Vec<AttributeChange>,
    pub error: Option<String>,
}

/// A filter on the provisioning log.
#[derive(Debug, Clone, Default)]
pub struct LogQuery {
    pub person_id: Option<String>,
    pub cycle_id: Option<CycleId>,
    pub status: Option<String>,
    /// Newest first, at most this many (0 = no limit).
    pub limit: usize,
}

/// What becomes of one part of a worker's state.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Change<T> {
    #[default]
    Keep,
    Set(T),
    Clear,
}

/// The durable result of processing one worker.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub person_id: String,
    pub account: Change<Account>,
    pub escrow: Change<Escrow>,
    /// `Set` replaces all of the worker's wake-ups; `Clear` removes them.
    pub wakeups: Change<Vec<(Timestamp, String)>>,
    /// The log entry (its `id` and `cycle_id` are assigned by the store).
    pub log: Option<LogEntry>,
}

/// What the store knows about one worker before processing it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WorkerState {
    pub account: Option<Account>,
    pub escrow: Option<Escrow>,
}

/// Counts used by the accidental-deletion guard and `hrsync status`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AccountCounts {
    pub active: u64,
    pub disabled: u64,
    pub deleted: u64,
}

/// hrsync's durable state.
pub trait Store: Send {
    /// The watermark of a source scope, if a cycle ever completed there.
    fn watermark(&self, scope: &str) -> Result<Option<Timestamp>, StoreError>;
    /// Open a cycle in the history (status `running`).
    fn begin_cycle(
        &mut self,
        kind: CycleKind,
        window: Option<(Timestamp, Timestamp)>,
        now: Timestamp,
    ) -> Result<CycleId, StoreError>;
    /// State of the given workers (missing ones are simply absent).
    fn load(&self, person_ids: &[&str]) -> Result<HashMap<String, WorkerState>, StoreError>;
    /// The account joined to a target object, if any.
    fn account_by_target(&self, target_id: &str) -> Result<Option<Account>, StoreError>;
    /// [`Store::account_by_target`] for many objects at once (matching a
    /// page): keyed by target id; objects without a join are absent.
    fn accounts_by_target(
        &self,
        target_ids: &[&str],
    ) -> Result<HashMap<String, Account>, StoreError> {
        let mut out = HashMap::new();
        for id in target_ids {
            if let Some(a) = self.account_by_target(id)? {
                out.insert((*id).to_owned(), a);
            }
        }
        Ok(out)
    }
    /// Apply a batch of outcomes atomically.
    fn commit(&mut self, cycle: CycleId, outcomes: &[Outcome]) -> Result<(), StoreError>;
    /// Close a cycle and, in the same transaction, advance a watermark.
    fn finish_cycle(
        &mut self,
        cycle: CycleId,
        status: CycleStatus,
        summary: &serde_json::Value,
        message: Option<&str>,
        now: Timestamp,
        advance: Option<(&str, Timestamp)>,
    ) -> Result<(), StoreError>;
    /// Mark cycles a crash left `running` as `aborted`; returns how many.
    fn abort_running_cycles(&mut self, now: Timestamp) -> Result<usize, StoreError>;
    /// Escrowed workers whose next attempt is due, oldest first.
    fn due_escrows(&self, now: Timestamp, limit: usize) -> Result<Vec<Escrow>, StoreError>;
    /// All escrowed workers.
    fn escrows(&self) -> Result<Vec<Escrow>, StoreError>;
    /// Wake-ups due at or before `now`.
    fn due_wakeups(&self, now: Timestamp) -> Result<Vec<Wakeup>, StoreError>;
    /// The earliest pending wake-up.
    fn next_wakeup(&self) -> Result<Option<Timestamp>, StoreError>;
    /// Remove wake-ups at or before `upto` for the given workers (they were processed).
    fn clear_wakeups(&mut self, person_ids: &[&str], upto: Timestamp) -> Result<(), StoreError>;
    fn account_counts(&self) -> Result<AccountCounts, StoreError>;
    /// Newest cycles first.
    fn cycles(&self, limit: usize) -> Result<Vec<Cycle>, StoreError>;
    fn log(&self, query: &LogQuery) -> Result<Vec<LogEntry>, StoreError>;
}
