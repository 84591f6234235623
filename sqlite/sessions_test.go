package sqlite

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
)

var _ scs.CtxStore = (*Sessions)(nil)

func TestSessionsStoreFindsOnlyUnexpiredSessions(t *testing.T) {
	ctx := context.Background()
	st, err := Open(ctx, filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	ss := st.Sessions()
	if err := ss.CommitCtx(ctx, "live", []byte("a"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := ss.CommitCtx(ctx, "old", []byte("b"), time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if b, ok, err := ss.FindCtx(ctx, "live"); err != nil || !ok || string(b) != "a" {
		t.Errorf("live session: %q %v %v", b, ok, err)
	}
	if _, ok, err := ss.FindCtx(ctx, "old"); err != nil || ok {
		t.Errorf("expired session found: %v %v", ok, err)
	}
	if err := ss.CommitCtx(ctx, "live", []byte("c"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if b, _, _ := ss.FindCtx(ctx, "live"); string(b) != "c" {
		t.Errorf("commit did not replace the data: %q", b)
	}
	if n, err := ss.DeleteExpired(ctx); err != nil || n != 1 {
		t.Errorf("DeleteExpired = %d, %v; want 1", n, err)
	}
	if err := ss.DeleteCtx(ctx, "live"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := ss.FindCtx(ctx, "live"); ok {
		t.Error("deleted session still found")
	}
	if err := ss.DeleteCtx(ctx, "never"); err != nil {
		t.Errorf("deleting an unknown token: %v", err)
	}
}
