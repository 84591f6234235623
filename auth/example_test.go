package auth_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/ldapbridge/ldapbridge/auth"
	"github.com/ldapbridge/ldapbridge/config"
	"github.com/ldapbridge/ldapbridge/demodir"
	"github.com/ldapbridge/ldapbridge/ldapdir"
	"github.com/ldapbridge/ldapbridge/sqlite"
)

// ExampleAuthenticator_Authenticate signs people in against the embedded
// demo directory (a real LDAP server on a loopback port). A wrong password
// or a refusal by the access rules is an Outcome, not an error.
func ExampleAuthenticator_Authenticate() {
	ctx := context.Background()
	demo, err := demodir.Start(ctx, "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer demo.Close()
	tmp, err := os.MkdirTemp("", "ldapbridge-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	cfg, err := config.Parse(demodir.ConfigYAML(demo.URL(), filepath.Join(tmp, "app.db")), config.ParseOptions{})
	if err != nil {
		log.Fatal(err)
	}
	dir, err := ldapdir.Open(ctx, cfg.Directory, ldapdir.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer dir.Close()
	store, err := sqlite.Open(ctx, cfg.Store.DSN.Reveal())
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	if err := store.Migrate(ctx); err != nil {
		log.Fatal(err)
	}
	authn, err := auth.New(cfg, dir, store, auth.Options{})
	if err != nil {
		log.Fatal(err)
	}

	for _, try := range []struct{ username, password string }{
		{"jdoe", demodir.DemoPassword("jdoe")},
		{"asmith", demodir.DemoPassword("asmith")},
		{"jdoe", "not-her-password"},
		{"gmartin", demodir.DemoPassword("gmartin")},
	} {
		res, err := authn.Authenticate(ctx, try.username, try.password)
		if err != nil {
			log.Fatal(err) // the store failed or the config is wrong
		}
		fmt.Printf("%s: %s, allowed %v", try.username, res.Outcome, res.Allowed)
		if res.Allowed {
			fmt.Printf(", staff %v, superuser %v, groups %v", res.User.IsStaff, res.User.IsSuperuser, res.GroupNames)
		}
		fmt.Println()
	}
	// Output:
	// jdoe: ok, allowed true, staff false, superuser false, groups [Backend Django App Engineering active]
	// asmith: ok, allowed true, staff true, superuser true, groups [Django App active staff superuser]
	// jdoe: bad_credentials, allowed false
	// gmartin: require_group, allowed false
}
