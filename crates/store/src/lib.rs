//! hrsync's durable state, behind the [`Store`] trait; no backend in here
//! (`hrsync-store-sqlite` is the default one).
//!
//! What is kept, per flow (`inbound`, `writeback`, or a name the config
//! chooses): the watermark per source scope, the join and last-exported
//! values per worker ([`Join`]), failed workers awaiting retry ([`Escrow`]),
//! instants at which a worker must be looked at again ([`Wakeup`]), the cycle
//! history, the provisioning log and the flow's [`Lease`].
//!
//! Invariants every backend keeps (the [`conformance`] suite, behind the
//! `conformance` feature, checks each of them):
//! - A store handle is bound to one flow. Every read and write of the handle
//!   is scoped to it: two flows on one storage never see each other's joins,
//!   escrow, wake-ups, watermarks, cycles or log.
//! - [`Store::commit`] applies a batch of worker outcomes atomically: either
//!   every join, escrow, wake-up and log change of the batch is durable, or
//!   none is.
//! - One target object joins at most one worker per flow: a second join is
//!   refused with [`StoreError::Conflict`] (and the whole batch with it).
//! - [`Store::finish_cycle`] records the cycle's end and advances the
//!   watermark in the same transaction, so a watermark never moves without
//!   the cycle that earned it.
//! - One cycle at a time per flow: the [`Lease`] ([`Store::try_lease`]) is
//!   held by one holder until it is released or expires; every acquisition
//!   takes a new, larger epoch. While a handle holds a lease, each of its
//!   writes checks that epoch in the same transaction and fails with
//!   [`StoreError::Fenced`] once another holder took over, so a process that
//!   lost its lease (paused, partitioned) cannot overwrite its successor.
//! - Time is always passed in; the store never reads a clock.
//! - The provisioning log is pruned ([`Store::prune_log`]) in small batches
//!   outside a page's commit; the cycle rows themselves are kept.
//!
//! The store is synchronous: SQLite answers in microseconds and the engine
//! batches per page. A PostgreSQL implementation for teams running several
//! instances implements the same trait (from `spawn_blocking`), and answers
//! the per-page batched reads ([`Store::load`], [`Store::accounts_by_target`])
//! in one round trip each.

use std::collections::HashMap;
use std::time::Duration;

/// What was done for a worker: the plan's vocabulary, recorded as is.
pub use hrsync_plan::Action;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

#[cfg(feature = "conformance")]
pub mod conformance;

/// A cycle's id in the history (unique over all flows of a storage).
pub type CycleId = i64;

/// The flow every state written before flows existed belongs to: SAP
/// SuccessFactors to the directory.
pub const INBOUND: &str = "inbound";

/// Any error of a backend, kept as its source.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What can go wrong in a store, whatever the backend. `store` names the
/// storage (a file path, a database URL without its password).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The storage cannot be reached, opened or locked right now; trying
    /// again later may work.
    #[error("state store {store}: {what}: {source}")]
    Unavailable {
        store: String,
        what: String,
        #[source]
        source: BoxError,
    },
    /// A write contradicts what is stored: the target object is already
    /// joined to another worker of this flow.
    #[error(
        "state store {store}: target object {target_id} is already joined to another worker; refusing to join {person_id} to it"
    )]
    Conflict { store: String, person_id: String, target_id: String },
    /// Stored data cannot be read back (a damaged file, a row written by a
    /// newer version, bytes that are not UTF-8).
    #[error("state store {store}: corrupt {what} ({key}): {cause}")]
    Corrupt { store: String, what: String, key: String, cause: String },
    /// The state that had a history is gone or empty (deleted, truncated or
    /// replaced); starting over silently would lose its joins, escrow and
    /// wake-ups.
    #[error("state store {store}: {detail}")]
    HistoryLost { store: String, detail: String },
    /// Another holder's lease on this flow has not expired.
    #[error(
        "state store {store}: flow `{flow}` is leased to {holder} until {expires_at} (one cycle at a time per flow)"
    )]
    LeaseHeld { store: String, flow: String, holder: String, expires_at: Timestamp },
    /// This handle's lease was taken over by another holder (it expired
    /// while this process was paused or cut off); nothing was written.
    #[error(
        "state store {store}: the lease on flow `{flow}` (epoch {epoch}) was taken over{}; this process stops writing",
        if .current.is_empty() { String::new() } else { format!(" by {}", .current) }
    )]
    Fenced { store: String, flow: String, epoch: u64, current: String },
    /// Anything else the backend reported.
    #[error("state store: {0}")]
    Backend(#[source] BoxError),
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
    pub fn as_str(self) -> &'static str {
        match self {
            AccountStatus::Active => "active",
            AccountStatus::Disabled => "disabled",
            AccountStatus::Deleted => "deleted",
        }
    }
}

/// The join of a worker to the target object hrsync manages for it, with
/// the values last exported there.
#[derive(Debug, Clone, PartialEq)]
pub struct Join {
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

/// How a log entry, or one step of it, ended. The serialized names are
/// stable: they are stored, filtered on (`hrsync logs --status`) and
/// printed by `--json` output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogStatus {
    Success,
    Failure,
    Skipped,
    Warning,
    /// A dry run's (`plan`): what would be done. Never stored: plans are
    /// reports, not log entries.
    Planned,
}

impl LogStatus {
    pub const ALL: [LogStatus; 5] = [
        LogStatus::Success,
        LogStatus::Failure,
        LogStatus::Skipped,
        LogStatus::Warning,
        LogStatus::Planned,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            LogStatus::Success => "success",
            LogStatus::Failure => "failure",
            LogStatus::Skipped => "skipped",
            LogStatus::Warning => "warning",
            LogStatus::Planned => "planned",
        }
    }

    /// The stored name back.
    pub fn parse(s: &str) -> Option<LogStatus> {
        LogStatus::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

impl std::fmt::Display for LogStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One step of processing a worker (import, scope, match, action, ...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    pub name: String,
    pub status: LogStatus,
    pub detail: String,
}

/// The provisioning log entry of one worker in one cycle.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogEntry {
    pub id: i64,
    pub cycle_id: CycleId,
    pub person_id: String,
    pub at: Timestamp,
    pub action: Action,
    pub status: LogStatus,
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
    pub status: Option<LogStatus>,
    pub action: Option<Action>,
    /// Entries at or after this instant.
    pub from: Option<Timestamp>,
    /// Entries before this instant.
    pub to: Option<Timestamp>,
    /// Entries whose person id, target id, error or steps contain this
    /// text (case-insensitive for ASCII).
    pub text: Option<String>,
    /// Only entries with a smaller id (the paging cursor: the last id of
    /// the page before).
    pub before_id: Option<i64>,
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
    pub join: Change<Join>,
    pub escrow: Change<Escrow>,
    /// `Set` replaces all of the worker's wake-ups; `Clear` removes them.
    pub wakeups: Change<Vec<(Timestamp, String)>>,
    /// The log entry (its `id` and `cycle_id` are assigned by the store).
    pub log: Option<LogEntry>,
}

/// What the store knows about one worker before processing it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WorkerState {
    pub join: Option<Join>,
    pub escrow: Option<Escrow>,
}

/// Counts used by the accidental-deletion guard and `hrsync status`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AccountCounts {
    pub active: u64,
    pub disabled: u64,
    pub deleted: u64,
}

/// The right to run cycles of one flow, until `expires_at` unless renewed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub flow: String,
    /// Who holds it: `host:pid:random` for hrsync processes.
    pub holder: String,
    /// Grows by one with every acquisition of the flow's lease (the
    /// fencing token).
    pub epoch: u64,
    pub expires_at: Timestamp,
}

/// How long the provisioning log is kept. A cycle's log entries are pruned
/// once the cycle is older than `max_age` or is not among the newest
/// `keep_cycles` cycles of its flow, whichever comes first; `None` turns a
/// limit off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub max_age: Option<Duration>,
    pub keep_cycles: Option<u32>,
}

impl Retention {
    /// Keep everything.
    pub const FOREVER: Retention = Retention { max_age: None, keep_cycles: None };
    /// The default: 30 days.
    pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(30 * 86_400);
}

impl Default for Retention {
    fn default() -> Self {
        Retention { max_age: Some(Self::DEFAULT_MAX_AGE), keep_cycles: None }
    }
}

/// hrsync's durable state for one flow (the flow is chosen when the handle
/// is opened).
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
    /// The join to a target object, if any.
    fn account_by_target(&self, target_id: &str) -> Result<Option<Join>, StoreError>;
    /// [`Store::account_by_target`] for many objects at once (matching a
    /// page): keyed by target id; objects without a join are absent.
    fn accounts_by_target(&self, target_ids: &[&str]) -> Result<HashMap<String, Join>, StoreError> {
        let mut out = HashMap::new();
        for id in target_ids {
            if let Some(a) = self.account_by_target(id)? {
                out.insert((*id).to_owned(), a);
            }
        }
        Ok(out)
    }
    /// Every live join of the flow (accounts not deleted) as `(person id,
    /// target id)`, ordered by person id: what a flow reading this flow's
    /// target (writeback) reads.
    fn joins(&self) -> Result<Vec<(String, String)>, StoreError>;
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
    /// Remove a worker's escrow (an operator gave up on it); whether there
    /// was one. Fenced like every write.
    fn drop_escrow(&mut self, person_id: &str) -> Result<bool, StoreError>;
    /// Wake-ups due at or before `now`.
    fn due_wakeups(&self, now: Timestamp) -> Result<Vec<Wakeup>, StoreError>;
    /// The earliest pending wake-up.
    fn next_wakeup(&self) -> Result<Option<Timestamp>, StoreError>;
    /// Remove wake-ups at or before `upto` for the given workers (they were processed).
    fn clear_wakeups(&mut self, person_ids: &[&str], upto: Timestamp) -> Result<(), StoreError>;
    fn account_counts(&self) -> Result<AccountCounts, StoreError>;
    /// Newest cycles first.
    fn cycles(&self, limit: usize) -> Result<Vec<Cycle>, StoreError>;
    /// One cycle of this flow by id (`None` for an unknown id or another
    /// flow's cycle).
    fn cycle(&self, id: CycleId) -> Result<Option<Cycle>, StoreError>;
    fn log(&self, query: &LogQuery) -> Result<Vec<LogEntry>, StoreError>;

    /// Take the flow's lease for `holder` until `now + ttl`, with a new
    /// epoch. Refused with [`StoreError::LeaseHeld`] while any holder's
    /// lease (this holder's too) is unexpired. From then on this handle's
    /// writes are fenced by the new epoch.
    fn try_lease(
        &mut self,
        holder: &str,
        ttl: Duration,
        now: Timestamp,
    ) -> Result<Lease, StoreError>;
    /// Extend `lease` to `now + ttl`; [`StoreError::Fenced`] if the flow's
    /// lease is no longer this holder's at this epoch.
    fn renew_lease(
        &mut self,
        lease: &Lease,
        ttl: Duration,
        now: Timestamp,
    ) -> Result<Lease, StoreError>;
    /// Give `lease` up so the next holder need not wait for its expiry. A
    /// no-op when the flow's lease has moved on (another holder or epoch),
    /// so it also serves to break the lease of a holder known to be dead.
    fn release_lease(&mut self, lease: &Lease) -> Result<(), StoreError>;
    /// The flow's lease as stored, expired or not (`None` if never taken
    /// or released).
    fn current_lease(&self) -> Result<Option<Lease>, StoreError>;

    /// Delete provisioning-log entries of this flow that `retention` no
    /// longer keeps, at most `max_rows`, in small transactions of their own
    /// (never inside a page's commit). Returns how many were deleted.
    fn prune_log(
        &mut self,
        retention: &Retention,
        now: Timestamp,
        max_rows: usize,
    ) -> Result<usize, StoreError>;
}

/// Read-only views of a flow's state, for the CLI and an HTTP API: shared
/// between threads (`Sync`), never writing.
pub trait History: Send + Sync {
    fn watermark(&self, scope: &str) -> Result<Option<Timestamp>, StoreError>;
    /// Newest cycles first.
    fn cycles(&self, limit: usize) -> Result<Vec<Cycle>, StoreError>;
    /// One cycle of this flow by id.
    fn cycle(&self, id: CycleId) -> Result<Option<Cycle>, StoreError>;
    fn log(&self, query: &LogQuery) -> Result<Vec<LogEntry>, StoreError>;
    fn account_counts(&self) -> Result<AccountCounts, StoreError>;
    /// All escrowed workers.
    fn escrows(&self) -> Result<Vec<Escrow>, StoreError>;
    /// The earliest pending wake-up.
    fn next_wakeup(&self) -> Result<Option<Timestamp>, StoreError>;
    /// The flow's lease as stored, expired or not.
    fn current_lease(&self) -> Result<Option<Lease>, StoreError>;
}
