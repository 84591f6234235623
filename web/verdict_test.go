package web

import (
	"net/http"
	"strings"
	"testing"

	"github.com/ldapbridge/ldapbridge"
)

// A sync or a login on any instance stores the verdict; the next request
// of a signed-in user whose verdict no longer admits them ends the session.
func TestStoredVerdictThatRefusesSignsOutOnTheNextRequest(t *testing.T) {
	for _, v := range []string{ldapbridge.VerdictRequireGroup, ldapbridge.VerdictDenyGroup, ldapbridge.VerdictRemoved, ldapbridge.VerdictInactive} {
		t.Run(v, func(t *testing.T) {
			f := newFixture(t, defaultWebConfig(), nil)
			c := f.client()
			c.mustLogin("bob", "bob-pw")
			tok := c.sessionToken()
			c.get("/profile").wantStatus(t, http.StatusOK)
			// Only the verdict changes: bob stays active, as a sync leaves a
			// user refused by access.require.
			if err := f.store.SetUserVerdict(t.Context(), f.users["bob"].ID, v, "why: "+v, ""); err != nil {
				t.Fatal(err)
			}
			r := c.get("/profile")
			r.wantStatus(t, http.StatusSeeOther)
			if !strings.HasPrefix(r.Header.Get("Location"), "/login") {
				t.Errorf("redirect to %q, want /login", r.Header.Get("Location"))
			}
			if _, found, _ := f.sessions.Find(tok); found {
				t.Error("the session of a refused user is still in the store")
			}
		})
	}
}

func TestStoredVerdictOKKeepsTheSession(t *testing.T) {
	f := newFixture(t, defaultWebConfig(), nil)
	c := f.client()
	c.mustLogin("bob", "bob-pw")
	if err := f.store.SetUserVerdict(t.Context(), f.users["bob"].ID, ldapbridge.VerdictOK, "", ""); err != nil {
		t.Fatal(err)
	}
	c.get("/profile").wantStatus(t, http.StatusOK)
}
