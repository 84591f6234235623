package main

import (
	"context"
	"errors"
	"time"

	"github.com/ldapbridge/ldapbridge/dirsync"
	"github.com/ldapbridge/ldapbridge/metrics"
	"github.com/ldapbridge/ldapbridge/sqlite"
)

// busyElsewhere reports whether err is the store's sync lock refusing a
// sync because another process or instance runs one.
func busyElsewhere(err error) bool {
	var held *sqlite.SyncRunningError
	return errors.Is(err, errSyncElsewhere) || errors.As(err, &held)
}

// leadChecker is a tickClaimer that can also say, without claiming a tick,
// whether this instance leads the syncs (postgres.Leader).
type leadChecker interface {
	Lead(ctx context.Context) (bool, error)
}

// startLive starts the live mirror (sync.live) when the configuration asks
// for it: a goroutine the job owns, stopped with the scheduler (a reload
// retires it and the new job starts its own) or with the job. Its first
// run is the initial sync (incremental from the stored cursor, or full
// without one); then every directory change runs an incremental sync
// through the job, so live runs take the store's sync lock, are recorded
// and feed the metrics like any other. Scheduled runs keep running beside
// it. On PostgreSQL only the sync leader holds the stream. Logins with
// access.login_source: mirror read its clock.
func (j *syncJob) startLive() {
	cfg := j.a.cfg
	if !cfg.Sync.Live || !j.enter() {
		return
	}
	opts := dirsync.LiveOptions{Interval: dirsync.LiveInterval(cfg), Run: j.liveRun}
	if l, ok := j.leader.(leadChecker); ok {
		opts.Lead = l.Lead
	}
	live := j.syncer.NewLive(opts)
	j.a.auth.SetMirror(live)
	j.metrics.ObserveLive(func() metrics.LiveSnapshot {
		st := live.Stats()
		return metrics.LiveSnapshot{Lag: st.Lag, Current: st.Current, EventsApplied: st.EventsApplied, Reconnects: st.Reconnects}
	})
	ctx := j.sched
	go func() {
		defer j.wg.Done()
		j.a.log.Info("live mirror starting", "interval", opts.Interval, "login_source", cfg.Access.LoginSource)
		err := live.Run(ctx)
		j.a.auth.SetMirror(nil)
		if err != nil && !errors.Is(err, context.Canceled) {
			j.a.log.Error("live mirror stopped; the store is kept current by the scheduled syncs only", "err", err)
		}
	}()
}

// liveRun runs one live sync through the job, waiting (rather than being
// refused) while another sync runs, in this process or, by the store's
// sync lock, elsewhere: the mirror's lag grows meanwhile, so mirror logins
// fall back to the directory once it passes access.mirror_max_lag.
func (j *syncJob) liveRun(ctx context.Context, ro dirsync.RunOptions) (*dirsync.Report, error) {
	for {
		res, err := j.reserve()
		if err == nil {
			var rep *dirsync.Report
			if rep, err = j.runReserved(ctx, res, ro, "live"); !busyElsewhere(err) {
				return rep, err
			}
		} else if !errors.Is(err, errSyncRunning) {
			return nil, err
		}
		t := time.NewTimer(250 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}
