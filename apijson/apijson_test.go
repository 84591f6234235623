package apijson

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/ldapbridge/ldapbridge"
)

func TestViewsShowEmptyListsAndMapsNotNull(t *testing.T) {
	for name, v := range map[string]any{
		"user":   NewUserDetail(&ldapbridge.User{Username: "bob"}),
		"group":  NewGroup(&ldapbridge.Group{Name: "staff"}),
		"detail": GroupDetail{Group: NewGroup(&ldapbridge.Group{Name: "staff"}), Members: []string{}},
	} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		for _, field := range []string{`"flags":null`, `"profile":null`, `"groups":null`, `"direct_groups":null`, `"member_groups":null`, `"members":null`} {
			if strings.Contains(string(b), field) {
				t.Errorf("%s: %s in %s", name, field, b)
			}
		}
	}
	b, _ := json.Marshal(NewUserDetail(&ldapbridge.User{Username: "bob", DirectGroups: []string{"a"}}))
	for _, want := range []string{`"username":"bob"`, `"direct_groups":["a"]`, `"groups":[]`, `"flags":{}`, `"last_login_at":null`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("%s lacks %s", b, want)
		}
	}
}

func TestLoginUserListsAndMapsAreNeverNull(t *testing.T) {
	if NewLoginUser(nil) != nil {
		t.Error("NewLoginUser(nil) is not nil")
	}
	b, err := json.Marshal(NewLoginUser(&ldapbridge.User{Username: "jdoe", Groups: []string{"staff", "app"}}))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"flags":{}`, `"profile":{}`, `"groups":["app","staff"]`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("%s lacks %s", b, want)
		}
	}
}

func TestGroupSource(t *testing.T) {
	for _, c := range []struct{ in, want string }{{"", `"source":"ldap"`}, {ldapbridge.SourceLDAP, `"source":"ldap"`}, {ldapbridge.SourceLocal, `"source":"local"`}} {
		b, err := json.Marshal(NewGroup(&ldapbridge.Group{Name: "editors", Source: c.in}))
		if err != nil || !strings.Contains(string(b), c.want) {
			t.Errorf("source %q: %s, %v; want %s", c.in, b, err, c.want)
		}
	}
}
