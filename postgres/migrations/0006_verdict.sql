-- The admission verdict is stored with the user (auth's one judge sets it
-- at login and sync; the session check reads it): ok, require_group,
-- deny_group, inactive or removed, and why.

ALTER TABLE users ADD COLUMN verdict TEXT NOT NULL DEFAULT 'ok';
ALTER TABLE users ADD COLUMN verdict_reason TEXT NOT NULL DEFAULT '';
