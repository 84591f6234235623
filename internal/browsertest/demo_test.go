package browsertest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// demoLogin is one `demo login: USER / PASSWORD (ROLES)` line of the demo.
type demoLogin struct {
	Username, Password, Roles string
}

// demo is a running `ldapbridge demo` process.
type demo struct {
	URL    string // e.g. http://127.0.0.1:41234 (no trailing slash)
	Logins []demoLogin
}

// login returns the printed login of username, failing the test when the
// demo did not print it.
func (d *demo) login(t testing.TB, username string) demoLogin {
	t.Helper()
	for _, l := range d.Logins {
		if l.Username == username {
			return l
		}
	}
	t.Fatalf("the demo printed no `demo login:` line for %s; it printed %v", username, d.Logins)
	return demoLogin{}
}

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

// demoBinary builds ./cmd/ldapbridge once per test run.
func demoBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		goBin, err := exec.LookPath("go")
		if err != nil {
			buildErr = fmt.Errorf("go not found on PATH: %w", err)
			return
		}
		buildDir, buildErr = os.MkdirTemp("", "ldapbridge-browsertest-")
		if buildErr != nil {
			return
		}
		out, err := exec.Command(goBin, "build", "-o", filepath.Join(buildDir, "ldapbridge"),
			"github.com/ldapbridge/ldapbridge/cmd/ldapbridge").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build ./cmd/ldapbridge: %w\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(buildDir, "ldapbridge")
}

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

var (
	runningAt = regexp.MustCompile(`^ldapbridge demo is running at (http://\S+?)/?$`)
	loginLine = regexp.MustCompile(`^demo login: (\S+) / (\S+) \((.*)\)$`)
)

// startDemo runs `ldapbridge demo --listen 127.0.0.1:0`, as the README's first
// command does, and waits for it to print its URL and logins. Cleanup stops
// it with an interrupt, as Ctrl-C would.
func startDemo(t testing.TB) *demo {
	t.Helper()
	bin := demoBinary(t)
	cmd := exec.Command(bin, "demo", "--listen", "127.0.0.1:0")
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	stdout, pw := io.Pipe()
	cmd.Stdout = pw
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s demo: %v", bin, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); pw.Close(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			t.Errorf("ldapbridge demo did not stop within 10s of an interrupt; killing it")
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() && stderr.String() != "" {
			t.Logf("ldapbridge demo stderr:\n%s", stderr.String())
		}
	})

	ready := make(chan *demo, 1)
	go func() {
		d := &demo{}
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if m := runningAt.FindStringSubmatch(line); m != nil {
				d.URL = m[1]
			} else if m := loginLine.FindStringSubmatch(line); m != nil {
				d.Logins = append(d.Logins, demoLogin{m[1], m[2], m[3]})
			} else if strings.HasPrefix(line, "Press Ctrl-C") {
				ready <- d
			}
		}
		close(ready)
	}()
	select {
	case d, ok := <-ready:
		if !ok || d.URL == "" || len(d.Logins) == 0 {
			t.Fatalf("ldapbridge demo exited or printed no URL and logins; stderr:\n%s", stderr.String())
		}
		return d
	case <-time.After(30 * time.Second):
		t.Fatalf("ldapbridge demo printed no URL within 30s; stderr:\n%s", stderr.String())
	}
	return nil
}

// lockedBuffer is a bytes.Buffer safe for the writer goroutine of exec.Cmd
// and a reading test.
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

// withTimeout is a context for one test's work that ends at cleanup.
func withTimeout(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
