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

-- A user the stored verdict no longer admits (inactive, removed, outside
-- access.require, in access.deny) loses the verifier on the same write,
-- whichever path makes it (login, sync, removals, an administrator).
CREATE FUNCTION offline_verifiers_revoke() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM offline_verifiers WHERE user_id = NEW.id;
    RETURN NULL;
END;
$$;

CREATE TRIGGER offline_verifiers_revoke AFTER UPDATE OF is_active, verdict ON users
FOR EACH ROW WHEN (NOT NEW.is_active OR NEW.verdict <> 'ok')
EXECUTE FUNCTION offline_verifiers_revoke();
