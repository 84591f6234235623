-- Groups have a source: 'ldap' (mirrored from the directory, the only kind
-- until now) or 'local' (made in the application; no login or sync
-- changes its members).

ALTER TABLE groups ADD COLUMN source TEXT NOT NULL DEFAULT 'ldap' CHECK (source IN ('ldap', 'local'));
