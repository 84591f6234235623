package web

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/text/unicode/norm"

	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/auth"
	"github.com/ldapbridge/ldapbridge/config"
)

// spellingDir is a fake directory login for the pure logic of the limits: it
// matches names the way an LDAP server's caseIgnoreMatch does (compatibility
// forms, case and insignificant spaces are ignored), knows aliases (a mail
// address for a uid), and counts the password checks (binds) it makes.
type spellingDir struct {
	store     ldapbridge.Store
	passwords map[string]string // uid -> password
	aliases   map[string]string // matched alias -> uid

	mu    sync.Mutex
	binds int
}

// match is the fake server's own idea of equal names; deliberately written
// apart from canonicalUsername.
func (d *spellingDir) match(name string) string {
	return strings.Join(strings.Fields(strings.ToLower(norm.NFKC.String(name))), " ")
}

func (d *spellingDir) Authenticate(ctx context.Context, username, password string) (*auth.Result, error) {
	res := &auth.Result{GroupDNs: []string{}, GroupNames: []string{}}
	uid := d.match(username)
	if a, ok := d.aliases[uid]; ok {
		uid = a
	}
	pw, ok := d.passwords[uid]
	if !ok {
		res.Outcome = auth.UserNotFound
		return res, nil
	}
	res.DN = "uid=" + uid + ",ou=People,dc=example,dc=com"
	if password == "" {
		res.Outcome = auth.EmptyPassword
		return res, nil
	}
	d.mu.Lock()
	d.binds++
	d.mu.Unlock()
	if password != pw {
		res.Outcome = auth.BadCredentials
		return res, nil
	}
	u, err := d.store.User(ctx, uid)
	if err != nil {
		return nil, err
	}
	res.Outcome, res.Authenticated, res.Allowed, res.User = auth.OK, true, true, u
	return res, nil
}

func (d *spellingDir) bindCount() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.binds
}

// recordingLimiter hands every call to a MemoryLimiter and remembers the
// keys, as a shared store (PostgreSQL) would receive them.
type recordingLimiter struct {
	*MemoryLimiter
	mu   sync.Mutex
	keys []string
}

func (l *recordingLimiter) Allow(ctx context.Context, key string, r config.Rate) (bool, time.Duration, error) {
	l.mu.Lock()
	l.keys = append(l.keys, key)
	l.mu.Unlock()
	return l.MemoryLimiter.Allow(ctx, key, r)
}

func (l *recordingLimiter) userKeys() map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	m := map[string]int{}
	for _, k := range l.keys {
		if strings.HasPrefix(k, "login-user:") || strings.HasPrefix(k, "login-account:") {
			m[k]++
		}
	}
	return m
}

// newSpellingFixture is the web app over spellingDir with asmith
// (password "asmith-pw", alias asmith@example.com) in the store.
func newSpellingFixture(t *testing.T) (*fixture, *spellingDir, *recordingLimiter) {
	t.Helper()
	dir := &spellingDir{passwords: map[string]string{"asmith": "asmith-pw", "bob": "bob-pw"},
		aliases: map[string]string{"asmith@example.com": "asmith"}}
	lim := &recordingLimiter{MemoryLimiter: NewMemoryLimiter()}
	cfg := defaultWebConfig()
	cfg.LoginRateLimit.PerIP.N = 1000 // only the per-user limit is under test
	f := newFixture(t, cfg, func(d *Deps) { d.Auth, d.Limiter = dir, lim })
	dir.store = f.store
	u := &ldapbridge.User{Username: "asmith", FirstName: "Ann", IsActive: true, Source: ldapbridge.SourceLDAP,
		DN: "uid=asmith,ou=People,dc=example,dc=com"}
	if err := f.store.CreateUser(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	return f, dir, lim
}

// spellings of asmith that an LDAP directory matches as asmith.
var spellings = []string{"asmith", " asmith", "asmith   ", "ASmith", "ａｓｍｉｔｈ", "\tＡＳＭＩＴＨ ", "a\u200bsmith"}

func TestUserLimitCoversEverySpellingTheDirectoryMatches(t *testing.T) {
	f, dir, lim := newSpellingFixture(t)
	c := f.client()
	for i := range 30 {
		name := spellings[i%len(spellings)]
		r := c.login(name, "guess")
		want := http.StatusUnauthorized
		if i >= 5 {
			want = http.StatusTooManyRequests
		}
		if r.StatusCode != want {
			t.Fatalf("attempt %d as %q: status %d, want %d", i+1, name, r.StatusCode, want)
		}
	}
	if n := dir.bindCount(); n > 5 {
		t.Errorf("%d password checks reached the directory for 30 attempts; want at most 5 (web.login_rate_limit.per_user 5/min)", n)
	}
	// After a 429, no spelling gets through, not even with the password.
	for _, name := range []string{"asmith ", "ａｓｍｉｔｈ", "ASMITH"} {
		c.login(name, "asmith-pw").wantStatus(t, http.StatusTooManyRequests)
	}
	if c.sessionToken() != "" {
		t.Error("a rate-limited spelling signed in")
	}
	// Every key a limiter store receives is the canonical one.
	for k := range lim.userKeys() {
		if k != "login-user:asmith" && k != "login-account:dn:uid=asmith,ou=people,dc=example,dc=com" {
			t.Errorf("limiter received key %q; every spelling must give login-user:asmith (or the account's key)", k)
		}
	}
	// Another user is not affected.
	f.client().mustLogin("bob", "bob-pw")
}

func TestAccountLimitCoversAliasesOnceResolved(t *testing.T) {
	f, dir, _ := newSpellingFixture(t)
	c := f.client()
	for range 5 {
		c.login("asmith", "guess").wantStatus(t, http.StatusUnauthorized)
	}
	// An alias folds to another name, but reaches the same account: the
	// directory answers once, the account's count refuses even the right
	// password, and later attempts by that alias stop before the directory.
	r := c.login("asmith@example.com", "asmith-pw")
	r.wantStatus(t, http.StatusTooManyRequests)
	if c.sessionToken() != "" {
		t.Fatal("the alias signed in past the account's limit")
	}
	binds := dir.bindCount()
	for range 3 {
		c.login("ASMITH@example.com ", "guess").wantStatus(t, http.StatusTooManyRequests)
	}
	if n := dir.bindCount(); n != binds {
		t.Errorf("%d more password checks reached the directory for an alias of a rate-limited account, want 0", n-binds)
	}
}

func TestSuccessResetsTheAccountLimitForEverySpelling(t *testing.T) {
	f, _, _ := newSpellingFixture(t)
	for range 4 {
		f.client().login("asmith@example.com", "guess").wantStatus(t, http.StatusUnauthorized)
	}
	f.client().mustLogin("ａｓｍｉｔｈ", "asmith-pw")
	for i := range 5 {
		if r := f.client().login(spellings[i], "guess"); r.StatusCode != http.StatusUnauthorized {
			t.Fatalf("attempt %d after a successful sign-in: status %d, want 401", i+1, r.StatusCode)
		}
	}
}

func TestCanonicalUsername(t *testing.T) {
	tests := []struct{ in, want string }{
		{"asmith", "asmith"},
		{"  asmith\t", "asmith"},
		{"ASmith", "asmith"},
		{"ａｓｍｉｔｈ", "asmith"},
		{"ＡＳＭＩＴＨ", "asmith"},
		{"a\u200bs\u00adm\u200dith", "asmith"},
		{"ann   marie", "ann marie"},
		{"ann\u3000marie", "ann marie"},
		{"ann\u00a0\u2003marie", "ann marie"},
		{"JOSÉ", "josé"},
		{"jose\u0301", "josé"},
		{"Straße", "strasse"},
		{"ℌans", "hans"},
		{"", ""},
		{" \t ", ""},
	}
	for _, tt := range tests {
		if got := canonicalUsername(tt.in); got != tt.want {
			t.Errorf("canonicalUsername(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	long := strings.Repeat("ｘ", 200)
	if k := userLimitKey(long); len(k) > 100 || !strings.HasPrefix(k, "login-user:sha256:") || k != userLimitKey(strings.Repeat("X", 200)) {
		t.Errorf("key of a long name = %q; want a short sha256 key shared by its spellings", k)
	}
}

// lockedBuffer is a log sink safe for the server's goroutines.
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

func TestHugeUsernameIsRefusedAndLoggedShort(t *testing.T) {
	logs := &lockedBuffer{}
	f := newFixture(t, defaultWebConfig(), func(d *Deps) { d.Logger = slog.New(slog.NewTextHandler(logs, nil)) })
	huge := strings.Repeat("x", 60<<10)
	calls := f.auth.callCount()
	r := f.client().login(huge, "whatever")
	r.wantStatus(t, http.StatusUnauthorized)
	r.wantBody(t, msgInvalid)
	if f.auth.callCount() != calls {
		t.Error("a 60 KB username reached the authenticator (which logs and searches for it)")
	}
	out := logs.String()
	if regexp.MustCompile(`x{65}`).MatchString(out) {
		t.Errorf("the log holds more than 64 characters of the username (%d bytes of log)", len(out))
	}
	if !strings.Contains(out, "too long") || !strings.Contains(out, "(61440 bytes)") {
		t.Errorf("log lacks the refusal with the name's length:\n%.500s", out)
	}
	// A name at the limit still reaches the authenticator.
	f.client().login(strings.Repeat("y", MaxUsernameLength), "whatever").wantStatus(t, http.StatusUnauthorized)
	if f.auth.callCount() != calls+1 {
		t.Errorf("a %d-character name did not reach the authenticator", MaxUsernameLength)
	}
}

func TestLogNameKeepsShortNamesAndCutsLongOnes(t *testing.T) {
	if got := logName("asmith"); got != "asmith" {
		t.Errorf("logName(asmith) = %q", got)
	}
	exact := strings.Repeat("é", maxLoggedName)
	if got := logName(exact); got != exact {
		t.Errorf("a name of exactly %d characters was cut: %q", maxLoggedName, got)
	}
	got := logName(strings.Repeat("é", 1000))
	if want := strings.Repeat("é", maxLoggedName) + "…(2000 bytes)"; got != want {
		t.Errorf("logName(1000×é) = %q, want %q", got, want)
	}
}
