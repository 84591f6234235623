package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/ldapbridge/ldapbridge/internal/slapdtest"
)

// Issue 11's manual check as a test: against the JumpCloud-shaped slapd and
// the tutorial config, a signed-in user removed from the required group is
// signed out on the first request after `sync --full`, and `users show`
// says why.
func TestUserRemovedFromRequiredGroupIsSignedOutAfterFullSync(t *testing.T) {
	s := slapdtest.Start(t, slapdtest.Options{Fixtures: []string{slapdtest.JumpCloud}})
	listen := freeAddr(t)
	c := tutorialCLI(t, s, func(y string) string { return y + "\nweb: {listen: '" + listen + "'}\n" })
	if r := c.run("", "sync", "--full"); r.code != 0 {
		t.Fatalf("first sync: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	in := startInstance(t, buildBinary(t), c.config, "web")
	cookie := signIn(t, in.url, slapdtest.JCAliceUID, slapdtest.JCAlicePassword)
	if got := status(in.url, "/profile", cookie); got != http.StatusOK {
		t.Fatalf("/profile after sign-in: %d, want 200", got)
	}

	s.Apply(t, "dn: "+slapdtest.JCDjangoAppGroupDN+"\nchangetype: modify\ndelete: member\nmember: "+slapdtest.JCAliceDN+"\n")
	r := c.run("", "--json", "sync", "--full")
	var rep struct {
		UsersRefused int  `json:"users_refused"`
		Aborted      bool `json:"aborted"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || r.code != 0 || rep.UsersRefused != 1 || rep.Aborted {
		t.Fatalf("sync --full after alice left Django App: exit %d, %+v (%v)\n%s%s", r.code, rep, err, r.stdout, r.stderr)
	}
	if got := status(in.url, "/profile", cookie); got != http.StatusSeeOther {
		t.Errorf("/profile after the sync: %d, want 303 to the sign-in page", got)
	}
	if got := status(in.url, "/profile", cookie); got != http.StatusSeeOther {
		t.Errorf("/profile again: %d, want 303 (the session is gone)", got)
	}

	r = c.run("", "--json", "users", "show", slapdtest.JCAliceUID)
	var u struct {
		Allowed       bool   `json:"allowed"`
		Verdict       string `json:"verdict"`
		VerdictReason string `json:"verdict_reason"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &u); err != nil || u.Allowed || u.Verdict != "require_group" || !strings.Contains(u.VerdictReason, "Django App") {
		t.Errorf("users show alice --json: %+v (%v)\n%s", u, err, r.stdout)
	}
	var list []struct {
		Username string `json:"username"`
		Allowed  *bool  `json:"allowed"`
	}
	r = c.run("", "--json", "users", "list")
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil || len(list) == 0 {
		t.Fatalf("users list --json: %v\n%s", err, r.stdout)
	}
	for _, row := range list {
		switch {
		case row.Allowed == nil:
			t.Errorf("users list --json row %s has no allowed", row.Username)
		case row.Username == slapdtest.JCAliceUID && *row.Allowed:
			t.Error("users list --json: alice allowed=true after she left the required group")
		case row.Username == slapdtest.JCBobUID && !*row.Allowed:
			t.Error("users list --json: bob allowed=false")
		}
	}
}
