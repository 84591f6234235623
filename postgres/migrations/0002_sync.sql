-- Directory sync state: a hash of what the sync last wrote to each user,
-- cleared by any other write to the user's mapped columns or photo, and
-- one incremental-sync cursor per directory server.

ALTER TABLE users ADD COLUMN sync_hash text COLLATE "C" NOT NULL DEFAULT '';

CREATE FUNCTION users_sync_hash_stale() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- A write that sets sync_hash itself (SetSyncHash) keeps it.
    IF NEW.sync_hash IS NOT DISTINCT FROM OLD.sync_hash THEN
        NEW.sync_hash := '';
    END IF;
    RETURN NEW;
END
$$;

-- UPDATE OF fires when a listed column is assigned, even to the same value.
CREATE TRIGGER users_sync_hash_stale
BEFORE UPDATE OF username, source, dn, stable_id, first_name, last_name, email,
    is_active, is_staff, is_superuser, flags, profile ON users
FOR EACH ROW WHEN (OLD.sync_hash <> '')
EXECUTE FUNCTION users_sync_hash_stale();

CREATE FUNCTION photos_sync_hash_stale() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE users SET sync_hash = ''
    WHERE id = (CASE WHEN TG_OP = 'DELETE' THEN OLD.user_id ELSE NEW.user_id END) AND sync_hash <> '';
    RETURN NULL;
END
$$;

CREATE TRIGGER photos_sync_hash_stale
AFTER INSERT OR UPDATE OR DELETE ON photos
FOR EACH ROW EXECUTE FUNCTION photos_sync_hash_stale();

CREATE TABLE sync_cursors (
    server     text        COLLATE "C" PRIMARY KEY,
    cursor     text        NOT NULL,
    updated_at timestamptz NOT NULL
);
