package adtest

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/auth"
	"github.com/ldapbridge/ldapbridge/internal/sambatest"
	"github.com/ldapbridge/ldapbridge/ldapdir"
	"github.com/ldapbridge/ldapbridge/web"
)

// TestExpiredPasswordIsPasswordExpired: a password older than the maximum
// age of the user's password settings gives bind data 532 and outcome
// password_expired, which on Active Directory the user may still change:
// ChangePassword sends the delete-old/add-new modify as the service account
// (the user cannot bind), and the new password signs in.
func TestExpiredPasswordIsPasswordExpired(t *testing.T) {
	dc := sambatest.Start(t)
	const old, fresh = "Oldpw-Pw-2024!", "Oldpw-New-2025!"
	dn := dc.AddUser(t, "oldpw", old, sambatest.AppGroup)
	dc.ShortPasswordAge(t, "oldpw-pso", dn, 26*time.Hour)
	dc.SetPassword(t, dn, old, 48*time.Hour)
	e := newEnv(t, adConfig(t, dc, "active_directory"))
	res := e.login(t, "oldpw", old)
	if res.Outcome != auth.PasswordExpired || res.Authenticated || res.Allowed || !strings.Contains(res.Reason, "532") || !res.PasswordChangeable {
		t.Fatalf("oldpw: %s authenticated=%v changeable=%v (%s), want password_expired naming 532, changeable", res.Outcome, res.Authenticated, res.PasswordChangeable, res.Reason)
	}
	err := e.dir.CheckPassword(context.Background(), dn, old)
	if code, _, ok := ldapdir.ADSubCode(err); !ok || code != "532" || !errors.Is(err, ldapbridge.ErrPasswordExpired) {
		t.Errorf("CheckPassword: %v, want data 532 and ErrPasswordExpired", err)
	}
	if res := e.login(t, "oldpw", "Wrong-Pw-2024!"); res.Outcome != auth.BadCredentials {
		t.Errorf("a wrong password on an expired account: %s, want bad_credentials", res.Outcome)
	}
	if _, err := e.a.ChangePassword(context.Background(), "oldpw", "Wrong-Pw-2024!", fresh); err == nil {
		t.Fatal("a change with a wrong current password succeeded")
	}
	res, err = e.a.ChangePassword(context.Background(), "oldpw", old, fresh)
	if err != nil || res.Outcome != auth.OK || !res.Allowed {
		t.Fatalf("change of the expired password: %v %+v", err, res)
	}
	if res := e.login(t, "oldpw", fresh); res.Outcome != auth.OK {
		t.Errorf("the new password: %s (%s)", res.Outcome, res.Reason)
	}
}

// webClient is a browser-like HTTP client: cookies, no automatic
// redirects, same-origin fetch metadata.
type webClient struct {
	t    *testing.T
	base string
	hc   *http.Client
}

func (c *webClient) do(method, path string, form url.Values) (int, string, string) {
	c.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, c.base+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Location"), string(b)
}

// TestMustChangeUserChangesPasswordThroughTheWebApp: a user whose password
// must change at next logon (pwdLastSet 0, bind data 773) is led from the
// sign-in page to /password; a password the domain's policy refuses is
// shown in Samba's words; a good one is set over LDAPS (the user cannot
// bind, so the service account sends the change with the old password)
// and signs the user in; the new password then signs in.
func TestMustChangeUserChangesPasswordThroughTheWebApp(t *testing.T) {
	dc := sambatest.Start(t)
	const first, next = "Mustch-Pw-2024!", "Mustch-New-2025!"
	dn := dc.AddUser(t, "mustch", first, sambatest.AppGroup)
	dc.MustChangePassword(t, dn)
	cfg := adConfig(t, dc, "active_directory")
	cfg.Access.PasswordChange = true
	e := newEnv(t, cfg)
	srv, err := web.New(cfg.Web, web.Deps{Auth: e.a, Store: e.store, Passwords: e.a, Access: cfg.Access})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	jar, _ := cookiejar.New(nil)
	c := &webClient{t: t, base: ts.URL, hc: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}

	status, loc, _ := c.do("POST", "/login", url.Values{"username": {"mustch"}, "password": {first}})
	if status != http.StatusSeeOther || !strings.HasPrefix(loc, "/password?") || !strings.Contains(loc, "reason=must_change_password") {
		t.Fatalf("sign-in of a must-change user: %d to %q, want 303 to /password", status, loc)
	}
	status, _, body := c.do("GET", loc, nil)
	if status != http.StatusOK || !strings.Contains(body, "reset by an administrator") || !strings.Contains(body, `value="mustch"`) {
		t.Fatalf("/password: %d\n%s", status, body)
	}
	change := func(pw string) (int, string, string) {
		return c.do("POST", "/password", url.Values{"username": {"mustch"}, "current": {first}, "new": {pw}, "confirm": {pw}})
	}
	status, _, body = change("short")
	if status != http.StatusBadRequest || !strings.Contains(body, "The directory refused the new password: ") || !strings.Contains(body, "check_password_restrictions") {
		t.Fatalf("a too-short password: %d, want 400 with Samba's words\n%s", status, body)
	}
	status, loc, body = change(next)
	if status != http.StatusSeeOther || loc != "/profile?password_changed=1" {
		t.Fatalf("a good password: %d to %q\n%s", status, loc, body)
	}
	if status, _, body = c.do("GET", "/profile?password_changed=1", nil); status != http.StatusOK || !strings.Contains(body, "Your password has been changed.") || !strings.Contains(body, "mustch") {
		t.Fatalf("/profile after the change: %d\n%s", status, body)
	}
	c.do("POST", "/logout", url.Values{})
	// (Like Windows' OldPasswordAllowedPeriod, Samba still accepts the
	// previous password for an hour — "old password allowed period" — so
	// the old one is not tried here.)
	if status, loc, _ = c.do("POST", "/login", url.Values{"username": {"mustch"}, "password": {next}}); status != http.StatusSeeOther || loc != "/" {
		t.Errorf("the new password: %d to %q, want 303 to /", status, loc)
	}
}
