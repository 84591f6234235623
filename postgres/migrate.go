package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// migration is one embedded schema step, NNNN_name.sql.
type migration struct {
	version int
	name    string
	sql     string
}

// loadMigrations reads the embedded steps, which must be numbered 1, 2, 3, …
// without gaps.
func loadMigrations() ([]migration, error) {
	files, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, f := range files {
		base := path.Base(f)
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("postgres: migration file %s: name must be NNNN_description.sql", base)
		}
		body, err := migrationFS.ReadFile(f)
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: strings.TrimSuffix(base, ".sql"), sql: string(body)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("postgres: migration %s: expected version %d (versions must have no gaps or duplicates)", m.name, i+1)
		}
	}
	return ms, nil
}

// LatestVersion is the schema version this binary's migrations lead to.
func LatestVersion() int {
	ms, err := loadMigrations()
	if err != nil {
		panic(err) // the embedded files are fixed at build time; tests catch this
	}
	return len(ms)
}

// migrateLockKey is the pg_advisory_xact_lock key that serializes
// migrations of one database across instances ("ldapbrid" in ASCII).
const migrateLockKey int64 = 0x6c64617062726964

const createMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer     PRIMARY KEY,
    name       text        NOT NULL,
    applied_at timestamptz NOT NULL
)`

// Version returns the highest migration applied to the database, 0 for a
// database that was never migrated.
func (s *Store) Version(ctx context.Context) (int, error) {
	var exists bool
	if err := s.q.QueryRow(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&exists); err != nil {
		return 0, wrap(err, "read schema version on "+s.addr)
	}
	if !exists {
		return 0, nil
	}
	var v int
	if err := s.q.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, wrap(err, "read schema version on "+s.addr)
	}
	return v, nil
}

// checkVersion refuses a database migrated by a newer ldapbridge.
func (s *Store) checkVersion(ctx context.Context) error {
	v, err := s.Version(ctx)
	if err != nil {
		return err
	}
	if latest := LatestVersion(); v > latest {
		return fmt.Errorf("postgres: database at %s has schema version %d but this ldapbridge knows only up to %d — run a newer ldapbridge against it (downgrades are not supported)", s.addr, v, latest)
	}
	return nil
}

// Migrate applies, in order, each embedded migration the database lacks, in
// one transaction that holds an advisory lock, so instances starting at the
// same time migrate once and the others wait for them. Running it again is
// a no-op.
func (s *Store) Migrate(ctx context.Context) error {
	if s.tx != nil {
		return errors.New("postgres: Migrate cannot run inside InTx; call it on the Store from Open")
	}
	ms, err := loadMigrations()
	if err != nil {
		return err
	}
	return s.inTx(ctx, func(t *Store) error {
		if _, err := t.q.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrateLockKey); err != nil {
			return wrap(err, "take the migration lock on "+s.addr)
		}
		if _, err := t.q.Exec(ctx, createMigrationsTable); err != nil {
			return wrap(err, "create schema_migrations")
		}
		if err := t.checkVersion(ctx); err != nil {
			return err
		}
		cur, err := t.Version(ctx)
		if err != nil {
			return err
		}
		for _, m := range ms[cur:] {
			if _, err := t.q.Exec(ctx, m.sql); err != nil {
				return fmt.Errorf("postgres: migration %s on %s: %w", m.name, s.addr, err)
			}
			if _, err := t.q.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
				m.version, m.name, now()); err != nil {
				return wrap(err, "record migration "+m.name)
			}
		}
		return nil
	})
}
