package dirsync_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/auth"
	"github.com/ldapbridge/ldapbridge/dirsync"
	"github.com/ldapbridge/ldapbridge/internal/slapdtest"
)

// TestOnChangeHooksSeeCommittedChangesAndTheirErrorsAbortNothing: the
// sync's Hooks.OnChange is called once per change of the change log,
// after its transaction committed; an error is counted and the run goes
// on. A login's auth.Hooks.OnChange gets the login's changes, which the
// change log records with source login and no run.
func TestOnChangeHooksSeeCommittedChangesAndTheirErrorsAbortNothing(t *testing.T) {
	var e *env
	var seen []ldapbridge.Change
	uncommitted := 0
	syncHook := func(ctx context.Context, c ldapbridge.Change) error {
		seen = append(seen, c)
		if c.Kind == ldapbridge.ChangeUser && c.Action == ldapbridge.ActionCreated {
			// The store's readers see only committed rows.
			if _, err := e.store.User(ctx, c.User); err != nil {
				uncommitted++
			}
		}
		if len(seen) == 1 {
			return errors.New("receiver down")
		}
		return nil
	}
	var logins []ldapbridge.Change
	e = newEnv(t, nil, "", envOpts{syncHooks: dirsync.Hooks{OnChange: syncHook},
		hooks: auth.Hooks{OnChange: func(_ context.Context, c ldapbridge.Change) error { logins = append(logins, c); return nil }}})
	ctx := t.Context()
	rep := e.run(dirsync.RunOptions{Mode: dirsync.Full})
	logged, err := e.store.Changes(ctx, ldapbridge.ChangeQuery{RunID: rep.RunID})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != len(logged) || len(seen) < rep.UsersCreated+rep.GroupsCreated+rep.MembershipsAdded || rep.HookErrors != 1 || rep.Aborted {
		t.Fatalf("hook saw %d changes, the log holds %d; report created %d users, %d groups, %d memberships, hook errors %d, aborted %v",
			len(seen), len(logged), rep.UsersCreated, rep.GroupsCreated, rep.MembershipsAdded, rep.HookErrors, rep.Aborted)
	}
	if uncommitted > 0 {
		t.Errorf("%d user.created changes reached the hook before their transaction committed", uncommitted)
	}
	for i, c := range seen {
		if c.RunID != rep.RunID || c.Source != "sync" || c.Kind != logged[i].Kind || c.Action != logged[i].Action || c.User != logged[i].User {
			t.Errorf("change %d: hook %+v, log %+v", i, c, logged[i])
			break
		}
	}

	// A login that changes the account: its changes reach the login hook
	// and the log.
	e.srv.Apply(t, "dn: "+slapdtest.JCAliceDN+"\nchangetype: modify\nreplace: mail\nmail: alice.new@example.com\n\n")
	res, err := e.auth.Authenticate(ctx, slapdtest.JCAliceUID, slapdtest.JCAlicePassword)
	if err != nil || res.Outcome != auth.OK {
		t.Fatalf("alice's login: %v %+v", err, res)
	}
	if len(logins) != 1 || logins[0].Action != "updated" || !slices.Equal(logins[0].Fields, []string{"email"}) || logins[0].Source != "login" || logins[0].RunID != 0 {
		t.Fatalf("login changes: %+v", logins)
	}
	mine, err := e.store.Changes(ctx, ldapbridge.ChangeQuery{UserID: res.User.ID, Action: "updated"})
	if err != nil || len(mine) != 1 || mine[0].Source != "login" {
		t.Errorf("alice's logged updates: %+v %v", mine, err)
	}
	// A second run with no directory change records nothing.
	again := e.run(dirsync.RunOptions{Mode: dirsync.Full})
	if cs, _ := e.store.Changes(ctx, ldapbridge.ChangeQuery{RunID: again.RunID}); len(cs) != 0 {
		t.Errorf("an idempotent rerun recorded %d changes: %+v", len(cs), cs[0])
	}
}

// TestHeldRemovalsExpireAfterPendingTTLAndAnAbortIsAnEvent: removals the
// guard holds wait sync.pending_ttl; after it, approving them is refused
// (ErrNotPending) and removes nobody. The aborted run is a sync.aborted
// webhook event, written to the outbox.
func TestHeldRemovalsExpireAfterPendingTTLAndAnAbortIsAnEvent(t *testing.T) {
	var built []string
	events := func(cs []*ldapbridge.Change) []*ldapbridge.OutboxEvent {
		var out []*ldapbridge.OutboxEvent
		for _, c := range cs {
			built = append(built, c.EventType())
			out = append(out, &ldapbridge.OutboxEvent{DeliveryID: fmt.Sprint("d", len(built)), Target: "http://x", Type: c.EventType(), Body: []byte(`{"reason":` + strconv.Quote(c.Reason) + `}`)})
		}
		return out
	}
	e := newEnv(t, nil, "", envOpts{maxRemovals: "1", events: events,
		yaml: func(y string) string { return strings.Replace(y, "sync:\n", "sync:\n  pending_ttl: 300ms\n", 1) }})
	ctx := t.Context()
	e.run(dirsync.RunOptions{Mode: dirsync.Full})
	e.srv.Apply(t, "dn: "+slapdtest.JCErinDN+"\nchangetype: delete\n\ndn: "+slapdtest.JCFrankDN+"\nchangetype: delete\n\n")
	rep, err := e.sync.Run(ctx, dirsync.RunOptions{Mode: dirsync.Full})
	if !errors.Is(err, dirsync.ErrGuard) || rep.PendingRemovals != 2 {
		t.Fatalf("run over the limit: err %v, pending %d; want the guard and 2 pending", err, rep.PendingRemovals)
	}
	aborted, err := e.store.OutboxEvents(ctx, "", 0)
	if err != nil || len(aborted) == 0 || aborted[0].Type != "sync.aborted" || !strings.Contains(string(aborted[0].Body), "max_removals") {
		t.Errorf("outbox after the abort: %v %+v", err, aborted)
	}
	time.Sleep(400 * time.Millisecond)
	if _, err := e.sync.Approve(ctx, rep.RunID, "root"); !errors.Is(err, dirsync.ErrNotPending) || !strings.Contains(err.Error(), "expired") {
		t.Errorf("approving after sync.pending_ttl: %v, want an expiry refusal", err)
	}
	if u := e.user("erin"); !u.IsActive {
		t.Error("an expired approval deactivated erin")
	}
	if n, err := dirsync.PendingCount(ctx, e.store, time.Now()); err != nil || n != 0 {
		t.Errorf("pending after expiry: %d %v", n, err)
	}
}

// TestAFirstLoginRecordsTheUserItsGroupsAndMemberships: a first login into
// an empty store records user.created, group.created for each group it
// mirrors and membership.added for each membership, with source login.
func TestAFirstLoginRecordsTheUserItsGroupsAndMemberships(t *testing.T) {
	var got []string
	e := newEnv(t, nil, "", envOpts{hooks: auth.Hooks{OnChange: func(_ context.Context, c ldapbridge.Change) error {
		got = append(got, c.Source+" "+c.EventType()+" "+c.User+" "+c.Group)
		return nil
	}}})
	ctx := t.Context()
	res, err := e.auth.Authenticate(ctx, slapdtest.JCBobUID, slapdtest.JCBobPassword)
	if err != nil || res.Outcome != auth.OK || len(res.User.DirectGroups) == 0 {
		t.Fatalf("bob's first login: %v %+v", err, res)
	}
	want := []string{"login user.created bob "}
	for _, g := range res.User.DirectGroups {
		want = append(want, "login group.created  "+g, "login membership.added bob "+g)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("first login changes:\n got %q\nwant %q", got, want)
	}
	logged, err := e.store.Changes(ctx, ldapbridge.ChangeQuery{})
	if err != nil || len(logged) != len(want) {
		t.Errorf("change log after the login: %d changes (%v), want %d", len(logged), err, len(want))
	}
	got = nil
	if _, err := e.auth.Authenticate(ctx, slapdtest.JCBobUID, slapdtest.JCBobPassword); err != nil || len(got) != 0 {
		t.Errorf("a second login changed %v (%v); want nothing", got, err)
	}
}
