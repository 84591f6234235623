package auth_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/auth"
	"github.com/ldapbridge/ldapbridge/config"
	"github.com/ldapbridge/ldapbridge/dirsync"
	"github.com/ldapbridge/ldapbridge/internal/slapdtest"
)

// offlineEnv is the tutorial configuration with access.offline_login on.
func offlineEnv(t *testing.T, s *slapdtest.Server) (*env, *config.Config) {
	t.Helper()
	cfg := tutorialConfig(t, s.URL)
	cfg.Access.OfflineLogin.Enabled = true
	cfg.Access.OfflineLogin.MaxFailures = 3
	return newEnv(t, cfg), cfg
}

func (e *env) verifier(t *testing.T, name string) *ldapbridge.OfflineVerifier {
	t.Helper()
	v, err := e.store.OfflineVerifier(context.Background(), e.stored(t, name).ID)
	if errors.Is(err, ldapbridge.ErrNotFound) {
		return nil
	}
	if err != nil {
		t.Fatalf("OfflineVerifier(%s): %v", name, err)
	}
	return v
}

func (e *env) fullSync(t *testing.T, cfg *config.Config) {
	t.Helper()
	syncer, err := dirsync.New(dirsync.Options{Config: cfg, Dir: e.dir, Store: e.store, Mapper: e.a.Mapper()})
	if err != nil {
		t.Fatalf("dirsync.New: %v", err)
	}
	if _, err := syncer.Run(context.Background(), dirsync.RunOptions{Mode: dirsync.Full}); err != nil {
		t.Fatalf("full sync: %v", err)
	}
}

// TestOfflineSignInOnlyWhenNoServerAnswers proves access.offline_login on
// slapd: logins while the directory answers store verifiers and never
// consult them; with slapd stopped, a user who signed in before is
// admitted (offline), a wrong password, a user who never signed in, a user
// a sync disabled before the outage and a verifier older than max_age are
// refused; max_failures wrong offline passwords delete the verifier; and a
// password change the sync sees deletes it too.
func TestOfflineSignInOnlyWhenNoServerAnswers(t *testing.T) {
	s := slapdtest.Start(t, slapdtest.Options{Fixtures: []string{slapdtest.JumpCloud}, PasswordPolicy: true})
	e, cfg := offlineEnv(t, s)
	for _, u := range []struct{ name, pw string }{{"alice", slapdtest.JCAlicePassword}, {"bob", slapdtest.JCBobPassword},
		{"carol", slapdtest.JCCarolPassword}, {"dave", slapdtest.JCDavePassword}, {"mallory", slapdtest.JCMalloryPassword}} {
		e.mustLogin(t, u.name, u.pw)
	}
	v := e.verifier(t, "alice")
	if v == nil || !strings.HasPrefix(v.Verifier, "$argon2id$") || strings.Contains(v.Verifier, slapdtest.JCAlicePassword) {
		t.Fatalf("alice's verifier %+v, want an argon2id hash", v)
	}

	t.Run("a server that answers invalid credentials is never second-guessed", func(t *testing.T) {
		res := e.login(t, "alice", "not-her-password")
		if res.Outcome != auth.BadCredentials || res.Offline {
			t.Fatalf("wrong password online: %s offline=%v", res.Outcome, res.Offline)
		}
		if v := e.verifier(t, "alice"); v == nil || v.Failures != 0 {
			t.Errorf("the verifier was consulted while the directory answered: %+v", v)
		}
		// The old password after a change in the directory: the
		// directory says no, and the verifier (of the old password) is
		// not asked.
		c := s.Conn(t)
		m := ldap.NewModifyRequest(slapdtest.JCBobDN, nil)
		m.Replace("userPassword", []string{"bob-New-Pw-22"})
		if err := c.Modify(m); err != nil {
			t.Fatal(err)
		}
		if res := e.login(t, "bob", slapdtest.JCBobPassword); res.Outcome != auth.BadCredentials || res.Offline {
			t.Errorf("bob's old password while the directory answers: %s offline=%v", res.Outcome, res.Offline)
		}
	})

	// dave leaves the active group; a sync before the outage stores him
	// inactive, which drops his verifier.
	c := s.Conn(t)
	m := ldap.NewModifyRequest("cn=active,"+slapdtest.JCUsersDN, nil)
	m.Delete("member", []string{slapdtest.JCDaveDN})
	if err := c.Modify(m); err != nil {
		t.Fatalf("remove dave from active: %v", err)
	}
	e.fullSync(t, cfg)
	if e.stored(t, "dave").Allowed() {
		t.Fatal("the sync did not store dave as not admitted")
	}
	// bob's password changed in the directory (above): the sync saw a new
	// pwdChangedTime and dropped the verifier of his old password.
	if v := e.verifier(t, "bob"); v != nil {
		t.Errorf("bob's verifier survived a sync that saw his password change: %+v", v)
	}
	// carol's verifier is older than max_age.
	old := e.verifier(t, "carol")
	old.LoginAt = time.Now().Add(-73 * time.Hour)
	if err := e.store.SaveOfflineVerifier(context.Background(), old); err != nil {
		t.Fatal(err)
	}

	s.Stop(t)
	t.Run("no server answers", func(t *testing.T) {
		res := e.login(t, "alice", slapdtest.JCAlicePassword)
		if res.Outcome != auth.OK || !res.Offline || !res.Authenticated || !res.Allowed || res.User == nil || res.User.Username != "alice" {
			t.Fatalf("alice offline: %s offline=%v (%s)", res.Outcome, res.Offline, res.Reason)
		}
		if res.OutcomeLabel() != "offline" {
			t.Errorf("counted as %q, want offline", res.OutcomeLabel())
		}
		for _, tc := range []struct {
			what, name, pw string
			outcome        auth.Outcome
			why            string
		}{
			{"wrong password", "alice", "not-her-password", auth.BadCredentials, "does not match"},
			{"never signed in, not stored", "nobody", "some-Password-1", auth.LDAPError, "no stored account"},
			{"never signed in, stored by the sync", "josé", slapdtest.JCJosePassword, auth.LDAPError, "no verifier"},
			{"not admitted by the stored verdict", "grace", slapdtest.JCGracePassword, auth.LDAPError, "does not admit"},
			{"disabled by a sync before the outage", "dave", slapdtest.JCDavePassword, auth.LDAPError, "does not admit"},
			{"verifier older than max_age", "carol", slapdtest.JCCarolPassword, auth.LDAPError, "max_age"},
			{"verifier dropped on a password change", "bob", slapdtest.JCBobPassword, auth.LDAPError, "no verifier"},
		} {
			res := e.login(t, tc.name, tc.pw)
			if res.Outcome != tc.outcome || res.Allowed || !strings.Contains(res.Reason, tc.why) {
				t.Errorf("%s: %s allowed=%v (%s), want %s saying %q", tc.what, res.Outcome, res.Allowed, res.Reason, tc.outcome, tc.why)
			}
		}
		// alice had one wrong offline attempt; two more reach
		// max_failures (3) and delete the verifier.
		for i := 0; i < 2; i++ {
			e.login(t, "alice", "still-not-her-password")
		}
		if v := e.verifier(t, "alice"); v != nil {
			t.Errorf("the verifier survived max_failures wrong offline passwords: %+v", v)
		}
		if res := e.login(t, "alice", slapdtest.JCAlicePassword); res.Allowed {
			t.Errorf("alice after max_failures: %s, want refused", res.Outcome)
		}
	})

	s.Start(t)
	t.Run("back online, a login stores a fresh verifier and forget-offline drops it", func(t *testing.T) {
		e.mustLogin(t, "alice", slapdtest.JCAlicePassword)
		if v := e.verifier(t, "alice"); v == nil || v.Failures != 0 {
			t.Fatalf("alice's verifier after signing in again: %+v", v)
		}
		if err := auth.ForgetOffline(context.Background(), e.store, "alice"); err != nil {
			t.Fatal(err)
		}
		if v := e.verifier(t, "alice"); v != nil {
			t.Errorf("ForgetOffline left %+v", v)
		}
		if err := auth.ForgetOffline(context.Background(), e.store, "alice"); !errors.Is(err, ldapbridge.ErrNotFound) {
			t.Errorf("ForgetOffline twice: %v, want ErrNotFound", err)
		}
	})
}
