package main

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/ldapbridge/ldapbridge/internal/slapdtest"
)

// TestAuthTestJSONCarriesPasswordPolicyWarnings: on slapd with ppolicy,
// `auth test --json` prints password_expires_in_s for a password near
// expiry, grace_logins for one used in grace, neither for a plain login,
// and password_expired once the grace logins are spent.
func TestAuthTestJSONCarriesPasswordPolicyWarnings(t *testing.T) {
	s := slapdtest.Start(t, slapdtest.Options{Fixtures: []string{slapdtest.JumpCloud}, PasswordPolicy: true})
	s.Apply(t, slapdtest.PolicyLDIF(slapdtest.JCBaseDN, "warn", map[string]string{"pwdMaxAge": "3600", "pwdExpireWarning": "7200"})+
		slapdtest.PolicyLDIF(slapdtest.JCBaseDN, "grace", map[string]string{"pwdMaxAge": "1", "pwdGraceAuthNLimit": "1"}))
	c := s.Conn(t)
	for dn, policy := range map[string]string{slapdtest.JCBobDN: "warn", slapdtest.JCDaveDN: "grace"} {
		m := ldap.NewModifyRequest(dn, nil)
		m.Replace("pwdPolicySubentry", []string{slapdtest.PolicyDN(slapdtest.JCBaseDN, policy)})
		m.Replace("userPassword", []string{map[string]string{slapdtest.JCBobDN: slapdtest.JCBobPassword, slapdtest.JCDaveDN: slapdtest.JCDavePassword}[dn]})
		if err := c.Modify(m); err != nil {
			t.Fatal(err)
		}
	}
	aged := time.Now()
	cli := tutorialCLI(t, s, nil)
	type out struct {
		Outcome     string `json:"outcome"`
		ExpiresIn   *int64 `json:"password_expires_in_s"`
		GraceLogins *int   `json:"grace_logins"`
	}
	run := func(user, pw string) out {
		t.Helper()
		r := cli.run(pw+"\n", "--json", "auth", "test", user)
		var o out
		if err := json.Unmarshal([]byte(r.stdout), &o); err != nil {
			t.Fatalf("auth test %s: %v\n%s%s", user, err, r.stdout, r.stderr)
		}
		return o
	}
	if o := run(slapdtest.JCBobUID, slapdtest.JCBobPassword); o.Outcome != "ok" || o.ExpiresIn == nil || *o.ExpiresIn <= 3500 || *o.ExpiresIn > 3600 || o.GraceLogins != nil {
		t.Errorf("bob near expiry: %+v, want ok with password_expires_in_s about 3600", o)
	}
	if o := run(slapdtest.JCAliceUID, slapdtest.JCAlicePassword); o.Outcome != "ok" || o.ExpiresIn != nil || o.GraceLogins != nil {
		t.Errorf("alice: %+v, want ok without warnings", o)
	}
	time.Sleep(time.Until(aged.Add(2500 * time.Millisecond)))
	if o := run(slapdtest.JCDaveUID, slapdtest.JCDavePassword); o.Outcome != "ok" || o.GraceLogins == nil || *o.GraceLogins != 0 {
		t.Errorf("dave's one grace login: %+v, want ok with grace_logins 0", o)
	}
	if o := run(slapdtest.JCDaveUID, slapdtest.JCDavePassword); o.Outcome != "password_expired" {
		t.Errorf("dave after his grace logins: %+v, want password_expired", o)
	}
}
