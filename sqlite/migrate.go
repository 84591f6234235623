package sqlite

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
			return nil, fmt.Errorf("sqlite: migration file %s: name must be NNNN_description.sql", base)
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
			return nil, fmt.Errorf("sqlite: migration %s: expected version %d (versions must have no gaps or duplicates)", m.name, i+1)
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

const createMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL,
    applied_at INTEGER NOT NULL
) STRICT`

// Version returns the highest migration applied to the database, 0 for a
// database that was never migrated.
func (s *Store) Version(ctx context.Context) (int, error) {
	var n int
	err := s.queryRow(ctx, `SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'schema_migrations'`).Scan(&n)
	if err != nil {
		return 0, wrap(err, "read schema version")
	}
	if n == 0 {
		return 0, nil
	}
	var v int
	if err := s.queryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, wrap(err, "read schema version")
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
		return fmt.Errorf("sqlite: database %s has schema version %d but this ldapbridge knows only up to %d — run a newer ldapbridge against it (downgrades are not supported)", s.name, v, latest)
	}
	return nil
}

// Migrate applies, in order, each embedded migration the database lacks;
// each step and its schema_migrations row commit together. Running it
// again is a no-op.
func (s *Store) Migrate(ctx context.Context) error {
	if s.tx != nil {
		return errors.New("sqlite: Migrate cannot run inside InTx; call it on the Store from Open")
	}
	ms, err := loadMigrations()
	if err != nil {
		return err
	}
	if _, err := s.w.ExecContext(ctx, createMigrationsTable); err != nil {
		return wrap(err, "create schema_migrations")
	}
	if err := s.checkVersion(ctx); err != nil {
		return err
	}
	for _, m := range ms {
		err := s.inTx(ctx, func(t *Store) error {
			// Read inside the transaction: another process may have
			// applied this step since the check above.
			var done int
			if err := t.tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, m.version).Scan(&done); err != nil {
				return err
			}
			if done > 0 {
				return nil
			}
			if _, err := t.tx.ExecContext(ctx, m.sql); err != nil {
				return err
			}
			_, err := t.tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
				m.version, m.name, toMS(now()))
			return err
		})
		if err != nil {
			return fmt.Errorf("sqlite: migration %s on %s: %w", m.name, s.name, err)
		}
	}
	return nil
}
