-- Offline sign-in (access.offline_login): after each successful directory
-- login, an argon2id verifier of the password (its own per-user salt, in
-- the encoded string; never the password) with the time of that login, the
-- directory's password-change stamp seen then (pwdChangedTime or
-- pwdLastSet, raw) and the count of wrong offline attempts since.

CREATE TABLE offline_verifiers (
    user_id          bigint      PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    verifier         text        COLLATE "C" NOT NULL,
    password_changed text        COLLATE "C" NOT NULL DEFAULT '',
    login_at         timestamptz NOT NULL,
    failures         integer     NOT NULL DEFAULT 0
);
