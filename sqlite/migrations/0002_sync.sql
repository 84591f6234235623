-- Directory sync state: a hash of what the sync last wrote to each user,
-- cleared by any other write to the user's mapped columns or photo, and
-- one incremental-sync cursor per directory server.

ALTER TABLE users ADD COLUMN sync_hash TEXT NOT NULL DEFAULT '';

CREATE TRIGGER users_sync_hash_stale
AFTER UPDATE OF username, source, dn, stable_id, first_name, last_name, email,
    is_active, is_staff, is_superuser, flags, profile ON users
WHEN NEW.sync_hash <> ''
BEGIN
    UPDATE users SET sync_hash = '' WHERE id = NEW.id;
END;

CREATE TRIGGER photos_sync_hash_stale_insert AFTER INSERT ON photos
BEGIN
    UPDATE users SET sync_hash = '' WHERE id = NEW.user_id AND sync_hash <> '';
END;

CREATE TRIGGER photos_sync_hash_stale_update AFTER UPDATE ON photos
BEGIN
    UPDATE users SET sync_hash = '' WHERE id = NEW.user_id AND sync_hash <> '';
END;

CREATE TRIGGER photos_sync_hash_stale_delete AFTER DELETE ON photos
BEGIN
    UPDATE users SET sync_hash = '' WHERE id = OLD.user_id AND sync_hash <> '';
END;

CREATE TABLE sync_cursors (
    server     TEXT    PRIMARY KEY,
    cursor     TEXT    NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;
