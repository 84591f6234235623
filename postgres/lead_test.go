package postgres

import (
	"testing"
	"time"

	"github.com/ldapbridge/ldapbridge/internal/pgtest"
)

// Lead (the live mirror's question) takes and keeps the leadership like
// Claim, without claiming a tick.
func TestLeadTakesTheLeadershipWithoutClaimingATick(t *testing.T) {
	ctx := t.Context()
	dsn := pgtest.New(t)
	a := openTest(t, dsn)
	if err := a.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	la, lb := a.Leader("a:1"), openTest(t, dsn).Leader("b:2")
	t.Cleanup(func() { la.Close(); lb.Close() })
	if ok, err := la.Lead(ctx); !ok || err != nil {
		t.Fatalf("first Lead: %v, %v; want the leadership", ok, err)
	}
	if ok, err := lb.Lead(ctx); ok || err != nil {
		t.Fatalf("second instance's Lead: %v, %v; want no leadership", ok, err)
	}
	tick := time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC)
	if ok, err := la.Claim(ctx, tick); !ok || err != nil {
		t.Fatalf("the leader's Claim after Lead: %v, %v; want the tick (Lead claims none)", ok, err)
	}
	la.Close()
	if ok, err := lb.Lead(ctx); !ok || err != nil {
		t.Fatalf("Lead after the leader closed: %v, %v; want the leadership", ok, err)
	}
	if ok, err := la.Lead(ctx); ok || err != nil {
		t.Fatalf("the old leader's Lead: %v, %v; want none", ok, err)
	}
}
