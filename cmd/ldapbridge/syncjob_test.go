package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/dirsync"
	"github.com/ldapbridge/ldapbridge/internal/slapdtest"
	"github.com/ldapbridge/ldapbridge/web"
)

// slowStore makes each user creation take delay, inside transactions too,
// so a sync of the fixture lasts long enough to be stopped in the middle.
type slowStore struct {
	ldapbridge.Store
	delay   time.Duration
	started chan struct{} // closed at the first CreateUser
	once    *sync.Once
}

func (s *slowStore) InTx(ctx context.Context, fn func(tx ldapbridge.Store) error) error {
	return s.Store.InTx(ctx, func(tx ldapbridge.Store) error {
		return fn(&slowStore{Store: tx, delay: s.delay, started: s.started, once: s.once})
	})
}

func (s *slowStore) CreateUser(ctx context.Context, u *ldapbridge.User) error {
	s.once.Do(func() { close(s.started) })
	time.Sleep(s.delay)
	return s.Store.CreateUser(ctx, u)
}

// jobApp opens the tutorial config's app against s, its store wrapped by
// slowStore, and the sync job of serve on it.
func jobApp(t *testing.T, s *slapdtest.Server, edit func(string) string) (*syncJob, *slowStore, *bytes.Buffer) {
	t.Helper()
	c := tutorialCLI(t, s, edit)
	var log bytes.Buffer
	g := &globals{configPath: c.config, logLevel: "info", stdout: &bytes.Buffer{}, stderr: &log}
	cfg, err := g.loadConfig()
	if err != nil {
		t.Fatal(err)
	}
	_, metrics, err := newMetrics()
	if err != nil {
		t.Fatal(err)
	}
	a, err := g.openAppWith(t.Context(), cfg, withDetect, metrics)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	slow := &slowStore{Store: a.store, delay: 100 * time.Millisecond, started: make(chan struct{}), once: &sync.Once{}}
	a.store = slow
	job, err := newSyncJob(context.Background(), a, metrics)
	if err != nil {
		t.Fatal(err)
	}
	return job, slow, &log
}

// TestSyncJobCloseCancelsTheAdminSyncAndWaitsForIt: the admin page's
// "sync now" runs in a goroutine the job owns; Close cancels that sync and
// returns only once it has stopped and been recorded as cancelled, and no
// sync starts after it.
func TestSyncJobCloseCancelsTheAdminSyncAndWaitsForIt(t *testing.T) {
	s := slapdtest.Start(t, slapdtest.Options{Fixtures: []string{slapdtest.JumpCloud}})
	job, slow, log := jobApp(t, s, nil)
	var deps web.Deps
	job.webDeps(&deps)

	if err := deps.StartSync("carol"); err != nil {
		t.Fatalf("StartSync: %v", err)
	}
	if !deps.SyncRunning() {
		t.Error("SyncRunning is false right after StartSync")
	}
	if err := deps.StartSync("carol"); !errors.Is(err, web.ErrSyncRunning) {
		t.Errorf("a second StartSync while one runs: %v, want web.ErrSyncRunning", err)
	}
	select {
	case <-slow.started:
	case <-time.After(20 * time.Second):
		t.Fatalf("the sync wrote no user within 20s\n%s", log)
	}
	closed := make(chan struct{})
	go func() { defer close(closed); job.Close() }()
	select {
	case <-closed:
	case <-time.After(20 * time.Second):
		t.Fatal("Close did not return within 20s")
	}
	if deps.SyncRunning() {
		t.Fatal("Close returned while the sync it should have cancelled was still running")
	}
	runs, err := slow.Store.SyncRuns(context.Background(), 0)
	if err != nil || len(runs) != 1 || runs[0].Outcome != dirsync.OutcomeCancelled || runs[0].FinishedAt == nil ||
		!strings.Contains(runs[0].Error, errStopping.Error()) {
		t.Errorf("history after Close: %+v, %v; want one finished run, cancelled because ldapbridge is stopping", runs, err)
	}
	if err := deps.StartSync("carol"); !errors.Is(err, errStopping) {
		t.Errorf("StartSync after Close: %v; want it refused with errStopping", err)
	}
}

// TestSyncJobCloseStopsTheScheduler: after Close no scheduled sync starts
// and none is left running.
func TestSyncJobCloseStopsTheScheduler(t *testing.T) {
	t.Setenv(minIntervalEnv, "1s")
	s := slapdtest.Start(t, slapdtest.Options{Fixtures: []string{slapdtest.JumpCloud}})
	job, slow, log := jobApp(t, s, func(y string) string {
		return strings.Replace(y, "schedule: 30m", "schedule: 1s", 1)
	})
	slow.delay = 0
	if err := job.schedule(); err != nil {
		t.Fatal(err)
	}
	bg := context.Background()
	if !waitFor(10*time.Second, func() bool { runs, _ := slow.Store.SyncRuns(bg, 0); return len(runs) >= 2 }) {
		t.Fatalf("fewer than 2 scheduled runs within 10s\n%s", log)
	}
	job.Close()
	before, err := slow.Store.SyncRuns(bg, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range before {
		if r.FinishedAt == nil {
			t.Errorf("run %d still running after Close", r.ID)
		}
	}
	time.Sleep(2500 * time.Millisecond) // two more ticks
	if after, _ := slow.Store.SyncRuns(bg, 0); len(after) != len(before) {
		t.Errorf("%d scheduled runs started after Close; want none", len(after)-len(before))
	}
}
