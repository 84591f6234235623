package dirsync_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/config"
	"github.com/ldapbridge/ldapbridge/dirsync"
	"github.com/ldapbridge/ldapbridge/internal/slapdtest"
	"github.com/ldapbridge/ldapbridge/sqlite"
)

// liveYAML adds a title to the profile and an is_active flag (membership of
// cn=active), so a title change and a disabled account can be seen.
func liveYAML(y string) string {
	y = strings.Replace(y, "profile: {display_name: displayName}", "profile: {display_name: displayName, title: title}", 1)
	return strings.Replace(y, "    is_staff: \"cn=staff,USERS\"", "    is_staff: \"cn=staff,USERS\"\n    is_active: \"cn=active,USERS\"", 1)
}

// liveRuns records the runs a Live mirror starts.
type liveRuns struct {
	mu      sync.Mutex
	reports []*dirsync.Report
	errs    []error
}

func (r *liveRuns) run(s *dirsync.Syncer) func(context.Context, dirsync.RunOptions) (*dirsync.Report, error) {
	return func(ctx context.Context, ro dirsync.RunOptions) (*dirsync.Report, error) {
		rep, err := s.Run(ctx, ro)
		r.mu.Lock()
		r.reports = append(r.reports, rep)
		r.errs = append(r.errs, err)
		r.mu.Unlock()
		return rep, err
	}
}

// modes returns the mode of every run, and the fallback reasons of the
// full ones.
func (r *liveRuns) modes() (modes []string, reasons []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rep := range r.reports {
		if rep == nil {
			modes = append(modes, "none")
			continue
		}
		modes = append(modes, string(rep.Mode))
		if rep.Mode == dirsync.Full {
			reasons = append(reasons, rep.FallbackReason)
		}
	}
	return modes, reasons
}

// startLive runs a Live mirror of e until the test ends.
func startLive(t *testing.T, e *env, interval time.Duration) (*dirsync.Live, *liveRuns, context.CancelFunc) {
	t.Helper()
	runs := &liveRuns{}
	live := e.sync.NewLive(dirsync.LiveOptions{Interval: interval, Run: runs.run(e.sync)})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- live.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Live.Run returned %v, want context.Canceled", err)
		}
	})
	t.Cleanup(func() {
		if t.Failed() {
			modes, reasons := runs.modes()
			runs.mu.Lock()
			t.Logf("live stats %+v; runs %v (full because %v); errors %v", live.Stats(), modes, reasons, runs.errs)
			for _, r := range runs.reports {
				if r != nil {
					t.Logf("run: %+v", *r)
				}
			}
			runs.mu.Unlock()
		}
	})
	eventually(t, "the live mirror is current", func() bool { return live.Stats().Current })
	return live, runs, cancel
}

// eventually waits (at most a minute; it is not a timing assertion) for
// cond, failing the test with what when it never holds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (e *env) userOrNil(name string) *ldapbridge.User {
	u, err := e.store.User(e.t.Context(), name)
	if err != nil {
		return nil
	}
	return u
}

func TestLiveStreamAppliesChangesWithoutAScheduledRun(t *testing.T) {
	e := newEnv(t, nil, "", envOpts{yaml: liveYAML})
	e.run(dirsync.RunOptions{})
	if a := e.user(slapdtest.JCAliceUID); a.Profile["title"] != "Engineer" || !a.IsActive || !a.Allowed() {
		t.Fatalf("alice after the initial sync: title %q active %v allowed %v", a.Profile["title"], a.IsActive, a.Allowed())
	}
	live, runs, _ := startLive(t, e, time.Second)
	if st := live.Stats(); st.Mode != "stream" || !st.Up {
		t.Fatalf("stats %+v, want an open stream", st)
	}

	// A title change.
	e.srv.Apply(t, "dn: "+slapdtest.JCAliceDN+"\nchangetype: modify\nreplace: title\ntitle: Principal Engineer\n\n")
	eventually(t, "alice's new title in the store", func() bool { return e.user(slapdtest.JCAliceUID).Profile["title"] == "Principal Engineer" })

	// A membership change: erin joins staff, which makes her is_staff.
	e.srv.Apply(t, "dn: "+slapdtest.JCStaffGroupDN+"\nchangetype: modify\nadd: member\nmember: "+slapdtest.JCErinDN+"\n\n")
	eventually(t, "erin staff", func() bool {
		u := e.user(slapdtest.JCErinUID)
		return u.IsStaff && slices.Contains(u.Groups, "staff")
	})

	// A disabled account: bob leaves cn=active, so his stored verdict (what
	// the web session check reads) no longer admits him.
	e.srv.Apply(t, "dn: "+slapdtest.JCActiveGroupDN+"\nchangetype: modify\ndelete: member\nmember: "+slapdtest.JCBobDN+"\n\n")
	eventually(t, "bob inactive and not allowed", func() bool {
		u := e.user(slapdtest.JCBobUID)
		return !u.IsActive && !u.Allowed()
	})

	// A deletion goes through the removal policy (deactivate).
	e.srv.Apply(t, deleteEntry(slapdtest.JCDaveDN))
	eventually(t, "dave removed", func() bool {
		u := e.user(slapdtest.JCDaveUID)
		return !u.IsActive && !u.Allowed() && u.Verdict == ldapbridge.VerdictRemoved
	})

	// A rename keeps the stable id; an added user appears.
	frank := e.user(slapdtest.JCFrankUID)
	e.srv.Apply(t, "dn: "+slapdtest.JCFrankDN+"\nchangetype: modrdn\nnewrdn: uid=frank2\ndeleteoldrdn: 1\n\n"+
		"dn: uid=newbie,"+slapdtest.JCUsersDN+"\nchangetype: add\nobjectClass: inetOrgPerson\nuid: newbie\ncn: New Bie\nsn: Bie\ntitle: Intern\n\n")
	eventually(t, "frank renamed to frank2 and newbie created", func() bool {
		f2, nb := e.userOrNil("frank2"), e.userOrNil("newbie")
		return f2 != nil && f2.StableID == frank.StableID && nb != nil && nb.Profile["title"] == "Intern"
	})
	if u := e.userOrNil(slapdtest.JCFrankUID); u != nil {
		t.Errorf("frank is still stored under his old name: %+v", u)
	}

	modes, reasons := runs.modes()
	if slices.Contains(modes, string(dirsync.Full)) || slices.Contains(modes, "none") {
		t.Errorf("live runs %v (full because %v); want every one incremental", modes, reasons)
	}
	eventually(t, "events counted", func() bool { return live.Stats().EventsApplied >= 6 })
	if st := live.Stats(); st.Reconnects != 0 || !st.Current || st.LastError != "" {
		t.Errorf("stats %+v; want no reconnect, current, no error", st)
	}
}

func TestLiveDeletionsGoThroughTheRemovalGuard(t *testing.T) {
	e := newEnv(t, nil, "", envOpts{yaml: liveYAML, maxRemovals: "0"})
	e.run(dirsync.RunOptions{})
	live, runs, _ := startLive(t, e, time.Second)
	e.srv.Apply(t, deleteEntry(slapdtest.JCDaveDN))
	eventually(t, "a live run stopped by the guard", func() bool {
		runs.mu.Lock()
		defer runs.mu.Unlock()
		return slices.ContainsFunc(runs.errs, func(err error) bool { return errors.Is(err, dirsync.ErrGuard) })
	})
	if u := e.user(slapdtest.JCDaveUID); !u.IsActive {
		t.Errorf("dave was deactivated although sync.max_removals is 0")
	}
	if st := live.Stats(); st.Current || !strings.Contains(st.LastError, "max_removals") {
		t.Errorf("stats %+v; want not current, with the guard's error", st)
	}
}

func TestLiveStreamResumesFromItsCookieAfterSlapdRestarts(t *testing.T) {
	e := newEnv(t, nil, "", envOpts{yaml: liveYAML})
	e.run(dirsync.RunOptions{})
	live, runs, _ := startLive(t, e, 200*time.Millisecond)
	e.srv.Apply(t, "dn: "+slapdtest.JCAliceDN+"\nchangetype: modify\nreplace: title\ntitle: Before Restart\n\n")
	eventually(t, "alice's first title", func() bool { return e.user(slapdtest.JCAliceUID).Profile["title"] == "Before Restart" })

	e.srv.Stop(t)
	eventually(t, "the stream noticed", func() bool { return !live.Stats().Up })
	if live.Stats().Current {
		t.Errorf("the live mirror says it is current while slapd is down")
	}
	e.srv.Start(t)
	e.srv.Apply(t, "dn: "+slapdtest.JCAliceDN+"\nchangetype: modify\nreplace: title\ntitle: After Restart\n\n"+
		deleteEntry(slapdtest.JCDaveDN))
	eventually(t, "the changes after the restart", func() bool {
		return e.user(slapdtest.JCAliceUID).Profile["title"] == "After Restart" && e.user(slapdtest.JCDaveUID).Verdict == ldapbridge.VerdictRemoved
	})
	st := live.Stats()
	if st.Reconnects < 1 {
		t.Errorf("stats %+v; want at least one reconnect", st)
	}
	modes, reasons := runs.modes()
	if slices.Contains(modes, string(dirsync.Full)) {
		t.Errorf("live runs %v (full because %v); want every one incremental: the runs resume from the stored cookie", modes, reasons)
	}
	eventually(t, "current again", func() bool { return live.Stats().Current })
}

// idleProxy forwards TCP connections to target and cuts any that carried
// no byte in either direction for idle, as a NAT or firewall does.
type idleProxy struct {
	ln    net.Listener
	cuts  atomic.Int64
	idle  time.Duration
	wg    sync.WaitGroup
	close chan struct{}
}

func startIdleProxy(t *testing.T, target string, idle time.Duration) *idleProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &idleProxy{ln: ln, idle: idle, close: make(chan struct{})}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				p.serve(c, target)
			}()
		}
	}()
	t.Cleanup(func() {
		close(p.close)
		ln.Close()
		p.wg.Wait()
	})
	return p
}

func (p *idleProxy) serve(c net.Conn, target string) {
	defer c.Close()
	s, err := net.Dial("tcp", target)
	if err != nil {
		return
	}
	defer s.Close()
	var last atomic.Int64
	last.Store(time.Now().UnixNano())
	copyConn := func(dst, src net.Conn) {
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				last.Store(time.Now().UnixNano())
				if _, werr := dst.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	}
	done := make(chan struct{}, 2)
	go func() { copyConn(s, c); done <- struct{}{} }()
	go func() { copyConn(c, s); done <- struct{}{} }()
	t := time.NewTicker(p.idle / 10)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-p.close:
			return
		case <-t.C:
			if time.Since(time.Unix(0, last.Load())) > p.idle {
				p.cuts.Add(1)
				// A silent cut: the peers learn of it only when they write.
				c.Close()
				s.Close()
				return
			}
		}
	}
}

func TestLiveStreamSurvivesIdlePeriodsLongerThanItsKeepAlive(t *testing.T) {
	srv := slapdtest.Start(t, slapdtest.Options{Fixtures: []string{slapdtest.JumpCloud}})
	const idle = 600 * time.Millisecond
	through := func(t *testing.T, interval time.Duration) (*env, *dirsync.Live, *idleProxy) {
		proxy := startIdleProxy(t, strings.TrimPrefix(srv.URL, "ldap://"), idle)
		e := newEnv(t, srv, "", envOpts{yaml: func(y string) string {
			return strings.Replace(liveYAML(y), "urls: [URL]", "urls: [ldap://"+proxy.ln.Addr().String()+"]", 1)
		}})
		e.run(dirsync.RunOptions{})
		live, _, _ := startLive(t, e, interval)
		return e, live, proxy
	}

	t.Run("KeepAliveShorterThanTheIdleCut", func(t *testing.T) {
		e, live, _ := through(t, idle/4)
		time.Sleep(5 * idle) // idle, several times the keep-alive and the cut
		if st := live.Stats(); st.Reconnects != 0 || !st.Up {
			t.Fatalf("after %s idle with a %s keep-alive: %+v; want the stream kept open", 5*idle, idle/4, st)
		}
		e.srv.Apply(t, "dn: "+slapdtest.JCCarolDN+"\nchangetype: modify\nreplace: title\ntitle: CEO\n\n")
		eventually(t, "carol's title over the kept stream", func() bool { return e.user(slapdtest.JCCarolUID).Profile["title"] == "CEO" })
		if st := live.Stats(); st.Reconnects != 0 {
			t.Errorf("stats %+v; want no reconnect", st)
		}
	})

	// The same idle period without a keep-alive in it: the proxy cuts the
	// stream, which shows the cut is real; the mirror reconnects and still
	// applies the next change.
	t.Run("NoKeepAliveWithinTheIdleCut", func(t *testing.T) {
		e, live, proxy := through(t, time.Minute)
		eventually(t, "the proxy cut the idle stream", func() bool { return proxy.cuts.Load() > 0 })
		e.srv.Apply(t, "dn: "+slapdtest.JCCarolDN+"\nchangetype: modify\nreplace: title\ntitle: Chair\n\n")
		eventually(t, "carol's title after the cut", func() bool { return e.user(slapdtest.JCCarolUID).Profile["title"] == "Chair" })
		t.Logf("after the cut: %+v", live.Stats())
	})
}

// mirrorYAML is liveYAML with sync.live and access.login_source: mirror.
func mirrorYAML(y string) string {
	y = strings.Replace(liveYAML(y), "\naccess:\n", "\naccess:\n  login_source: mirror\n  mirror_max_lag: 10s\n", 1)
	return strings.Replace(y, "\nsync:\n", "\nsync:\n  live: true\n", 1)
}

// clock is a MirrorClock with a fixed answer.
type clock struct {
	lag     time.Duration
	current bool
}

func (c clock) Lag() (time.Duration, bool) { return c.lag, c.current }

func TestMirrorLoginIsOneBindAndFallsBack(t *testing.T) {
	e := newEnv(t, nil, "", envOpts{yaml: mirrorYAML})
	ctx := t.Context()
	login := func(name, pw string) (*ldapbridge.User, bool, string, [2]int64) {
		t.Helper()
		before := e.dir.Dir.Stats()
		res, err := e.auth.Authenticate(ctx, name, pw)
		if err != nil {
			t.Fatalf("login %s: %v", name, err)
		}
		after := e.dir.Dir.Stats()
		return res.User, res.FromMirror, string(res.Outcome), [2]int64{after.Binds - before.Binds, after.Searches - before.Searches}
	}

	// The user is unknown to the store: the directory path, which stores her.
	e.auth.SetMirror(clock{0, true})
	if _, mirror, outcome, _ := login(slapdtest.JCAliceUID, slapdtest.JCAlicePassword); mirror || outcome != "ok" {
		t.Fatalf("first login of alice (not stored): from mirror %v, outcome %s; want the directory path, ok", mirror, outcome)
	}
	login(slapdtest.JCAliceUID, slapdtest.JCAlicePassword) // warms the auth connection
	u, mirror, outcome, ops := login(slapdtest.JCAliceUID, slapdtest.JCAlicePassword)
	if !mirror || outcome != "ok" || u == nil || u.Username != slapdtest.JCAliceUID || u.LastLoginAt == nil {
		t.Fatalf("stored alice with a current mirror: from mirror %v, outcome %s, user %+v; want a mirror login", mirror, outcome, u)
	}
	if ops != [2]int64{1, 0} {
		t.Errorf("a mirror login made %d binds and %d searches; want exactly one bind", ops[0], ops[1])
	}
	// A wrong password: the directory refuses the bind, and the directory
	// path words the refusal.
	if _, mirror, outcome, _ := login(slapdtest.JCAliceUID, "wrong"); mirror || outcome != "bad_credentials" {
		t.Errorf("wrong password: from mirror %v, outcome %s; want the directory path's bad_credentials", mirror, outcome)
	}
	// A mirror further behind than access.mirror_max_lag.
	e.auth.SetMirror(clock{20 * time.Second, true})
	if _, mirror, outcome, ops := login(slapdtest.JCAliceUID, slapdtest.JCAlicePassword); mirror || outcome != "ok" || ops[1] == 0 {
		t.Errorf("mirror 20s behind: from mirror %v, outcome %s, %d searches; want the directory path", mirror, outcome, ops[1])
	}

	// The real live mirror: current while its stream runs, then stopped.
	e.run(dirsync.RunOptions{})
	live, _, stop := startLive(t, e, time.Minute)
	e.auth.SetMirror(live)
	if _, mirror, _, ops := login(slapdtest.JCBobUID, slapdtest.JCBobPassword); !mirror || ops != [2]int64{1, 0} {
		t.Errorf("bob with the stream running: from mirror %v, %d binds %d searches; want one bind", mirror, ops[0], ops[1])
	}
	// bob is disabled in the directory: the stream applies it and the
	// mirror no longer admits him; the directory path says inactive.
	e.srv.Apply(t, "dn: "+slapdtest.JCActiveGroupDN+"\nchangetype: modify\ndelete: member\nmember: "+slapdtest.JCBobDN+"\n\n")
	eventually(t, "bob disabled in the store", func() bool { return !e.user(slapdtest.JCBobUID).Allowed() })
	if _, mirror, outcome, _ := login(slapdtest.JCBobUID, slapdtest.JCBobPassword); mirror || outcome != "inactive" {
		t.Errorf("disabled bob: from mirror %v, outcome %s; want the directory path's inactive", mirror, outcome)
	}
	stop()
	eventually(t, "the stopped mirror says it is not current", func() bool { _, ok := live.Lag(); return !ok })
	if _, mirror, outcome, ops := login(slapdtest.JCCarolUID, slapdtest.JCCarolPassword); mirror || outcome != "ok" || ops[1] == 0 {
		t.Errorf("carol with the stream stopped: from mirror %v, outcome %s, %d searches; want the directory path", mirror, outcome, ops[1])
	}
}

// Without a stored cookie the stream starts from the server's current
// state: a stream from the whole content would meet the bind account's
// size limit (5 here, below the 11 fixture users) and never open.
func TestLiveStreamWithoutAStoredCookieStartsFromTheServersState(t *testing.T) {
	srv := slapdtest.Start(t, slapdtest.Options{Fixtures: []string{slapdtest.JumpCloud}, SizeLimit: 5})
	e := newEnv(t, srv, "", envOpts{yaml: liveYAML})
	live, runs, _ := startLive(t, e, time.Second)
	eventually(t, "the first live run", func() bool { modes, _ := runs.modes(); return len(modes) > 0 })
	if modes, _ := runs.modes(); modes[0] != string(dirsync.Full) || e.userOrNil(slapdtest.JCAliceUID) == nil {
		t.Errorf("live runs %v; want the first one full (there is no cursor)", modes)
	}
	e.srv.Apply(t, "dn: "+slapdtest.JCAliceDN+"\nchangetype: modify\nreplace: title\ntitle: Streamed\n\n")
	eventually(t, "alice's title", func() bool { return e.user(slapdtest.JCAliceUID).Profile["title"] == "Streamed" })
	if st := live.Stats(); st.Reconnects != 0 {
		t.Errorf("stats %+v; want the stream opened once", st)
	}
}

// LiveOptions.Lead (on PostgreSQL, the sync leadership) decides who holds
// the stream: while it says no, the mirror opens nothing and runs nothing;
// once it says yes the stream opens; when it says no again the stream
// closes.
func TestLiveHoldsTheStreamOnlyWhileItLeads(t *testing.T) {
	e := newEnv(t, nil, "", envOpts{yaml: liveYAML})
	e.run(dirsync.RunOptions{})
	var leads atomic.Bool
	var asked atomic.Int64
	runs := &liveRuns{}
	live := e.sync.NewLive(dirsync.LiveOptions{Interval: 100 * time.Millisecond, Run: runs.run(e.sync),
		Lead: func(context.Context) (bool, error) { asked.Add(1); return leads.Load(), nil }})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- live.Run(ctx) }()
	defer func() { cancel(); <-done }()

	e.srv.Apply(t, "dn: "+slapdtest.JCAliceDN+"\nchangetype: modify\nreplace: title\ntitle: Led\n\n")
	eventually(t, "the lead asked three times", func() bool { return asked.Load() >= 3 })
	if st := live.Stats(); st.Up || st.Current || st.Runs != 0 {
		t.Fatalf("not leading: %+v; want no stream and no run", st)
	}
	if got := e.user(slapdtest.JCAliceUID).Profile["title"]; got == "Led" {
		t.Fatalf("a follower applied a change")
	}
	leads.Store(true)
	eventually(t, "the new leader's stream and catch-up run", func() bool {
		return live.Stats().Current && e.user(slapdtest.JCAliceUID).Profile["title"] == "Led"
	})
	leads.Store(false)
	eventually(t, "the stream closed after the lead was lost", func() bool { st := live.Stats(); return !st.Up && !st.Current })
}

// A stream that fails over to the second of directory.urls, where the
// stored cursor (kept per server) is not valid, is followed by a full run.
func TestLiveFailoverToAnotherURLRunsFull(t *testing.T) {
	a := slapdtest.Start(t, slapdtest.Options{Fixtures: []string{slapdtest.JumpCloud}})
	b := slapdtest.Start(t, slapdtest.Options{Fixtures: []string{slapdtest.JumpCloud}})
	e := newEnv(t, a, "", envOpts{yaml: func(y string) string {
		return strings.Replace(liveYAML(y), "urls: [URL]", "urls: ["+a.URL+", "+b.URL+"]", 1)
	}})
	e.run(dirsync.RunOptions{})
	live, runs, _ := startLive(t, e, 200*time.Millisecond)
	a.Stop(t)
	eventually(t, "a full run against the second URL", func() bool {
		runs.mu.Lock()
		defer runs.mu.Unlock()
		for _, r := range runs.reports {
			if r != nil && r.Mode == dirsync.Full && r.Server == b.URL && strings.Contains(r.FallbackReason, "no cursor for "+b.URL) {
				return true
			}
		}
		return false
	})
	b.Apply(t, "dn: "+slapdtest.JCAliceDN+"\nchangetype: modify\nreplace: title\ntitle: On B\n\n")
	eventually(t, "a change on the second server", func() bool { return e.user(slapdtest.JCAliceUID).Profile["title"] == "On B" })
	if st := live.Stats(); st.Reconnects < 1 {
		t.Errorf("stats %+v; want the stream reopened on the second URL", st)
	}
}

// countingEnv is an env whose syncer (a full run done) reads and writes
// through a countingStore.
func countingEnv(t *testing.T, yaml func(string) string) (*env, *countingStore, *dirsync.Syncer) {
	t.Helper()
	e := newEnv(t, nil, "", envOpts{yaml: yaml})
	y := strings.NewReplacer("URL", e.srv.URL, "BINDDN", slapdtest.JCServiceDN, "PASSWORD", slapdtest.JCServicePassword,
		"USERS", slapdtest.JCUsersDN, "DSN", "unused.db", "POLICY", "deactivate", "MAXREM", `"50%"`,
		"SYNCFILTER", "(objectClass=inetOrgPerson)").Replace(yaml(syncConfig))
	cfg, err := config.Parse([]byte(y), config.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cs := &countingStore{Store: e.store}
	s, err := dirsync.New(dirsync.Options{Config: cfg, Dir: e.dir, Store: cs, Mapper: e.auth.Mapper()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Run(t.Context(), dirsync.RunOptions{Mode: dirsync.Full}); err != nil {
		t.Fatal(err)
	}
	if cs.states.Load() == 0 || cs.memberships.Load() == 0 {
		t.Fatalf("the counting store saw no full run: %v", cs)
	}
	e.sync = s
	return e, cs, s
}

// With groups.nested a change of a group's user members is applied
// directly too (the group's member groups compared with the stored ones,
// one listing of the groups); a member group added is a whole run.
func TestLiveNestedGroupMemberChange(t *testing.T) {
	e, cs, _ := countingEnv(t, liveYAML)
	live, runs, _ := startLive(t, e, time.Second)
	eventually(t, "the live mirror settled and counted", func() bool {
		runs.mu.Lock()
		n := len(runs.reports)
		runs.mu.Unlock()
		lag, current := live.Lag()
		return n > 0 && lag == 0 && current && cs.states.Load() >= 3
	})
	cs.reset()
	e.srv.Apply(t, "dn: "+slapdtest.JCStaffGroupDN+"\nchangetype: modify\nadd: member\nmember: "+slapdtest.JCErinDN+"\n\n")
	eventually(t, "erin staff", func() bool {
		u := e.user(slapdtest.JCErinUID)
		return u.IsStaff && slices.Contains(u.Groups, "staff")
	})
	if cs.states.Load() != 0 || cs.memberships.Load() != 0 || cs.groupLists.Load() != 1 || cs.userWrites.Load() != 1 {
		t.Errorf("a user joining a group with groups.nested: %v; want one group listing, no other, one user written", cs)
	}

	// nina is in backend, which is in engineering: engineering listing
	// staff as a member group makes her staff, through a whole run.
	e.srv.Apply(t, "dn: "+slapdtest.JCStaffGroupDN+"\nchangetype: modify\nadd: member\nmember: "+slapdtest.JCEngineeringGroupDN+"\n\n")
	eventually(t, "nina staff", func() bool { return e.user(slapdtest.JCNinaUID).IsStaff })
}

// countingStore counts the store reads that grow with the store (every
// user state, every membership, every group) and the users written.
type countingStore struct {
	*sqlite.Store
	states, memberships, groupLists atomic.Int64
	listed                          atomic.Int64 // users returned by ListUsers (a group's members)
	userWrites                      atomic.Int64
}

func (c *countingStore) SyncUserStates(ctx context.Context, fn func(ldapbridge.SyncUserState) error) error {
	c.states.Add(1)
	return c.Store.SyncUserStates(ctx, fn)
}

func (c *countingStore) Memberships(ctx context.Context) ([]ldapbridge.Membership, error) {
	c.memberships.Add(1)
	return c.Store.Memberships(ctx)
}

func (c *countingStore) ListGroups(ctx context.Context) ([]*ldapbridge.Group, error) {
	c.groupLists.Add(1)
	return c.Store.ListGroups(ctx)
}

func (c *countingStore) ListUsers(ctx context.Context, q ldapbridge.UserQuery) ([]*ldapbridge.User, error) {
	us, err := c.Store.ListUsers(ctx, q)
	c.listed.Add(int64(len(us)))
	return us, err
}

func (c *countingStore) InTx(ctx context.Context, fn func(tx ldapbridge.Store) error) error {
	return c.Store.InTx(ctx, func(tx ldapbridge.Store) error {
		return fn(&countingTx{Store: tx, ChangeLog: tx.(ldapbridge.ChangeLog), c: c})
	})
}

func (c *countingStore) reset() {
	for _, n := range []*atomic.Int64{&c.states, &c.memberships, &c.groupLists, &c.listed, &c.userWrites} {
		n.Store(0)
	}
}

func (c *countingStore) String() string {
	return fmt.Sprintf("user-state listings %d, membership listings %d, group listings %d, group members read %d, users written %d",
		c.states.Load(), c.memberships.Load(), c.groupLists.Load(), c.listed.Load(), c.userWrites.Load())
}

// countingTx counts the users a transaction writes; it keeps the change log.
type countingTx struct {
	ldapbridge.Store
	ldapbridge.ChangeLog
	c *countingStore
}

func (t *countingTx) CreateUser(ctx context.Context, u *ldapbridge.User) error {
	t.c.userWrites.Add(1)
	return t.Store.CreateUser(ctx, u)
}

func (t *countingTx) UpdateUser(ctx context.Context, u *ldapbridge.User) error {
	t.c.userWrites.Add(1)
	return t.Store.UpdateUser(ctx, u)
}

func (t *countingTx) DeleteUser(ctx context.Context, id int64) error {
	t.c.userWrites.Add(1)
	return t.Store.DeleteUser(ctx, id)
}

// A live event costs what the change costs: a title change, a membership
// change and a deletion are applied without listing the store's users,
// groups or memberships, writing only the users they change, through the
// change log like any sync run.
func TestLiveEventsDoNotReadTheWholeStore(t *testing.T) {
	flat := func(y string) string { return strings.Replace(liveYAML(y), "  nested: true\n", "  nested: false\n", 1) }
	e, cs, s := countingEnv(t, flat)
	live, runs, _ := startLive(t, e, time.Second)
	ctx := t.Context()
	settled := func() int {
		t.Helper()
		eventually(t, "the live mirror settled", func() bool {
			runs.mu.Lock()
			n := len(runs.reports)
			runs.mu.Unlock()
			lag, current := live.Lag()
			return n > 0 && lag == 0 && current
		})
		runs.mu.Lock()
		defer runs.mu.Unlock()
		return len(runs.reports)
	}
	// applied waits for the change and returns the live run that applied
	// it, one of the runs from the from-th on.
	var from int
	applied := func(what string, done func() bool) *dirsync.Report {
		t.Helper()
		eventually(t, what, done)
		settled()
		runs.mu.Lock()
		defer runs.mu.Unlock()
		for i := len(runs.reports) - 1; i >= from; i-- {
			if r := runs.reports[i]; r != nil && runs.errs[i] == nil && r.UsersUpdated+r.UsersDeactivated > 0 {
				return r
			}
		}
		t.Fatalf("%s: no successful live run changed a user", what)
		return nil
	}
	changes := func(rep *dirsync.Report, kind string) []*ldapbridge.Change {
		t.Helper()
		cs, err := e.store.Changes(ctx, ldapbridge.ChangeQuery{RunID: rep.RunID, Kind: kind})
		if err != nil {
			t.Fatal(err)
		}
		return cs
	}

	// After its first run the mirror counts the active users (for the
	// removal guard's percentage) beside the runs: the full run, the
	// catch-up run and that count list the user states.
	from = settled()
	eventually(t, "the active users counted", func() bool { return cs.states.Load() >= 3 })

	// A title change: one user read by DN, one user written.
	cs.reset()
	e.srv.Apply(t, "dn: "+slapdtest.JCAliceDN+"\nchangetype: modify\nreplace: title\ntitle: Staff Engineer\n\n")
	rep := applied("alice's new title", func() bool { return e.user(slapdtest.JCAliceUID).Profile["title"] == "Staff Engineer" })
	if cs.states.Load() != 0 || cs.memberships.Load() != 0 || cs.groupLists.Load() != 0 || cs.listed.Load() != 0 || cs.userWrites.Load() != 1 {
		t.Errorf("a title change: %v; want no listing and one user written", cs)
	}
	if rep.Mode != dirsync.Incremental || rep.UsersUpdated != 1 || rep.UsersCreated+rep.UsersDeactivated != 0 {
		t.Errorf("the title change's run: %+v", rep)
	}
	if c := changes(rep, ldapbridge.ChangeUser); len(c) != 1 || c[0].User != slapdtest.JCAliceUID || !slices.Contains(c[0].Fields, "profile.title") {
		t.Errorf("the change log of the title change's run: %+v", c)
	}

	// A membership change: the group's stored members are diffed with its
	// entry, and only erin is judged again and written.
	from = settled()
	cs.reset()
	e.srv.Apply(t, "dn: "+slapdtest.JCStaffGroupDN+"\nchangetype: modify\nadd: member\nmember: "+slapdtest.JCErinDN+"\n\n")
	rep = applied("erin staff", func() bool {
		u := e.user(slapdtest.JCErinUID)
		return u.IsStaff && slices.Contains(u.Groups, "staff")
	})
	staff, err := e.store.ListUsers(ctx, ldapbridge.UserQuery{Group: "staff"})
	if err != nil {
		t.Fatal(err)
	}
	if cs.states.Load() != 0 || cs.memberships.Load() != 0 || cs.groupLists.Load() != 0 || cs.listed.Load() > int64(len(staff)) || cs.userWrites.Load() != 1 {
		t.Errorf("a membership change: %v; want no listing, at most staff's %d members read and one user written", cs, len(staff))
	}
	if c := changes(rep, ldapbridge.ChangeMembership); len(c) != 1 || c[0].User != slapdtest.JCErinUID || c[0].Group != "staff" || c[0].Action != ldapbridge.ActionAdded {
		t.Errorf("the change log of the membership change's run: %+v", c)
	}
	if c := changes(rep, ldapbridge.ChangeUser); len(c) != 1 || !slices.Contains(c[0].Fields, "is_staff") {
		t.Errorf("the user changes of the membership change's run: %+v", c)
	}

	// A deletion goes through the removal guard, with the count of active
	// users the mirror keeps.
	from = settled()
	cs.reset()
	e.srv.Apply(t, deleteEntry(slapdtest.JCDaveDN))
	rep = applied("dave removed", func() bool { return e.user(slapdtest.JCDaveUID).Verdict == ldapbridge.VerdictRemoved })
	if cs.states.Load() != 0 || cs.memberships.Load() != 0 || cs.groupLists.Load() != 0 || cs.userWrites.Load() != 1 {
		t.Errorf("a deletion: %v; want no listing and one user written", cs)
	}
	if c := changes(rep, ldapbridge.ChangeUser); rep.UsersDeactivated != 1 || len(c) != 1 || c[0].Action != ldapbridge.ActionDeactivated {
		t.Errorf("the deletion's run %+v, changes %+v", rep, c)
	}
	from = settled()
	cs.reset()
	e.srv.Apply(t, deleteEntry(slapdtest.JCCarolDN))
	applied("carol removed", func() bool { return e.user(slapdtest.JCCarolUID).Verdict == ldapbridge.VerdictRemoved })
	if cs.states.Load() != 0 || cs.userWrites.Load() != 1 {
		t.Errorf("a second deletion: %v; want no listing and one user written", cs)
	}

	// The store is what a whole run makes of the directory: a full run
	// afterwards changes nothing.
	full, err := s.Run(ctx, dirsync.RunOptions{Mode: dirsync.Full})
	if err != nil {
		t.Fatal(err)
	}
	if full.UsersCreated+full.UsersUpdated+full.UsersDeactivated+full.MembershipsAdded+full.MembershipsRemoved != 0 {
		t.Errorf("a full run after the live runs changed the store: %+v", full.Plan)
	}
}
