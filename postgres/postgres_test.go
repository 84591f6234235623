package postgres

import (
	"errors"
	"strings"
	"testing"

	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/internal/pgtest"
	"github.com/ldapbridge/ldapbridge/storetest"
)

// openTest opens a Store on dsn, closed by t.Cleanup.
func openTest(t testing.TB, dsn string) *Store {
	t.Helper()
	s, err := Open(t.Context(), dsn)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// migrated opens a Store on a fresh database and migrates it.
func migrated(t testing.TB) *Store {
	t.Helper()
	s := openTest(t, pgtest.New(t))
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return s
}

func TestStoreContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) ldapbridge.Store { return openTest(t, pgtest.New(t)) })
}

func TestOpenRejectsAnEmptyDSN(t *testing.T) {
	_, err := Open(t.Context(), " ")
	if err == nil || !strings.Contains(err.Error(), "store.dsn") {
		t.Errorf("Open(\" \"): %v, want an error naming store.dsn", err)
	}
}

func TestOpenErrorsNameTheServerAndTheFixWithoutThePassword(t *testing.T) {
	const secret = "s3cr3t-pw"
	addr := pgtest.Addr(t)
	cases := []struct {
		name, dsn string
		want      []string
	}{
		{"nothing listening", "postgres://u:" + secret + "@127.0.0.1:1/db?connect_timeout=5",
			[]string{"connect to postgres at", "127.0.0.1:1", "is PostgreSQL running?"}},
		{"missing database", "postgres://postgres:" + secret + "@" + addr + "/ldapbridge_no_such_db?sslmode=disable",
			[]string{addr, "ldapbridge_no_such_db", "create the database"}},
		{"unparsable", "postgres://u:" + secret + "@127.0.0.1:notaport/db", []string{"cannot parse the dsn"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Open(t.Context(), tc.dsn)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error %q reveals the password", err)
			}
		})
	}
}

func TestPoolRecoversAfterItsConnectionsAreKilled(t *testing.T) {
	dsn := pgtest.New(t)
	s := openTest(t, dsn)
	ctx := t.Context()
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateUser(ctx, &ldapbridge.User{Username: "before", Source: ldapbridge.SourceLocal}); err != nil {
		t.Fatal(err)
	}
	pgtest.Terminate(t, dsn)
	// The first call may see the dead connection; the pool then replaces it.
	var err error
	for range 3 {
		if _, err = s.User(ctx, "before"); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("store still failing after its connections were terminated: %v", err)
	}
	if err := s.CreateUser(ctx, &ldapbridge.User{Username: "after", Source: ldapbridge.SourceLocal}); err != nil {
		t.Errorf("write after recovery: %v", err)
	}
}

func TestConflictInsideInTxKeepsTheTransactionUsable(t *testing.T) {
	s := migrated(t)
	ctx := t.Context()
	taken := &ldapbridge.User{Username: "taken", Source: ldapbridge.SourceLocal}
	if err := s.CreateUser(ctx, taken); err != nil {
		t.Fatal(err)
	}
	a := &ldapbridge.Group{Name: "a"}
	if err := s.UpsertGroup(ctx, a); err != nil {
		t.Fatal(err)
	}
	err := s.InTx(ctx, func(tx ldapbridge.Store) error {
		steps := []struct {
			name string
			err  error
			kind error
		}{
			{"CreateUser with a taken name", tx.CreateUser(ctx, &ldapbridge.User{Username: "taken", Source: ldapbridge.SourceLocal}), ldapbridge.ErrConflict},
			{"UpdateUser onto a taken name", tx.UpdateUser(ctx, &ldapbridge.User{ID: taken.ID + 99, Username: "taken", Source: ldapbridge.SourceLocal}), ldapbridge.ErrConflict},
			{"UpdateUser of a missing user", tx.UpdateUser(ctx, &ldapbridge.User{ID: taken.ID + 99, Username: "free", Source: ldapbridge.SourceLocal}), ldapbridge.ErrNotFound},
			{"AddMemberships to a missing group", tx.AddMemberships(ctx, []ldapbridge.Membership{{GroupID: a.ID + 99, UserID: taken.ID}}), ldapbridge.ErrNotFound},
			{"SetUserGroups with a missing group", tx.SetUserGroups(ctx, taken.ID, []int64{a.ID + 99}), ldapbridge.ErrNotFound},
		}
		for _, st := range steps {
			if !errors.Is(st.err, st.kind) {
				t.Errorf("%s: %v, want %v", st.name, st.err, st.kind)
			}
		}
		return tx.CreateUser(ctx, &ldapbridge.User{Username: "later", Source: ldapbridge.SourceLocal})
	})
	if err != nil {
		t.Fatalf("a write after refused ones in the same transaction: %v", err)
	}
	if _, err := s.User(ctx, "later"); err != nil {
		t.Errorf("committed user: %v", err)
	}
}
