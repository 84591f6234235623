package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/ldapbridge/ldapbridge"
)

// SyncUserStates calls fn with the compact state of every user in id order.
func (s *Store) SyncUserStates(ctx context.Context, fn func(ldapbridge.SyncUserState) error) error {
	rows, err := s.query(ctx, `SELECT id, username, source, dn, stable_id, is_active, sync_hash FROM users ORDER BY id`)
	if err != nil {
		return wrap(err, "read sync user states")
	}
	defer rows.Close()
	for rows.Next() {
		var st ldapbridge.SyncUserState
		if err := rows.Scan(&st.ID, &st.Username, &st.Source, &st.DN, &st.StableID, &st.IsActive, &st.Hash); err != nil {
			return wrap(err, "read sync user states")
		}
		if err := fn(st); err != nil {
			return err
		}
	}
	return wrap(rows.Err(), "read sync user states")
}

// SetSyncHash records hash against the user's current row. The schema's
// triggers clear it when the row's mapped columns or photo change later.
func (s *Store) SetSyncHash(ctx context.Context, userID int64, hash string) error {
	res, err := s.exec(ctx, `UPDATE users SET sync_hash = ? WHERE id = ?`, hash, userID)
	return mustAffect(res, err, fmt.Sprintf("set sync hash of user id %d", userID))
}

// RecordSyncRun inserts run (ID 0) or updates the run with run.ID.
func (s *Store) RecordSyncRun(ctx context.Context, run *ldapbridge.SyncRun) error {
	counts := run.Counts
	if counts == nil {
		counts = map[string]int64{}
	}
	cb, err := json.Marshal(counts)
	if err != nil {
		return fmt.Errorf("sqlite: record sync run: counts: %w", err)
	}
	if run.ID == 0 {
		res, err := s.exec(ctx, `INSERT INTO sync_runs (started_at, finished_at, mode, server, outcome, error, counts, ldap_searches, instance)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, toMS(run.StartedAt), toNullMS(run.FinishedAt), run.Mode, run.Server, run.Outcome, run.Error, string(cb), run.LDAPSearches, run.Instance)
		if err != nil {
			return wrap(err, "record sync run")
		}
		run.ID, err = res.LastInsertId()
		return wrap(err, "record sync run")
	}
	res, err := s.exec(ctx, `UPDATE sync_runs SET started_at = ?, finished_at = ?, mode = ?, server = ?, outcome = ?, error = ?,
counts = ?, ldap_searches = ?, instance = ? WHERE id = ?`, toMS(run.StartedAt), toNullMS(run.FinishedAt), run.Mode, run.Server, run.Outcome, run.Error, string(cb), run.LDAPSearches, run.Instance, run.ID)
	return mustAffect(res, err, fmt.Sprintf("update sync run %d", run.ID))
}

// SyncRuns returns recorded runs, the most recent first; limit 0 means all.
func (s *Store) SyncRuns(ctx context.Context, limit int) ([]*ldapbridge.SyncRun, error) {
	if limit < 0 {
		return nil, fmt.Errorf("sqlite: sync runs: limit %d must not be negative", limit)
	}
	lim := int64(limit)
	if limit == 0 {
		lim = -1
	}
	rows, err := s.query(ctx, `SELECT id, started_at, finished_at, mode, server, outcome, error, counts, ldap_searches, instance
FROM sync_runs ORDER BY started_at DESC, id DESC LIMIT ?`, lim)
	if err != nil {
		return nil, wrap(err, "list sync runs")
	}
	defer rows.Close()
	out := []*ldapbridge.SyncRun{}
	for rows.Next() {
		var (
			r        ldapbridge.SyncRun
			started  int64
			finished sql.NullInt64
			counts   string
		)
		if err := rows.Scan(&r.ID, &started, &finished, &r.Mode, &r.Server, &r.Outcome, &r.Error, &counts, &r.LDAPSearches, &r.Instance); err != nil {
			return nil, wrap(err, "list sync runs")
		}
		r.StartedAt, r.FinishedAt = fromMS(started), fromNullMS(finished)
		r.Counts = map[string]int64{}
		if err := json.Unmarshal([]byte(counts), &r.Counts); err != nil {
			return nil, fmt.Errorf("sqlite: sync run %d: counts column: %w", r.ID, err)
		}
		out = append(out, &r)
	}
	return out, wrap(rows.Err(), "list sync runs")
}

// SyncCursor returns the cursor stored for server, or "".
func (s *Store) SyncCursor(ctx context.Context, server string) (string, error) {
	var c string
	err := s.queryRow(ctx, `SELECT cursor FROM sync_cursors WHERE server = ?`, server).Scan(&c)
	if err == sql.ErrNoRows {
		return "", nil
	}
	return c, wrap(err, "read sync cursor of "+server)
}

// SetSyncCursor stores cursor for server; "" removes it.
func (s *Store) SetSyncCursor(ctx context.Context, server, cursor string) error {
	if cursor == "" {
		_, err := s.exec(ctx, `DELETE FROM sync_cursors WHERE server = ?`, server)
		return wrap(err, "clear sync cursor of "+server)
	}
	_, err := s.exec(ctx, `INSERT INTO sync_cursors (server, cursor, updated_at) VALUES (?, ?, ?)
ON CONFLICT (server) DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at`, server, cursor, toMS(now()))
	return wrap(err, "set sync cursor of "+server)
}
