package main

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ldapbridge/ldapbridge/internal/slapdtest"
)

// buildProtect builds the example with go build.
func buildProtect(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "protect")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// startProtect runs bin with args (plus --listen on a free port) and env,
// waits until it listens and returns its base URL and the demo logins it
// printed.
func startProtect(t *testing.T, bin string, env []string, args ...string) (base, logins string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command(bin, append(args, "--listen", addr)...)
	cmd.Env = append(os.Environ(), env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("the example's stderr:\n%s", stderr.String())
		}
	})
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
	case logins = <-started:
	case <-exited:
		t.Fatalf("the example exited before listening:\n%s", stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatal("the example did not start within 30s")
	}
	base = "http://" + addr
	waitUp(t, base+"/healthz")
	return base, logins
}

// visit signs in as user (unless "") and GETs path; it returns the status
// and body.
func visit(t *testing.T, base, user, password, path string) (int, string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if user != "" {
		resp, err := hc.PostForm(base+"/login", url.Values{"username": {user}, "password": {password}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("sign in as %s: status %d, want 303", user, resp.StatusCode)
		}
	}
	resp, err := hc.Get(base + path)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, string(body)
}

// checkForbidden: a refusal page names neither a configuration flag nor
// a command-line flag.
func checkForbidden(t *testing.T, who, body string) {
	t.Helper()
	for _, internal := range []string{"is_staff", "is_superuser", "is_active", "access.flags", "--", "RequireFlag"} {
		if strings.Contains(body, internal) {
			t.Errorf("%s's 403 page shows the internal name %q:\n%s", who, internal, body)
		}
	}
	if !strings.Contains(body, "staff") {
		t.Errorf("%s's 403 page does not say the page is for staff:\n%s", who, body)
	}
}

// TestExampleProtectsTheAppAgainstTheDemoDirectory builds the example with
// go build, runs it, and signs in as demo users through its real stack
// (demodir, ldapdir, auth, sqlite, web).
func TestExampleProtectsTheAppAgainstTheDemoDirectory(t *testing.T) {
	base, logins := startProtect(t, buildProtect(t), nil)
	if !strings.Contains(logins, "demo login: jdoe / demo-jdoe (regular user)") {
		t.Errorf("demo logins printed:\n%s", logins)
	}

	tests := []struct {
		user, path string
		want       int
	}{
		{"", "/app/", http.StatusSeeOther},
		{"jdoe", "/app/", http.StatusOK},
		{"jdoe", "/app/group/", http.StatusOK}, // Engineering, via the nested Backend group
		{"jdoe", "/app/staff/", http.StatusForbidden},
		{"bjones", "/app/staff/", http.StatusOK},
		{"bjones", "/app/group/", http.StatusForbidden},
	}
	for _, tt := range tests {
		code, body := visit(t, base, tt.user, "demo-"+tt.user, tt.path)
		if code != tt.want {
			t.Errorf("%q GET %s: status %d, want %d\n%s", tt.user, tt.path, code, tt.want, body)
		}
		if tt.want == http.StatusOK && !strings.HasPrefix(body, "Hello "+tt.user) {
			t.Errorf("%q GET %s: body %q", tt.user, tt.path, body)
		}
		if tt.path == "/app/staff/" && tt.want == http.StatusForbidden {
			checkForbidden(t, tt.user, body)
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

// TestExampleWithConfigProtectsTheAppAgainstARealDirectory runs the example
// with --config on the README's JumpCloud tutorial config pointed at a
// real slapd: the directory's users sign in, its groups and flags decide.
func TestExampleWithConfigProtectsTheAppAgainstARealDirectory(t *testing.T) {
	s := slapdtest.Start(t, slapdtest.Options{Fixtures: []string{slapdtest.JumpCloud}})
	raw, err := os.ReadFile("../jumpcloud.yaml")
	if err != nil {
		t.Fatal(err)
	}
	y := strings.NewReplacer(
		"ldaps://ldap.jumpcloud.com:636", s.LDAPSURL,
		"directory:\n", "directory:\n  tls: {ca_file: '"+s.CAFile+"'}\n",
		"uid=ldapbridge-svc,", "uid="+slapdtest.JCServiceUID+",",
		"ORGID", slapdtest.JCOrgID,
	).Replace(string(raw))
	dir := t.TempDir()
	y += "\nstore: {driver: sqlite, dsn: " + filepath.Join(dir, "app.db") + "}\n"
	config := filepath.Join(dir, "ldapbridge.yaml")
	if err := os.WriteFile(config, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	base, logins := startProtect(t, buildProtect(t), []string{"LDAP_BIND_PASSWORD=" + slapdtest.JCServicePassword},
		"--config", config, "--group", "engineering")
	if logins != "" {
		t.Errorf("with --config the example printed demo logins:\n%s", logins)
	}
	tests := []struct {
		user, password, path string
		want                 int
	}{
		{"", "", "/app/", http.StatusSeeOther},
		{slapdtest.JCAliceUID, slapdtest.JCAlicePassword, "/app/", http.StatusOK},
		{slapdtest.JCAliceUID, slapdtest.JCAlicePassword, "/app/staff/", http.StatusForbidden},
		{slapdtest.JCAliceUID, slapdtest.JCAlicePassword, "/app/group/", http.StatusForbidden},
		{slapdtest.JCBobUID, slapdtest.JCBobPassword, "/app/staff/", http.StatusOK},
		{slapdtest.JCBobUID, slapdtest.JCBobPassword, "/app/group/", http.StatusOK}, // a member of engineering
	}
	for _, tt := range tests {
		code, body := visit(t, base, tt.user, tt.password, tt.path)
		if code != tt.want {
			t.Errorf("%q GET %s: status %d, want %d\n%s", tt.user, tt.path, code, tt.want, body)
		}
		if tt.want == http.StatusOK && !strings.HasPrefix(body, "Hello "+tt.user) {
			t.Errorf("%q GET %s: body %q", tt.user, tt.path, body)
		}
		if tt.path == "/app/staff/" && tt.want == http.StatusForbidden {
			checkForbidden(t, tt.user, body)
		}
	}
	// erin is outside the required Django App group: no session.
	resp, err := http.PostForm(base+"/login", url.Values{"username": {slapdtest.JCErinUID}, "password": {slapdtest.JCErinPassword}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusSeeOther {
		t.Errorf("erin (not in Django App) signed in through the example")
	}
}

// TestExampleFlagsUseTwoDashes: --help lists the flags as the ldapbridge
// command spells them, and a bad --config is an error naming the file.
func TestExampleFlagsUseTwoDashes(t *testing.T) {
	bin := buildProtect(t)
	out, err := exec.Command(bin, "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("--help: %v\n%s", err, out)
	}
	for _, want := range []string{"--config", "--listen", "--group"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("--help does not list %s:\n%s", want, out)
		}
	}
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 0 && strings.HasPrefix(f[0], "-") && !strings.HasPrefix(f[0], "--") {
			t.Errorf("--help lists a single-dash flag: %q", line)
		}
	}
	missing := filepath.Join(t.TempDir(), "none.yaml")
	out, err = exec.Command(bin, "--config", missing).CombinedOutput()
	if err == nil || !strings.Contains(string(out), missing) {
		t.Errorf("--config %s: %v, want an error naming the file:\n%s", missing, err, out)
	}
}
