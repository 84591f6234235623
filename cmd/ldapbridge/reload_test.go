package main

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/ldapbridge/ldapbridge/internal/slapdtest"
	"github.com/ldapbridge/ldapbridge/web"
)

// lockedBuffer is an io.Writer safe for the serve goroutine and the test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// signsIn reports whether POST /login as user gives a session (303 and a
// cookie); a refusal re-renders the form.
func signsIn(t *testing.T, base, user, password string) bool {
	t.Helper()
	req, _ := http.NewRequest("POST", base+"/login", strings.NewReader(url.Values{"username": {user}, "password": {password}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", base)
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for _, c := range resp.Cookies() {
		if c.Name == "ldapbridge_session" && c.Value != "" && resp.StatusCode == http.StatusSeeOther {
			return true
		}
	}
	return false
}

// readyWatch polls /readyz until stopped and keeps every answer that was
// not 200.
type readyWatch struct {
	polls int
	bad   []string
	stop  chan struct{}
	done  chan struct{}
}

func watchReady(base string) *readyWatch {
	w := &readyWatch{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		client := &http.Client{Timeout: 5 * time.Second}
		for {
			select {
			case <-w.stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			resp, err := client.Get(base + "/readyz")
			w.polls++
			switch {
			case err != nil:
				w.bad = append(w.bad, err.Error())
			case resp.StatusCode != http.StatusOK:
				w.bad = append(w.bad, resp.Status)
			}
			if err == nil {
				resp.Body.Close()
			}
		}
	}()
	return w
}

func (w *readyWatch) end() (polls int, bad []string) {
	close(w.stop)
	<-w.done
	return w.polls, w.bad
}

// TestSIGHUPReloadsTheConfigurationAndKeepsItWhenInvalid runs serve
// in-process and sends this process a real SIGHUP: a new access.require and
// sync schedule take effect, web.listen is reported as needing a restart,
// /readyz answers 200 throughout; then an invalid file is logged with its
// problem and the running configuration is kept.
func TestSIGHUPReloadsTheConfigurationAndKeepsItWhenInvalid(t *testing.T) {
	s := slapdtest.Start(t, slapdtest.Options{Fixtures: []string{slapdtest.JumpCloud}})
	t.Setenv(minIntervalEnv, "1s")
	listen := freeAddr(t)
	var dsn string
	c := tutorialCLI(t, s, func(y string) string {
		i := strings.LastIndex(y, "dsn: ")
		dsn = strings.TrimSuffix(strings.TrimSpace(y[i+len("dsn: "):]), "}")
		return y + "web: {listen: '" + listen + "'}\n"
	})
	orig, err := os.ReadFile(c.config)
	if err != nil {
		t.Fatal(err)
	}
	const require = `require: "cn=Django App,`
	if !strings.Contains(string(orig), require) || !strings.Contains(string(orig), "schedule: 30m") {
		t.Fatalf("the tutorial config changed; update this test:\n%s", orig)
	}

	var stdout, logs lockedBuffer
	ctx, cancel := context.WithCancel(context.Background())
	exited := make(chan int, 1)
	go func() {
		exited <- run(ctx, []string{"--config", c.config, "--log-level", "info", "serve"}, strings.NewReader(""), &stdout, &logs)
	}()
	defer func() {
		cancel()
		select {
		case code := <-exited:
			if code != 0 {
				t.Errorf("serve exited %d\n%s", code, logs.String())
			}
		case <-time.After(15 * time.Second):
			t.Errorf("serve still running 15s after its context ended")
		}
	}()
	if !waitFor(20*time.Second, func() bool { return strings.Contains(stdout.String(), "ldapbridge is serving on") }) {
		t.Fatalf("serve did not start:\n%s", logs.String())
	}
	base := "http://" + listen
	if !signsIn(t, base, "alice", slapdtest.JCAlicePassword) || !signsIn(t, base, "bob", slapdtest.JCBobPassword) {
		t.Fatalf("before the reload alice and bob (both in Django App) must sign in\n%s", logs.String())
	}

	ready := watchReady(base)
	hup := func(wantLog string, n int) {
		t.Helper()
		if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		if !waitFor(20*time.Second, func() bool { return strings.Count(logs.String(), wantLog) == n }) {
			t.Fatalf("no %q (#%d) in the log after SIGHUP:\n%s", wantLog, n, logs.String())
		}
	}

	// A valid change: only staff may sign in, a sync every second, and a
	// new web.listen, which needs a restart.
	staff := strings.Replace(string(orig), require, `require: "cn=staff,`, 1)
	staff = strings.Replace(staff, "schedule: 30m", "schedule: 1s", 1)
	staff = strings.Replace(staff, "web: {listen: '"+listen+"'}", "web: {listen: '127.0.0.1:1'}", 1)
	if err := os.WriteFile(c.config, []byte(staff), 0o600); err != nil {
		t.Fatal(err)
	}
	hup("msg=\"configuration reloaded\"", 1)
	if log := logs.String(); !strings.Contains(log, "needs_restart=web.listen") {
		t.Errorf("the changed web.listen is not reported as needing a restart:\n%s", log)
	}
	if signsIn(t, base, "alice", slapdtest.JCAlicePassword) {
		t.Errorf("alice (not in staff) signed in after the reload to require staff")
	}
	if !signsIn(t, base, "bob", slapdtest.JCBobPassword) {
		t.Errorf("bob (in staff) cannot sign in after the reload, still on the old address\n%s", logs.String())
	}
	db, err := sql.Open("sqlite", "file:"+dsn+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var runs int
	if !waitFor(15*time.Second, func() bool {
		return db.QueryRow(`SELECT count(*) FROM sync_runs WHERE finished_at IS NOT NULL`).Scan(&runs) == nil && runs >= 2
	}) {
		t.Errorf("%d finished scheduled syncs within 15s of the reload to schedule: 1s; want at least 2\n%s", runs, logs.String())
	}

	// An invalid file: logged with its problem, the staff rule stays.
	bad := strings.Replace(staff, "directory:\n", "directory:\n  start_tls: true\n", 1)
	if err := os.WriteFile(c.config, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	hup("configuration NOT reloaded", 1)
	if log := logs.String(); !strings.Contains(log[strings.Index(log, "configuration NOT reloaded"):], "start_tls") {
		t.Errorf("the refused reload does not name the problem (start_tls):\n%s", log)
	}
	if signsIn(t, base, "alice", slapdtest.JCAlicePassword) || !signsIn(t, base, "bob", slapdtest.JCBobPassword) {
		t.Errorf("after the invalid reload the running rule (require staff) must hold\n%s", logs.String())
	}

	polls, notReady := ready.end()
	if len(notReady) > 0 || polls < 10 {
		t.Errorf("/readyz during the reloads: %d polls, not 200: %v", polls, notReady)
	}
	t.Logf("/readyz answered 200 to all %d polls across both reloads", polls)
}

// TestReloadRedialsTheDirectoryAndKeepsTheStore calls the reload SIGHUP
// triggers: a new directory.urls gives a new pool on the new server, the
// replaced pool is closed once the request in flight on it has finished,
// and a changed store.dsn is reported as needing a restart while the
// running store stays in use.
func TestReloadRedialsTheDirectoryAndKeepsTheStore(t *testing.T) {
	s := slapdtest.Start(t, slapdtest.Options{Fixtures: []string{slapdtest.JumpCloud}})
	c := tutorialCLI(t, s, func(y string) string { return y + "web: {listen: '127.0.0.1:0'}\n" })
	in := serveInProcess(t, c.config)
	srv, base, logs, ctx, cancel, done := in.srv, in.base, in.logs, in.ctx, in.cancel, in.done
	before := srv.cur.Load()
	if h := before.a.dir.Health(); len(h) != 1 || h[0].URL != s.LDAPSURL {
		t.Fatalf("directory before the reload: %+v; want %s", h, s.LDAPSURL)
	}

	raw, err := os.ReadFile(c.config)
	if err != nil {
		t.Fatal(err)
	}
	// The same slapd over StartTLS on its plain port; a store elsewhere.
	y := strings.Replace(string(raw), s.LDAPSURL, s.URL, 1)
	y = strings.Replace(y, "  tls:\n", "  start_tls: true\n  tls:\n", 1)
	i := strings.LastIndex(y, "\nstore:")
	y = y[:i] + "\nstore: {driver: sqlite, dsn: " + t.TempDir() + "/other.db}\n" + y[strings.Index(y[i+1:], "\n")+i+2:]
	if err := os.WriteFile(c.config, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	// A request in flight on the old wiring (ServeHTTP holds its read lock).
	before.mu.RLock()
	if err := srv.reload(ctx); err != nil {
		before.mu.RUnlock()
		t.Fatalf("reload: %v\n%s", err, logs.String())
	}
	after := srv.cur.Load()
	time.Sleep(300 * time.Millisecond)
	if _, err := before.a.dir.Info(ctx); err != nil {
		t.Errorf("the old directory pool was closed under a request still in flight: %v", err)
	}
	before.mu.RUnlock()
	if h := after.a.dir.Health(); len(h) != 1 || h[0].URL != s.URL {
		t.Errorf("directory after the reload: %+v; want %s", h, s.URL)
	}
	if after.a.store != before.a.store || after.a.cfg.Store.DSN != before.a.cfg.Store.DSN {
		t.Errorf("the reload replaced the store (%s); it needs a restart", after.a.cfg.Store.DSN)
	}
	if log := logs.String(); !strings.Contains(log, "needs_restart=store.dsn") {
		t.Errorf("the changed store.dsn is not reported as needing a restart:\n%s", log)
	}
	if !signsIn(t, base, "alice", slapdtest.JCAlicePassword) {
		t.Errorf("alice cannot sign in through the new directory pool\n%s", logs.String())
	}
	// The replaced pool is closed once its requests are done.
	if !waitFor(5*time.Second, func() bool {
		_, err := before.a.dir.Info(ctx)
		return err != nil
	}) {
		t.Errorf("the replaced directory pool still answers 5s after the reload")
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("serve: %v", err)
	}
}

// TestSyncJobRetireLetsTheRunningSyncFinish: the job a reload replaces
// starts nothing more, but the sync it runs completes (recorded ok, not
// cancelled) before retire returns.
func TestSyncJobRetireLetsTheRunningSyncFinish(t *testing.T) {
	t.Setenv(minIntervalEnv, "1s")
	s := slapdtest.Start(t, slapdtest.Options{Fixtures: []string{slapdtest.JumpCloud}})
	job, slow, log := jobApp(t, s, func(y string) string {
		return strings.Replace(y, "schedule: 30m", "schedule: 1s", 1)
	})
	slow.delay = 50 * time.Millisecond
	var deps web.Deps
	job.webDeps(&deps)
	if err := deps.StartSync("carol"); err != nil {
		t.Fatalf("StartSync: %v", err)
	}
	select {
	case <-slow.started:
	case <-time.After(20 * time.Second):
		t.Fatalf("the sync wrote no user within 20s\n%s", log)
	}
	if err := job.schedule(); err != nil {
		t.Fatal(err)
	}
	retired := make(chan struct{})
	go func() { defer close(retired); job.retire() }()
	select {
	case <-retired:
	case <-time.After(20 * time.Second):
		t.Fatal("retire did not return within 20s")
	}
	if deps.SyncRunning() {
		t.Fatal("retire returned while the sync was still running")
	}
	bg := context.Background()
	runs, err := slow.Store.SyncRuns(bg, 0)
	if err != nil || len(runs) != 1 || runs[0].Outcome != "ok" || runs[0].FinishedAt == nil {
		t.Fatalf("history after retire: %+v, %v; want the one started sync, finished ok\n%s", runs, err, log)
	}
	if err := deps.StartSync("carol"); !errors.Is(err, errStopping) {
		t.Errorf("StartSync after retire: %v; want errStopping", err)
	}
	time.Sleep(2500 * time.Millisecond) // two ticks of the retired schedule
	if after, _ := slow.Store.SyncRuns(bg, 0); len(after) != 1 {
		t.Errorf("%d runs after retire; the retired scheduler must start none", len(after)-1)
	}
}
