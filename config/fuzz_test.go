package config

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func fuzzOptions() ParseOptions {
	return ParseOptions{
		LookupEnv: env("HOST", "ldap.example.com"),
		BaseDir:   "/etc/ldapbridge",
		ReadFile: func(path string) ([]byte, error) {
			if filepath.Base(path) == "missing" {
				return nil, errors.New("no such file")
			}
			return []byte("from-file\n"), nil
		},
	}
}

// FuzzParse checks that Parse never panics, that an accepted configuration
// validates again unchanged, and that its Redacted form parses back to the
// same Redacted form.
func FuzzParse(f *testing.F) {
	f.Add([]byte(base))
	f.Add([]byte(""))
	f.Add([]byte("directory: [1, 2]"))
	f.Add([]byte(base + "groups: {search: {base_dn: \"dc=x\", filter: \"(cn=*)\"}, mirror: {only: [a]}}\naccess: {require: [\"cn=a,dc=x\"], flags: {is_staff: {all: [\"cn=a,dc=x\", {not: \"cn=b,dc=x\"}]}}}"))
	f.Add([]byte(withDir("  urls: [ldap://${HOST}:389]\n  start_tls: true\n  bind_as_user: true\n  bind_dn: uid={username},dc=x\n")))
	f.Add([]byte(withDir("  urls: [ldaps://h]\n  bind_dn: cn=x\n  bind_password_file: pw\n")))
	f.Add([]byte(base + "sync: {schedule: \"@daily\", max_removals: 10%}\nweb: {login_rate_limit: {per_user: 3/10s}}\nstore: {dsn: \"a$${b}\"}"))
	f.Add([]byte("a: &x [*x]"))
	f.Add([]byte("users: {search: &s {base_dn: \"dc=x\", filter: \"(uid={username})\"}}\ngroups: {search: *s}"))
	for _, name := range []string{"jumpcloud.yaml", "openldap.yaml", "active_directory.yaml"} {
		if data, err := os.ReadFile(filepath.Join("..", "examples", name)); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data, fuzzOptions())
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || len(e.Issues) == 0 {
				t.Fatalf("error %v is not a non-empty *Error", err)
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("Parse accepted a config that Validate rejects: %v", err)
		}
		out, err := c.Redacted()
		if err != nil {
			t.Fatalf("Redacted: %v", err)
		}
		c2, err := Parse(out, fuzzOptions())
		if err != nil {
			t.Fatalf("Redacted output does not parse:\n%s\n%v", out, err)
		}
		out2, err := c2.Redacted()
		if err != nil || string(out2) != string(out) {
			t.Fatalf("Redacted is not a fixed point (%v):\n%s\n---\n%s", err, out, out2)
		}
	})
}

// FuzzGroupQuery checks that the group query parser never panics and that
// a parsed query written back in YAML form parses to the same String().
func FuzzGroupQuery(f *testing.F) {
	for _, s := range []string{
		"cn=a,dc=x", `""`, `["cn=a,dc=x", "cn=b,dc=x"]`, "[cn=a,dc=x, cn=b,dc=x]", "{not: cn=a}",
		`{all: ["cn=a,dc=x", {not: ["cn=b,dc=x", 'cn=Sales\, EMEA,dc=x']}]}`, "{any: []}", "{anny: x}",
		"- cn=a\n- {all: [cn=b]}\n", "&a [*a]", "{not: {not: {not: cn=a}}}", "cn=a+uid=b,dc=x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		q, err := parseQuery(src)
		if err != nil {
			return
		}
		s := q.String()
		if s != q.String() {
			t.Fatalf("String() is not stable: %q", s)
		}
		out, err := marshalQuery(q)
		if err != nil {
			t.Fatalf("marshal %s: %v", s, err)
		}
		q2, err := parseQuery(out)
		if err != nil {
			t.Fatalf("%s written as\n%s\ndoes not parse back: %v", s, out, err)
		}
		if q2.String() != s {
			t.Fatalf("round trip changed %q into %q", s, q2.String())
		}
	})
}
