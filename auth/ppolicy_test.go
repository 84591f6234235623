package auth_test

import (
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/ldapbridge/ldapbridge/auth"
	"github.com/ldapbridge/ldapbridge/internal/slapdtest"
)

// setPolicy assigns the policy name to dn (pwdPolicySubentry) and, when
// password is not "", sets it again as the administrator so that
// pwdChangedTime is now.
func setPolicy(t *testing.T, c *ldap.Conn, dn, name, password string) {
	t.Helper()
	m := ldap.NewModifyRequest(dn, nil)
	m.Replace("pwdPolicySubentry", []string{slapdtest.PolicyDN(slapdtest.JCBaseDN, name)})
	if password != "" {
		m.Replace("userPassword", []string{password})
	}
	if err := c.Modify(m); err != nil {
		t.Fatalf("assign policy %s to %s: %v", name, dn, err)
	}
}

// TestPasswordPolicyStatesOnSlapd runs logins against slapd's ppolicy
// overlay: each state the response control reports has its outcome, and
// the warnings of a successful bind reach the Result.
func TestPasswordPolicyStatesOnSlapd(t *testing.T) {
	s := slapdtest.Start(t, slapdtest.Options{Fixtures: []string{slapdtest.JumpCloud}, PasswordPolicy: true})
	s.Apply(t, slapdtest.PolicyLDIF(slapdtest.JCBaseDN, "warn", map[string]string{"pwdMaxAge": "3600", "pwdExpireWarning": "7200"})+
		slapdtest.PolicyLDIF(slapdtest.JCBaseDN, "expired", map[string]string{"pwdMaxAge": "1"})+
		slapdtest.PolicyLDIF(slapdtest.JCBaseDN, "grace", map[string]string{"pwdMaxAge": "1", "pwdGraceAuthNLimit": "3"}))
	c := s.Conn(t)
	setPolicy(t, c, slapdtest.JCBobDN, "warn", slapdtest.JCBobPassword)
	setPolicy(t, c, slapdtest.JCCarolDN, "expired", slapdtest.JCCarolPassword)
	setPolicy(t, c, slapdtest.JCDaveDN, "grace", slapdtest.JCDavePassword)
	aged := time.Now()
	// An administrator's reset under a policy with pwdMustChange.
	reset := ldap.NewModifyRequest(slapdtest.JCJoseDN, nil)
	reset.Replace("pwdReset", []string{"TRUE"})
	if err := c.Modify(reset); err != nil {
		t.Fatalf("set pwdReset on josé: %v", err)
	}
	e := newEnv(t, tutorialConfig(t, s.URL))

	t.Run("near expiry warns with the seconds left", func(t *testing.T) {
		res := e.mustLogin(t, "bob", slapdtest.JCBobPassword)
		if !res.HasExpiryWarning || res.PasswordExpiresIn <= 3500*time.Second || res.PasswordExpiresIn > 3600*time.Second {
			t.Errorf("expiry warning %v %v, want about 3600s", res.HasExpiryWarning, res.PasswordExpiresIn)
		}
		if res.HasGraceLogins {
			t.Errorf("grace logins %d on a password that has not expired", res.GraceLogins)
		}
	})
	t.Run("no policy warning is no warning", func(t *testing.T) {
		res := e.mustLogin(t, "alice", slapdtest.JCAlicePassword)
		if res.HasExpiryWarning || res.HasGraceLogins {
			t.Errorf("alice has no expiring policy, got %+v", res)
		}
	})
	t.Run("must change after a reset", func(t *testing.T) {
		res := e.login(t, "josé", slapdtest.JCJosePassword)
		if res.Outcome != auth.MustChangePassword || res.Authenticated || res.Allowed || !strings.Contains(res.Reason, "must be changed") {
			t.Errorf("josé: %s authenticated=%v allowed=%v (%s), want must_change_password", res.Outcome, res.Authenticated, res.Allowed, res.Reason)
		}
		if res := e.login(t, "josé", "not-his-password"); res.Outcome != auth.BadCredentials {
			t.Errorf("josé with a wrong password: %s, want bad_credentials", res.Outcome)
		}
	})
	t.Run("locked after pwdMaxFailure wrong passwords", func(t *testing.T) {
		for i := 0; i < slapdtest.PolicyMaxFailure; i++ {
			if res := e.login(t, "mallory", "wrong-password"); res.Outcome != auth.BadCredentials {
				t.Fatalf("wrong password %d: %s, want bad_credentials", i+1, res.Outcome)
			}
		}
		res := e.login(t, "mallory", slapdtest.JCMalloryPassword)
		if res.Outcome != auth.AccountLocked || res.Authenticated || res.Allowed {
			t.Errorf("mallory after %d failures: %s (%s), want account_locked", slapdtest.PolicyMaxFailure, res.Outcome, res.Reason)
		}
	})
	time.Sleep(time.Until(aged.Add(2500 * time.Millisecond)))
	t.Run("expired without grace", func(t *testing.T) {
		res := e.login(t, "carol", slapdtest.JCCarolPassword)
		if res.Outcome != auth.PasswordExpired || res.Authenticated || res.Allowed || !strings.Contains(res.Reason, "expired") {
			t.Errorf("carol: %s authenticated=%v (%s), want password_expired", res.Outcome, res.Authenticated, res.Reason)
		}
	})
	t.Run("expired with grace logins left", func(t *testing.T) {
		res := e.mustLogin(t, "dave", slapdtest.JCDavePassword)
		if !res.HasGraceLogins || res.GraceLogins != 2 {
			t.Errorf("dave's first grace login: grace %v %d, want 2 left", res.HasGraceLogins, res.GraceLogins)
		}
		res = e.mustLogin(t, "dave", slapdtest.JCDavePassword)
		if !res.HasGraceLogins || res.GraceLogins != 1 {
			t.Errorf("dave's second grace login: grace %v %d, want 1 left", res.HasGraceLogins, res.GraceLogins)
		}
	})
}
