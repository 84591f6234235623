package config

import (
	"strings"
	"testing"
)

const twoDirectories = `
directories:
  - name: corp
    directory: {urls: [ldaps://corp.example.com:636], bind_dn: "cn=svc,dc=corp", bind_password: "${PW}", flavor: openldap}
    users:
      search: {base_dn: "ou=people,dc=corp", filter: "(uid={username})"}
    groups: {search: {base_dn: "ou=groups,dc=corp", filter: "(objectClass=groupOfNames)"}}
    access: {require: "cn=app,ou=groups,dc=corp"}
  - name: contractors
    directory: {urls: [ldap://127.0.0.1:1389], flavor: active_directory}
    users:
      search: {base_dn: "ou=people,dc=ext", filter: "(sAMAccountName={username})"}
      username_suffix: "@contractors"
    access: {skip_unreachable: true}
    sync: {removed_users: keep}
sync: {removed_users: delete, full_every: 3}
store: {driver: sqlite, dsn: x.db}
`

func TestDirectoriesListForm(t *testing.T) {
	c := mustParse(t, twoDirectories)
	ds := c.Directories()
	if len(ds) != 2 || ds[0] != c || ds[0].Name() != "corp" || ds[1].Name() != "contractors" {
		t.Fatalf("directories = %d, first is c: %v", len(ds), ds[0] == c)
	}
	corp, ext := ds[0], ds[1]
	if corp.Directory.URLs[0] != "ldaps://corp.example.com:636" || ext.Directory.URLs[0] != "ldap://127.0.0.1:1389" {
		t.Errorf("urls: %v %v", corp.Directory.URLs, ext.Directory.URLs)
	}
	if ext.Users.UsernameAttribute != "sAMAccountName" || corp.Users.UsernameAttribute != "uid" {
		t.Errorf("flavor defaults per directory: %q %q", corp.Users.UsernameAttribute, ext.Users.UsernameAttribute)
	}
	if ext.Users.UsernameSuffix != "@contractors" || corp.Users.UsernameSuffix != "" {
		t.Errorf("username_suffix: %q %q", corp.Users.UsernameSuffix, ext.Users.UsernameSuffix)
	}
	if !ext.Access.SkipUnreachable || corp.Access.SkipUnreachable {
		t.Error("skip_unreachable is per directory")
	}
	if corp.Access.Require.IsZero() || !ext.Access.Require.IsZero() {
		t.Error("access.require is per directory")
	}
	if corp.Sync.RemovedUsers != "delete" || ext.Sync.RemovedUsers != "keep" {
		t.Errorf("sync override: corp %q, contractors %q", corp.Sync.RemovedUsers, ext.Sync.RemovedUsers)
	}
	if corp.Sync.FullEvery != 3 || ext.Sync.FullEvery != 3 {
		t.Errorf("shared sync keys: %d %d", corp.Sync.FullEvery, ext.Sync.FullEvery)
	}
	if corp.Store.DSN.Reveal() != "x.db" || ext.Store.DSN.Reveal() != "x.db" {
		t.Error("store is shared")
	}
	if c.DirectoryNamed("contractors") != ext || c.DirectoryNamed("nope") != nil {
		t.Error("DirectoryNamed")
	}
	for _, d := range ds {
		if len(d.Directories()) != 2 {
			t.Errorf("%s: Directories() = %d", d.Name(), len(d.Directories()))
		}
	}
}

func TestSingleFormIsOneDirectoryNamedDefault(t *testing.T) {
	c := mustParse(t, base)
	if ds := c.Directories(); len(ds) != 1 || ds[0] != c || c.Name() != "default" {
		t.Fatalf("single form: %d directories, name %q", len(ds), c.Name())
	}
}

func TestDirectoriesProblemsNameTheirKeys(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       []string // substrings of the error
	}{
		{"mixed forms", base + `
directories:
  - name: corp
    directory: {urls: [ldap://localhost]}
    users: {dn_template: "uid={username},dc=x"}
`, []string{"directories: is set together with the single-directory keys directory, users"}},
		{"bad name", `
directories:
  - name: Corp
    directory: {urls: [ldap://localhost]}
    users: {dn_template: "uid={username},dc=x"}
`, []string{`directories[0].name: "Corp" is not a valid directory name`}},
		{"duplicate name", `
directories:
  - name: corp
    directory: {urls: [ldap://localhost]}
    users: {dn_template: "uid={username},dc=x"}
  - name: corp
    directory: {urls: [ldap://localhost]}
    users: {dn_template: "uid={username},dc=x"}
`, []string{`directories[1].name: "corp" is also the name of directories[0]`}},
		{"missing name and unknown key", `
directories:
  - directory: {urls: [ldap://localhost]}
    users: {dn_template: "uid={username},dc=x"}
    store: {driver: sqlite}
`, []string{"directories[0].name: is missing", "directories[0].store: unknown key"}},
		{"problem inside an entry", `
directories:
  - name: corp
    directory: {urls: [ldap://localhost]}
    users: {dn_template: "uid={username},dc=x"}
  - name: ext
    directory: {urls: []}
    users: {dn_template: "uid={username},dc=x"}
    sync: {removed_users: vanish}
`, []string{"directories[1].directory.urls: is empty", "directories[1].sync.removed_users"}},
		{"empty list", "directories: []\n", []string{"directories: must be a non-empty list"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parse(t, tt.yaml)
			if err == nil {
				t.Fatal("parsed")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestRedactedDirectoriesParsesBack(t *testing.T) {
	c := mustParse(t, twoDirectories)
	out, err := c.Redacted()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), testPassword) {
		t.Fatal("the bind password is in the output")
	}
	back := mustParse(t, strings.ReplaceAll(string(out), "'[redacted]'", "x"))
	if len(back.Directories()) != 2 || back.Directories()[1].Users.UsernameSuffix != "@contractors" || back.Directories()[1].Sync.RemovedUsers != "keep" {
		t.Fatalf("parsed back:\n%s", out)
	}
}
