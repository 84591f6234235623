-- Sessions are kept under the SHA-256 of their token: the cookie keeps the
-- token, the database only its hash, so a copy of the database signs nobody
-- in. Sessions stored under a plain token are dropped; their users sign in
-- again.

DROP TABLE sessions;

CREATE TABLE sessions (
    token_hash bytea       PRIMARY KEY CHECK (octet_length(token_hash) = 32),
    data       bytea       NOT NULL,
    expiry     timestamptz NOT NULL
);

CREATE INDEX sessions_expiry_idx ON sessions (expiry);
