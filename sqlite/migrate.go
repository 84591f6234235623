package sqlite

import (
	"context"
	"embed"
	"errors"

	"github.com/ldapbridge/ldapbridge/internal/migrations"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// loadMigrations reads the embedded steps, numbered 1, 2, 3, … without gaps.
func loadMigrations() ([]migrations.Migration, error) {
	return migrations.Load(migrationFS, "migrations/*.sql", "sqlite")
}

// LatestVersion is the schema version this binary's migrations lead to.
func LatestVersion() int { return migrations.Latest(loadMigrations) }

const createMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL,
    applied_at INTEGER NOT NULL
) STRICT`

// checkVersion refuses a database migrated by a newer ldapbridge.
func (s *Store) checkVersion(ctx context.Context) error {
	return s.CheckVersion(ctx, LatestVersion(), s.name)
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
	return s.Apply(ctx, ms, s.name, createMigrationsTable)
}
