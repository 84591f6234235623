package sqlite

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/ldapbridge/ldapbridge/storetest"
)

var _ scs.CtxStore = (*Sessions)(nil)

// sessionRows reads the sessions table back with raw SQL, every column.
func sessionRows(s *Store) func(t *testing.T) []storetest.SessionRow {
	return func(t *testing.T) []storetest.SessionRow {
		rows, err := s.r.QueryContext(t.Context(), `SELECT * FROM sessions`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		cols, _ := rows.Columns()
		var out []storetest.SessionRow
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
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
	for _, dsn := range []string{"file", ":memory:"} {
		t.Run(dsn, func(t *testing.T) {
			if dsn == "file" {
				dsn = filepath.Join(t.TempDir(), "s.db")
			}
			st := openTest(t, dsn)
			if err := st.Migrate(t.Context()); err != nil {
				t.Fatal(err)
			}
			storetest.Sessions(t, st.Sessions(), sessionRows(st))
		})
	}
}

func TestMigrateDropsPlainSessions(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "old.db")
	s := openTest(t, path)
	ms, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	// The schema before sessions were hashed: migrations 1 and 2.
	if _, err := s.w.ExecContext(ctx, createMigrationsTable); err != nil {
		t.Fatal(err)
	}
	for _, m := range ms[:2] {
		if _, err := s.w.ExecContext(ctx, m.SQL); err != nil {
			t.Fatalf("%s: %v", m.Name, err)
		}
		if _, err := s.w.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, 0)`, m.Version, m.Name); err != nil {
			t.Fatal(err)
		}
	}
	const plain = "plain-token-of-an-old-session"
	if _, err := s.w.ExecContext(ctx, `INSERT INTO sessions (token, data, expiry) VALUES (?, x'00', ?)`,
		plain, unixSeconds(time.Now().Add(time.Hour))); err != nil {
		t.Fatalf("old-schema session: %v", err)
	}
	// The old schema's columns only: CreateUser writes columns later
	// migrations add.
	if _, err := s.w.ExecContext(ctx, `INSERT INTO users (username, source, created_at, updated_at) VALUES ('kept', 'local', 0, 0)`); err != nil {
		t.Fatal(err)
	}

	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate from version 2: %v", err)
	}
	if v, err := s.Version(ctx); err != nil || v != LatestVersion() {
		t.Fatalf("Version %d, %v; want %d", v, err, LatestVersion())
	}
	storetest.PlainSessionsDropped(t, s, s.Sessions(), sessionRows(s), plain)
}
