package dirsync_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ldapbridge/ldapbridge/dirsync"
)

// blockingSource is a fakeSource whose Read says it started (when nobody
// has been told yet) and then waits for release, so a test holds a run in
// the middle.
type blockingSource struct {
	fakeSource
	reading chan<- struct{}
	release <-chan struct{}
}

func (b *blockingSource) Read(ctx context.Context, since *dirsync.Cursor, out dirsync.UserSink) error {
	select {
	case b.reading <- struct{}{}:
	default:
	}
	select {
	case <-b.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	return b.fakeSource.Read(ctx, since, out)
}

// TestReserveRefusesAtOnceWhileARunRuns: Run waits for the syncer's one
// guard, Reserve does not — while a run holds it, Reserve returns ErrBusy
// right away; once the run ends a Reservation runs one sync, and one
// released unused frees the guard.
func TestReserveRefusesAtOnceWhileARunRuns(t *testing.T) {
	ctx := t.Context()
	cfg, st, a := newFakeEnv(t)
	state := &fakeDirectoryState{version: 1, people: map[string]int{"ann": 1, "bob": 1}, deleted: map[string]int{}}
	reading := make(chan struct{}, 1)
	release := make(chan struct{})
	s, err := dirsync.New(dirsync.Options{Config: cfg, Dir: fakeDirectory{}, Store: st, Mapper: a.Mapper(),
		NewSource: func(dirsync.Directory) dirsync.ChangeSource {
			return &blockingSource{fakeSource: fakeSource{state: state}, reading: reading, release: release}
		}})
	if err != nil {
		t.Fatal(err)
	}

	type result struct {
		rep *dirsync.Report
		err error
	}
	first := make(chan result, 1)
	go func() {
		rep, err := s.Run(ctx, dirsync.RunOptions{})
		first <- result{rep, err}
	}()
	select {
	case <-reading:
	case <-time.After(10 * time.Second):
		t.Fatal("the first run did not start reading within 10s")
	}

	// Reserve answers at once (a wait would block until release, below).
	refused := make(chan error, 1)
	go func() {
		res, err := s.Reserve()
		if err == nil {
			res.Release()
		}
		refused <- err
	}()
	select {
	case err := <-refused:
		if !errors.Is(err, dirsync.ErrBusy) {
			t.Errorf("Reserve while a run runs: %v; want dirsync.ErrBusy", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Reserve waited for the running sync; want an immediate ErrBusy")
	}
	// Run, by contrast, waits: here until its context ends.
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if rep, err := s.Run(short, dirsync.RunOptions{}); rep != nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Run while a run runs, its context ending: %v, %v; want it to wait and return the context's error", rep, err)
	}

	close(release)
	if r := <-first; r.err != nil || r.rep.UsersCreated != 2 {
		t.Fatalf("the first run: %v, %+v; want 2 users created", r.err, r.rep)
	}

	// The guard is free again: a Reservation runs one sync, once.
	res, err := s.Reserve()
	if err != nil {
		t.Fatalf("Reserve after the run ended: %v", err)
	}
	if _, err := s.Reserve(); !errors.Is(err, dirsync.ErrBusy) {
		t.Errorf("Reserve while a Reservation is held: %v; want dirsync.ErrBusy", err)
	}
	rep, err := res.Run(ctx, dirsync.RunOptions{})
	if err != nil || rep.Mode != dirsync.Incremental {
		t.Fatalf("Reservation.Run: %v, %+v; want an incremental run", err, rep)
	}
	if _, err := res.Run(ctx, dirsync.RunOptions{}); err == nil {
		t.Error("a second Run of one Reservation ran; want an error")
	}
	res.Release() // a no-op after Run

	// A Reservation released unused frees the guard too.
	res, err = s.Reserve()
	if err != nil {
		t.Fatalf("Reserve after Reservation.Run: %v", err)
	}
	res.Release()
	res.Release()
	if res, err = s.Reserve(); err != nil {
		t.Fatalf("Reserve after Release: %v", err)
	}
	res.Release()
}
