-- Several directories (issue 14): every directory group belongs to one
-- directory, by name ('default' for the single-directory form, and for
-- every group that existed before), and its identity is (directory,
-- stable id). Names stay unique across every group, local or of any
-- directory: a group of any directory but the first is stored as
-- NAME@DIRECTORY, so two directories' groups never merge. Local groups
-- are shared; their directory column is left at its default and unused.

ALTER TABLE groups ADD COLUMN directory TEXT NOT NULL DEFAULT 'default';

DROP INDEX groups_stable_id_key;
CREATE UNIQUE INDEX groups_stable_id_key ON groups (stable_id, directory) WHERE stable_id <> '';
