//! hrsync's default store: one SQLite file, WAL journal, holding any number
//! of flows (each handle is bound to one).
//!
//! Invariants, beyond those of [`hrsync_store`]:
//! - WAL with `synchronous=NORMAL` survives `kill -9` of hrsync at any
//!   instant (a committed transaction is in the WAL before `commit` returns);
//!   only a power loss can drop the last transactions, which the watermark
//!   rule then re-reads from SuccessFactors.
//! - The schema migrates in place at open (`migrations/`, counted in
//!   `user_version`); files written by older versions read back unchanged.
//!   Rows from before flows belong to [`hrsync_store::INBOUND`].
//! - Every key and every index the engine's queries use leads with the
//!   flow; a page's commit is one `IMMEDIATE` transaction whose only extra
//!   work over the rows themselves is one lease check (when leased).
//! - A file is checked at open (`PRAGMA quick_check`), a new file appears
//!   complete (created aside and linked into place), and a `-history` file
//!   beside it records that it has held cycles: a damaged, 0-byte, missing
//!   or emptied state is refused with an error naming the file and what to
//!   do, never silently started over (see [`SqliteStore::open`]).
//! - The provisioning log is pruned after [`Store::finish_cycle`] commits,
//!   in transactions of [`PRUNE_BATCH`] rows (see [`SqliteStore::set_retention`]).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use jiff::Timestamp;
use rusqlite::types::FromSql;
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};
use rusqlite_migration::{M, Migrations};

use hrsync_sqlite_wal::{self as wal, Checkpointer};
use hrsync_store::*;

mod error;
mod file;
mod lease;

use error::{Error, Result, corrupt};
pub use lease::{LeaseKeeper, holder_is_gone, process_holder};

/// Log rows deleted per pruning transaction.
pub const PRUNE_BATCH: usize = 5_000;
/// Log rows pruned at most after one cycle (a backlog is caught up over the
/// following cycles).
pub const PRUNE_PER_CYCLE: usize = 50_000;
/// Target ids per `IN (...)` query of [`Store::accounts_by_target`].
const IN_CHUNK: usize = 256;

/// A [`Store`] in one SQLite file, bound to one flow.
pub struct SqliteStore {
    /// Declared first so that it stops before the writer's connection closes
    /// (the last connection to close checkpoints and removes the WAL).
    _checkpointer: Option<Checkpointer>,
    conn: Connection,
    /// The file, for errors (`:memory:` for a private store).
    name: String,
    path: Option<PathBuf>,
    flow: String,
    /// The lease this handle took: its writes are fenced by it.
    held: Option<(String, u64)>,
    retention: Retention,
    /// Whether the `-history` marker is known to exist (or cannot be written).
    marked: bool,
}

fn migrations() -> Migrations<'static> {
    Migrations::new(vec![
        M::up(include_str!("../migrations/0001_initial.sql")),
        M::up(include_str!("../migrations/0002_log_rowid.sql")),
        M::up(include_str!("../migrations/0003_flows.sql")),
    ])
}

fn check_flow(flow: &str) -> std::result::Result<(), StoreError> {
    if flow.trim().is_empty() || flow.chars().any(char::is_control) {
        return Err(StoreError::Backend(
            format!("flow name {flow:?} must be non-empty printable text").into(),
        ));
    }
    Ok(())
}

impl SqliteStore {
    /// Open (creating and migrating if needed) the store at `path`, bound
    /// to `flow`.
    ///
    /// Refused, with an error naming the file and what to do:
    /// - a file that is not a database or fails `PRAGMA quick_check`
    ///   ([`StoreError::Corrupt`]);
    /// - a 0-byte file ([`StoreError::Corrupt`]): hrsync never leaves one (a new
    ///   state is created aside and linked into place complete), so it was
    ///   truncated or made by hand;
    /// - a missing file, or one without cycles, while its `-history` marker
    ///   says it held cycles ([`StoreError::HistoryLost`]): the state was
    ///   deleted, replaced or emptied. Delete the marker too to start over
    ///   on purpose.
    pub fn open(path: &Path, flow: &str) -> Result<Self, StoreError> {
        check_flow(flow)?;
        let name = path.display().to_string();
        let created = file::prepare(path, &name, migrations)?;
        let conn =
            Connection::open(path).map_err(|e| error::sql(&name, "opening the state file", e))?;
        let mut store = Self::init(conn, name.clone(), Some(path.to_owned()), flow, !created)?;
        store.marked = file::check_history(&store.conn, path, &name).map_err(|e| e.named(&name))?;
        let checkpoints = Connection::open(path)
            .map_err(|e| error::sql(&name, "opening the checkpoint connection", e))?;
        store._checkpointer =
            Some(Checkpointer::start(checkpoints, wal::INTERVAL).map_err(|source| {
                StoreError::Unavailable {
                    store: name.clone(),
                    what: "starting its WAL checkpoint thread".into(),
                    source: Box::new(source),
                }
            })?);
        Ok(store)
    }

    /// A private in-memory store, for tests and dry runs.
    pub fn in_memory(flow: &str) -> Result<Self, StoreError> {
        check_flow(flow)?;
        let conn = Connection::open_in_memory()
            .map_err(|e| error::sql(":memory:", "opening an in-memory store", e))?;
        let mut store = Self::init(conn, ":memory:".into(), None, flow, false)?;
        store.marked = true;
        Ok(store)
    }

    fn init(
        mut conn: Connection,
        name: String,
        path: Option<PathBuf>,
        flow: &str,
        check: bool,
    ) -> Result<Self, StoreError> {
        let open_err = |e| error::sql(&name, "opening the state file", e);
        conn.pragma_update(None, "journal_mode", "WAL").map_err(open_err)?;
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(open_err)?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(open_err)?;
        // Checkpoints run on their own thread (see `wal`); this is the net.
        conn.pragma_update(None, "wal_autocheckpoint", wal::WRITER_AUTOCHECKPOINT)
            .map_err(open_err)?;
        // A page commit inserts into three indexes keyed by person id (the
        // join's, its target id's, the log's): keep them in memory.
        conn.pragma_update(None, "cache_size", -32_768).map_err(open_err)?;
        conn.set_prepared_statement_cache_capacity(32);
        conn.busy_timeout(Duration::from_secs(10)).map_err(open_err)?;
        if check {
            file::quick_check(&conn, &name).map_err(|e| e.named(&name))?;
        }
        migrations().to_latest(&mut conn).map_err(|e| match e {
            rusqlite_migration::Error::RusqliteError { err, .. } => {
                error::sql(&name, "migrating the schema", err)
            }
            other => StoreError::Unavailable {
                store: name.clone(),
                what: "migrating the schema".into(),
                source: Box::new(other),
            },
        })?;
        Ok(SqliteStore {
            _checkpointer: None,
            conn,
            name,
            path,
            flow: flow.to_owned(),
            held: None,
            retention: Retention::default(),
            marked: false,
        })
    }

    /// The flow this handle reads and writes.
    pub fn flow(&self) -> &str {
        &self.flow
    }

    /// The file (`:memory:` for a private store).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// How long [`Store::finish_cycle`] keeps the provisioning log (default
    /// [`Retention::default`]: 30 days).
    pub fn set_retention(&mut self, retention: Retention) {
        self.retention = retention;
    }

    /// The same as [`Store::try_lease`], except that a lease held by a
    /// process of this host that no longer runs ([`holder_is_gone`]: it was
    /// killed) is taken over at once instead of after its expiry, as the
    /// file lock of earlier versions was.
    pub fn try_lease_or_take_over(
        &mut self,
        holder: &str,
        ttl: Duration,
        now: Timestamp,
    ) -> Result<Lease, StoreError> {
        match self.try_lease(holder, ttl, now) {
            Err(StoreError::LeaseHeld { holder: stale, .. }) if holder_is_gone(&stale) => {
                if let Some(current) = self.current_lease()?
                    && current.holder == stale
                {
                    tracing::warn!(
                        message = "Taking over the lease of a process of this host that is no longer running.",
                        flow = %self.flow,
                        stale = %stale,
                        epoch = current.epoch,
                    );
                    self.release_lease(&current)?;
                }
                self.try_lease(holder, ttl, now)
            }
            other => other,
        }
    }

    /// Keep this handle's lease renewed from a thread of its own (every
    /// `ttl / 3`, with `now` as the clock) until the keeper is dropped,
    /// which releases the lease.
    pub fn keep_lease(
        &self,
        ttl: Duration,
        now: impl Fn() -> Timestamp + Send + 'static,
    ) -> Result<LeaseKeeper, StoreError> {
        let Some((holder, epoch)) = self.held.clone() else {
            return Err(StoreError::Backend(
                format!("{}: keep_lease without a lease on flow `{}`", self.name, self.flow).into(),
            ));
        };
        let Some(path) = &self.path else {
            return Err(StoreError::Backend("an in-memory store has no lease to keep".into()));
        };
        let conn = Connection::open(path)
            .map_err(|e| error::sql(&self.name, "opening the lease keeper's connection", e))?;
        LeaseKeeper::start(conn, self.name.clone(), self.flow.clone(), holder, epoch, ttl, now)
    }

    /// Wrap a result of the private implementation for the caller.
    fn out<T>(&self, r: Result<T>) -> Result<T, StoreError> {
        r.map_err(|e| e.named(&self.name))
    }

    fn mark_history(&mut self) {
        if self.marked {
            return;
        }
        if let Some(path) = &self.path {
            file::write_marker(path);
        }
        self.marked = true;
    }

    fn prune_after_cycle(&mut self, now: Timestamp) {
        let retention = self.retention;
        if retention == Retention::FOREVER {
            return;
        }
        match self.prune_log(&retention, now, PRUNE_PER_CYCLE) {
            Ok(0) => {}
            Ok(n) => {
                tracing::debug!(message = "Pruned the provisioning log.", flow = %self.flow, rows = n)
            }
            // The cycle is recorded; pruning is retried after the next one.
            Err(error) => tracing::warn!(message = "Pruning the provisioning log failed.", %error),
        }
    }
}

/// A write transaction. IMMEDIATE: the write lock is taken (waiting for
/// the lease keeper's renewal, if any) before the fence is read, so the
/// check and the writes see the same lease.
fn immediate(conn: &mut Connection) -> Result<rusqlite::Transaction<'_>> {
    Ok(conn.transaction_with_behavior(TransactionBehavior::Immediate)?)
}

/// In a write transaction: fail with [`StoreError::Fenced`] if the handle
/// holds a lease (`held`) that another holder has since taken.
fn fence(tx: &Connection, store: &str, flow: &str, held: &Option<(String, u64)>) -> Result<()> {
    let Some((holder, epoch)) = held else { return Ok(()) };
    lease::fence(tx, store, flow, holder, *epoch)
}

fn ms(t: Timestamp) -> i64 {
    t.as_millisecond()
}

fn ts(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(ms).unwrap_or(if ms > 0 { Timestamp::MAX } else { Timestamp::MIN })
}

fn ms_after(now: Timestamp, d: Duration) -> i64 {
    ms(now).saturating_add(i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Column `i` of a row; a value that does not decode (not UTF-8, wrong
/// type) is [`StoreError::Corrupt`] naming the row.
fn col<T: FromSql>(row: &Row<'_>, i: usize, store: &str, what: &str, key: &str) -> Result<T> {
    row.get(i).map_err(|e| match e {
        rusqlite::Error::FromSqlConversionFailure(..)
        | rusqlite::Error::InvalidColumnType(..)
        | rusqlite::Error::Utf8Error(..)
        | rusqlite::Error::IntegralValueOutOfRange(..) => {
            let column = row.as_ref().column_name(i).unwrap_or("?").to_owned();
            corrupt(store, &format!("{what}, column {column}"), key, e)
        }
        e => Error::Sql(e),
    })
}

/// A row's key column for error messages, even when it does not decode.
fn key_of(row: &Row<'_>, i: usize) -> String {
    match row.get_ref(i) {
        Ok(v) => match v {
            rusqlite::types::ValueRef::Text(b) | rusqlite::types::ValueRef::Blob(b) => {
                String::from_utf8_lossy(b).into_owned()
            }
            rusqlite::types::ValueRef::Integer(n) => n.to_string(),
            _ => "?".into(),
        },
        Err(_) => "?".into(),
    }
}

fn enum_from_str<T: serde::de::DeserializeOwned>(
    store: &str,
    what: &str,
    key: &str,
    s: &str,
) -> Result<T> {
    serde_json::from_value(serde_json::Value::String(s.to_owned()))
        .map_err(|e| corrupt(store, what, key, e))
}

fn enum_to_str<T: serde::Serialize>(v: T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

fn json_from_str<T: serde::de::DeserializeOwned>(
    store: &str,
    what: &str,
    key: &str,
    s: &str,
) -> Result<T> {
    serde_json::from_str(s).map_err(|e| corrupt(store, what, key, e))
}

/// A log step as stored: `[name, status, detail]` since schema version 2,
/// an object with those fields before (still read).
#[derive(serde::Deserialize)]
#[serde(untagged)]
enum StoredStep {
    Compact(String, LogStatus, String),
    Named(Step),
}

impl From<StoredStep> for Step {
    fn from(s: StoredStep) -> Step {
        match s {
            StoredStep::Compact(name, status, detail) => Step { name, status, detail },
            StoredStep::Named(step) => step,
        }
    }
}

/// A modified attribute as stored: `[attribute, old, new]` since schema
/// version 2, an object with those fields before (still read).
#[derive(serde::Deserialize)]
#[serde(untagged)]
enum StoredChange {
    Compact(String, serde_json::Value, serde_json::Value),
    Named(AttributeChange),
}

impl From<StoredChange> for AttributeChange {
    fn from(c: StoredChange) -> AttributeChange {
        match c {
            StoredChange::Compact(attribute, old, new) => AttributeChange { attribute, old, new },
            StoredChange::Named(change) => change,
        }
    }
}

/// The log entry's steps and modified attributes in their stored form:
/// arrays instead of objects, which drops the field names repeated in every
/// element (a third of a created worker's log row).
fn encode_log(l: &LogEntry) -> std::result::Result<(String, String), serde_json::Error> {
    let steps: Vec<(&str, &str, &str)> =
        l.steps.iter().map(|s| (s.name.as_str(), s.status.as_str(), s.detail.as_str())).collect();
    let modified: Vec<(&str, &serde_json::Value, &serde_json::Value)> =
        l.modified.iter().map(|c| (c.attribute.as_str(), &c.old, &c.new)).collect();
    Ok((serde_json::to_string(&steps)?, serde_json::to_string(&modified)?))
}

const JOIN_COLUMNS: &str = "person_id, target_id, status, exported, created_ms, updated_ms";

fn join_from_row(row: &Row<'_>, store: &str) -> Result<Join> {
    let key = key_of(row, 0);
    let what = "join";
    let person_id: String = col(row, 0, store, what, &key)?;
    let target_id: String = col(row, 1, store, what, &key)?;
    let status: String = col(row, 2, store, what, &key)?;
    let exported: String = col(row, 3, store, what, &key)?;
    Ok(Join {
        status: enum_from_str(store, "join status", &key, &status)?,
        exported: json_from_str(store, "exported values", &key, &exported)?,
        target_id,
        created_at: ts(col(row, 4, store, what, &key)?),
        updated_at: ts(col(row, 5, store, what, &key)?),
        person_id,
    })
}

const ESCROW_COLUMNS: &str =
    "person_id, attempts, first_failed_ms, last_failed_ms, next_attempt_ms, last_error, flagged";

fn escrow_from_row(row: &Row<'_>, store: &str) -> Result<Escrow> {
    let key = key_of(row, 0);
    let what = "escrow";
    Ok(Escrow {
        person_id: col(row, 0, store, what, &key)?,
        attempts: col(row, 1, store, what, &key)?,
        first_failed_at: ts(col(row, 2, store, what, &key)?),
        last_failed_at: ts(col(row, 3, store, what, &key)?),
        next_attempt_at: ts(col(row, 4, store, what, &key)?),
        last_error: col(row, 5, store, what, &key)?,
        flagged: col(row, 6, store, what, &key)?,
    })
}

fn cycle_from_row(row: &Row<'_>, store: &str) -> Result<Cycle> {
    let key = format!("cycle {}", key_of(row, 0));
    let what = "cycle";
    let id: i64 = col(row, 0, store, what, &key)?;
    let kind: String = col(row, 1, store, what, &key)?;
    let status: String = col(row, 4, store, what, &key)?;
    let from: Option<i64> = col(row, 5, store, what, &key)?;
    let to: Option<i64> = col(row, 6, store, what, &key)?;
    let summary: String = col(row, 7, store, what, &key)?;
    Ok(Cycle {
        id,
        kind: enum_from_str(store, "cycle kind", &key, &kind)?,
        started_at: ts(col(row, 2, store, what, &key)?),
        finished_at: col::<Option<i64>>(row, 3, store, what, &key)?.map(ts),
        status: enum_from_str(store, "cycle status", &key, &status)?,
        window: from.zip(to).map(|(f, t)| (ts(f), ts(t))),
        summary: json_from_str(store, "cycle summary", &key, &summary)?,
        message: col(row, 8, store, what, &key)?,
    })
}

fn log_from_row(row: &Row<'_>, store: &str) -> Result<LogEntry> {
    let key = format!("log entry {}", key_of(row, 0));
    let what = "log entry";
    let steps: String = col(row, 7, store, what, &key)?;
    let modified: String = col(row, 8, store, what, &key)?;
    let action: String = col(row, 4, store, what, &key)?;
    let status: String = col(row, 5, store, what, &key)?;
    Ok(LogEntry {
        id: col(row, 0, store, what, &key)?,
        cycle_id: col(row, 1, store, what, &key)?,
        person_id: col(row, 2, store, what, &key)?,
        at: ts(col(row, 3, store, what, &key)?),
        action: Action::parse(&action).ok_or_else(|| {
            corrupt(store, "log action", &key, format!("unknown action `{action}`"))
        })?,
        status: LogStatus::parse(&status).ok_or_else(|| {
            corrupt(store, "log status", &key, format!("unknown status `{status}`"))
        })?,
        target_id: col(row, 6, store, what, &key)?,
        steps: json_from_str::<Vec<StoredStep>>(store, "log steps", &key, &steps)?
            .into_iter()
            .map(Step::from)
            .collect(),
        modified: json_from_str::<Vec<StoredChange>>(
            store,
            "log modified attributes",
            &key,
            &modified,
        )?
        .into_iter()
        .map(AttributeChange::from)
        .collect(),
        error: col(row, 9, store, what, &key)?,
    })
}

/// Every row of a query, decoded by `f`.
fn collect<T>(
    mut rows: rusqlite::Rows<'_>,
    store: &str,
    f: impl Fn(&Row<'_>, &str) -> Result<T>,
) -> Result<Vec<T>> {
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(f(row, store)?);
    }
    Ok(out)
}

/// The implementation; every method returns the private [`Error`], named
/// for the caller by [`SqliteStore::out`].
impl SqliteStore {
    fn watermark_(&self, scope: &str) -> Result<Option<Timestamp>> {
        let v: Option<i64> = self
            .conn
            .prepare_cached("SELECT value_ms FROM watermark WHERE flow = ?1 AND scope = ?2")?
            .query_row(params![self.flow, scope], |r| r.get(0))
            .optional()?;
        Ok(v.map(ts))
    }

    fn begin_cycle_(
        &mut self,
        kind: CycleKind,
        window: Option<(Timestamp, Timestamp)>,
        now: Timestamp,
    ) -> Result<CycleId> {
        let tx = immediate(&mut self.conn)?;
        fence(&tx, &self.name, &self.flow, &self.held)?;
        tx.execute(
            "INSERT INTO cycle (flow, kind, started_ms, status, window_from_ms, window_to_ms) \
             VALUES (?1, ?2, ?3, 'running', ?4, ?5)",
            params![
                self.flow,
                enum_to_str(kind),
                ms(now),
                window.map(|w| ms(w.0)),
                window.map(|w| ms(w.1))
            ],
        )?;
        let id = tx.last_insert_rowid();
        tx.commit()?;
        self.mark_history();
        Ok(id)
    }

    fn load_(&self, person_ids: &[&str]) -> Result<HashMap<String, WorkerState>> {
        let mut out: HashMap<String, WorkerState> = HashMap::with_capacity(person_ids.len());
        let mut acc = self.conn.prepare_cached(&format!(
            "SELECT {JOIN_COLUMNS} FROM account WHERE flow = ?1 AND person_id = ?2"
        ))?;
        let mut esc = self.conn.prepare_cached(&format!(
            "SELECT {ESCROW_COLUMNS} FROM escrow WHERE flow = ?1 AND person_id = ?2"
        ))?;
        for id in person_ids {
            let join = match acc.query(params![self.flow, id])?.next()? {
                Some(row) => Some(join_from_row(row, &self.name)?),
                None => None,
            };
            let escrow = match esc.query(params![self.flow, id])?.next()? {
                Some(row) => Some(escrow_from_row(row, &self.name)?),
                None => None,
            };
            if join.is_some() || escrow.is_some() {
                out.insert((*id).to_owned(), WorkerState { join, escrow });
            }
        }
        Ok(out)
    }

    fn joins_(&self) -> Result<Vec<(String, String)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT person_id, target_id FROM account WHERE flow = ?1 AND status != 'deleted' ORDER BY person_id",
        )?;
        let rows = stmt.query_map(params![self.flow], |r| Ok((r.get(0)?, r.get(1)?)))?;
        let mut out = Vec::new();
        for r in rows {
            out.push(r?);
        }
        Ok(out)
    }

    fn account_by_target_(&self, target_id: &str) -> Result<Option<Join>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {JOIN_COLUMNS} FROM account WHERE flow = ?1 AND target_id = ?2"
        ))?;
        let mut rows = stmt.query(params![self.flow, target_id])?;
        match rows.next()? {
            Some(row) => Ok(Some(join_from_row(row, &self.name)?)),
            None => Ok(None),
        }
    }

    fn accounts_by_target_(&self, target_ids: &[&str]) -> Result<HashMap<String, Join>> {
        let mut out = HashMap::with_capacity(target_ids.len());
        for chunk in target_ids.chunks(IN_CHUNK) {
            // One statement per chunk length: full chunks share one cached
            // statement, the last one its own.
            let marks: Vec<String> = (0..chunk.len()).map(|i| format!("?{}", i + 2)).collect();
            let mut stmt = self.conn.prepare_cached(&format!(
                "SELECT {JOIN_COLUMNS} FROM account WHERE flow = ?1 AND target_id IN ({})",
                marks.join(", ")
            ))?;
            let args = std::iter::once(&self.flow as &dyn rusqlite::ToSql)
                .chain(chunk.iter().map(|id| id as &dyn rusqlite::ToSql));
            let mut rows = stmt.query(rusqlite::params_from_iter(args))?;
            while let Some(row) = rows.next()? {
                let join = join_from_row(row, &self.name)?;
                out.insert(join.target_id.clone(), join);
            }
        }
        Ok(out)
    }

    fn commit_(&mut self, cycle: CycleId, outcomes: &[Outcome]) -> Result<()> {
        let tx = immediate(&mut self.conn)?;
        fence(&tx, &self.name, &self.flow, &self.held)?;
        let flow = self.flow.as_str();
        let store = self.name.as_str();
        {
            // Not `INSERT OR REPLACE`: that would silently delete another
            // worker's row that holds the same target id.
            let mut put_account = tx.prepare_cached(&format!(
                "INSERT INTO account (flow, {JOIN_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
                 ON CONFLICT (flow, person_id) DO UPDATE SET target_id = excluded.target_id, status = excluded.status, \
                 exported = excluded.exported, updated_ms = excluded.updated_ms"
            ))?;
            let mut del_account =
                tx.prepare_cached("DELETE FROM account WHERE flow = ?1 AND person_id = ?2")?;
            let mut put_escrow = tx.prepare_cached(&format!(
                "INSERT OR REPLACE INTO escrow (flow, {ESCROW_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
            ))?;
            let mut del_escrow =
                tx.prepare_cached("DELETE FROM escrow WHERE flow = ?1 AND person_id = ?2")?;
            let mut del_wakeups =
                tx.prepare_cached("DELETE FROM wakeup WHERE flow = ?1 AND person_id = ?2")?;
            let mut put_wakeup = tx.prepare_cached(
                "INSERT OR REPLACE INTO wakeup (flow, person_id, at_ms, reason) VALUES (?1, ?2, ?3, ?4)",
            )?;
            let mut put_log = tx.prepare_cached(
                "INSERT INTO provisioning_log (flow, cycle_id, person_id, at_ms, action, status, target_id, steps, modified, error) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )?;
            for o in outcomes {
                let person = o.person_id.as_str();
                match &o.join {
                    Change::Keep => {}
                    Change::Set(a) => {
                        let exported = serde_json::to_string(&a.exported)
                            .map_err(|e| corrupt(store, "exported values", person, e))?;
                        put_account
                            .execute(params![
                                flow,
                                person,
                                a.target_id,
                                a.status.as_str(),
                                exported,
                                ms(a.created_at),
                                ms(a.updated_at)
                            ])
                            .map_err(|e| match e.sqlite_error_code() {
                                Some(rusqlite::ErrorCode::ConstraintViolation) => {
                                    Error::Store(StoreError::Conflict {
                                        store: store.to_owned(),
                                        person_id: person.to_owned(),
                                        target_id: a.target_id.clone(),
                                    })
                                }
                                _ => Error::Sql(e),
                            })?;
                    }
                    Change::Clear => {
                        del_account.execute(params![flow, person])?;
                    }
                }
                match &o.escrow {
                    Change::Keep => {}
                    Change::Set(e) => {
                        put_escrow.execute(params![
                            flow,
                            person,
                            e.attempts,
                            ms(e.first_failed_at),
                            ms(e.last_failed_at),
                            ms(e.next_attempt_at),
                            e.last_error,
                            e.flagged
                        ])?;
                    }
                    Change::Clear => {
                        del_escrow.execute(params![flow, person])?;
                    }
                }
                match &o.wakeups {
                    Change::Keep => {}
                    Change::Set(list) => {
                        del_wakeups.execute(params![flow, person])?;
                        for (at, reason) in list {
                            put_wakeup.execute(params![flow, person, ms(*at), reason])?;
                        }
                    }
                    Change::Clear => {
                        del_wakeups.execute(params![flow, person])?;
                    }
                }
                if let Some(l) = &o.log {
                    let (steps, modified) =
                        encode_log(l).map_err(|e| corrupt(store, "log entry", person, e))?;
                    put_log.execute(params![
                        flow,
                        cycle,
                        person,
                        ms(l.at),
                        l.action.as_str(),
                        l.status.as_str(),
                        l.target_id,
                        steps,
                        modified,
                        l.error
                    ])?;
                }
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn finish_cycle_(
        &mut self,
        cycle: CycleId,
        status: CycleStatus,
        summary: &serde_json::Value,
        message: Option<&str>,
        now: Timestamp,
        advance: Option<(&str, Timestamp)>,
    ) -> Result<()> {
        let tx = immediate(&mut self.conn)?;
        fence(&tx, &self.name, &self.flow, &self.held)?;
        tx.execute(
            "UPDATE cycle SET finished_ms = ?3, status = ?4, summary = ?5, message = ?6 WHERE id = ?1 AND flow = ?2",
            params![cycle, self.flow, ms(now), enum_to_str(status), summary.to_string(), message],
        )?;
        if let Some((scope, value)) = advance {
            tx.execute(
                "INSERT INTO watermark (flow, scope, value_ms, cycle_id, updated_ms) VALUES (?1, ?2, ?3, ?4, ?5) \
                 ON CONFLICT (flow, scope) DO UPDATE SET value_ms = excluded.value_ms, cycle_id = excluded.cycle_id, \
                 updated_ms = excluded.updated_ms",
                params![self.flow, scope, ms(value), cycle, ms(now)],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    fn abort_running_cycles_(&mut self, now: Timestamp) -> Result<usize> {
        let tx = immediate(&mut self.conn)?;
        fence(&tx, &self.name, &self.flow, &self.held)?;
        let n = tx.execute(
            "UPDATE cycle SET status = 'aborted', finished_ms = ?2, message = 'interrupted before it finished' \
             WHERE flow = ?1 AND status = 'running'",
            params![self.flow, ms(now)],
        )?;
        tx.commit()?;
        Ok(n)
    }

    fn due_escrows_(&self, now: Timestamp, limit: usize) -> Result<Vec<Escrow>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {ESCROW_COLUMNS} FROM escrow WHERE flow = ?1 AND next_attempt_ms <= ?2 \
             ORDER BY next_attempt_ms, person_id LIMIT ?3"
        ))?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        collect(stmt.query(params![self.flow, ms(now), limit])?, &self.name, escrow_from_row)
    }

    fn escrows_(&self) -> Result<Vec<Escrow>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {ESCROW_COLUMNS} FROM escrow WHERE flow = ?1 ORDER BY person_id"
        ))?;
        collect(stmt.query([&self.flow])?, &self.name, escrow_from_row)
    }

    fn due_wakeups_(&self, now: Timestamp) -> Result<Vec<Wakeup>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT person_id, at_ms, reason FROM wakeup WHERE flow = ?1 AND at_ms <= ?2 ORDER BY at_ms",
        )?;
        collect(stmt.query(params![self.flow, ms(now)])?, &self.name, |r, store| {
            let key = key_of(r, 0);
            Ok(Wakeup {
                person_id: col(r, 0, store, "wake-up", &key)?,
                at: ts(col(r, 1, store, "wake-up", &key)?),
                reason: col(r, 2, store, "wake-up", &key)?,
            })
        })
    }

    fn next_wakeup_(&self) -> Result<Option<Timestamp>> {
        let v: Option<i64> = self
            .conn
            .prepare_cached("SELECT min(at_ms) FROM wakeup WHERE flow = ?1")?
            .query_row([&self.flow], |r| r.get(0))?;
        Ok(v.map(ts))
    }

    fn drop_escrow_(&mut self, person_id: &str) -> Result<bool> {
        let tx = immediate(&mut self.conn)?;
        fence(&tx, &self.name, &self.flow, &self.held)?;
        let n = tx.execute(
            "DELETE FROM escrow WHERE flow = ?1 AND person_id = ?2",
            params![self.flow, person_id],
        )?;
        tx.commit()?;
        Ok(n > 0)
    }

    fn clear_wakeups_(&mut self, person_ids: &[&str], upto: Timestamp) -> Result<()> {
        let tx = immediate(&mut self.conn)?;
        fence(&tx, &self.name, &self.flow, &self.held)?;
        {
            let mut stmt = tx.prepare_cached(
                "DELETE FROM wakeup WHERE flow = ?1 AND person_id = ?2 AND at_ms <= ?3",
            )?;
            for id in person_ids {
                stmt.execute(params![self.flow, id, ms(upto)])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn account_counts_(&self) -> Result<AccountCounts> {
        let mut counts = AccountCounts::default();
        let mut stmt = self.conn.prepare_cached(
            "SELECT status, count(*) FROM account WHERE flow = ?1 GROUP BY status",
        )?;
        let rows = collect(stmt.query([&self.flow])?, &self.name, |r, store| {
            Ok((
                col::<String>(r, 0, store, "join", "count")?,
                col::<i64>(r, 1, store, "join", "count")?,
            ))
        })?;
        for (status, n) in rows {
            let n = u64::try_from(n).unwrap_or(0);
            match status.as_str() {
                "active" => counts.active = n,
                "disabled" => counts.disabled = n,
                _ => counts.deleted = n,
            }
        }
        Ok(counts)
    }

    fn cycles_(&self, limit: usize) -> Result<Vec<Cycle>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, kind, started_ms, finished_ms, status, window_from_ms, window_to_ms, summary, message \
             FROM cycle WHERE flow = ?1 ORDER BY id DESC LIMIT ?2",
        )?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        collect(stmt.query(params![self.flow, limit])?, &self.name, cycle_from_row)
    }

    fn cycle_(&self, id: CycleId) -> Result<Option<Cycle>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, kind, started_ms, finished_ms, status, window_from_ms, window_to_ms, summary, message \
             FROM cycle WHERE flow = ?1 AND id = ?2",
        )?;
        Ok(collect(stmt.query(params![self.flow, id])?, &self.name, cycle_from_row)?.pop())
    }

    fn log_(&self, query: &LogQuery) -> Result<Vec<LogEntry>> {
        let mut sql = String::from(
            "SELECT id, cycle_id, person_id, at_ms, action, status, target_id, steps, modified, error \
             FROM provisioning_log WHERE flow = ?1",
        );
        let mut args: Vec<rusqlite::types::Value> = vec![self.flow.clone().into()];
        if let Some(p) = &query.person_id {
            args.push(p.clone().into());
            sql.push_str(&format!(" AND person_id = ?{}", args.len()));
        }
        if let Some(c) = query.cycle_id {
            args.push(c.into());
            sql.push_str(&format!(" AND cycle_id = ?{}", args.len()));
        }
        if let Some(s) = &query.status {
            args.push(s.as_str().to_owned().into());
            sql.push_str(&format!(" AND status = ?{}", args.len()));
        }
        if let Some(a) = &query.action {
            args.push(a.as_str().to_owned().into());
            sql.push_str(&format!(" AND action = ?{}", args.len()));
        }
        if let Some(from) = query.from {
            args.push(ms(from).into());
            sql.push_str(&format!(" AND at_ms >= ?{}", args.len()));
        }
        if let Some(to) = query.to {
            args.push(ms(to).into());
            sql.push_str(&format!(" AND at_ms < ?{}", args.len()));
        }
        if let Some(before) = query.before_id {
            args.push(before.into());
            sql.push_str(&format!(" AND id < ?{}", args.len()));
        }
        if let Some(text) = &query.text {
            // LIKE with its wildcards escaped: the text is matched as written.
            let escaped = text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
            args.push(format!("%{escaped}%").into());
            let n = args.len();
            sql.push_str(&format!(
                " AND (person_id LIKE ?{n} ESCAPE '\\' OR IFNULL(target_id, '') LIKE ?{n} ESCAPE '\\' \
                 OR IFNULL(error, '') LIKE ?{n} ESCAPE '\\' OR steps LIKE ?{n} ESCAPE '\\')"
            ));
        }
        sql.push_str(" ORDER BY id DESC");
        if query.limit > 0 {
            sql.push_str(&format!(" LIMIT {}", query.limit.min(i64::MAX as usize)));
        }
        let mut stmt = self.conn.prepare(&sql)?;
        collect(stmt.query(rusqlite::params_from_iter(args))?, &self.name, log_from_row)
    }

    fn try_lease_(&mut self, holder: &str, ttl: Duration, now: Timestamp) -> Result<Lease> {
        let tx = immediate(&mut self.conn)?;
        let lease =
            lease::acquire(&tx, &self.name, &self.flow, holder, ms(now), ms_after(now, ttl))?;
        tx.commit()?;
        self.held = Some((lease.holder.clone(), lease.epoch));
        Ok(lease)
    }

    fn renew_lease_(&mut self, lease: &Lease, ttl: Duration, now: Timestamp) -> Result<Lease> {
        let tx = immediate(&mut self.conn)?;
        let renewed = lease::renew(&tx, &self.name, lease, ms_after(now, ttl))?;
        tx.commit()?;
        Ok(renewed)
    }

    fn release_lease_(&mut self, lease: &Lease) -> Result<()> {
        let tx = immediate(&mut self.conn)?;
        lease::release(&tx, lease)?;
        tx.commit()?;
        if self.held.as_ref().is_some_and(|(h, e)| *h == lease.holder && *e == lease.epoch) {
            self.held = None;
        }
        Ok(())
    }

    fn prune_log_(
        &mut self,
        retention: &Retention,
        now: Timestamp,
        max_rows: usize,
    ) -> Result<usize> {
        let Some(upto) = self.prune_boundary(retention, now)? else { return Ok(0) };
        let mut total = 0;
        while total < max_rows {
            let batch = PRUNE_BATCH.min(max_rows - total);
            let tx = immediate(&mut self.conn)?;
            fence(&tx, &self.name, &self.flow, &self.held)?;
            let n = tx.execute(
                "DELETE FROM provisioning_log WHERE id IN \
                 (SELECT id FROM provisioning_log WHERE flow = ?1 AND cycle_id <= ?2 ORDER BY cycle_id, id LIMIT ?3)",
                params![self.flow, upto, i64::try_from(batch).unwrap_or(i64::MAX)],
            )?;
            tx.commit()?;
            total += n;
            if n < batch {
                break;
            }
        }
        Ok(total)
    }

    /// The newest cycle of this flow whose log `retention` no longer keeps.
    fn prune_boundary(&self, retention: &Retention, now: Timestamp) -> Result<Option<CycleId>> {
        let mut upto: Option<CycleId> = None;
        if let Some(age) = retention.max_age {
            let cutoff = ms(now).saturating_sub(i64::try_from(age.as_millis()).unwrap_or(i64::MAX));
            let by_age: Option<i64> = self
                .conn
                .prepare_cached("SELECT max(id) FROM cycle WHERE flow = ?1 AND started_ms < ?2")?
                .query_row(params![self.flow, cutoff], |r| r.get(0))?;
            upto = upto.max(by_age);
        }
        if let Some(keep) = retention.keep_cycles {
            let by_count: Option<i64> = self
                .conn
                .prepare_cached(
                    "SELECT id FROM cycle WHERE flow = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2",
                )?
                .query_row(params![self.flow, i64::from(keep)], |r| r.get(0))
                .optional()?;
            upto = upto.max(by_count);
        }
        Ok(upto)
    }
}

impl Store for SqliteStore {
    fn watermark(&self, scope: &str) -> Result<Option<Timestamp>, StoreError> {
        self.out(self.watermark_(scope))
    }

    fn begin_cycle(
        &mut self,
        kind: CycleKind,
        window: Option<(Timestamp, Timestamp)>,
        now: Timestamp,
    ) -> Result<CycleId, StoreError> {
        let r = self.begin_cycle_(kind, window, now);
        self.out(r)
    }

    fn load(&self, person_ids: &[&str]) -> Result<HashMap<String, WorkerState>, StoreError> {
        self.out(self.load_(person_ids))
    }

    fn account_by_target(&self, target_id: &str) -> Result<Option<Join>, StoreError> {
        self.out(self.account_by_target_(target_id))
    }

    fn accounts_by_target(&self, target_ids: &[&str]) -> Result<HashMap<String, Join>, StoreError> {
        self.out(self.accounts_by_target_(target_ids))
    }

    fn joins(&self) -> Result<Vec<(String, String)>, StoreError> {
        self.out(self.joins_())
    }

    fn commit(&mut self, cycle: CycleId, outcomes: &[Outcome]) -> Result<(), StoreError> {
        let r = self.commit_(cycle, outcomes);
        self.out(r)
    }

    fn finish_cycle(
        &mut self,
        cycle: CycleId,
        status: CycleStatus,
        summary: &serde_json::Value,
        message: Option<&str>,
        now: Timestamp,
        advance: Option<(&str, Timestamp)>,
    ) -> Result<(), StoreError> {
        let r = self.finish_cycle_(cycle, status, summary, message, now, advance);
        self.out(r)?;
        self.prune_after_cycle(now);
        Ok(())
    }

    fn abort_running_cycles(&mut self, now: Timestamp) -> Result<usize, StoreError> {
        let r = self.abort_running_cycles_(now);
        self.out(r)
    }

    fn due_escrows(&self, now: Timestamp, limit: usize) -> Result<Vec<Escrow>, StoreError> {
        self.out(self.due_escrows_(now, limit))
    }

    fn escrows(&self) -> Result<Vec<Escrow>, StoreError> {
        self.out(self.escrows_())
    }

    fn drop_escrow(&mut self, person_id: &str) -> Result<bool, StoreError> {
        let r = self.drop_escrow_(person_id);
        self.out(r)
    }

    fn due_wakeups(&self, now: Timestamp) -> Result<Vec<Wakeup>, StoreError> {
        self.out(self.due_wakeups_(now))
    }

    fn next_wakeup(&self) -> Result<Option<Timestamp>, StoreError> {
        self.out(self.next_wakeup_())
    }

    fn clear_wakeups(&mut self, person_ids: &[&str], upto: Timestamp) -> Result<(), StoreError> {
        let r = self.clear_wakeups_(person_ids, upto);
        self.out(r)
    }

    fn account_counts(&self) -> Result<AccountCounts, StoreError> {
        self.out(self.account_counts_())
    }

    fn cycles(&self, limit: usize) -> Result<Vec<Cycle>, StoreError> {
        self.out(self.cycles_(limit))
    }

    fn cycle(&self, id: CycleId) -> Result<Option<Cycle>, StoreError> {
        self.out(self.cycle_(id))
    }

    fn log(&self, query: &LogQuery) -> Result<Vec<LogEntry>, StoreError> {
        self.out(self.log_(query))
    }

    fn try_lease(
        &mut self,
        holder: &str,
        ttl: Duration,
        now: Timestamp,
    ) -> Result<Lease, StoreError> {
        let r = self.try_lease_(holder, ttl, now);
        self.out(r)
    }

    fn renew_lease(
        &mut self,
        lease: &Lease,
        ttl: Duration,
        now: Timestamp,
    ) -> Result<Lease, StoreError> {
        let r = self.renew_lease_(lease, ttl, now);
        self.out(r)
    }

    fn release_lease(&mut self, lease: &Lease) -> Result<(), StoreError> {
        let r = self.release_lease_(lease);
        self.out(r)
    }

    fn current_lease(&self) -> Result<Option<Lease>, StoreError> {
        self.out(lease::current(&self.conn, &self.flow))
    }

    fn prune_log(
        &mut self,
        retention: &Retention,
        now: Timestamp,
        max_rows: usize,
    ) -> Result<usize, StoreError> {
        let r = self.prune_log_(retention, now, max_rows);
        self.out(r)
    }
}

/// A [`SqliteStore`] behind a lock, as the read-only, shareable [`History`].
pub struct SqliteHistory(std::sync::Mutex<SqliteStore>);

impl SqliteHistory {
    /// Open the store at `path` for reading `flow`'s history.
    pub fn open(path: &Path, flow: &str) -> Result<Self, StoreError> {
        Ok(SqliteStore::open(path, flow)?.into())
    }

    fn with<T>(
        &self,
        f: impl FnOnce(&SqliteStore) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        // A panic while reading leaves nothing half-written: reads go on.
        let store = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&store)
    }
}

impl From<SqliteStore> for SqliteHistory {
    fn from(store: SqliteStore) -> Self {
        SqliteHistory(std::sync::Mutex::new(store))
    }
}

impl History for SqliteHistory {
    fn watermark(&self, scope: &str) -> Result<Option<Timestamp>, StoreError> {
        self.with(|s| Store::watermark(s, scope))
    }
    fn cycles(&self, limit: usize) -> Result<Vec<Cycle>, StoreError> {
        self.with(|s| Store::cycles(s, limit))
    }
    fn cycle(&self, id: CycleId) -> Result<Option<Cycle>, StoreError> {
        self.with(|s| Store::cycle(s, id))
    }
    fn log(&self, query: &LogQuery) -> Result<Vec<LogEntry>, StoreError> {
        self.with(|s| Store::log(s, query))
    }
    fn account_counts(&self) -> Result<AccountCounts, StoreError> {
        self.with(Store::account_counts)
    }
    fn escrows(&self) -> Result<Vec<Escrow>, StoreError> {
        self.with(Store::escrows)
    }
    fn next_wakeup(&self) -> Result<Option<Timestamp>, StoreError> {
        self.with(Store::next_wakeup)
    }
    fn current_lease(&self) -> Result<Option<Lease>, StoreError> {
        self.with(Store::current_lease)
    }
}
