package web

import (
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/ldapbridge/ldapbridge/auth"
	"github.com/ldapbridge/ldapbridge/config"
)

// logBuffer collects log output safely across the server's goroutines.
type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// lines returns the logged lines that contain sub.
func (l *logBuffer) lines(sub string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, line := range strings.Split(l.b.String(), "\n") {
		if strings.Contains(line, sub) {
			out = append(out, line)
		}
	}
	return out
}

func TestEverySignInLeavesOneAuditLine(t *testing.T) {
	var logs logBuffer
	cfg := defaultWebConfig()
	cfg.LoginRateLimit.PerUser = config.Rate{N: 3, Per: 60e9}
	f := newFixture(t, cfg, func(d *Deps) {
		d.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	})
	c := f.client()
	type attempt struct {
		user, password string
		status         int
		outcome        string
	}
	for _, a := range []attempt{
		{"alice", "alice-pw", http.StatusSeeOther, string(auth.OK)},
		{"bob", "wrong-Secret-1", http.StatusUnauthorized, string(auth.BadCredentials)},
		{"nobody", "wrong-Secret-2", http.StatusUnauthorized, string(auth.UserNotFound)},
		{"carol", "carol-pw", http.StatusUnauthorized, string(auth.Inactive)},
		{"dave", "dave-pw", http.StatusUnauthorized, string(auth.RequireGroup)},
		{"bob", "wrong-Secret-3", http.StatusUnauthorized, string(auth.BadCredentials)},
		{"bob", "wrong-Secret-4", http.StatusUnauthorized, string(auth.BadCredentials)},
		{"bob", "bob-pw", http.StatusTooManyRequests, "rate_limited_user"},
		{strings.Repeat("x", MaxUsernameLength+1), "wrong-Secret-5", http.StatusUnauthorized, "too_long"},
	} {
		before := len(logs.lines(`msg=sign-in `))
		r := c.login(a.user, a.password)
		r.wantStatus(t, a.status)
		lines := logs.lines(`msg=sign-in `)
		if len(lines) != before+1 {
			t.Fatalf("sign-in of %.10s: %d new audit lines, want 1:\n%s", a.user, len(lines)-before, strings.Join(lines[before:], "\n"))
		}
		line := lines[len(lines)-1]
		for _, want := range []string{"level=INFO", "outcome=" + a.outcome, "client=127.0.0.1", "status="} {
			if !strings.Contains(line, want) {
				t.Errorf("audit line of %.10s lacks %q: %s", a.user, want, line)
			}
		}
		if len(a.user) < 20 && !strings.Contains(line, "user="+a.user) {
			t.Errorf("audit line lacks user=%s: %s", a.user, line)
		}
	}
	// The JSON API is audited the same way.
	before := len(logs.lines(`msg=sign-in `))
	f.client().postJSON("/api/login", map[string]string{"username": "alice", "password": "wrong-Secret-6"}).wantStatus(t, http.StatusUnauthorized)
	if lines := logs.lines(`msg=sign-in `); len(lines) != before+1 || !strings.Contains(lines[len(lines)-1], "outcome=bad_credentials") {
		t.Errorf("API sign-in audit lines: %v", lines[before:])
	}
	if leaked := logs.lines("Secret"); len(leaked) > 0 || len(logs.lines("alice-pw")) > 0 {
		t.Errorf("a password reached the log:\n%s", strings.Join(append(leaked, logs.lines("alice-pw")...), "\n"))
	}
}
