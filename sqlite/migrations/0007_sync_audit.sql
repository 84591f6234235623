-- The sync audit (issue 13): every change a sync, a login or an admin
-- makes to users, groups and memberships, with its run; removals over
-- sync.max_removals held for approval; and the webhook outbox, written in
-- the same transaction as the changes it announces.

CREATE TABLE sync_changes (
    id         INTEGER PRIMARY KEY,
    run_id     INTEGER REFERENCES sync_runs (id) ON DELETE CASCADE,
    source     TEXT    NOT NULL,
    at         INTEGER NOT NULL,
    kind       TEXT    NOT NULL,
    action     TEXT    NOT NULL,
    username   TEXT    NOT NULL DEFAULT '',
    user_id    INTEGER,
    group_name TEXT    NOT NULL DEFAULT '',
    dn         TEXT    NOT NULL DEFAULT '',
    fields     TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(fields)),
    reason     TEXT    NOT NULL DEFAULT '',
    actor      TEXT    NOT NULL DEFAULT ''
) STRICT;

CREATE INDEX sync_changes_run_idx ON sync_changes (run_id, id);
CREATE INDEX sync_changes_user_idx ON sync_changes (user_id, id);
CREATE INDEX sync_changes_at_idx ON sync_changes (at);

CREATE TABLE sync_pending_runs (
    run_id     INTEGER PRIMARY KEY REFERENCES sync_runs (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    state      TEXT    NOT NULL DEFAULT 'pending',
    decided_by TEXT    NOT NULL DEFAULT '',
    decided_at INTEGER,
    outcome    TEXT    NOT NULL DEFAULT ''
) STRICT;

CREATE TABLE sync_pending (
    run_id   INTEGER NOT NULL REFERENCES sync_pending_runs (run_id) ON DELETE CASCADE,
    user_id  INTEGER NOT NULL,
    username TEXT    NOT NULL,
    dn       TEXT    NOT NULL DEFAULT '',
    action   TEXT    NOT NULL,
    verdict  TEXT    NOT NULL DEFAULT '',
    reason   TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (run_id, user_id)
) STRICT;

CREATE TABLE event_outbox (
    id              INTEGER PRIMARY KEY,
    delivery_id     TEXT    NOT NULL UNIQUE,
    target          TEXT    NOT NULL,
    type            TEXT    NOT NULL,
    body            TEXT    NOT NULL,
    status          TEXT    NOT NULL DEFAULT 'pending',
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT    NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
) STRICT;

CREATE INDEX event_outbox_due_idx ON event_outbox (status, next_attempt_at);
