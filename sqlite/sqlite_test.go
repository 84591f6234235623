package sqlite

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/storetest"
)

func openTest(t testing.TB, dsn string) *Store {
	t.Helper()
	s, err := Open(t.Context(), dsn)
	if err != nil {
		t.Fatalf("Open(%q): %v", dsn, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestStoreContractOnFile(t *testing.T) {
	storetest.Run(t, func(t *testing.T) ldapbridge.Store {
		return openTest(t, filepath.Join(t.TempDir(), "ldapbridge.db"))
	})
}

func TestStoreContractInMemory(t *testing.T) {
	storetest.Run(t, func(t *testing.T) ldapbridge.Store { return openTest(t, ":memory:") })
}

func TestInMemoryStoresAreSeparateAndShared(t *testing.T) {
	ctx := t.Context()
	a, b := openTest(t, ":memory:"), openTest(t, ":memory:")
	for _, s := range []*Store{a, b} {
		if err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
	}
	u := &ldapbridge.User{Username: "only-in-a", Source: ldapbridge.SourceLDAP}
	if err := a.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	// The write went through the write connection; the read pool sees it.
	if _, err := a.User(ctx, "only-in-a"); err != nil {
		t.Errorf("read pool of the same :memory: store: %v", err)
	}
	if _, err := b.User(ctx, "only-in-a"); !errors.Is(err, ldapbridge.ErrNotFound) {
		t.Errorf("another :memory: store sees the user: %v", err)
	}
}

func TestFileReadersDoNotWaitForTheWriter(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "wal.db")
	s := openTest(t, path)
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateUser(ctx, &ldapbridge.User{Username: "base", Source: ldapbridge.SourceLDAP}); err != nil {
		t.Fatal(err)
	}
	var mode string
	if err := s.r.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode: %q, %v; want wal", mode, err)
	}
	err := s.InTx(ctx, func(tx ldapbridge.Store) error {
		if err := tx.CreateUser(ctx, &ldapbridge.User{Username: "uncommitted", Source: ldapbridge.SourceLDAP}); err != nil {
			return err
		}
		done := make(chan error, 1)
		go func() {
			_, err := s.User(ctx, "base")
			if err == nil {
				_, err = s.User(ctx, "uncommitted")
				if !errors.Is(err, ldapbridge.ErrNotFound) {
					err = fmt.Errorf("a reader saw an uncommitted user (err %v)", err)
				} else {
					err = nil
				}
			}
			done <- err
		}()
		select {
		case err := <-done:
			return err
		case <-time.After(2 * time.Second):
			return errors.New("a reader waited for the open write transaction (WAL not in effect?)")
		}
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestReadPoolIsQueryOnly(t *testing.T) {
	s := openTest(t, ":memory:")
	if _, err := s.r.ExecContext(t.Context(), "CREATE TABLE x (a)"); err == nil {
		t.Errorf("the read pool accepted a write")
	}
}

func TestOpenRejectsAnEmptyDSN(t *testing.T) {
	_, err := Open(t.Context(), " ")
	if err == nil || !strings.Contains(err.Error(), "store.dsn") {
		t.Errorf("Open(\" \"): %v, want an error naming store.dsn", err)
	}
}

func TestOpenReportsAnUnwritableLocation(t *testing.T) {
	dsn := filepath.Join(t.TempDir(), "missing-dir", "x.db")
	if s, err := Open(t.Context(), dsn); err == nil {
		s.Close()
		t.Errorf("Open(%q) succeeded in a missing directory", dsn)
	}
}

func TestOpenAcceptsAFileURI(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "uri.db")
	s := openTest(t, "file:"+path+"?mode=rwc")
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateUser(ctx, &ldapbridge.User{Username: "u", Source: ldapbridge.SourceLocal}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	again := openTest(t, path)
	if _, err := again.User(ctx, "u"); err != nil {
		t.Errorf("reopening by plain path: %v", err)
	}
}
