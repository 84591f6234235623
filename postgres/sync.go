package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/ldapbridge/ldapbridge"
)

// SyncUserStates calls fn with the compact state of every user in id order.
func (s *Store) SyncUserStates(ctx context.Context, fn func(ldapbridge.SyncUserState) error) error {
	rows, err := s.q.Query(ctx, `SELECT id, username, source, dn, stable_id, is_active, sync_hash FROM users ORDER BY id`)
	if err != nil {
		return wrap(err, "read sync user states")
	}
	defer rows.Close()
	var st ldapbridge.SyncUserState
	_, err = pgx.ForEachRow(rows, []any{&st.ID, &st.Username, &st.Source, &st.DN, &st.StableID, &st.IsActive, &st.Hash},
		func() error { return fn(st) })
	if err != nil {
		return wrap(err, "read sync user states")
	}
	return nil
}

// SetSyncHash records hash against the user's current row. A trigger clears
// it when the row's mapped columns or photo are written later.
func (s *Store) SetSyncHash(ctx context.Context, userID int64, hash string) error {
	tag, err := s.q.Exec(ctx, `UPDATE users SET sync_hash = $1 WHERE id = $2`, hash, userID)
	return mustAffect(tag, err, fmt.Sprintf("set sync hash of user id %d", userID))
}

// RecordSyncRun inserts run (ID 0) or updates the run with run.ID.
func (s *Store) RecordSyncRun(ctx context.Context, run *ldapbridge.SyncRun) error {
	counts := run.Counts
	if counts == nil {
		counts = map[string]int64{}
	}
	cb, err := json.Marshal(counts)
	if err != nil {
		return fmt.Errorf("postgres: record sync run: counts: %w", err)
	}
	args := []any{ms(run.StartedAt), msPtr(run.FinishedAt), run.Mode, run.Server, run.Outcome, run.Error, string(cb), run.LDAPSearches, run.Instance}
	if run.ID == 0 {
		err := s.q.QueryRow(ctx, `INSERT INTO sync_runs (started_at, finished_at, mode, server, outcome, error, counts, ldap_searches, instance)
VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9) RETURNING id`, args...).Scan(&run.ID)
		return wrap(err, "record sync run")
	}
	tag, err := s.q.Exec(ctx, `UPDATE sync_runs SET started_at = $1, finished_at = $2, mode = $3, server = $4, outcome = $5,
error = $6, counts = $7::jsonb, ldap_searches = $8, instance = $9 WHERE id = $10`, append(args, run.ID)...)
	return mustAffect(tag, err, fmt.Sprintf("update sync run %d", run.ID))
}

// SyncRuns returns recorded runs, the most recent first; limit 0 means all.
func (s *Store) SyncRuns(ctx context.Context, limit int) ([]*ldapbridge.SyncRun, error) {
	if limit < 0 {
		return nil, fmt.Errorf("postgres: sync runs: limit %d must not be negative", limit)
	}
	var lim *int64
	if limit > 0 {
		l := int64(limit)
		lim = &l
	}
	rows, err := s.q.Query(ctx, `SELECT id, started_at, finished_at, mode, server, outcome, error, counts, ldap_searches, instance
FROM sync_runs ORDER BY started_at DESC, id DESC LIMIT $1`, lim)
	if err != nil {
		return nil, wrap(err, "list sync runs")
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*ldapbridge.SyncRun, error) {
		var (
			r        ldapbridge.SyncRun
			finished *time.Time
			counts   []byte
		)
		if err := row.Scan(&r.ID, &r.StartedAt, &finished, &r.Mode, &r.Server, &r.Outcome, &r.Error, &counts, &r.LDAPSearches, &r.Instance); err != nil {
			return nil, err
		}
		r.StartedAt, r.FinishedAt = r.StartedAt.UTC(), utcPtr(finished)
		r.Counts = map[string]int64{}
		if err := json.Unmarshal(counts, &r.Counts); err != nil {
			return nil, fmt.Errorf("sync run %d: counts column: %w", r.ID, err)
		}
		return &r, nil
	})
	if err != nil {
		return nil, wrap(err, "list sync runs")
	}
	if out == nil {
		out = []*ldapbridge.SyncRun{}
	}
	return out, nil
}

// SyncCursor returns the cursor stored for server, or "".
func (s *Store) SyncCursor(ctx context.Context, server string) (string, error) {
	var c string
	err := s.q.QueryRow(ctx, `SELECT cursor FROM sync_cursors WHERE server = $1`, server).Scan(&c)
	if err == pgx.ErrNoRows {
		return "", nil
	}
	return c, wrap(err, "read sync cursor of "+server)
}

// SetSyncCursor stores cursor for server; "" removes it.
func (s *Store) SetSyncCursor(ctx context.Context, server, cursor string) error {
	if cursor == "" {
		_, err := s.q.Exec(ctx, `DELETE FROM sync_cursors WHERE server = $1`, server)
		return wrap(err, "clear sync cursor of "+server)
	}
	_, err := s.q.Exec(ctx, `INSERT INTO sync_cursors (server, cursor, updated_at) VALUES ($1, $2, $3)
ON CONFLICT (server) DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at`, server, cursor, now())
	return wrap(err, "set sync cursor of "+server)
}
