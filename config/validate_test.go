package config

import (
	"strings"
	"testing"
)

// withDir replaces the directory section of base.
func withDir(lines string) string {
	return "directory:\n" + lines + usersSection
}

const groupsSection = `
groups:
  search: {base_dn: "ou=groups,dc=example,dc=com", filter: "(objectClass=groupOfNames)"}
`

func TestValidationRules(t *testing.T) {
	svc := "  bind_dn: cn=svc,dc=example,dc=com\n  bind_password: ${PW}\n"
	ldaps := "  urls: [ldaps://ldap.example.com:636]\n"
	tests := []struct {
		name, yaml, key, want string
	}{
		{"no urls", withDir(svc), "directory.urls", "is empty"},
		{"empty url list", withDir("  urls: []\n" + svc), "directory.urls", "is empty"},
		{"http url", withDir("  urls: [http://ldap.example.com]\n" + svc), "directory.urls[0]", "is not an LDAP URL"},
		{"second url bad", withDir("  urls: [ldaps://a:636, 'ftp://b']\n" + svc), "directory.urls[1]", "is not an LDAP URL"},
		{"url without host", withDir("  urls: ['ldap://']\n" + svc), "directory.urls[0]", "has no host"},
		{"url with path", withDir("  urls: ['ldap://h/dc=x']\n" + svc), "directory.urls[0]", "has a path or query"},
		{"url with bad port", withDir("  urls: ['ldap://h:99999']\n" + svc), "directory.urls[0]", "invalid port"},
		{"start_tls with ldaps", withDir(ldaps + "  start_tls: true\n" + svc), "directory.start_tls", "ldaps://"},
		{"client cert without key", withDir(ldaps + svc + "  tls: {client_cert_file: c.pem}\n"), "directory.tls.client_key_file", "client_cert_file is set"},
		{"client key without cert", withDir(ldaps + svc + "  tls: {client_key_file: k.pem}\n"), "directory.tls.client_cert_file", "client_key_file is set"},
		{"unknown tls version", withDir(ldaps + svc + "  tls: {min_version: \"1.4\"}\n"), "directory.tls.min_version", "is not a known value"},
		{"unknown flavor", withDir(ldaps + svc + "  flavor: openldp\n"), "directory.flavor", "did you mean openldap?"},
		{"page_size 0", withDir(ldaps + svc + "  page_size: 0\n"), "directory.page_size", "out of range"},
		{"page_size too big", withDir(ldaps + svc + "  page_size: 10001\n"), "directory.page_size", "out of range"},
		{"pool_size 0", withDir(ldaps + svc + "  pool_size: 0\n"), "directory.pool_size", "less than 1"},
		{"zero dial timeout", withDir(ldaps + svc + "  dial_timeout: 0s\n"), "directory.dial_timeout", "more than 0"},
		{"bind_password without bind_dn", withDir(ldaps + "  bind_password: ${PW}\n"), "directory.bind_password", "bind_dn is empty"},
		{"bind_dn without password", withDir(ldaps + "  bind_dn: cn=svc,dc=x\n"), "directory.bind_password", "unauthenticated bind"},
		{"bind_as_user without template", withDir(ldaps + "  bind_as_user: true\n"), "directory.bind_as_user", "needs users.dn_template"},
		{"bind_as_user with a password", withDir(ldaps + "  bind_as_user: true\n  bind_dn: uid={username},dc=x\n  bind_password: ${PW}\n"), "directory.bind_password", "not used with bind_as_user"},
		{"{username} bind_dn without bind_as_user", withDir(ldaps + "  bind_dn: uid={username},dc=x\n  bind_password: ${PW}\n"), "directory.bind_dn", "bind_as_user is false"},
		{"users needs search or template", dirSection + "users: {username_case: lower}", "users.search", "dn_template is empty"},
		{"dn_template without username", dirSection + "users: {dn_template: \"uid=bob,dc=x\"}", "users.dn_template", "does not contain {username}"},
		{"dn_template not a DN", dirSection + "users: {dn_template: \"{username}\"}", "users.dn_template", "is not a DN"},
		{"dn_template unknown placeholder", dirSection + "users: {dn_template: \"uid={username},ou={ou},dc=x\"}", "users.dn_template", "unknown {placeholder}"},
		{"search filter without username", dirSection + "users: {search: {base_dn: \"dc=x\", filter: \"(uid=bob)\"}}", "users.search.filter", "does not contain {username}"},
		{"search filter does not compile", dirSection + "users: {search: {base_dn: \"dc=x\", filter: \"(uid={username}\"}}", "users.search.filter", "is not a valid LDAP filter"},
		{"search filter unknown placeholder", dirSection + "users: {search: {base_dn: \"dc=x\", filter: \"(&(uid={username})(o={org}))\"}}", "users.search.filter", "unknown {placeholder}"},
		{"second search bad scope", dirSection + "users:\n  search:\n  - {base_dn: \"dc=x\", filter: \"(uid={username})\"}\n  - {base_dn: \"dc=y\", scope: subtree, filter: \"(uid={username})\"}\n", "users.search[1].scope", "did you mean sub?"},
		{"base_dn not a DN", dirSection + "users: {search: {base_dn: \"people\", filter: \"(uid={username})\"}}", "users.search.base_dn", "is not a valid DN"},
		{"base_dn empty", dirSection + "users: {search: {filter: \"(uid={username})\"}}", "users.search.base_dn", "is empty"},
		{"sync_filter does not compile", base + "  sync_filter: \"objectClass=person\"\n", "users.sync_filter", "is not a valid LDAP filter"},
		{"sync_filter with placeholder", base + "  sync_filter: \"(uid={username})\"\n", "users.sync_filter", "unknown {placeholder}"},
		{"username_case", base + "  username_case: upper\n", "users.username_case", "lower, preserve"},
		{"query_field", base + "  query_field: mail\n", "users.query_field", "is not a known value"},
		{"attributes key", base + "  attributes: {first_name: givenName, phone: mobile}\n", "users.attributes.phone", "is not a user field"},
		{"attribute value", base + "  attributes: {email: \"e mail\"}\n", "users.attributes.email", "is not an LDAP attribute name"},
		{"extra attribute", base + "  extra_attributes: [title, \"(x)\"]\n", "users.extra_attributes[1]", "is not an LDAP attribute name"},
		{"groups.type", base + groupsSection + "  type: groupOfNames\n", "groups.type", "is not a known value"},
		{"member_dn without member_attribute", base + groupsSection + "  type: member_dn\n", "groups.member_attribute", "member_dn"},
		{"group search filter", base + "groups: {search: {base_dn: \"dc=x\", filter: \"(cn=*\"}}", "groups.search.filter", "is not a valid LDAP filter"},
		{"group search empty filter", base + "groups: {search: {base_dn: \"dc=x\"}}", "groups.search.filter", "is empty"},
		{"require without groups.search", base + "access: {require: \"cn=app,dc=x\"}", "groups.search", "need groups"},
		{"flags without groups.search", base + "access: {flags: {is_staff: \"cn=staff,dc=x\"}}", "groups.search", "need groups"},
		{"explicit mirror without groups.search", base + "groups: {mirror: {only: [staff]}}", "groups.search", "need groups"},
		{"group query DN", base + groupsSection + "access: {require: \"not a dn\"}", "access.require", "is not a valid DN"},
		{"nested group query DN", base + groupsSection + "access: {flags: {is_staff: {all: [\"cn=a,dc=x\", {not: \"bad\"}]}}}", "access.flags.is_staff.all[1].not", "is not a valid DN"},
		{"flag name", base + groupsSection + "access: {flags: {IsStaff: \"cn=a,dc=x\"}}", "access.flags.IsStaff", "not a valid flag name"},
		{"schedule", base + "sync: {schedule: \"every hour\"}", "sync.schedule", "neither an interval nor a cron expression"},
		{"schedule without unit", base + "sync: {schedule: \"30\"}", "sync.schedule", "neither an interval"},
		{"removed_users", base + "sync: {removed_users: disable}", "sync.removed_users", "deactivate, delete, keep"},
		{"removed_groups", base + "sync: {removed_groups: deactivate}", "sync.removed_groups", "delete, keep"},
		{"full_every", base + "sync: {full_every: -1}", "sync.full_every", "is negative"},
		{"driver", base + "store: {driver: mysql}", "store.driver", "sqlite, postgres"},
		{"postgres needs a dsn", base + "store: {driver: postgres}", "store.dsn", "not set for the postgres driver"},
		{"listen", base + "web: {listen: \"8080\"}", "web.listen", "is not host:port"},
		{"zero lifetime", base + "web: {session_lifetime: 0s}", "web.session_lifetime", "more than 0"},
		{"zero idle_timeout", base + "web: {idle_timeout: 0s}", "web.idle_timeout", "more than 0"},
		{"zero read_timeout", base + "web: {read_timeout: 0s}", "web.read_timeout", "more than 0"},
		{"negative write_timeout", base + "web: {write_timeout: -1s}", "web.write_timeout", "is negative"},
		{"read_timeout without unit", base + "web: {read_timeout: 30}", "web.read_timeout", "has no unit"},
		{"zero max_connections", base + "web: {max_connections: 0}", "web.max_connections", "at least 1"},
		{"max_connections not a number", base + "web: {max_connections: lots}", "web.max_connections", "is not a number"},
		{"metrics_token with a space", base + "web: {metrics_token: \"two words\"}", "web.metrics_token", "Bearer token cannot carry"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parse(t, tt.yaml)
			if err == nil {
				t.Fatalf("parsed without error (%+v); want %s: %s", c, tt.key, tt.want)
			}
			if !hasIssue(issuesOf(t, err), tt.key, tt.want) {
				t.Errorf("want %s: …%s…, got:\n%v", tt.key, tt.want, err)
			}
		})
	}
}

func TestValidConfigsPass(t *testing.T) {
	tests := []struct{ name, yaml string }{
		{"minimal", base},
		{"anonymous bind", withDir("  urls: [ldap://127.0.0.1:389]\n")},
		{"ldapi", withDir("  urls: ['ldapi://%2Fvar%2Frun%2Fslapd%2Fldapi']\n")},
		{"start_tls with ldap", withDir("  urls: [ldap://ldap.example.com:389]\n  start_tls: true\n")},
		{"bind_as_user with template bind_dn", withDir("  urls: [ldaps://h:636]\n  bind_as_user: true\n  bind_dn: uid={username},ou=people,dc=x\n")},
		{"dn_template instead of search", dirSection + "users: {dn_template: \"uid={username},ou=people,dc=x\"}"},
		{"dn_template plus a sync search without filter", dirSection + "users: {dn_template: \"uid={username},dc=x\", search: {base_dn: \"dc=x\"}}"},
		{"member_of needs no group search", base + "groups: {type: member_of}\naccess: {require: \"cn=app,dc=x\"}"},
		{"cron schedule", base + "sync: {schedule: \"*/15 * * * *\"}"},
		{"descriptor schedule", base + "sync: {schedule: \"@hourly\"}"},
		{"interval schedule", base + "sync: {schedule: 1h30m}"},
		{"postgres with dsn", base + "store: {driver: postgres, dsn: \"postgres://127.0.0.1/db\"}"},
		{"mirror none without groups", base + "groups: {mirror: none}"},
		{"escaped comma DN", base + groupsSection + "access: {require: 'cn=Sales\\, EMEA,dc=x'}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustParse(t, tt.yaml)
			if err := c.Validate(); err != nil {
				t.Errorf("Validate after Parse: %v", err)
			}
		})
	}
}

func TestAllProblemsAreReportedTogether(t *testing.T) {
	y := `
directory:
  urls: [http://x]
  page_size: "abc"
  pool_size: 0
  bind_pasword: x
users:
  username_case: upper
sync: {removed_users: nuke}
web: {session_idle_timeout: 30}
`
	_, err := parse(t, y)
	want := []string{
		`directory.page_size: "abc" is not a number — write a whole number, e.g. 500`,
		"directory.bind_pasword: unknown key — did you mean bind_password?",
		`web.session_idle_timeout: "30" has no unit — write 30s, 30m or 30h`,
		"directory.urls[0]: ",
		"directory.pool_size: 0 is less than 1",
		"users.search: is missing",
		"users.username_case: ",
		"sync.removed_users: ",
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != len(want) {
		t.Fatalf("got %d lines, want %d:\n%v", len(lines), len(want), err)
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("line %d = %q, want prefix %q", i, lines[i], w)
		}
	}
}

func TestErrorFormat(t *testing.T) {
	e := &Error{Issues: []Issue{{"a.b", "is wrong", "set it right"}, {"c", "is odd", ""}}}
	if got, want := e.Error(), "a.b: is wrong — set it right\nc: is odd"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestWarnings(t *testing.T) {
	tests := []struct {
		name, yaml string
		count      int
		want       []string // substrings of the joined warnings
	}{
		{"clean", base, 0, nil},
		{"insecure_skip_verify is loud", strings.Replace(base, "directory:", "directory:\n  tls: {insecure_skip_verify: true}", 1), 1,
			[]string{"directory.tls.insecure_skip_verify: WARNING", "NOT verified", "set directory.tls.ca_file"}},
		{"plain ldap to a remote host", withDir("  urls: [ldap://ldap.example.com:389, ldap://127.0.0.1, ldap://localhost, 'ldap://[::1]']\n"), 1,
			[]string{"directory.urls[0]: ldap://ldap.example.com without start_tls sends passwords in clear text"}},
		{"plain ldap with start_tls", withDir("  urls: [ldap://ldap.example.com:389]\n  start_tls: true\n"), 0, nil},
		{"inline password", strings.Replace(base, "${PW}", "hunter2", 1), 1, []string{"directory.bind_password: the password is written in the file"}},
		{"password from the environment inside a literal", strings.Replace(base, "${PW}", "x${PW}", 1), 0, nil},
		{"old TLS", withDir("  urls: [ldaps://h]\n  tls: {min_version: \"1.0\"}\n"), 1, []string{"TLS 1.0 is obsolete"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mustParse(t, tt.yaml).Warnings()
			if len(got) != tt.count {
				t.Fatalf("got %d warnings %q, want %d", len(got), got, tt.count)
			}
			all := strings.Join(got, "\n")
			for _, w := range tt.want {
				if !strings.Contains(all, w) {
					t.Errorf("warnings %q lack %q", all, w)
				}
			}
		})
	}
}
