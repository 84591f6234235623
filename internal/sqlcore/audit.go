package sqlcore

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/ldapbridge/ldapbridge"
)

// insertRows inserts rows (each of width columns) into table in chunks of
// multi-row INSERTs, so a run's thousands of changes cost few round trips.
func (s *Store) insertRows(ctx context.Context, table, cols string, width int, rows [][]any) error {
	perChunk := 500
	if s.d.BindLimit > 0 {
		perChunk = max(1, min(perChunk, s.d.BindLimit/width))
	}
	for start := 0; start < len(rows); start += perChunk {
		chunk := rows[start:min(start+perChunk, len(rows))]
		var b strings.Builder
		args := make([]any, 0, len(chunk)*width)
		b.WriteString("INSERT INTO " + table + " (" + cols + ") VALUES ")
		for i, r := range chunk {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteByte('(')
			for j := range width {
				if j > 0 {
					b.WriteString(", ")
				}
				fmt.Fprintf(&b, "$%d", len(args)+j+1)
			}
			b.WriteByte(')')
			args = append(args, r...)
		}
		if _, err := s.db.Exec(ctx, b.String(), args...); err != nil {
			return err
		}
	}
	return nil
}

func nullID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

// changeCols are the columns RecordChanges writes.
var changeCols = []string{"run_id", "source", "at", "kind", "action", "username", "user_id", "group_name", "dn", "fields", "reason", "actor"}

// RecordChanges stores cs in the change log, in the caller's transaction
// when s is one, with one bulk insert (bulkInsert: COPY on PostgreSQL,
// multi-row INSERTs of anonymous parameters on SQLite) rather than a
// statement per few rows.
func (s *Store) RecordChanges(ctx context.Context, cs []*ldapbridge.Change) error {
	rows := make([][]any, len(cs))
	vals := make([]any, len(cs)*len(changeCols))
	now := Now()
	var fb []byte
	for i, c := range cs {
		fields := "[]"
		if len(c.Fields) > 0 {
			fb = appendJSONStrings(fb[:0], c.Fields)
			fields = string(fb)
		}
		at := c.At
		if at.IsZero() {
			at = now
		}
		r := vals[i*len(changeCols) : (i+1)*len(changeCols) : (i+1)*len(changeCols)]
		r[0], r[1], r[2], r[3], r[4], r[5] = nullID(c.RunID), c.Source, s.d.Time(at), c.Kind, c.Action, c.User
		r[6], r[7], r[8], r[9], r[10], r[11] = nullID(c.UserID), c.Group, c.DN, fields, c.Reason, c.Actor
		rows[i] = r
	}
	return s.d.Wrap(s.bulkInsert(ctx, "sync_changes", changeCols, rows), "record changes")
}

// Changes returns the changes q selects, oldest first.
func (s *Store) Changes(ctx context.Context, q ldapbridge.ChangeQuery) ([]*ldapbridge.Change, error) {
	var where []string
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if q.RunID != 0 {
		add("run_id = $%d", q.RunID)
	}
	if q.UserID != 0 {
		add("user_id = $%d", q.UserID)
	}
	if q.Kind != "" {
		add("kind = $%d", q.Kind)
	}
	if q.Action != "" {
		add("action = $%d", q.Action)
	}
	query := `SELECT id, coalesce(run_id, 0), source, at, kind, action, username, coalesce(user_id, 0), group_name, dn, fields, reason, actor FROM sync_changes`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	args = append(args, noLimit(q.Limit))
	query += fmt.Sprintf(" ORDER BY id LIMIT $%d", len(args))
	out := []*ldapbridge.Change{}
	var c ldapbridge.Change
	var fields []byte
	err := s.each(ctx, query, []any{&c.ID, &c.RunID, &c.Source, at(&c.At), &c.Kind, &c.Action, &c.User, &c.UserID, &c.Group, &c.DN, &fields, &c.Reason, &c.Actor},
		func(Rows) error {
			cc := c
			cc.Fields = []string{}
			if err := json.Unmarshal(fields, &cc.Fields); err != nil {
				return fmt.Errorf("change %d: fields column: %w", c.ID, err)
			}
			out = append(out, &cc)
			return nil
		}, args...)
	return out, s.d.Wrap(err, "list changes")
}

// SyncRun returns the run with id, or ErrNotFound.
func (s *Store) SyncRun(ctx context.Context, id int64) (*ldapbridge.SyncRun, error) {
	var r ldapbridge.SyncRun
	var counts []byte
	err := s.db.QueryRow(ctx, `SELECT id, started_at, finished_at, mode, server, outcome, error, counts, ldap_searches, instance, started_by
FROM sync_runs WHERE id = $1`, id).Scan(&r.ID, at(&r.StartedAt), atNull(&r.FinishedAt), &r.Mode, &r.Server, &r.Outcome, &r.Error, &counts, &r.LDAPSearches, &r.Instance, &r.StartedBy)
	if err != nil {
		return nil, s.d.Wrap(err, fmt.Sprintf("sync run %d (see sync history for the ids)", id))
	}
	r.Counts = map[string]int64{}
	if err := json.Unmarshal(counts, &r.Counts); err != nil {
		return nil, s.d.errorf("sync run %d: counts column: %w", r.ID, err)
	}
	return &r, nil
}

// PruneHistory deletes old runs with their changes and pending removals,
// and login and admin changes older than every run kept.
func (s *Store) PruneHistory(ctx context.Context, olderThan time.Time, keepRuns int) (int64, error) {
	var deleted int64
	err := s.inTx(ctx, func(tx *Store) error {
		if !olderThan.IsZero() {
			n, err := tx.db.Exec(ctx, `DELETE FROM sync_runs WHERE started_at < $1 AND finished_at IS NOT NULL`, s.d.Time(olderThan))
			if err != nil {
				return err
			}
			deleted += n
			if _, err := tx.db.Exec(ctx, `DELETE FROM sync_changes WHERE run_id IS NULL AND at < $1`, s.d.Time(olderThan)); err != nil {
				return err
			}
		}
		if keepRuns > 0 {
			n, err := tx.db.Exec(ctx, `DELETE FROM sync_runs WHERE finished_at IS NOT NULL AND id NOT IN
(SELECT id FROM sync_runs ORDER BY started_at DESC, id DESC LIMIT $1)`, int64(keepRuns))
			if err != nil {
				return err
			}
			deleted += n
			if _, err := tx.db.Exec(ctx, `DELETE FROM sync_changes WHERE run_id IS NULL AND at < (SELECT min(started_at) FROM sync_runs)`); err != nil {
				return err
			}
		}
		return nil
	})
	return deleted, s.d.Wrap(err, "prune sync history")
}

// RecordPending stores the pending removals of run runID.
func (s *Store) RecordPending(ctx context.Context, runID int64, atT, expires time.Time, rs []ldapbridge.PendingRemoval) error {
	err := s.inTx(ctx, func(tx *Store) error {
		if _, err := tx.db.Exec(ctx, `INSERT INTO sync_pending_runs (run_id, created_at, expires_at) VALUES ($1, $2, $3)`,
			runID, s.d.Time(atT), s.d.Time(expires)); err != nil {
			return err
		}
		rows := make([][]any, len(rs))
		for i, r := range rs {
			rows[i] = []any{runID, r.UserID, r.User, r.DN, r.Action, r.Verdict, r.Reason}
		}
		return tx.insertRows(ctx, "sync_pending", "run_id, user_id, username, dn, action, verdict, reason", 7, rows)
	})
	return s.d.Wrap(err, fmt.Sprintf("record the pending removals of run %d", runID))
}

const pendingRunCols = `p.run_id, p.created_at, p.expires_at, p.state, p.decided_by, p.decided_at, p.outcome,
	(SELECT count(*) FROM sync_pending r WHERE r.run_id = p.run_id)`

func scanPendingRun(row Row, now time.Time) (*ldapbridge.PendingRun, error) {
	var p ldapbridge.PendingRun
	if err := row.Scan(&p.RunID, at(&p.CreatedAt), at(&p.ExpiresAt), &p.State, &p.DecidedBy, atNull(&p.DecidedAt), &p.Outcome, &p.Count); err != nil {
		return nil, err
	}
	if p.State == ldapbridge.PendingWaiting && !now.Before(p.ExpiresAt) {
		p.State = ldapbridge.PendingExpired
	}
	return &p, nil
}

// PendingRuns returns the runs with pending removals, most recent first.
func (s *Store) PendingRuns(ctx context.Context, now time.Time, all bool) ([]*ldapbridge.PendingRun, error) {
	q := `SELECT ` + pendingRunCols + ` FROM sync_pending_runs p`
	args := []any{}
	if !all {
		q += ` WHERE p.state = 'pending' AND p.expires_at > $1`
		args = append(args, s.d.Time(now))
	}
	out := []*ldapbridge.PendingRun{}
	err := s.each(ctx, q+` ORDER BY p.run_id DESC`, nil, func(r Rows) error {
		p, err := scanPendingRun(r, now)
		if err == nil {
			out = append(out, p)
		}
		return err
	}, args...)
	return out, s.d.Wrap(err, "list pending removals")
}

// PendingRemovals returns run runID's pending state and its removals.
func (s *Store) PendingRemovals(ctx context.Context, runID int64, now time.Time) (*ldapbridge.PendingRun, []ldapbridge.PendingRemoval, error) {
	p, err := scanPendingRun(s.db.QueryRow(ctx, `SELECT `+pendingRunCols+` FROM sync_pending_runs p WHERE p.run_id = $1`, runID), now)
	if err != nil {
		return nil, nil, s.d.Wrap(err, fmt.Sprintf("pending removals of run %d (see sync pending)", runID))
	}
	out := []ldapbridge.PendingRemoval{}
	var r ldapbridge.PendingRemoval
	err = s.each(ctx, `SELECT run_id, user_id, username, dn, action, verdict, reason FROM sync_pending WHERE run_id = $1 ORDER BY username`,
		[]any{&r.RunID, &r.UserID, &r.User, &r.DN, &r.Action, &r.Verdict, &r.Reason}, func(Rows) error {
			out = append(out, r)
			return nil
		}, runID)
	return p, out, s.d.Wrap(err, fmt.Sprintf("pending removals of run %d", runID))
}

// DecidePending moves a waiting run's removals to state.
func (s *Store) DecidePending(ctx context.Context, runID int64, state, by, outcome string, atT time.Time) error {
	n, err := s.db.Exec(ctx, `UPDATE sync_pending_runs SET state = $1, decided_by = $2, decided_at = $3, outcome = $4
WHERE run_id = $5 AND state = 'pending'`, state, by, s.d.Time(atT), outcome, runID)
	if err != nil || n > 0 {
		return s.d.Wrap(err, fmt.Sprintf("decide the pending removals of run %d", runID))
	}
	var cur string
	err = s.db.QueryRow(ctx, `SELECT state FROM sync_pending_runs WHERE run_id = $1`, runID).Scan(&cur)
	if err != nil {
		return s.d.Wrap(err, fmt.Sprintf("pending removals of run %d (see sync pending)", runID))
	}
	return s.d.Conflict(fmt.Sprintf("decide the pending removals of run %d", runID), "they are already "+cur)
}

// EnqueueEvents stores es in the outbox as pending.
func (s *Store) EnqueueEvents(ctx context.Context, es []*ldapbridge.OutboxEvent) error {
	now := Now()
	rows := make([][]any, len(es))
	for i, e := range es {
		next := e.NextAttempt
		if next.IsZero() {
			next = now
		}
		rows[i] = []any{e.DeliveryID, e.Target, e.Type, string(e.Body), ldapbridge.EventPending, s.d.Time(next), s.d.Time(now), s.d.Time(now)}
	}
	err := s.insertRows(ctx, "event_outbox", "delivery_id, target, type, body, status, next_attempt_at, created_at, updated_at", 8, rows)
	return s.d.Wrap(err, "enqueue webhook events")
}

const eventCols = `id, delivery_id, target, type, body, status, attempts, next_attempt_at, last_error, created_at`

func (s *Store) events(ctx context.Context, q string, args ...any) ([]*ldapbridge.OutboxEvent, error) {
	out := []*ldapbridge.OutboxEvent{}
	var e ldapbridge.OutboxEvent
	var body string
	err := s.each(ctx, q, []any{&e.ID, &e.DeliveryID, &e.Target, &e.Type, &body, &e.Status, &e.Attempts, at(&e.NextAttempt), &e.LastError, at(&e.CreatedAt)},
		func(Rows) error {
			ee := e
			ee.Body = []byte(body)
			out = append(out, &ee)
			return nil
		}, args...)
	return out, err
}

// DeliverDue hands due pending events to deliver and stores the results.
// Where the dialect locks rows (PostgreSQL: FOR UPDATE SKIP LOCKED), the
// events stay locked in one transaction while they are delivered, so each
// goes to one instance and a crash mid-delivery leaves it pending; SQLite
// has one process per file and delivers outside a transaction, so the
// single writer is not held during the HTTP requests.
func (s *Store) DeliverDue(ctx context.Context, now time.Time, limit int, deliver func(*ldapbridge.OutboxEvent) ldapbridge.DeliveryResult) (int, error) {
	var n int
	run := func(tx *Store) error {
		es, err := tx.events(ctx, `SELECT `+eventCols+` FROM event_outbox WHERE status = 'pending' AND next_attempt_at <= $1
ORDER BY next_attempt_at, id LIMIT $2`+s.d.LockRows, s.d.Time(now), int64(limit))
		if err != nil {
			return err
		}
		for _, e := range es {
			res := deliver(e)
			next := res.Next
			if next.IsZero() {
				next = now
			}
			if _, err := tx.db.Exec(ctx, `UPDATE event_outbox SET status = $1, attempts = attempts + 1, next_attempt_at = $2, last_error = $3, updated_at = $4 WHERE id = $5`,
				res.Status, s.d.Time(next), res.Error, s.d.Time(Now()), e.ID); err != nil {
				return err
			}
			n++
		}
		return nil
	}
	var err error
	if s.d.LockRows != "" {
		err = s.inTx(ctx, run)
	} else {
		err = run(s)
	}
	return n, s.d.Wrap(err, "deliver webhook events")
}

// RetryFailedEvents makes every failed event pending again.
func (s *Store) RetryFailedEvents(ctx context.Context, now time.Time) (int64, error) {
	n, err := s.db.Exec(ctx, `UPDATE event_outbox SET status = 'pending', attempts = 0, next_attempt_at = $1, updated_at = $1 WHERE status = 'failed'`, s.d.Time(now))
	return n, s.d.Wrap(err, "retry failed webhook events")
}

// OutboxCounts returns the number of outbox events per status.
func (s *Store) OutboxCounts(ctx context.Context) (map[string]int64, error) {
	out := map[string]int64{ldapbridge.EventPending: 0, ldapbridge.EventDelivered: 0, ldapbridge.EventFailed: 0}
	var st string
	var n int64
	err := s.each(ctx, `SELECT status, count(*) FROM event_outbox GROUP BY status`, []any{&st, &n}, func(Rows) error {
		out[st] = n
		return nil
	})
	return out, s.d.Wrap(err, "count webhook events")
}

// OutboxEvents returns events with status ("" = all), newest first.
func (s *Store) OutboxEvents(ctx context.Context, status string, limit int) ([]*ldapbridge.OutboxEvent, error) {
	q := `SELECT ` + eventCols + ` FROM event_outbox`
	args := []any{}
	if status != "" {
		q += ` WHERE status = $1`
		args = append(args, status)
	}
	args = append(args, noLimit(limit))
	es, err := s.events(ctx, q+fmt.Sprintf(` ORDER BY id DESC LIMIT $%d`, len(args)), args...)
	return es, s.d.Wrap(err, "list webhook events")
}

// The store's audit parts, checked at compile time.
var (
	_ ldapbridge.ChangeLog = (*Store)(nil)
	_ ldapbridge.Approvals = (*Store)(nil)
	_ ldapbridge.Outbox    = (*Store)(nil)
)
