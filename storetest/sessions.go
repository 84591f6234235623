package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"testing"
	"time"

	"github.com/ldapbridge/ldapbridge"
)

// SessionStore is a driver's web session store: an scs.CtxStore (see
// github.com/alexedwards/scs/v2) that also deletes expired sessions.
type SessionStore interface {
	FindCtx(ctx context.Context, token string) ([]byte, bool, error)
	CommitCtx(ctx context.Context, token string, b []byte, expiry time.Time) error
	DeleteCtx(ctx context.Context, token string) error
	DeleteExpired(ctx context.Context) (int64, error)
}

// SessionRow is one row of a sessions table as stored: every column's
// bytes (text as UTF-8, times in the driver's own encoding).
type SessionRow [][]byte

// Sessions checks a session store: sessions round-trip, only unexpired ones
// are found, Commit replaces, Delete and DeleteExpired remove; and the
// table, read back raw by rows, holds no session token, only its SHA-256.
// ss must be on a freshly migrated, empty database.
func Sessions(t *testing.T, ss SessionStore, rows func(t *testing.T) []SessionRow) {
	ctx := t.Context()
	live, old := newToken(t), newToken(t)
	must(t, ss.CommitCtx(ctx, live, []byte("a"), time.Now().Add(time.Hour)), "commit a live session")
	must(t, ss.CommitCtx(ctx, old, []byte("b"), time.Now().Add(-time.Second)), "commit an expired session")

	got := rows(t)
	if len(got) != 2 {
		t.Fatalf("sessions table holds %d rows, want 2", len(got))
	}
	hashes := 0
	for _, row := range got {
		for _, col := range row {
			for _, tok := range []string{live, old} {
				if bytes.Contains(col, []byte(tok)) {
					t.Errorf("the sessions table holds the raw token %q", tok)
				}
				h := sha256.Sum256([]byte(tok))
				if bytes.Equal(col, h[:]) {
					hashes++
				}
			}
		}
	}
	if hashes != 2 {
		t.Errorf("found the SHA-256 of %d tokens in the sessions table, want 2 (one per session)", hashes)
	}

	if b, ok, err := ss.FindCtx(ctx, live); err != nil || !ok || string(b) != "a" {
		t.Errorf("live session: %q %v %v", b, ok, err)
	}
	if _, ok, err := ss.FindCtx(ctx, old); err != nil || ok {
		t.Errorf("expired session found: %v %v", ok, err)
	}
	// A hash given as the token is not a session.
	h := sha256.Sum256([]byte(live))
	for _, forged := range []string{string(h[:]), base64.RawURLEncoding.EncodeToString(h[:])} {
		if _, ok, err := ss.FindCtx(ctx, forged); err != nil || ok {
			t.Errorf("a session was found by the hash of its token: %v %v", ok, err)
		}
	}
	must(t, ss.CommitCtx(ctx, live, []byte("c"), time.Now().Add(time.Hour)), "commit again")
	if b, _, _ := ss.FindCtx(ctx, live); string(b) != "c" {
		t.Errorf("commit did not replace the data: %q", b)
	}
	if n := len(rows(t)); n != 2 {
		t.Errorf("after a second commit the table holds %d rows, want 2", n)
	}
	if n, err := ss.DeleteExpired(ctx); err != nil || n != 1 {
		t.Errorf("DeleteExpired = %d, %v; want 1", n, err)
	}
	must(t, ss.DeleteCtx(ctx, live), "delete the live session")
	if _, ok, _ := ss.FindCtx(ctx, live); ok {
		t.Error("deleted session still found")
	}
	if err := ss.DeleteCtx(ctx, "never"); err != nil {
		t.Errorf("deleting an unknown token: %v", err)
	}
	if n := len(rows(t)); n != 0 {
		t.Errorf("the table still holds %d rows", n)
	}
}

// newToken returns a token shaped like scs's: 32 random bytes, base64url.
func newToken(t *testing.T) string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// PlainSessionsDropped checks a database that held a session under the
// plain token plain (the schema before hashed tokens) and a user named
// "kept", and was then migrated: the sessions table is empty, the old token
// finds nothing, the user survived, and sessions work as Sessions checks.
func PlainSessionsDropped(t *testing.T, users interface {
	User(ctx context.Context, name string) (*ldapbridge.User, error)
}, ss SessionStore, rows func(t *testing.T) []SessionRow, plain string) {
	t.Helper()
	ctx := t.Context()
	if n := len(rows(t)); n != 0 {
		t.Errorf("sessions after Migrate: %d rows; want the plain ones dropped", n)
	}
	if _, ok, err := ss.FindCtx(ctx, plain); err != nil || ok {
		t.Errorf("old session found after Migrate: %v, %v", ok, err)
	}
	if _, err := users.User(ctx, "kept"); err != nil {
		t.Errorf("a user did not survive the migration: %v", err)
	}
	Sessions(t, ss, rows)
}
