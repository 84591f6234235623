package postgres

import (
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/ldapbridge/ldapbridge/internal/pgtest"
)

var _ scs.CtxStore = (*Sessions)(nil)

func TestSessionsStoreFindsOnlyUnexpiredSessionsAcrossInstances(t *testing.T) {
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
	if err := sa.CommitCtx(ctx, "old", []byte("b"), time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if b, ok, err := sb.FindCtx(ctx, "live"); err != nil || !ok || string(b) != "a" {
		t.Errorf("live session seen by another instance: %q %v %v", b, ok, err)
	}
	if _, ok, err := sb.FindCtx(ctx, "old"); err != nil || ok {
		t.Errorf("expired session found: %v %v", ok, err)
	}
	if err := sb.CommitCtx(ctx, "live", []byte("c"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if b, _, _ := sa.FindCtx(ctx, "live"); string(b) != "c" {
		t.Errorf("commit did not replace the data: %q", b)
	}
	if n, err := sa.DeleteExpired(ctx); err != nil || n != 1 {
		t.Errorf("DeleteExpired = %d, %v; want 1", n, err)
	}
	if err := sb.DeleteCtx(ctx, "live"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := sa.FindCtx(ctx, "live"); ok {
		t.Error("deleted session still found")
	}
	if err := sa.DeleteCtx(ctx, "never"); err != nil {
		t.Errorf("deleting an unknown token: %v", err)
	}
}
