-- Offline sign-in (access.offline_login): after each successful directory
-- login, an argon2id verifier of the password (its own per-user salt, in
-- the encoded string; never the password) with the time of that login, the
-- directory's password-change stamp seen then (pwdChangedTime or
-- pwdLastSet, raw) and the count of wrong offline attempts since.

CREATE TABLE offline_verifiers (
    user_id          INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    verifier         TEXT    NOT NULL,
    password_changed TEXT    NOT NULL DEFAULT '',
    login_at         INTEGER NOT NULL,
    failures         INTEGER NOT NULL DEFAULT 0
) STRICT;

-- A user the stored verdict no longer admits (inactive, removed, outside
-- access.require, in access.deny) loses the verifier on the same write,
-- whichever path makes it (login, sync, removals, an administrator).
CREATE TRIGGER offline_verifiers_revoke AFTER UPDATE OF is_active, verdict ON users
WHEN NEW.is_active = 0 OR NEW.verdict <> 'ok'
BEGIN
    DELETE FROM offline_verifiers WHERE user_id = NEW.id;
END;
