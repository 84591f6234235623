package demodir

import (
	"testing"

	"github.com/ldapbridge/ldapbridge/config"
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
