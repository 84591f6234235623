package web_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/alexedwards/scs/v2"

	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/auth"
	"github.com/ldapbridge/ldapbridge/config"
	"github.com/ldapbridge/ldapbridge/internal/pgtest"
	"github.com/ldapbridge/ldapbridge/internal/slapdtest"
	"github.com/ldapbridge/ldapbridge/ldapdir"
	"github.com/ldapbridge/ldapbridge/postgres"
	"github.com/ldapbridge/ldapbridge/sqlite"
	"github.com/ldapbridge/ldapbridge/web"
)

// jumpCloudYAML is the JumpCloud tutorial configuration pointed at the test
// slapd, bound as the fixture's service account.
const jumpCloudYAML = `
directory:
  urls: [URL]
  bind_dn: uid=svc-ldapbridge,ou=Users,o=acme0001,dc=jumpcloud,dc=com
  bind_password: PASSWORD
  flavor: jumpcloud
users:
  search:
    base_dn: ou=Users,o=acme0001,dc=jumpcloud,dc=com
    scope: sub
    filter: "(uid={username})"
groups:
  search: {base_dn: "ou=Users,o=acme0001,dc=jumpcloud,dc=com", scope: sub, filter: "(objectClass=groupOfNames)"}
  type: group_of_names
access:
  require: "cn=Django App,ou=Users,o=acme0001,dc=jumpcloud,dc=com"
  flags:
    is_active: cn=active,ou=Users,o=acme0001,dc=jumpcloud,dc=com
`

// bindCounter counts the password checks that reach the directory.
type bindCounter struct {
	ldapbridge.Directory
	mu    sync.Mutex
	binds int
}

func (d *bindCounter) CheckPassword(ctx context.Context, dn, password string) error {
	d.mu.Lock()
	d.binds++
	d.mu.Unlock()
	return d.Directory.CheckPassword(ctx, dn, password)
}

func (d *bindCounter) count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.binds
}

// TestSignInLimitHoldsForEverySpellingAgainstSlapd signs in to the web app
// over a real slapd, whose uid matching ignores case, insignificant spaces
// and compatibility forms, with the limiter of each store: 30 attempts as
// alice in any spelling reach the directory at most 5 times, the sixth gets
// 429, and no spelling signs in after it.
func TestSignInLimitHoldsForEverySpellingAgainstSlapd(t *testing.T) {
	s := slapdtest.Start(t, slapdtest.Options{Fixtures: []string{slapdtest.JumpCloud}})
	cfg, err := config.Parse([]byte(strings.NewReplacer("URL", s.URL, "PASSWORD", slapdtest.JCServicePassword).Replace(jumpCloudYAML)),
		config.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Web.LoginRateLimit.PerIP.N = 1000 // only the per-user limit is under test

	type store interface {
		ldapbridge.Store
		Migrate(context.Context) error
		Close() error
	}
	stores := []struct {
		name string
		open func(t *testing.T) (store, web.RateLimiter, scs.Store)
	}{
		{"sqlite store, memory limiter", func(t *testing.T) (store, web.RateLimiter, scs.Store) {
			st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "web.db"))
			if err != nil {
				t.Fatal(err)
			}
			return st, web.NewMemoryLimiter(), st.Sessions()
		}},
		{"postgres store and limiter", func(t *testing.T) (store, web.RateLimiter, scs.Store) {
			st, err := postgres.Open(t.Context(), pgtest.New(t))
			if err != nil {
				t.Fatal(err)
			}
			return st, st.RateLimiter(), st.Sessions()
		}},
	}
	for _, sc := range stores {
		t.Run(sc.name, func(t *testing.T) {
			ctx := t.Context()
			st, limiter, sessions := sc.open(t)
			t.Cleanup(func() { st.Close() })
			if err := st.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			logs := &strings.Builder{}
			var logMu sync.Mutex
			log := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
				logMu.Lock()
				defer logMu.Unlock()
				return logs.Write(p)
			}), nil))
			ld, err := ldapdir.Open(ctx, cfg.Directory, ldapdir.Options{Logger: log})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { ld.Close() })
			dir := &bindCounter{Directory: ld}
			a, err := auth.New(cfg, dir, st, auth.Options{Logger: log})
			if err != nil {
				t.Fatal(err)
			}
			srv, err := web.New(cfg.Web, web.Deps{Auth: a, Store: st, Limiter: limiter, Sessions: sessions, Logger: log})
			if err != nil {
				t.Fatal(err)
			}
			ts := httptest.NewServer(srv.Handler())
			t.Cleanup(ts.Close)
			jar, _ := cookiejar.New(nil)
			hc := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			login := func(name, password string) int {
				t.Helper()
				req, _ := http.NewRequest(http.MethodPost, ts.URL+"/login",
					strings.NewReader(url.Values{"username": {name}, "password": {password}}.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.Header.Set("Sec-Fetch-Site", "same-origin")
				resp, err := hc.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				return resp.StatusCode
			}

			// The directory itself takes every spelling as alice.
			spellings := []string{"alice", " alice", "alice   ", "ALICE", "ａｌｉｃｅ", "Ａｌｉｃｅ ", "  ALICE  "}
			for _, name := range spellings {
				if code := login(name, slapdtest.JCAlicePassword); code != http.StatusSeeOther {
					t.Fatalf("slapd did not take %q as alice: status %d", name, code)
				}
			}
			jar, _ = cookiejar.New(nil)
			hc.Jar = jar
			before := dir.count()
			for i := range 30 {
				name := spellings[i%len(spellings)]
				want := http.StatusUnauthorized
				if i >= 5 {
					want = http.StatusTooManyRequests
				}
				if code := login(name, "wrong-guess"); code != want {
					t.Fatalf("attempt %d as %q: status %d, want %d", i+1, name, code, want)
				}
			}
			if n := dir.count() - before; n > 5 {
				t.Errorf("30 attempts in 7 spellings reached the directory %d times, want at most 5", n)
			}
			for _, name := range []string{"alice ", "ａｌｉｃｅ"} {
				if code := login(name, slapdtest.JCAlicePassword); code != http.StatusTooManyRequests {
					t.Errorf("after a 429, %q with the right password: status %d, want 429", name, code)
				}
			}
			// A 60 KB username is neither sent to the directory nor logged.
			huge := strings.Repeat("z", 60<<10)
			if code := login(huge, "whatever"); code != http.StatusUnauthorized {
				t.Errorf("60 KB username: status %d, want 401", code)
			}
			logMu.Lock()
			out := logs.String()
			logMu.Unlock()
			if strings.Contains(out, strings.Repeat("z", 65)) {
				t.Errorf("the log holds more than 64 characters of a 60 KB username")
			}
		})
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
