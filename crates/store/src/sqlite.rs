//! The default store: one SQLite file, WAL journal.
//!
//! WAL with `synchronous=NORMAL` survives `kill -9` of hrsync at any instant
//! (a committed transaction is in the WAL before `commit` returns); only a
//! power loss can drop the last transactions, which the watermark rule then
//! re-reads from SuccessFactors.

use std::collections::HashMap;
use std::path::Path;

use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, Row, params};
use rusqlite_migration::{M, Migrations};

use crate::*;
use hrsync_sqlite_wal::{self as wal, Checkpointer};

/// A [`Store`] in one SQLite file.
pub struct SqliteStore {
    /// Declared first so that it stops before the writer's connection closes
    /// (the last connection to close checkpoints and removes the WAL).
    _checkpointer: Option<Checkpointer>,
    conn: Connection,
}

fn migrations() -> Migrations<'static> {
    Migrations::new(vec![
        M::up(include_str!("../migrations/0001_initial.sql")),
        M::up(include_str!("../migrations/0002_log_rowid.sql")),
    ])
}

impl SqliteStore {
    /// Open (creating and migrating if needed) the store at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let name = path.display().to_string();
        let open_err = |source| StoreError::Open { path: name.clone(), source };
        let mut store = Self::init(Connection::open(path).map_err(open_err)?, &name)?;
        let checkpoints = Connection::open(path).map_err(open_err)?;
        store._checkpointer = Some(
            Checkpointer::start(checkpoints, wal::INTERVAL)
                .map_err(|source| StoreError::Checkpointer { path: name.clone(), source })?,
        );
        Ok(store)
    }

    /// A private in-memory store, for tests and dry runs.
    pub fn in_memory() -> Result<Self, StoreError> {
        let conn = Connection::open_in_memory()
            .map_err(|source| StoreError::Open { path: ":memory:".into(), source })?;
        Self::init(conn, ":memory:")
    }

    fn init(mut conn: Connection, name: &str) -> Result<Self, StoreError> {
        let open_err = |source| StoreError::Open { path: name.to_owned(), source };
        conn.pragma_update(None, "journal_mode", "WAL").map_err(open_err)?;
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(open_err)?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(open_err)?;
        // Checkpoints run on their own thread (see `wal`); this is the net.
        conn.pragma_update(None, "wal_autocheckpoint", wal::WRITER_AUTOCHECKPOINT)
            .map_err(open_err)?;
        // A page commit inserts into three indexes keyed by person id (the
        // account's, its target id's, the log's): keep them in memory.
        conn.pragma_update(None, "cache_size", -32_768).map_err(open_err)?;
        conn.set_prepared_statement_cache_capacity(32);
        conn.busy_timeout(std::time::Duration::from_secs(10)).map_err(open_err)?;
        migrations()
            .to_latest(&mut conn)
            .map_err(|source| StoreError::Migrate { path: name.to_owned(), source })?;
        Ok(SqliteStore { _checkpointer: None, conn })
    }
}

fn ms(t: Timestamp) -> i64 {
    t.as_millisecond()
}

fn ts(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(ms).unwrap_or(if ms > 0 { Timestamp::MAX } else { Timestamp::MIN })
}

fn enum_from_str<T: serde::de::DeserializeOwned>(
    what: &'static str,
    key: &str,
    s: &str,
) -> Result<T, StoreError> {
    serde_json::from_value(serde_json::Value::String(s.to_owned()))
        .map_err(|e| StoreError::Corrupt { what, key: key.to_owned(), cause: e.to_string() })
}

fn enum_to_str<T: serde::Serialize>(v: T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

fn json_from_str<T: serde::de::DeserializeOwned>(
    what: &'static str,
    key: &str,
    s: &str,
) -> Result<T, StoreError> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt {
        what,
        key: key.to_owned(),
        cause: e.to_string(),
    })
}

/// A log step as stored: `[name, status, detail]` since schema version 2,
/// an object with those fields before (still read).
#[derive(serde::Deserialize)]
#[serde(untagged)]
enum StoredStep {
    Compact(String, String, String),
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
fn encode_log(l: &LogEntry) -> Result<(String, String), serde_json::Error> {
    let steps: Vec<(&str, &str, &str)> =
        l.steps.iter().map(|s| (s.name.as_str(), s.status.as_str(), s.detail.as_str())).collect();
    let modified: Vec<(&str, &serde_json::Value, &serde_json::Value)> =
        l.modified.iter().map(|c| (c.attribute.as_str(), &c.old, &c.new)).collect();
    Ok((serde_json::to_string(&steps)?, serde_json::to_string(&modified)?))
}

const ACCOUNT_COLUMNS: &str = "person_id, target_id, status, exported, created_ms, updated_ms";

fn account_from_row(row: &Row<'_>) -> Result<Result<Account, StoreError>, rusqlite::Error> {
    let person_id: String = row.get(0)?;
    let target_id: String = row.get(1)?;
    let status: String = row.get(2)?;
    let exported: String = row.get(3)?;
    let created: i64 = row.get(4)?;
    let updated: i64 = row.get(5)?;
    Ok((|| {
        Ok(Account {
            status: enum_from_str("account status", &person_id, &status)?,
            exported: json_from_str("exported values", &person_id, &exported)?,
            target_id,
            created_at: ts(created),
            updated_at: ts(updated),
            person_id,
        })
    })())
}

const ESCROW_COLUMNS: &str =
    "person_id, attempts, first_failed_ms, last_failed_ms, next_attempt_ms, last_error, flagged";

fn escrow_from_row(row: &Row<'_>) -> Result<Escrow, rusqlite::Error> {
    Ok(Escrow {
        person_id: row.get(0)?,
        attempts: row.get(1)?,
        first_failed_at: ts(row.get(2)?),
        last_failed_at: ts(row.get(3)?),
        next_attempt_at: ts(row.get(4)?),
        last_error: row.get(5)?,
        flagged: row.get(6)?,
    })
}

impl Store for SqliteStore {
    fn watermark(&self, scope: &str) -> Result<Option<Timestamp>, StoreError> {
        let v: Option<i64> = self
            .conn
            .query_row("SELECT value_ms FROM watermark WHERE scope = ?1", [scope], |r| r.get(0))
            .optional()?;
        Ok(v.map(ts))
    }

    fn begin_cycle(
        &mut self,
        kind: CycleKind,
        window: Option<(Timestamp, Timestamp)>,
        now: Timestamp,
    ) -> Result<CycleId, StoreError> {
        self.conn.execute(
            "INSERT INTO cycle (kind, started_ms, status, window_from_ms, window_to_ms) VALUES (?1, ?2, 'running', ?3, ?4)",
            params![enum_to_str(kind), ms(now), window.map(|w| ms(w.0)), window.map(|w| ms(w.1))],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    fn load(&self, person_ids: &[&str]) -> Result<HashMap<String, WorkerState>, StoreError> {
        let mut out: HashMap<String, WorkerState> = HashMap::with_capacity(person_ids.len());
        let mut acc = self.conn.prepare_cached(&format!(
            "SELECT {ACCOUNT_COLUMNS} FROM account WHERE person_id = ?1"
        ))?;
        let mut esc = self
            .conn
            .prepare_cached(&format!("SELECT {ESCROW_COLUMNS} FROM escrow WHERE person_id = ?1"))?;
        for id in person_ids {
            let account = acc.query_row([id], account_from_row).optional()?.transpose()?;
            let escrow = esc.query_row([id], escrow_from_row).optional()?;
            if account.is_some() || escrow.is_some() {
                out.insert((*id).to_owned(), WorkerState { account, escrow });
            }
        }
        Ok(out)
    }

    fn account_by_target(&self, target_id: &str) -> Result<Option<Account>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {ACCOUNT_COLUMNS} FROM account WHERE target_id = ?1"
        ))?;
        stmt.query_row([target_id], account_from_row).optional()?.transpose()
    }

    fn commit(&mut self, cycle: CycleId, outcomes: &[Outcome]) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        {
            // Not `INSERT OR REPLACE`: that would silently delete another
            // worker's row that holds the same target id.
            let mut put_account = tx.prepare_cached(&format!(
                "INSERT INTO account ({ACCOUNT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
                 ON CONFLICT (person_id) DO UPDATE SET target_id = excluded.target_id, status = excluded.status, \
                 exported = excluded.exported, updated_ms = excluded.updated_ms"
            ))?;
            let mut del_account = tx.prepare_cached("DELETE FROM account WHERE person_id = ?1")?;
            let mut put_escrow = tx.prepare_cached(&format!(
                "INSERT OR REPLACE INTO escrow ({ESCROW_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
            ))?;
            let mut del_escrow = tx.prepare_cached("DELETE FROM escrow WHERE person_id = ?1")?;
            let mut del_wakeups = tx.prepare_cached("DELETE FROM wakeup WHERE person_id = ?1")?;
            let mut put_wakeup = tx.prepare_cached(
                "INSERT OR REPLACE INTO wakeup (person_id, at_ms, reason) VALUES (?1, ?2, ?3)",
            )?;
            let mut put_log = tx.prepare_cached(
                "INSERT INTO provisioning_log (cycle_id, person_id, at_ms, action, status, target_id, steps, modified, error) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?;
            for o in outcomes {
                let pid = o.person_id.as_str();
                match &o.account {
                    Change::Keep => {}
                    Change::Set(a) => {
                        let exported = serde_json::to_string(&a.exported).map_err(|e| {
                            StoreError::Corrupt {
                                what: "exported values",
                                key: pid.to_owned(),
                                cause: e.to_string(),
                            }
                        })?;
                        put_account.execute(params![
                            pid,
                            a.target_id,
                            a.status.as_str(),
                            exported,
                            ms(a.created_at),
                            ms(a.updated_at)
                        ])?;
                    }
                    Change::Clear => {
                        del_account.execute([pid])?;
                    }
                }
                match &o.escrow {
                    Change::Keep => {}
                    Change::Set(e) => {
                        put_escrow.execute(params![
                            pid,
                            e.attempts,
                            ms(e.first_failed_at),
                            ms(e.last_failed_at),
                            ms(e.next_attempt_at),
                            e.last_error,
                            e.flagged
                        ])?;
                    }
                    Change::Clear => {
                        del_escrow.execute([pid])?;
                    }
                }
                match &o.wakeups {
                    Change::Keep => {}
                    Change::Set(list) => {
                        del_wakeups.execute([pid])?;
                        for (at, reason) in list {
                            put_wakeup.execute(params![pid, ms(*at), reason])?;
                        }
                    }
                    Change::Clear => {
                        del_wakeups.execute([pid])?;
                    }
                }
                if let Some(l) = &o.log {
                    let (steps, modified) = encode_log(l).map_err(|e| StoreError::Corrupt {
                        what: "log entry",
                        key: pid.to_owned(),
                        cause: e.to_string(),
                    })?;
                    put_log.execute(params![
                        cycle,
                        pid,
                        ms(l.at),
                        l.action,
                        l.status,
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

    fn finish_cycle(
        &mut self,
        cycle: CycleId,
        status: CycleStatus,
        summary: &serde_json::Value,
        message: Option<&str>,
        now: Timestamp,
        advance: Option<(&str, Timestamp)>,
    ) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "UPDATE cycle SET finished_ms = ?2, status = ?3, summary = ?4, message = ?5 WHERE id = ?1",
            params![cycle, ms(now), enum_to_str(status), summary.to_string(), message],
        )?;
        if let Some((scope, value)) = advance {
            tx.execute(
                "INSERT INTO watermark (scope, value_ms, cycle_id, updated_ms) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (scope) DO UPDATE SET value_ms = excluded.value_ms, cycle_id = excluded.cycle_id, \
                 updated_ms = excluded.updated_ms",
                params![scope, ms(value), cycle, ms(now)],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    fn abort_running_cycles(&mut self, now: Timestamp) -> Result<usize, StoreError> {
        Ok(self.conn.execute(
            "UPDATE cycle SET status = 'aborted', finished_ms = ?1, message = 'interrupted before it finished' \
             WHERE status = 'running'",
            [ms(now)],
        )?)
    }

    fn due_escrows(&self, now: Timestamp, limit: usize) -> Result<Vec<Escrow>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {ESCROW_COLUMNS} FROM escrow WHERE next_attempt_ms <= ?1 ORDER BY next_attempt_ms LIMIT ?2"
        ))?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt.query_map(params![ms(now), limit], escrow_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn escrows(&self) -> Result<Vec<Escrow>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!("SELECT {ESCROW_COLUMNS} FROM escrow ORDER BY person_id"))?;
        let rows = stmt.query_map([], escrow_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn due_wakeups(&self, now: Timestamp) -> Result<Vec<Wakeup>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT person_id, at_ms, reason FROM wakeup WHERE at_ms <= ?1 ORDER BY at_ms",
        )?;
        let rows = stmt.query_map([ms(now)], |r| {
            Ok(Wakeup { person_id: r.get(0)?, at: ts(r.get(1)?), reason: r.get(2)? })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn next_wakeup(&self) -> Result<Option<Timestamp>, StoreError> {
        let v: Option<i64> =
            self.conn.query_row("SELECT min(at_ms) FROM wakeup", [], |r| r.get(0))?;
        Ok(v.map(ts))
    }

    fn clear_wakeups(&mut self, person_ids: &[&str], upto: Timestamp) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        {
            let mut stmt =
                tx.prepare_cached("DELETE FROM wakeup WHERE person_id = ?1 AND at_ms <= ?2")?;
            for id in person_ids {
                stmt.execute(params![id, ms(upto)])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn account_counts(&self) -> Result<AccountCounts, StoreError> {
        let mut counts = AccountCounts::default();
        let mut stmt =
            self.conn.prepare_cached("SELECT status, count(*) FROM account GROUP BY status")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
        for row in rows {
            let (status, n) = row?;
            let n = u64::try_from(n).unwrap_or(0);
            match status.as_str() {
                "active" => counts.active = n,
                "disabled" => counts.disabled = n,
                _ => counts.deleted = n,
            }
        }
        Ok(counts)
    }

    fn cycles(&self, limit: usize) -> Result<Vec<Cycle>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, kind, started_ms, finished_ms, status, window_from_ms, window_to_ms, summary, message \
             FROM cycle ORDER BY id DESC LIMIT ?1",
        )?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt.query_map([limit], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, Option<i64>>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, Option<i64>>(5)?,
                r.get::<_, Option<i64>>(6)?,
                r.get::<_, String>(7)?,
                r.get::<_, Option<String>>(8)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, kind, started, finished, status, from, to, summary, message) = row?;
            let key = id.to_string();
            out.push(Cycle {
                id,
                kind: enum_from_str("cycle kind", &key, &kind)?,
                started_at: ts(started),
                finished_at: finished.map(ts),
                status: enum_from_str("cycle status", &key, &status)?,
                window: from.zip(to).map(|(f, t)| (ts(f), ts(t))),
                summary: json_from_str("cycle summary", &key, &summary)?,
                message,
            });
        }
        Ok(out)
    }

    fn log(&self, query: &LogQuery) -> Result<Vec<LogEntry>, StoreError> {
        let mut sql = String::from(
            "SELECT id, cycle_id, person_id, at_ms, action, status, target_id, steps, modified, error \
             FROM provisioning_log WHERE 1 = 1",
        );
        let mut args: Vec<rusqlite::types::Value> = Vec::new();
        if let Some(p) = &query.person_id {
            args.push(p.clone().into());
            sql.push_str(&format!(" AND person_id = ?{}", args.len()));
        }
        if let Some(c) = query.cycle_id {
            args.push(c.into());
            sql.push_str(&format!(" AND cycle_id = ?{}", args.len()));
        }
        if let Some(s) = &query.status {
            args.push(s.clone().into());
            sql.push_str(&format!(" AND status = ?{}", args.len()));
        }
        sql.push_str(" ORDER BY id DESC");
        if query.limit > 0 {
            sql.push_str(&format!(" LIMIT {}", query.limit));
        }
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map(rusqlite::params_from_iter(args), |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, Option<String>>(6)?,
                r.get::<_, String>(7)?,
                r.get::<_, String>(8)?,
                r.get::<_, Option<String>>(9)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, cycle_id, person_id, at, action, status, target_id, steps, modified, error) =
                row?;
            let key = format!("log entry {id}");
            out.push(LogEntry {
                id,
                cycle_id,
                at: ts(at),
                action,
                status,
                target_id,
                steps: json_from_str::<Vec<StoredStep>>("log steps", &key, &steps)?
                    .into_iter()
                    .map(Step::from)
                    .collect(),
                modified: json_from_str::<Vec<StoredChange>>(
                    "log modified attributes",
                    &key,
                    &modified,
                )?
                .into_iter()
                .map(AttributeChange::from)
                .collect(),
                error,
                person_id,
            });
        }
        Ok(out)
    }
}
