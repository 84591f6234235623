package main

import (
	"sync"
	"time"

	"github.com/ldapbridge/ldapbridge/dirsync"
	"github.com/ldapbridge/ldapbridge/web"
)

// adminDeps fills what the web app's admin pages read from the
// configuration of a — the access rules, to mark the groups they name, and
// the service account (directory.bind_dn), to leave it out of the users —
// and the store they (de)activate local accounts through.
func adminDeps(a *app, deps *web.Deps) {
	deps.Access = a.cfg.Access
	deps.ServiceAccountDN = a.cfg.Directory.BindDN
	deps.LocalUsers = a.store
	for _, d := range a.cfg.Directories() {
		deps.Directories = append(deps.Directories, d.Name())
	}
	// /password, when access.password_change is on.
	deps.Passwords = a.login
}

// liveSync is the progress of the sync running in this process, which
// the admin page polls. Its methods are safe for concurrent use.
type liveSync struct {
	mu sync.Mutex
	p  web.SyncProgress
}

// begin marks a sync started by why (schedule, admin (name), ...) as running.
func (l *liveSync) begin(why string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.p = web.SyncProgress{Running: true, StartedAt: time.Now(), StartedBy: why}
}

// update records the running sync's progress; it is the syncer's
// Options.Progress.
func (l *liveSync) update(p dirsync.Progress) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.p.Running {
		l.p.Phase, l.p.Read, l.p.Applied = p.Phase, p.Read, p.Applied
	}
}

// end marks the sync as finished.
func (l *liveSync) end() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.p = web.SyncProgress{}
}

// get returns the progress now; Running is false between syncs.
func (l *liveSync) get() web.SyncProgress {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.p
}
