package config

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/ldapbridge/ldapbridge"
)

func TestScalarForms(t *testing.T) {
	tests := []struct {
		name, yaml string
		get        func(*Config) any
		want       any
	}{
		{"duration seconds", "access: {cache_ttl: 30s}", func(c *Config) any { return c.Access.CacheTTL.D() }, 30 * time.Second},
		{"duration minutes", "access: {cache_ttl: 5m}", func(c *Config) any { return c.Access.CacheTTL.D() }, 5 * time.Minute},
		{"duration hours", "web: {session_lifetime: 12h}", func(c *Config) any { return c.Web.SessionLifetime.D() }, 12 * time.Hour},
		{"bare zero duration", "access: {cache_ttl: 0}", func(c *Config) any { return c.Access.CacheTTL.D() }, time.Duration(0)},
		{"rate per min", "web: {login_rate_limit: {per_user: 5/min}}", func(c *Config) any { return c.Web.LoginRateLimit.PerUser }, Rate{5, time.Minute}},
		{"rate per hour", "web: {login_rate_limit: {per_user: 30/hour}}", func(c *Config) any { return c.Web.LoginRateLimit.PerUser }, Rate{30, time.Hour}},
		{"rate per 30s", "web: {login_rate_limit: {per_user: 10/30s}}", func(c *Config) any { return c.Web.LoginRateLimit.PerUser }, Rate{10, 30 * time.Second}},
		{"rate per second", "web: {login_rate_limit: {per_user: 2/s}}", func(c *Config) any { return c.Web.LoginRateLimit.PerUser }, Rate{2, time.Second}},
		{"limit percent", "sync: {max_removals: 5%}", func(c *Config) any { return c.Sync.MaxRemovals }, Limit{Percent: 5, IsPct: true}},
		{"limit quoted count", "sync: {max_removals: \"50\"}", func(c *Config) any { return c.Sync.MaxRemovals }, Limit{Count: 50}},
		{"limit count", "sync: {max_removals: 50}", func(c *Config) any { return c.Sync.MaxRemovals }, Limit{Count: 50}},
		{"mirror none", "groups: {mirror: none}", func(c *Config) any { return c.Groups.Mirror }, Mirror{Mode: "none"}},
		{"mirror only", "groups:\n  mirror: {only: [staff, admins]}\n" + groupsSection[9:],
			func(c *Config) any { return c.Groups.Mirror }, Mirror{Mode: "only", Names: []string{"staff", "admins"}}},
		{"mirror except", "groups: {mirror: {except: [all-staff]}, search: {base_dn: \"dc=x\", filter: \"(cn=*)\"}}",
			func(c *Config) any { return c.Groups.Mirror }, Mirror{Mode: "except", Names: []string{"all-staff"}}},
		{"search list", "groups:\n  search:\n  - {base_dn: \"ou=a,dc=x\", filter: \"(cn=*)\"}\n  - {base_dn: \"ou=b,dc=x\", scope: one, filter: \"(cn=*)\"}\n",
			func(c *Config) any { return c.Groups.Search },
			Searches{{BaseDN: "ou=a,dc=x", Scope: "sub", Filter: "(cn=*)"}, {BaseDN: "ou=b,dc=x", Scope: "one", Filter: "(cn=*)"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustParse(t, base+tt.yaml)
			if got := tt.get(c); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestScalarFormErrors(t *testing.T) {
	tests := []struct {
		name, yaml, key, want string
	}{
		{"duration without unit", "access: {cache_ttl: 30}", "access.cache_ttl", `"30" has no unit — write 30s, 30m or 30h`},
		{"duration in days", "access: {cache_ttl: 1d}", "access.cache_ttl", "use hours"},
		{"negative duration", "access: {cache_ttl: -5m}", "access.cache_ttl", "is negative"},
		{"rate without period", "web: {login_rate_limit: {per_ip: 5}}", "web.login_rate_limit.per_ip", "is not a rate"},
		{"rate of zero", "web: {login_rate_limit: {per_ip: 0/min}}", "web.login_rate_limit.per_ip", "allows nothing"},
		{"rate bad period", "web: {login_rate_limit: {per_ip: 5/fortnight}}", "web.login_rate_limit.per_ip", "is not a rate"},
		{"limit over 100%", "sync: {max_removals: 150%}", "sync.max_removals", "from 0% to 100%"},
		{"limit negative", "sync: {max_removals: -3}", "sync.max_removals", "is not a count or a percentage"},
		{"mirror word", "groups: {mirror: some}", "groups.mirror", "is not a mirror mode"},
		{"mirror two keys", "groups: {mirror: {only: [a], except: [b]}}", "groups.mirror", "exactly one of only/except"},
		{"mirror typo", "groups: {mirror: {onyl: [a]}}", "groups.mirror.onyl", "did you mean only?"},
		{"mirror names not a list", "groups: {mirror: {only: {a: b}}}", "groups.mirror.only", "must be a list"},
		{"search not a mapping", "groups: {search: [\"dc=x\"]}", "groups.search", "must be a mapping with base_dn"},
		{"empty search list", "groups: {search: []}", "groups.search", "is an empty list"},
		{"bool", "access: {no_new_users: maybe}", "access.no_new_users", `"maybe" is not true or false`},
		{"int", "sync: {full_every: abc}", "sync.full_every", `"abc" is not a number`},
		{"list where a value belongs", "store: {driver: [sqlite]}", "store.driver", "must be a single value, not a list"},
		{"mapping where a list belongs", "sync: {exempt_users: {a: b}}", "sync.exempt_users", "must be a list, not a mapping"},
		{"section not a mapping", "web: 8080", "web", "must be a mapping"},
		{"duplicate key", "sync: {groups: true, groups: false}", "sync.groups", "is set twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parse(t, base+tt.yaml)
			if err == nil || !hasIssue(issuesOf(t, err), tt.key, tt.want) {
				t.Errorf("want %s: …%s…, got:\n%v", tt.key, tt.want, err)
			}
		})
	}
}

// parseQuery parses a group query written in YAML, as access.require.
func parseQuery(src string) (ldapbridge.GroupQuery, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		return ldapbridge.GroupQuery{}, err
	}
	if len(doc.Content) == 0 {
		return ldapbridge.GroupQuery{}, nil
	}
	d := newDecoder(func(string) (string, bool) { return "", false })
	q, _ := d.groupQuery("access.require", doc.Content[0], 0)
	return q, d.problems.err()
}

func TestGroupQueryForms(t *testing.T) {
	a, b, c := `"cn=a,dc=x"`, `"cn=b,dc=x"`, `'cn=c,dc=x'`
	dn := func(s string) string { return s[1 : len(s)-1] }
	tests := []struct {
		name, yaml string
		want       ldapbridge.GroupQuery
	}{
		{"a DN", a, ldapbridge.GroupQuery{DN: dn(a)}},
		{"empty string is no rule", `""`, ldapbridge.GroupQuery{}},
		{"a list means any", "[" + a + ", " + b + "]", ldapbridge.GroupQuery{Any: []ldapbridge.GroupQuery{{DN: dn(a)}, {DN: dn(b)}}}},
		{"any", "{any: [" + a + "]}", ldapbridge.GroupQuery{Any: []ldapbridge.GroupQuery{{DN: dn(a)}}}},
		{"any of a single DN", "{any: " + a + "}", ldapbridge.GroupQuery{Any: []ldapbridge.GroupQuery{{DN: dn(a)}}}},
		{"not", "{not: " + a + "}", ldapbridge.GroupQuery{Not: &ldapbridge.GroupQuery{DN: dn(a)}}},
		{"nested", "{all: [" + a + ", {not: [" + b + ", " + c + "]}]}", ldapbridge.GroupQuery{All: []ldapbridge.GroupQuery{
			{DN: dn(a)}, {Not: &ldapbridge.GroupQuery{Any: []ldapbridge.GroupQuery{{DN: dn(b)}, {DN: dn(c)}}}}}}},
		{"block list", "- cn=a,dc=x\n- cn=b,dc=x\n", ldapbridge.GroupQuery{Any: []ldapbridge.GroupQuery{{DN: dn(a)}, {DN: dn(b)}}}},
		{"flow list with spaces after commas is not a split", "[cn=a, cn=b]", ldapbridge.GroupQuery{Any: []ldapbridge.GroupQuery{{DN: "cn=a"}, {DN: "cn=b"}}}},
		{"escaped comma", `'cn=Sales\, EMEA,dc=x'`, ldapbridge.GroupQuery{DN: `cn=Sales\, EMEA,dc=x`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, err := parseQuery(tt.yaml)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(q, tt.want) {
				t.Errorf("got %s (%#v), want %s", q, q, tt.want)
			}
		})
	}
}

func TestGroupQueryErrors(t *testing.T) {
	tests := []struct{ name, yaml, key, want string }{
		{"bad DN", "not-a-dn", "access.require", "is not a valid DN"},
		{"bad DN in a list", "['cn=a,dc=x', oops]", "access.require[1]", "is not a valid DN"},
		{"unquoted DNs in a flow list", "[cn=a,dc=x, cn=b,dc=x]", "access.require[0]", "split at its commas — quote each DN"},
		{"unquoted DN in a flow mapping", "{not: cn=a,dc=x}", "access.require", "quote DNs inside { }"},
		{"empty list", "[]", "access.require", "is an empty list"},
		{"empty entry", "['cn=a,dc=x', '']", "access.require[1]", "is an empty group DN"},
		{"two operators", "{any: [cn=a,dc=x], all: [cn=b,dc=x]}", "access.require", "exactly one of any, all or not"},
		{"unknown operator", "{anny: [cn=a,dc=x]}", "access.require.anny", "did you mean any?"},
		{"empty not", "{not: ''}", "access.require.not", "is an empty group DN"},
		{"null not", "{not: }", "access.require.not", "is an empty group DN"},
		{"empty not list entry", "{not: ['']}", "access.require.not[0]", "is an empty group DN"},
		{"too deep", strings.Repeat("{not: ", 20) + "cn=a,dc=x" + strings.Repeat("}", 20), "access.require", "levels deep"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseQuery(tt.yaml)
			if err == nil {
				t.Fatalf("no error for %s", tt.yaml)
			}
			var found bool
			for _, is := range err.(*Error).Issues {
				found = found || (strings.HasPrefix(is.Key, tt.key) && strings.Contains(is.Problem+" — "+is.Fix, tt.want))
			}
			if !found {
				t.Errorf("want %s…: %s, got:\n%v", tt.key, tt.want, err)
			}
		})
	}
}

func TestFormsRoundTripThroughYAML(t *testing.T) {
	tests := []any{
		Duration(90 * time.Minute), Duration(12 * time.Hour), Duration(1500 * time.Millisecond), Duration(0),
		Rate{5, time.Minute}, Rate{30, time.Hour}, Rate{10, 30 * time.Second}, Rate{2, time.Second}, Rate{7, 90 * time.Minute},
		Limit{Count: 50}, Limit{Percent: 2.5, IsPct: true},
		Mirror{Mode: "none"}, Mirror{Mode: "all"}, Mirror{Mode: "only", Names: []string{"a", "b"}},
		Searches{{BaseDN: "dc=x", Scope: "one", Filter: "(cn=*)"}},
	}
	for _, v := range tests {
		out, err := yaml.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		back := reflect.New(reflect.TypeOf(v))
		if err := yaml.Unmarshal(out, back.Interface()); err != nil {
			t.Fatalf("%#v → %s → %v", v, out, err)
		}
		if !reflect.DeepEqual(back.Elem().Interface(), v) {
			t.Errorf("%#v → %s → %#v", v, out, back.Elem().Interface())
		}
	}
}

func marshalQuery(q ldapbridge.GroupQuery) (string, error) {
	out, err := yaml.Marshal(queryYAML(q))
	return string(out), err
}
