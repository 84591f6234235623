package sqlite

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestMigrationsAreNumberedWithoutGaps(t *testing.T) {
	ms, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) == 0 || LatestVersion() != len(ms) {
		t.Fatalf("%d migrations, LatestVersion %d", len(ms), LatestVersion())
	}
}

func TestMigrateFreshDatabaseCreatesTheSchema(t *testing.T) {
	ctx := t.Context()
	s := openTest(t, filepath.Join(t.TempDir(), "fresh.db"))
	if v, err := s.Version(ctx); err != nil || v != 0 {
		t.Fatalf("fresh Version: %d, %v; want 0", v, err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if v, err := s.Version(ctx); err != nil || v != LatestVersion() {
		t.Fatalf("Version after Migrate: %d, %v; want %d", v, err, LatestVersion())
	}
	for _, table := range []string{"users", "photos", "groups", "user_groups", "group_groups", "sessions", "sync_runs", "schema_migrations"} {
		var n int
		if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?`, table).Scan(&n); err != nil || n != 1 {
			t.Errorf("table %s: count %d, %v", table, n, err)
		}
	}
	var fk int
	if err := s.w.QueryRowContext(ctx, `PRAGMA foreign_keys`).Scan(&fk); err != nil || fk != 1 {
		t.Errorf("foreign_keys on the write connection: %d, %v", fk, err)
	}
}

func TestMigrateTwiceIsANoOp(t *testing.T) {
	ctx := t.Context()
	s := openTest(t, filepath.Join(t.TempDir(), "twice.db"))
	for i := range 2 {
		if err := s.Migrate(ctx); err != nil {
			t.Fatalf("Migrate run %d: %v", i+1, err)
		}
	}
	var rows int
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&rows); err != nil || rows != LatestVersion() {
		t.Errorf("schema_migrations rows: %d, %v; want %d", rows, err, LatestVersion())
	}
}

func TestNewerDatabaseIsRefused(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "newer.db")
	s := openTest(t, path)
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	newer := LatestVersion() + 1
	if _, err := s.w.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, 'future', 0)`, newer); err != nil {
		t.Fatal(err)
	}
	err := s.Migrate(ctx)
	if err == nil || !strings.Contains(err.Error(), "newer ldapbridge") {
		t.Errorf("Migrate on a newer database: %v, want a refusal", err)
	}
	s.Close()
	again, err := Open(ctx, path)
	if err == nil {
		again.Close()
		t.Fatalf("Open of a database at version %d succeeded", newer)
	}
	if !strings.Contains(err.Error(), "schema version") || !strings.Contains(err.Error(), path) {
		t.Errorf("Open error %q does not name the file and the version", err)
	}
}
