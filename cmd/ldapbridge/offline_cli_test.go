package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/ldapbridge/ldapbridge/internal/slapdtest"
)

// offlineYAML turns access.offline_login on in the tutorial config.
func offlineYAML(y string) string {
	return strings.Replace(y, "\naccess:\n", "\naccess:\n  offline_login: {enabled: true, max_age: 72h, max_failures: 5}\n", 1)
}

type offlineAuthJSON struct {
	Outcome string `json:"outcome"`
	Reason  string `json:"reason"`
	Allowed bool   `json:"allowed"`
	Offline *bool  `json:"offline"`
}

func (c cli) authJSON(t *testing.T, user, pw string) offlineAuthJSON {
	t.Helper()
	r := c.run(pw+"\n", "--json", "auth", "test", user)
	var res offlineAuthJSON
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("auth test %s --json: %v\n%s%s", user, err, r.stdout, r.stderr)
	}
	return res
}

// TestAuthTestOfflineAndForgetOffline runs the binary: with
// access.offline_login a directory login stores a verifier, `auth test
// --json` with slapd stopped says "offline": true, and `users
// forget-offline` deletes the verifier so the next offline attempt is
// refused.
func TestAuthTestOfflineAndForgetOffline(t *testing.T) {
	s := slapdtest.Start(t, slapdtest.Options{Fixtures: []string{slapdtest.JumpCloud}})
	c := tutorialCLI(t, s, offlineYAML)
	if res := c.authJSON(t, slapdtest.JCAliceUID, slapdtest.JCAlicePassword); res.Outcome != "ok" || res.Offline != nil {
		t.Fatalf("online: %+v, want ok without an offline field", res)
	}
	s.Stop(t)
	res := c.authJSON(t, slapdtest.JCAliceUID, slapdtest.JCAlicePassword)
	if res.Outcome != "ok" || !res.Allowed || res.Offline == nil || !*res.Offline {
		t.Fatalf("with slapd stopped: %+v, want ok and \"offline\": true", res)
	}
	if r := c.run("", "users", "forget-offline", slapdtest.JCAliceUID); r.code != 0 || !strings.Contains(r.stdout, "deleted") {
		t.Fatalf("users forget-offline: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if res := c.authJSON(t, slapdtest.JCAliceUID, slapdtest.JCAlicePassword); res.Outcome != "ldap_error" || res.Allowed || !strings.Contains(res.Reason, "no verifier") {
		t.Errorf("after forget-offline: %+v, want ldap_error saying there is no verifier", res)
	}
	if r := c.run("", "users", "forget-offline", slapdtest.JCAliceUID); r.code != 1 || !strings.Contains(r.stderr, "nothing to forget") {
		t.Errorf("forget-offline twice: exit %d\n%s%s, want 1 and 'nothing to forget'", r.code, r.stdout, r.stderr)
	}
}

// TestCheckWarnsOfflineLoginWithoutTLS: check warns when offline sign-in
// is on and the directory is plain LDAP, and not over LDAPS.
func TestCheckWarnsOfflineLoginWithoutTLS(t *testing.T) {
	s := slapdtest.Start(t, slapdtest.Options{Fixtures: []string{slapdtest.JumpCloud}})
	const warning = "access.offline_login is enabled but the directory is reached without TLS"
	plain := tutorialCLI(t, s, func(y string) string {
		return offlineYAML(strings.Replace(y, s.LDAPSURL, s.URL, 1))
	})
	if r := plain.run("", "check"); !strings.Contains(r.stdout+r.stderr, warning) || !strings.Contains(r.stdout+r.stderr, s.URL) {
		t.Errorf("check over ldap:// with offline login: no warning naming %s\n%s%s", s.URL, r.stdout, r.stderr)
	}
	tls := tutorialCLI(t, s, offlineYAML)
	if r := tls.run("", "check"); strings.Contains(r.stdout+r.stderr, warning) {
		t.Errorf("check over ldaps:// warned:\n%s%s", r.stdout, r.stderr)
	}
}

// TestUsersSetPasswordResetsThroughTheServiceAccount: `users set-password`
// reads the password from standard input and resets it as the service
// account. The fixture's service account may not write passwords, so the
// directory refuses and the command says which right is missing; bound as
// the rootdn it resets, and slapd's default policy (pwdMustChange) then
// makes the user change it at the next sign-in.
func TestUsersSetPasswordResetsThroughTheServiceAccount(t *testing.T) {
	s := slapdtest.Start(t, slapdtest.Options{Fixtures: []string{slapdtest.JumpCloud}, PasswordPolicy: true})
	svc := tutorialCLI(t, s, nil)
	r := svc.run("bob-Reset-Pw-1\n", "users", "set-password", slapdtest.JCBobUID)
	if r.code != 1 || !strings.Contains(r.stderr, "the directory refused the new password") || !strings.Contains(r.stderr, "right to reset passwords") {
		t.Errorf("set-password as the fixture's service account: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if res := svc.authJSON(t, slapdtest.JCBobUID, slapdtest.JCBobPassword); res.Outcome != "ok" {
		t.Fatalf("bob's password changed although the reset was refused: %+v", res)
	}
	root := tutorialCLI(t, s, func(y string) string {
		return strings.NewReplacer("uid="+slapdtest.JCServiceUID+","+slapdtest.JCUsersDN, s.RootDN,
			"${LDAP_BIND_PASSWORD}", s.RootPassword).Replace(y)
	})
	if r := root.run("bob-Reset-Pw-1\n", "users", "set-password", slapdtest.JCBobUID); r.code != 0 || !strings.Contains(r.stdout, "set the directory password of bob") {
		t.Fatalf("set-password as the rootdn: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if res := svc.authJSON(t, slapdtest.JCBobUID, "bob-Reset-Pw-1"); res.Outcome != "must_change_password" {
		t.Errorf("bob after the reset: %+v, want must_change_password", res)
	}
	if res := svc.authJSON(t, slapdtest.JCBobUID, slapdtest.JCBobPassword); res.Outcome != "bad_credentials" {
		t.Errorf("bob's old password after the reset: %+v, want bad_credentials", res)
	}
}
