package browsertest

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/go-ldap/ldap/v3"

	"github.com/ldapbridge/ldapbridge/auth"
	"github.com/ldapbridge/ldapbridge/config"
	"github.com/ldapbridge/ldapbridge/internal/slapdtest"
	"github.com/ldapbridge/ldapbridge/ldapdir"
	"github.com/ldapbridge/ldapbridge/sqlite"
	"github.com/ldapbridge/ldapbridge/web"
)

// ppolicyYAML is the JumpCloud tutorial configuration against the test
// slapd, with /password on.
const ppolicyYAML = `
directory:
  urls: [URL]
  bind_dn: uid=svc-ldapbridge,ou=Users,o=acme0001,dc=jumpcloud,dc=com
  bind_password: PASSWORD
  flavor: jumpcloud
users:
  search: {base_dn: "ou=Users,o=acme0001,dc=jumpcloud,dc=com", scope: sub, filter: "(uid={username})"}
groups:
  search: {base_dn: "ou=Users,o=acme0001,dc=jumpcloud,dc=com", scope: sub, filter: "(objectClass=groupOfNames)"}
  type: group_of_names
access:
  require: "cn=Django App,ou=Users,o=acme0001,dc=jumpcloud,dc=com"
  flags: {is_active: "cn=active,ou=Users,o=acme0001,dc=jumpcloud,dc=com"}
  password_change: true
`

// startPolicySite runs the web app in this process over a slapd with the
// ppolicy overlay: carol's password was reset by an administrator
// (pwdReset), and bob's expires in a little over three days.
func startPolicySite(t *testing.T) (*slapdtest.Server, string) {
	t.Helper()
	s := slapdtest.Start(t, slapdtest.Options{Fixtures: []string{slapdtest.JumpCloud}, PasswordPolicy: true})
	s.Apply(t, slapdtest.PolicyLDIF(slapdtest.JCBaseDN, "soon", map[string]string{"pwdMaxAge": "262800", "pwdExpireWarning": "604800"}))
	c := s.Conn(t)
	soon := ldap.NewModifyRequest(slapdtest.JCBobDN, nil)
	soon.Replace("pwdPolicySubentry", []string{slapdtest.PolicyDN(slapdtest.JCBaseDN, "soon")})
	soon.Replace("userPassword", []string{slapdtest.JCBobPassword})
	reset := ldap.NewModifyRequest(slapdtest.JCCarolDN, nil)
	reset.Replace("pwdReset", []string{"TRUE"})
	for _, m := range []*ldap.ModifyRequest{soon, reset} {
		if err := c.Modify(m); err != nil {
			t.Fatalf("modify %s: %v", m.DN, err)
		}
	}
	y := strings.NewReplacer("URL", s.URL, "PASSWORD", slapdtest.JCServicePassword).Replace(ppolicyYAML)
	cfg, err := config.Parse([]byte(y), config.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	dir, err := ldapdir.Open(ctx, cfg.Directory, ldapdir.Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dir.Close() })
	st, err := sqlite.Open(ctx, ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	a, err := auth.New(cfg, dir, st, auth.Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := web.New(cfg.Web, web.Deps{Auth: a, Store: st, Passwords: a, Access: cfg.Access, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return s, ts.URL
}

// fillPassword fills and submits the change-password form.
func (b *browser) fillPassword(current, next, confirm string) int {
	b.t.Helper()
	return b.step("change the password",
		chromedp.SendKeys(chromedp.ID("current"), current),
		chromedp.SendKeys(chromedp.ID("new"), next),
		chromedp.SendKeys(chromedp.ID("confirm"), confirm),
		chromedp.Click(chromedp.CSS(`form[action="/password"] button[type=submit]`)),
	)
}

// TestBrowserPasswordResetLeadsToChangeThenSignIn: on slapd with ppolicy,
// a user whose password an administrator reset (pwdReset) is led from the
// sign-in page to /password, where a password the directory's policy
// refuses is shown in the directory's words, and a good one signs the user
// in; the new password then signs in and the old one no longer does. A
// user whose password expires soon sees a banner linking to /password.
func TestBrowserPasswordResetLeadsToChangeThenSignIn(t *testing.T) {
	_, base := startPolicySite(t)
	b := newBrowser(t, base)
	const newPassword = "carol-New-Pw-2026"

	b.open("/login")
	want(t, "sign-in with a reset password", b.signIn(slapdtest.JCCarolUID, slapdtest.JCCarolPassword), 200)
	wantContains(t, "page after the sign-in", b.path(), "/password?")
	wantContains(t, "notice", b.text(".msg.notice"), "reset by an administrator")
	want(t, "username carried over", eval[string](b, `document.getElementById("username").value`), slapdtest.JCCarolUID)
	b.screenshot("must-change")

	// Too short for the policy (pwdMinLength 8, pwdCheckQuality 1): the
	// directory's refusal, in its words.
	want(t, "too short a password", b.fillPassword(slapdtest.JCCarolPassword, "short", "short"), 400)
	refusal := b.text(".msg.error")
	// slapd's ppolicy diagnostic, passed through.
	wantContains(t, "refusal", refusal, "The directory refused the new password: Password fails quality checking policy")
	b.screenshot("refused")

	want(t, "a good new password", b.fillPassword(slapdtest.JCCarolPassword, newPassword, newPassword), 200)
	want(t, "page after the change", b.path(), "/profile?password_changed=1")
	wantContains(t, "notice", b.text(".msg.notice"), "Your password has been changed.")
	wantContains(t, "signed in", b.text("header .who"), slapdtest.JCCarolUID)

	b.signOut()
	b.open("/login")
	b.signIn(slapdtest.JCCarolUID, slapdtest.JCCarolPassword)
	wantContains(t, "the old password", b.text(".msg.error"), "Invalid username or password.")
	want(t, "sign-in with the new password", b.signIn(slapdtest.JCCarolUID, newPassword), 200)
	want(t, "page after signing in with the new password", b.path(), "/")
	wantContains(t, "signed in", b.text("header .who"), slapdtest.JCCarolUID)
	b.signOut()

	b.open("/login")
	b.signIn(slapdtest.JCBobUID, slapdtest.JCBobPassword)
	banner := b.text("#password-banner")
	wantContains(t, "expiry banner", banner, "Your password expires in 3 days")
	wantContains(t, "expiry banner", banner, "change it")
	want(t, "banner link", eval[string](b, `document.querySelector("#password-banner a").getAttribute("href")`), "/password")
	b.open("/profile")
	want(t, "profile links to /password", eval[string](b, `document.getElementById("change-password").getAttribute("href")`), "/password")
	b.screenshot("expiry-banner")
}
