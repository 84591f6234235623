package sqlcore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"

	"github.com/ldapbridge/ldapbridge"
)

// SyncUserStates calls fn with the compact state of every user in id order.
func (s *Store) SyncUserStates(ctx context.Context, fn func(ldapbridge.SyncUserState) error) error {
	rows, err := s.db.Query(ctx, `SELECT id, username, source, dn, stable_id, directory, is_active, verdict, sync_hash FROM users ORDER BY id`)
	if err != nil {
		return s.d.Wrap(err, "read sync user states")
	}
	defer rows.Close()
	for rows.Next() {
		var st ldapbridge.SyncUserState
		if err := rows.Scan(&st.ID, &st.Username, &st.Source, &st.DN, &st.StableID, &st.Directory, &st.IsActive, &st.Verdict, &st.Hash); err != nil {
			return s.d.Wrap(err, "read sync user states")
		}
		if st.Directory == ldapbridge.DefaultDirectory {
			st.Directory = ""
		}
		if err := fn(st); err != nil {
			return err
		}
	}
	return s.d.Wrap(rows.Err(), "read sync user states")
}

// SetUserVerdict stores the admission verdict of one user and the sync
// hash that goes with it, leaving every other column as it is: a sync
// applies a refusal it held back until its removal guard passed.
func (s *Store) SetUserVerdict(ctx context.Context, userID int64, verdict, reason, hash string) error {
	n, err := s.db.Exec(ctx, `UPDATE users SET verdict = $1, verdict_reason = $2, sync_hash = $3 WHERE id = $4`, verdict, reason, hash, userID)
	return s.d.mustAffect(n, err, fmt.Sprintf("set verdict of user id %d", userID))
}

// SetSyncHash records hash against the user's current row. The schema's
// triggers clear it when the row's mapped columns or photo change later.
func (s *Store) SetSyncHash(ctx context.Context, userID int64, hash string) error {
	n, err := s.db.Exec(ctx, `UPDATE users SET sync_hash = $1 WHERE id = $2`, hash, userID)
	return s.d.mustAffect(n, err, fmt.Sprintf("set sync hash of user id %d", userID))
}

// RecordSyncRun inserts run (ID 0) or updates the run with run.ID.
func (s *Store) RecordSyncRun(ctx context.Context, run *ldapbridge.SyncRun) error {
	counts := run.Counts
	if counts == nil {
		counts = map[string]int64{}
	}
	cb, err := json.Marshal(counts)
	if err != nil {
		return s.d.errorf("record sync run: counts: %w", err)
	}
	dir := run.Directory
	if dir == "" {
		dir = ldapbridge.DefaultDirectory
	}
	args := []any{s.d.Time(run.StartedAt), s.d.nullTime(run.FinishedAt), run.Mode, run.Server, run.Outcome, run.Error, string(cb), run.LDAPSearches, run.Instance, run.StartedBy, dir}
	if run.ID == 0 {
		run.ID, err = s.db.Insert(ctx, `INSERT INTO sync_runs (started_at, finished_at, mode, server, outcome, error, counts, ldap_searches, instance, started_by, directory)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`, args...)
		return s.d.Wrap(err, "record sync run")
	}
	n, err := s.db.Exec(ctx, `UPDATE sync_runs SET started_at = $1, finished_at = $2, mode = $3, server = $4, outcome = $5,
error = $6, counts = $7, ldap_searches = $8, instance = $9, started_by = $10, directory = $11 WHERE id = $12`, append(args, run.ID)...)
	return s.d.mustAffect(n, err, fmt.Sprintf("update sync run %d", run.ID))
}

// SyncRuns returns recorded runs, the most recent first; limit 0 means all.
func (s *Store) SyncRuns(ctx context.Context, limit int) ([]*ldapbridge.SyncRun, error) {
	if limit < 0 {
		return nil, s.d.errorf("sync runs: limit %d must not be negative", limit)
	}
	rows, err := s.db.Query(ctx, `SELECT id, started_at, finished_at, mode, server, outcome, error, counts, ldap_searches, instance, started_by, directory
FROM sync_runs ORDER BY started_at DESC, id DESC LIMIT $1`, noLimit(limit))
	if err != nil {
		return nil, s.d.Wrap(err, "list sync runs")
	}
	defer rows.Close()
	out := []*ldapbridge.SyncRun{}
	for rows.Next() {
		var r ldapbridge.SyncRun
		var counts []byte
		if err := rows.Scan(&r.ID, at(&r.StartedAt), atNull(&r.FinishedAt), &r.Mode, &r.Server, &r.Outcome, &r.Error, &counts, &r.LDAPSearches, &r.Instance, &r.StartedBy, &r.Directory); err != nil {
			return nil, s.d.Wrap(err, "list sync runs")
		}
		r.Counts = map[string]int64{}
		if err := json.Unmarshal(counts, &r.Counts); err != nil {
			return nil, s.d.errorf("sync run %d: counts column: %w", r.ID, err)
		}
		out = append(out, &r)
	}
	return out, s.d.Wrap(rows.Err(), "list sync runs")
}

// noLimit is a LIMIT parameter: n, or no limit for 0.
func noLimit(n int) int64 {
	if n == 0 {
		return math.MaxInt64
	}
	return int64(n)
}

// SyncCursor returns the cursor stored for server, or "".
func (s *Store) SyncCursor(ctx context.Context, server string) (string, error) {
	var c string
	err := s.db.QueryRow(ctx, `SELECT cursor FROM sync_cursors WHERE server = $1`, server).Scan(&c)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return c, s.d.Wrap(err, "read sync cursor of "+server)
}

// SetSyncCursor stores cursor for server; "" removes it.
func (s *Store) SetSyncCursor(ctx context.Context, server, cursor string) error {
	if cursor == "" {
		_, err := s.db.Exec(ctx, `DELETE FROM sync_cursors WHERE server = $1`, server)
		return s.d.Wrap(err, "clear sync cursor of "+server)
	}
	_, err := s.db.Exec(ctx, `INSERT INTO sync_cursors (server, cursor, updated_at) VALUES ($1, $2, $3)
ON CONFLICT (server) DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at`, server, cursor, s.d.Time(Now()))
	return s.d.Wrap(err, "set sync cursor of "+server)
}
