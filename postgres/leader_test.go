package postgres

import (
	"testing"
	"time"

	"github.com/ldapbridge/ldapbridge/internal/pgtest"
)

func TestLeaderRunsEachTickOnceAndMovesWhenTheLeaderGoes(t *testing.T) {
	ctx := t.Context()
	dsn := pgtest.New(t)
	a := openTest(t, dsn)
	if err := a.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	la, lb := a.Leader("a:1"), openTest(t, dsn).Leader("b:2")
	t.Cleanup(func() { la.Close(); lb.Close() })
	t0 := time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC)
	tick := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Minute) }
	steps := []struct {
		name   string
		l      *Leader
		tick   int
		want   bool
		before func()
		// retry: the server releases a terminated session's locks
		// asynchronously.
		retry bool
	}{
		{name: "first claimer takes the lead and the tick", l: la, tick: 1, want: true},
		{name: "another instance does not lead", l: lb, tick: 1, want: false},
		{name: "another instance does not lead the next tick either", l: lb, tick: 2, want: false},
		{name: "the leader does not run a tick twice", l: la, tick: 1, want: false},
		{name: "the leader keeps leading", l: la, tick: 2, want: true},
		{name: "after the connections drop the first to claim leads", l: lb, tick: 3, want: true,
			before: func() { pgtest.Terminate(t, dsn) }, retry: true},
		{name: "the old leader notices it lost the lead", l: la, tick: 3, want: false},
		{name: "and stays a follower", l: la, tick: 4, want: false},
		{name: "closing gives up the lead to the next claimer", l: la, tick: 5, want: true,
			before: func() { lb.Close() }},
		{name: "a tick claimed by the old leader is not rerun", l: lb, tick: 2, want: false},
	}
	for _, s := range steps {
		if s.before != nil {
			s.before()
		}
		got, err := s.l.Claim(ctx, tick(s.tick))
		for end := time.Now().Add(5 * time.Second); s.retry && got != s.want && time.Now().Before(end); {
			time.Sleep(50 * time.Millisecond)
			got, err = s.l.Claim(ctx, tick(s.tick))
		}
		if err != nil || got != s.want {
			t.Fatalf("%s: Claim(%s, tick %d) = %v, %v; want %v", s.name, s.l.instance, s.tick, got, err, s.want)
		}
	}
	var who string
	if err := openTest(t, dsn).q.QueryRow(ctx, `SELECT instance FROM sync_ticks WHERE tick = $1`, tick(3)).Scan(&who); err != nil || who != "b:2" {
		t.Errorf("tick 3 recorded for %q, %v; want b:2", who, err)
	}
}

func TestSyncRunLockAdmitsOneSessionAtATime(t *testing.T) {
	ctx := t.Context()
	dsn := pgtest.New(t)
	a := openTest(t, dsn)
	if err := a.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	b := openTest(t, dsn)
	unlock, ok, err := a.TryLockSyncRun(ctx)
	if err != nil || !ok {
		t.Fatalf("first TryLockSyncRun: %v, %v; want taken", ok, err)
	}
	if _, ok, err := b.TryLockSyncRun(ctx); err != nil || ok {
		t.Fatalf("TryLockSyncRun on another instance while held: %v, %v; want refused", ok, err)
	}
	unlock()
	unlockB, ok, err := b.TryLockSyncRun(ctx)
	if err != nil || !ok {
		t.Fatalf("TryLockSyncRun after unlock: %v, %v; want taken", ok, err)
	}
	unlockB()
}
