//! [`EmbeddedTarget`]: the [`Target`] operations over the SQLite file.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::path::PathBuf;
use std::sync::Mutex;

use async_trait::async_trait;
use hrsync_sqlite_wal as wal;
use hrsync_target::{AttributeUpdate, Attributes, CheckStep, Target, TargetError, TargetObject};
use rusqlite::Connection;

use crate::request_builder::{
    apply, by_key, disable_change, index_keys, is_enabled, object_keys, spread,
};
use crate::service::{
    ADD_KEY, REMOVE_KEY, atomically, index_object, insert, key_taken, load, lookup_in, object,
    remove, run, scan, scan_one, store, to_json, unavailable,
};

/// A directory in one SQLite file (or in memory, for tests).
pub struct EmbeddedTarget {
    /// Declared first so that it stops before the writer's connection closes
    /// (the last connection to close checkpoints and removes the WAL).
    pub(crate) _checkpointer: Option<wal::Checkpointer>,
    pub(crate) conn: Mutex<Connection>,
    /// Attributes that must be unique across objects (create is refused otherwise).
    pub(crate) unique: Vec<String>,
    /// Attributes kept in the value index (the unique ones plus those the
    /// engine matches on). `find` on any other attribute scans every object.
    pub(crate) indexed: Vec<String>,
    /// The file, when not in memory (for messages).
    pub(crate) path: Option<PathBuf>,
    /// Opened with [`EmbeddedTarget::open_read_only`]: writes fail.
    pub(crate) read_only: bool,
    /// The OS lock on `<path>.lock`, held while a writer is open. Declared
    /// last: released only after the connections closed.
    pub(crate) lock: Option<File>,
}

impl EmbeddedTarget {
    fn is_indexed(&self, attribute: &str) -> bool {
        self.indexed.iter().any(|a| a == attribute)
    }

    fn is_unique(&self, attribute: &str) -> bool {
        self.unique.iter().any(|u| u == attribute)
    }
}

#[async_trait]
impl Target for EmbeddedTarget {
    fn kind(&self) -> &'static str {
        "embedded"
    }

    async fn check(&self) -> Vec<CheckStep> {
        crate::health::check(self)
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
        let conn = self.connection();
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
        load(&self.connection(), id, "get")
    }

    async fn create(&self, attributes: &Attributes) -> Result<TargetObject, TargetError> {
        let conn = self.writer("create")?;
        let keys = object_keys(&self.indexed, attributes);
        for (name, key) in &keys {
            if self.is_unique(name) && key_taken(&conn, name, key, None)? {
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
            let id = insert(conn, enabled, &json)?;
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
        for c in changes.iter().filter(|c| self.is_unique(&c.name)) {
            for key in index_keys(&c.value) {
                if key_taken(&conn, &c.name, &key, Some(id))? {
                    return Err(TargetError::AlreadyExists {
                        operation: "update",
                        attribute: c.name.clone(),
                        value: key,
                    });
                }
            }
        }
        let before = object_keys(&self.indexed, &obj.attributes);
        apply(&mut obj.attributes, changes);
        let after = object_keys(&self.indexed, &obj.attributes);
        let json = to_json(&obj.attributes, "update")?;
        atomically(&conn, "update", |conn| {
            store(conn, id, &json, is_enabled(&obj.attributes))?;
            index_object(conn, REMOVE_KEY, id, before.difference(&after), "update")?;
            index_object(conn, ADD_KEY, id, after.difference(&before), "update")
        })
    }

    async fn disable(&self, id: &str) -> Result<(), TargetError> {
        self.update(id, &[disable_change()]).await.map_err(|e| match e {
            TargetError::NotFound { id, .. } => TargetError::NotFound { operation: "disable", id },
            other => other,
        })
    }

    async fn delete(&self, id: &str) -> Result<(), TargetError> {
        let conn = self.writer("delete")?;
        let Some(obj) = load(&conn, id, "delete")? else {
            return Err(TargetError::NotFound { operation: "delete", id: id.to_owned() });
        };
        let keys = object_keys(&self.indexed, &obj.attributes);
        atomically(&conn, "delete", |conn| {
            index_object(conn, REMOVE_KEY, id, &keys, "delete")?;
            remove(conn, id)
        })
    }

    async fn flush(&self) -> Result<(), TargetError> {
        let conn = self.connection();
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
        let conn = self.connection();
        if !self.is_indexed(attribute) {
            return scan_one(&conn, attribute, value, except_id, "uniqueness check");
        }
        key_taken(&conn, attribute, &value.to_lowercase(), except_id)
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
        let conn = self.connection();
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
        let conn = self.connection();
        if !conn.is_autocommit()
            && let Err(error) = conn.execute_batch("COMMIT")
        {
            tracing::warn!(message = "Embedded target: could not commit grouped writes on close.", %error);
        }
    }
}
