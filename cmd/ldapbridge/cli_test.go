package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ldapbridge/ldapbridge/apijson"
	"github.com/ldapbridge/ldapbridge/internal/slapdtest"
)

// cli runs one ldapbridge command line in-process.
type cli struct {
	t      *testing.T
	config string
}

type cliResult struct {
	code           int
	stdout, stderr string
}

func (c cli) run(stdin string, args ...string) cliResult {
	c.t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), append([]string{"--config", c.config}, args...), strings.NewReader(stdin), &out, &errb)
	return cliResult{code, out.String(), errb.String()}
}

// tutorialCLI writes examples/jumpcloud.yaml, the README's JumpCloud
// tutorial config, pointed at the test slapd over LDAPS with its CA.
func tutorialCLI(t *testing.T, s *slapdtest.Server, edit func(string) string) cli {
	t.Helper()
	raw, err := os.ReadFile("../../examples/jumpcloud.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// The example trusts the system roots (JumpCloud's certificate is
	// public); the test slapd's CA goes where the example says to put one.
	const caLines = "  # tls:\n  #   ca_file: jumpcloud-ca.pem"
	if !strings.Contains(string(raw), caLines) {
		t.Fatalf("examples/jumpcloud.yaml no longer has the commented-out %q", caLines)
	}
	y := strings.NewReplacer(
		"ldaps://ldap.jumpcloud.com:636", s.LDAPSURL,
		caLines, "  tls:\n    ca_file: "+s.CAFile,
		"uid=ldapbridge-svc,", "uid="+slapdtest.JCServiceUID+",",
		"ORGID", slapdtest.JCOrgID,
	).Replace(string(raw))
	y += "\nstore: {driver: sqlite, dsn: " + filepath.Join(t.TempDir(), "lb.db") + "}\n"
	if edit != nil {
		y = edit(y)
	}
	path := filepath.Join(t.TempDir(), "ldapbridge.yaml")
	if err := os.WriteFile(path, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("LDAP_BIND_PASSWORD", slapdtest.JCServicePassword)
	return cli{t: t, config: path}
}

func TestAuthTestJSONForEveryTutorialFixtureUser(t *testing.T) {
	s := slapdtest.Start(t, slapdtest.Options{Fixtures: []string{slapdtest.JumpCloud}})
	c := tutorialCLI(t, s, nil)
	tests := []struct {
		name, user, password string
		outcome              string
		authenticated        bool
		allowed              bool
		staff, superuser     bool
		email                string
		groups               []string
	}{
		{"regular user with two mails takes the first", "alice", slapdtest.JCAlicePassword, "ok", true, true, false, false, slapdtest.JCAliceMail, []string{"Django App", "active"}},
		{"staff flag", "bob", slapdtest.JCBobPassword, "ok", true, true, true, false, "", nil},
		{"superuser flag", "carol", slapdtest.JCCarolPassword, "ok", true, true, true, true, "", nil},
		{"user with a photo", "dave", slapdtest.JCDavePassword, "ok", true, true, false, false, "", nil},
		{"outside the required group", "erin", slapdtest.JCErinPassword, "require_group", false, false, false, false, "", nil},
		{"in the app but not active", "frank", slapdtest.JCFrankPassword, "inactive", true, false, false, false, "", nil},
		{"in no group", "grace", slapdtest.JCGracePassword, "require_group", false, false, false, false, "", nil},
		{"non-ASCII uid", "josé", slapdtest.JCJosePassword, "ok", true, true, false, false, "", nil},
		{"uppercase username finds the same person", "ALICE", slapdtest.JCAlicePassword, "ok", true, true, false, false, slapdtest.JCAliceMail, nil},
		{"reached only through nesting is not in Django App", "nina", slapdtest.JCNinaPassword, "require_group", false, false, false, false, "", nil},
		{"wrong password", "alice", "not-her-password", "bad_credentials", false, false, false, false, "", nil},
		{"unknown user", "zoe", "whatever", "user_not_found", false, false, false, false, "", nil},
		{"wildcard username matches nobody", "*", "whatever", "user_not_found", false, false, false, false, "", nil},
		{"filter injection matches nobody", "x)(uid=*", "whatever", "user_not_found", false, false, false, false, "", nil},
		{"empty password", "alice", "", "empty_password", false, false, false, false, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := c.run(tt.password+"\n", "auth", "test", tt.user, "--json")
			var got authTestJSON
			if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
				t.Fatalf("not JSON (%v): %s\nstderr: %s", err, r.stdout, r.stderr)
			}
			if got.Outcome != tt.outcome || got.Authenticated != tt.authenticated || got.Allowed != tt.allowed {
				t.Fatalf("outcome %s authenticated %v allowed %v, want %s %v %v (reason %q)",
					got.Outcome, got.Authenticated, got.Allowed, tt.outcome, tt.authenticated, tt.allowed, got.Reason)
			}
			if wantCode := map[bool]int{true: 0, false: 1}[tt.allowed]; r.code != wantCode {
				t.Errorf("exit %d, want %d", r.code, wantCode)
			}
			if got.GroupDNs == nil || got.GroupNames == nil || !strings.Contains(r.stdout, `"group_dns": [`) {
				t.Errorf("group arrays must be present, never null: %s", r.stdout)
			}
			if tt.password != "" && strings.Contains(r.stdout+r.stderr, tt.password) {
				t.Errorf("the password was echoed")
			}
			if !tt.authenticated {
				return
			}
			u := got.User
			if u == nil {
				t.Fatalf("no user in %s", r.stdout)
			}
			if u.IsStaff != tt.staff || u.IsSuperuser != tt.superuser || u.IsActive != tt.allowed {
				t.Errorf("flags active %v staff %v superuser %v", u.IsActive, u.IsStaff, u.IsSuperuser)
			}
			if u.FirstName == "" || u.LastName == "" || u.Email == "" {
				t.Errorf("attributes not mapped: %+v", u)
			}
			if tt.email != "" && u.Email != tt.email {
				t.Errorf("email %q, want %q", u.Email, tt.email)
			}
			if u.Username != strings.ToLower(tt.user) {
				t.Errorf("stored username %q", u.Username)
			}
			if tt.groups != nil {
				if strings.Join(got.GroupNames, ",") != strings.Join(tt.groups, ",") || strings.Join(u.Groups, ",") != strings.Join(tt.groups, ",") {
					t.Errorf("group_names %v, user.groups %v; want %v", got.GroupNames, u.Groups, tt.groups)
				}
			}
		})
	}

	t.Run("users show reflects the logins", func(t *testing.T) {
		r := c.run("", "users", "show", "dave", "--json")
		var u apijson.UserDetail
		if err := json.Unmarshal([]byte(r.stdout), &u); err != nil || r.code != 0 {
			t.Fatalf("exit %d: %v %s %s", r.code, err, r.stdout, r.stderr)
		}
		if !u.HasPhoto || u.Source != "ldap" || u.StableID == "" || u.LastLoginAt == nil {
			t.Errorf("dave: %+v", u)
		}
		if r := c.run("", "users", "show", "nobody"); r.code != 1 || !strings.Contains(r.stderr, "users populate") {
			t.Errorf("unknown user: exit %d, %s", r.code, r.stderr)
		}
	})

	t.Run("explain lists rules, flags and queries without a password", func(t *testing.T) {
		r := c.run("", "explain", "bob", "--json")
		var ex struct {
			Found   bool `json:"found"`
			Require struct{ Verdict bool }
			Flags   map[string]bool     `json:"flags"`
			Queries []queryJSON         `json:"queries"`
			User    *apijson.UserDetail `json:"user"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &ex); err != nil || r.code != 0 {
			t.Fatalf("exit %d: %v %s %s", r.code, err, r.stdout, r.stderr)
		}
		if !ex.Found || !ex.Require.Verdict || !ex.Flags["is_staff"] || ex.Flags["is_superuser"] || ex.User == nil {
			t.Errorf("explain bob: %s", r.stdout)
		}
		if len(ex.Queries) != 2 || ex.Queries[0].Entries != 1 {
			t.Errorf("want the user search and one group search, got %+v", ex.Queries)
		}
	})

	t.Run("groups list shows mirrored groups", func(t *testing.T) {
		r := c.run("", "groups", "list", "--json")
		if r.code != 0 || !strings.Contains(r.stdout, `"name": "Django App"`) {
			t.Errorf("exit %d: %s %s", r.code, r.stdout, r.stderr)
		}
	})

	t.Run("a local break-glass account", func(t *testing.T) {
		if r := c.run("s3cret-Local\n", "users", "add-local", "admin", "--superuser"); r.code != 0 {
			t.Fatalf("add-local: exit %d %s", r.code, r.stderr)
		}
		r := c.run("s3cret-Local\n", "auth", "test", "admin", "--json")
		if r.code != 0 || !strings.Contains(r.stdout, `"outcome": "ok"`) || !strings.Contains(r.stdout, `"is_superuser": true`) {
			t.Errorf("local login: exit %d %s %s", r.code, r.stdout, r.stderr)
		}
		if r := c.run("wrong\n", "auth", "test", "admin", "--json"); r.code != 1 || !strings.Contains(r.stdout, "bad_credentials") {
			t.Errorf("local wrong password: exit %d %s", r.code, r.stdout)
		}
	})
}

func TestCheckSaysWhatIsWrongAndHowToFixIt(t *testing.T) {
	s := slapdtest.Start(t, slapdtest.Options{Fixtures: []string{slapdtest.JumpCloud}})
	tests := []struct {
		name     string
		edit     func(string) string
		code     int
		contains []string
	}{
		{"a working config", nil, 0, []string{"OK: no problems found", "TLS 1.", "users.search: 1"}},
		{"wrong CA", func(y string) string { return strings.Replace(y, s.CAFile, s.WrongCAFile, 1) }, 1,
			[]string{"x509", "directory.tls.ca_file"}},
		{"wrong bind password", func(y string) string {
			return strings.Replace(y, "${LDAP_BIND_PASSWORD}", "not-the-password", 1)
		}, 1, []string{"directory.bind_dn", "directory.bind_password"}},
		{"unreachable URL", func(y string) string { return strings.Replace(y, s.LDAPSURL, "ldaps://127.0.0.1:1", 1) }, 1,
			[]string{"directory.urls[0]", "check directory.urls"}},
		{"a user filter that matches nobody", func(y string) string {
			return strings.Replace(y, `filter: "(uid={username})"`, `filter: "(&(objectClass=posixGroup)(uid={username}))"`, 1)
		}, 1, []string{"matches nobody", "users.search.filter"}},
		{"a required group that does not exist", func(y string) string {
			return strings.Replace(y, `require: "cn=Django App,`, `require: "cn=Djngo App,`, 1)
		}, 1, []string{"access.require", "does not exist"}},
		{"an invalid config", func(y string) string {
			return strings.Replace(y, "directory:\n", "directory:\n  start_tls: true\n", 1)
		}, 2, []string{"start_tls"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tutorialCLI(t, s, tt.edit)
			r := c.run("", "check")
			if r.code != tt.code {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", r.code, tt.code, r.stdout, r.stderr)
			}
			for _, want := range tt.contains {
				if !strings.Contains(r.stdout+r.stderr, want) {
					t.Errorf("output lacks %q:\n%s%s", want, r.stdout, r.stderr)
				}
			}
			if strings.Contains(r.stdout+r.stderr, slapdtest.JCServicePassword) {
				t.Error("check printed the bind password")
			}
		})
	}
	t.Run("json", func(t *testing.T) {
		r := tutorialCLI(t, s, nil).run("", "check", "--json")
		var rep checkJSON
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || !rep.OK || len(rep.Servers) != 1 || !rep.Servers[0].ServiceBind {
			t.Errorf("exit %d %v: %s", r.code, err, r.stdout)
		}
	})
}

func TestEmptyPasswordIsRefusedWithoutADirectory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	y := "directory: {urls: [\"ldap://127.0.0.1:1\"], flavor: openldap}\n" +
		"users: {search: {base_dn: \"dc=x\", filter: \"(uid={username})\"}}\n" +
		"store: {dsn: " + filepath.Join(t.TempDir(), "x.db") + "}\n"
	if err := os.WriteFile(path, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	r := cli{t: t, config: path}.run("\n", "auth", "test", "alice", "--json")
	if r.code != 1 || !strings.Contains(r.stdout, `"outcome": "empty_password"`) {
		t.Errorf("exit %d: %s %s", r.code, r.stdout, r.stderr)
	}
}

func TestMissingConfigIsAUsageError(t *testing.T) {
	r := cli{t: t, config: filepath.Join(t.TempDir(), "none.yaml")}.run("", "users", "list")
	if r.code != 2 || !strings.Contains(r.stderr, "LDAPBRIDGE_CONFIG") {
		t.Errorf("exit %d: %s", r.code, r.stderr)
	}
}

func TestReadPasswordKeepsSpacesAndStripsOnlyTheLineEnding(t *testing.T) {
	for in, want := range map[string]string{" pw \r\nrest": " pw ", "pw": "pw", "\n": "", "a b\n": "a b"} {
		got, err := readPassword(strings.NewReader(in))
		if err != nil || got != want {
			t.Errorf("readPassword(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}
