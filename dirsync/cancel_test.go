package dirsync_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/dirsync"
)

// hookStore calls onCreate before each CreateUser, inside transactions too.
type hookStore struct {
	ldapbridge.Store
	onCreate func(ctx context.Context)
}

func (s *hookStore) InTx(ctx context.Context, fn func(tx ldapbridge.Store) error) error {
	return s.Store.InTx(ctx, func(tx ldapbridge.Store) error { return fn(&hookStore{Store: tx, onCreate: s.onCreate}) })
}

func (s *hookStore) CreateUser(ctx context.Context, u *ldapbridge.User) error {
	s.onCreate(ctx)
	return s.Store.CreateUser(ctx, u)
}

// TestProgressComesFromOneGoroutineWithTheWritersCount: the reader and the
// writer share no counter, so Options.Progress is called from Run's
// goroutine only — never twice at once — and ends with every user and
// group written.
func TestProgressComesFromOneGoroutineWithTheWritersCount(t *testing.T) {
	var (
		inFlight, overlaps atomic.Int32
		mu                 sync.Mutex
		last               dirsync.Progress
		applied            []int
	)
	progress := func(p dirsync.Progress) {
		if inFlight.Add(1) > 1 {
			overlaps.Add(1)
		}
		defer inFlight.Add(-1)
		time.Sleep(2 * time.Millisecond) // widen the window for an overlapping call
		mu.Lock()
		last = p
		if p.Phase == "users" {
			applied = append(applied, p.Applied)
		}
		mu.Unlock()
	}
	e := newEnv(t, nil, "", envOpts{batch: 1, progress: progress})
	rep := e.run(dirsync.RunOptions{Mode: dirsync.Full})
	if n := overlaps.Load(); n > 0 {
		t.Errorf("Options.Progress was called %d times while another call was running; want calls from one goroutine only", n)
	}
	mu.Lock()
	defer mu.Unlock()
	if want := rep.UsersCreated + rep.GroupsCreated; last.Phase != "done" || last.Applied != want || rep.UsersCreated != fixtureUsers {
		t.Errorf("last progress %+v after %d users and %d groups created; want phase done with %d applied", last, rep.UsersCreated, rep.GroupsCreated, want)
	}
	for i := 1; i < len(applied); i++ {
		if applied[i] < applied[i-1] {
			t.Fatalf("Applied went back from %d to %d: %v", applied[i-1], applied[i], applied)
		}
	}
}

// TestCancelledRunFinishesItsBatchAndIsRecordedCancelled cancels a run while
// it writes its second batch of users: that batch is written whole, nothing
// after it is, the history says cancelled, the cursor does not move, and the
// next run completes the work.
func TestCancelledRunFinishesItsBatchAndIsRecordedCancelled(t *testing.T) {
	const batch = 4
	ctx, cancel := context.WithCancelCause(t.Context())
	defer cancel(nil)
	var creates atomic.Int32
	wrap := func(st ldapbridge.Store) ldapbridge.Store {
		return &hookStore{Store: st, onCreate: func(context.Context) {
			if creates.Add(1) == batch+1 { // the first user of the second batch
				cancel(errors.New("shutting down"))
			}
		}}
	}
	e := newEnv(t, nil, "", envOpts{batch: batch, wrap: wrap})
	rep, err := e.sync.Run(ctx, dirsync.RunOptions{Mode: dirsync.Full})
	if !errors.Is(err, dirsync.ErrCancelled) || !errors.Is(err, dirsync.ErrAborted) || rep == nil || !rep.Aborted ||
		!strings.Contains(rep.AbortReason, "cancelled (shutting down)") {
		t.Fatalf("cancelled run: err %v, report %+v; want ErrCancelled and ErrAborted, aborted, a reason naming the cancellation", err, rep)
	}
	bg := context.Background()
	users, err := e.store.ListUsers(bg, ldapbridge.UserQuery{})
	if err != nil || len(users) != 2*batch {
		t.Errorf("users in the store after the cancel: %d (%v); want %d — the batch being written when the run was cancelled is finished, no later batch is", len(users), err, 2*batch)
	}
	runs, err := e.store.SyncRuns(bg, 0)
	if err != nil || len(runs) != 1 || runs[0].Outcome != dirsync.OutcomeCancelled || runs[0].FinishedAt == nil ||
		!strings.Contains(runs[0].Error, "shutting down") {
		t.Fatalf("history: %+v, %v; want one finished run with outcome cancelled and the cause", runs, err)
	}
	if cur, err := e.store.SyncCursor(bg, runs[0].Server); err != nil || cur != "" {
		t.Errorf("cursor after a cancelled run: %q, %v; want none", cur, err)
	}
	rep = e.run(dirsync.RunOptions{Mode: dirsync.Full})
	if rep.UsersCreated != fixtureUsers-2*batch || rep.UsersUnchanged != 2*batch || rep.UsersDeactivated != 0 {
		t.Errorf("run after the cancelled one: %v; want the other %d users created and the first %d unchanged", counts(rep), fixtureUsers-2*batch, 2*batch)
	}
}
