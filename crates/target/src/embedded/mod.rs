//! The embedded target: a small directory kept in its own SQLite file.
//!
//! It stands in for a real directory in the demo and the engine tests, so it
//! behaves like one where the engine can tell the difference: objects get
//! opaque ids the engine does not choose (32 hex digits, time-ordered),
//! writes become durable at [`Target::flush`] (the engine flushes before
//! recording a page in its store; each object's write is atomic), values are matched case-insensitively as
//! Active Directory does, and a create that would duplicate a unique
//! attribute is refused.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;

use hrsync_sqlite_wal as wal;

use crate::{AttributeUpdate, Attributes, CheckStep, Target, TargetError, TargetObject};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS object (
    id         TEXT PRIMARY KEY,
    enabled    INTEGER NOT NULL DEFAULT 1,
    attributes TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
";

/// Layout of the value index, recorded in `meta` under `layout`. Files
/// without it (the first layout: a rowid table with separate `(name, value)`
/// and `(id)` indexes and a cascading foreign key) get the index rebuilt.
const LAYOUT: &str = "2";

/// One B-tree keyed by what lookups ask for: a write touches one tree per key
/// instead of three (table, value index, id index). Removing an object's
/// keys needs its old values, which every writer reads anyway.
const VALUE_INDEX: &str = "
DROP TABLE IF EXISTS value_index;
CREATE TABLE value_index (
    name  TEXT NOT NULL,
    value TEXT NOT NULL,
    id    TEXT NOT NULL,
    PRIMARY KEY (name, value, id)
) WITHOUT ROWID;
";

/// Most values one `IN (...)` lookup binds; longer lists are asked in chunks.
pub const LOOKUP_CHUNK: usize = 512;

/// The attribute that carries account status, as in Entra's AD mapping.
pub const DISABLED_ATTRIBUTE: &str = "accountDisabled";

/// A directory in one SQLite file.
pub struct EmbeddedTarget {
    /// Declared first so that it stops before the writer's connection closes
    /// (the last connection to close checkpoints and removes the WAL).
    _checkpointer: Option<wal::Checkpointer>,
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
    pub fn open_indexed(
        path: &Path,
        unique: &[&str],
        indexed: &[&str],
    ) -> Result<Self, TargetError> {
        let conn = Connection::open(path).map_err(|e| unavailable("open", e))?;
        let mut t = Self::init(conn, unique, indexed)?;
        let checkpoints = Connection::open(path).map_err(|e| unavailable("open", e))?;
        t._checkpointer =
            Some(wal::Checkpointer::start(checkpoints, wal::INTERVAL).map_err(|e| {
                TargetError::Unavailable {
                    operation: "open",
                    message: format!("starting the WAL checkpoint thread: {e}"),
                }
            })?);
        Ok(t)
    }

    /// A private in-memory directory.
    pub fn in_memory(unique: &[&str]) -> Result<Self, TargetError> {
        Self::in_memory_indexed(unique, &[])
    }

    /// A private in-memory directory that also indexes `indexed`.
    pub fn in_memory_indexed(unique: &[&str], indexed: &[&str]) -> Result<Self, TargetError> {
        let conn = Connection::open_in_memory().map_err(|e| unavailable("open", e))?;
        Self::init(conn, unique, indexed)
    }

    fn init(conn: Connection, unique: &[&str], indexed: &[&str]) -> Result<Self, TargetError> {
        conn.pragma_update(None, "journal_mode", "WAL").map_err(|e| unavailable("open", e))?;
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(|e| unavailable("open", e))?;
        // Checkpoints run on their own thread (see `wal`); this is the net.
        conn.pragma_update(None, "wal_autocheckpoint", wal::WRITER_AUTOCHECKPOINT)
            .map_err(|e| unavailable("open", e))?;
        // Uniqueness and matching read the value index for every worker.
        conn.pragma_update(None, "cache_size", -32_768).map_err(|e| unavailable("open", e))?;
        // Per-object savepoints inside the grouped transaction journal into
        // a sub-journal: keep it in memory, not in a temp file.
        conn.pragma_update(None, "temp_store", "MEMORY").map_err(|e| unavailable("open", e))?;
        // Every hot statement is cached, including one `IN (...)` lookup per
        // power-of-two list length.
        conn.set_prepared_statement_cache_capacity(64);
        conn.execute_batch(SCHEMA).map_err(|e| unavailable("open", e))?;
        let unique: Vec<String> = unique.iter().map(|s| (*s).to_owned()).collect();
        let mut all: Vec<String> =
            unique.iter().cloned().chain(indexed.iter().map(|s| (*s).to_owned())).collect();
        all.sort();
        all.dedup();
        let t =
            EmbeddedTarget { _checkpointer: None, conn: Mutex::new(conn), unique, indexed: all };
        t.ensure_index()?;
        Ok(t)
    }

    /// Rebuild the value index when its layout or the indexed set changed
    /// since the file was last opened (an attribute indexed now must be found
    /// on objects written before).
    fn ensure_index(&self) -> Result<(), TargetError> {
        let mut conn = self.lock();
        let want = self.indexed.join("\n");
        let meta = |conn: &Connection, key: &str| -> Result<Option<String>, TargetError> {
            conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
                .optional()
                .map_err(|e| unavailable("open", e))
        };
        let layout = meta(&conn, "layout")?;
        if layout.as_deref() == Some(LAYOUT)
            && meta(&conn, "indexed")?.as_deref() == Some(want.as_str())
        {
            return Ok(());
        }
        let tx = conn.transaction().map_err(|e| unavailable("open", e))?;
        if layout.as_deref() == Some(LAYOUT) {
            tx.execute("DELETE FROM value_index", []).map_err(|e| unavailable("open", e))?;
        } else {
            tx.execute_batch(VALUE_INDEX).map_err(|e| unavailable("open", e))?;
        }
        {
            let mut stmt = tx
                .prepare("SELECT id, attributes FROM object")
                .map_err(|e| unavailable("open", e))?;
            let mut rows = stmt.query([]).map_err(|e| unavailable("open", e))?;
            while let Some(row) = rows.next().map_err(|e| unavailable("open", e))? {
                let id: String = row.get(0).map_err(|e| unavailable("open", e))?;
                let attrs: String = row.get(1).map_err(|e| unavailable("open", e))?;
                let obj = object(id, true, &attrs, "open")?;
                index_object(&tx, ADD_KEY, &obj.id, &self.keys(&obj.attributes), "open")?;
            }
        }
        for (key, value) in [("layout", LAYOUT), ("indexed", want.as_str())] {
            tx.execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [key, value],
            )
            .map_err(|e| unavailable("open", e))?;
        }
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
            run(&conn, "BEGIN IMMEDIATE", operation)?;
        }
        Ok(conn)
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite inconsistent
        // (every write is its own transaction), so a poisoned lock is usable.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn is_indexed(&self, attribute: &str) -> bool {
        self.indexed.iter().any(|a| a == attribute)
    }

    /// The value-index keys of an object: (attribute, lower-case value) for
    /// every indexed attribute, each once.
    fn keys<'a>(&'a self, attrs: &Attributes) -> BTreeSet<(&'a str, String)> {
        let mut out = BTreeSet::new();
        for name in &self.indexed {
            if let Some(v) = attrs.get(name) {
                out.extend(index_keys(v).into_iter().map(|k| (name.as_str(), k)));
            }
        }
        out
    }

    /// Every object, for tests and the demo's summary.
    pub fn all(&self) -> Result<Vec<TargetObject>, TargetError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare("SELECT id, enabled, attributes FROM object ORDER BY id")
            .map_err(|e| unavailable("list", e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, bool>(1)?, r.get::<_, String>(2)?))
            })
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

/// Run a parameterless statement through the statement cache (transaction
/// control runs per object and per page).
fn run(conn: &Connection, sql: &str, operation: &'static str) -> Result<(), TargetError> {
    conn.prepare_cached(sql)
        .and_then(|mut s| s.execute([]))
        .map(drop)
        .map_err(|e| unavailable(operation, e))
}

/// Run `f` so that its writes happen entirely or not at all, inside the
/// grouped transaction (a savepoint per object).
fn atomically<T>(
    conn: &Connection,
    operation: &'static str,
    f: impl FnOnce(&Connection) -> Result<T, TargetError>,
) -> Result<T, TargetError> {
    run(conn, "SAVEPOINT object", operation)?;
    match f(conn) {
        Ok(v) => {
            run(conn, "RELEASE object", operation)?;
            Ok(v)
        }
        Err(e) => {
            // The error that matters is `e`; a failed rollback leaves the
            // grouped transaction to fail at flush, which the engine reports.
            if let Err(rollback) = run(conn, "ROLLBACK TO object", operation)
                .and_then(|()| run(conn, "RELEASE object", operation))
            {
                tracing::warn!(message = "Embedded target: could not roll back a failed write.", error = %rollback);
            }
            Err(e)
        }
    }
}

fn object(
    id: String,
    enabled: bool,
    attrs: &str,
    operation: &'static str,
) -> Result<TargetObject, TargetError> {
    let attributes: Attributes = serde_json::from_str(attrs).map_err(|e| {
        TargetError::Unavailable { operation, message: format!("corrupt object {id}: {e}") }
    })?;
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

fn is_enabled(attrs: &Attributes) -> bool {
    !attrs.get(DISABLED_ATTRIBUTE).is_some_and(is_truthy)
}

const ADD_KEY: &str = "INSERT OR IGNORE INTO value_index (name, value, id) VALUES (?1, ?2, ?3)";
const REMOVE_KEY: &str = "DELETE FROM value_index WHERE name = ?1 AND value = ?2 AND id = ?3";

/// Run `sql` ([`ADD_KEY`] or [`REMOVE_KEY`]) for each of an object's keys.
fn index_object<'a>(
    conn: &Connection,
    sql: &str,
    id: &str,
    keys: impl IntoIterator<Item = &'a (&'a str, String)>,
    operation: &'static str,
) -> Result<(), TargetError> {
    let mut stmt = conn.prepare_cached(sql).map_err(|e| unavailable(operation, e))?;
    for (name, key) in keys {
        stmt.execute(params![name, key, id]).map_err(|e| unavailable(operation, e))?;
    }
    Ok(())
}

/// Whether an object other than `except` has `key` (already lower case) in
/// the value index for `attribute`.
fn taken(
    conn: &Connection,
    attribute: &str,
    key: &str,
    except: Option<&str>,
) -> Result<bool, TargetError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT 1 FROM value_index WHERE name = ?1 AND value = ?2 AND id IS NOT ?3 LIMIT 1",
        )
        .map_err(|e| unavailable("uniqueness check", e))?;
    stmt.exists(params![attribute, key, except]).map_err(|e| unavailable("uniqueness check", e))
}

/// The given values grouped by their index key (lower case): case variants
/// of one value share a key and so the same answer.
fn by_key(values: &[String]) -> HashMap<String, Vec<&String>> {
    let mut out: HashMap<String, Vec<&String>> = HashMap::with_capacity(values.len());
    for v in values {
        out.entry(v.to_lowercase()).or_default().push(v);
    }
    out
}

/// `sql_head` followed by `IN (?2, ..., ?n)` with room for `len` values,
/// rounded up to a power of two so that few distinct statements are cached;
/// the spare parameters stay NULL, which `IN` never matches.
fn in_list(sql_head: &str, sql_tail: &str, len: usize) -> (String, usize) {
    let slots = len.next_power_of_two().min(LOOKUP_CHUNK);
    let params: Vec<String> = (2..slots + 2).map(|i| format!("?{i}")).collect();
    (format!("{sql_head} IN ({}){sql_tail}", params.join(", ")), slots)
}

/// Run an `IN (...)` lookup on `attribute` for `keys`, chunked, calling `row`
/// for every result row.
fn lookup_in(
    conn: &Connection,
    sql_head: &str,
    sql_tail: &str,
    attribute: &str,
    keys: &[&String],
    operation: &'static str,
    mut row: impl FnMut(&rusqlite::Row<'_>) -> Result<(), TargetError>,
) -> Result<(), TargetError> {
    for chunk in keys.chunks(LOOKUP_CHUNK) {
        let (sql, slots) = in_list(sql_head, sql_tail, chunk.len());
        let mut stmt = conn.prepare_cached(&sql).map_err(|e| unavailable(operation, e))?;
        stmt.raw_bind_parameter(1, attribute).map_err(|e| unavailable(operation, e))?;
        for i in 0..slots {
            let value = chunk.get(i).map(|k| k.as_str());
            stmt.raw_bind_parameter(i + 2, value).map_err(|e| unavailable(operation, e))?;
        }
        let mut rows = stmt.raw_query();
        while let Some(r) = rows.next().map_err(|e| unavailable(operation, e))? {
            row(r)?;
        }
    }
    Ok(())
}

/// Objects whose `attribute` has one of `keys` (lower case), read one by
/// one: for attributes outside the value index. Objects come in id order.
fn scan(
    conn: &Connection,
    attribute: &str,
    keys: &HashMap<String, Vec<&String>>,
    except: Option<&str>,
    operation: &'static str,
) -> Result<HashMap<String, Vec<TargetObject>>, TargetError> {
    let mut stmt = conn
        .prepare_cached("SELECT id, enabled, attributes FROM object ORDER BY id")
        .map_err(|e| unavailable(operation, e))?;
    let rows = stmt
        .query_map([], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, bool>(1)?, r.get::<_, String>(2)?))
        })
        .map_err(|e| unavailable(operation, e))?;
    let mut out: HashMap<String, Vec<TargetObject>> = HashMap::new();
    for row in rows {
        let (id, enabled, attrs) = row.map_err(|e| unavailable(operation, e))?;
        if except == Some(id.as_str()) {
            continue;
        }
        let obj = object(id, enabled, &attrs, operation)?;
        let Some(value) = obj.attributes.get(attribute) else { continue };
        let mut hits: Vec<String> =
            index_keys(value).into_iter().filter(|k| keys.contains_key(k)).collect();
        hits.sort();
        hits.dedup();
        for key in hits {
            out.entry(key).or_default().push(obj.clone());
        }
    }
    Ok(out)
}

fn load(
    conn: &Connection,
    id: &str,
    operation: &'static str,
) -> Result<Option<TargetObject>, TargetError> {
    let mut stmt = conn
        .prepare_cached("SELECT enabled, attributes FROM object WHERE id = ?1")
        .map_err(|e| unavailable(operation, e))?;
    let row: Option<(bool, String)> = stmt
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
        .map_err(|e| unavailable(operation, e))?;
    row.map(|(enabled, attrs)| object(id.to_owned(), enabled, &attrs, operation)).transpose()
}

fn to_json(attrs: &Attributes, operation: &'static str) -> Result<String, TargetError> {
    serde_json::to_string(attrs)
        .map_err(|e| TargetError::Rejected { operation, message: e.to_string() })
}

/// Map lower-case keys back to the values as the caller gave them.
fn spread<T: Clone>(
    found: HashMap<String, T>,
    keys: &HashMap<String, Vec<&String>>,
) -> HashMap<String, T> {
    let mut out = HashMap::with_capacity(found.len());
    for (key, v) in found {
        for given in keys.get(&key).into_iter().flatten() {
            out.insert((*given).clone(), v.clone());
        }
    }
    out
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
            Ok(n) => CheckStep {
                name: "open directory".into(),
                ok: true,
                detail: format!("{n} objects"),
            },
            Err(e) => CheckStep { name: "open directory".into(), ok: false, detail: e.to_string() },
        }]
    }

    async fn find(&self, attribute: &str, value: &str) -> Result<Vec<TargetObject>, TargetError> {
        let values = [value.to_owned()];
        Ok(self.find_many(attribute, &values).await?.remove(value).unwrap_or_default())
    }

    async fn find_many(
        &self,
        attribute: &str,
        values: &[String],
    ) -> Result<HashMap<String, Vec<TargetObject>>, TargetError> {
        let keys = by_key(values);
        if keys.is_empty() {
            return Ok(HashMap::new());
        }
        let conn = self.lock();
        if !self.is_indexed(attribute) {
            return Ok(spread(scan(&conn, attribute, &keys, None, "find")?, &keys));
        }
        let wanted: Vec<&String> = keys.keys().collect();
        let mut found: HashMap<String, Vec<TargetObject>> = HashMap::new();
        lookup_in(
            &conn,
            "SELECT v.value, o.id, o.enabled, o.attributes FROM value_index v JOIN object o ON o.id = v.id \
             WHERE v.name = ?1 AND v.value",
            " ORDER BY v.value, o.id",
            attribute,
            &wanted,
            "find",
            |r| {
                let key: String = r.get(0).map_err(|e| unavailable("find", e))?;
                let id: String = r.get(1).map_err(|e| unavailable("find", e))?;
                let enabled: bool = r.get(2).map_err(|e| unavailable("find", e))?;
                let attrs: String = r.get(3).map_err(|e| unavailable("find", e))?;
                found.entry(key).or_default().push(object(id, enabled, &attrs, "find")?);
                Ok(())
            },
        )?;
        Ok(spread(found, &keys))
    }

    async fn get(&self, id: &str) -> Result<Option<TargetObject>, TargetError> {
        load(&self.lock(), id, "get")
    }

    async fn create(&self, attributes: &Attributes) -> Result<TargetObject, TargetError> {
        let conn = self.writer("create")?;
        let keys = self.keys(attributes);
        for (name, key) in &keys {
            if self.unique.iter().any(|u| u == name) && taken(&conn, name, key, None)? {
                return Err(TargetError::AlreadyExists {
                    operation: "create",
                    attribute: (*name).to_owned(),
                    value: key.clone(),
                });
            }
        }
        let enabled = is_enabled(attributes);
        let json = to_json(attributes, "create")?;
        let id = atomically(&conn, "create", |conn| {
            // Opaque but time-ordered (milliseconds, then 80 random bits, as
            // UUIDv7): new ids append to the id index, here and in the
            // engine's store, instead of touching a random page each.
            let mut insert = conn
                .prepare_cached(
                    "INSERT INTO object (id, enabled, attributes) VALUES \
                     (printf('%012x', CAST(unixepoch('subsec') * 1000 AS INTEGER)) || lower(hex(randomblob(10))), ?1, ?2) \
                     RETURNING id",
                )
                .map_err(|e| unavailable("create", e))?;
            let id: String = insert
                .query_row(params![enabled, json], |r| r.get(0))
                .map_err(|e| unavailable("create", e))?;
            index_object(conn, ADD_KEY, &id, &keys, "create")?;
            Ok(id)
        })?;
        Ok(TargetObject { id, name: None, attributes: attributes.clone(), enabled: Some(enabled) })
    }

    async fn update(&self, id: &str, changes: &[AttributeUpdate]) -> Result<(), TargetError> {
        let conn = self.writer("update")?;
        let Some(mut obj) = load(&conn, id, "update")? else {
            return Err(TargetError::NotFound { operation: "update", id: id.to_owned() });
        };
        let before = self.keys(&obj.attributes);
        for c in changes {
            if self.unique.contains(&c.name) {
                for key in index_keys(&c.value) {
                    if taken(&conn, &c.name, &key, Some(id))? {
                        return Err(TargetError::AlreadyExists {
                            operation: "update",
                            attribute: c.name.clone(),
                            value: key,
                        });
                    }
                }
            }
            if c.value.is_null() {
                obj.attributes.remove(&c.name);
            } else {
                obj.attributes.insert(c.name.clone(), c.value.clone());
            }
        }
        let after = self.keys(&obj.attributes);
        let json = to_json(&obj.attributes, "update")?;
        atomically(&conn, "update", |conn| {
            let mut stmt = conn
                .prepare_cached("UPDATE object SET attributes = ?2, enabled = ?3 WHERE id = ?1")
                .map_err(|e| unavailable("update", e))?;
            stmt.execute(params![id, json, is_enabled(&obj.attributes)])
                .map_err(|e| unavailable("update", e))?;
            index_object(conn, REMOVE_KEY, id, before.difference(&after), "update")?;
            index_object(conn, ADD_KEY, id, after.difference(&before), "update")
        })
    }

    async fn disable(&self, id: &str) -> Result<(), TargetError> {
        self.update(
            id,
            &[AttributeUpdate {
                name: DISABLED_ATTRIBUTE.into(),
                value: Value::String("True".into()),
            }],
        )
        .await
        .map_err(|e| match e {
            TargetError::NotFound { id, .. } => TargetError::NotFound { operation: "disable", id },
            other => other,
        })
    }

    async fn delete(&self, id: &str) -> Result<(), TargetError> {
        let conn = self.writer("delete")?;
        let Some(obj) = load(&conn, id, "delete")? else {
            return Err(TargetError::NotFound { operation: "delete", id: id.to_owned() });
        };
        let keys = self.keys(&obj.attributes);
        atomically(&conn, "delete", |conn| {
            index_object(conn, REMOVE_KEY, id, &keys, "delete")?;
            conn.prepare_cached("DELETE FROM object WHERE id = ?1")
                .and_then(|mut s| s.execute([id]))
                .map(drop)
                .map_err(|e| unavailable("delete", e))
        })
    }

    async fn flush(&self) -> Result<(), TargetError> {
        let conn = self.lock();
        if !conn.is_autocommit() {
            run(&conn, "COMMIT", "flush")?;
        }
        Ok(())
    }

    async fn is_taken(
        &self,
        attribute: &str,
        value: &str,
        except_id: Option<&str>,
    ) -> Result<bool, TargetError> {
        let conn = self.lock();
        if !self.is_indexed(attribute) {
            let given = [value.to_owned()];
            let keys = by_key(&given);
            return Ok(!scan(&conn, attribute, &keys, except_id, "uniqueness check")?.is_empty());
        }
        taken(&conn, attribute, &value.to_lowercase(), except_id)
    }

    async fn taken(
        &self,
        attribute: &str,
        candidates: &[String],
    ) -> Result<HashSet<String>, TargetError> {
        let keys = by_key(candidates);
        if keys.is_empty() {
            return Ok(HashSet::new());
        }
        let conn = self.lock();
        let found: HashMap<String, ()> = if self.is_indexed(attribute) {
            let wanted: Vec<&String> = keys.keys().collect();
            let mut found = HashMap::new();
            lookup_in(
                &conn,
                "SELECT DISTINCT value FROM value_index WHERE name = ?1 AND value",
                "",
                attribute,
                &wanted,
                "uniqueness check",
                |r| {
                    found.insert(r.get(0).map_err(|e| unavailable("uniqueness check", e))?, ());
                    Ok(())
                },
            )?;
            found
        } else {
            scan(&conn, attribute, &keys, None, "uniqueness check")?
                .into_keys()
                .map(|k| (k, ()))
                .collect()
        };
        Ok(spread(found, &keys).into_keys().collect())
    }
}

impl Drop for EmbeddedTarget {
    /// A normal shutdown keeps grouped writes (a crash drops them, and the
    /// engine's store never recorded them either).
    fn drop(&mut self) {
        let conn = self.lock();
        if !conn.is_autocommit()
            && let Err(error) = conn.execute_batch("COMMIT")
        {
            tracing::warn!(message = "Embedded target: could not commit grouped writes on close.", %error);
        }
    }
}
