package storetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/ldapbridge/ldapbridge"
)

var auditTests = []test{
	{"ChangesRecordInTheWritersTransactionAndFilter", testChanges},
	{"PruneHistoryByAgeAndByCountTakesTheRunsChanges", testPruneHistory},
	{"PendingRemovalsWaitExpireAndAreDecidedOnce", testPending},
	{"OutboxDeliversDueEventsRetriesAndFails", testOutbox},
}

func audit(t *testing.T, s ldapbridge.Store) (ldapbridge.ChangeLog, ldapbridge.Approvals, ldapbridge.Outbox) {
	t.Helper()
	cl, ok1 := s.(ldapbridge.ChangeLog)
	ap, ok2 := s.(ldapbridge.Approvals)
	ob, ok3 := s.(ldapbridge.Outbox)
	if !ok1 || !ok2 || !ok3 {
		t.Fatalf("%T lacks ChangeLog (%v), Approvals (%v) or Outbox (%v)", s, ok1, ok2, ok3)
	}
	return cl, ap, ob
}

func testChanges(t *testing.T, s ldapbridge.Store) {
	ctx := t.Context()
	cl, _, _ := audit(t, s)
	run := &ldapbridge.SyncRun{StartedAt: time.Now().UTC(), Mode: "full"}
	must(t, s.RecordSyncRun(ctx, run), "RecordSyncRun")
	alice := create(t, s, newUser("alice"))
	// A change recorded in a transaction that rolls back is gone with it.
	boom := errors.New("boom")
	err := s.InTx(ctx, func(tx ldapbridge.Store) error {
		if err := tx.(ldapbridge.ChangeLog).RecordChanges(ctx, []*ldapbridge.Change{{RunID: run.ID, Source: "sync", Kind: "user", Action: "created", User: "ghost"}}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("InTx: %v", err)
	}
	var many []*ldapbridge.Change
	for i := range 1200 { // more than one multi-row INSERT
		many = append(many, &ldapbridge.Change{RunID: run.ID, Source: "sync", Kind: "membership", Action: "added", User: fmt.Sprint("u", i), Group: "staff"})
	}
	many = append(many,
		&ldapbridge.Change{RunID: run.ID, Source: "sync", Kind: "user", Action: "deactivated", User: "alice", UserID: alice.ID, DN: alice.DN, Reason: "not found by a complete read"},
		&ldapbridge.Change{RunID: run.ID, Source: "sync", Kind: "user", Action: "updated", User: "alice", UserID: alice.ID, Fields: []string{"email", "title"}},
		&ldapbridge.Change{Source: "login", Kind: "user", Action: "updated", User: "alice", UserID: alice.ID})
	must(t, s.InTx(ctx, func(tx ldapbridge.Store) error { return tx.(ldapbridge.ChangeLog).RecordChanges(ctx, many) }), "RecordChanges")
	all, err := cl.Changes(ctx, ldapbridge.ChangeQuery{RunID: run.ID})
	must(t, err, "Changes")
	if len(all) != 1202 {
		t.Fatalf("run %d has %d changes, want 1202 (the rolled-back one must not be there)", run.ID, len(all))
	}
	got, err := cl.Changes(ctx, ldapbridge.ChangeQuery{RunID: run.ID, Kind: "user", Action: "deactivated"})
	must(t, err, "Changes filtered")
	if len(got) != 1 || got[0].User != "alice" || got[0].Reason != "not found by a complete read" || got[0].DN != alice.DN || got[0].Fields == nil || got[0].At.IsZero() {
		t.Errorf("filtered changes: %+v", got)
	}
	mine, err := cl.Changes(ctx, ldapbridge.ChangeQuery{UserID: alice.ID})
	must(t, err, "Changes of a user")
	if len(mine) != 3 || !slices.Equal(mine[1].Fields, []string{"email", "title"}) || mine[2].RunID != 0 || mine[2].Source != "login" {
		t.Errorf("alice's changes: %+v", mine)
	}
	if one, err := cl.SyncRun(ctx, run.ID); err != nil || one.Mode != "full" {
		t.Errorf("SyncRun: %+v, %v", one, err)
	}
	if _, err := cl.SyncRun(ctx, run.ID+100); !errors.Is(err, ldapbridge.ErrNotFound) {
		t.Errorf("SyncRun of a missing run: %v, want ErrNotFound", err)
	}
}

func testPruneHistory(t *testing.T, s ldapbridge.Store) {
	ctx := t.Context()
	cl, _, _ := audit(t, s)
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var ids []int64
	for i := range 4 {
		start := base.Add(time.Duration(i) * 24 * time.Hour)
		end := start.Add(time.Minute)
		r := &ldapbridge.SyncRun{StartedAt: start, FinishedAt: &end, Mode: "full", Outcome: "ok"}
		must(t, s.RecordSyncRun(ctx, r), "RecordSyncRun")
		ids = append(ids, r.ID)
		must(t, cl.RecordChanges(ctx, []*ldapbridge.Change{{RunID: r.ID, Source: "sync", Kind: "group", Action: "created", Group: fmt.Sprint("g", i), At: start}}), "RecordChanges")
	}
	must(t, cl.RecordChanges(ctx, []*ldapbridge.Change{{Source: "login", Kind: "user", Action: "created", User: "old", At: base.Add(-time.Hour)}}), "RecordChanges login")
	n, err := cl.PruneHistory(ctx, base.Add(36*time.Hour), 0)
	must(t, err, "PruneHistory by age")
	if n != 2 {
		t.Errorf("pruned %d runs by age, want 2", n)
	}
	n, err = cl.PruneHistory(ctx, time.Time{}, 1)
	must(t, err, "PruneHistory by count")
	if n != 1 {
		t.Errorf("pruned %d runs by count, want 1", n)
	}
	runs, err := s.SyncRuns(ctx, 0)
	must(t, err, "SyncRuns")
	if len(runs) != 1 || runs[0].ID != ids[3] {
		t.Errorf("runs left: %v, want only %d", runs, ids[3])
	}
	left, err := cl.Changes(ctx, ldapbridge.ChangeQuery{})
	must(t, err, "Changes")
	if len(left) != 1 || left[0].Group != "g3" {
		t.Errorf("changes left: %+v, want g3's only (the pruned runs' and the old login's gone)", left)
	}
}

func testPending(t *testing.T, s ldapbridge.Store) {
	ctx := t.Context()
	_, ap, _ := audit(t, s)
	now := time.Now().UTC().Truncate(time.Millisecond)
	var runs []int64
	for range 2 {
		r := &ldapbridge.SyncRun{StartedAt: now, Mode: "full", Outcome: "aborted"}
		must(t, s.RecordSyncRun(ctx, r), "RecordSyncRun")
		runs = append(runs, r.ID)
	}
	rs := []ldapbridge.PendingRemoval{
		{UserID: 1, User: "bob", DN: "uid=bob", Action: "deactivated", Verdict: "removed", Reason: "gone"},
		{UserID: 2, User: "al", DN: "uid=al", Action: "refused", Verdict: "require_group", Reason: "not in access.require"},
	}
	must(t, ap.RecordPending(ctx, runs[0], now, now.Add(time.Hour), rs), "RecordPending")
	must(t, ap.RecordPending(ctx, runs[1], now, now.Add(time.Minute), rs[:1]), "RecordPending")
	waiting, err := ap.PendingRuns(ctx, now, false)
	must(t, err, "PendingRuns")
	if len(waiting) != 2 || waiting[0].RunID != runs[1] || waiting[1].Count != 2 || waiting[1].State != "pending" {
		t.Fatalf("waiting runs: %+v", waiting)
	}
	if later, _ := ap.PendingRuns(ctx, now.Add(2*time.Minute), false); len(later) != 1 {
		t.Errorf("after the second run's expiry %d runs wait, want 1", len(later))
	}
	p, list, err := ap.PendingRemovals(ctx, runs[1], now.Add(2*time.Minute))
	must(t, err, "PendingRemovals")
	if p.State != "expired" || len(list) != 1 {
		t.Errorf("expired run: %+v %+v", p, list)
	}
	_, list, err = ap.PendingRemovals(ctx, runs[0], now)
	must(t, err, "PendingRemovals")
	if len(list) != 2 || list[0].User != "al" || list[0].Verdict != "require_group" || list[1].Action != "deactivated" {
		t.Errorf("removals: %+v", list)
	}
	must(t, ap.DecidePending(ctx, runs[0], "approved", "root", "removed 1, skipped 1", now), "DecidePending")
	wantErr(t, ap.DecidePending(ctx, runs[0], "rejected", "root", "", now), ldapbridge.ErrConflict, "second decision")
	wantErr(t, ap.DecidePending(ctx, runs[1]+99, "rejected", "root", "", now), ldapbridge.ErrNotFound, "decision on a missing run")
	p, _, err = ap.PendingRemovals(ctx, runs[0], now)
	must(t, err, "PendingRemovals")
	if p.State != "approved" || p.DecidedBy != "root" || p.DecidedAt == nil || p.Outcome != "removed 1, skipped 1" {
		t.Errorf("decided run: %+v", p)
	}
	if all, _ := ap.PendingRuns(ctx, now, true); len(all) != 2 {
		t.Errorf("all pending runs: %d, want 2", len(all))
	}
}

func testOutbox(t *testing.T, s ldapbridge.Store) {
	ctx := t.Context()
	_, _, ob := audit(t, s)
	now := time.Now().UTC().Truncate(time.Millisecond)
	must(t, s.InTx(ctx, func(tx ldapbridge.Store) error {
		return tx.(ldapbridge.Outbox).EnqueueEvents(ctx, []*ldapbridge.OutboxEvent{
			{DeliveryID: "d1", Target: "http://a", Type: "user.created", Body: []byte(`{"id":"d1"}`)},
			{DeliveryID: "d2", Target: "http://a", Type: "user.deleted", Body: []byte(`{"id":"d2"}`)},
			{DeliveryID: "d3", Target: "http://b", Type: "user.deleted", Body: []byte(`{}`), NextAttempt: now.Add(time.Hour)},
		})
	}), "EnqueueEvents")
	var seen []string
	n, err := ob.DeliverDue(ctx, now.Add(time.Second), 10, func(e *ldapbridge.OutboxEvent) ldapbridge.DeliveryResult {
		seen = append(seen, e.DeliveryID+":"+string(e.Body))
		if e.DeliveryID == "d1" {
			return ldapbridge.DeliveryResult{Status: ldapbridge.EventDelivered}
		}
		return ldapbridge.DeliveryResult{Status: ldapbridge.EventPending, Next: now.Add(time.Minute), Error: "HTTP 500"}
	})
	must(t, err, "DeliverDue")
	if n != 2 || !slices.Equal(seen, []string{`d1:{"id":"d1"}`, `d2:{"id":"d2"}`}) {
		t.Errorf("delivered %d: %v (d3 is not due)", n, seen)
	}
	// d2 is not due before its retry time; then it fails for good.
	if n, _ := ob.DeliverDue(ctx, now.Add(30*time.Second), 10, nil); n != 0 {
		t.Errorf("%d events delivered before their retry time", n)
	}
	_, err = ob.DeliverDue(ctx, now.Add(2*time.Minute), 10, func(e *ldapbridge.OutboxEvent) ldapbridge.DeliveryResult {
		if e.Attempts != 1 {
			t.Errorf("%s attempts %d, want 1", e.DeliveryID, e.Attempts)
		}
		return ldapbridge.DeliveryResult{Status: ldapbridge.EventFailed, Error: "HTTP 500"}
	})
	must(t, err, "DeliverDue")
	counts, err := ob.OutboxCounts(ctx)
	must(t, err, "OutboxCounts")
	if counts["delivered"] != 1 || counts["failed"] != 1 || counts["pending"] != 1 {
		t.Errorf("counts %v", counts)
	}
	failed, err := ob.OutboxEvents(ctx, "failed", 0)
	must(t, err, "OutboxEvents")
	if len(failed) != 1 || failed[0].DeliveryID != "d2" || failed[0].LastError != "HTTP 500" || failed[0].Attempts != 2 {
		t.Errorf("failed events: %+v", failed)
	}
	if n, err := ob.RetryFailedEvents(ctx, now); err != nil || n != 1 {
		t.Errorf("RetryFailedEvents: %d, %v", n, err)
	}
	if again, _ := ob.OutboxEvents(ctx, "pending", 0); len(again) != 2 {
		t.Errorf("pending after retry: %d, want 2", len(again))
	}
}
