-- Watermark per source scope: the end of the last window whose every change
-- was applied or escrowed.
CREATE TABLE watermark (
    scope      TEXT PRIMARY KEY,
    value_ms   INTEGER NOT NULL,
    cycle_id   INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL
);

-- One row per worker hrsync manages in the target: the join (person <-> target
-- object) and the attribute values last exported, for flow-when-changed.
CREATE TABLE account (
    person_id  TEXT PRIMARY KEY,
    target_id  TEXT NOT NULL,
    status     TEXT NOT NULL CHECK (status IN ('active', 'disabled', 'deleted')),
    exported   TEXT NOT NULL DEFAULT '{}',
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL
);
CREATE UNIQUE INDEX account_target ON account (target_id);

-- Workers whose last attempt failed, retried with backoff.
CREATE TABLE escrow (
    person_id       TEXT PRIMARY KEY,
    attempts        INTEGER NOT NULL,
    first_failed_ms INTEGER NOT NULL,
    last_failed_ms  INTEGER NOT NULL,
    next_attempt_ms INTEGER NOT NULL,
    last_error      TEXT NOT NULL,
    flagged         INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX escrow_due ON escrow (next_attempt_ms);

-- Instants at which a worker's state changes without a new HR modification
-- (end of the last working day, a future-dated slice, a pre-hire lead time).
CREATE TABLE wakeup (
    person_id TEXT NOT NULL,
    at_ms     INTEGER NOT NULL,
    reason    TEXT NOT NULL,
    PRIMARY KEY (person_id, at_ms)
);
CREATE INDEX wakeup_at ON wakeup (at_ms);

CREATE TABLE cycle (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    kind           TEXT NOT NULL,
    started_ms     INTEGER NOT NULL,
    finished_ms    INTEGER,
    status         TEXT NOT NULL,
    window_from_ms INTEGER,
    window_to_ms   INTEGER,
    summary        TEXT NOT NULL DEFAULT '{}',
    message        TEXT
);

-- Per worker per cycle: what was decided and what happened.
CREATE TABLE provisioning_log (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
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
CREATE INDEX log_person ON provisioning_log (person_id, id);
CREATE INDEX log_cycle ON provisioning_log (cycle_id, id);
