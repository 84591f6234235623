// Package sqlcore is the one SQL implementation of ldapbridge.Store that the
// sqlite and postgres drivers share: users, groups, memberships, sync state
// and web sessions, written once in PostgreSQL-style SQL ($1 placeholders)
// against a small Dialect for what the databases really do differently.
// It must not import the drivers, web, auth or dirsync.
package sqlcore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/internal/migrations"
)

// DB is what a driver gives the core: its pool, or one transaction.
type DB interface {
	// Exec runs a write and returns how many rows it changed.
	Exec(ctx context.Context, q string, args ...any) (int64, error)
	Query(ctx context.Context, q string, args ...any) (Rows, error)
	QueryRow(ctx context.Context, q string, args ...any) Row
	// Insert runs an INSERT of one row and returns the row's id, or
	// sql.ErrNoRows when ON CONFLICT DO NOTHING skipped it.
	Insert(ctx context.Context, q string, args ...any) (int64, error)
	// InTx runs fn on a DB bound to one transaction, committed when fn
	// returns nil; a DB that is a transaction passes itself.
	InTx(ctx context.Context, fn func(DB) error) error
}

// Rows is a result set; Close may be called twice.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// Row is a single-row result; Scan reports sql.ErrNoRows (or an error
// that is one) when there is none.
type Row interface{ Scan(dest ...any) error }

// Dialect is what differs between the databases.
type Dialect struct {
	Name string // prefixes every error: "sqlite", "postgres"
	// Time encodes a time parameter at millisecond precision, UTC.
	Time func(time.Time) any
	// Expiry encodes a session expiry (scs's layout for the database).
	Expiry func(time.Time) any
	// Kind classifies a driver error as ldapbridge.ErrConflict (unique
	// violation), ErrNotFound (foreign key) or nil.
	Kind func(error) error
	// IDs encodes an []int64 parameter; Unnest(p1[, p2]) is a FROM item
	// named e whose columns a (and b) run over those lists in step.
	IDs    func([]int64) any
	Unnest func(params ...string) string
	// Pairs, when set, encodes two id lists of one length as a single
	// parameter and UnnestPairs(p) is the FROM item e (columns a and b)
	// over it; the edge writes then use them instead of Unnest(p1, p2).
	// SQLite needs it: it can read its JSON lists in step only by
	// position, which walks the list from its start each time.
	Pairs       func(a, b []int64) any
	UnnestPairs func(param string) string
	// BindLimit, when not 0, is the most parameters a multi-row statement
	// should carry: modernc's SQLite looks each parameter up from the
	// first when binding, so a statement's binding costs the square of
	// its parameter count (500 rows of 10 made a sync's change log 70% of
	// its time).
	BindLimit int
	// AnonParams, when not 0, makes a bulk insert a multi-row INSERT of
	// anonymous parameters (?), at most AnonParams of them a statement:
	// SQLite looks a numbered parameter's name up in a list of all of
	// them when binding it, so numbered parameters cost the square of
	// their count, anonymous ones do not.
	AnonParams int
	// HasMigrations is a query whose one bool column says whether the
	// schema_migrations table exists.
	HasMigrations string
	// LockRows ends a SELECT whose rows one instance claims while it works
	// on them (" FOR UPDATE SKIP LOCKED"); "" where one process owns the
	// database (SQLite).
	LockRows string
}

// Store implements ldapbridge.Store's data methods on a DB; the drivers
// embed it and add Open, Close, InTx and Migrate.
type Store struct {
	db DB
	d  *Dialect
}

// New returns the core store of db.
func New(db DB, d *Dialect) *Store { return &Store{db: db, d: d} }

// inTx runs fn with a Store bound to one transaction.
func (s *Store) inTx(ctx context.Context, fn func(tx *Store) error) error {
	return s.db.InTx(ctx, func(db DB) error { return fn(&Store{db: db, d: s.d}) })
}

// Wrap turns a driver error into one that names what failed and carries
// the matching ldapbridge kind.
func (d *Dialect) Wrap(err error, what string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return d.NotFound(what)
	}
	switch d.Kind(err) {
	case ldapbridge.ErrConflict:
		return fmt.Errorf("%s: %s: %w (%v)", d.Name, what, ldapbridge.ErrConflict, err)
	case ldapbridge.ErrNotFound:
		return fmt.Errorf("%s: %s: %w: a referenced user or group does not exist", d.Name, what, ldapbridge.ErrNotFound)
	}
	return fmt.Errorf("%s: %s: %w", d.Name, what, err)
}

// NotFound is the ErrNotFound error for a missing thing.
func (d *Dialect) NotFound(what string) error {
	return fmt.Errorf("%s: %s: %w", d.Name, what, ldapbridge.ErrNotFound)
}

// Conflict is the ErrConflict error for a taken name or identity.
func (d *Dialect) Conflict(what, detail string) error {
	return fmt.Errorf("%s: %s: %w: %s", d.Name, what, ldapbridge.ErrConflict, detail)
}

func (d *Dialect) errorf(format string, args ...any) error {
	return fmt.Errorf(d.Name+": "+format, args...)
}

// mustAffect turns "no row changed" into ErrNotFound.
func (d *Dialect) mustAffect(n int64, err error, what string) error {
	if err == nil && n == 0 {
		return d.NotFound(what)
	}
	return d.Wrap(err, what)
}

// Now is the current time at the precision the stores keep.
func Now() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }

// nullTime encodes an optional time parameter.
func (d *Dialect) nullTime(t *time.Time) any {
	if t == nil {
		return nil
	}
	return d.Time(*t)
}

// timeCol scans a time column kept either as unix milliseconds or as a
// timestamp, into t or, when nullable, into *p.
type timeCol struct {
	t *time.Time
	p **time.Time
}

func at(t *time.Time) *timeCol      { return &timeCol{t: t} }
func atNull(p **time.Time) *timeCol { return &timeCol{p: p} }
func (c *timeCol) Scan(v any) error {
	var t time.Time
	switch v := v.(type) {
	case nil:
		if c.p == nil {
			return errors.New("time column is NULL")
		}
		*c.p = nil
		return nil
	case int64:
		t = time.UnixMilli(v).UTC()
	case time.Time:
		t = v.UTC()
	default:
		return fmt.Errorf("time column holds a %T", v)
	}
	if c.p != nil {
		*c.p = &t
	} else {
		*c.t = t
	}
	return nil
}

// Version returns the highest migration applied to the database, 0 for a
// database that was never migrated.
func (s *Store) Version(ctx context.Context) (int, error) {
	var exists bool
	if err := s.db.QueryRow(ctx, s.d.HasMigrations).Scan(&exists); err != nil || !exists {
		return 0, s.d.Wrap(err, "read schema version")
	}
	var v int
	err := s.db.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&v)
	return v, s.d.Wrap(err, "read schema version")
}

// CheckVersion refuses a database (named by where) migrated by a newer
// ldapbridge than the one whose migrations lead to latest.
func (s *Store) CheckVersion(ctx context.Context, latest int, where string) error {
	v, err := s.Version(ctx)
	if err == nil && v > latest {
		err = s.d.errorf("database %s has schema version %d but this ldapbridge knows only up to %d — run a newer ldapbridge against it (downgrades are not supported)", where, v, latest)
	}
	return err
}

// Apply applies, in order, each of ms the database lacks, each step with
// its schema_migrations row in a transaction that first runs the driver's
// setup statements (a lock that serializes migrating instances, creating
// schema_migrations), so instances starting together apply each step once.
// Running it again is a no-op. ms must be parameter-free scripts.
func (s *Store) Apply(ctx context.Context, ms []migrations.Migration, where string, setup ...string) error {
	// An up-to-date database is left alone, without waiting for the write
	// lock that a running sync may hold.
	if v, err := s.Version(ctx); err == nil && v == len(ms) {
		return nil
	}
	for _, m := range ms {
		err := s.inTx(ctx, func(tx *Store) error {
			for _, q := range setup {
				if _, err := tx.db.Exec(ctx, q); err != nil {
					return err
				}
			}
			var done bool
			err := tx.CheckVersion(ctx, len(ms), where)
			if err == nil {
				err = tx.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)`, m.Version).Scan(&done)
			}
			if err != nil || done {
				return err
			}
			if _, err := tx.db.Exec(ctx, m.SQL); err != nil {
				return err
			}
			_, err = tx.db.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
				m.Version, m.Name, s.d.Time(Now()))
			return err
		})
		if err != nil {
			return s.d.errorf("migration %s on %s: %w", m.Name, where, err)
		}
	}
	return nil
}
