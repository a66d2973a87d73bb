//! The embedded target: a small directory kept in its own SQLite file.
//!
//! It stands in for a real directory in the demo and the engine tests, so it
//! behaves like one where the engine can tell the difference: objects get
//! opaque ids the engine does not choose, writes become durable at
//! [`Target::flush`] (the engine flushes before recording a page in its store;
//! each object's write is atomic), values are matched case-insensitively as
//! Active Directory does, and a create that would duplicate a unique
//! attribute is refused.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;

use crate::{AttributeUpdate, Attributes, CheckStep, Target, TargetError, TargetObject};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS object (
    id         TEXT PRIMARY KEY,
    enabled    INTEGER NOT NULL DEFAULT 1,
    attributes TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS value_index (
    name  TEXT NOT NULL,
    value TEXT NOT NULL,
    id    TEXT NOT NULL REFERENCES object (id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS value_index_nv ON value_index (name, value);
CREATE INDEX IF NOT EXISTS value_index_id ON value_index (id);
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
";

/// The attribute that carries account status, as in Entra's AD mapping.
pub const DISABLED_ATTRIBUTE: &str = "accountDisabled";

/// A directory in one SQLite file.
pub struct EmbeddedTarget {
    conn: Mutex<Connection>,
    /// Attributes that must be unique across objects (create is refused otherwise).
    unique: Vec<String>,
    /// Attributes kept in the value index (the unique ones plus those the
    /// engine matches on). `find` on any other attribute scans every object.
    indexed: Vec<String>,
}

impl EmbeddedTarget {
    /// Open or create the directory at `path`.
    pub fn open(path: &Path, unique: &[&str]) -> Result<Self, TargetError> {
        Self::open_indexed(path, unique, &[])
    }

    /// Like [`EmbeddedTarget::open`], also indexing `indexed` (the matching
    /// attributes) so `find` on them is a lookup. When the set differs from
    /// the one the file was built with, the index is rebuilt.
    pub fn open_indexed(path: &Path, unique: &[&str], indexed: &[&str]) -> Result<Self, TargetError> {
        let conn = Connection::open(path).map_err(|e| unavailable("open", e))?;
        Self::init(conn, unique, indexed)
    }

    /// A private in-memory directory.
    pub fn in_memory(unique: &[&str]) -> Result<Self, TargetError> {
        let conn = Connection::open_in_memory().map_err(|e| unavailable("open", e))?;
        Self::init(conn, unique, &[])
    }

    fn init(conn: Connection, unique: &[&str], indexed: &[&str]) -> Result<Self, TargetError> {
        conn.pragma_update(None, "journal_mode", "WAL").map_err(|e| unavailable("open", e))?;
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(|e| unavailable("open", e))?;
        // Checkpoint every ~40 MB of WAL instead of every 4 MB: a first sync
        // rewrites the same index pages page after page, and each checkpoint
        // copies them back (it was an eighth of a full sync's commit path).
        conn.pragma_update(None, "wal_autocheckpoint", 10_000).map_err(|e| unavailable("open", e))?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(|e| unavailable("open", e))?;
        // Uniqueness and matching read the value index for every worker.
        conn.pragma_update(None, "cache_size", -32_768).map_err(|e| unavailable("open", e))?;
        // Per-object savepoints inside the grouped transaction journal into
        // a sub-journal: keep it in memory, not in a temp file.
        conn.pragma_update(None, "temp_store", "MEMORY").map_err(|e| unavailable("open", e))?;
        conn.execute_batch(SCHEMA).map_err(|e| unavailable("open", e))?;
        let unique: Vec<String> = unique.iter().map(|s| (*s).to_owned()).collect();
        let mut all: Vec<String> = unique.iter().cloned().chain(indexed.iter().map(|s| (*s).to_owned())).collect();
        all.sort();
        all.dedup();
        let t = EmbeddedTarget { conn: Mutex::new(conn), unique, indexed: all };
        t.ensure_index()?;
        Ok(t)
    }

    /// Rebuild the value index when the indexed set changed since the file
    /// was last opened (an attribute indexed now must be found on objects
    /// written before).
    fn ensure_index(&self) -> Result<(), TargetError> {
        let mut conn = self.lock();
        let want = self.indexed.join("\n");
        let have: Option<String> = conn
            .query_row("SELECT value FROM meta WHERE key = 'indexed'", [], |r| r.get(0))
            .optional()
            .map_err(|e| unavailable("open", e))?;
        if have.as_deref() == Some(want.as_str()) {
            return Ok(());
        }
        let tx = conn.transaction().map_err(|e| unavailable("open", e))?;
        let rows: Vec<(String, String)> = {
            let mut stmt = tx.prepare("SELECT id, attributes FROM object").map_err(|e| unavailable("open", e))?;
            let mapped = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).map_err(|e| unavailable("open", e))?;
            mapped.collect::<Result<_, _>>().map_err(|e| unavailable("open", e))?
        };
        for (id, attrs) in rows {
            let obj = object(id, true, &attrs, "open")?;
            reindex(&tx, &obj.id, &obj.attributes, &self.indexed, "open")?;
        }
        tx.execute("INSERT INTO meta (key, value) VALUES ('indexed', ?1) ON CONFLICT (key) DO UPDATE SET value = excluded.value", [&want])
            .map_err(|e| unavailable("open", e))?;
        tx.commit().map_err(|e| unavailable("open", e))
    }

    /// The connection inside the open write transaction. Writes are grouped
    /// in one SQLite transaction until [`Target::flush`]: one commit per page
    /// of workers instead of one per object (each commit rewrites the touched
    /// index pages). The engine flushes before it records the page's outcomes
    /// in its store, so a crash loses only writes the store never heard of.
    fn writer(&self, operation: &'static str) -> Result<MutexGuard<'_, Connection>, TargetError> {
        let conn = self.lock();
        if conn.is_autocommit() {
            conn.execute_batch("BEGIN IMMEDIATE").map_err(|e| unavailable(operation, e))?;
        }
        Ok(conn)
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite inconsistent
        // (every write is its own transaction), so a poisoned lock is usable.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every object, for tests and the demo's summary.
    pub fn all(&self) -> Result<Vec<TargetObject>, TargetError> {
        let conn = self.lock();
        let mut stmt =
            conn.prepare("SELECT id, enabled, attributes FROM object ORDER BY id").map_err(|e| unavailable("list", e))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, bool>(1)?, r.get::<_, String>(2)?)))
            .map_err(|e| unavailable("list", e))?;
        let mut out = Vec::new();
        for row in rows {
            let (id, enabled, attrs) = row.map_err(|e| unavailable("list", e))?;
            out.push(object(id, enabled, &attrs, "list")?);
        }
        Ok(out)
    }
}

fn unavailable(operation: &'static str, e: rusqlite::Error) -> TargetError {
    TargetError::Unavailable { operation, message: e.to_string() }
}

fn object(id: String, enabled: bool, attrs: &str, operation: &'static str) -> Result<TargetObject, TargetError> {
    let attributes: Attributes = serde_json::from_str(attrs)
        .map_err(|e| TargetError::Unavailable { operation, message: format!("corrupt object {id}: {e}") })?;
    Ok(TargetObject { id, name: None, attributes, enabled: Some(enabled) })
}

/// The index keys of a value: scalars as lower-case text, arrays per element.
fn index_keys(v: &Value) -> Vec<String> {
    match v {
        Value::Null => vec![],
        Value::String(s) => vec![s.to_lowercase()],
        Value::Array(items) => items.iter().flat_map(index_keys).collect(),
        other => vec![other.to_string().to_lowercase()],
    }
}

fn is_truthy(v: &Value) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::String(s) => s.eq_ignore_ascii_case("true") || s == "1",
        Value::Number(n) => n.as_i64().is_some_and(|n| n != 0),
        _ => false,
    }
}

fn reindex(conn: &Connection, id: &str, attrs: &Attributes, indexed: &[String], operation: &'static str) -> Result<(), TargetError> {
    conn.execute("DELETE FROM value_index WHERE id = ?1", [id]).map_err(|e| unavailable(operation, e))?;
    let mut stmt = conn
        .prepare_cached("INSERT INTO value_index (name, value, id) VALUES (?1, ?2, ?3)")
        .map_err(|e| unavailable(operation, e))?;
    for (name, value) in attrs.iter().filter(|(name, _)| indexed.contains(name)) {
        for key in index_keys(value) {
            stmt.execute(params![name, key, id]).map_err(|e| unavailable(operation, e))?;
        }
    }
    Ok(())
}

fn taken(conn: &Connection, attribute: &str, value: &str, except: Option<&str>) -> Result<bool, TargetError> {
    let found: Option<String> = conn
        .query_row(
            "SELECT id FROM value_index WHERE name = ?1 AND value = ?2 AND id IS NOT ?3 LIMIT 1",
            params![attribute, value.to_lowercase(), except],
            |r| r.get(0),
        )
        .optional()
        .map_err(|e| unavailable("uniqueness check", e))?;
    Ok(found.is_some())
}

/// Objects whose `attribute` has `value` (case-insensitively), read one by
/// one: for attributes outside the value index.
fn scan(conn: &Connection, attribute: &str, value: &str, except: Option<&str>, operation: &'static str) -> Result<Vec<TargetObject>, TargetError> {
    let want = value.to_lowercase();
    let mut stmt = conn.prepare_cached("SELECT id, enabled, attributes FROM object ORDER BY id").map_err(|e| unavailable(operation, e))?;
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, bool>(1)?, r.get::<_, String>(2)?)))
        .map_err(|e| unavailable(operation, e))?;
    let mut out = Vec::new();
    for row in rows {
        let (id, enabled, attrs) = row.map_err(|e| unavailable(operation, e))?;
        if except == Some(id.as_str()) {
            continue;
        }
        let obj = object(id, enabled, &attrs, operation)?;
        if obj.attributes.get(attribute).is_some_and(|v| index_keys(v).contains(&want)) {
            out.push(obj);
        }
    }
    Ok(out)
}

fn load(conn: &Connection, id: &str, operation: &'static str) -> Result<Option<TargetObject>, TargetError> {
    let row: Option<(bool, String)> = conn
        .query_row("SELECT enabled, attributes FROM object WHERE id = ?1", [id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
        .map_err(|e| unavailable(operation, e))?;
    row.map(|(enabled, attrs)| object(id.to_owned(), enabled, &attrs, operation)).transpose()
}

fn write(conn: &Connection, id: &str, attrs: &Attributes, indexed: &[String], operation: &'static str) -> Result<(), TargetError> {
    let enabled = !attrs.get(DISABLED_ATTRIBUTE).is_some_and(is_truthy);
    let json = serde_json::to_string(attrs).map_err(|e| TargetError::Rejected { operation, message: e.to_string() })?;
    conn.execute("UPDATE object SET attributes = ?2, enabled = ?3 WHERE id = ?1", params![id, json, enabled])
        .map_err(|e| unavailable(operation, e))?;
    reindex(conn, id, attrs, indexed, operation)
}

#[async_trait]
impl Target for EmbeddedTarget {
    fn kind(&self) -> &'static str {
        "embedded"
    }

    async fn check(&self) -> Vec<CheckStep> {
        let conn = self.lock();
        let r = conn.query_row("SELECT count(*) FROM object", [], |r| r.get::<_, i64>(0));
        vec![match r {
            Ok(n) => CheckStep { name: "open directory".into(), ok: true, detail: format!("{n} objects") },
            Err(e) => CheckStep { name: "open directory".into(), ok: false, detail: e.to_string() },
        }]
    }

    async fn find(&self, attribute: &str, value: &str) -> Result<Vec<TargetObject>, TargetError> {
        let conn = self.lock();
        if !self.indexed.iter().any(|a| a == attribute) {
            return scan(&conn, attribute, value, None, "find");
        }
        let mut stmt = conn
            .prepare_cached(
                "SELECT DISTINCT o.id, o.enabled, o.attributes FROM value_index v JOIN object o ON o.id = v.id \
                 WHERE v.name = ?1 AND v.value = ?2 ORDER BY o.id",
            )
            .map_err(|e| unavailable("find", e))?;
        let rows = stmt
            .query_map(params![attribute, value.to_lowercase()], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, bool>(1)?, r.get::<_, String>(2)?))
            })
            .map_err(|e| unavailable("find", e))?;
        let mut out = Vec::new();
        for row in rows {
            let (id, enabled, attrs) = row.map_err(|e| unavailable("find", e))?;
            out.push(object(id, enabled, &attrs, "find")?);
        }
        Ok(out)
    }

    async fn get(&self, id: &str) -> Result<Option<TargetObject>, TargetError> {
        load(&self.lock(), id, "get")
    }

    async fn create(&self, attributes: &Attributes) -> Result<TargetObject, TargetError> {
        let mut conn = self.writer("create")?;
        let tx = conn.savepoint().map_err(|e| unavailable("create", e))?;
        for name in &self.unique {
            if let Some(v) = attributes.get(name) {
                for key in index_keys(v) {
                    if taken(&tx, name, &key, None)? {
                        return Err(TargetError::AlreadyExists { operation: "create", attribute: name.clone(), value: key });
                    }
                }
            }
        }
        let id: String = tx
            .query_row("SELECT lower(hex(randomblob(16)))", [], |r| r.get(0))
            .map_err(|e| unavailable("create", e))?;
        tx.execute("INSERT INTO object (id, attributes) VALUES (?1, '{}')", [&id]).map_err(|e| unavailable("create", e))?;
        write(&tx, &id, attributes, &self.indexed, "create")?;
        tx.commit().map_err(|e| unavailable("create", e))?;
        let enabled = !attributes.get(DISABLED_ATTRIBUTE).is_some_and(is_truthy);
        Ok(TargetObject { id, name: None, attributes: attributes.clone(), enabled: Some(enabled) })
    }

    async fn update(&self, id: &str, changes: &[AttributeUpdate]) -> Result<(), TargetError> {
        let mut conn = self.writer("update")?;
        let tx = conn.savepoint().map_err(|e| unavailable("update", e))?;
        let Some(mut obj) = load(&tx, id, "update")? else {
            return Err(TargetError::NotFound { operation: "update", id: id.to_owned() });
        };
        for c in changes {
            if self.unique.contains(&c.name) {
                for key in index_keys(&c.value) {
                    if taken(&tx, &c.name, &key, Some(id))? {
                        return Err(TargetError::AlreadyExists { operation: "update", attribute: c.name.clone(), value: key });
                    }
                }
            }
            if c.value.is_null() {
                obj.attributes.remove(&c.name);
            } else {
                obj.attributes.insert(c.name.clone(), c.value.clone());
            }
        }
        write(&tx, id, &obj.attributes, &self.indexed, "update")?;
        tx.commit().map_err(|e| unavailable("update", e))
    }

    async fn disable(&self, id: &str) -> Result<(), TargetError> {
        self.update(id, &[AttributeUpdate { name: DISABLED_ATTRIBUTE.into(), value: Value::String("True".into()) }])
            .await
            .map_err(|e| match e {
                TargetError::NotFound { id, .. } => TargetError::NotFound { operation: "disable", id },
                other => other,
            })
    }

    async fn delete(&self, id: &str) -> Result<(), TargetError> {
        let conn = self.writer("delete")?;
        let n = conn.execute("DELETE FROM object WHERE id = ?1", [id]).map_err(|e| unavailable("delete", e))?;
        if n == 0 {
            return Err(TargetError::NotFound { operation: "delete", id: id.to_owned() });
        }
        Ok(())
    }

    async fn flush(&self) -> Result<(), TargetError> {
        let conn = self.lock();
        if !conn.is_autocommit() {
            conn.execute_batch("COMMIT").map_err(|e| unavailable("flush", e))?;
        }
        Ok(())
    }

    async fn is_taken(&self, attribute: &str, value: &str, except_id: Option<&str>) -> Result<bool, TargetError> {
        let conn = self.lock();
        if !self.indexed.iter().any(|a| a == attribute) {
            return Ok(!scan(&conn, attribute, value, except_id, "uniqueness check")?.is_empty());
        }
        taken(&conn, attribute, value, except_id)
    }
}

impl Drop for EmbeddedTarget {
    /// A normal shutdown keeps grouped writes (a crash drops them, and the
    /// engine's store never recorded them either).
    fn drop(&mut self) {
        let conn = self.lock();
        if !conn.is_autocommit()
            && let Err(error) = conn.execute_batch("COMMIT") {
                tracing::warn!(message = "Embedded target: could not commit grouped writes on close.", %error);
            }
    }
}
