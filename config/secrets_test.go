package config

import (
	"strings"
	"testing"
)

func TestUnknownKeysNameThePathAndSuggest(t *testing.T) {
	tests := []struct{ name, yaml, key, fix string }{
		{"typo in a section", base + "  usernme_attribute: uid\n", "users.usernme_attribute", "did you mean username_attribute?"},
		{"typo in a section name", base + "acess: {}", "acess", "did you mean access?"},
		{"nested typo", strings.Replace(base, "directory:", "directory:\n  tls: {ca_flie: x}", 1), "directory.tls.ca_flie", "did you mean ca_file?"},
		{"inside a search", dirSection + "users: {search: {base_dn: \"dc=x\", filtr: \"(uid={username})\"}}", "users.search.filtr", "did you mean filter?"},
		{"key from another section", base + "  name_attribute: cn\n", "users.name_attribute", "did you mean groups.name_attribute?"},
		{"nothing close lists the keys", base + "web: {zzzzzz: 1}", "web.zzzzzz", "known keys here: listen"},
		{"a DN split by a flow mapping", dirSection + "users: {search: {base_dn: ou=Users,o=ORGID,dc=jumpcloud,dc=com, filter: \"(uid={username})\"}}",
			"users.search.o=ORGID", "quote DNs inside { }"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parse(t, tt.yaml)
			if err == nil {
				t.Fatal("no error")
			}
			var found bool
			for _, is := range issuesOf(t, err) {
				found = found || (is.Key == tt.key && is.Problem == "unknown key" && strings.Contains(is.Fix, tt.fix))
			}
			if !found {
				t.Errorf("want %s: unknown key — …%s…, got:\n%v", tt.key, tt.fix, err)
			}
		})
	}
}

// TestSecretsNeverAppearInErrorsOrOutput feeds configurations whose secret
// values are broken in many ways and checks every error, warning and
// Redacted output for the secret.
func TestSecretsNeverAppearInErrorsOrOutput(t *testing.T) {
	const secret = "s3cr3t-Value-42"
	tests := []struct {
		name, yaml string
		env        []string
	}{
		{"inline password, valid", strings.Replace(base, "${PW}", secret, 1), nil},
		{"env password, valid", base, []string{"PW", secret}},
		{"password without bind_dn", withDir("  urls: [ldaps://h]\n  bind_password: " + secret + "\n"), nil},
		{"password with bind_as_user", withDir("  urls: [ldaps://h]\n  bind_as_user: true\n  bind_dn: uid={username},dc=x\n  bind_password: " + secret + "\n"), nil},
		{"password typed as a list", withDir("  urls: [ldaps://h]\n  bind_dn: cn=x\n  bind_password: [" + secret + "]\n"), nil},
		{"password key misspelled", withDir("  urls: [ldaps://h]\n  bind_dn: cn=x\n  bind_pasword: " + secret + "\n"), nil},
		{"secret inside a URL", withDir("  urls: ['ldaps://admin:" + secret + "@h:636']\n"), nil},
		{"secret inside an unparsable URL", withDir("  urls: ['ldaps://admin:" + secret + "@h:x:y']\n"), nil},
		{"secret inside an http URL", withDir("  urls: ['http://admin:" + secret + "@h']\n"), nil},
		{"dsn with password, bad driver", base + "store: {driver: mysql, dsn: 'postgres://u:" + secret + "@h/db'}", nil},
		{"dsn with password, valid", base + "store: {driver: postgres, dsn: 'postgres://u:" + secret + "@h/db'}", nil},
		{"dsn from env with a bad reference next to it", base + "store: {driver: postgres, dsn: '${DSN}${BAD-}'}", []string{"DSN", secret}},
		{"password from env, other problems", base + "  page_size: x\n", []string{"PW", secret}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parse(t, tt.yaml, tt.env...)
			var texts []string
			if err != nil {
				texts = append(texts, err.Error())
			} else {
				out, rerr := c.Redacted()
				if rerr != nil {
					t.Fatal(rerr)
				}
				texts = append(texts, string(out))
				texts = append(texts, c.Warnings()...)
				if !strings.Contains(string(out), "[redacted]") {
					t.Errorf("Redacted output shows no [redacted] marker:\n%s", out)
				}
			}
			for _, s := range texts {
				if strings.Contains(s, secret) {
					t.Errorf("secret leaked in:\n%s", s)
				}
			}
		})
	}
}

func TestRedactedParsesBackToTheSameConfig(t *testing.T) {
	y := base + `
  dn_template: ""
  profile: {display_name: displayName}
groups:
  search:
  - {base_dn: "ou=a,dc=x", filter: "(objectClass=groupOfNames)"}
  - {base_dn: "ou=b,dc=x", scope: one, filter: "(objectClass=groupOfNames)"}
  mirror: {except: [everyone]}
access:
  require: ["cn=app,dc=x", "cn=app2,dc=x"]
  deny: {all: ["cn=contractors,dc=x", {not: "cn=staff,dc=x"}]}
  flags: {is_staff: "cn=staff,dc=x"}
  cache_ttl: 90s
sync: {schedule: "0 * * * *", max_removals: 2.5%}
web: {login_rate_limit: {per_user: 3/10s}}
store: {dsn: "file$${x}.db"}
`
	c := mustParse(t, y)
	out, err := c.Redacted()
	if err != nil {
		t.Fatal(err)
	}
	c2, err := Parse(out, ParseOptions{LookupEnv: env()})
	if err != nil {
		t.Fatalf("Redacted output does not parse:\n%s\n%v", out, err)
	}
	out2, err := c2.Redacted()
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != string(out2) {
		t.Errorf("Redacted is not a fixed point:\n%s\n---\n%s", out, out2)
	}
	if c2.Access.Deny.String() != c.Access.Deny.String() || c2.Sync.MaxRemovals != c.Sync.MaxRemovals {
		t.Errorf("round trip changed values: %s / %s", c2.Access.Deny, c2.Sync.MaxRemovals)
	}
}
