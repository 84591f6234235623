package postgres

import (
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/ldapbridge/ldapbridge/internal/pgtest"
	"github.com/ldapbridge/ldapbridge/storetest"
)

var _ scs.CtxStore = (*Sessions)(nil)

// sessionRows reads the sessions table back with raw SQL, every column as
// its text or bytes.
func sessionRows(s *Store) func(t *testing.T) []storetest.SessionRow {
	return func(t *testing.T) []storetest.SessionRow {
		rows, err := s.pool.Query(t.Context(), `SELECT * FROM sessions`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []storetest.SessionRow
		for rows.Next() {
			vals, err := rows.Values()
			if err != nil {
				t.Fatal(err)
			}
			row := storetest.SessionRow{}
			for _, v := range vals {
				switch v := v.(type) {
				case []byte:
					row = append(row, v)
				case string:
					row = append(row, []byte(v))
				}
			}
			out = append(out, row)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return out
	}
}

func TestSessionsStoreKeepsOnlyTokenHashes(t *testing.T) {
	s := migrated(t)
	storetest.Sessions(t, s.Sessions(), sessionRows(s))
}

func TestSessionsAreSharedAcrossInstances(t *testing.T) {
	ctx := t.Context()
	dsn := pgtest.New(t)
	a := openTest(t, dsn)
	if err := a.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	sa, sb := a.Sessions(), openTest(t, dsn).Sessions()
	if err := sa.CommitCtx(ctx, "live", []byte("a"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if b, ok, err := sb.FindCtx(ctx, "live"); err != nil || !ok || string(b) != "a" {
		t.Errorf("live session seen by another instance: %q %v %v", b, ok, err)
	}
	if err := sb.CommitCtx(ctx, "live", []byte("c"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if b, _, _ := sa.FindCtx(ctx, "live"); string(b) != "c" {
		t.Errorf("commit by another instance did not replace the data: %q", b)
	}
	if err := sb.DeleteCtx(ctx, "live"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := sa.FindCtx(ctx, "live"); ok {
		t.Error("session deleted by another instance still found")
	}
}

func TestMigrateDropsPlainSessions(t *testing.T) {
	ctx := t.Context()
	s := openTest(t, pgtest.New(t))
	ms, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	// The schema before sessions were hashed: migrations 1 to 3.
	if _, err := s.pool.Exec(ctx, createMigrationsTable); err != nil {
		t.Fatal(err)
	}
	for _, m := range ms[:3] {
		if _, err := s.pool.Exec(ctx, m.SQL); err != nil {
			t.Fatalf("%s: %v", m.Name, err)
		}
		if _, err := s.pool.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, now())`, m.Version, m.Name); err != nil {
			t.Fatal(err)
		}
	}
	const plain = "plain-token-of-an-old-session"
	if _, err := s.pool.Exec(ctx, `INSERT INTO sessions (token, data, expiry) VALUES ($1, '\x00', now() + interval '1 hour')`, plain); err != nil {
		t.Fatalf("old-schema session: %v", err)
	}
	// The old schema's columns only: CreateUser writes columns later
	// migrations add.
	if _, err := s.pool.Exec(ctx, `INSERT INTO users (username, source, created_at, updated_at) VALUES ('kept', 'local', now(), now())`); err != nil {
		t.Fatal(err)
	}

	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate from version 3: %v", err)
	}
	if v, err := s.Version(ctx); err != nil || v != LatestVersion() {
		t.Fatalf("Version %d, %v; want %d", v, err, LatestVersion())
	}
	storetest.PlainSessionsDropped(t, s, s.Sessions(), sessionRows(s), plain)
}
