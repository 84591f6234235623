package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ldapbridge/ldapbridge"
)

const (
	testPassword = "Tr0ub4dor&3-not-in-output"
	dirSection   = `
directory:
  urls: [ldaps://ldap.example.com:636]
  bind_dn: cn=svc,dc=example,dc=com
  bind_password: ${PW}
`
	usersSection = `
users:
  search: {base_dn: "ou=people,dc=example,dc=com", filter: "(uid={username})"}
`
	base = dirSection + usersSection
)

func env(kv ...string) func(string) (string, bool) {
	m := map[string]string{"PW": testPassword}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func noFiles(path string) ([]byte, error) { return nil, errors.New("no files in this test: " + path) }

func parse(t *testing.T, y string, kv ...string) (*Config, error) {
	t.Helper()
	return Parse([]byte(y), ParseOptions{LookupEnv: env(kv...), ReadFile: noFiles})
}

func mustParse(t *testing.T, y string, kv ...string) *Config {
	t.Helper()
	c, err := parse(t, y, kv...)
	if err != nil {
		t.Fatalf("Parse:\n%s\nerror:\n%v", y, err)
	}
	return c
}

func issuesOf(t *testing.T, err error) []Issue {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not *Error", err, err)
	}
	return e.Issues
}

func TestDefaultsFillEveryUnsetKey(t *testing.T) {
	c := mustParse(t, base)
	min := time.Minute
	checks := []struct {
		name      string
		got, want any
	}{
		{"flavor", c.Directory.Flavor, ldapbridge.FlavorAuto},
		{"dial_timeout", c.Directory.DialTimeout.D(), 5 * time.Second},
		{"request_timeout", c.Directory.RequestTimeout.D(), 10 * time.Second},
		{"page_size", c.Directory.PageSize, 500},
		{"pool_size", c.Directory.PoolSize, 4},
		{"tls.min_version", c.Directory.TLS.MinVersion, "1.2"},
		{"search scope", c.Users.Search[0].Scope, "sub"},
		{"username_case", c.Users.UsernameCase, "lower"},
		{"multi_value_separator", c.Users.MultiValueSeparator, "|"},
		{"attributes", c.Users.Attributes, map[string]string{"first_name": "givenName", "last_name": "sn", "email": "mail"}},
		{"username_attribute (auto: decided later)", c.Users.UsernameAttribute, ""},
		{"groups.name_attribute", c.Groups.NameAttribute, "cn"},
		{"groups.mirror", c.Groups.Mirror, Mirror{Mode: "all"}},
		{"always_update", c.Access.AlwaysUpdate, true},
		{"local_accounts", c.Access.LocalAccounts, true},
		{"no_new_users", c.Access.NoNewUsers, false},
		{"cache_ttl", c.Access.CacheTTL.D(), time.Duration(0)},
		{"schedule", c.Sync.Schedule, ""},
		{"full_every", c.Sync.FullEvery, 5},
		{"sync.groups", c.Sync.Groups, true},
		{"sync.memberships", c.Sync.Memberships, true},
		{"removed_users", c.Sync.RemovedUsers, "deactivate"},
		{"removed_groups", c.Sync.RemovedGroups, "delete"},
		{"max_removals", c.Sync.MaxRemovals, Limit{Percent: 5, IsPct: true}},
		{"exempt_users", c.Sync.ExemptUsers, []string{}},
		{"store.driver", c.Store.Driver, "sqlite"},
		{"store.dsn", c.Store.DSN.Reveal(), "ldapbridge.db"},
		{"web.listen", c.Web.Listen, "127.0.0.1:8080"},
		{"idle", c.Web.SessionIdleTimeout.D(), 30 * min},
		{"lifetime", c.Web.SessionLifetime.D(), 12 * time.Hour},
		{"per_user", c.Web.LoginRateLimit.PerUser, Rate{N: 5, Per: min}},
		{"per_ip", c.Web.LoginRateLimit.PerIP, Rate{N: 30, Per: min}},
		{"trust_proxy", c.Web.TrustProxy, false},
		{"web.idle_timeout", c.Web.IdleTimeout.D(), 2 * min},
		{"web.read_timeout", c.Web.ReadTimeout.D(), 30 * time.Second},
		{"web.write_timeout", c.Web.WriteTimeout.D(), 60 * time.Second},
		{"web.max_connections", c.Web.MaxConnections, 1024},
		{"web.metrics_token", c.Web.MetricsToken.Reveal(), ""},
	}
	for _, ch := range checks {
		if !reflect.DeepEqual(ch.got, ch.want) {
			t.Errorf("%s = %#v, want %#v", ch.name, ch.got, ch.want)
		}
	}
	if !c.IsSet("directory.urls") || c.IsSet("directory.page_size") {
		t.Errorf("IsSet: urls=%v page_size=%v, want true/false", c.IsSet("directory.urls"), c.IsSet("directory.page_size"))
	}
}

func TestExplicitValuesOverrideDefaults(t *testing.T) {
	c := mustParse(t, base+`
sync: {full_every: 0, groups: false, max_removals: 50, exempt_users: [root, admin]}
web: {listen: ":9000", login_rate_limit: {per_user: 10/30s}}
`)
	if c.Sync.FullEvery != 0 || c.Sync.Groups || c.Sync.MaxRemovals != (Limit{Count: 50}) ||
		!reflect.DeepEqual(c.Sync.ExemptUsers, []string{"root", "admin"}) {
		t.Errorf("sync = %+v", c.Sync)
	}
	if c.Web.Listen != ":9000" || c.Web.LoginRateLimit.PerUser != (Rate{10, 30 * time.Second}) ||
		c.Web.LoginRateLimit.PerIP != (Rate{30, time.Minute}) {
		t.Errorf("web = %+v", c.Web)
	}
}

func TestEnvExpansion(t *testing.T) {
	tests := []struct {
		name, yaml string
		env        []string
		get        func(*Config) any
		want       any
	}{
		{"whole value", base, nil, func(c *Config) any { return c.Directory.BindPassword.Reveal() }, testPassword},
		{"inside a value", base + "web: {listen: \"${HOST}:8080\"}", []string{"HOST", "0.0.0.0"},
			func(c *Config) any { return c.Web.Listen }, "0.0.0.0:8080"},
		{"YAML-special characters stay literal", base + "store:\n  dsn: ${DSN}\n", []string{"DSN", "a: b # [c] {d} *e &f"},
			func(c *Config) any { return c.Store.DSN.Reveal() }, "a: b # [c] {d} *e &f"},
		{"$${ is a literal ${", base + "store: {dsn: \"x$${HOME}y\"}", nil,
			func(c *Config) any { return c.Store.DSN.Reveal() }, "x${HOME}y"},
		{"a lone $ is kept", base + "store: {dsn: \"a$b$\"}", nil,
			func(c *Config) any { return c.Store.DSN.Reveal() }, "a$b$"},
		{"int field", dirSection + "  page_size: ${PAGE}\n" + usersSection, []string{"PAGE", "250"},
			func(c *Config) any { return c.Directory.PageSize }, 250},
		{"list items", base + "sync: {exempt_users: [\"${ADMIN}\", bob]}", []string{"ADMIN", "root"},
			func(c *Config) any { return c.Sync.ExemptUsers }, []string{"root", "bob"}},
		{"group query DN", base + "groups: {search: {base_dn: \"dc=x\", filter: \"(cn=*)\"}}\naccess: {require: \"cn=${G},dc=x\"}",
			[]string{"G", "staff"}, func(c *Config) any { return c.Access.Require.DN }, "cn=staff,dc=x"},
		{"a value that looks like null stays a string", base + "store:\n  dsn: ${DSN}\n", []string{"DSN", "null"},
			func(c *Config) any { return c.Store.DSN.Reveal() }, "null"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustParse(t, tt.yaml, tt.env...)
			if got := tt.get(c); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestEnvExpansionErrorsNameKeyAndVariable(t *testing.T) {
	tests := []struct {
		name, yaml, key, want string
	}{
		{"unset variable", base + "web: {listen: \"${NOPE_HOST}:80\"}", "web.listen", "environment variable NOPE_HOST is not set"},
		{"unset secret", strings.Replace(base, "${PW}", "${MISSING_PW}", 1), "directory.bind_password", "MISSING_PW is not set"},
		{"unterminated", base + "store: {dsn: \"${OOPS\"}", "store.dsn", "without a closing }"},
		{"invalid name", base + "store: {dsn: \"${A-B}\"}", "store.dsn", "${A-B} is not a valid variable reference"},
		{"in a list", base + "sync: {exempt_users: [\"${NOBODY}\"]}", "sync.exempt_users[0]", "NOBODY is not set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parse(t, tt.yaml)
			if !hasIssue(issuesOf(t, err), tt.key, tt.want) {
				t.Errorf("want %s: …%s…, got:\n%v", tt.key, tt.want, err)
			}
		})
	}
}

func hasIssue(is []Issue, key, substr string) bool {
	for _, i := range is {
		if i.Key == key && strings.Contains(i.Problem+" — "+i.Fix, substr) {
			return true
		}
	}
	return false
}

func TestSecretFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("pw", testPassword+"\n")
	write("pw-crlf", testPassword+"\r\n")
	write("pw-two-newlines", testPassword+"\n\n")
	write("empty", "")
	write("dsn", "postgres://u:"+testPassword+"@127.0.0.1/db\n")
	noPW := strings.Replace(dirSection, "  bind_password: ${PW}\n", "", 1)
	tests := []struct {
		name, yaml, wantPW, wantKey, wantProblem string
	}{
		{"one trailing newline is stripped", noPW + "  bind_password_file: pw\n" + usersSection, testPassword, "", ""},
		{"CRLF is stripped", noPW + "  bind_password_file: pw-crlf\n" + usersSection, testPassword, "", ""},
		{"only one newline is stripped", noPW + "  bind_password_file: pw-two-newlines\n" + usersSection, testPassword + "\n", "", ""},
		{"absolute path", noPW + "  bind_password_file: " + filepath.Join(dir, "pw") + "\n" + usersSection, testPassword, "", ""},
		{"both set", dirSection + "  bind_password_file: pw\n" + usersSection, "", "directory.bind_password_file", "is set together with directory.bind_password"},
		{"missing file", noPW + "  bind_password_file: nope\n" + usersSection, "", "directory.bind_password_file", "cannot read the secret file"},
		{"empty file", noPW + "  bind_password_file: empty\n" + usersSection, "", "directory.bind_password_file", "is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(tt.yaml), ParseOptions{LookupEnv: env(), BaseDir: dir})
			if tt.wantKey != "" {
				if !hasIssue(issuesOf(t, err), tt.wantKey, tt.wantProblem) {
					t.Fatalf("want %s: %s, got:\n%v", tt.wantKey, tt.wantProblem, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Directory.BindPassword.Reveal(); got != tt.wantPW {
				t.Errorf("password = %q, want %q", got, tt.wantPW)
			}
			if !filepath.IsAbs(c.Directory.BindPasswordFile) {
				t.Errorf("bind_password_file %q not anchored at BaseDir", c.Directory.BindPasswordFile)
			}
			if len(c.Warnings()) != 0 {
				t.Errorf("a file secret must not warn, got %q", c.Warnings())
			}
		})
	}
	t.Run("store.dsn_file", func(t *testing.T) {
		c, err := Parse([]byte(base+"store: {driver: postgres, dsn_file: dsn}"), ParseOptions{LookupEnv: env(), BaseDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		if want := "postgres://u:" + testPassword + "@127.0.0.1/db"; c.Store.DSN.Reveal() != want {
			t.Errorf("dsn = %q, want %q", c.Store.DSN.Reveal(), want)
		}
	})
	t.Run("store.dsn and dsn_file both set", func(t *testing.T) {
		_, err := Parse([]byte(base+"store: {dsn: x.db, dsn_file: dsn}"), ParseOptions{LookupEnv: env(), BaseDir: dir})
		if !hasIssue(issuesOf(t, err), "store.dsn_file", "is set together with store.dsn") {
			t.Errorf("got %v", err)
		}
	})
}

func TestLoadAnchorsRelativePathsAtTheFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "pw"), []byte(testPassword+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	y := strings.Replace(base, "bind_password: ${PW}", "bind_password_file: pw\n  tls: {ca_file: ca.pem}", 1)
	path := filepath.Join(dir, "ldapbridge.yaml")
	if err := os.WriteFile(path, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.Directory.BindPassword.Reveal() != testPassword || c.Directory.TLS.CAFile != filepath.Join(dir, "ca.pem") {
		t.Errorf("password %v, ca_file %q", c.Directory.BindPassword.Reveal() == testPassword, c.Directory.TLS.CAFile)
	}
	if _, err := Load(filepath.Join(dir, "missing.yaml")); err == nil || !strings.Contains(err.Error(), "LDAPBRIDGE_CONFIG") {
		t.Errorf("Load of a missing file: %v", err)
	}
}

func TestApplyFlavor(t *testing.T) {
	type fd = struct{ user, photo, stable, gtype, filter string }
	get := func(c *Config) fd {
		return fd{c.Users.UsernameAttribute, c.Users.PhotoAttribute, c.Users.StableIDAttribute, c.Groups.Type, c.Users.SyncFilter}
	}
	tests := []struct {
		name, yaml string
		later      ldapbridge.Flavor
		want       fd
	}{
		{"auto leaves them for detection", base, "", fd{}},
		{"file flavor openldap", strings.Replace(base, "directory:", "directory:\n  flavor: openldap", 1), "",
			fd{"uid", "jpegPhoto", "entryUUID", "group_of_names", "(objectClass=inetOrgPerson)"}},
		{"file flavor jumpcloud", strings.Replace(base, "directory:", "directory:\n  flavor: jumpcloud", 1), "",
			fd{"uid", "jpegPhoto", "entryUUID", "group_of_names", "(objectClass=inetOrgPerson)"}},
		{"file flavor 389ds", strings.Replace(base, "directory:", "directory:\n  flavor: 389ds", 1), "",
			fd{"uid", "jpegPhoto", "nsUniqueId", "group_of_names", "(objectClass=inetOrgPerson)"}},
		{"file flavor AD", strings.Replace(base, "directory:", "directory:\n  flavor: active_directory", 1), "",
			fd{"sAMAccountName", "thumbnailPhoto", "objectGUID", "active_directory", "(&(objectCategory=person)(objectClass=user))"}},
		{"detected AD after auto", base, ldapbridge.FlavorActiveDirectory,
			fd{"sAMAccountName", "thumbnailPhoto", "objectGUID", "active_directory", "(&(objectCategory=person)(objectClass=user))"}},
		{"explicit keys survive the file flavor", strings.Replace(base, "directory:", "directory:\n  flavor: active_directory", 1) +
			"  username_attribute: userPrincipalName\n  photo_attribute: \"\"\n  stable_id_attribute: objectSid\n  sync_filter: (objectClass=user)\ngroups: {type: member_of}",
			"", fd{"userPrincipalName", "", "objectSid", "member_of", "(objectClass=user)"}},
		{"explicit keys survive a later flavor", base + "  username_attribute: mail\n  sync_filter: (objectClass=person)\ngroups: {type: posix}",
			ldapbridge.FlavorActiveDirectory, fd{"mail", "thumbnailPhoto", "objectGUID", "posix", "(objectClass=person)"}},
		{"a second flavor replaces the first flavor's defaults", strings.Replace(base, "directory:", "directory:\n  flavor: openldap", 1),
			ldapbridge.FlavorActiveDirectory, fd{"sAMAccountName", "thumbnailPhoto", "objectGUID", "active_directory", "(&(objectCategory=person)(objectClass=user))"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustParse(t, tt.yaml)
			if tt.later != "" {
				c.ApplyFlavor(tt.later)
			}
			if got := get(c); got != tt.want {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
			if err := c.Validate(); err != nil {
				t.Errorf("Validate after ApplyFlavor: %v", err)
			}
		})
	}
}
