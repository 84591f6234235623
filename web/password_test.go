package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/auth"
)

// fakePasswords changes the passwords of fakeAuth's map, refusing new
// passwords shorter than eight characters in its own words.
type fakePasswords struct {
	f     *fakeAuth
	mu    sync.Mutex
	calls int
}

func (p *fakePasswords) ChangePassword(ctx context.Context, username, old, next string) (*auth.Result, error) {
	p.mu.Lock()
	p.calls++
	p.mu.Unlock()
	if pw, ok := p.f.passwords[username]; !ok || pw != old {
		return nil, ldapbridge.ErrInvalidCredentials
	}
	if len(next) < 8 {
		return nil, refusal("the directory refused the new password: Password fails quality checking policy")
	}
	p.f.passwords[username] = next
	delete(p.f.refuse, username)
	return p.f.Authenticate(ctx, username, next)
}

// refusal is a directory's refusal with its own text, as ldapdir words it.
type refusal string

func (r refusal) Error() string { return string(r) }
func (r refusal) Unwrap() error { return ldapbridge.ErrPasswordChangeRefused }

// stateAuth refuses named users with a password state after a right
// password, as the directory does.
type stateAuth struct {
	*fakeAuth
	states     map[string]auth.Outcome
	changeable map[string]bool
	warn       map[string]time.Duration
}

func (s stateAuth) Authenticate(ctx context.Context, username, password string) (*auth.Result, error) {
	res, err := s.fakeAuth.Authenticate(ctx, username, password)
	if err != nil || res.Outcome != auth.OK {
		return res, err
	}
	if o, ok := s.states[username]; ok {
		return &auth.Result{Outcome: o, PasswordChangeable: s.changeable[username], GroupDNs: []string{}, GroupNames: []string{}}, nil
	}
	if d, ok := s.warn[username]; ok {
		res.PasswordExpiresIn, res.HasExpiryWarning = d, true
	}
	return res, nil
}

func passwordFixture(t *testing.T, enabled bool) (*fixture, *fakePasswords) {
	t.Helper()
	var pw *fakePasswords
	f := newFixture(t, defaultWebConfig(), func(d *Deps) {
		fa := d.Auth.(*fakeAuth)
		fa.passwords["erin"], fa.passwords["fay"], fa.passwords["gus"], fa.passwords["hal"] = "erin-pw", "fay-pw", "gus-pw", "hal-pw"
		d.Auth = stateAuth{fakeAuth: fa,
			states:     map[string]auth.Outcome{"erin": auth.MustChangePassword, "fay": auth.PasswordExpired, "gus": auth.AccountLocked, "hal": auth.AccountExpired},
			changeable: map[string]bool{"erin": true},
			warn:       map[string]time.Duration{"bob": 3*24*time.Hour + time.Hour}}
		pw = &fakePasswords{f: fa}
		d.Passwords = pw
		d.Access.PasswordChange = enabled
	})
	for _, name := range []string{"erin", "fay", "gus", "hal"} {
		u := &ldapbridge.User{Username: name, Source: ldapbridge.SourceLDAP, DN: "uid=" + name + ",ou=People,dc=example,dc=com", IsActive: true}
		if err := f.store.CreateUser(context.Background(), u); err != nil {
			t.Fatal(err)
		}
	}
	return f, pw
}

func TestSignInShowsPasswordStatesAndLeadsToTheChange(t *testing.T) {
	f, _ := passwordFixture(t, true)
	c := f.client()
	for _, tc := range []struct{ user, pw, msg string }{
		{"fay", "fay-pw", msgPasswordExpired + msgChangeOrAsk},
		{"gus", "gus-pw", msgLocked},
		{"hal", "hal-pw", msgAccountExpired},
	} {
		r := c.login(tc.user, tc.pw)
		r.wantStatus(t, http.StatusUnauthorized)
		r.wantBody(t, tc.msg)
	}
	// A reset password leads to /password with the name carried over.
	r := c.login("erin", "erin-pw")
	r.wantStatus(t, http.StatusSeeOther)
	loc, _ := url.Parse(r.Header.Get("Location"))
	if loc.Path != "/password" || loc.Query().Get("username") != "erin" || loc.Query().Get("reason") != "must_change_password" {
		t.Fatalf("redirect to %s, want /password?username=erin&reason=must_change_password", loc)
	}
	page := c.get(loc.RequestURI())
	page.wantStatus(t, http.StatusOK)
	page.wantBody(t, "reset by an administrator", `value="erin"`)
}

func TestPasswordChangeFormChecksRefusesAndSignsIn(t *testing.T) {
	f, pw := passwordFixture(t, true)
	c := f.client()
	form := func(user, cur, next, confirm string) url.Values {
		return url.Values{"username": {user}, "current": {cur}, "new": {next}, "confirm": {confirm}}
	}
	c.post("/password", form("erin", "erin-pw", "erin-New-1", "erin-New-2")).wantBody(t, "not the same")
	if pw.calls != 0 {
		t.Fatal("mismatched new passwords reached the directory")
	}
	r := c.post("/password", form("erin", "wrong", "erin-New-1", "erin-New-1"))
	r.wantStatus(t, http.StatusUnauthorized)
	r.wantBody(t, "The username or current password is wrong.")
	r = c.post("/password", form("erin", "erin-pw", "short", "short"))
	r.wantStatus(t, http.StatusBadRequest)
	r.wantBody(t, "The directory refused the new password: Password fails quality checking policy.")
	r = c.post("/password", form("erin", "erin-pw", "erin-New-1", "erin-New-1"))
	r.wantStatus(t, http.StatusSeeOther)
	if loc := r.Header.Get("Location"); loc != "/profile?password_changed=1" {
		t.Fatalf("after the change: Location %q", loc)
	}
	c.get("/profile?password_changed=1").wantBody(t, "Your password has been changed.", `href="/password"`)

	// A cross-origin post is refused before anything is changed.
	calls := pw.calls
	req, _ := http.NewRequest(http.MethodPost, f.ts.URL+"/password", strings.NewReader(form("bob", "bob-pw", "bob-New-1", "bob-New-1").Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	c.do(req).wantStatus(t, http.StatusForbidden)
	if pw.calls != calls {
		t.Error("a cross-origin post reached the directory")
	}
}

func TestPasswordChangeIsRateLimitedPerUser(t *testing.T) {
	f, pw := passwordFixture(t, true)
	c := f.client()
	for i := 0; i < 5; i++ {
		c.post("/password", url.Values{"username": {"bob"}, "current": {"wrong"}, "new": {"bob-New-1"}, "confirm": {"bob-New-1"}}).wantStatus(t, http.StatusUnauthorized)
	}
	r := c.post("/password", url.Values{"username": {"bob"}, "current": {"bob-pw"}, "new": {"bob-New-1"}, "confirm": {"bob-New-1"}})
	r.wantStatus(t, http.StatusTooManyRequests)
	if pw.calls != 5 {
		t.Errorf("%d changes reached the directory, want 5", pw.calls)
	}
}

func TestExpiryWarningBannerAndDisabledPasswordPage(t *testing.T) {
	f, _ := passwordFixture(t, false)
	c := f.client()
	c.mustLogin("bob", "bob-pw")
	r := c.get("/profile")
	r.wantBody(t, "Your password expires in 3 days")
	if strings.Contains(r.body, `href="/password"`) {
		t.Error("with access.password_change off the pages link to /password")
	}
	c.get("/password").wantStatus(t, http.StatusNotFound)
	// With the change off, a reset password is told to ask an administrator.
	c2 := f.client()
	r = c2.login("erin", "erin-pw")
	r.wantStatus(t, http.StatusUnauthorized)
	r.wantBody(t, msgMustChange+msgChangeOrAsk)
}

// offlineAuth admits bob as an offline login would (no directory server
// answered; the verifier matched).
type offlineAuth struct{ *fakeAuth }

func (o offlineAuth) Authenticate(ctx context.Context, username, password string) (*auth.Result, error) {
	res, err := o.fakeAuth.Authenticate(ctx, username, password)
	if err == nil && res.Outcome == auth.OK {
		res.Offline = true
	}
	return res, err
}

func TestOfflineSignInIsCountedAsOffline(t *testing.T) {
	f := newFixture(t, defaultWebConfig(), func(d *Deps) { d.Auth = offlineAuth{d.Auth.(*fakeAuth)} })
	c := f.client()
	c.mustLogin("bob", "bob-pw")
	m := c.get("/metrics")
	if !strings.Contains(m.body, `ldapbridge_logins_total{directory="default",outcome="offline"} 1`) || strings.Contains(m.body, `outcome="ok"}`) {
		t.Errorf("an offline sign-in is not counted as outcome offline:\n%s", m.body)
	}
}
