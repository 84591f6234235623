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
func LatestVersion() int { return migrations.Latest(loadMigrations) }

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
	return s.CheckVersion(ctx, LatestVersion(), s.addr)
}

// Migrate applies, in order, each embedded migration the database lacks;
// each step and its schema_migrations row commit together, under an advisory lock so
// that instances starting together apply each step once. Running it
// again is a no-op.
func (s *Store) Migrate(ctx context.Context) error {
	if s.tx != nil {
		return errors.New("postgres: Migrate cannot run inside InTx; call it on the Store from Open")
	}
	ms, err := loadMigrations()
	if err != nil {
		return err
	}
	return s.Apply(ctx, ms, s.addr, fmt.Sprintf("SELECT pg_advisory_xact_lock(%d)", migrateLockKey), createMigrationsTable)
}
