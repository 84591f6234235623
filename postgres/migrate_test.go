package postgres

import (
	"strings"
	"sync"
	"testing"

	"github.com/ldapbridge/ldapbridge/internal/pgtest"
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
	s := openTest(t, pgtest.New(t))
	if v, err := s.Version(ctx); err != nil || v != 0 {
		t.Fatalf("fresh Version: %d, %v; want 0", v, err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if v, err := s.Version(ctx); err != nil || v != LatestVersion() {
		t.Fatalf("Version after Migrate: %d, %v; want %d", v, err, LatestVersion())
	}
	for _, table := range []string{"users", "photos", "groups", "user_groups", "group_groups", "sessions",
		"rate_limits", "sync_runs", "sync_cursors", "schema_migrations"} {
		var ok bool
		if err := s.pool.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, table).Scan(&ok); err != nil || !ok {
			t.Errorf("table %s: exists %v, %v", table, ok, err)
		}
	}
	var coll string
	if err := s.pool.QueryRow(ctx, `SELECT collation_name FROM information_schema.columns
		WHERE table_name = 'users' AND column_name = 'username'`).Scan(&coll); err != nil || coll != "C" {
		t.Errorf("users.username collation %q, %v; want C (byte order)", coll, err)
	}
}

func TestConcurrentMigrateRunsEachStepOnce(t *testing.T) {
	dsn := pgtest.New(t)
	const instances = 4
	stores := make([]*Store, instances)
	for i := range stores {
		stores[i] = openTest(t, dsn)
	}
	var wg sync.WaitGroup
	errs := make([]error, instances)
	for i, s := range stores {
		wg.Go(func() { errs[i] = s.Migrate(t.Context()) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("instance %d: Migrate: %v", i, err)
		}
	}
	var rows, distinct int
	err := stores[0].pool.QueryRow(t.Context(), `SELECT count(*), count(DISTINCT version) FROM schema_migrations`).Scan(&rows, &distinct)
	if err != nil || rows != LatestVersion() || distinct != rows {
		t.Errorf("schema_migrations: %d rows, %d versions, %v; want %d of each", rows, distinct, err, LatestVersion())
	}
	if err := stores[1].Migrate(t.Context()); err != nil {
		t.Errorf("Migrate again: %v", err)
	}
}

func TestNewerDatabaseIsRefused(t *testing.T) {
	ctx := t.Context()
	dsn := pgtest.New(t)
	s := openTest(t, dsn)
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	newer := LatestVersion() + 1
	if _, err := s.pool.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, 'future', now())`, newer); err != nil {
		t.Fatal(err)
	}
	err := s.Migrate(ctx)
	if err == nil || !strings.Contains(err.Error(), "newer ldapbridge") {
		t.Errorf("Migrate on a newer database: %v, want a refusal", err)
	}
	again, err := Open(ctx, dsn)
	if err == nil {
		again.Close()
		t.Fatalf("Open of a database at version %d succeeded", newer)
	}
	if !strings.Contains(err.Error(), "schema version") || !strings.Contains(err.Error(), pgtest.Addr(t)) {
		t.Errorf("Open error %q does not name the server and the version", err)
	}
}
