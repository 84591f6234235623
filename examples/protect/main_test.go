package main

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestExampleProtectsTheAppAgainstTheDemoDirectory builds the example with
// go build, runs it, and signs in as demo users through its real stack
// (demodir, ldapdir, auth, sqlite, web).
func TestExampleProtectsTheAppAgainstTheDemoDirectory(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "protect")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command(bin, "-listen", addr)
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	started := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		var logins []string
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "demo login:") {
				logins = append(logins, sc.Text())
			}
			if strings.HasPrefix(sc.Text(), "listening on") {
				started <- strings.Join(logins, "\n")
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	select {
	case logins := <-started:
		if !strings.Contains(logins, "demo login: jdoe / demo-jdoe (regular user)") {
			t.Errorf("demo logins printed:\n%s", logins)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the example did not start within 30s")
	}
	base := "http://" + addr
	waitUp(t, base+"/healthz")

	tests := []struct {
		user, path string
		want       int
	}{
		{"", "/app/", http.StatusSeeOther},
		{"jdoe", "/app/", http.StatusOK},
		{"jdoe", "/app/engineering/", http.StatusOK}, // via the nested Backend group
		{"jdoe", "/app/staff/", http.StatusForbidden},
		{"bjones", "/app/staff/", http.StatusOK},
		{"bjones", "/app/engineering/", http.StatusForbidden},
	}
	for _, tt := range tests {
		jar, _ := cookiejar.New(nil)
		hc := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		if tt.user != "" {
			resp, err := hc.PostForm(base+"/login", url.Values{"username": {tt.user}, "password": {"demo-" + tt.user}})
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("sign in as %s: status %d, want 303", tt.user, resp.StatusCode)
			}
		}
		resp, err := hc.Get(base + tt.path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("%q GET %s: status %d, want %d\n%s", tt.user, tt.path, resp.StatusCode, tt.want, body)
		}
		if tt.want == http.StatusOK && !strings.HasPrefix(string(body), "Hello "+tt.user) {
			t.Errorf("%q GET %s: body %q", tt.user, tt.path, body)
		}
	}
	// An inactive demo user gets the inactive message, not a session.
	resp, err := http.PostForm(base+"/login", url.Values{"username": {"fgarcia"}, "password": {"demo-fgarcia"}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body), "Your account is inactive.") {
		t.Errorf("inactive demo user: status %d, body:\n%s", resp.StatusCode, body)
	}
}

func waitUp(t *testing.T, u string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(u)
		if err == nil {
			resp.Body.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not answer: %v", u, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
