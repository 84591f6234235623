package sqlite

import (
	"context"
	"embed"
	"errors"
	"fmt"

	"github.com/ldapbridge/ldapbridge/internal/migrations"
	"github.com/ldapbridge/ldapbridge/internal/sqlcore"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// loadMigrations reads the embedded steps, numbered 1, 2, 3, … without gaps.
func loadMigrations() ([]migrations.Migration, error) {
	return migrations.Load(migrationFS, "migrations/*.sql", "sqlite")
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
	// An up-to-date database is left alone, without waiting for the write
	// lock that a running sync may hold.
	if v, err := s.Version(ctx); err == nil && v == len(ms) {
		return nil
	}
	if _, err := s.w.ExecContext(ctx, createMigrationsTable); err != nil {
		return dialect.Wrap(err, "create schema_migrations")
	}
	if err := s.checkVersion(ctx); err != nil {
		return err
	}
	for _, m := range ms {
		err := s.inTx(ctx, func(t *Store) error {
			// Read inside the transaction: another process may have
			// applied this step since the check above.
			var done int
			if err := t.tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, m.Version).Scan(&done); err != nil {
				return err
			}
			if done > 0 {
				return nil
			}
			if _, err := t.tx.ExecContext(ctx, m.SQL); err != nil {
				return err
			}
			_, err := t.tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
				m.Version, m.Name, sqlcore.Now().UnixMilli())
			return err
		})
		if err != nil {
			return fmt.Errorf("sqlite: migration %s on %s: %w", m.Name, s.name, err)
		}
	}
	return nil
}
