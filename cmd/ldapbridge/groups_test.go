package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/ldapbridge/ldapbridge/apijson"
	"github.com/ldapbridge/ldapbridge/internal/slapdtest"
)

// TestLocalGroupSurvivesLoginAndSyncInEveryMirrorMode is issue 11's
// done-when check: a local group made with `groups add-local editors` and
// `groups add-member editors bob` still holds bob after bob signs in again
// and after a full sync, whatever groups.mirror says.
func TestLocalGroupSurvivesLoginAndSyncInEveryMirrorMode(t *testing.T) {
	s := slapdtest.Start(t, slapdtest.Options{Fixtures: []string{slapdtest.JumpCloud}})
	for name, mirror := range map[string]string{"all": "all", "none": "none", "only": "{only: [staff]}", "except": "{except: [staff]}"} {
		t.Run(name, func(t *testing.T) {
			c := tutorialCLI(t, s, func(y string) string {
				return strings.Replace(y, "  type: group_of_names\n", "  type: group_of_names\n  mirror: "+mirror+"\n", 1)
			})
			mustOK := func(stdin string, args ...string) cliResult {
				t.Helper()
				r := c.run(stdin, args...)
				if r.code != 0 {
					t.Fatalf("%v: exit %d\nstdout: %s\nstderr: %s", args, r.code, r.stdout, r.stderr)
				}
				return r
			}
			mustOK(slapdtest.JCBobPassword+"\n", "auth", "test", "bob")
			mustOK("", "groups", "add-local", "editors")
			if r := mustOK("", "groups", "add-member", "editors", "bob", "--json"); !strings.Contains(r.stdout, `"members": [`+"\n"+`    "bob"`) {
				t.Errorf("add-member --json: %s", r.stdout)
			}
			check := func(after string) {
				t.Helper()
				var u apijson.UserDetail
				r := mustOK("", "users", "show", "bob", "--json")
				if err := json.Unmarshal([]byte(r.stdout), &u); err != nil {
					t.Fatal(err)
				}
				if !containsString(u.DirectGroups, "editors") || !containsString(u.Groups, "editors") {
					t.Errorf("after %s: bob's groups %v / %v lack editors", after, u.DirectGroups, u.Groups)
				}
				var gs []apijson.Group
				if err := json.Unmarshal([]byte(mustOK("", "groups", "list", "--json").stdout), &gs); err != nil {
					t.Fatal(err)
				}
				for _, g := range gs {
					want := "ldap"
					if g.Name == "editors" {
						want = "local"
						if g.DirectMembers != 1 {
							t.Errorf("after %s: editors has %d members, want 1", after, g.DirectMembers)
						}
					}
					if g.Source != want {
						t.Errorf("after %s: group %s source %q, want %q", after, g.Name, g.Source, want)
					}
				}
			}
			check("add-member")
			r := mustOK(slapdtest.JCBobPassword+"\n", "auth", "test", "bob", "--json")
			if !strings.Contains(r.stdout, `"editors"`) {
				t.Errorf("auth test's user.groups lack editors: %s", r.stdout)
			}
			check("a second sign-in")
			mustOK("", "sync", "--full")
			check("a full sync")
			mustOK(slapdtest.JCBobPassword+"\n", "auth", "test", "bob")
			check("a sign-in after the sync")
			if r := mustOK("", "groups", "list"); !strings.Contains(r.stdout, "SOURCE") || !strings.Contains(r.stdout, "local") {
				t.Errorf("groups list lacks the SOURCE column or a local row:\n%s", r.stdout)
			}
		})
	}
}

func TestLocalGroupCommandsRefuseDirectoryGroupsWithTheFix(t *testing.T) {
	s := slapdtest.Start(t, slapdtest.Options{Fixtures: []string{slapdtest.JumpCloud}})
	c := tutorialCLI(t, s, nil)
	if r := c.run(slapdtest.JCBobPassword+"\n", "auth", "test", "bob"); r.code != 0 {
		t.Fatalf("auth test bob: %d %s", r.code, r.stderr)
	}
	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"groups", "add-local", "staff"}, 1, "a directory group named \"staff\" exists"},
		{[]string{"groups", "add-member", "staff", "bob"}, 1, "its members come from the directory"},
		{[]string{"groups", "remove-member", "staff", "bob"}, 1, "remove the user from it in the directory"},
		{[]string{"groups", "delete-local", "staff"}, 1, "is a directory group"},
		{[]string{"groups", "add-member", "nosuch", "bob"}, 1, "groups add-local nosuch"},
		{[]string{"groups", "add-local", "editors"}, 0, "created local group editors"},
		{[]string{"groups", "add-local", "editors"}, 1, "exists already"},
		{[]string{"groups", "add-member", "editors", "zoe"}, 1, "users populate zoe"},
		{[]string{"groups", "add-member", "editors", "bob"}, 0, "added bob to editors"},
		{[]string{"groups", "add-member", "editors", "bob"}, 0, "already a member"},
		{[]string{"groups", "remove-member", "editors", "bob"}, 0, "removed bob from editors"},
		{[]string{"groups", "remove-member", "editors", "bob"}, 0, "was not a member"},
		{[]string{"groups", "add-member", "editors", "bob"}, 0, "added bob"},
		{[]string{"groups", "delete-local", "editors"}, 0, "deleted local group editors (1 members)"},
		{[]string{"groups", "delete-local", "editors"}, 1, "no group named"},
		{[]string{"groups", "add-local", " x"}, 2, "leading or trailing spaces"},
	} {
		r := c.run("", tt.args...)
		if r.code != tt.code || !strings.Contains(r.stdout+r.stderr, tt.want) {
			t.Errorf("%v: exit %d, %q%q; want exit %d and %q", tt.args, r.code, r.stdout, r.stderr, tt.code, tt.want)
		}
	}
	var u apijson.UserDetail
	r := c.run("", "users", "show", "bob", "--json")
	if err := json.Unmarshal([]byte(r.stdout), &u); err != nil || fmt.Sprint(u.DirectGroups) != "[Django App active engineering staff]" {
		t.Errorf("bob after the refusals: %v %v", u.DirectGroups, err)
	}
}
