package main

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/internal/slapdtest"
	"github.com/ldapbridge/ldapbridge/sqlite"
)

// TestServeLiveMirrorKeepsTheStoreCurrentAndSignsOutADisabledUser runs
// serve with sync.live (and a 30m schedule that never ticks during the
// test): the live mirror's first run fills the store, a directory change
// reaches it with no scheduled run, and a signed-in user disabled in the
// directory is signed out on the next request.
func TestServeLiveMirrorKeepsTheStoreCurrentAndSignsOutADisabledUser(t *testing.T) {
	s := slapdtest.Start(t, slapdtest.Options{Fixtures: []string{slapdtest.JumpCloud}})
	c := tutorialCLI(t, s, func(y string) string {
		if !strings.Contains(y, "\n  schedule: 30m\n") || !strings.Contains(y, "\naccess:\n") {
			t.Fatalf("examples/jumpcloud.yaml changed: no sync.schedule 30m or access block")
		}
		y = strings.Replace(y, "\n  schedule: 30m\n", "\n  schedule: 30m\n  live: true\n  live_interval: 1s\n", 1)
		y = strings.Replace(y, "\naccess:\n", "\naccess:\n  login_source: mirror\n", 1)
		return y + "web: {listen: '127.0.0.1:0'}\n"
	})
	in := serveInProcess(t, c.config)
	srv, base, cfg, logs, ctx, cancel, done := in.srv, in.base, in.cfg, in.logs, in.ctx, in.cancel, in.done
	st := srv.cur.Load().a.store
	user := func(name string) *ldapbridge.User {
		u, err := st.User(ctx, name)
		if err != nil {
			return nil
		}
		return u
	}
	wait := func(what string, cond func() bool) {
		t.Helper()
		if !waitFor(time.Minute, cond) {
			t.Fatalf("gave up waiting: %s\n%s", what, logs.String())
		}
	}
	wait("the live mirror's first run stores bob", func() bool { u := user(slapdtest.JCBobUID); return u != nil && u.Allowed() })

	cookie := signIn(t, base, slapdtest.JCBobUID, slapdtest.JCBobPassword)
	if code := status(base, "/profile", cookie); code != 200 {
		t.Fatalf("bob's profile after sign-in: %d", code)
	}
	s.Apply(t, "dn: "+slapdtest.JCAliceDN+"\nchangetype: modify\nreplace: sn\nsn: Streamed\n\n"+
		"dn: "+slapdtest.JCActiveGroupDN+"\nchangetype: modify\ndelete: member\nmember: "+slapdtest.JCBobDN+"\n\n")
	wait("alice's new surname and bob disabled in the store", func() bool {
		a, b := user(slapdtest.JCAliceUID), user(slapdtest.JCBobUID)
		return a != nil && a.LastName == "Streamed" && b != nil && !b.Allowed()
	})
	if code := status(base, "/profile", cookie); code == 200 {
		t.Errorf("disabled bob's session still opens /profile")
	}
	if _, m := body(base, "/metrics"); !strings.Contains(m, "ldapbridge_live_current 1") || !strings.Contains(m, "ldapbridge_live_events_applied_total") {
		t.Errorf("/metrics lacks the live mirror's metrics:\n%s", m)
	}
	// Another process's sync holds the store's sync lock: the live run
	// waits for it instead of failing, and applies the change after.
	other, err := sqlite.Open(ctx, cfg.Store.DSN.Reveal())
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	var unlock func()
	wait("the sync lock taken by another process", func() bool {
		u, ok, err := other.TryLockSyncRun(ctx)
		if err == nil && ok {
			unlock = u
		}
		return unlock != nil
	})
	s.Apply(t, "dn: "+slapdtest.JCAliceDN+"\nchangetype: modify\nreplace: sn\nsn: Waited\n\n")
	wait("the live run refused by the lock", func() bool { return strings.Count(logs.String(), "sync not started") > 0 })
	unlock()
	wait("alice's surname after the lock was released", func() bool { a := user(slapdtest.JCAliceUID); return a != nil && a.LastName == "Waited" })
	if strings.Contains(logs.String(), "live mirror: sync failed") {
		t.Errorf("a live run failed instead of waiting for the other sync:\n%s", logs.String())
	}
	runs, err := st.SyncRuns(ctx, 50)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) < 2 {
		t.Errorf("%d sync runs recorded; want the live mirror's first run and at least one more", len(runs))
	}
	if !strings.Contains(logs.String(), "trigger=live") {
		t.Errorf("no sync logged with trigger=live:\n%s", logs.String())
	}
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Errorf("serve: %v", err)
	}
}
