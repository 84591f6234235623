package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"

	"github.com/ldapbridge/ldapbridge/internal/migrations"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// loadMigrations reads the embedded steps, numbered 1, 2, 3, … without gaps.
func loadMigrations() ([]migrations.Migration, error) {
	return migrations.Load(migrationFS, "migrations/*.sql", "postgres")
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

// checkVersion refuses a database migrated by a newer ldapbridge.
func (s *Store) checkVersion(ctx context.Context) error {
	return s.CheckVersion(ctx, LatestVersion(), "at "+s.addr)
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
			if _, err := t.q.Exec(ctx, m.SQL); err != nil {
				return fmt.Errorf("postgres: migration %s on %s: %w", m.Name, s.addr, err)
			}
			if _, err := t.q.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
				m.Version, m.Name, now()); err != nil {
				return wrap(err, "record migration "+m.Name)
			}
		}
		return nil
	})
}
