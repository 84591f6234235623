package web

import (
	"net/http"
	"strings"
	"testing"

	"github.com/ldapbridge/ldapbridge"
)

func TestLabelMakesConfigKeysReadable(t *testing.T) {
	tests := []struct{ key, want string }{
		{"display_name", "Display name"},
		{"department", "Department"},
		{"cost-center", "Cost center"},
		{"ünit", "Ünit"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := label(tt.key); got != tt.want {
			t.Errorf("label(%q) = %q, want %q", tt.key, got, tt.want)
		}
	}
}

func TestInitialsStandInForAMissingPhoto(t *testing.T) {
	tests := []struct {
		name string
		user *ldapbridge.User
		want string
	}{
		{"first and last name", &ldapbridge.User{Username: "jmuller", FirstName: "jürgen", LastName: "Müller"}, "JM"},
		{"first name only", &ldapbridge.User{Username: "x", FirstName: "Kavya"}, "K"},
		{"username when nameless", &ldapbridge.User{Username: "svc"}, "S"},
		{"nobody", nil, "?"},
	}
	for _, tt := range tests {
		if got := initials(tt.user); got != tt.want {
			t.Errorf("%s: initials = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestRefusalPageOffersAWayForward(t *testing.T) {
	f := newFixture(t, defaultWebConfig(), nil)
	c := f.client()
	c.mustLogin("bob", "bob-pw")
	r := c.get("/admin")
	r.wantStatus(t, http.StatusForbidden)
	r.wantBody(t, "<title>You do not have access to this page · ldapbridge</title>",
		`<h1 id="problem-title">You do not have access to this page</h1>`,
		`href="/profile"`, "Sign in as someone else")
	if strings.Contains(r.body, `role="alert"`) {
		t.Error("the refusal is shown twice: as the page and as an alert above it")
	}

	anon := f.client().get("/no/such/page")
	anon.wantStatus(t, http.StatusNotFound)
	anon.wantBody(t, "Page not found", `href="/login"`)
	if strings.Contains(anon.body, "Sign in as someone else") {
		t.Error("an anonymous visitor is offered to sign out")
	}
}

func TestProfileShowsInitialsWithoutAPhoto(t *testing.T) {
	f := newFixture(t, defaultWebConfig(), nil)
	c := f.client()
	c.mustLogin("bob", "bob-pw")
	r := c.get("/profile")
	r.wantBody(t, `class="photo placeholder" role="img" aria-label="No photo for Bob Jones">BJ</span>`)
}
