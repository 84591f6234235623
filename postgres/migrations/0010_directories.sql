-- Several directories (issue 14): every account belongs to one directory,
-- by name ('default' for the single-directory form, and for every account
-- that existed before), and its identity is (directory, stable id). Each
-- sync run records the directory it read.

ALTER TABLE users ADD COLUMN directory text COLLATE "C" NOT NULL DEFAULT 'default';

DROP INDEX users_stable_id_key;
CREATE UNIQUE INDEX users_stable_id_key ON users (stable_id, directory) WHERE stable_id <> '';

ALTER TABLE sync_runs ADD COLUMN directory text NOT NULL DEFAULT 'default';
