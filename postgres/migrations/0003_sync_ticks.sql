-- Scheduled sync ticks claimed by the sync leader: a tick (the schedule's
-- wall-clock time) is run by at most one instance, even when the
-- leadership moves while the instances' timers fire at slightly different
-- moments.

CREATE TABLE sync_ticks (
    tick       timestamptz PRIMARY KEY,
    instance   text        NOT NULL DEFAULT '',
    claimed_at timestamptz NOT NULL
);
