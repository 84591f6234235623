package config

import (
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ldapbridge/ldapbridge"
)

// exampleEnv holds the variables the example files reference.
var exampleEnv = map[string]string{
	"LDAP_BIND_PASSWORD": "example-password",
	"AD_BIND_PASSWORD":   "example-password",
	"DATABASE_URL":       "postgres://ldapbridge@127.0.0.1:5432/ldapbridge",
}

func TestExamplesParse(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "examples", "*.yaml"))
	if err != nil || len(files) < 3 {
		t.Fatalf("want at least 3 examples/*.yaml, found %d (%v)", len(files), err)
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			opts := ParseOptions{
				LookupEnv: func(k string) (string, bool) { v, ok := exampleEnv[k]; return v, ok },
				BaseDir:   filepath.Dir(path),
				ReadFile:  func(string) ([]byte, error) { return []byte("example-password\n"), nil },
			}
			c, err := Parse(data, opts)
			if err != nil {
				t.Fatalf("%s:\n%v", path, err)
			}
			if w := c.Warnings(); len(w) != 0 {
				t.Errorf("an example should not trigger warnings: %q", w)
			}
		})
	}
}

func TestJumpCloudExampleMatchesTheTutorialSetup(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "examples", "jumpcloud.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	c := mustParse(t, string(data), "LDAP_BIND_PASSWORD", "pw")
	users := "ou=Users,o=ORGID,dc=jumpcloud,dc=com"
	checks := map[string]bool{
		"ldaps on 636":        len(c.Directory.URLs) == 1 && strings.HasPrefix(c.Directory.URLs[0], "ldaps://") && strings.HasSuffix(c.Directory.URLs[0], ":636"),
		"system roots":        c.Directory.TLS.CAFile == "" && !c.Directory.TLS.InsecureSkipVerify, // JumpCloud's certificate is publicly trusted
		"service account":     strings.HasSuffix(c.Directory.BindDN, ","+users) && c.Directory.BindPassword.Reveal() == "pw",
		"uid search":          c.Users.Search[0].BaseDN == users && c.Users.Search[0].Filter == "(uid={username})",
		"group_of_names":      c.Groups.Type == "group_of_names",
		"require Django App":  c.Access.Require.DN == "cn=Django App,"+users,
		"flags":               c.Access.Flags["is_active"].DN == "cn=active,"+users && c.Access.Flags["is_staff"].DN == "cn=staff,"+users && c.Access.Flags["is_superuser"].DN == "cn=superuser,"+users,
		"attributes":          c.Users.Attributes["first_name"] == "givenName" && c.Users.Attributes["last_name"] == "sn" && c.Users.Attributes["email"] == "mail",
		"jumpcloud stable id": c.Directory.Flavor == ldapbridge.FlavorJumpCloud && c.Users.StableIDAttribute == "entryUUID",
		"profile fields": maps.Equal(c.Users.Profile, map[string]string{
			"middle_name": "initials", "display_name": "displayName", "title": "title",
			"department": "departmentNumber", "cost_center": "businessCategory",
			"location": "physicalDeliveryOfficeName", "employee_id": "employeeNumber",
			"employee_type": "employeeType", "company": "o", "description": "description", "phone": "mobile",
		}),
	}
	for name, ok := range checks {
		if !ok {
			t.Errorf("jumpcloud.yaml: %s not as the tutorial sets it up", name)
		}
	}
}
