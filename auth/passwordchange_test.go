package auth_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/auth"
	"github.com/ldapbridge/ldapbridge/config"
	"github.com/ldapbridge/ldapbridge/internal/slapdtest"
)

// TestChangePasswordOnSlapd changes passwords with the RFC 3062
// password-modify operation bound as the user: a wrong current password
// and a password the policy refuses change nothing (the refusal in
// slapd's words), a good one signs the user in with it and refreshes the
// offline verifier, and the old one stops working. SetPassword resets as
// the service account: refused without the right, done with it, and then
// (pwdMustChange) the user must change it, which ChangePassword does.
func TestChangePasswordOnSlapd(t *testing.T) {
	s := slapdtest.Start(t, slapdtest.Options{Fixtures: []string{slapdtest.JumpCloud}, PasswordPolicy: true})
	e, _ := offlineEnv(t, s)
	ctx := context.Background()
	e.mustLogin(t, "alice", slapdtest.JCAlicePassword)
	before := e.verifier(t, "alice")

	if _, err := e.a.ChangePassword(ctx, "alice", "not-her-password", "alice-New-Pw-1"); !errors.Is(err, ldapbridge.ErrInvalidCredentials) {
		t.Errorf("wrong current password: %v, want ErrInvalidCredentials", err)
	}
	if _, err := e.a.ChangePassword(ctx, "nobody", "whatever-1", "alice-New-Pw-1"); !errors.Is(err, ldapbridge.ErrInvalidCredentials) {
		t.Errorf("unknown user: %v, want ErrInvalidCredentials (no enumeration)", err)
	}
	_, err := e.a.ChangePassword(ctx, "alice", slapdtest.JCAlicePassword, "short")
	if !errors.Is(err, ldapbridge.ErrPasswordChangeRefused) || !strings.Contains(err.Error(), "Password fails quality checking policy") {
		t.Errorf("too short: %v, want the directory's refusal in its words", err)
	}
	res, err := e.a.ChangePassword(ctx, "alice", slapdtest.JCAlicePassword, "alice-New-Pw-1")
	if err != nil || res.Outcome != auth.OK || !res.Allowed || res.User == nil || res.User.Username != "alice" {
		t.Fatalf("change: %v %+v", err, res)
	}
	if after := e.verifier(t, "alice"); after == nil || after.Verifier == before.Verifier || !auth.VerifyPassword(after.Verifier, "alice-New-Pw-1") {
		t.Errorf("the offline verifier was not refreshed to the new password: %+v", after)
	}
	if res := e.login(t, "alice", slapdtest.JCAlicePassword); res.Outcome != auth.BadCredentials {
		t.Errorf("old password after the change: %s, want bad_credentials", res.Outcome)
	}
	e.mustLogin(t, "alice", "alice-New-Pw-1")

	// The fixture's service account may not write other users' passwords.
	err = e.a.SetPassword(ctx, "bob", "bob-Reset-Pw-1")
	if !errors.Is(err, ldapbridge.ErrPasswordChangeRefused) {
		t.Errorf("reset without the right: %v, want ErrPasswordChangeRefused", err)
	}
	// The rootdn may.
	cfg := tutorialConfig(t, s.URL)
	cfg.Directory.BindDN, cfg.Directory.BindPassword = s.RootDN, config.Secret(s.RootPassword)
	admin := newEnv(t, cfg)
	if err := admin.a.SetPassword(ctx, "bob", "bob-Reset-Pw-1"); err != nil {
		t.Fatalf("reset as the rootdn: %v", err)
	}
	// The default policy has pwdMustChange: after an administrator's
	// reset bob must choose his own password, which he then can.
	if res := e.login(t, "bob", "bob-Reset-Pw-1"); res.Outcome != auth.MustChangePassword || !res.PasswordChangeable {
		t.Errorf("bob after the reset: %s changeable=%v, want must_change_password and changeable", res.Outcome, res.PasswordChangeable)
	}
	if res, err := e.a.ChangePassword(ctx, "bob", "bob-Reset-Pw-1", "bob-Own-Pw-2"); err != nil || !res.Allowed {
		t.Fatalf("bob changes the reset password: %v %+v", err, res)
	}
	e.mustLogin(t, "bob", "bob-Own-Pw-2")
	if err := admin.a.SetPassword(ctx, "nobody", "x-Reset-Pw-1"); !errors.Is(err, ldapbridge.ErrNotFound) {
		t.Errorf("reset of an unknown user: %v, want ErrNotFound", err)
	}
}
