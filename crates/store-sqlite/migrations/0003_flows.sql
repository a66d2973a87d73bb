-- Every row belongs to a flow (`inbound`: SuccessFactors to the directory,
-- `writeback`, or a name the config chooses). Rows written before flows
-- existed are the inbound flow's. Keys and the indexes the engine's queries
-- use lead with the flow, so flows never see or overwrite each other's rows.

CREATE TABLE watermark_v3 (
    flow       TEXT NOT NULL,
    scope      TEXT NOT NULL,
    value_ms   INTEGER NOT NULL,
    cycle_id   INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    PRIMARY KEY (flow, scope)
);
INSERT INTO watermark_v3 (flow, scope, value_ms, cycle_id, updated_ms)
    SELECT 'inbound', scope, value_ms, cycle_id, updated_ms FROM watermark;
DROP TABLE watermark;
ALTER TABLE watermark_v3 RENAME TO watermark;

-- The join of a worker to its target object, and the values last exported.
CREATE TABLE account_v3 (
    flow       TEXT NOT NULL,
    person_id  TEXT NOT NULL,
    target_id  TEXT NOT NULL,
    status     TEXT NOT NULL CHECK (status IN ('active', 'disabled', 'deleted')),
    exported   TEXT NOT NULL DEFAULT '{}',
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    PRIMARY KEY (flow, person_id)
);
INSERT INTO account_v3 (flow, person_id, target_id, status, exported, created_ms, updated_ms)
    SELECT 'inbound', person_id, target_id, status, exported, created_ms, updated_ms FROM account;
DROP TABLE account;
ALTER TABLE account_v3 RENAME TO account;
CREATE UNIQUE INDEX account_target ON account (flow, target_id);

CREATE TABLE escrow_v3 (
    flow            TEXT NOT NULL,
    person_id       TEXT NOT NULL,
    attempts        INTEGER NOT NULL,
    first_failed_ms INTEGER NOT NULL,
    last_failed_ms  INTEGER NOT NULL,
    next_attempt_ms INTEGER NOT NULL,
    last_error      TEXT NOT NULL,
    flagged         INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (flow, person_id)
);
INSERT INTO escrow_v3 (flow, person_id, attempts, first_failed_ms, last_failed_ms, next_attempt_ms, last_error, flagged)
    SELECT 'inbound', person_id, attempts, first_failed_ms, last_failed_ms, next_attempt_ms, last_error, flagged FROM escrow;
DROP TABLE escrow;
ALTER TABLE escrow_v3 RENAME TO escrow;
CREATE INDEX escrow_due ON escrow (flow, next_attempt_ms);

CREATE TABLE wakeup_v3 (
    flow      TEXT NOT NULL,
    person_id TEXT NOT NULL,
    at_ms     INTEGER NOT NULL,
    reason    TEXT NOT NULL,
    PRIMARY KEY (flow, person_id, at_ms)
);
INSERT INTO wakeup_v3 (flow, person_id, at_ms, reason)
    SELECT 'inbound', person_id, at_ms, reason FROM wakeup;
DROP TABLE wakeup;
ALTER TABLE wakeup_v3 RENAME TO wakeup;
CREATE INDEX wakeup_at ON wakeup (flow, at_ms);

-- Cycle ids stay unique over all flows (the log refers to them).
ALTER TABLE cycle ADD COLUMN flow TEXT NOT NULL DEFAULT 'inbound';
CREATE INDEX cycle_flow ON cycle (flow, id);

-- A constant default: SQLite adds the column without rewriting the rows.
ALTER TABLE provisioning_log ADD COLUMN flow TEXT NOT NULL DEFAULT 'inbound';
DROP INDEX log_person;
DROP INDEX log_cycle;
CREATE INDEX log_person ON provisioning_log (flow, person_id, id);
CREATE INDEX log_cycle ON provisioning_log (flow, cycle_id, id);

-- One cycle at a time per flow. The row outlives a release so that the
-- epoch (the fencing token) only grows.
CREATE TABLE lease (
    flow       TEXT NOT NULL PRIMARY KEY, -- SQLite lets a TEXT key be NULL unless told
    holder     TEXT,
    epoch      INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL
);
