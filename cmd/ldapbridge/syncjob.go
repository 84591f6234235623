package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ldapbridge/ldapbridge/dirsync"
	"github.com/ldapbridge/ldapbridge/metrics"
	"github.com/ldapbridge/ldapbridge/postgres"
	"github.com/ldapbridge/ldapbridge/web"
)

// errSyncRunning refuses a sync while another runs in this process (the
// syncer's Reserve said dirsync.ErrBusy).
var errSyncRunning = web.ErrSyncRunning

// errStopping refuses a sync once the process is stopping, and is the
// cause a running sync is cancelled with when nothing more precise (a
// signal) is known.
var errStopping = errors.New("ldapbridge is stopping")

// errSyncElsewhere refuses a sync while another instance runs one.
var errSyncElsewhere = errors.New("a sync is already running on another instance sharing the database — try again when it has finished")

// syncRunLocker is a store that keeps syncs from several processes or
// instances from overlapping: postgres.Store (an advisory lock; refused
// with ok false and no error) and sqlite.Store (a lock file next to the
// database; refused with a *sqlite.SyncRunningError that names the
// holder's pid, host and start time).
type syncRunLocker interface {
	TryLockSyncRun(ctx context.Context) (unlock func(), ok bool, err error)
}

// lockSyncRun takes the store's sync lock when it has one; the returned
// function releases it. A refusal says a sync is already running, and
// where when the store knows.
func lockSyncRun(ctx context.Context, st any) (func(), error) {
	l, ok := st.(syncRunLocker)
	if !ok {
		return func() {}, nil
	}
	unlock, ok, err := l.TryLockSyncRun(ctx)
	switch {
	case err != nil:
		return nil, err
	case !ok:
		return nil, errSyncElsewhere
	}
	return unlock, nil
}

// instanceName is the --instance flag (or LDAPBRIDGE_INSTANCE), else
// hostname:pid.
func (g *globals) instanceName() string {
	if g.instance != "" {
		return g.instance
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	return fmt.Sprintf("%s:%d", host, os.Getpid())
}

// tickClaimer elects the instance that runs a scheduled tick when several
// share one database (postgres.Leader).
type tickClaimer interface {
	Claim(ctx context.Context, tick time.Time) (bool, error)
	IsLeader() bool
	Close() error
}

// syncJob runs syncs for serve and demo: one at a time, observed by the
// metrics, on the schedule and on demand. One at a time in this process is
// the syncer's guard (dirsync.Syncer.Reserve, which refuses at once), and
// across processes the store's sync lock (lockSyncRun); the job keeps no
// lock of its own. On PostgreSQL the scheduled runs
// go to one leader among the instances on the database, once per tick.
//
// The job owns its goroutine (the scheduler) and the syncs it runs: all of
// them run under its lifetime, which ends with the context given to
// newSyncJob or with Close, and Close waits for them, so the store and the
// directory can be closed after it.
type syncJob struct {
	a      *app
	syncer *dirsync.Syncer
	// others are the syncers of the directories after the first (config
	// directories:), run in order after syncer's run, each its own run.
	others  []*dirsync.Syncer
	metrics *metrics.Metrics
	leader  tickClaimer // nil: this process runs every tick (sqlite)
	leads   bool        // leader.IsLeader at the last tick, to log changes

	life context.Context // cancelled when the job stops
	stop context.CancelCauseFunc
	// sched ends the scheduler's waiting (not a sync it runs): at Close
	// with life, or alone at retire.
	sched     context.Context
	stopSched context.CancelFunc

	wgMu    sync.Mutex // guards stopped and wg.Add against Close's wg.Wait
	stopped bool
	wg      sync.WaitGroup // the scheduler and the running sync
	running atomic.Bool    // a sync started by start is running (a report, not a guard)
	live    liveSync       // the running sync's progress, for the admin page
}

// newSyncJob makes the sync job of a; it stops when ctx ends or at Close.
func newSyncJob(ctx context.Context, a *app, metrics *metrics.Metrics) (*syncJob, error) {
	j := &syncJob{a: a, metrics: metrics}
	s, err := newSyncer(a, j.live.update)
	if err != nil {
		return nil, err
	}
	j.syncer = s
	for _, d := range a.dirs[min(1, len(a.dirs)):] {
		o, err := newDirSyncer(a, d, j.live.update)
		if err != nil {
			return nil, err
		}
		j.others = append(j.others, o)
	}
	j.life, j.stop = context.WithCancelCause(ctx)
	j.sched, j.stopSched = context.WithCancel(j.life)
	if st, ok := a.store.(*postgres.Store); ok {
		j.leader = st.Leader(a.instance)
	}
	return j, nil
}

// Close cancels the running sync (it stops at its next batch boundary and
// is recorded as cancelled) and the scheduler, waits for both, then gives
// up the sync leadership, if held. No sync starts after Close.
func (j *syncJob) Close() {
	j.wgMu.Lock()
	j.stopped = true
	j.wgMu.Unlock()
	j.stop(errStopping)
	j.wg.Wait()
	if j.leader != nil {
		j.leader.Close()
	}
}

// retire ends the job without cutting short what it is doing, for a
// configuration reload: no new sync starts, the scheduler stops waiting for
// its next tick, and the sync running now (scheduled or started) finishes
// before retire returns and gives up the sync leadership. A stop of the
// job's context still cancels that sync.
func (j *syncJob) retire() {
	j.wgMu.Lock()
	j.stopped = true
	j.wgMu.Unlock()
	j.stopSched()
	j.wg.Wait()
	j.stop(errStopping)
	if j.leader != nil {
		j.leader.Close()
	}
}

// enter registers a sync or goroutine with the job, which Close waits for;
// the caller calls j.wg.Done when it ends. It is false once Close began.
func (j *syncJob) enter() bool {
	j.wgMu.Lock()
	defer j.wgMu.Unlock()
	if j.stopped || j.life.Err() != nil {
		return false
	}
	j.wg.Add(1)
	return true
}

// bind returns ctx, cancelled also when the job stops (with the job's cause).
func (j *syncJob) bind(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(ctx)
	stop := context.AfterFunc(j.life, func() { cancel(context.Cause(j.life)) })
	return ctx, func() {
		stop()
		cancel(nil)
	}
}

// run runs one sync unless one is running already or the job has stopped.
// The sync ends with ctx or with the job, whichever ends first.
func (j *syncJob) run(ctx context.Context, ro dirsync.RunOptions, why string) (*dirsync.Report, error) {
	if !j.enter() {
		return nil, errStopping
	}
	defer j.wg.Done()
	ctx, cancel := j.bind(ctx)
	defer cancel()
	res, err := j.reserve()
	if err != nil {
		return nil, err
	}
	return j.runReserved(ctx, res, ro, why)
}

// reserve takes the syncer's guard at once, or refuses with errSyncRunning
// while a sync runs in this process.
func (j *syncJob) reserve() (*dirsync.Reservation, error) {
	res, err := j.syncer.Reserve()
	if errors.Is(err, dirsync.ErrBusy) {
		return nil, errSyncRunning
	}
	return res, err
}

// runReserved runs one sync under res, which it releases: it takes the
// store's sync lock (not for a dry run), runs, logs the outcome and feeds
// the metrics.
func (j *syncJob) runReserved(ctx context.Context, res *dirsync.Reservation, ro dirsync.RunOptions, why string) (*dirsync.Report, error) {
	defer res.Release() // for the refusal below; a no-op after res.Run
	if !ro.DryRun {
		unlock, err := lockSyncRun(ctx, j.a.store)
		if err != nil {
			j.a.log.Warn("sync not started", "trigger", why, "err", err)
			return nil, err
		}
		defer unlock()
	}
	j.live.begin(why)
	defer j.live.end()
	start := time.Now()
	if ro.StartedBy == "" {
		ro.StartedBy = why
	}
	rep, err := res.Run(ctx, ro)
	j.observe(ctx, start, rep, err, why, j.a.dirs[0])
	// The other directories, in order, each its own run: one that fails
	// stops only its own part. A live run (sync.live) is the first
	// directory's change alone.
	for i, o := range j.others {
		if ctx.Err() != nil || why == "live" {
			break
		}
		start := time.Now()
		r, e := o.Run(ctx, ro)
		j.observe(ctx, start, r, e, why, j.a.dirs[i+1])
		if err == nil && e != nil {
			err = fmt.Errorf("directory %s: %w", j.a.dirs[i+1].name(), e)
		}
	}
	return rep, err
}

// observe logs one directory's run and feeds the metrics.
func (j *syncJob) observe(ctx context.Context, start time.Time, rep *dirsync.Report, err error, why string, d *dirApp) {
	log := j.a.log
	if len(j.a.dirs) > 1 {
		log = log.With("directory", d.name())
	}
	outcome := "ok"
	switch {
	case errors.Is(err, dirsync.ErrCancelled):
		outcome = dirsync.OutcomeCancelled
	case rep != nil && rep.Aborted:
		outcome = "aborted"
	case err != nil:
		outcome = "failed"
	}
	mode := "full"
	var counts map[string]int
	if rep != nil {
		mode = string(rep.Mode)
		counts = reportCounts(rep)
	}
	j.metrics.ForDirectory(d.name()).ObserveSync(mode, outcome, time.Since(start), counts)
	if rep != nil {
		j.metrics.ObserveHookErrors(rep.HookErrors)
	}
	if n, perr := dirsync.PendingCount(context.WithoutCancel(ctx), j.a.store, time.Now()); perr == nil {
		j.metrics.SetPendingRemovals(n)
	}
	if outcome == dirsync.OutcomeCancelled {
		log.Warn("sync cancelled", "trigger", why, "mode", mode, "cause", context.Cause(ctx))
		return
	}
	if err != nil {
		log.Error("sync failed", "trigger", why, "mode", mode, "err", err)
		return
	}
	log.Info("sync", "trigger", why, "mode", rep.Mode, "created", rep.UsersCreated, "updated", rep.UsersUpdated,
		"deactivated", rep.UsersDeactivated, "deleted", rep.UsersDeleted, "refused", rep.UsersRefused, "searches", rep.LDAPSearches, "duration_ms", rep.DurationMS)
}

func reportCounts(r *dirsync.Report) map[string]int {
	return map[string]int{
		"users_created": r.UsersCreated, "users_updated": r.UsersUpdated, "users_deactivated": r.UsersDeactivated,
		"users_deleted": r.UsersDeleted, "users_refused": r.UsersRefused, "users_unchanged": r.UsersUnchanged, "groups_created": r.GroupsCreated,
		"groups_updated": r.GroupsUpdated, "groups_deleted": r.GroupsDeleted,
		"memberships_added": r.MembershipsAdded, "memberships_removed": r.MembershipsRemoved,
	}
}

// schedule starts the scheduler: a goroutine that runs a sync on
// sync.schedule (an interval such as 30m, or a cron expression) until the
// job stops. An empty schedule runs nothing.
func (j *syncJob) schedule() error {
	j.startLive() // sync.live, beside the schedule (live.go)
	next, err := parseSchedule(j.a.cfg.Sync.Schedule)
	if err != nil || next == nil {
		return err
	}
	if !j.enter() {
		return nil
	}
	// The wait ends with sched (a retire or the job's stop); the sync of a
	// tick runs under life, so a retire lets it finish.
	ctx, wait := j.life, j.sched
	go func() {
		defer j.wg.Done()
		tick := next(time.Now())
		for {
			select {
			case <-wait.Done():
				return
			case <-time.After(time.Until(tick)):
			}
			if wait.Err() != nil {
				return
			}
			j.tick(ctx, tick)
			// A tick that ran past later ticks skips them.
			now := time.Now()
			if now.Before(tick) {
				now = tick
			}
			tick = next(now)
		}
	}()
	return nil
}

// tick runs the scheduled sync of tick, unless a sync is running in this
// process or, on PostgreSQL, another instance leads or already ran tick.
func (j *syncJob) tick(ctx context.Context, tick time.Time) {
	res, err := j.reserve()
	if err != nil {
		j.a.log.Warn("scheduled sync skipped: the previous one is still running", "tick", tick)
		return
	}
	defer res.Release() // when no run follows; a no-op after runReserved
	if j.leader != nil {
		ok, err := j.leader.Claim(ctx, tick)
		if leads := j.leader.IsLeader(); leads != j.leads {
			j.leads = leads
			if leads {
				j.a.log.Info("this instance now runs the scheduled syncs", "instance", j.a.instance)
			} else {
				j.a.log.Warn("this instance no longer runs the scheduled syncs (lost its database connection)", "instance", j.a.instance)
			}
		}
		if err != nil {
			if ctx.Err() == nil {
				j.a.log.Warn("scheduled sync skipped: cannot take the sync leadership — is the database reachable?", "tick", tick, "err", err)
			}
			return
		}
		if !ok {
			j.a.log.Debug("scheduled sync skipped: another instance leads the syncs or ran this tick", "tick", tick)
			return
		}
	}
	j.runReserved(ctx, res, dirsync.RunOptions{}, "schedule")
}

// start runs one sync in the background, owned by the job: stopping the
// job cancels it and Close waits for it. It returns at once, with
// errSyncRunning when a sync is running and errStopping after Close.
func (j *syncJob) start(ro dirsync.RunOptions, why string) error {
	if !j.enter() {
		return errStopping
	}
	res, err := j.reserve()
	if err != nil {
		j.wg.Done()
		return err
	}
	j.running.Store(true)
	go func() {
		defer j.wg.Done()
		defer j.running.Store(false)
		// runReserved logs the outcome and feeds the metrics.
		_, _ = j.runReserved(j.life, res, ro, why)
	}()
	return nil
}

// webDeps fills the sync parts of the web app: "sync now" and history,
// and (adminDeps) what the admin pages read from the configuration.
// "Sync now" runs in a goroutine the job owns, so the web app starts none.
func (j *syncJob) webDeps(deps *web.Deps) {
	adminDeps(j.a, deps)
	deps.StartSync = func(by string) error {
		return j.start(dirsync.RunOptions{}, "admin ("+by+")")
	}
	deps.SyncRunning = j.running.Load
	deps.SyncProgress = j.live.get
	j.auditDeps(deps)
	deps.SyncHistory = func(ctx context.Context, limit int) ([]web.SyncRun, error) {
		runs, err := j.a.store.SyncRuns(ctx, limit)
		if err != nil {
			return nil, err
		}
		out := make([]web.SyncRun, 0, len(runs))
		for _, r := range runs {
			wr := web.SyncRun{StartedBy: r.StartedBy, ID: r.ID, StartedAt: r.StartedAt, Mode: r.Mode, Aborted: r.Outcome == "aborted" || r.Outcome == "failed" || r.Outcome == dirsync.OutcomeCancelled,
				AbortReason: r.Error, Counts: map[string]int{}, Outcome: r.Outcome, Instance: r.Instance, Server: r.Server,
				Running: r.FinishedAt == nil}
			if len(j.a.dirs) > 1 {
				wr.Directory = r.Directory
			}
			if r.FinishedAt != nil {
				wr.Duration = r.FinishedAt.Sub(r.StartedAt)
			}
			for k, v := range r.Counts {
				wr.Counts[k] = int(v)
			}
			out = append(out, wr)
		}
		return out, nil
	}
}
