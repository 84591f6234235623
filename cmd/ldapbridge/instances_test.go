package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ldapbridge/ldapbridge/internal/pgtest"
	"github.com/ldapbridge/ldapbridge/internal/slapdtest"
)

// tickEvery is the sync.schedule of the multi-instance tests.
const tickEvery = 2 * time.Second

// buildBinary builds ldapbridge into a temp dir once per test.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "ldapbridge")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// instance is one `ldapbridge serve` process.
type instance struct {
	name string
	url  string // http://127.0.0.1:PORT
	cmd  *exec.Cmd
	mu   sync.Mutex
	log  strings.Builder // stderr
	done chan struct{}
}

func (in *instance) stderr() string {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.log.String()
}

// freeAddr asks the kernel for a free loopback address.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// instanceConfig writes the JumpCloud tutorial config for the test slapd
// with the store on dsn, a short schedule and its own web.listen.
func instanceConfig(t *testing.T, s *slapdtest.Server, dsn, listen string) string {
	t.Helper()
	return tutorialCLI(t, s, func(y string) string {
		y = y[:strings.LastIndex(y, "\nstore:")]
		y = strings.Replace(y, "schedule: 30m", "schedule: "+tickEvery.String(), 1)
		return y + "\nstore: {driver: postgres, dsn: '" + dsn + "'}\nweb: {listen: '" + listen + "'}\n"
	}).config
}

// startInstance runs `ldapbridge serve` and waits until it serves.
func startInstance(t *testing.T, bin, config, name string) *instance {
	t.Helper()
	in := &instance{name: name, done: make(chan struct{})}
	in.cmd = exec.Command(bin, "--config", config, "--log-level", "debug", "serve")
	in.cmd.Env = append(os.Environ(), "LDAPBRIDGE_INSTANCE="+name, minIntervalEnv+"=1s",
		"LDAP_BIND_PASSWORD="+slapdtest.JCServicePassword)
	stdout, err := in.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := in.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := in.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			in.mu.Lock()
			in.log.WriteString(sc.Text() + "\n")
			in.mu.Unlock()
		}
	}()
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "ldapbridge is serving on "); ok {
				urls <- strings.TrimSuffix(u, "/")
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	go func() { in.cmd.Wait(); close(in.done) }()
	t.Cleanup(func() {
		in.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-in.done:
		case <-time.After(10 * time.Second):
			in.cmd.Process.Kill()
		}
		if t.Failed() {
			t.Logf("%s stderr:\n%s", name, in.stderr())
		}
	})
	select {
	case in.url = <-urls:
	case <-in.done:
		t.Fatalf("%s exited before serving:\n%s", name, in.stderr())
	case <-time.After(20 * time.Second):
		t.Fatalf("%s did not serve within 20s:\n%s", name, in.stderr())
	}
	return in
}

var noRedirect = &http.Client{
	Timeout:       10 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// signIn posts the login form to base and returns the session cookie.
func signIn(t *testing.T, base, user, password string) *http.Cookie {
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
		if c.Name == "ldapbridge_session" && c.Value != "" {
			if resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("POST %s/login: %s, want 303", base, resp.Status)
			}
			return c
		}
	}
	t.Fatalf("POST %s/login as %s: %s without a session cookie", base, user, resp.Status)
	return nil
}

// status is the HTTP status of GET base+path, 0 when the request fails.
func status(base, path string, cookie *http.Cookie) int {
	req, _ := http.NewRequest("GET", base+path, nil)
	if cookie != nil {
		req.AddCookie(cookie)
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// syncRow is a sync_runs row.
type syncRow struct {
	instance string
	started  time.Time
	finished *time.Time
}

func (r syncRow) String() string {
	end := "running"
	if r.finished != nil {
		end = r.finished.Format("15:04:05.000")
	}
	return fmt.Sprintf("%s[%s–%s]", r.instance, r.started.Format("15:04:05.000"), end)
}

func syncRows(t *testing.T, dsn string) ([]syncRow, []time.Time) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, _ := conn.Query(ctx, `SELECT instance, started_at, finished_at FROM sync_runs ORDER BY started_at, id`)
	runs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (syncRow, error) {
		var s syncRow
		return s, r.Scan(&s.instance, &s.started, &s.finished)
	})
	if err != nil {
		t.Fatal(err)
	}
	rows, _ = conn.Query(ctx, `SELECT tick FROM sync_ticks ORDER BY tick`)
	ticks, err := pgx.CollectRows(rows, pgx.RowTo[time.Time])
	if err != nil {
		t.Fatal(err)
	}
	return runs, ticks
}

// waitFor polls cond every 200ms until it holds or d passes.
func waitFor(d time.Duration, cond func() bool) bool {
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}

// checkRuns proves that each claimed tick ran exactly one sync, that runs
// never overlap, and that each run started within its tick's interval.
// A run cut short by a SIGKILL may lack a finish; it ends at killedAt.
func checkRuns(t *testing.T, runs []syncRow, ticks []time.Time, killedAt time.Time) {
	t.Helper()
	if len(runs) != len(ticks) {
		t.Fatalf("%d sync runs for %d claimed ticks; want one run per tick\nruns: %v\nticks: %v", len(runs), len(ticks), runs, ticks)
	}
	for i, r := range runs {
		if r.instance == "" {
			t.Errorf("run %d records no instance", i)
		}
		if r.started.Before(ticks[i].Add(-time.Second)) || !r.started.Before(ticks[i].Add(tickEvery)) {
			t.Errorf("run %d by %s started at %s, outside tick %s", i, r.instance, r.started, ticks[i])
		}
		if i > 0 && ticks[i].Sub(ticks[i-1])%tickEvery != 0 {
			t.Errorf("ticks %s and %s are not on the schedule's %s boundaries", ticks[i-1], ticks[i], tickEvery)
		}
		end := killedAt
		if r.finished != nil {
			end = *r.finished
		} else if killedAt.IsZero() {
			t.Errorf("run %d by %s never finished", i, r.instance)
		}
		if i+1 < len(runs) && runs[i+1].started.Before(end) {
			t.Errorf("run %d by %s [%s, %s] overlaps run %d by %s starting %s", i, r.instance, r.started, end, i+1, runs[i+1].instance, runs[i+1].started)
		}
	}
}

func TestInstancesShareSessionsAndRunEachScheduledSyncOnce(t *testing.T) {
	s := slapdtest.Start(t, slapdtest.Options{Fixtures: []string{slapdtest.JumpCloud}})
	dsn := pgtest.New(t)
	bin := buildBinary(t)
	var ins []*instance
	for i := 1; i <= 3; i++ {
		name := fmt.Sprintf("inst-%d", i)
		ins = append(ins, startInstance(t, bin, instanceConfig(t, s, dsn, freeAddr(t)), name))
	}

	cookie := signIn(t, ins[0].url, slapdtest.JCAliceUID, slapdtest.JCAlicePassword)
	for _, in := range ins {
		if got := status(in.url, "/api/me", cookie); got != http.StatusOK {
			t.Errorf("GET %s/api/me with the session from %s: %d, want 200", in.name, ins[0].name, got)
		}
	}

	// Several ticks with every instance up.
	if !waitFor(8*tickEvery, func() bool { runs, _ := syncRows(t, dsn); return len(runs) >= 4 }) {
		runs, ticks := syncRows(t, dsn)
		t.Fatalf("after %s: %d runs, %d ticks; want at least 4", 8*tickEvery, len(runs), len(ticks))
	}
	runs, ticks := syncRows(t, dsn)
	checkRuns(t, runs, ticks, time.Time{})
	leader := runs[0].instance
	for _, r := range runs {
		if r.instance != leader {
			t.Errorf("runs by %s and %s while the leader was up; want one leader", leader, r.instance)
		}
	}

	// Kill the leader between two ticks: another instance takes over.
	var victim *instance
	for _, in := range ins {
		if in.name == leader {
			victim = in
		}
	}
	if victim == nil {
		t.Fatalf("leader %q is none of the instances", leader)
	}
	time.Sleep(time.Until(time.Now().Truncate(tickEvery).Add(tickEvery + tickEvery/2)))
	if err := victim.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-victim.done
	killedAt := time.Now()
	var successor string
	waitFor(5*tickEvery, func() bool {
		runs, _ := syncRows(t, dsn)
		for _, r := range runs {
			if r.instance != leader && r.started.After(killedAt) && r.finished != nil {
				successor = r.instance
				return true
			}
		}
		return false
	})
	if successor == "" {
		t.Fatalf("no instance ran a sync within %s after the leader %s was killed", 5*tickEvery, leader)
	}
	runs, ticks = syncRows(t, dsn)
	checkRuns(t, runs, ticks, killedAt)

	// The successor is in sync history, as a surviving instance's CLI shows it.
	var other *instance
	for _, in := range ins {
		if in != victim {
			other = in
		}
	}
	if got := status(other.url, "/api/me", cookie); got != http.StatusOK {
		t.Errorf("GET %s/api/me after the leader died: %d, want 200", other.name, got)
	}
	hist := cli{t: t, config: instanceConfig(t, s, dsn, "127.0.0.1:0")}.run("", "sync", "history", "--json")
	if hist.code != 0 || !strings.Contains(hist.stdout, `"instance": "`+successor+`"`) || !strings.Contains(hist.stdout, `"instance": "`+leader+`"`) {
		t.Errorf("sync history --json lacks %s or %s: exit %d\n%s%s", leader, successor, hist.code, hist.stdout, hist.stderr)
	}
}

// allowConnections opens or closes database name of the test server to
// new connections.
func allowConnections(t *testing.T, dsn string, allow bool) {
	t.Helper()
	name := dsn[strings.LastIndex(dsn, "/")+1:]
	name, _, _ = strings.Cut(name, "?")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, pgtest.DSN(pgtest.Addr(t), "postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, fmt.Sprintf(`ALTER DATABASE %s ALLOW_CONNECTIONS %t`, pgx.Identifier{name}.Sanitize(), allow)); err != nil {
		t.Fatal(err)
	}
}

// body is the status and body of GET base+path.
func body(base, path string) (int, string) {
	resp, err := noRedirect.Get(base + path)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestServeReportsADatabaseOutageAndRecoversByItself(t *testing.T) {
	s := slapdtest.Start(t, slapdtest.Options{Fixtures: []string{slapdtest.JumpCloud}})
	dsn := pgtest.New(t)
	in := startInstance(t, buildBinary(t), instanceConfig(t, s, dsn, freeAddr(t)), "solo")
	if !waitFor(10*time.Second, func() bool { return status(in.url, "/readyz", nil) == http.StatusOK }) {
		code, b := body(in.url, "/readyz")
		t.Fatalf("/readyz before the outage: %d %s", code, b)
	}

	allowConnections(t, dsn, false)
	t.Cleanup(func() { allowConnections(t, dsn, true) })
	pgtest.Terminate(t, dsn)
	var down string
	if !waitFor(10*time.Second, func() bool {
		code, b := body(in.url, "/readyz")
		down = b
		// The first probe may fail on a killed pooled connection; the
		// outage itself is the server refusing new ones.
		return code == http.StatusServiceUnavailable && strings.Contains(b, "not currently accepting connections")
	}) {
		t.Fatalf("/readyz during the outage never answered 503 with the server's reason; last body %q", down)
	}
	if !strings.HasPrefix(down, "not ready: store: ") {
		t.Errorf("/readyz during the outage says %q; want it to name the store", down)
	}
	req, _ := http.NewRequest("POST", in.url+"/login", strings.NewReader(url.Values{
		"username": {slapdtest.JCAliceUID}, "password": {slapdtest.JCAlicePassword}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", in.url)
	if resp, err := noRedirect.Do(req); err != nil || resp.StatusCode < 500 {
		t.Errorf("sign-in during the outage: %v %v; want a 5xx answer", resp, err)
	} else {
		resp.Body.Close()
	}

	allowConnections(t, dsn, true)
	if !waitFor(20*time.Second, func() bool { return status(in.url, "/readyz", nil) == http.StatusOK }) {
		code, b := body(in.url, "/readyz")
		t.Fatalf("/readyz 20s after the database came back: %d %s", code, b)
	}
	cookie := signIn(t, in.url, slapdtest.JCAliceUID, slapdtest.JCAlicePassword)
	if got := status(in.url, "/api/me", cookie); got != http.StatusOK {
		t.Errorf("GET /api/me after recovery: %d, want 200", got)
	}
	select {
	case <-in.done:
		t.Fatalf("serve exited during the outage:\n%s", in.stderr())
	default:
	}
	if log := in.stderr(); strings.Contains(log, "panic") {
		t.Errorf("serve logged a panic:\n%s", log)
	}
}
