package demodir

import (
	"maps"
	"slices"
	"testing"

	"github.com/ldapbridge/ldapbridge/config"
	"github.com/ldapbridge/ldapbridge/examples"
)

func TestConfigYAMLParsesAsAValidConfig(t *testing.T) {
	cfg, err := config.Parse(ConfigYAML("ldap://127.0.0.1:3389", "/tmp/demo.db"), config.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Directory.URLs[0] != "ldap://127.0.0.1:3389" || cfg.Store.DSN.Reveal() != "/tmp/demo.db" {
		t.Errorf("url/dsn not carried: %v %v", cfg.Directory.URLs, cfg.Store.DSN.Reveal())
	}
	if cfg.Access.Require.DN != GroupDjangoApp || cfg.Access.Flags["is_superuser"].DN != GroupSuperuser {
		t.Errorf("policy not carried: %+v", cfg.Access)
	}
}

// The demo maps the profile fields of examples/jumpcloud.yaml, and every
// demo person carries a value for each, so the demo's profile page shows
// what a JumpCloud directory gives.
func TestDemoProfileMatchesTheJumpCloudExampleAndEveryPersonHasIt(t *testing.T) {
	demo, err := config.Parse(ConfigYAML("ldap://127.0.0.1:3389", "/tmp/demo.db"), config.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := examples.Config("jumpcloud")
	if err != nil {
		t.Fatal(err)
	}
	jc, err := config.Parse(raw, config.ParseOptions{
		LookupEnv: func(string) (string, bool) { return "pw", true },
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(jc.Users.Profile) < 11 || !maps.Equal(demo.Users.Profile, jc.Users.Profile) {
		t.Fatalf("demo profile %v, want the JumpCloud example's %v", demo.Users.Profile, jc.Users.Profile)
	}
	s := startServer(t)
	c := serviceConn(t, s)
	attrs := slices.Sorted(maps.Values(jc.Users.Profile))
	for _, l := range Logins() {
		es := search(t, c, l.DN, 0, "(objectClass=*)", attrs...)
		if len(es) != 1 {
			t.Fatalf("%s: %d entries", l.DN, len(es))
		}
		for field, attr := range jc.Users.Profile {
			if v := es[0].GetAttributeValue(attr); v == "" {
				t.Errorf("%s has no %s (profile field %s)", l.Username, attr, field)
			}
		}
	}
}
