-- The provisioning log keyed by plain rowid instead of AUTOINCREMENT: rows
-- are never deleted, so ids still only grow, and an insert no longer reads
-- and rewrites sqlite_sequence (one row per worker per cycle).
CREATE TABLE provisioning_log_v2 (
    id        INTEGER PRIMARY KEY,
    cycle_id  INTEGER NOT NULL REFERENCES cycle (id),
    person_id TEXT NOT NULL,
    at_ms     INTEGER NOT NULL,
    action    TEXT NOT NULL,
    status    TEXT NOT NULL,
    target_id TEXT,
    steps     TEXT NOT NULL DEFAULT '[]',
    modified  TEXT NOT NULL DEFAULT '[]',
    error     TEXT
);
INSERT INTO provisioning_log_v2 (id, cycle_id, person_id, at_ms, action, status, target_id, steps, modified, error)
    SELECT id, cycle_id, person_id, at_ms, action, status, target_id, steps, modified, error FROM provisioning_log;
DROP TABLE provisioning_log;
ALTER TABLE provisioning_log_v2 RENAME TO provisioning_log;
CREATE INDEX log_person ON provisioning_log (person_id, id);
CREATE INDEX log_cycle ON provisioning_log (cycle_id, id);
