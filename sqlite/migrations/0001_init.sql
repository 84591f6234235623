-- Initial schema. Times are unix milliseconds (UTC) in INTEGER columns;
-- flags and profile are JSON objects in TEXT columns.

CREATE TABLE users (
    id             INTEGER PRIMARY KEY,
    username       TEXT    NOT NULL UNIQUE,
    source         TEXT    NOT NULL CHECK (source IN ('ldap', 'local')),
    dn             TEXT    NOT NULL DEFAULT '',
    stable_id      TEXT    NOT NULL DEFAULT '',
    first_name     TEXT    NOT NULL DEFAULT '',
    last_name      TEXT    NOT NULL DEFAULT '',
    email          TEXT    NOT NULL DEFAULT '',
    is_active      INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1)),
    is_staff       INTEGER NOT NULL DEFAULT 0 CHECK (is_staff IN (0, 1)),
    is_superuser   INTEGER NOT NULL DEFAULT 0 CHECK (is_superuser IN (0, 1)),
    flags          TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(flags)),
    profile        TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(profile)),
    password_hash  TEXT    NOT NULL DEFAULT '',
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    last_login_at  INTEGER,
    last_synced_at INTEGER
) STRICT;

CREATE UNIQUE INDEX users_stable_id_key ON users (stable_id) WHERE stable_id <> '';
CREATE INDEX users_email_lower_idx ON users (lower(email));
CREATE INDEX users_dn_lower_idx ON users (lower(dn));

CREATE TABLE photos (
    user_id INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    data    BLOB    NOT NULL
) STRICT;

CREATE TABLE groups (
    id         INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL UNIQUE,
    dn         TEXT    NOT NULL DEFAULT '',
    stable_id  TEXT    NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;

CREATE UNIQUE INDEX groups_stable_id_key ON groups (stable_id) WHERE stable_id <> '';
CREATE INDEX groups_dn_lower_idx ON groups (lower(dn));

CREATE TABLE user_groups (
    user_id  INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    group_id INTEGER NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, group_id)
) STRICT, WITHOUT ROWID;

CREATE INDEX user_groups_group_idx ON user_groups (group_id, user_id);

CREATE TABLE group_groups (
    child_id  INTEGER NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    parent_id INTEGER NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    PRIMARY KEY (child_id, parent_id)
) STRICT, WITHOUT ROWID;

CREATE INDEX group_groups_parent_idx ON group_groups (parent_id, child_id);

-- Web sessions, in the layout of github.com/alexedwards/scs/v2/sqlite3store.
CREATE TABLE sessions (
    token  TEXT PRIMARY KEY,
    data   BLOB NOT NULL,
    expiry REAL NOT NULL
);

CREATE INDEX sessions_expiry_idx ON sessions (expiry);

-- One row per sync run; counts is a JSON object of the run's counters.
CREATE TABLE sync_runs (
    id            INTEGER PRIMARY KEY,
    started_at    INTEGER NOT NULL,
    finished_at   INTEGER,
    mode          TEXT    NOT NULL DEFAULT '',
    server        TEXT    NOT NULL DEFAULT '',
    instance      TEXT    NOT NULL DEFAULT '',
    outcome       TEXT    NOT NULL DEFAULT '',
    error         TEXT    NOT NULL DEFAULT '',
    counts        TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(counts)),
    ldap_searches INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE INDEX sync_runs_started_idx ON sync_runs (started_at);
