-- Who or what started a sync run: schedule, cli, live, admin (NAME),
-- approve (NAME), demo start.

ALTER TABLE sync_runs ADD COLUMN started_by TEXT NOT NULL DEFAULT '';
